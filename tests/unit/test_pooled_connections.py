"""PostgreSQL: a pooled connection the server ended is replaced at checkout, and a healthy one is handed out
without a round trip (exchange/models/postgres.py, in place of SQLAlchemy's `pool_pre_ping`); reads that need
no transaction send no BEGIN.
PostgreSQL only (TEST_DATABASE_URL); tests/faults/test_postgres.py does the same through a server."""
from __future__ import annotations

import select

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import create_engine, text

from exchange import create_app
from exchange.extensions import db
from exchange.models.postgres import without_begin
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: set TEST_DATABASE_URL")


@pytest.fixture
def engine(request):
    config = getattr(request, "param", {})
    app = create_app({"SQLALCHEMY_DATABASE_URI": PG_URL} | config)
    with app.app_context():
        yield db.engine
        db.engine.dispose()


@pytest.fixture
def app_pg():
    app = create_app({"SQLALCHEMY_DATABASE_URI": PG_URL})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def statements_sent(monkeypatch) -> list[str]:
    """What psycopg's cursors execute from now on (until the monkeypatch is undone)."""
    sent, execute = [], psycopg.Cursor.execute

    def counted(cursor, query, *args, **kwargs):
        sent.append(str(query))
        return execute(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    return sent


def backend(engine) -> tuple[int, int]:
    """The pid of the backend a checkout gets, and its connection's socket."""
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        conn.commit()
        return pid, conn.connection.driver_connection.pgconn.socket


def test_a_connection_the_server_ended_is_replaced_at_checkout(engine):
    pid, socket = backend(engine)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    finally:
        admin.dispose()
    assert select.select([socket], [], [], 5)[0], "the server's goodbye never reached the pooled connection"

    # The first statement after it succeeds: without the check it would fail on the dead connection.
    replaced, _ = backend(engine)
    assert replaced != pid


def test_a_healthy_connection_is_handed_out_without_a_statement(engine, monkeypatch):
    pid, _ = backend(engine)
    sent = statements_sent(monkeypatch)
    for _ in range(3):
        with engine.connect():
            pass

    assert sent == []  # pool_pre_ping sent a SELECT 1 on each
    monkeypatch.undo()
    assert backend(engine)[0] == pid  # and it was the same connection all along


def test_reads_without_begin_open_no_transaction_and_leave_none_in_autocommit(app_pg):
    session = db.session()
    driver = session.connection().connection.driver_connection
    with without_begin(session):
        assert session.execute(text("SELECT 1")).scalar() == 1
        assert driver.autocommit
        assert driver.info.transaction_status == TransactionStatus.IDLE  # no BEGIN was sent
    assert not driver.autocommit
    session.execute(text("SELECT 1"))
    assert driver.info.transaction_status == TransactionStatus.INTRANS  # the next statement opens it as usual

    # Inside an open transaction, nothing changes.
    with without_begin(session):
        assert not driver.autocommit
    session.rollback()

    # An error inside still sets the connection back.
    with pytest.raises(ZeroDivisionError), without_begin(db.session()):
        raise ZeroDivisionError
    assert not db.session().connection().connection.driver_connection.autocommit
    db.session.rollback()


@pytest.mark.parametrize("engine", [{"DATABASE_PING_AFTER_IDLE_S": 0}], indirect=True)
def test_a_connection_idle_for_a_while_is_pinged_and_replaced_when_it_does_not_answer(engine, monkeypatch):
    """A connection can die without a word (a NAT forgetting it): one idle longer than DATABASE_PING_AFTER_IDLE_S
    (here 0 s: every checkout) is pinged before use, and replaced when the ping fails."""
    pid, _ = backend(engine)
    sent = statements_sent(monkeypatch)
    with engine.connect():
        pass
    assert len(sent) == 1  # the ping

    ping, failed = engine.dialect.do_ping, []

    def silent_once(dbapi_connection):
        if not failed:
            failed.append(dbapi_connection.info.backend_pid)
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", silent_once)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid  # a new connection, at once
        conn.commit()
    assert failed == [pid]


def test_a_connection_returned_in_autocommit_is_set_back(engine):
    with engine.connect() as conn:
        conn.connection.driver_connection.autocommit = True
    with engine.connect() as conn:
        assert not conn.connection.driver_connection.autocommit


def test_reads_without_begin_with_changes_not_flushed_stay_in_the_transaction(app_pg):
    from exchange.models import User

    session = db.session()
    session.add(User(email="pending@example.org", password_hash="x", role="trader", name="Pending"))
    with without_begin(session):
        assert not session.connection().connection.driver_connection.autocommit  # the flush must not commit alone
    session.rollback()


@pytest.mark.parametrize(("uri", "checked"), [("postgresql+psycopg://u@h/d", True),
                                              ("postgresql+psycopg2://u@h/d", False), ("sqlite://", False)])
def test_only_psycopg_3_connections_are_checked_here(uri, checked):
    from exchange.models.postgres import checks_connections

    assert checks_connections(uri) is checked
