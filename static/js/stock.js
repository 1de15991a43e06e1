// « My lots »: one-tap stock steps that survive a flaky network.
//
// Every tap becomes an entry in a queue kept in localStorage (so a reload, a crash or a dead battery
// loses nothing), is shown at once (optimistic), and is sent in order to POST /api/v1/lots/<id>/stock
// with an Idempotency-Key: a step whose answer was lost is sent again and still counts once.
// Network failures and server errors are retried with backoff; a refusal (lot closed, …) is shown
// and dropped; an expired session keeps the queue until the producer signs in again.
(function () {
  "use strict";
  var C = window.Carreau;
  var list = document.querySelector("[data-stock-list]");
  if (!list) return;

  var STORAGE_KEY = "carreau.stock-queue.v1." + (list.dataset.userId || "anonymous");
  var banner = document.querySelector("[data-sync-banner]");
  var bannerText = document.querySelector("[data-sync-text]");
  var queue = load();
  var flushing = false;
  var retryTimer = null;
  var backoffMs = 2000;
  var lastFailure = null; // "network" | "session" | null

  function load() {
    try { return JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]"); } catch (e) { return []; }
  }
  function save() {
    try { localStorage.setItem(STORAGE_KEY, JSON.stringify(queue)); } catch (e) { /* private mode: memory only */ }
  }

  function card(lotId) { return list.querySelector('[data-lot-id="' + lotId + '"]'); }

  function render(lotId) {
    var node = card(lotId);
    if (!node) return;
    var value = Number(node.dataset.available);
    var pending = queue.filter(function (entry) { return entry.lotId === lotId; });
    pending.forEach(function (entry) {
      value = entry.set !== undefined ? entry.set : Math.max(0, value + entry.delta);
    });
    node.querySelector("[data-available-text]").textContent = C.quantity(value, node.dataset.unit);
    node.classList.toggle("lot-card--sold-out", value === 0);
    var badge = node.querySelector("[data-pending]");
    badge.hidden = pending.length === 0;
    badge.textContent = pending.length === 0 ? "" :
      (flushing && queue[0] && queue[0].lotId === lotId ? C.t("sending") :
        (pending.length === 1 ? C.t("pending_one") : C.t("pending_many", { n: pending.length })));
    node.classList.toggle("lot-card--pending", pending.length > 0);
  }

  function renderBanner() {
    if (!banner) return;
    var offline = lastFailure === "network" || !navigator.onLine;
    banner.hidden = queue.length === 0 && !offline;
    var parts = [];
    if (lastFailure === "session") parts.push(C.t("session_expired"));
    else if (offline) parts.push(C.t("offline"));
    if (queue.length) parts.push(queue.length === 1 ? C.t("pending_one") : C.t("pending_many", { n: queue.length }));
    bannerText.textContent = parts.join(" · ");
  }

  function renderAll() {
    list.querySelectorAll("[data-lot-id]").forEach(function (node) { render(Number(node.dataset.lotId)); });
    renderBanner();
  }

  function showError(lotId, message) {
    var node = card(lotId);
    if (!node) return;
    var box = node.querySelector("[data-error]");
    box.textContent = message;
    box.hidden = false;
    setTimeout(function () { box.hidden = true; }, 8000);
  }

  function applyServerLot(lot) {
    var node = card(lot.id);
    if (!node) return;
    node.dataset.available = lot.quantity_available;
    var pill = node.querySelector("[data-status] .pill");
    if (pill) {
      pill.className = "pill pill--lot-" + lot.status;
      pill.textContent = C.label("lot_status", lot.status);
    }
  }

  function scheduleRetry() {
    if (retryTimer) return;
    retryTimer = setTimeout(function () { retryTimer = null; flush(); }, backoffMs);
    backoffMs = Math.min(backoffMs * 2, 30000);
  }

  function flush() {
    if (flushing || queue.length === 0) { renderAll(); return; }
    flushing = true;
    var entry = queue[0];
    render(entry.lotId);
    var body = entry.set !== undefined ? { quantity_available: entry.set } : { delta: entry.delta };
    C.api("POST", entry.url, body, { "Idempotency-Key": entry.key }).then(function (result) {
      flushing = false;
      if (result.ok) {
        lastFailure = null;
        backoffMs = 2000;
        queue.shift();
        save();
        applyServerLot(result.data);
        render(entry.lotId);
        if (queue.length === 0) C.announce(C.t("saved"));
        flush();
      } else if (result.status === 401) {
        lastFailure = "session";
        renderAll();
      } else if (result.status >= 500 || result.status === 429 || result.status === 408) {
        lastFailure = "network";
        renderAll();
        scheduleRetry();
      } else {
        // The server refused this step for good (lot closed, not yours, invalid): show why, drop it.
        queue.shift();
        save();
        showError(entry.lotId, C.t("rejected") + " : " + ((result.data && result.data.message) || result.status));
        if (result.data && result.data.error === "lot_closed") {
          var node = card(entry.lotId);
          if (node) node.querySelectorAll(".stepper button").forEach(function (b) { b.disabled = true; });
        }
        render(entry.lotId);
        flush();
      }
    }).catch(function () {
      flushing = false;
      lastFailure = "network";
      renderAll();
      scheduleRetry();
    });
  }

  list.addEventListener("submit", function (event) {
    var form = event.target.closest(".stepper");
    if (!form) return;
    event.preventDefault();
    var button = event.submitter;
    if (!button) return;
    var node = form.closest("[data-lot-id]");
    var entry = { key: C.randomKey(), lotId: Number(node.dataset.lotId), url: node.dataset.stockUrl, at: Date.now() };
    if (button.name === "sold_out") entry.set = 0;
    else entry.delta = Number(button.value);
    queue.push(entry);
    save();
    render(entry.lotId);
    renderBanner();
    flush();
  });

  window.addEventListener("online", function () {
    backoffMs = 2000;
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    flush();
  });
  window.addEventListener("offline", renderBanner);
  // Another tab of the same phone changed the queue.
  window.addEventListener("storage", function (event) {
    if (event.key === STORAGE_KEY) { queue = load(); renderAll(); }
  });

  // Steps left from an earlier visit (reload, crash, no network) are shown and sent now.
  renderAll();
  flush();
})();
