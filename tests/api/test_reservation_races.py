"""Many traders racing for the same lot, over HTTP requests in real threads: never oversold, never a 500.

On SQLite the database is a file in WAL mode with a busy timeout (see models/sqlite.py); on PostgreSQL
(TEST_DATABASE_URL) every request has its own connection. Each thread has its own test client, and
each request its own app context and database session, as with a threaded server.
"""
import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from exchange.domain.integrity import check_integrity
from exchange.models import Lot, Reservation

API = "/api/v1"
THREADS = 60


@pytest.fixture
def app_config():
    # Enough connections that threads really meet in the database rather than queue for the pool.
    return {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 20, "max_overflow": 50, "pool_timeout": 60}}


@pytest.fixture
def crowd(login_as, make_farm, make_lot, make_user, token_for):
    producer, producer_headers = login_as("producer")
    farm = make_farm(producer)
    traders = [make_user("trader", base={"postcode": "46000"}) for _ in range(THREADS)]
    return producer_headers, farm, make_lot, [token_for(t) for t in traders]


def race(app, calls):
    """Run each call in its own thread, all released at once; return what each answered."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        client = app.test_client()
        barrier.wait()
        return call(client)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def held_total(db, lot_id):
    return db.session.scalar(select(func.coalesce(func.sum(Reservation.quantity), 0))
                             .where(Reservation.lot_id == lot_id, Reservation.status == "pending"))


def test_sixty_traders_for_twenty_five_units(app, db, crowd):
    _, farm, make_lot, trader_headers = crowd
    lot = make_lot(farm, quantity=25)
    url = f"{API}/lots/{lot.id}/reservations"  # threads must not touch the test's ORM objects

    def reserve_one(headers):
        return lambda client: client.post(url, json={"quantity": 1}, headers=headers)

    answers = race(app, [reserve_one(h) for h in trader_headers])
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {201: 25, 409: 35}, statuses
    assert all(r.json["error"] == "stock_short" for r in answers if r.status_code == 409)
    db.session.expire_all()
    lot = db.session.get(Lot, lot.id)
    assert lot.quantity_available == 0 and lot.status == "sold_out"
    assert db.session.scalar(select(func.count()).where(Reservation.lot_id == lot.id)) == 25
    assert check_integrity() == []


def test_mixed_quantities_never_oversell(app, db, crowd):
    _, farm, make_lot, trader_headers = crowd
    lot = make_lot(farm, quantity=Decimal("47.5"))
    url = f"{API}/lots/{lot.id}/reservations"
    rng = random.Random(5)
    quantities = [rng.choice([0.5, 1, 1.25, 2, 3, 5]) for _ in trader_headers]

    def reserve(headers, quantity):
        return lambda client: client.post(url, json={"quantity": quantity}, headers=headers)

    answers = race(app, [reserve(h, q) for h, q in zip(trader_headers, quantities)])
    assert {r.status_code for r in answers} <= {201, 409}
    taken = sum(Decimal(str(q)) for r, q in zip(answers, quantities) if r.status_code == 201)
    assert 0 < taken <= Decimal("47.5")
    db.session.expire_all()
    assert db.session.get(Lot, lot.id).quantity_available == Decimal("47.5") - taken
    assert held_total(db, lot.id) == taken
    # Every refusal was right when it was made: nothing left could have served it... at least at the end.
    left = Decimal("47.5") - taken
    assert all(Decimal(str(q)) > left for r, q in zip(answers, quantities) if r.status_code == 409)
    assert check_integrity() == []


def test_concurrent_retries_with_one_key_make_one_reservation(app, db, crowd):
    _, farm, make_lot, trader_headers = crowd
    lot = make_lot(farm, quantity=100)
    url = f"{API}/lots/{lot.id}/reservations"
    headers = trader_headers[0] | {"Idempotency-Key": "order-2026-11-27-0001"}

    def retry(client):
        return client.post(url, json={"quantity": 3}, headers=headers)

    answers = race(app, [retry] * 30)
    assert {r.status_code for r in answers} == {201}
    assert len({r.json["id"] for r in answers}) == 1
    assert len({r.json["pickup_code"] for r in answers}) == 1
    db.session.expire_all()
    assert db.session.get(Lot, lot.id).quantity_available == 97
    assert db.session.scalar(select(func.count()).select_from(Reservation)) == 1
    assert check_integrity() == []


def test_confirm_decline_and_cancel_racing_on_the_same_holds(app, db, crowd):
    producer_headers, farm, make_lot, trader_headers = crowd
    lot = make_lot(farm, quantity=20)
    client = app.test_client()
    made = [client.post(f"{API}/lots/{lot.id}/reservations", json={"quantity": 2}, headers=h).json
            for h in trader_headers[:10]]
    calls = []
    for res, headers in zip(made, trader_headers):
        for action, who in (("confirm", producer_headers), ("decline", producer_headers), ("cancel", headers)):
            calls.append(lambda client, rid=res["id"], a=action, w=who: (
                rid, a, client.post(f"{API}/reservations/{rid}/{a}", headers=w)))
    answers = race(app, calls)
    assert {r.status_code for _, _, r in answers} <= {200, 409}
    # Per hold, exactly one of confirm / decline / cancel takes the pending hold; only a confirmed one may
    # then be cancelled. A cancel that saw "pending" but lost to a confirm answers 409, so {confirm} is possible.
    possible = ({"confirm"}, {"confirm", "cancel"}, {"decline"}, {"cancel"})
    db.session.expire_all()
    for res in made:
        won = {a for rid, a, r in answers if rid == res["id"] and r.status_code == 200}
        assert won in possible, won
        final = {"confirm": "confirmed", "decline": "declined", "cancel": "cancelled"}
        expected = "cancelled" if "cancel" in won else final[won.pop()]
        assert db.session.get(Reservation, res["id"]).status == expected
    confirmed = db.session.scalar(select(func.coalesce(func.sum(Reservation.quantity), 0))
                                  .where(Reservation.lot_id == lot.id, Reservation.status == "confirmed"))
    assert db.session.get(Lot, lot.id).quantity_available == 20 - confirmed
    assert check_integrity() == []
