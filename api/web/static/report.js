// The report form's place picker (/public/report): a Leaflet map of the region outlines (or the
// configured tiles) where a click sets the latitude and longitude fields, and typing in them
// moves the marker. Without JavaScript the two fields are typed in.
(function () {
  "use strict";
  var source = document.getElementById("map-data");
  var host = document.getElementById("pick-map");
  var lat = document.getElementById("report-lat");
  var lon = document.getElementById("report-lon");
  if (!source || !host || !lat || !lon || typeof window.L !== "object") {
    if (host) { host.hidden = true; }
    return;
  }
  var data = JSON.parse(source.textContent);
  var map = L.map(host, { scrollWheelZoom: false });
  if (data.tiles) { L.tileLayer(data.tiles, { maxZoom: 18 }).addTo(map); }
  var marker = null;
  function place(p) {
    if (marker) { marker.setLatLng(p); } else {
      marker = L.circleMarker(p, { radius: 8, color: "#c62828", weight: 2, fillOpacity: 0.5 }).addTo(map);
    }
    host.setAttribute("data-picked", p.lat.toFixed(5) + "," + p.lng.toFixed(5));
  }
  map.on("click", function (e) {
    lat.value = e.latlng.lat.toFixed(5);
    lon.value = e.latlng.lng.toFixed(5);
    place(e.latlng);
  });
  function typed() {
    var a = parseFloat(lat.value), b = parseFloat(lon.value);
    if (isFinite(a) && isFinite(b)) { place(L.latLng(a, b)); }
  }
  lat.addEventListener("change", typed);
  lon.addEventListener("change", typed);
  map.setView([0, 0], 2);
  fetch(data.regions, { credentials: "same-origin" }).then(function (r) {
    return r.ok ? r.json() : null;
  }).then(function (geo) {
    if (!geo) { return; }
    var layer = L.geoJSON(geo, { style: function () {
      return { color: "#1f5fbf", weight: 1.5, fillOpacity: 0.04 }; } }).addTo(map);
    var b = layer.getBounds();
    if (b.isValid()) { map.fitBounds(b, { padding: [10, 10] }); }
    typed();
    host.setAttribute("data-ready", "1");
  });
})();
