"""Reserve writes the hold before it takes the stock: a lot changed in between still gets a consistent hold."""
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import event, select, update

from exchange.domain import reservations
from exchange.domain.errors import Conflict, InvalidInput
from exchange.domain.integrity import check_integrity
from exchange.extensions import db
from exchange.models import FeedCounter, FeedEvent, Lot, Reservation, StockMovement
from tests.conftest import PG_URL

UTC = dt.timezone.utc


def after_our_read(change):
    """A do_orm_execute hook: `change` (another writer, simulated in our transaction) lands once, right after
    reserve's read of the lot; what reserve then writes follows from that read, and the take finds the lot changed."""
    done = []

    def hook(state):
        if done or not state.is_select or state.statement.column_descriptions[0]["entity"] is not Lot:
            return None
        done.append(True)
        read = state.invoke_statement().freeze()
        change(state.session)
        return read()

    return hook, done


def feed_counter(session) -> int:
    return session.execute(select(FeedCounter.last_seq)).scalar_one()


def test_a_lot_repriced_and_shortened_between_read_and_update_gives_the_hold_its_new_price_and_window(
        app, login_as, make_farm, make_lot, make_trader):
    producer, _ = login_as("producer")
    lot = make_lot(make_farm(producer), quantity=10, price_cents=300)
    trader = make_trader()
    soon = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(minutes=10)
    session = db.session()
    # On PostgreSQL the take, which requires the price and window as read, then takes nothing and the lot is taken
    # as it is now; on SQLite the hold written from the read is corrected from what the take answers.
    hook, done = after_our_read(lambda s: s.execute(update(Lot).where(Lot.id == lot.id)
                                                    .values(price_cents=450, available_until=soon)
                                                    .execution_options(synchronize_session=False)))
    event.listen(session, "do_orm_execute", hook)
    try:
        reservation = reservations.reserve(lot.id, trader, 2)
    finally:
        event.remove(session, "do_orm_execute", hook)
    assert done
    stored = db.session.get(Reservation, reservation.id, populate_existing=True)
    assert stored.price_cents == 450
    assert stored.hold_expires_at == soon
    assert db.session.get(Lot, lot.id, populate_existing=True).quantity_available == Decimal(8)
    events = db.session.scalars(select(FeedEvent).where(FeedEvent.reservation_id == reservation.id)).all()
    assert [e.payload["reservation"]["price_cents"] for e in events] == [450]
    assert check_integrity() == []


def test_a_refused_reservation_leaves_no_hold_behind_and_takes_no_feed_number(
        app, login_as, make_farm, make_lot, make_trader):
    producer, _ = login_as("producer")
    lot = make_lot(make_farm(producer), quantity=3)
    trader = make_trader()
    session = db.session()
    before = feed_counter(session)
    # Someone takes the stock after our read: the take finds too little, and nothing of ours is written.
    hook, done = after_our_read(lambda s: s.execute(update(Lot).where(Lot.id == lot.id).values(quantity_available=1)
                                                    .execution_options(synchronize_session=False)))
    event.listen(session, "do_orm_execute", hook)
    try:
        with pytest.raises(Conflict) as refused:
            reservations.reserve(lot.id, trader, 2)
    finally:
        event.remove(session, "do_orm_execute", hook)
    assert done
    assert refused.value.code == "stock_short"
    assert db.session.query(Reservation).count() == 0
    assert db.session.query(StockMovement).filter_by(reason="reserved").count() == 0
    assert feed_counter(db.session()) == before  # no event numbered: the feed has no gap
    # Nothing taken by us: the lot holds what the other writer left. (That write ran in our transaction: on SQLite
    # the rollback of the hold written before the update undoes it too; on PostgreSQL it committed, nothing of ours.)
    assert db.session.get(Lot, lot.id, populate_existing=True).quantity_available in (Decimal(1), Decimal(3))


def original_not_committed_at_first(monkeypatch) -> list:
    """reserve's first look for an Idempotency-Key finds nothing (its original had not committed yet), the later
    ones find what is there; answers the keys looked for."""
    real_by_key, calls = reservations._by_key, []

    def by_key(trader_id, key):
        calls.append(key)
        return None if len(calls) == 1 else real_by_key(trader_id, key)

    monkeypatch.setattr(reservations, "_by_key", by_key)
    return calls


