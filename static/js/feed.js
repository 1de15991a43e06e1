// The live feed (Socket.IO namespace /feed) for the pages, signed in by the session cookie.
//
// The page renders its state at feed position `since` and passes it here: the first connection
// asks for everything after it, and every reconnection asks for everything after the last event
// seen, so nothing is missed across a tunnel or a sleeping phone. The connection state is always
// shown; a `resync` (the server no longer has what we missed) asks the page to reload its data.
(function () {
  "use strict";
  var C = window.Carreau;

  C.openFeed = function (options) {
    var since = options.since === undefined || options.since === null || options.since === "" ? null : Number(options.since);
    var stateNode = options.stateNode || document.querySelector("[data-conn-state]");
    var textNode = stateNode ? stateNode.querySelector("[data-conn-text]") : null;
    var retryTimer = null;

    function show(state, text) {
      if (!stateNode) return;
      if (stateNode.dataset.connState !== state) C.announce(text);
      stateNode.dataset.connState = state;
      if (textNode) textNode.textContent = text;
    }

    function seen(seq) {
      if (typeof seq === "number" && (since === null || seq > since)) since = seq;
    }

    var socket = window.io("/feed", {
      // Called on every (re)connection: resume right after the last event this page has seen.
      auth: function (send) { send(since === null ? {} : { since: since }); },
      reconnectionDelay: 1000,
      reconnectionDelayMax: 10000
    });

    show("connecting", C.t("connecting"));
    socket.on("connect", function () { show("connecting", C.t("connecting")); });
    socket.on("ready", function (message) {
      seen(message.last_seq);
      show("live", C.t("connected"));
      if (options.onReady) options.onReady(message);
    });
    socket.on("lot", function (message) {
      seen(message.seq);
      if (options.onLot) options.onLot(message);
    });
    socket.on("reservation", function (message) {
      seen(message.seq);
      if (options.onReservation) options.onReservation(message);
    });
    socket.on("resync", function (message) {
      since = message.last_seq;
      if (options.onResync) options.onResync(message);
    });
    socket.on("disconnect", function (reason) {
      show("offline", C.t("disconnected"));
      if (reason === "io server disconnect") reconnectSoon();  // the server closed it: socket.io will not retry
    });
    socket.on("connect_error", function () {
      show("offline", C.t("disconnected"));
      if (!socket.active) reconnectSoon();  // refused (session ended?): try again later rather than never
    });

    function reconnectSoon() {
      if (retryTimer) return;
      retryTimer = setTimeout(function () { retryTimer = null; if (!socket.connected) socket.connect(); }, 5000);
    }
    window.addEventListener("online", function () { if (!socket.connected) socket.connect(); });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && !socket.connected) socket.connect();
    });

    return { socket: socket, since: function () { return since; } };
  };
})();
