"""Reserve writes the hold before it takes the stock: a lot changed in between still gets a consistent hold."""
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import event, update
from sqlalchemy.sql import visitors
from sqlalchemy.sql.dml import Update

from exchange.domain import reservations
from exchange.domain.errors import Conflict
from exchange.domain.integrity import check_integrity
from exchange.extensions import db
from exchange.models import Lot, Reservation, StockMovement

UTC = dt.timezone.utc


def updates_lots(state) -> bool:
    """The session is about to run a statement that updates the lots table (alone, or in a WITH on PostgreSQL)."""
    return any(isinstance(element, Update) and element.table.name == Lot.__tablename__
               for element in visitors.iterate(state.statement))


def test_a_lot_repriced_and_shortened_between_read_and_update_gives_the_hold_its_new_price_and_window(
        app, login_as, make_farm, make_lot, make_trader):
    producer, _ = login_as("producer")
    lot = make_lot(make_farm(producer), quantity=10, price_cents=300)
    trader = make_trader()
    soon = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(minutes=10)
    done = []

    # The producer's change lands right before the conditional update, after the hold was written from the read.
    session = db.session()

    @event.listens_for(session, "do_orm_execute")
    def producer_changes_the_lot(state):
        if updates_lots(state) and not done:
            done.append(True)
            state.session.execute(update(Lot).where(Lot.id == lot.id)
                                  .values(price_cents=450, available_until=soon)
                                  .execution_options(synchronize_session=False))

    try:
        reservation = reservations.reserve(lot.id, trader, 2)
    finally:
        event.remove(session, "do_orm_execute", producer_changes_the_lot)
    assert done
    stored = db.session.get(Reservation, reservation.id, populate_existing=True)
    assert stored.price_cents == 450
    assert stored.hold_expires_at == soon
    assert db.session.get(Lot, lot.id, populate_existing=True).quantity_available == Decimal(8)
    assert check_integrity() == []


def test_a_refused_reservation_leaves_no_hold_behind(app, login_as, make_farm, make_lot, make_trader):
    producer, _ = login_as("producer")
    lot = make_lot(make_farm(producer), quantity=3)
    trader = make_trader()

    # Someone takes the stock after our read: the update finds too little, and the hold written before it goes.
    session, done = db.session(), []

    @event.listens_for(session, "do_orm_execute")
    def someone_takes_it_first(state):
        if updates_lots(state) and not done:
            done.append(True)
            state.session.execute(update(Lot).where(Lot.id == lot.id).values(quantity_available=1)
                                  .execution_options(synchronize_session=False))

    try:
        with pytest.raises(Conflict) as refused:
            reservations.reserve(lot.id, trader, 2)
    finally:
        event.remove(session, "do_orm_execute", someone_takes_it_first)
    assert refused.value.code == "stock_short"
    assert db.session.query(Reservation).count() == 0
    assert db.session.query(StockMovement).filter_by(reason="reserved").count() == 0
    # Nothing taken by us: the lot holds what the other writer left. (That write ran in our transaction: on SQLite
    # the rollback of the hold written before the update undoes it too; on PostgreSQL nothing of ours was written.)
    assert db.session.get(Lot, lot.id, populate_existing=True).quantity_available in (Decimal(1), Decimal(3))


def test_a_retry_that_finds_the_lot_sold_out_by_its_own_original_answers_the_original(
        app, login_as, make_farm, make_lot, make_trader, monkeypatch):
    producer, _ = login_as("producer")
    lot = make_lot(make_farm(producer), quantity=4)
    trader = make_trader()
    original = reservations.reserve(lot.id, trader, 4, idempotency_key="crate-1")  # sells the lot out
    real_by_key, calls = reservations._by_key, []

    def original_not_committed_at_first(trader_id, key):
        calls.append(key)
        return None if len(calls) == 1 else real_by_key(trader_id, key)

    # The retry's first look for its key comes before the original's commit; its read of the lot after it.
    monkeypatch.setattr(reservations, "_by_key", original_not_committed_at_first)
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
