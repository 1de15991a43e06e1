"""POST /lots/{id}/stock: one-tap stock steps from phones, counted once when retried."""
from decimal import Decimal

from exchange.domain import lots
from exchange.models import Lot, StockMovement

API = "/api/v1"


def _lot(db, lot_id):
    return db.session.get(Lot, lot_id, populate_existing=True)


def test_a_retried_step_with_the_same_key_counts_once(client, login_as, make_farm, make_lot, db):
    producer, headers = login_as("producer")
    lot = make_lot(make_farm(producer), quantity=10)
    step = {"json": {"delta": -1}, "headers": headers | {"Idempotency-Key": "tap-1"}}
    first = client.post(f"{API}/lots/{lot.id}/stock", **step)
    again = client.post(f"{API}/lots/{lot.id}/stock", **step)
    assert first.status_code == again.status_code == 200
    assert first.json["quantity_available"] == again.json["quantity_available"] == 9
    assert client.post(f"{API}/lots/{lot.id}/stock", json={"delta": -1},
                       headers=headers | {"Idempotency-Key": "tap-2"}).json["quantity_available"] == 8
    assert _lot(db, lot.id).quantity_offered == Decimal(8)
    keys = db.session.scalars(db.select(StockMovement.request_key).where(StockMovement.reason == "adjusted")).all()
    assert sorted(keys) == ["tap-1", "tap-2"]


def test_a_step_applies_to_the_stock_as_it_is_when_it_arrives(client, login_as, make_farm, make_lot, db):
    producer, headers = login_as("producer")
    lot = make_lot(make_farm(producer), quantity=10)
    # Meanwhile the stock changed (another device, or a reservation): the step is relative to that.
    lots.update_lot(producer, lot.id, {"quantity_available": Decimal(4)})
    r = client.post(f"{API}/lots/{lot.id}/stock", json={"delta": 5}, headers=headers)
    assert r.json["quantity_available"] == 9
    r = client.post(f"{API}/lots/{lot.id}/stock", json={"delta": -50}, headers=headers)
    assert (r.json["quantity_available"], r.json["status"]) == (0, "sold_out")  # never below zero
    r = client.post(f"{API}/lots/{lot.id}/stock", json={"delta": 2}, headers=headers)
    assert (r.json["quantity_available"], r.json["status"]) == (2, "published")
    r = client.post(f"{API}/lots/{lot.id}/stock", json={"quantity_available": 0}, headers=headers)
    assert (r.json["quantity_available"], r.json["status"]) == (0, "sold_out")


def test_steps_are_refused_for_closed_lots_others_lots_and_bad_bodies(client, login_as, make_farm, make_lot):
    producer, headers = login_as("producer")
    lot = make_lot(make_farm(producer))
    _, other = login_as("producer")
    assert client.post(f"{API}/lots/{lot.id}/stock", json={"delta": 1}, headers=other).status_code == 403
    _, trader = login_as("trader")
    assert client.post(f"{API}/lots/{lot.id}/stock", json={"delta": 1}, headers=trader).status_code == 403
    for body in ({}, {"delta": 0}, {"delta": 1, "quantity_available": 3}, {"delta": "x"}, {"quantity_available": -1}):
        assert client.post(f"{API}/lots/{lot.id}/stock", json=body, headers=headers).status_code == 422, body
    assert client.post(f"{API}/lots/{lot.id}/stock", json={"delta": 1},
                       headers=headers | {"Idempotency-Key": "k" * 81}).status_code == 400
    client.delete(f"{API}/lots/{lot.id}", headers=headers)
    r = client.post(f"{API}/lots/{lot.id}/stock", json={"delta": 1}, headers=headers)
    assert r.status_code == 409 and r.json["error"] == "lot_closed"
    assert client.post(f"{API}/lots/999999/stock", json={"delta": 1}, headers=headers).status_code == 404
