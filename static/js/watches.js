// Watches on a map: every watch's circle, and a live preview of the one being made or changed —
// its centre from a tap on the map, « use my location », a commune, or the trader's base.
(function () {
  "use strict";
  var C = window.Carreau;
  var node = document.querySelector("[data-watch-map]");
  var form = document.querySelector("[data-watch-form]");
  if (!node || !form || !window.L) return;
  var data = C.readJson("watch-data", { watches: [], base: null, editing: null });
  var map = C.makeMap(node, { tiles: node.dataset.tiles, base: data.base });
  var lat = form.querySelector("[data-lat]");
  var lon = form.querySelector("[data-lon]");
  var radius = form.querySelector('[name="radius_km"]');
  var slider = form.querySelector("[data-radius-slider]");
  var postcode = form.querySelector(".js-postcode");
  var commune = form.querySelector(".js-commune");

  var bounds = null;
  data.watches.forEach(function (watch) {
    if (watch.id === data.editing) return;  // drawn as the preview instead
    var circle = C.watchCircle(watch, false).addTo(map);
    circle.bindTooltip(watch.name || "");
    bounds = bounds ? bounds.extend(circle.getBounds()) : circle.getBounds();
  });

  var editing = data.watches.filter(function (w) { return w.id === data.editing; })[0];
  var centre = lat.value && lon.value ? [Number(lat.value), Number(lon.value)] :
    editing ? [editing.lat, editing.lon] : data.base ? [data.base.lat, data.base.lon] : null;

  function km() {
    var value = Number(String(radius.value).replace(",", "."));
    return value > 0 ? Math.min(value, 200) : 30;
  }

  var preview = null;
  var pin = null;
  function draw(fit) {
    if (!centre) return;
    var watch = { lat: centre[0], lon: centre[1], radius_km: km() };
    if (!preview) {
      preview = C.watchCircle(watch, true).addTo(map);
      pin = window.L.circleMarker(centre, { radius: 6, color: "#fff", weight: 2, fillColor: "#a8431f", fillOpacity: 1 }).addTo(map);
    } else {
      preview.setLatLng(centre);
      preview.setRadius(watch.radius_km * 1000);
      pin.setLatLng(centre);
    }
    if (fit) map.fitBounds(preview.getBounds(), { padding: [16, 16] });
  }

  if (centre) draw(true);
  else if (bounds) map.fitBounds(bounds, { padding: [10, 10] });

  map.on("click", function (event) {
    centre = [event.latlng.lat, event.latlng.lng];
    lat.value = centre[0].toFixed(5);
    lon.value = centre[1].toFixed(5);
    // A point picked on the map is the centre: the postcode no longer says where it is.
    postcode.value = "";
    commune.value = "";
    var status = form.querySelector("[data-location-status]");
    if (status) status.textContent = C.t("centre_on_map");
    draw(false);
  });

  form.addEventListener("carreau:located", function (event) {
    centre = [event.detail.lat, event.detail.lon];
    draw(true);
  });
  form.addEventListener("carreau:place", function (event) {
    if (lat.value) return;  // an exact point wins over the commune
    centre = [event.detail.lat, event.detail.lon];
    draw(true);
  });

  slider.addEventListener("input", function () { radius.value = slider.value; draw(false); });
  radius.addEventListener("input", function () { slider.value = String(Math.round(km())); draw(false); });
})();
