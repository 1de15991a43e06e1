// Postcode → communes autocomplete and « use my location » (browser geolocation → nearest commune),
// for any form with data-places-url. Works from the offline gazetteer behind GET /api/v1/places.
(function () {
  "use strict";
  var C = window.Carreau;

  document.querySelectorAll("[data-places-url]").forEach(function (form) {
    var url = form.dataset.placesUrl;
    var postcode = form.querySelector(".js-postcode");
    var commune = form.querySelector(".js-commune");
    var lat = form.querySelector("[data-lat]");
    var lon = form.querySelector("[data-lon]");
    var status = form.querySelector("[data-location-status]");
    var locate = form.querySelector("[data-use-location]");
    var options = document.getElementById(form.dataset.communeList || "commune-options");
    if (!postcode || !commune) return;
    if (options) commune.setAttribute("list", options.id);
    commune.setAttribute("autocomplete", "off");

    function say(text) { if (status) status.textContent = text; }

    function fillOptions(places) {
      if (!options) return;
      options.textContent = "";
      places.forEach(function (place) {
        var option = document.createElement("option");
        option.value = place.name;
        options.appendChild(option);
      });
    }

    var pending = null;
    function lookUp() {
      var code = postcode.value.replace(/\s/g, "");
      if (!/^\d{5}$/.test(code)) return;
      if (pending) clearTimeout(pending);
      pending = setTimeout(function () {
        C.api("GET", url + "?limit=30&q=" + encodeURIComponent(code)).then(function (result) {
          if (!result.ok || !Array.isArray(result.data)) return;
          var places = result.data.filter(function (p) { return p.postcodes.indexOf(code) !== -1; });
          fillOptions(places);
          if (!places.length) { say(C.t("no_commune")); return; }
          var names = places.map(function (p) { return p.name; });
          if (places.length === 1) {
            commune.value = places[0].name;
            say(places[0].name + " (" + code + ")");
          } else if (names.indexOf(commune.value) === -1) {
            commune.value = "";
            say(C.t("choose_commune", { n: places.length }));
          } else {
            say("");
          }
        }).catch(function () { /* offline: the server checks the postcode when the form is sent */ });
      }, 200);
    }

    postcode.addEventListener("input", function () {
      // Typing a postcode means the farm is placed by its commune, not by the last GPS fix.
      if (lat) lat.value = "";
      if (lon) lon.value = "";
      lookUp();
    });
    if (postcode.value) lookUp();

    if (locate && "geolocation" in navigator) {
      locate.hidden = false;
      locate.addEventListener("click", function () {
        say(C.t("locating"));
        locate.disabled = true;
        navigator.geolocation.getCurrentPosition(function (position) {
          var la = position.coords.latitude, lo = position.coords.longitude;
          C.api("GET", url + "?lat=" + la.toFixed(5) + "&lon=" + lo.toFixed(5)).then(function (result) {
            locate.disabled = false;
            if (!result.ok || !result.data || !result.data.length) { say(C.t("no_commune")); return; }
            var place = result.data[0];
            postcode.value = place.postcodes[0];
            commune.value = place.name;
            fillOptions([place]);
            if (lat) lat.value = la.toFixed(5);
            if (lon) lon.value = lo.toFixed(5);
            var accuracy = Math.round(position.coords.accuracy || 0);
            say(C.t("located", { place: place.name + " (" + place.postcodes[0] + ")" }) +
                (accuracy ? " ± " + C.number(accuracy) + " m" : ""));
            form.dispatchEvent(new CustomEvent("carreau:located", { detail: { lat: la, lon: lo, place: place } }));
          }).catch(function () { locate.disabled = false; say(C.t("error")); });
        }, function () {
          locate.disabled = false;
          say(C.t("location_denied"));
        }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
      });
    }
  });
})();
