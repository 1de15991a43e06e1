// The chamber's charts (Chart.js): money and numbers the French way, masked figures as gaps.
(function () {
  "use strict";
  var C = window.Carreau;
  if (!window.Chart) return;
  var data = C.readJson("chart-data", null);
  if (!data) return;
  var locale = C.lang === "en" ? "en-GB" : "fr-FR";
  var euros = new Intl.NumberFormat(locale, { style: "currency", currency: "EUR", maximumFractionDigits: 0 });
  var plain = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
  var GREEN = "#1d5c3f", GREEN_LIGHT = "#9cc9ae", AMBER = "#e8a23a", TERRACOTTA = "#a8431f";

  window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  window.Chart.defaults.color = "#4f5b54";
  window.Chart.defaults.animation = window.matchMedia("(prefers-reduced-motion: reduce)").matches ? false : { duration: 400 };

  function axis(format) {
    return { beginAtZero: true, ticks: { precision: 0, callback: function (v) { return format.format(v); } },
             grid: { color: "#e6e9e4" } };
  }
  function tooltip(format) {
    return { callbacks: { label: function (ctx) {
      var v = ctx.parsed.y !== undefined && ctx.chart.options.indexAxis !== "y" ? ctx.parsed.y : ctx.parsed.x;
      return (ctx.dataset.label ? ctx.dataset.label + " : " : "") + format.format(v);
    } } };
  }

  var charts = {
    value: {
      type: "bar",
      data: { labels: data.months, datasets: [{ data: data.value_euros, backgroundColor: GREEN, borderRadius: 4 }] },
      options: { plugins: { legend: { display: false }, tooltip: tooltip(euros) }, scales: { y: axis(euros) } }
    },
    volumes: {
      type: "bar",
      data: { labels: data.months, datasets: [
        { label: C.t("chart_offered"), data: data.kg_offered, backgroundColor: GREEN_LIGHT, borderRadius: 4 },
        { label: C.t("chart_collected"), data: data.kg_collected, backgroundColor: GREEN, borderRadius: 4 }
      ] },
      options: { plugins: { tooltip: tooltip(plain) }, scales: { y: axis(plain) } }
    },
    categories: {
      type: "bar",
      data: { labels: data.categories, datasets: [{ data: data.category_value_euros, backgroundColor: AMBER, borderRadius: 4 }] },
      options: { indexAxis: "y", plugins: { legend: { display: false }, tooltip: tooltip(euros) }, scales: { x: axis(euros) } }
    },
    distance: {
      type: "line",
      data: { labels: data.months, datasets: [{ data: data.distance_mean_km, borderColor: TERRACOTTA, backgroundColor: TERRACOTTA,
        tension: 0.25, spanGaps: false, pointRadius: 3 }] },
      options: { plugins: { legend: { display: false }, tooltip: tooltip(plain) }, scales: { y: axis(plain) } }
    }
  };

  var categoryAxis = { ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 8 }, grid: { display: false } };
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var spec = charts[canvas.dataset.chart];
    var across = spec.options.indexAxis === "y" ? "y" : "x";
    // Every category is named; months may skip a label when the screen is narrow.
    spec.options.scales[across] = across === "y" ? { ticks: { autoSkip: false }, grid: { display: false } } : categoryAxis;
    spec.options.responsive = true;
    spec.options.maintainAspectRatio = false;
    new window.Chart(canvas, spec);
  });
})();
