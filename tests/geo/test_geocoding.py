"""Geocoders: the offline gazetteer one, and the BAN one with its fall-back (faked at geopy)."""
from __future__ import annotations

import pytest
from geopy.exc import GeocoderServiceError, GeocoderTimedOut, GeocoderUnavailable
from geopy.location import Location

from exchange.domain.errors import InvalidInput
from exchange.geo.geocoding import BanGeocoder, GazetteerGeocoder, Place, make_geocoder

CAHORS_CENTRE = (44.4468, 1.4406)
VALENTRE = (44.44469, 1.43216)  # 1 quai Valentré, as the BAN would put it


def ban_feature(lat, lon, *, citycode="46042", kind="housenumber", score=0.92, label="1 Quai Valentré 46000 Cahors"):
    raw = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
           "properties": {"label": label, "score": score, "type": kind, "citycode": citycode,
                          "postcode": "46000", "city": "Cahors"}}
    return Location(label, (lat, lon), raw)


@pytest.fixture
def ban(monkeypatch):
    """A BanGeocoder whose geopy client answers from `ban.answers` (or raises `ban.error`)."""
    geocoder = BanGeocoder(timeout_s=1.5)
    geocoder.calls = []
    geocoder.answers = []
    geocoder.error = None

    def fake_geocode(query, **kwargs):
        geocoder.calls.append((query, kwargs))
        if geocoder.error:
            raise geocoder.error
        return geocoder.answers or None

    monkeypatch.setattr(geocoder.client, "geocode", fake_geocode)
    return geocoder


def test_gazetteer_geocoder_gives_the_commune_centre():
    place = GazetteerGeocoder().geocode("46000", address="1 quai Valentré")
    assert place == Place(lat=CAHORS_CENTRE[0], lon=CAHORS_CENTRE[1], insee="46042", commune="Cahors",
                          postcode="46000", department="46", precision="commune")


def test_gazetteer_geocoder_refuses_bad_input():
    with pytest.raises(InvalidInput):
        GazetteerGeocoder().geocode("46090")  # shared postcode, no commune
    assert GazetteerGeocoder().geocode("46090", "Arcambal").insee == "46007"


def test_ban_gives_a_street_level_point(ban):
    ban.answers = [ban_feature(*VALENTRE)]
    place = ban.geocode("46000", "Cahors", "1 quai Valentré")
    assert place.precision == "address"
    assert (place.lat, place.lon) == VALENTRE
    assert (place.insee, place.commune, place.department) == ("46042", "Cahors", "46")
    ((query, kwargs),) = ban.calls
    assert query == "1 quai Valentré 46000 Cahors"
    assert kwargs["timeout"] == 1.5 and kwargs["exactly_one"] is False


@pytest.mark.parametrize("error", [GeocoderTimedOut("timed out"), GeocoderServiceError("502"),
                                   GeocoderUnavailable("refused")])
def test_ban_falls_back_to_the_commune_when_geopy_fails(ban, error):
    ban.error = error
    place = ban.geocode("46000", None, "1 quai Valentré")
    assert len(ban.calls) == 1
    assert place.precision == "commune" and (place.lat, place.lon) == CAHORS_CENTRE


@pytest.mark.parametrize("feature", [
    ban_feature(*VALENTRE, citycode="46224"),  # the BAN found it in another commune
    ban_feature(*VALENTRE, kind="municipality"),  # only the commune: ours is as good
    ban_feature(*VALENTRE, score=0.2),  # a guess
])
def test_ban_falls_back_when_its_answer_is_not_trustworthy(ban, feature):
    ban.answers = [feature]
    place = ban.geocode("46000", None, "1 quai Valentré")
    assert place.precision == "commune" and place.insee == "46042"


def test_ban_takes_the_first_trustworthy_answer(ban):
    ban.answers = [ban_feature(44.5, 1.5, citycode="46224"), ban_feature(*VALENTRE)]
    assert (ban.geocode("46000", None, "quai Valentré").lat, ) == (VALENTRE[0],)


def test_ban_falls_back_when_it_finds_nothing(ban):
    place = ban.geocode("46000", None, "nowhere street")
    assert place.precision == "commune" and len(ban.calls) == 1


def test_ban_is_not_asked_without_an_address_nor_for_bad_input(ban):
    assert ban.geocode("46000").precision == "commune"
    assert ban.geocode("46000", "Cahors", "   ").precision == "commune"
    with pytest.raises(InvalidInput):
        ban.geocode("46999", None, "1 quai Valentré")
    assert ban.calls == []


def test_ban_unreachable_falls_back_through_real_geopy(blocked_network):
    """No fake: geopy's own transport meets the test network guard and reports it as an error."""
    place = BanGeocoder(timeout_s=0.5).geocode("46000", None, "1 quai Valentré")
    assert place.precision == "commune" and place.insee == "46042"
    assert blocked_network and all("api-adresse.data.gouv.fr" in a for a in blocked_network)
    blocked_network.clear()


def test_make_geocoder():
    assert isinstance(make_geocoder("gazetteer", 2.0), GazetteerGeocoder)
    ban = make_geocoder(" BAN ", 2.5)
    assert isinstance(ban, BanGeocoder) and ban.timeout_s == 2.5 and ban.client.timeout == 2.5
    with pytest.raises(ValueError, match="gazetteer, ban"):
        make_geocoder("google", 2.0)
