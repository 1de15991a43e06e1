"""PostgreSQL: a transaction's events are numbered and committed in one round trip.

The feed's counter is the one row every transaction that records events locks; it is held from the numbering to the
commit. Sending both together means it is never held while the app, between the answer and its `COMMIT`, serves other
requests. These tests pin what that must not break: everything the session holds is in the same transaction, and a
savepoint's commit does not commit the transaction around it.
"""
import pytest
from psycopg import pq
from sqlalchemy import event, select, text

from exchange.extensions import db
from exchange.feed import publish
from exchange.models import FeedEvent, Lot
from tests.conftest import PG_URL

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
