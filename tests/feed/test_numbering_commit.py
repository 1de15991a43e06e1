"""PostgreSQL: a transaction's events are numbered and committed in one round trip.

The feed's counter is the one row every transaction that records events locks; it is held from the numbering to the
commit. Sending both together means it is never held while the app, between the answer and its `COMMIT`, serves other
requests. These tests pin what that must not break: everything the session holds is in the same transaction, a
savepoint's commit does not commit the transaction around it, and a pipeline is one round trip (one Sync), which
commits all of its statements or none.
"""
import psycopg
import pytest
from psycopg import pq
from sqlalchemy import Integer, String, bindparam, event, literal, select, text, update

from exchange.extensions import db
from exchange.feed import publish
from exchange.models import FeedEvent, Lot
from tests.conftest import PG_URL
from tests.psycopg_traffic import record_traffic

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: set TEST_DATABASE_URL")


def driver_status():
    return db.session.connection().connection.driver_connection.info.transaction_status


def last_seq():
    return db.session.scalar(select(db.func.max(FeedEvent.seq))) or 0


def test_the_commit_leaves_with_the_numbers(login_as, make_farm, make_lot):
    producer, _ = login_as("producer")
    lot = make_lot(make_farm(producer), quantity=5)
    seen = []

    # Runs after the numbering hook (registered at import): the transaction is already over in the database.
    @event.listens_for(db.session(), "before_commit")
    def after_numbering(session):
        seen.append(session.connection().connection.driver_connection.info.transaction_status)

    try:
        publish.lot_event(lot, "updated")
        db.session.commit()
    finally:
        event.remove(db.session(), "before_commit", after_numbering)
    assert seen == [pq.TransactionStatus.IDLE]
    assert db.session.scalars(select(FeedEvent).order_by(FeedEvent.seq.desc())).first().lot_id == lot.id


def test_changes_made_after_the_event_commit_with_it(login_as, make_farm, make_lot):
    producer, _ = login_as("producer")
    lot = make_lot(make_farm(producer), quantity=5)
    before = last_seq()
    publish.lot_event(lot, "updated")
    lot.description = "Récoltées ce matin"  # not flushed yet when the numbers are taken
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Lot, lot.id).description == "Récoltées ce matin"
    assert last_seq() == before + 1
    # Written by the same transaction as the event: the rows carry the same creating transaction id.
    lot_xmin = db.session.execute(text("SELECT xmin::text FROM lots WHERE id = :id"), {"id": lot.id}).scalar()
    event_xmin = db.session.execute(text("SELECT xmin::text FROM feed_events WHERE seq = :seq"),
                                    {"seq": before + 1}).scalar()
    assert lot_xmin == event_xmin


def test_a_savepoint_commits_nothing_of_the_transaction_around_it(login_as, make_farm, make_lot):
    producer, _ = login_as("producer")
    lot = make_lot(make_farm(producer), quantity=5)
    before = last_seq()
    lot.description = "avant"
    with db.session.begin_nested():
        publish.lot_event(lot, "updated")
    assert driver_status() == pq.TransactionStatus.INTRANS  # the outer transaction goes on
    db.session.rollback()
    db.session.expire_all()
    assert last_seq() == before
    assert db.session.get(Lot, lot.id).description != "avant"


_lots = Lot.__table__
_TAKE_ONE = select(update(_lots).where(_lots.c.id == bindparam("lot_id"))
                   .values(quantity_available=_lots.c.quantity_available - 1, updated_at=_lots.c.updated_at)
                   .returning(_lots.c.quantity_available).cte("taken").c.quantity_available)
