"""Where something is: a postcode (and commune, and street) or coordinates, turned into a located commune.

Farms and trader bases go through `locate`, which is what gives them the INSEE code and department
that chamber territories are built on. Without coordinates, the app's geocoder places them (the
offline gazetteer by default, the national address base when GEOCODER=ban).
"""
from __future__ import annotations

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from exchange.domain.errors import InvalidInput
from exchange.geo import gazetteer
from exchange.geo.distance import distance_km
from exchange.geo.geocoding import GazetteerGeocoder, Geocoder, Place, make_geocoder

# Coordinates further than this from the postcode's commune are almost surely a typing mistake.
MAX_OFFSET_FROM_COMMUNE_KM = 60.0
GEOCODER_KEY = "carreau_geocoder"


def install_geocoder(app) -> None:
    app.extensions[GEOCODER_KEY] = make_geocoder(app.config["GEOCODER"], app.config["GEOCODER_TIMEOUT_S"])


def _geocoder() -> Geocoder:
    found = current_app.extensions.get(GEOCODER_KEY) if has_app_context() else None
    return found or GazetteerGeocoder()


def _prefixed(field: str | None, name: str) -> str:
    return f"{field}.{name}" if field else name


def locate(*, postcode: str | None = None, commune: str | None = None, address: str | None = None,
           lat: float | None = None, lon: float | None = None, field: str | None = None) -> Place:
    """Resolve a postcode (with the commune when several share it) or coordinates to a commune."""
    if (lat is None) != (lon is None):
        missing = "lon" if lon is None else "lat"
        raise InvalidInput(_l("Indiquez la latitude et la longitude ensemble."),
                           errors={_prefixed(field, missing): ["Required with the other coordinate."]})
    if postcode:
        try:
            if lat is None:
                return _geocoder().geocode(postcode, commune, address)
            found = gazetteer.resolve(postcode, commune)
        except InvalidInput as exc:
            if field and exc.errors:
                exc.errors = {_prefixed(field, k): v for k, v in exc.errors.items()}
            raise
        if distance_km(lat, lon, found.lat, found.lon) > MAX_OFFSET_FROM_COMMUNE_KM:
            raise InvalidInput(
                _l("Ces coordonnées sont à plus de %(km)s km de %(name)s : vérifiez le code postal.",
                   km=int(MAX_OFFSET_FROM_COMMUNE_KM), name=found.name),
                errors={_prefixed(field, "lat"): ["Too far from the postcode's commune."]})
        return Place(lat, lon, found.insee, found.name, postcode.strip(), found.department, "point")
    if lat is not None:
        found = gazetteer.nearest(lat, lon, max_km=MAX_OFFSET_FROM_COMMUNE_KM)
        if found is None:
            raise InvalidInput(_l("Ces coordonnées ne sont pas en France."),
                               errors={_prefixed(field, "lat"): ["Not in France."]})
        return Place(lat, lon, found.insee, found.name, found.postcodes[0], found.department, "point")
    raise InvalidInput(_l("Indiquez un code postal."),
                       errors={_prefixed(field, "postcode"): ["Missing data for required field."]})
