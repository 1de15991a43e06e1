"""Reservations over the API: holding stock, every transition and every forbidden one, codes, idempotency."""
import datetime as dt
import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
import segno
from sqlalchemy import select

from exchange.domain import reservations
from exchange.domain.integrity import check_integrity
from exchange.domain.pickup import PARIS
from exchange.models import FeedEvent, Lot, Reservation, StockMovement

API = "/api/v1"
UTC = dt.timezone.utc


@pytest.fixture
def market(login_as, make_farm, make_lot, make_trader, token_for):
    producer, producer_headers = login_as("producer")
    farm = make_farm(producer)
    lot = make_lot(farm, quantity=30)
    trader = make_trader()
    return SimpleNamespace(producer=producer, producer_headers=producer_headers, farm=farm, lot=lot,
                           trader=trader, trader_headers=token_for(trader), make_lot=make_lot,
                           other_trader_headers=token_for(make_trader()))


def reserve(client, m, quantity=5, lot=None, headers=None, **body):
    return client.post(f"{API}/lots/{(lot or m.lot).id}/reservations", json={"quantity": quantity} | body,
                       headers=headers or m.trader_headers)


def act(client, m, reservation_id, action, headers=None, **body):
    who = m.trader_headers if action == "cancel" else m.producer_headers
    return client.post(f"{API}/reservations/{reservation_id}/{action}", json=body or None, headers=headers or who)


def lot_row(db, lot_id) -> Lot:
    return db.session.get(Lot, lot_id, populate_existing=True)


def test_reserve_confirm_collect(client, market, db):
    m = market
    r = reserve(client, m, 5)
    assert r.status_code == 201, r.json
    res = r.json
    assert res["status"] == "pending" and res["quantity"] == 5 and res["price_cents"] == 280
    code = res["pickup_code"]
    assert len(code) == 6 and not set(code) & set("01OIL")
    assert res["distance_km"] is not None and res["distance_km"] < 5  # farm and base both in Cahors
    hold = dt.datetime.fromisoformat(res["hold_expires_at"]) - dt.datetime.fromisoformat(res["created_at"])
    assert hold == dt.timedelta(minutes=30)
    assert lot_row(db, m.lot.id).quantity_available == 25

    # The producer sees the reservation but never its code; the trader does.
    r = client.get(f"{API}/reservations/{res['id']}", headers=m.producer_headers)
    assert r.status_code == 200 and "pickup_code" not in r.json and r.json["trader"]["id"] == m.trader.id
    r = client.get(f"{API}/reservations", headers=m.producer_headers)
    assert [x["id"] for x in r.json] == [res["id"]] and "pickup_code" not in r.json[0]
    assert client.get(f"{API}/reservations/{res['id']}", headers=m.trader_headers).json["pickup_code"] == code

    r = act(client, m, res["id"], "confirm")
    assert r.status_code == 200 and r.json["status"] == "confirmed" and "pickup_code" not in r.json
    r = act(client, m, res["id"], "collect", code="ZZZZZZ" if code != "ZZZZZZ" else "YYYYYY")
    assert r.status_code == 422 and r.json["error"] == "wrong_pickup_code" and r.json["attempts_left"] == 4
    r = act(client, m, res["id"], "collect", code=code.lower()[:3] + " " + code.lower()[3:])  # as typed on a phone
    assert r.status_code == 200 and r.json["status"] == "collected" and r.json["closed_at"]

    history = client.get(f"{API}/reservations/{res['id']}", headers=m.trader_headers).json["transitions"]
    assert [(t["from_status"], t["to_status"], t["actor_id"]) for t in history] == [
        (None, "pending", m.trader.id), ("pending", "confirmed", m.producer.id),
        ("confirmed", "collected", m.producer.id)]
    assert lot_row(db, m.lot.id).quantity_available == 25  # collected goods stay taken
    assert check_integrity() == []

    events = db.session.scalars(select(FeedEvent).order_by(FeedEvent.seq)).all()
    assert [(e.kind, e.type) for e in events] == [
        ("lot", "published"), ("lot", "reserved"), ("reservation", "created"), ("reservation", "confirmed"),
        ("reservation", "collected")]
    assert set(events[2].recipient_ids) == {m.producer.id, m.trader.id}
    assert all("pickup_code" not in json.dumps(e.payload) for e in events)
    assert events[1].payload["lot"]["quantity_available"] == 25