def test_a_retry_that_finds_the_lot_sold_out_by_its_own_original_answers_the_original(
        app, login_as, make_farm, make_lot, make_trader, monkeypatch):
    producer, _ = login_as("producer")
    lot = make_lot(make_farm(producer), quantity=4)
    trader = make_trader()
    original = reservations.reserve(lot.id, trader, 4, idempotency_key="crate-1")  # sells the lot out
    # The retry's first look for its key comes before the original's commit; its read of the lot after it.
    calls = original_not_committed_at_first(monkeypatch)
    again = reservations.reserve(lot.id, trader, 4, idempotency_key="crate-1")
    assert again.id == original.id and len(calls) == 2
    assert db.session.query(Reservation).count() == 1


@pytest.mark.parametrize("quantity, lot_fields, code", [(5, {"quantity": 3}, "stock_short"),
                                                        (1, {"quantity": 3, "status": "withdrawn"}, "lot_closed")])
def test_a_refusal_ends_its_transaction_without_a_rollback(app, login_as, make_farm, make_lot, make_trader,
                                                            quantity, lot_fields, code):
    """A refusal writes nothing and commits: psycopg drops every statement it has prepared on a connection at each
    ROLLBACK of a transaction that ran something, which the request's teardown would otherwise do."""
    producer, _ = login_as("producer")
    lot_fields = dict(lot_fields)
    status = lot_fields.pop("status", None)
    lot = make_lot(make_farm(producer), **lot_fields)
    if status:
        lot.status = status
    trader = make_trader()
    db.session.commit()
    rollbacks = []

    def rolled_back(connection):
        rollbacks.append(connection)

    event.listen(db.engine, "rollback", rolled_back)
    try:
        with pytest.raises(Conflict) as refused:
            reservations.reserve(lot.id, trader, quantity)
        assert not db.session().in_transaction()
        db.session.remove()  # the request's teardown
    finally:
        event.remove(db.engine, "rollback", rolled_back)
    assert refused.value.code == code
    assert rollbacks == []


def test_reserving_changes_only_the_lots_stock_status_and_update_time(app, login_as, make_farm, make_lot,
                                                                      make_trader):
    producer, _ = login_as("producer")
    lot = make_lot(make_farm(producer), quantity=2, price_cents=350, min_order="0.5")
    table = Lot.__table__

    def row():
        return dict(db.session.execute(table.select().where(table.c.id == lot.id)).one()._mapping)

    before = row()
    reservations.reserve(lot.id, make_trader(), 2)
    after = row()
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"quantity_available", "status", "updated_at"}
    assert (after["quantity_available"], after["status"]) == (Decimal(0), "sold_out")


def test_a_retry_that_loses_the_race_for_its_key_answers_the_original(
        app, login_as, make_farm, make_lot, make_trader, monkeypatch):
    """The original commits between the retry's look for its key and its write: the write breaks the key's
    uniqueness (in the round trip that takes the stock on PostgreSQL), nothing of the retry stays, and the
    original is the answer."""
    producer, _ = login_as("producer")
    lot = make_lot(make_farm(producer), quantity=10)
    trader = make_trader()
    original = reservations.reserve(lot.id, trader, 2, idempotency_key="crate-7")
    calls = original_not_committed_at_first(monkeypatch)
    again = reservations.reserve(lot.id, trader, 2, idempotency_key="crate-7")
    assert again.id == original.id and len(calls) == 2
    assert db.session.query(Reservation).count() == 1
    assert db.session.get(Lot, lot.id, populate_existing=True).quantity_available == Decimal(8)
    assert db.session.query(FeedEvent).filter(FeedEvent.reservation_id.is_not(None)).count() == 1
    assert check_integrity() == []


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: set TEST_DATABASE_URL")
def test_a_window_shortened_before_the_pickup_time_after_the_read_refuses_the_pickup_time(
        app, login_as, make_farm, make_lot, make_trader):
    """PostgreSQL: the take requires the window as read, takes nothing, and the lot as it is now is checked again,
    pickup time included."""
    producer, _ = login_as("producer")
    lot = make_lot(make_farm(producer), quantity=10)  # a farm open every day, all day (the default hours)
    trader = make_trader()
    pickup_at = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(days=1)
    sooner = pickup_at - dt.timedelta(hours=12)
    session = db.session()
    hook, done = after_our_read(lambda s: s.execute(update(Lot).where(Lot.id == lot.id)
                                                    .values(available_until=sooner)
                                                    .execution_options(synchronize_session=False)))
    event.listen(session, "do_orm_execute", hook)
    try:
        with pytest.raises(InvalidInput) as refused:
            reservations.reserve(lot.id, trader, 2, pickup_at)
    finally:
        event.remove(session, "do_orm_execute", hook)
    assert done
    assert refused.value.code == "pickup_unavailable"
    assert db.session.query(Reservation).count() == 0
    assert db.session.get(Lot, lot.id, populate_existing=True).quantity_available == Decimal(10)
