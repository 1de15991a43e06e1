"""Watches over the API: a trader's own standing searches, their defaults and their limits."""
import json

import pytest

from exchange.models import WatchChange

API = "/api/v1"


def test_create_list_edit_and_delete_a_watch(client, login_as, db):
    _, headers = login_as("trader")
    body = {"lat": 44.45, "lon": 1.44, "radius_km": 25, "categories": ["vegetables", "eggs"], "q": "  tomate  ancienne ",
            "max_price_cents": 300, "labels": ["organic"], "min_quantity": 10, "name": "Autour de Cahors"}
    r = client.post(f"{API}/watches", json=body, headers=headers)
    assert r.status_code == 201, r.json
    watch = r.json
    assert watch["categories"] == ["eggs", "vegetables"] and watch["q"] == "tomate ancienne"
    assert watch["radius_km"] == 25 and watch["min_quantity"] == 10 and watch["active"] is True
    assert watch["labels"] == ["organic"] and watch["name"] == "Autour de Cahors"

    r = client.get(f"{API}/watches", headers=headers)
    assert r.status_code == 200 and [w["id"] for w in r.json] == [watch["id"]]
    assert json.loads(r.headers["X-Pagination"])["total"] == 1

    r = client.patch(f"{API}/watches/{watch['id']}", json={"radius_km": 40, "active": False, "q": None,
                                                           "categories": []}, headers=headers)
    assert r.status_code == 200
    assert r.json["radius_km"] == 40 and r.json["active"] is False and r.json["q"] is None
    assert r.json["categories"] == [] and r.json["max_price_cents"] == 300  # untouched fields stay

    assert client.delete(f"{API}/watches/{watch['id']}", headers=headers).status_code == 204
    assert client.get(f"{API}/watches/{watch['id']}", headers=headers).status_code == 404
    # Every change was logged for the processes' watch indexes: create, edit, delete.
    assert db.session.scalars(db.select(WatchChange.watch_id).order_by(WatchChange.version)).all() == [watch["id"]] * 3


def test_the_centre_defaults_to_the_traders_base(client, login_as):
    _, headers = login_as("trader", base={"postcode": "46000"})
    r = client.post(f"{API}/watches", json={"radius_km": 30}, headers=headers)
    assert r.status_code == 201
    assert (round(r.json["lat"], 2), round(r.json["lon"], 2)) == (44.45, 1.44)
    r = client.patch(f"{API}/watches/{r.json['id']}", json={"lat": 44.0, "lon": 1.35}, headers=headers)
    assert (r.json["lat"], r.json["lon"]) == (44.0, 1.35)
    r = client.patch(f"{API}/watches/{r.json['id']}", json={"lat": None, "lon": None}, headers=headers)
    assert round(r.json["lat"], 2) == 44.45  # back to the base


def test_without_a_base_the_centre_is_required(client, login_as):
    _, headers = login_as("trader")
    r = client.post(f"{API}/watches", json={"radius_km": 30}, headers=headers)
    assert r.status_code == 422 and "lat" in r.json["errors"]


@pytest.mark.parametrize("body, field", [
    ({"lat": 44.45, "lon": 1.44, "radius_km": 0}, "radius_km"),
    ({"lat": 44.45, "lon": 1.44, "radius_km": 200.5}, "radius_km"),
    ({"lat": 44.45, "lon": 1.44}, "radius_km"),
    ({"lat": 44.45, "radius_km": 10}, "lon"),
    ({"lat": 95, "lon": 1.44, "radius_km": 10}, "lat"),
    ({"lat": 44.45, "lon": 1.44, "radius_km": 10, "categories": ["cars"]}, "categories"),
    ({"lat": 44.45, "lon": 1.44, "radius_km": 10, "labels": ["shiny"]}, "labels"),
    ({"lat": 44.45, "lon": 1.44, "radius_km": 10, "max_price_cents": -1}, "max_price_cents"),
    ({"lat": 44.45, "lon": 1.44, "radius_km": 10, "min_quantity": 0}, "min_quantity"),
    ({"lat": 44.45, "lon": 1.44, "radius_km": 10, "q": "x" * 81}, "q"),
    ({"lat": 44.45, "lon": 1.44, "radius_km": "far"}, "radius_km"),
])
def test_invalid_watches_are_refused_with_422(client, login_as, body, field):
    _, headers = login_as("trader")
    r = client.post(f"{API}/watches", json=body, headers=headers)
    assert r.status_code == 422, r.json
    assert field in json.dumps(r.json["errors"])


def test_exactly_200_km_is_allowed(client, login_as):
    _, headers = login_as("trader")
    assert client.post(f"{API}/watches", json={"lat": 44.45, "lon": 1.44, "radius_km": 200},
                       headers=headers).status_code == 201


def test_only_traders_have_watches_and_only_their_own(client, login_as):
    _, producer = login_as("producer")
    body = {"lat": 44.45, "lon": 1.44, "radius_km": 10}
    assert client.post(f"{API}/watches", json=body, headers=producer).status_code == 403
    assert client.get(f"{API}/watches", headers=producer).status_code == 403
    assert client.get(f"{API}/watches").status_code == 401

    _, owner = login_as("trader")
    _, other = login_as("trader")
    watch_id = client.post(f"{API}/watches", json=body, headers=owner).json["id"]
    assert client.get(f"{API}/watches", headers=other).json == []
    assert client.patch(f"{API}/watches/{watch_id}", json={"radius_km": 5}, headers=other).status_code == 403
    assert client.delete(f"{API}/watches/{watch_id}", headers=other).status_code == 403
    assert client.get(f"{API}/watches/{watch_id}", headers=owner).json["radius_km"] == 10


def test_watches_are_paginated(client, login_as):
    _, headers = login_as("trader")
    for radius in range(1, 6):
        client.post(f"{API}/watches", json={"lat": 44.45, "lon": 1.44, "radius_km": radius}, headers=headers)
    r = client.get(f"{API}/watches?page=2&page_size=2", headers=headers)
    assert [w["radius_km"] for w in r.json] == [3, 4]
    assert json.loads(r.headers["X-Pagination"])["total"] == 5


def test_a_trader_has_at_most_fifty_watches(client, login_as):
    from exchange.domain.watches import MAX_WATCHES_PER_TRADER

    _, headers = login_as("trader")
    body = {"lat": 44.45, "lon": 1.44, "radius_km": 10}
    for _ in range(MAX_WATCHES_PER_TRADER):
        assert client.post(f"{API}/watches", json=body, headers=headers).status_code == 201
    r = client.post(f"{API}/watches", json=body, headers=headers)
    assert r.status_code == 409 and r.json["error"] == "too_many_watches"
