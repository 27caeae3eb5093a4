// Draws the charts of a page with uPlot from the JSON in <script id="chart-data">, and labels
// the cells of the data tables with their column's header (on a phone each row is a card).
// Series kinds: "line" (values), "limit" (dashed line), "level" (a dotted constant line, e.g.
// a flat-line alert's value), "marker" (points only, e.g. one series per data flag). A series
// may name its colour; a chart's "bands" ([start_s, end_s] pairs) are shaded (an alert's period).
// Drag across a chart to zoom in on its days, double-click to zoom out; the legend shows the
// values under the cursor.
(function () {
  "use strict";

  function labelCells() {
    document.querySelectorAll("table.data").forEach(function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      table.classList.add("cards");
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        Array.prototype.forEach.call(tr.children, function (td, i) {
          if (heads[i] && !td.hasAttribute("colspan")) { td.setAttribute("data-label", heads[i]); }
        });
      });
    });
  }
  labelCells();

  var source = document.getElementById("chart-data");
  if (!source || typeof window.uPlot !== "function") { return; }
  var data = JSON.parse(source.textContent);
  var tz = data.tz;
  var COLOURS = { line: "#1f5fbf", limit: "#c62828", marker: "#c62828", level: "#6a3fa0" };
  var BAND = "rgba(239, 143, 0, 0.16)";

  // Times in the service's zone, 24-hour clock (the zone is shown once, in the page's footer).
  function parts(ts) {
    var out = {};
    new Intl.DateTimeFormat("en-GB", { timeZone: tz, year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
      .formatToParts(new Date(ts * 1000)).forEach(function (p) { out[p.type] = p.value; });
    return out;
  }
  function fullTime(ts) {
    if (ts == null) { return "–"; }
    var p = parts(ts);
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
  }
  function ticks(u, splits) {
    var span = splits.length > 1 ? splits[splits.length - 1] - splits[0] : 0;
    return splits.map(function (ts) {
      var p = parts(ts);
      var hm = p.hour + ":" + p.minute;
      return span > 86400 ? p.month + "-" + p.day + (hm === "00:00" ? "" : " " + hm) : hm;
    });
  }

  function fmt(v, unit) {
    if (v == null) { return "–"; }
    var digits = Math.abs(v) >= 100 ? 1 : Math.abs(v) >= 10 ? 2 : 3;
    return v.toFixed(digits) + (unit ? " " + unit : "");
  }

  function seriesOptions(chart, s) {
    var colour = s.colour || COLOURS[s.kind];
    var opts = { label: s.label, stroke: colour, width: 1.5, spanGaps: false,
                 value: function (u, v) { return fmt(v, chart.unit); } };
    if (s.kind === "limit" || s.kind === "level") {
      opts.dash = s.kind === "limit" ? [6, 4] : [2, 3];
      opts.points = { show: false };
    } else if (s.kind === "marker") {
      opts.paths = function () { return null; };
      opts.points = { show: true, size: 7, stroke: colour, fill: colour };
    } else {
      opts.points = { show: false };
      if (s.width) { opts.width = s.width; }
    }
    return opts;
  }

  function shade(chart) {
    return function (u) {
      if (!chart.bands || chart.bands.length === 0) { return; }
      var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
      var left = u.bbox.left, right = u.bbox.left + u.bbox.width;
      ctx.save();
      ctx.fillStyle = BAND;
      chart.bands.forEach(function (b) {
        var x0 = Math.max(left, u.valToPos(b[0], "x", true));
        var x1 = Math.min(right, u.valToPos(b[1] == null ? u.scales.x.max : b[1], "x", true));
        if (x1 > x0) { ctx.fillRect(x0, top, x1 - x0, height); }
      });
      ctx.restore();
    };
  }

  function draw(chart) {
    var host = document.getElementById(chart.id);
    if (!host || chart.x.length === 0) { return; }
    var opts = {
      width: Math.max(260, host.clientWidth),
      height: 240,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), tz); },
      scales: { x: { time: true } },
      cursor: { drag: { x: true, y: false } },
      axes: [{ values: ticks }, { label: chart.unit, size: 60 }],
      series: [{ label: data.time || "Time", value: function (u, ts) { return fullTime(ts); } }].concat(chart.series.map(function (s) { return seriesOptions(chart, s); })),
      legend: { live: true },
      hooks: { drawClear: [shade(chart)] }
    };
    var plot = new uPlot(opts, [chart.x].concat(chart.series.map(function (s) { return s.values; })), host);
    host.setAttribute("data-drawn", "true");
    if (typeof ResizeObserver === "function") {
      new ResizeObserver(function () {
        plot.setSize({ width: Math.max(260, host.clientWidth), height: 240 });
      }).observe(host);
    }
  }

  data.charts.forEach(draw);
})();
