"""What a reservation costs the database: on PostgreSQL, after its read of the lot, one round trip (the take, its
events and the COMMIT together), so that the lot's row is held only while PostgreSQL runs them; nowhere a query
after the commit to build the answer."""
import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from exchange.extensions import db
from exchange.feed import publish
from exchange.models import FeedEvent, Reservation
from tests.psycopg_traffic import record_traffic

API = "/api/v1"


@pytest.fixture
def watched(app, monkeypatch):
    """The statements SQLAlchemy sends (and whether the session had committed), the pipelines sent around it and,
    on PostgreSQL, what psycopg sends: its commands (BEGIN, COMMIT) and statements, with its autocommit, and its
    pipelines' Syncs (each waited for: a round trip)."""
    seen = {"statements": [], "committed": False, "pipelines": [], "psycopg": record_traffic(monkeypatch)}

    def sent(conn, cursor, statement, params, context, executemany):
        seen["statements"].append((seen["committed"], statement.split(None, 1)[0].upper()))

    def committed(session):
        seen["committed"] = True

    real = publish.commit_pipelined

    def pipelined(session, *statements):
        seen["pipelines"].append(len(statements))
        return real(session, *statements)

    monkeypatch.setattr(publish, "commit_pipelined", pipelined)
    event.listen(db.engine, "before_cursor_execute", sent)
    event.listen(Session, "after_commit", committed)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", sent)
        event.remove(Session, "after_commit", committed)


def test_a_reservation_reads_the_lot_then_takes_writes_and_commits_in_one_round_trip(
        client, login_as, make_farm, make_lot, make_trader, token_for, watched):
    producer, _ = login_as("producer")
    lot = make_lot(make_farm(producer), quantity=10)
    headers = token_for(make_trader())
    assert client.post(f"{API}/lots/{lot.id}/reservations", json={"quantity": 1}, headers=headers).status_code == 201
    watched["statements"].clear(), watched["pipelines"].clear()
    watched["committed"] = False
    db.session.remove()  # nothing of the first request's objects left in a session: as in another request
    watched["psycopg"].update(sent=[], syncs=0)

    answer = client.post(f"{API}/lots/{lot.id}/reservations", json={"quantity": 2}, headers=headers)

    assert answer.status_code == 201
    assert [statement for after, statement in watched["statements"] if after] == []  # the answer needs no query
    if db.engine.dialect.name == "postgresql":
        assert watched["statements"] == [(False, "SELECT")]  # the lot, with its farm
        assert watched["pipelines"] == [2]  # the take with the hold, the events: committed at the pipeline's Sync
        # No BEGIN of psycopg's (sent with a Sync and waited for: a round trip of its own): the read runs on its
        # own, and the transaction's BEGIN and COMMIT travel in the pipeline, ended by its one Sync.
        assert watched["psycopg"] == {"sent": ["SELECT (autocommit)", "BEGIN (autocommit)", "WITH (autocommit)",
                                               "WITH (autocommit)", "COMMIT (autocommit)"], "syncs": 1}
        assert not db.session.connection().connection.driver_connection.autocommit
    body = answer.get_json()
    stored = db.session.get(Reservation, body["id"])
    assert (stored.quantity, stored.status) == (2, "pending")
    events = db.session.query(FeedEvent).filter(FeedEvent.lot_id == lot.id).order_by(FeedEvent.seq).all()[-2:]
    assert [(e.kind, e.type, e.reservation_id) for e in events] == [("lot", "reserved", None),
                                                                     ("reservation", "created", body["id"])]
    assert events[0].payload["lot"]["quantity_available"] == 7
    assert events[1].payload["reservation"]["id"] == body["id"]
    assert {k: v for k, v in body.items() if k != "pickup_code"} == events[1].payload["reservation"]