# Which actions each state allows; every other pair must answer 409.
ALLOWED = {"pending": {"confirm", "decline", "cancel"}, "confirmed": {"cancel", "collect"}}
STATES = ["pending", "confirmed", "collected", "declined", "cancelled", "expired", "no_show"]


def put_in_state(m, state: str) -> Reservation:
    """A reservation brought to `state` through the real transitions (expiry and no-show on a moved clock)."""
    now = dt.datetime.now(UTC)
    res = reservations.reserve(m.lot.id, m.trader, Decimal(2))
    if state == "expired":
        assert reservations.expire_holds(now + dt.timedelta(hours=1)) == 1
    elif state in ("declined", "cancelled"):
        (reservations.decline if state == "declined" else reservations.cancel)(
            res.id, m.producer if state == "declined" else m.trader)
    elif state != "pending":
        reservations.confirm(res.id, m.producer)
        if state == "collected":
            reservations.collect(res.id, m.producer, res.pickup_code)
        elif state == "no_show":
            assert reservations.mark_no_shows(now + dt.timedelta(days=5)) == 1
    res = reservations._load(res.id)
    assert res.status == state
    return res


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", ["confirm", "decline", "cancel", "collect"])
def test_every_transition_and_every_forbidden_one(client, market, db, state, action):
    res = put_in_state(market, state)
    code = res.pickup_code
    before = lot_row(db, market.lot.id).quantity_available
    r = act(client, market, res.id, action, **({"code": code} if action == "collect" else {}))
    if action in ALLOWED.get(state, ()):
        assert r.status_code == 200, r.json
        expected = {"confirm": "confirmed", "decline": "declined", "cancel": "cancelled", "collect": "collected"}
        assert r.json["status"] == expected[action]
        gives_back = action in ("decline", "cancel")
        assert lot_row(db, market.lot.id).quantity_available == before + (2 if gives_back else 0)
    else:
        assert r.status_code == 409, r.json
        assert r.json["error"] == "invalid_transition" and r.json["reservation_status"] == state
        assert lot_row(db, market.lot.id).quantity_available == before
    assert check_integrity() == []


def test_every_ending_gives_the_quantity_back(client, market, db):
    m = market
    for state in ("declined", "cancelled", "expired", "no_show"):
        put_in_state(m, state)
    collected = put_in_state(m, "collected")
    lot = lot_row(db, m.lot.id)
    assert lot.quantity_available == 28  # only the collected 2 are gone
    moves = db.session.scalars(select(StockMovement.reason).where(StockMovement.lot_id == lot.id)
                               .order_by(StockMovement.id)).all()
    assert sorted(set(moves)) == ["hold_cancelled", "hold_declined", "hold_expired", "hold_no_show", "posted",
                                  "reserved"]
    assert db.session.get(Reservation, collected.id).closed_at is not None
    assert check_integrity() == []


def test_the_last_units_sell_the_lot_out_and_a_cancel_puts_it_back(client, market, db):
    m = market
    first = reserve(client, m, 30).json
    lot = lot_row(db, m.lot.id)
    assert lot.status == "sold_out" and lot.quantity_available == 0
    r = reserve(client, m, 1, headers=m.other_trader_headers)
    assert r.status_code == 409 and r.json["error"] == "stock_short" and r.json["quantity_available"] == 0
    assert act(client, m, first["id"], "cancel").status_code == 200
    lot = lot_row(db, m.lot.id)
    assert lot.status == "published" and lot.quantity_available == 30
    lot_types = db.session.scalars(select(FeedEvent.type).where(FeedEvent.kind == "lot").order_by(FeedEvent.seq))
    assert list(lot_types) == ["published", "sold_out", "published"]


