"""Where something is: a postcode (and commune) or coordinates, turned into a located commune.

Farms and trader bases go through `locate`, which is what gives them the INSEE code and department
that chamber territories are built on.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from exchange.domain.errors import InvalidInput
from exchange.geo import gazetteer
from exchange.geo.distance import distance_km

# Coordinates further than this from the postcode's commune are almost surely a typing mistake.
MAX_OFFSET_FROM_COMMUNE_KM = 60.0


@dataclass(frozen=True, slots=True)
class Located:
    lat: float
    lon: float
    postcode: str
    commune: str
    insee: str
    department: str


def _prefixed(field: str | None, name: str) -> str:
    return f"{field}.{name}" if field else name


def locate(*, postcode: str | None = None, commune: str | None = None, lat: float | None = None,
           lon: float | None = None, field: str | None = None) -> Located:
    """Resolve a postcode (with the commune when several share it) or coordinates to a commune."""
    if (lat is None) != (lon is None):
        missing = "lon" if lon is None else "lat"
        raise InvalidInput(_l("Indiquez la latitude et la longitude ensemble."),
                           errors={_prefixed(field, missing): ["Required with the other coordinate."]})
    if postcode:
        try:
            found = gazetteer.resolve(postcode, commune)
        except InvalidInput as exc:
            if field and exc.errors:
                exc.errors = {_prefixed(field, k): v for k, v in exc.errors.items()}
            raise
        if lat is None:
            lat, lon = found.lat, found.lon
        elif distance_km(lat, lon, found.lat, found.lon) > MAX_OFFSET_FROM_COMMUNE_KM:
            raise InvalidInput(
                _l("Ces coordonnées sont à plus de %(km)s km de %(name)s : vérifiez le code postal.",
                   km=int(MAX_OFFSET_FROM_COMMUNE_KM), name=found.name),
                errors={_prefixed(field, "lat"): ["Too far from the postcode's commune."]})
        return Located(lat, lon, postcode.strip(), found.name, found.insee, found.department)
    if lat is not None:
        found = gazetteer.nearest(lat, lon)
        if found is None or distance_km(lat, lon, found.lat, found.lon) > MAX_OFFSET_FROM_COMMUNE_KM:
            raise InvalidInput(_l("Ces coordonnées ne sont pas en France."),
                               errors={_prefixed(field, "lat"): ["Not in France."]})
        return Located(lat, lon, found.postcodes[0], found.name, found.insee, found.department)
    raise InvalidInput(_l("Indiquez un code postal."),
                       errors={_prefixed(field, "postcode"): ["Missing data for required field."]})
