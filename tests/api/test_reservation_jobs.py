"""What happens without anyone acting, on a controlled clock: holds expire, lots close, no-shows; and integrity."""
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select, text, update

from exchange import jobs
from exchange.domain import reservations
from exchange.domain.integrity import check_integrity
from exchange.domain.pickup import PARIS
from exchange.extensions import db
from exchange.models import FeedEvent, Lot, Reservation, ReservationTransition

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 9, 7, 0, tzinfo=UTC)  # a Monday, 08:00 in Paris


@pytest.fixture
def scene(make_user, make_farm, make_lot, make_trader):
    producer = make_user("producer")
    farm = make_farm(producer, pickup_hours={"mon": ["08:00-12:00"], "wed": ["14:00-18:00"]})
    lot = make_lot(farm, quantity=40)
    # The lot's window, set on the controlled clock: from T0 for three days.
    move_window(lot.id, available_from=T0, available_until=T0 + dt.timedelta(days=3))
    return producer, farm, db.session.get(Lot, lot.id), make_trader()


def move_window(lot_id, **window):
    db.session.execute(update(Lot).where(Lot.id == lot_id).values(**window))
    db.session.commit()


def status_of(reservation_id):
    return reservations._load(reservation_id).status


def available(lot_id):
    return db.session.get(Lot, lot_id, populate_existing=True).quantity_available


def test_pending_holds_expire_after_the_hold_time_once(scene, app):
    producer, _, lot, trader = scene
    held = reservations.reserve(lot.id, trader, Decimal(5), now=T0)
    other = reservations.reserve(lot.id, trader, Decimal(2), now=T0 + dt.timedelta(minutes=10))
    assert held.hold_expires_at == T0 + dt.timedelta(minutes=app.config["HOLD_MINUTES"])
    assert reservations.expire_holds(T0 + dt.timedelta(minutes=29)) == 0
    assert available(lot.id) == 33
    assert reservations.expire_holds(T0 + dt.timedelta(minutes=30)) == 1
    assert reservations.expire_holds(T0 + dt.timedelta(minutes=30)) == 0  # idempotent: a re-run finds nothing
    assert (status_of(held.id), status_of(other.id)) == ("expired", "pending")
    assert available(lot.id) == 38
    last = reservations._load(held.id).transitions[-1]
    assert (last.from_status, last.to_status, last.actor_id) == ("pending", "expired", None)
    assert reservations.expire_holds(T0 + dt.timedelta(hours=2)) == 1
    assert available(lot.id) == 40 and check_integrity() == []


def test_a_hold_never_outlives_its_lot(scene):
    _, _, lot, trader = scene
    late = T0 + dt.timedelta(days=3) - dt.timedelta(minutes=10)
    held = reservations.reserve(lot.id, trader, Decimal(1), now=late)
    assert held.hold_expires_at == lot.available_until


def test_no_show_after_the_end_of_the_pickup_slot_plus_grace(scene, app):
    producer, _, lot, trader = scene
    wednesday_15 = dt.datetime(2026, 3, 11, 15, tzinfo=PARIS)
    res = reservations.reserve(lot.id, trader, Decimal(7), pickup_at=wednesday_15, now=T0)
    reservations.confirm(res.id, producer, now=T0 + dt.timedelta(minutes=5))
    grace = dt.timedelta(minutes=app.config["NO_SHOW_GRACE_MINUTES"])
    slot_end = dt.datetime(2026, 3, 11, 18, tzinfo=PARIS)
    assert reservations.mark_no_shows(wednesday_15 + grace + dt.timedelta(minutes=1)) == 0  # slot not over yet
    assert reservations.mark_no_shows(slot_end + grace - dt.timedelta(seconds=1)) == 0
    assert status_of(res.id) == "confirmed" and available(lot.id) == 33
    assert reservations.mark_no_shows(slot_end + grace) == 1
    assert reservations.mark_no_shows(slot_end + grace + dt.timedelta(hours=1)) == 0
    assert status_of(res.id) == "no_show" and available(lot.id) == 40
    assert check_integrity() == []


def test_without_a_pickup_time_the_trader_has_until_the_lot_ends(scene, app):
    producer, _, lot, trader = scene
    res = reservations.reserve(lot.id, trader, Decimal(3), now=T0)
    reservations.confirm(res.id, producer, now=T0)
    grace = dt.timedelta(minutes=app.config["NO_SHOW_GRACE_MINUTES"])
    assert reservations.mark_no_shows(lot.available_until + grace - dt.timedelta(minutes=1)) == 0
    assert reservations.mark_no_shows(lot.available_until + grace) == 1