_FAILING = select(literal(1, Integer) // bindparam("zero", type_=Integer))
_TEXT = select(bindparam("text", type_=String))


@pytest.fixture
def sent(monkeypatch):
    return record_traffic(monkeypatch)


def stock(lot_id):
    db.session.rollback()
    return db.session.scalar(select(Lot.quantity_available).where(Lot.id == lot_id))


def test_an_open_transaction_is_committed_by_a_commit_sent_in_the_pipeline(login_as, make_farm, make_lot, sent):
    producer, _ = login_as("producer")
    lot = make_lot(make_farm(producer), quantity=5)
    lot.description = "Récoltées ce matin"
    db.session.flush()  # the transaction is open in PostgreSQL
    sent.update(sent=[], syncs=0)
    publish.lot_event(lot, "updated")
    db.session.commit()
    assert sent["sent"][-2:] == ["WITH", "COMMIT"]  # the numbers, then the commit, in one pipeline
    assert sent["syncs"] == 1 and "psycopg COMMIT" not in sent["sent"]
    db.session.expire_all()
    assert db.session.get(Lot, lot.id).description == "Récoltées ce matin"


def test_a_pipeline_opening_the_transaction_sends_its_begin_in_it(login_as, make_farm, make_lot, sent):
    producer, _ = login_as("producer")
    lot_id = make_lot(make_farm(producer), quantity=5).id
    db.session.commit()
    assert driver_status() == pq.TransactionStatus.IDLE
    sent.update(sent=[], syncs=0)
    first, second = publish.commit_pipelined(db.session(), (_TAKE_ONE, {"lot_id": lot_id}),
                                             (_TAKE_ONE, {"lot_id": lot_id}))
    assert (first, second) == ((4,), (3,))
    # psycopg's BEGIN would have gone with a Sync of its own, waited for: the pipeline's own is the only one.
    assert sent == {"sent": ["BEGIN (autocommit)", "WITH (autocommit)", "WITH (autocommit)", "COMMIT (autocommit)"],
                    "syncs": 1}
    driver = db.session.connection().connection.driver_connection
    assert not driver.autocommit and driver.info.transaction_status == pq.TransactionStatus.IDLE
    db.session.commit()
    with db.engine.connect() as other:  # committed: another connection sees it
        assert other.scalar(select(Lot.quantity_available).where(Lot.id == lot_id)) == 3


def test_a_failing_statement_takes_the_whole_pipeline_back(login_as, make_farm, make_lot):
    producer, _ = login_as("producer")
    lot_id = make_lot(make_farm(producer), quantity=5).id
    db.session.commit()
    with pytest.raises(psycopg.errors.DivisionByZero):  # nothing of the transaction sent before: BEGIN in it
        publish.commit_pipelined(db.session(), (_TAKE_ONE, {"lot_id": lot_id}), (_FAILING, {"zero": 0}))
    assert not db.session.connection().connection.driver_connection.autocommit
    assert stock(lot_id) == 5

    db.session.get(Lot, lot_id).description = "avant"
    db.session.flush()  # an open transaction, committed by the pipeline's COMMIT
    with pytest.raises(psycopg.errors.DivisionByZero):
        publish.commit_pipelined(db.session(), (_TAKE_ONE, {"lot_id": lot_id}), (_FAILING, {"zero": 0}))
    assert stock(lot_id) == 5
    assert db.session.get(Lot, lot_id).description != "avant"


def test_a_pipeline_failing_before_it_ends_commits_nothing(login_as, make_farm, make_lot):
    """psycopg sends the pipeline's Sync even when the block ends on an exception raised here (a value it cannot
    send, a greenlet killed at a worker's shutdown): the statement already sent must not be committed by it."""
    producer, _ = login_as("producer")
    lot_id = make_lot(make_farm(producer), quantity=5).id
    db.session.commit()
    with pytest.raises(psycopg.DataError):  # NUL cannot be sent in a text parameter: raised before it leaves
        publish.commit_pipelined(db.session(), (_TAKE_ONE, {"lot_id": lot_id}), (_TEXT, {"text": "a\x00b"}))
    assert stock(lot_id) == 5
    assert not db.session.connection().connection.driver_connection.autocommit


@pytest.mark.parametrize("failing", [4, 5, 6])
def test_a_failed_pipeline_leaves_no_statement_psycopg_believes_prepared(login_as, make_farm, make_lot, failing):
    """psycopg prepares a statement the sixth time it runs it; in a pipeline whose first statement failed,
    PostgreSQL skips the second one's preparing but psycopg counts it as done, until a ROLLBACK makes it forget.
    Every later pipeline on that connection must still work."""
    producer, _ = login_as("producer")
    lot_id = make_lot(make_farm(producer), quantity=50).id
    db.session.commit()
    db.session.remove()
    db.engine.dispose()  # a new connection: nothing prepared yet
    for i in range(12):
        if i == failing:
            with pytest.raises(psycopg.errors.DivisionByZero):
                publish.commit_pipelined(db.session(), (_FAILING, {"zero": 0}), (_TAKE_ONE, {"lot_id": lot_id}))
            db.session.rollback()
        else:
            publish.commit_pipelined(db.session(), (_FAILING, {"zero": 1}), (_TAKE_ONE, {"lot_id": lot_id}))
            db.session.commit()
    assert stock(lot_id) == 50 - 11
