"""Lots over the API: posting, editing stock, withdrawing, and finding them around a point."""
import datetime as dt

import pytest

from exchange.models import StockMovement

API = "/api/v1"


def until(days=2):
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)).isoformat()


def lot_body(farm_id, **kw):
    return {"farm_id": farm_id, "product": "Tomates cœur de bœuf", "category": "vegetables", "unit": "kg",
            "quantity": 30, "price_cents": 280, "available_until": until()} | kw


@pytest.fixture
def producer(login_as, make_farm):
    user, headers = login_as("producer")
    return user, headers, make_farm(user)


def test_post_edit_and_withdraw_a_lot(client, producer, login_as, db):
    _, headers, farm = producer
    r = client.post(f"{API}/lots", json=lot_body(farm.id, labels=["organic"], min_order=2.5), headers=headers)
    assert r.status_code == 201, r.json
    lot = r.json
    assert lot["status"] == "published" and lot["quantity_available"] == 30 and lot["quantity"] == 30
    assert lot["labels"] == ["organic"] and lot["min_order"] == 2.5 and lot["farm"]["commune"] == "Cahors"

    r = client.patch(f"{API}/lots/{lot['id']}", json={"quantity_available": 12.5, "price_cents": 250}, headers=headers)
    assert r.status_code == 200
    assert r.json["quantity_available"] == 12.5 and r.json["quantity"] == 12.5 and r.json["price_cents"] == 250

    r = client.patch(f"{API}/lots/{lot['id']}", json={"quantity_available": 0}, headers=headers)
    assert r.json["status"] == "sold_out"
    r = client.patch(f"{API}/lots/{lot['id']}", json={"quantity_available": 4}, headers=headers)
    assert r.json["status"] == "published"

    moves = db.session.scalars(db.select(StockMovement).where(StockMovement.lot_id == lot["id"])
                               .order_by(StockMovement.id)).all()
    assert [(m.reason, float(m.delta_available)) for m in moves] == [
        ("posted", 30), ("adjusted", -17.5), ("adjusted", -12.5), ("adjusted", 4)]

    assert client.delete(f"{API}/lots/{lot['id']}", headers=headers).status_code == 204
    _, trader = login_as("trader")
    r = client.get(f"{API}/lots/{lot['id']}", headers=trader)
    assert r.status_code == 200 and r.json["status"] == "withdrawn"
    assert client.patch(f"{API}/lots/{lot['id']}", json={"price_cents": 1}, headers=headers).status_code == 409


def test_another_producer_cannot_touch_the_lot(client, producer, login_as, make_lot):
    _, _, farm = producer
    lot = make_lot(farm)
    _, other = login_as("producer")
    _, trader = login_as("trader")
    assert client.patch(f"{API}/lots/{lot.id}", json={"price_cents": 1}, headers=other).status_code == 403
    assert client.delete(f"{API}/lots/{lot.id}", headers=other).status_code == 403
    assert client.delete(f"{API}/lots/{lot.id}", headers=trader).status_code == 403
    assert client.post(f"{API}/lots", json=lot_body(farm.id), headers=other).status_code == 403
    assert client.get(f"{API}/lots/{lot.id}").status_code == 401
    assert client.get(f"{API}/lots").status_code == 401


@pytest.mark.parametrize("field, value", [
    ("category", "spaceships"), ("unit", "tonne"), ("quantity", -3), ("quantity", 0), ("quantity", 1e12),
    ("quantity", "lots"), ("quantity", 1.2345), ("price_cents", -1), ("price_cents", 2.5), ("price_cents", 10**12),
    ("available_until", "2030-01-01T10:00:00"), ("available_until", "2001-01-01T10:00:00+00:00"),
    ("labels", ["made-up"]), ("product", ""), ("farm_id", "one"), ("farm_id", 10**20),
])
def test_bad_lot_input_is_422_naming_the_field(client, producer, field, value):
    _, headers, farm = producer
    r = client.post(f"{API}/lots", json=lot_body(farm.id) | {field: value}, headers=headers)
    assert r.status_code == 422, r.json
    assert field in r.json["errors"]["json"]


def test_malformed_json_is_400_json(client, producer):
    _, headers, _ = producer
    r = client.post(f"{API}/lots", data="{not json", headers=headers | {"Content-Type": "application/json"})
    assert r.status_code in (400, 422) and r.is_json and r.json["code"] == r.status_code


