// A server-rendered list that follows the live feed: when a reservation changes, fetch the list
// again (?fragment=1), swap it in and highlight what changed. One rendering path, the server's.
(function () {
  "use strict";
  var C = window.Carreau;
  var list = document.querySelector("[data-live-list]");
  if (!list) return;
  var url = list.dataset.fragmentUrl;
  var changed = {};
  var timer = null;
  var waitingForBlur = false;

  function busyTyping() {
    var active = document.activeElement;
    return active && list.contains(active) && active.tagName === "INPUT" && active.value;
  }

  function refresh() {
    if (busyTyping()) {
      // Never wipe a pickup code being typed: refresh once the field is left.
      if (!waitingForBlur) {
        waitingForBlur = true;
        document.activeElement.addEventListener("blur", function () { waitingForBlur = false; schedule(); }, { once: true });
      }
      return;
    }
    list.setAttribute("aria-busy", "true");
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.text();
    }).then(function (html) {
      list.innerHTML = html;
      Object.keys(changed).forEach(function (id) {
        var node = list.querySelector('[data-id="' + id + '"]');
        if (node) node.classList.add("is-fresh");
      });
      changed = {};
    }).catch(function () { /* offline: the next event or reconnection tries again */ })
      .finally(function () { list.setAttribute("aria-busy", "false"); });
  }

  function schedule() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  }

  C.openFeed({
    since: list.dataset.feedSince,
    onReservation: function (message) {
      var r = message.reservation;
      changed[r.id] = true;
      if (message.type === "created" && r.lot) {
        C.announce(C.t("new_reservation", { quantity: C.quantity(r.quantity, r.lot.unit), product: r.lot.product }));
      } else {
        C.announce(C.label("reservation_status", r.status) + " : " + (r.lot ? r.lot.product : ""));
      }
      schedule();
    },
    onResync: schedule,
    onReady: function (message) {
      // Reconnected after a gap the server could replay: the list may be stale only if events came.
      if (list.dataset.loadedAt !== undefined) schedule();
      list.dataset.loadedAt = String(Date.now());
    }
  });
})();
