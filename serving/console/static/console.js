// keepwarm console: a little progressive enhancement; every page works without it.
(function () {
  "use strict";
  // Charts: a JSON block per chart, drawn by plotly.js (served by this app).
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    if (typeof Plotly === "undefined") { return; }
    var spec = JSON.parse(document.getElementById(el.dataset.chart).textContent);
    Plotly.newPlot(el, spec.data, spec.layout, { responsive: true, displaylogo: false })
      .then(function () { el.dataset.rendered = "1"; });
  });
  // Filters apply as soon as a choice changes (the button stays for no-script browsers).
  document.querySelectorAll("form.auto select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  // A4 print: charts redraw at the page's width, then back at the screen's.
  function resizeCharts() {
    if (typeof Plotly === "undefined") { return; }
    document.querySelectorAll("[data-chart][data-rendered]").forEach(function (el) {
      Plotly.Plots.resize(el);
    });
  }
  window.addEventListener("beforeprint", resizeCharts);
  window.addEventListener("afterprint", resizeCharts);
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