def test_lots_near_a_point_with_distance_nearest_first(client, login_as, make_user, make_farm, make_lot):
    producer = make_user("producer")
    cahors = make_lot(make_farm(producer, postcode="46000", lat=44.4475, lon=1.4419), product="Cahors")
    figeac = make_lot(make_farm(producer, postcode="46100", commune="Figeac"), product="Figeac")  # ~ 50 km east
    make_lot(make_farm(producer, postcode="75001"), product="Paris")
    _, trader = login_as("trader")

    r = client.get(f"{API}/lots", query_string={"lat": 44.45, "lon": 1.44, "radius_km": 80}, headers=trader)
    assert r.status_code == 200
    assert [lot["product"] for lot in r.json] == ["Cahors", "Figeac"]
    assert r.json[0]["distance_km"] < 1 and 40 < r.json[1]["distance_km"] < 80
    assert '"total": 2' in r.headers["X-Pagination"]

    r = client.get(f"{API}/lots", query_string={"lat": 44.45, "lon": 1.44, "radius_km": 10}, headers=trader)
    assert [lot["id"] for lot in r.json] == [cahors.id]
    assert figeac.id not in [lot["id"] for lot in r.json]


def test_lots_near_a_point_in_every_order_and_page(client, login_as, make_user, make_farm, make_lot):
    producer = make_user("producer")
    near = make_farm(producer, postcode="46000", lat=44.4475, lon=1.4419)
    further = make_farm(producer, postcode="46090", commune="Pradines", lat=44.52, lon=1.50)  # ~ 9 km
    a = make_lot(near, product="A", price_cents=300)
    b = make_lot(further, product="B", price_cents=100)
    c = make_lot(near, product="C", price_cents=200)
    _, trader = login_as("trader")

    def ids(**query):
        r = client.get(f"{API}/lots", query_string={"lat": 44.4475, "lon": 1.4419, "radius_km": 20} | query,
                       headers=trader)
        assert r.status_code == 200, r.json
        return [lot["id"] for lot in r.json]

    assert ids() == [a.id, c.id, b.id]  # same farm: the older id first
    assert ids(sort="price") == [b.id, c.id, a.id]
    assert ids(sort="recent") == [c.id, b.id, a.id]
    assert ids(page_size=2, page=2) == [b.id]
    assert ids(category="eggs") == []


def test_filters_and_pagination(client, login_as, make_user, make_farm, make_lot):
    farm = make_farm(make_user("producer"))
    make_lot(farm, product="Pommes Reinette", category="fruits", price_cents=150, labels=["organic"])
    make_lot(farm, product="Pommes Gala", category="fruits", price_cents=220)
    make_lot(farm, product="Œufs plein air", category="eggs", unit="piece", price_cents=30)
    _, trader = login_as("trader")

    def products(**query):
        r = client.get(f"{API}/lots", query_string=query, headers=trader)
        assert r.status_code == 200, r.json
        return sorted(lot["product"] for lot in r.json)

    assert products(category="fruits") == ["Pommes Gala", "Pommes Reinette"]
    assert products(q="pommes gala") == ["Pommes Gala"]
    assert products(max_price_cents=150) == ["Pommes Reinette", "Œufs plein air"]
    assert products(label="organic") == ["Pommes Reinette"]
    r = client.get(f"{API}/lots", query_string={"page_size": 2, "page": 2}, headers=trader)
    assert len(r.json) == 1 and '"total": 3' in r.headers["X-Pagination"]
    assert client.get(f"{API}/lots", query_string={"page_size": 500}, headers=trader).status_code == 422
    assert client.get(f"{API}/lots", query_string={"page": 10**15}, headers=trader).status_code == 422
    assert client.get(f"{API}/lots", query_string={"lat": 44}, headers=trader).status_code == 422


def test_lots_past_their_end_are_not_listed(client, login_as, make_user, make_farm, make_lot, db):
    lot = make_lot(make_farm(make_user("producer")))
    lot.available_until = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    db.session.commit()
    _, trader = login_as("trader")
    assert client.get(f"{API}/lots", headers=trader).json == []


def test_openapi_and_health(client):
    spec = client.get(f"{API}/openapi.json")
    assert spec.status_code == 200
    assert "/api/v1/lots/{lot_id}" in spec.json["paths"]
    assert client.get("/healthz").json == {"status": "ok", "database": True}


def test_strangers_learn_nothing_from_validation(client, login_as):
    """Anonymous callers get 401 and wrong roles 403 before their body is even read."""
    assert client.post(f"{API}/lots", json={}).status_code == 401
    assert client.post(f"{API}/farms", json={"name": 1}).status_code == 401
    _, trader = login_as("trader")
    assert client.post(f"{API}/lots", json={}, headers=trader).status_code == 403
    assert client.post(f"{API}/farms", json={}, headers=trader).status_code == 403
