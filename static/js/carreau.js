// Carreau's shared helpers for the pages: translated strings, the JSON API with the session
// cookie and its CSRF header, French number and money formats, announcements for screen readers.
(function () {
  "use strict";

  var stringsNode = document.getElementById("carreau-strings");
  var strings = stringsNode ? JSON.parse(stringsNode.textContent) : {};
  var lang = document.documentElement.lang || "fr";
  var intlLocale = lang === "en" ? "en-GB" : "fr-FR";

  function t(key, params) {
    var text = strings[key] || key;
    Object.keys(params || {}).forEach(function (name) {
      text = text.split("%(" + name + ")s").join(String(params[name]));
    });
    return text;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function refreshCsrfToken() {
    return fetch("/session/csrf", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body && body.csrf_token) {
          document.querySelector('meta[name="csrf-token"]').content = body.csrf_token;
          return true;
        }
        return false;
      });
  }

  // Calls the JSON API as the signed-in user. Resolves to {ok, status, data}; rejects only when the
  // network failed (offline, timeout), which callers treat as "try again later".
  function api(method, url, body, headers, timeoutMs) {
    var controller = "AbortController" in window ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, timeoutMs || 15000) : null;
    function send() {
      var options = {
        method: method,
        credentials: "same-origin",
        headers: Object.assign({ Accept: "application/json", "X-CSRFToken": csrfToken() }, headers || {}),
        signal: controller ? controller.signal : undefined
      };
      if (body !== undefined) {
        options.headers["Content-Type"] = "application/json";
        options.body = JSON.stringify(body);
      }
      return fetch(url, options).then(function (response) {
        return response.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
          return { ok: response.ok, status: response.status, data: data };
        });
      });
    }
    return send().then(function (result) {
      if (result.status === 400 && result.data && result.data.error === "csrf") {
        return refreshCsrfToken().then(function (fresh) { return fresh ? send() : result; });
      }
      return result;
    }).finally(function () { if (timer) clearTimeout(timer); });
  }

  var moneyFormat = new Intl.NumberFormat(intlLocale, { style: "currency", currency: "EUR" });
  var numberFormat = new Intl.NumberFormat(intlLocale, { maximumFractionDigits: 3 });
  var labelsNode = document.getElementById("carreau-labels");
  var labels = labelsNode ? JSON.parse(labelsNode.textContent) : {};
  var unitNames = labels.units || {};
  function label(kind, value) { return (labels[kind] || {})[value] || value; }

  function money(cents) { return moneyFormat.format(cents / 100); }
  function number(value) { return numberFormat.format(Number(value)); }
  function quantity(value, unit) {
    var n = Number(value);
    var plural = lang === "en" ? n !== 1 : n >= 2;  // French: « 1,5 litre », « 2 litres »
    var names = plural ? (labels.units_plural || unitNames) : unitNames;
    return number(value) + "\u00a0" + (names[unit] || unit || "");
  }
  function unitPrice(cents, unit) { return money(cents) + "\u00a0/\u00a0" + (unitNames[unit] || unit); }

  // As the server's day_time filter: « sam. 28/11 à 20:29 », "Sat 28 Nov, 20:29" (Paris time).
  var dayTime = new Intl.DateTimeFormat(intlLocale, {
    weekday: "short", day: lang === "en" ? "numeric" : "2-digit", month: lang === "en" ? "short" : "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: "Europe/Paris"
  });
  function when(iso) {
    if (!iso) return "";
    var p = {};
    dayTime.formatToParts(new Date(iso)).forEach(function (part) { p[part.type] = part.value; });
    return lang === "en" ? p.weekday + " " + p.day + " " + p.month + ", " + p.hour + ":" + p.minute
      : p.weekday + " " + p.day + "/" + p.month + " à " + p.hour + ":" + p.minute;
  }

  function announce(message) {
    var node = document.getElementById("announcer");
    if (!node) return;
    node.textContent = "";
    setTimeout(function () { node.textContent = message; }, 50);
  }

  // Random keys that work without a secure context (crypto.randomUUID needs https or localhost).
  function randomKey() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function readJson(id, fallback) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : fallback;
  }

  window.Carreau = {
    t: t, api: api, csrfToken: csrfToken, money: money, number: number, quantity: quantity, unitPrice: unitPrice,
    when: when, announce: announce, randomKey: randomKey, readJson: readJson, lang: lang, label: label
  };

  // A form that came back with errors: move focus to its summary so keyboard and screen-reader users hear it.
  var alertBox = document.querySelector("[data-focus-on-load]");
  if (alertBox) alertBox.focus();

  // Sign-up: the base postcode only concerns traders.
  var signup = document.querySelector("[data-signup]");
  if (signup) {
    var traderOnly = signup.querySelectorAll(".trader-only");
    var sync = function () {
      var role = signup.querySelector('input[name="role"]:checked');
      traderOnly.forEach(function (node) { node.hidden = !role || role.value !== "trader"; });
    };
    signup.addEventListener("change", sync);
    sync();
  }

  // Close the account menu when focus or a click goes elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.account-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.account-menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    });
  });
})();