def test_short_stock_and_minimum_order_are_409_with_a_clear_message(client, market, db):
    m = market
    r = reserve(client, m, 31)
    assert r.status_code == 409 and r.json["error"] == "stock_short"
    assert r.json["quantity_available"] == 30 and "Stock insuffisant" in r.json["message"] and "30" in r.json["message"]
    small = m.make_lot(m.farm, quantity=12, min_order=Decimal(5))
    r = reserve(client, m, 4, lot=small)
    assert r.status_code == 409 and r.json["error"] == "under_min_order" and r.json["min_order"] == 5
    assert reserve(client, m, 9, lot=small).status_code == 201
    # The last 3 are under the minimum but are the whole remainder: they can be taken.
    assert reserve(client, m, 3, lot=small).status_code == 201
    assert lot_row(db, small.id).status == "sold_out"
    for bad in (0, -1, "two", 1.0001):
        assert reserve(client, m, bad).status_code == 422


def test_closed_lots_cannot_be_reserved(client, market, db):
    m = market
    assert client.delete(f"{API}/lots/{m.lot.id}", headers=m.producer_headers).status_code == 204
    r = reserve(client, m, 1)
    assert r.status_code == 409 and r.json["error"] == "lot_closed"
    past = m.make_lot(m.farm)
    db.session.execute(Lot.__table__.update().where(Lot.id == past.id).values(
        available_until=dt.datetime.now(UTC) - dt.timedelta(minutes=1)))
    db.session.commit()
    r = reserve(client, m, 1, lot=past)
    assert r.status_code == 409 and r.json["error"] == "lot_closed"
    assert client.post(f"{API}/lots/99999/reservations", json={"quantity": 1},
                       headers=m.trader_headers).status_code == 404


def _next_weekday(weekday: int, hour: int) -> dt.datetime:
    today = dt.datetime.now(PARIS).date()
    day = today + dt.timedelta(days=(weekday - today.weekday()) % 7 or 7)
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=PARIS)


def test_pickup_time_must_fall_in_the_farms_hours_and_the_lots_window(client, market, make_farm, db):
    m = market
    farm = make_farm(m.producer, pickup_hours={"tue": ["08:00-12:00"]})
    lot = m.make_lot(farm, available_until=dt.datetime.now(UTC) + dt.timedelta(days=20))
    tuesday_9 = _next_weekday(1, 9)
    r = reserve(client, m, 1, lot=lot, pickup_at=tuesday_9.isoformat())
    assert r.status_code == 201 and dt.datetime.fromisoformat(r.json["pickup_at"]) == tuesday_9

    tuesday_14 = tuesday_9.replace(hour=14)
    r = reserve(client, m, 1, lot=lot, pickup_at=tuesday_14.isoformat())
    assert r.status_code == 422 and r.json["error"] == "pickup_unavailable" and "pickup_at" in r.json["errors"]
    assert dt.datetime.fromisoformat(r.json["next_slot"]) == tuesday_9.replace(hour=8) + dt.timedelta(days=7)

    r = reserve(client, m, 1, lot=lot, pickup_at=(tuesday_9 + dt.timedelta(days=35)).isoformat())
    assert r.status_code == 422 and r.json["errors"]["pickup_at"] == ["Outside the lot's availability window."]
    # Nothing after the asked time: the first slot from now on is offered instead (a Tuesday morning this week).
    offered = dt.datetime.fromisoformat(r.json["next_slot"]).astimezone(PARIS)
    assert offered.weekday() == 1 and 8 <= offered.hour < 12
    assert offered - dt.datetime.now(PARIS) <= dt.timedelta(days=7)
    assert reserve(client, m, 1, lot=lot, pickup_at="2030-01-01T10:00:00").status_code == 422  # no offset
    assert lot_row(db, lot.id).quantity_available == 29  # refusals took nothing


def test_a_retried_request_returns_the_same_reservation(client, market, db):
    m = market
    key = {"Idempotency-Key": "b4c8f0e2-retry-1"}
    first = reserve(client, m, 4, headers=m.trader_headers | key)
    again = reserve(client, m, 4, headers=m.trader_headers | key)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert lot_row(db, m.lot.id).quantity_available == 26
    r = reserve(client, m, 5, headers=m.trader_headers | key)
    assert r.status_code == 422 and r.json["error"] == "idempotency_key_reused"
    # Keys belong to a trader: another trader's identical key is another reservation.
    other = reserve(client, m, 4, headers=m.other_trader_headers | key)
    assert other.status_code == 201 and other.json["id"] != first.json["id"]
    assert reserve(client, m, 1, headers=m.trader_headers | {"Idempotency-Key": "x" * 81}).status_code == 422
    assert db.session.scalar(select(db.func.count()).select_from(Reservation)) == 2


