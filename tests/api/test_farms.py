"""Farms over the API: located from the postcode, owned by their producer."""
import pytest

API = "/api/v1"


def test_a_farm_is_located_from_its_postcode(client, login_as):
    _, headers = login_as("producer")
    r = client.post(f"{API}/farms", json={"name": "Ferme du Causse", "postcode": "46000"}, headers=headers)
    assert r.status_code == 201, r.json
    assert r.json["insee"] == "46042" and r.json["department"] == "46" and r.json["commune"] == "Cahors"
    assert abs(r.json["lat"] - 44.45) < 0.1


def test_given_coordinates_are_kept(client, login_as):
    _, headers = login_as("producer")
    body = {"name": "F", "postcode": "46000", "lat": 44.4475, "lon": 1.4419,
            "pickup_hours": {"mon": ["07:00-12:00"], "sat": ["08:00-11:00", "14:00-16:00"]}}
    r = client.post(f"{API}/farms", json=body, headers=headers)
    assert r.status_code == 201
    assert (r.json["lat"], r.json["lon"]) == (44.4475, 1.4419)
    assert r.json["pickup_hours"]["sat"] == ["08:00-11:00", "14:00-16:00"]


def test_unknown_postcode_is_422(client, login_as):
    _, headers = login_as("producer")
    r = client.post(f"{API}/farms", json={"name": "F", "postcode": "99999"}, headers=headers)
    assert r.status_code == 422 and "postcode" in r.json["errors"]


def test_invalid_siret_is_422_and_a_valid_one_is_kept(client, login_as):
    _, headers = login_as("producer")
    r = client.post(f"{API}/farms", json={"name": "F", "postcode": "46000", "siret": "12345678901234"},
                    headers=headers)
    assert r.status_code == 422 and "siret" in r.json["errors"]
    r = client.post(f"{API}/farms", json={"name": "F", "postcode": "46000", "siret": "732 829 320 00074"},
                    headers=headers)
    assert r.status_code == 201 and r.json["siret"] == "73282932000074"


def test_bad_pickup_hours_name_the_day(client, login_as):
    _, headers = login_as("producer")
    r = client.post(f"{API}/farms", json={"name": "F", "postcode": "46000", "pickup_hours": {"mon": ["12:00-07:00"]}},
                    headers=headers)
    assert r.status_code == 422 and "mon" in r.json["errors"]["json"]["pickup_hours"]


def test_only_the_owner_changes_a_farm(client, login_as, make_farm):
    owner, owner_headers = login_as("producer")
    _, other_headers = login_as("producer")
    _, trader_headers = login_as("trader")
    farm = make_farm(owner)
    assert client.patch(f"{API}/farms/{farm.id}", json={"name": "X"}, headers=other_headers).status_code == 403
    assert client.get(f"{API}/farms/{farm.id}", headers=other_headers).status_code == 403
    assert client.patch(f"{API}/farms/{farm.id}", json={"name": "X"}, headers=trader_headers).status_code == 403
    assert client.patch(f"{API}/farms/{farm.id}", json={"name": "X"}).status_code == 401
    r = client.patch(f"{API}/farms/{farm.id}", json={"name": "Le Mas"}, headers=owner_headers)
    assert r.status_code == 200 and r.json["name"] == "Le Mas"


def test_traders_cannot_create_farms(client, login_as):
    _, headers = login_as("trader")
    assert client.post(f"{API}/farms", json={"name": "F", "postcode": "46000"}, headers=headers).status_code == 403


def test_moving_a_farm_relocates_it(client, login_as, make_farm):
    owner, headers = login_as("producer")
    farm = make_farm(owner)
    r = client.patch(f"{API}/farms/{farm.id}", json={"postcode": "82000"}, headers=headers)
    assert r.status_code == 200 and r.json["department"] == "82" and r.json["commune"] == "Montauban"


class _Location:
    def __init__(self, lat, lon, raw):
        self.latitude, self.longitude, self.raw = lat, lon, raw


@pytest.mark.parametrize("app_config", [{"GEOCODER": "ban"}])
def test_with_the_ban_geocoder_a_street_address_places_the_farm_precisely(client, login_as, app, monkeypatch):
    from exchange.geo.places import GEOCODER_KEY

    asked = []

    def fake_geocode(query, **kwargs):  # geopy's boundary: no network in tests
        asked.append(query)
        props = {"citycode": "46042", "type": "housenumber", "score": 0.93}
        return [_Location(44.4512, 1.4337, {"properties": props})]

    monkeypatch.setattr(app.extensions[GEOCODER_KEY].client, "geocode", fake_geocode)
    _, headers = login_as("producer")
    r = client.post(f"{API}/farms", json={"name": "F", "postcode": "46000", "address": "12 rue du Château du Roi"},
                    headers=headers)
    assert r.status_code == 201
    assert (r.json["lat"], r.json["lon"]) == (44.4512, 1.4337) and r.json["address"] == "12 rue du Château du Roi"
    assert asked == ["12 rue du Château du Roi 46000 Cahors"]
