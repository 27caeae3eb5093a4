// The public map (/public/): Leaflet draws the region outlines (GeoJSON) on a blank base, or
// on the configured tiles, and one circle per enterprise coloured by its status now, from the
// JSON in <script id="map-data">. Names go into the page as text nodes, never as HTML.
(function () {
  "use strict";
  var source = document.getElementById("map-data");
  var host = document.getElementById("public-map");
  if (!source || !host || typeof window.L !== "object") { return; }
  var data = JSON.parse(source.textContent);
  var COLOURS = { exceeded: "#c62828", compliant: "#2e7d32", no_data: "#646d78" };
  var map = L.map(host, { scrollWheelZoom: false, attributionControl: true });
  if (data.tiles) {
    L.tileLayer(data.tiles, { maxZoom: 18 }).addTo(map);
  }
  function popup(e) {
    var box = document.createElement("div");
    var a = document.createElement("a");
    a.href = "/public/enterprises/" + encodeURIComponent(e.id);
    a.textContent = e.name;
    var s = document.createElement("div");
    s.textContent = data.status[e.status] || e.status;
    box.appendChild(a);
    box.appendChild(s);
    return box;
  }
  var points = [];
  data.enterprises.forEach(function (e) {
    var c = COLOURS[e.status] || COLOURS.no_data;
    var m = L.circleMarker([e.lat, e.lon], { radius: 7, color: "#fff", weight: 1.5,
                                             fillColor: c, fillOpacity: 0.9 });
    m.bindPopup(popup(e));
    m.bindTooltip(e.name);
    m.addTo(map);
    m.getElement && m.getElement() && m.getElement().setAttribute("data-enterprise", e.id);
    points.push([e.lat, e.lon]);
  });
  function fit(bounds) {
    if (bounds && bounds.isValid()) { map.fitBounds(bounds, { padding: [20, 20] }); }
  }
  if (points.length) { fit(L.latLngBounds(points)); } else { map.setView([0, 0], 2); }
  fetch(data.regions, { credentials: "same-origin" }).then(function (r) {
    return r.ok ? r.json() : null;
  }).then(function (geo) {
    if (!geo) { return; }
    var layer = L.geoJSON(geo, {
      style: function () { return { color: "#1f5fbf", weight: 1.5, fillOpacity: 0.04 }; },
      onEachFeature: function (f, l) {
        if (f.properties && f.properties.name) { l.bindTooltip(String(f.properties.name)); }
      }
    }).addTo(map);
    layer.bringToBack();
    if (!points.length) { fit(layer.getBounds()); }
    host.setAttribute("data-regions", String(geo.features ? geo.features.length : 0));
  });
  host.setAttribute("data-markers", String(points.length));
})();
