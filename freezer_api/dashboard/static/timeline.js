// The set page's timeline: its backups' sizes (or levels) over time, drawn with uPlot.
"use strict";
(function () {
  function draw() {
    var box = document.getElementById("timeline");
    var source = document.getElementById("timeline-data");
    if (!box || !source || typeof uPlot === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    if (!data.time.length) { box.textContent = "No backups to plot."; return; }
    var sized = box.dataset.sized === "true";
    var series = [{ label: "time" }];
    var columns = [data.time];
    var axes = [{}];
    if (sized) {
      series.push({ label: "size (bytes)", stroke: "#1f6feb", width: 2, points: { size: 7 }, scale: "size" });
      columns.push(data.size);
      axes.push({ scale: "size", label: "bytes" });
    }
    series.push({ label: "level", stroke: "#9a6700", width: 1, points: { size: 6 }, scale: "level", paths: function () { return null; } });
    columns.push(data.level);
    axes.push({ scale: "level", label: "level", side: sized ? 1 : 3, grid: { show: !sized } });
    var chart = new uPlot({
      width: Math.max(320, box.clientWidth || 800),
      height: 220,
      series: series,
      axes: axes,
      scales: { x: { time: true }, level: { range: function (u, min, max) { return [0, Math.max(1, max) + 1]; } } }
    }, columns, box);
    box.dataset.drawn = String(data.time.length);
    window.addEventListener("resize", function () {
      chart.setSize({ width: Math.max(320, box.clientWidth || 800), height: 220 });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
