// The trader's live board: the lots matching their watches, in a list and on a map, kept live by
// the feed. Arrivals go on top marked « Nouveau », changes are marked « Modifié », closed lots are
// greyed; reserving takes one tap with the quantity (the same Idempotency-Key on every retry).
(function () {
  "use strict";
  var C = window.Carreau;
  var root = document.querySelector("[data-board]");
  if (!root) return;

  var data = C.readJson("board-data", { lots: [], watches: [] });
  var api = root.dataset.api;
  var list = root.querySelector("[data-board-list]");
  var empty = root.querySelector("[data-board-empty]");
  var count = document.querySelector("[data-board-count]");
  var template = document.getElementById("board-card");
  var sortSelect = document.querySelector("[data-sort]");
  var lots = {};        // id -> {lot, distance_km, watch_ids, flag, arrived}
  var markers = {};     // id -> Leaflet circle marker
  var filterWatch = "";
  var arrivals = 0;

  function remember(item, flag) {
    var lot = item.lot || item;
    var known = lots[lot.id];
    lots[lot.id] = {
      lot: lot,
      distance_km: item.distance_km !== undefined ? item.distance_km : (known ? known.distance_km : lot.distance_km),
      watch_ids: item.watch_ids || (known ? known.watch_ids : []),
      flag: flag || (known ? known.flag : null),
      arrived: flag === "new" ? ++arrivals : (known ? known.arrived : 0)
    };
    return lots[lot.id];
  }

  data.lots.forEach(function (lot) { remember(lot, null); });

  // --- the list ---------------------------------------------------------------------------------

  var weekdays = { mon: 0, tue: 1, wed: 2, thu: 3, fri: 4, sat: 5, sun: 6 };
  var dayNames = (function () {
    var format = new Intl.DateTimeFormat(C.lang === "en" ? "en-GB" : "fr-FR", { weekday: "short", timeZone: "UTC" });
    // 2024-01-01 was a Monday.
    return Object.keys(weekdays).map(function (_, i) { return format.format(new Date(Date.UTC(2024, 0, 1 + i))); });
  })();

  function pickupText(farm) {
    var hours = (farm && farm.pickup_hours) || {};
    var parts = Object.keys(hours).sort(function (a, b) { return weekdays[a] - weekdays[b]; })
      .map(function (day) { return dayNames[weekdays[day]] + " " + hours[day].join(", "); });
    return parts.length ? C.t("pickup_hours", { hours: parts.join(" · ") }) : C.t("pickup_ask");
  }

  function isOpen(lot) { return lot.status === "published"; }

  function fill(node, entry) {
    var lot = entry.lot;
    var f = function (name) { return node.querySelector('[data-f="' + name + '"]'); };
    node.id = "lot-" + lot.id;
    node.dataset.lotId = lot.id;
    node.classList.toggle("board-card--closed", !isOpen(lot));
    f("product").textContent = lot.product;
    var flag = f("flag");
    if (!isOpen(lot)) {
      flag.hidden = false;
      flag.className = "pill pill--lot-" + lot.status;
      flag.textContent = C.label("lot_status", lot.status);
    } else if (entry.flag) {
      flag.hidden = false;
      flag.className = "badge badge--" + entry.flag;
      flag.textContent = C.t(entry.flag === "new" ? "new_lot" : "changed_lot");
    } else {
      flag.hidden = true;
    }
    var farm = lot.farm || {};
    f("farm").textContent = [farm.name, farm.commune, entry.distance_km !== undefined && entry.distance_km !== null ?
      C.number(Math.round(entry.distance_km * 10) / 10) + "\u00a0" + C.t("km") : null].filter(Boolean).join(" · ");
    f("price").textContent = C.unitPrice(lot.price_cents, lot.unit);
    f("available").textContent = C.t("available", { quantity: C.quantity(lot.quantity_available, lot.unit) }) +
      (lot.min_order ? " · " + C.t("min_order", { quantity: C.quantity(lot.min_order, lot.unit) }) : "");
    var tags = f("labels");
    tags.textContent = "";
    (lot.labels || []).forEach(function (label) {
      var li = document.createElement("li");
      li.className = "tag";
      li.textContent = C.label("label", label);
      tags.appendChild(li);
    });
    tags.hidden = !(lot.labels || []).length;
    f("pickup").textContent = pickupText(farm);
    f("until").textContent = C.t("until", { when: C.when(lot.available_until) });

    var form = f("form");
    var input = form.querySelector("input[name=quantity]");
    input.id = "quantity-" + lot.id;
    f("quantity-label").setAttribute("for", input.id);
    f("unit").textContent = C.label("units", lot.unit);
    if (!input.value) input.value = lot.min_order ? C.number(lot.min_order) : "";
    input.placeholder = lot.min_order ? C.number(lot.min_order) : "1";
    form.querySelectorAll("input, button").forEach(function (el) { el.disabled = !isOpen(lot); });
  }

  function cardFor(entry) {
    var node = list.querySelector('[data-lot-id="' + entry.lot.id + '"]');
    if (!node) {
      node = template.content.firstElementChild.cloneNode(true);
      node.querySelector("form").addEventListener("submit", reserve);
    }
    fill(node, entry);
    return node;
  }

  var sorters = {
    recent: function (a, b) { return (b.arrived - a.arrived) || (a.lot.created_at < b.lot.created_at ? 1 : -1); },
    distance: function (a, b) { return (a.distance_km || 0) - (b.distance_km || 0); },
    price: function (a, b) { return a.lot.price_cents - b.lot.price_cents; },
    ending: function (a, b) { return a.lot.available_until < b.lot.available_until ? -1 : 1; }
  };

  function visible(entry) {
    return !filterWatch || entry.watch_ids.indexOf(Number(filterWatch)) !== -1;
  }

  function render() {
    var entries = Object.keys(lots).map(function (id) { return lots[id]; }).filter(visible);
    entries.sort(sorters[sortSelect ? sortSelect.value : "recent"]);
    entries.forEach(function (entry) { list.appendChild(cardFor(entry)); });  // appendChild moves existing cards
    list.querySelectorAll("[data-lot-id]").forEach(function (node) {
      var entry = lots[node.dataset.lotId];
      if (!entry || !visible(entry)) node.remove();
    });
    var open = entries.filter(function (e) { return isOpen(e.lot); }).length;
    empty.hidden = entries.length > 0;
    count.textContent = C.t(open === 1 ? "one_lot" : "n_lots", { n: open });
    drawMarkers(entries);
  }

  // --- the map ----------------------------------------------------------------------------------

  var mapNode = root.querySelector("[data-board-map]");
  var map = null;
  var circles = {};

  // The map is made when it is first seen: Leaflet cannot size or fit a map in a hidden box.
  function mapShown() { return mapNode.offsetWidth > 0 && mapNode.offsetHeight > 0; }

  function ensureMap() {
    if (map || !window.L || !mapShown()) return;
    map = C.makeMap(mapNode, { tiles: root.dataset.tiles, base: data.base });
    var bounds = null;
    data.watches.forEach(function (watch) {
      circles[watch.id] = C.watchCircle(watch, false).addTo(map);
      bounds = bounds ? bounds.extend(circles[watch.id].getBounds()) : circles[watch.id].getBounds();
    });
    if (bounds) map.fitBounds(bounds, { padding: [10, 10] });
  }

  function drawMarkers(entries) {
    ensureMap();
    if (!map) return;
    var wanted = {};
    entries.forEach(function (entry) {
      var lot = entry.lot;
      wanted[lot.id] = true;
      var style = {
        radius: entry.flag === "new" ? 9 : 7, weight: 2, color: "#fff", fillOpacity: 0.95,
        fillColor: !isOpen(lot) ? "#8a948e" : entry.flag === "new" ? "#a8431f" : entry.flag === "changed" ? "#e8a23a" : "#1d5c3f"
      };
      var marker = markers[lot.id];
      if (!marker) {
        marker = markers[lot.id] = window.L.circleMarker([lot.lat, lot.lon], style).addTo(map);
        marker.on("click", function () { focusCard(lot.id); });
      } else {
        marker.setStyle(style);
      }
      marker.bindTooltip(lot.product + " · " + C.unitPrice(lot.price_cents, lot.unit));
    });
    Object.keys(markers).forEach(function (id) {
      if (!wanted[id]) { markers[id].remove(); delete markers[id]; }
    });
  }

  function focusCard(id) {
    setView("list");
    var node = document.getElementById("lot-" + id);
    if (!node) return;
    node.scrollIntoView({ behavior: "smooth", block: "center" });
    node.classList.remove("is-fresh");
    void node.offsetWidth;
    node.classList.add("is-fresh");
    var input = node.querySelector("input[name=quantity]");
    if (input && !input.disabled) input.focus({ preventScroll: true });
  }

  // --- reserving --------------------------------------------------------------------------------

  function parseQuantity(text) {
    var clean = String(text).replace(/[\s\u00a0\u202f]/g, "").replace(",", ".");
    return /^\d+(\.\d{1,3})?$/.test(clean) ? Number(clean) : NaN;
  }

  function reserve(event) {
    event.preventDefault();
    var form = event.target;
    var node = form.closest("[data-lot-id]");
    var entry = lots[node.dataset.lotId];
    var result = form.querySelector('[data-f="result"]');
    var button = form.querySelector("button");
    var quantity = parseQuantity(form.quantity.value);
    result.className = "reserve__result";
    if (!(quantity > 0)) {
      result.textContent = C.t("quantity_needed");
      result.classList.add("reserve__result--error");
      form.quantity.focus();
      return;
    }
    // One key per intent: a retry after a lost answer gets the same reservation, not a second one.
    var intent = quantity + ":" + entry.lot.id;
    if (form.dataset.intent !== intent) { form.dataset.intent = intent; form.dataset.key = C.randomKey(); }
    button.disabled = true;
    result.textContent = C.t("sending");
    C.api("POST", api + "/lots/" + entry.lot.id + "/reservations", { quantity: quantity },
          { "Idempotency-Key": form.dataset.key }).then(function (answer) {
      button.disabled = !isOpen(entry.lot);
      if (answer.ok) {
        delete form.dataset.intent;
        result.classList.add("reserve__result--ok");
        result.textContent = "";
        var text = document.createElement("span");
        text.textContent = C.t("reserved", { code: answer.data.pickup_code }) + " ";
        var link = document.createElement("a");
        link.href = root.dataset.reservationsUrl + "#reservation-" + answer.data.id;
        link.textContent = C.t("see_reservations");
        result.appendChild(text);
        result.appendChild(link);
      } else {
        result.classList.add("reserve__result--error");
        result.textContent = (answer.data && answer.data.message) || C.t("error");
      }
    }).catch(function () {
      button.disabled = false;
      result.classList.add("reserve__result--error");
      result.textContent = C.t("offline_retry");
    });
  }

  // --- live -------------------------------------------------------------------------------------

  function onLot(message) {
    var known = !!lots[message.lot.id];
    var flag = message.type === "published" && !known ? "new" : "changed";
    var entry = remember(message, flag);
    render();
    var node = document.getElementById("lot-" + message.lot.id);
    if (node) {
      node.classList.remove("is-fresh");
      void node.offsetWidth;  // restart the highlight
      node.classList.add("is-fresh");
    }
    if (flag === "new") C.announce(C.t("arrived", { product: entry.lot.product, price: C.unitPrice(entry.lot.price_cents, entry.lot.unit) }));
  }

  function reload() {
    fetch(location.pathname + "?format=json", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (fresh) {
        lots = {};
        fresh.lots.forEach(function (lot) { remember(lot, null); });
        render();
      }).catch(function () { /* next event or reconnection */ });
  }

  // --- controls ---------------------------------------------------------------------------------

  function setView(view) {
    root.dataset.view = view;
    document.querySelectorAll("[data-view]").forEach(function (b) {
      if (b.tagName === "BUTTON") b.setAttribute("aria-pressed", String(b.dataset.view === view));
    });
    if (view === "map") {
      if (map) map.invalidateSize();
      render();  // makes the map on its first showing, with every marker
    }
  }
  document.querySelectorAll("button[data-view]").forEach(function (button) {
    button.addEventListener("click", function () { setView(button.dataset.view); });
  });
  document.querySelectorAll("[data-watch-filter] button").forEach(function (button) {
    button.addEventListener("click", function () {
      filterWatch = button.dataset.watch;
      document.querySelectorAll("[data-watch-filter] button").forEach(function (b) {
        b.setAttribute("aria-pressed", String(b === button));
      });
      Object.keys(circles).forEach(function (id) {
        circles[id].setStyle(C.watchCircle({ radius_km: 0, lat: 0, lon: 0 }, id === filterWatch).options);
      });
      render();
    });
  });
  if (sortSelect) sortSelect.addEventListener("change", render);

  render();
  C.openFeed({ since: data.feed_seq, onLot: onLot, onResync: reload });
})();
