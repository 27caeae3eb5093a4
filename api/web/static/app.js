// Draws the charts of a page with uPlot from the JSON in <script id="chart-data">.
// Series kinds: "line" (values), "limit" (dashed red line), "marker" (points only).
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
  if (!source || typeof window.uPlot !== "function") { return; }
  var data = JSON.parse(source.textContent);
  var tz = data.tz;
  var COLOURS = { line: "#1f5fbf", limit: "#c62828", marker: "#c62828" };

  function seriesOptions(chart, s) {
    var opts = { label: s.label, stroke: COLOURS[s.kind], width: 1.5, spanGaps: false };
    if (s.kind === "limit") {
      opts.dash = [6, 4];
      opts.points = { show: false };
    } else if (s.kind === "marker") {
      opts.paths = function () { return null; };
      opts.points = { show: true, size: 7, stroke: COLOURS.marker, fill: COLOURS.marker };
      if (chart.flags) {
        opts.value = function (u, v, si, idx) {
          return idx == null || v == null ? "–" : chart.flags[idx] + " " + v;
        };
      }
    } else {
      opts.points = { show: false };
    }
    return opts;
  }

  function draw(chart) {
    var host = document.getElementById(chart.id);
    if (!host || chart.x.length === 0) { return; }
    var opts = {
      width: Math.max(280, host.clientWidth),
      height: 240,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), tz); },
      scales: { x: { time: true } },
      axes: [{}, { label: chart.unit, size: 60 }],
      series: [{ label: data.time || "Time" }].concat(chart.series.map(function (s) { return seriesOptions(chart, s); })),
      legend: { live: true }
    };
    var plot = new uPlot(opts, [chart.x].concat(chart.series.map(function (s) { return s.values; })), host);
    host.setAttribute("data-drawn", "true");
    if (typeof ResizeObserver === "function") {
      new ResizeObserver(function () {
        plot.setSize({ width: Math.max(280, host.clientWidth), height: 240 });
      }).observe(host);
    }
  }

  data.charts.forEach(draw);
})();