def test_who_may_do_what(client, market, login_as, make_farm, token_for):
    m = market
    res = reserve(client, m, 2).json
    neighbour, other_producer = login_as("producer")
    make_farm(neighbour)
    _, chamber = login_as("chamber")
    assert reserve(client, m, 1, headers=m.producer_headers).status_code == 403
    assert reserve(client, m, "nonsense", headers=m.producer_headers).status_code == 403  # role before body
    assert client.post(f"{API}/lots/{m.lot.id}/reservations", json={"quantity": 1}).status_code == 401
    assert act(client, m, res["id"], "confirm", headers=m.trader_headers).status_code == 403
    assert act(client, m, res["id"], "cancel", headers=m.producer_headers).status_code == 403
    assert act(client, m, res["id"], "confirm", headers=other_producer).status_code == 404
    assert act(client, m, res["id"], "cancel", headers=m.other_trader_headers).status_code == 404
    assert client.get(f"{API}/reservations/{res['id']}", headers=m.other_trader_headers).status_code == 404
    assert client.get(f"{API}/reservations/{res['id']}", headers=other_producer).status_code == 404
    assert client.get(f"{API}/reservations", headers=other_producer).json == []
    assert client.get(f"{API}/reservations", headers=m.other_trader_headers).json == []
    assert client.get(f"{API}/reservations", headers=chamber).status_code == 403
    assert client.get(f"{API}/reservations").status_code == 401
    assert client.post(f"{API}/reservations/{res['id']}/collect", json={}, headers=m.producer_headers
                       ).status_code == 422


def test_the_qr_code_is_for_the_reserving_trader_only(client, market):
    m = market
    res = reserve(client, m, 2).json
    r = client.get(f"{API}/reservations/{res['id']}/qr.svg", headers=m.trader_headers)
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    assert r.headers["Cache-Control"] == "private, no-store"
    # Read the modules back from the drawing: they are the QR code of exactly this pickup code.
    drawn = _svg_dark_cells(r.data)
    assert drawn == _dark_cells(segno.make_qr(res["pickup_code"], error="m").matrix)
    assert drawn != _dark_cells(segno.make_qr(res["pickup_code"][::-1] + "X", error="m").matrix)
    assert client.get(f"{API}/reservations/{res['id']}/qr.svg", headers=m.producer_headers).status_code == 403
    assert client.get(f"{API}/reservations/{res['id']}/qr.svg", headers=m.other_trader_headers).status_code == 404


def _dark_cells(matrix) -> set[tuple[int, int]]:
    return {(x, y) for y, row in enumerate(matrix) for x, cell in enumerate(row) if cell}


def _svg_dark_cells(svg: bytes, border: int = 2) -> set[tuple[int, int]]:
    """Decode segno's path of horizontal runs (M x y, m dx dy, h n) into the dark modules it paints."""
    import re

    path = re.search(rb'<path[^>]* d="([^"]+)"', svg)[1].decode()
    x = y = 0.0
    cells = set()
    for command, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?:[ ,](-?[\d.]+))?", path):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:
            cells |= {(int(x) + i - border, int(y) - border) for i in range(int(a))}
            x += float(a)
    return cells


def test_listing_filters_by_status_and_pages(client, market):
    m = market
    ids = [reserve(client, m, 1).json["id"] for _ in range(3)]
    act(client, m, ids[0], "confirm")
    r = client.get(f"{API}/reservations?status=confirmed", headers=m.trader_headers)
    assert [x["id"] for x in r.json] == [ids[0]] and r.json[0]["pickup_code"]
    r = client.get(f"{API}/reservations?status=pending&page_size=1&page=2", headers=m.producer_headers)
    assert [x["id"] for x in r.json] == [ids[1]]
    assert json.loads(r.headers["X-Pagination"])["total"] == 2
    assert client.get(f"{API}/reservations?status=lost", headers=m.trader_headers).status_code == 422
    assert client.get(f"{API}/reservations?page_size=201", headers=m.trader_headers).status_code == 422


