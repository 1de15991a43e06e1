"""Geocoders: turn a postcode (plus commune name, plus street address) into a point.

`GazetteerGeocoder` is offline and gives the commune's centre. `BanGeocoder` asks the national
address base (Base Adresse Nationale, through geopy's BANFrance) for a street-level point and falls
back to the commune's centre whenever the service fails, is slow or answers about another commune:
a producer can always save a farm. The app picks one with `make_geocoder(config["GEOCODER"], ...)`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, Protocol

from geopy.exc import GeopyError
from geopy.geocoders import BANFrance

from exchange.geo import gazetteer

log = logging.getLogger(__name__)

Precision = Literal["commune", "address", "point"]  # "point": coordinates the user gave
GEOCODERS = ("gazetteer", "ban")
BAN_MIN_SCORE = 0.5  # BAN's own confidence, 0 to 1; below it the match is a guess
BAN_PRECISE_TYPES = ("housenumber", "street", "locality")  # "municipality" is no better than ours
USER_AGENT = "carreau"


@dataclass(frozen=True, slots=True)
class Place:
    lat: float
    lon: float
    insee: str
    commune: str
    postcode: str
    department: str
    precision: Precision


class Geocoder(Protocol):
    def geocode(self, postcode: str, commune: str | None = None, address: str | None = None) -> Place:
        """Where this is. Raises InvalidInput when the postcode/commune pair is not a real one."""
        ...


def commune_place(commune: gazetteer.Commune, postcode: str) -> Place:
    return Place(lat=commune.lat, lon=commune.lon, insee=commune.insee, commune=commune.name,
                 postcode=postcode, department=commune.department, precision="commune")


class GazetteerGeocoder:
    """The commune's centre, from the offline gazetteer: no network, no street precision."""

    def geocode(self, postcode: str, commune: str | None = None, address: str | None = None) -> Place:
        """Place a postcode (and commune, when the postcode is shared) at the commune's centre."""
        found = gazetteer.resolve(postcode, commune)
        return commune_place(found, postcode.replace(" ", ""))


class BanGeocoder:
    """Street-level points from the Base Adresse Nationale, the commune's centre otherwise."""

    def __init__(self, timeout_s: float = 3.0, client: BANFrance | None = None):
        self.timeout_s = timeout_s
        self.client = client or BANFrance(timeout=timeout_s, user_agent=USER_AGENT)

    def geocode(self, postcode: str, commune: str | None = None, address: str | None = None) -> Place:
        """Place an address at street level when the BAN knows it in that commune; else the commune."""
        found = gazetteer.resolve(postcode, commune)  # bad input is refused whatever the BAN says
        place = commune_place(found, postcode.replace(" ", ""))
        if not address or not address.strip():
            return place
        query = f"{address.strip()} {place.postcode} {found.name}"
        try:
            results = self.client.geocode(query, limit=5, exactly_one=False, timeout=self.timeout_s)
        except GeopyError as exc:  # timeouts, refusals, unreadable answers: all subclasses
            log.warning("BAN geocoding failed, using the commune centre: %s", exc)
            return place
        for location in results or ():
            props = (location.raw or {}).get("properties", {})
            if (props.get("citycode") == found.insee and props.get("type") in BAN_PRECISE_TYPES
                    and float(props.get("score") or 0) >= BAN_MIN_SCORE):
                return Place(lat=location.latitude, lon=location.longitude, insee=found.insee,
                             commune=found.name, postcode=place.postcode, department=found.department,
                             precision="address")
        log.info("BAN has no confident match for %r in %s; using the commune centre", address, found.insee)
        return place


def make_geocoder(name: str, timeout_s: float = 3.0) -> Geocoder:
    """The geocoder named by the GEOCODER setting: "gazetteer" (offline) or "ban" (street level)."""
    key = (name or "").strip().lower()
    if key == "gazetteer":
        return GazetteerGeocoder()
    if key == "ban":
        return BanGeocoder(timeout_s=timeout_s)
    raise ValueError(f"GEOCODER must be one of {', '.join(GEOCODERS)}, not {name!r}")
