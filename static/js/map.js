// Leaflet maps that keep working with no network: OpenStreetMap tiles when they load, and when
// they do not (no connection, blocked), a plain background with the circles and points still drawn
// and a notice saying why the background is empty.
(function () {
  "use strict";
  var C = window.Carreau;

  C.makeMap = function (node, options) {
    var map = window.L.map(node, { zoomControl: true, attributionControl: true, scrollWheelZoom: false });
    map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
    map.setView(options.center || [44.45, 1.44], options.zoom || 9);
    if (options.base) {
      // The trader's base, named: with no background map it is what the rest is read against.
      window.L.circleMarker([options.base.lat, options.base.lon], {
        radius: 5, color: "#17201b", weight: 2, fillColor: "#fff", fillOpacity: 1, interactive: false
      }).bindTooltip(options.base.commune || "", { permanent: true, direction: "right", className: "map-label" }).addTo(map);
    }
    var notice = options.notice || node.parentNode.querySelector("[data-map-notice]");
    if (options.tiles) {
      var tiles = window.L.tileLayer(options.tiles, {
        maxZoom: 18,
        attribution: '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>'
      });
      var loaded = false;
      tiles.on("tileerror", function () { if (notice && !loaded) notice.hidden = false; });
      tiles.on("tileload", function () { loaded = true; if (notice) notice.hidden = true; });
      tiles.addTo(map);
    }
    return map;
  };

  // A circle people can read without a background map: a clear outline and a light fill.
  C.watchCircle = function (watch, highlighted) {
    return window.L.circle([watch.lat, watch.lon], {
      radius: watch.radius_km * 1000,
      color: highlighted ? "#a8431f" : "#1d5c3f",
      weight: highlighted ? 3 : 2,
      fillColor: "#23704c",
      fillOpacity: highlighted ? 0.12 : 0.06
    });
  };
})();