def test_closing_a_lot_expires_its_pending_holds_and_keeps_confirmed_ones(scene):
    producer, _, lot, trader = scene
    pending = reservations.reserve(lot.id, trader, Decimal(4), now=T0)
    confirmed = reservations.reserve(lot.id, trader, Decimal(6), now=T0)
    reservations.confirm(confirmed.id, producer, now=T0)
    # The lot's end was moved earlier than the hold's: the closing job catches the hold.
    move_window(lot.id, available_until=T0 + dt.timedelta(minutes=15))
    assert reservations.close_expired_lots(T0 + dt.timedelta(minutes=14)) == 0
    assert reservations.close_expired_lots(T0 + dt.timedelta(minutes=15)) == 1
    assert reservations.close_expired_lots(T0 + dt.timedelta(minutes=16)) == 0
    lot = db.session.get(Lot, lot.id, populate_existing=True)
    assert lot.status == "expired" and lot.quantity_available == 34
    assert (status_of(pending.id), status_of(confirmed.id)) == ("expired", "confirmed")
    # The promised goods can still be collected after the listing closed.
    assert reservations.collect(confirmed.id, producer, confirmed.pickup_code, now=T0 + dt.timedelta(minutes=20)
                                ).status == "collected"
    events = db.session.execute(select(FeedEvent.kind, FeedEvent.type).order_by(FeedEvent.seq)).all()
    assert [tuple(e) for e in events[-3:]] == [("reservation", "expired"), ("lot", "expired"),
                                              ("reservation", "collected")]
    assert check_integrity() == []


def test_the_scheduled_jobs_are_registered_and_call_the_domain(scene):
    _, _, lot, trader = scene
    assert {"expire_holds", "close_expired_lots", "mark_no_shows"} <= set(jobs.JOBS)
    assert jobs.JOBS["expire_holds"].options == {"seconds": 60}
    held = reservations.reserve(lot.id, trader, Decimal(1), now=T0)
    # On the real clock both the hold and the lot (window ended in 2026-03) are long over.
    assert jobs.JOBS["expire_holds"].func() == 1
    assert jobs.JOBS["close_expired_lots"].func() == 1
    assert jobs.JOBS["mark_no_shows"].func() == 0
    assert status_of(held.id) == "expired"


def test_check_integrity_finds_a_lot_that_does_not_add_up(scene, app):
    producer, _, lot, trader = scene
    reservations.reserve(lot.id, trader, Decimal(5), now=T0)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["check-integrity"])
    assert ok.exit_code == 0 and "agree" in ok.output
    # Stock taken without a reservation or a movement: the invariant and the movements both catch it.
    db.session.execute(text("UPDATE lots SET quantity_available = quantity_available - 1000 WHERE id = :id"),
                       {"id": lot.id})
    db.session.commit()
    offenders = check_integrity()
    assert [o.lot_id for o in offenders] == [lot.id] and len(offenders[0].problems) == 2
    bad = runner.invoke(args=["check-integrity"])
    assert bad.exit_code == 1 and f"lot {lot.id}:" in bad.output
    assert "34.000 + held 5.000 != offered 40.000" in bad.output


def test_transitions_are_all_recorded(scene):
    producer, _, lot, trader = scene
    res = reservations.reserve(lot.id, trader, Decimal(2), now=T0)
    reservations.confirm(res.id, producer, now=T0)
    reservations.cancel(res.id, trader, now=T0 + dt.timedelta(minutes=1))
    rows = db.session.scalars(select(ReservationTransition).where(ReservationTransition.reservation_id == res.id)
                              .order_by(ReservationTransition.id)).all()
    assert [(r.from_status, r.to_status, r.actor_id, r.at) for r in rows] == [
        (None, "pending", trader.id, T0), ("pending", "confirmed", producer.id, T0),
        ("confirmed", "cancelled", trader.id, T0 + dt.timedelta(minutes=1))]
    assert db.session.get(Reservation, res.id).closed_at == T0 + dt.timedelta(minutes=1)


def test_the_jobs_changes_reach_the_traders_feed(make_user, make_farm, make_lot, make_trader, feed_client):
    producer = make_user("producer")
    lot = make_lot(make_farm(producer), quantity=10)
    trader = make_trader()
    feed = feed_client(trader)
    held = reservations.reserve(lot.id, trader, Decimal(4))
    later = held.hold_expires_at + dt.timedelta(seconds=1)
    assert reservations.expire_holds(later) == 1
    events = feed.wait_for("reservation", 2)
    assert [(e["type"], e["reservation"]["id"], e["reservation"]["status"]) for e in events] == [
        ("created", held.id, "pending"), ("expired", held.id, "expired")]
    assert all("pickup_code" not in e["reservation"] for e in events)
