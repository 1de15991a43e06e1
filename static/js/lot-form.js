// New lot in seconds: a known product brings back its category, unit, labels and last price;
// a common product brings its category and usual unit; the end date only shows when asked for.
(function () {
  "use strict";
  var C = window.Carreau;
  var form = document.querySelector("[data-lot-form]");
  if (!form) return;
  var data = C.readJson("lot-memory", { memory: {}, suggestions: [] });
  var product = form.querySelector('[name="product"]');
  var category = form.querySelector('[name="category"]');
  var unit = form.querySelector('[name="unit"]');
  var price = form.querySelector('[name="price"]');
  var quantity = form.querySelector('[name="quantity"]');
  var hint = form.querySelector("[data-memory-hint]");
  var touched = { category: false, unit: false, price: false };
  var filledPrice = null;

  [["category", category], ["unit", unit], ["price", price]].forEach(function (pair) {
    pair[1].addEventListener("input", function () { touched[pair[0]] = true; });
  });

  var suggestions = {};
  data.suggestions.forEach(function (item) { suggestions[item.product.toLowerCase()] = item; });

  var lang = C.lang === "en" ? "en-GB" : "fr-FR";
  var plain = new Intl.NumberFormat(lang, { maximumFractionDigits: 3, useGrouping: false });
  var euros = new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2, useGrouping: false });
  function decimalText(value) { return plain.format(value); }

  function recall() {
    var key = product.value.trim().toLowerCase();
    var known = data.memory[key];
    var common = suggestions[key];
    if (known) {
      if (!touched.category) category.value = known.category;
      if (!touched.unit) unit.value = known.unit;
      if (!touched.price || price.value === filledPrice) {
        price.value = euros.format(known.price_cents / 100);
        filledPrice = price.value;
        touched.price = false;
      }
      if (!quantity.value) quantity.placeholder = decimalText(known.quantity);
      form.querySelectorAll('[name="labels"]').forEach(function (box) {
        box.checked = known.labels.indexOf(box.value) !== -1;
      });
      var day = new Intl.DateTimeFormat(lang,
        { day: "2-digit", month: "2-digit", year: "numeric", timeZone: "Europe/Paris" }).format(new Date(known.posted_at));
      hint.textContent = C.t("last_price", { price: C.unitPrice(known.price_cents, known.unit), date: day });
      hint.hidden = false;
    } else {
      if (common) {
        if (!touched.category) category.value = common.category;
        if (!touched.unit) unit.value = common.unit;
      }
      hint.hidden = true;
    }
  }
  var suffix = form.querySelector("[data-suffix]");
  function syncSuffix() { if (suffix) suffix.textContent = "€\u00a0/\u00a0" + C.label("units", unit.value); }
  unit.addEventListener("change", syncSuffix);
  product.addEventListener("input", function () { recall(); syncSuffix(); });
  product.addEventListener("change", function () { recall(); syncSuffix(); });

  // The precise end date is only for « Autre date ».
  var untilAt = form.querySelector(".js-until-at");
  function syncUntil() {
    var chosen = form.querySelector('[name="until"]:checked');
    var custom = chosen && chosen.value === "custom";
    untilAt.hidden = !custom;
    if (!custom) return;
    var input = untilAt.querySelector("input");
    if (!input.value) {
      var d = new Date(Date.now() + 2 * 86400000);
      var pad = function (n) { return ("0" + n).slice(-2); };
      input.value = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T20:00";
    }
  }
  form.addEventListener("change", function (event) { if (event.target.name === "until") syncUntil(); });
  if (!untilAt.querySelector(".field__error")) syncUntil();
})();
