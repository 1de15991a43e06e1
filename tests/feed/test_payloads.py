"""Feed payloads are built without marshmallow: they must stay exactly the API schemas' dumps."""
import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from exchange.api.schemas import LotOut, ReservationOut
from exchange.domain import reservations
from exchange.extensions import db
from exchange.feed import publish
from exchange.models import FeedEvent, Lot, Reservation

UTC = dt.timezone.utc
OPEN_EVERY_DAY = {day: ["00:00-23:59"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def lot_dump(lot):
    return LotOut().dump(lot)


def reservation_dump(reservation):
    return ReservationOut(exclude=("pickup_code",)).dump(reservation)


@pytest.fixture
def lots(login_as, make_farm, make_lot):
    producer, _ = login_as("producer")
    farm = make_farm(producer, pickup_hours=OPEN_EVERY_DAY, pickup_instructions="Sonnez à la grange.")
    plain = make_farm(producer, name="Ferme sans horaires")
    return [make_lot(farm, quantity="12.345", min_order="0.5", labels=["bio", "aop"], description="Cœur de bœuf"),
            make_lot(farm, quantity=3),
            make_lot(plain, quantity=7, available_from=dt.datetime.now(UTC) + dt.timedelta(hours=1))]


def test_lot_payload_is_the_lot_schema_dump(lots):
    for lot in lots:
        fresh = db.session.get(Lot, lot.id, populate_existing=True)
        assert publish.lot_payload(fresh) == lot_dump(fresh)
        assert set(publish.lot_payload(fresh)) == set(LotOut().fields) - {"distance_km"}


def test_reservation_payload_is_the_reservation_schema_dump(lots, make_trader):
    trader, other = make_trader(), make_trader(base=None)
    soon = dt.datetime.now(UTC) + dt.timedelta(hours=2)
    made = [reservations.reserve(lots[0].id, trader, Decimal("1.5"), pickup_at=soon),
            reservations.reserve(lots[1].id, other, 1),
            reservations.reserve(lots[2].id, trader, 2, idempotency_key="k-1")]
    reservations.decline(made[1].id, lots[1].farm.owner)
    for reservation in made:
        fresh = db.session.get(Reservation, reservation.id, populate_existing=True)
        assert publish.reservation_payload(fresh) == reservation_dump(fresh)
    assert fresh.pickup_at is None and made[0].pickup_at is not None
    assert db.session.get(Reservation, made[1].id).closed_at is not None


def test_recorded_events_carry_the_dumps_as_they_were_and_consecutive_numbers(lots, make_trader):
    trader = make_trader()
    last = db.session.scalar(select(db.func.max(FeedEvent.seq)))
    reservation = reservations.reserve(lots[1].id, trader, 3)  # the whole lot: sold out
    events = db.session.scalars(select(FeedEvent).where(FeedEvent.seq > last).order_by(FeedEvent.seq)).all()
    assert [(e.seq, e.kind, e.type) for e in events] == [(last + 1, "lot", "sold_out"),
                                                         (last + 2, "reservation", "created")]
    lot = db.session.get(Lot, lots[1].id, populate_existing=True)
    assert events[0].payload == {"lot": lot_dump(lot)}
    fresh = db.session.get(Reservation, reservation.id, populate_existing=True)
    assert events[1].payload == {"reservation": reservation_dump(fresh)}
    assert events[1].recipient_ids == sorted({lot.farm.owner_id, trader.id})


def test_a_rolled_back_transaction_records_nothing_and_takes_no_number(lots):
    last = db.session.scalar(select(db.func.max(FeedEvent.seq)))
    publish.lot_event(db.session.get(Lot, lots[0].id), "updated")
    db.session.rollback()
    db.session.commit()
    assert db.session.scalar(select(db.func.max(FeedEvent.seq))) == last
    publish.lot_event(db.session.get(Lot, lots[0].id), "updated")
    db.session.commit()
    assert db.session.scalar(select(db.func.max(FeedEvent.seq))) == last + 1


@pytest.fixture
def delivered(app):
    """The events handed to delivery after each commit, as a client would receive them (JSON)."""
    seen = []
    previous = app.extensions[publish.DELIVERY_KEY]
    app.extensions[publish.DELIVERY_KEY] = lambda events: seen.extend(json.loads(json.dumps(events)))
    yield seen
    app.extensions[publish.DELIVERY_KEY] = previous


def test_a_reservation_delivers_the_events_it_stored(lots, make_trader, delivered):
    """What a client receives live is what a replay would send it."""
    trader = make_trader()
    last = db.session.scalar(select(db.func.max(FeedEvent.seq)))
    reservations.reserve(lots[0].id, trader, Decimal("1.5"))  # 12.345 offered: 10.845 left, still on offer
    reservations.reserve(lots[1].id, trader, 3)  # the whole lot: sold out
    stored = db.session.scalars(select(FeedEvent).where(FeedEvent.seq > last).order_by(FeedEvent.seq)).all()
    assert [(e.kind, e.type) for e in stored] == [("lot", "reserved"), ("reservation", "created"),
                                                  ("lot", "sold_out"), ("reservation", "created")]
    assert [e["seq"] for e in delivered] == [e.seq for e in stored] == list(range(last + 1, last + 5))
    for sent, kept in zip(delivered, stored):
        assert (sent["kind"], sent["type"], sent["lot_id"], sent["reservation_id"], sent["recipient_ids"]) == (
            kept.kind, kept.type, kept.lot_id, kept.reservation_id, kept.recipient_ids)
        assert sent["payload"] == kept.payload
        # As JSON too: a replayed event reads as the live one did (3.0, not 3; keys aside, JSON objects have no order).
        assert json.dumps(sent["payload"], sort_keys=True) == json.dumps(kept.payload, sort_keys=True)
    assert delivered[0]["payload"]["lot"]["quantity_available"] == 10.845
    assert delivered[2]["payload"]["lot"]["status"] == "sold_out"
    for sent in delivered[1::2]:
        held = db.session.get(Reservation, sent["reservation_id"], populate_existing=True)
        assert sent["payload"] == {"reservation": reservation_dump(held)}