def test_wrong_codes_lock_collection_for_a_while(client, market, db):
    m = market
    res = put_in_state(m, "confirmed")
    wrong = "ZZZZZZ" if res.pickup_code != "ZZZZZZ" else "YYYYYY"
    answers = [act(client, m, res.id, "collect", code=wrong) for _ in range(5)]
    assert [a.status_code for a in answers] == [422, 422, 422, 422, 429]
    assert [a.json.get("attempts_left") for a in answers[:4]] == [4, 3, 2, 1]
    assert int(answers[4].headers["Retry-After"]) == 900
    r = act(client, m, res.id, "collect", code=res.pickup_code)
    assert r.status_code == 429  # even the right code waits: no guessing around the lock
    later = dt.datetime.now(UTC) + dt.timedelta(minutes=16)
    assert reservations.collect(res.id, m.producer, res.pickup_code, now=later).status == "collected"


def test_withdrawing_a_lot_declines_pending_holds_and_keeps_confirmed_ones(client, market, db):
    m = market
    pending = reserve(client, m, 3).json
    confirmed = reserve(client, m, 4).json
    act(client, m, confirmed["id"], "confirm")
    assert client.delete(f"{API}/lots/{m.lot.id}", headers=m.producer_headers).status_code == 204
    assert client.get(f"{API}/reservations/{pending['id']}", headers=m.trader_headers).json["status"] == "declined"
    lot = lot_row(db, m.lot.id)
    assert lot.status == "withdrawn" and lot.quantity_available == 26
    r = act(client, m, confirmed["id"], "collect", code=confirmed["pickup_code"])
    assert r.status_code == 200 and r.json["status"] == "collected"
    types = db.session.scalars(select(FeedEvent.type).order_by(FeedEvent.seq)).all()
    assert types[-3:] == ["declined", "withdrawn", "collected"]
    assert check_integrity() == []


def test_confirming_too_late_expires_the_hold(client, market, db):
    m = market
    res = reservations.reserve(m.lot.id, m.trader, Decimal(6))
    later = dt.datetime.now(UTC) + dt.timedelta(minutes=31)
    with pytest.raises(reservations.Conflict) as caught:
        reservations.confirm(res.id, m.producer, now=later)
    assert caught.value.code == "hold_expired"
    assert reservations._load(res.id).status == "expired"
    assert lot_row(db, m.lot.id).quantity_available == 30


def test_a_confirmed_reservation_cannot_be_cancelled_once_pickup_time_has_come(client, market, db):
    m = market
    res = put_in_state(m, "confirmed")
    later = m.lot.available_until + dt.timedelta(minutes=1)
    with pytest.raises(reservations.Conflict) as caught:
        reservations.cancel(res.id, m.trader, now=later)
    assert caught.value.code == "too_late_to_cancel"
    assert reservations.cancel(res.id, m.trader).status == "cancelled"


def test_the_reservation_answer_is_the_reservation_schema_dump(client, market, db, make_farm, make_lot):
    from exchange.api.reservations import shown_to
    from exchange.api.schemas import ReservationOut

    m = market
    open_every_day = {day: ["08:00-19:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    farm = make_farm(m.producer, pickup_hours=open_every_day, pickup_instructions="Cour de la ferme.")
    lot = make_lot(farm, quantity="12.5", min_order="0.5", labels=["organic"])
    pickup = (dt.datetime.now(PARIS) + dt.timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    answers = [reserve(client, m, "1.25", lot=lot, pickup_at=pickup.isoformat()),
               reserve(client, m, 2, headers=m.trader_headers | {"Idempotency-Key": "k-1"}),
               reserve(client, m, 2, headers=m.trader_headers | {"Idempotency-Key": "k-1"})]  # the replay
    assert [r.status_code for r in answers] == [201, 201, 201]
    for r in answers:
        stored = db.session.get(Reservation, r.json["id"], populate_existing=True)
        assert r.json == ReservationOut().dump(shown_to(m.trader, stored))
        assert r.json["pickup_code"] == stored.pickup_code
    assert answers[0].json["pickup_at"] is not None and answers[0].json["lot"]["farm"]["pickup_hours"]
