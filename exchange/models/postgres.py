"""PostgreSQL's pooled connections, checked before use without a round trip.

A connection PostgreSQL ended while it sat in the pool (a restart, a failover, `pg_terminate_backend`, an idle
timeout) has something to read: the server's last message, then the end of the stream. A healthy idle connection
has nothing (no query is running; the app LISTENs to nothing). So a checkout looks whether the socket is readable,
with a `poll` that does not wait, and hands out a fresh connection instead of one that is. SQLAlchemy's
`pool_pre_ping` sent a `SELECT 1` for this on every checkout: a round trip before each request's own statements.
A healthy connection that happens to have a message waiting (a server setting reported, say) is replaced too, which
costs only a new connection.

What a ping would not see either is not seen here: a server gone without a word (the machine lost, the network
cut) is found by the first statement, as it would be after a ping that succeeded a moment before.
"""
from __future__ import annotations

import select
import sys
from contextlib import contextmanager
from typing import Iterator

import psycopg
from flask import Flask
from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session

from exchange.extensions import db


def install(app: Flask) -> None:
    """Check a PostgreSQL (psycopg) engine's connections at checkout, in place of `pool_pre_ping`."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg"):
        return
    with app.app_context():
        engine = db.engine
    poll = _original_poll()

    @event.listens_for(engine, "checkout")
    def _ended_by_the_server(dbapi_connection, _record, _proxy):
        if dbapi_connection.closed or has_something_to_read(dbapi_connection.pgconn.socket, poll):
            raise DisconnectionError("PostgreSQL ended this pooled connection")  # the pool connects anew


def has_something_to_read(fd: int, poll=select.poll) -> bool:
    """Whether the socket has data, or its end, waiting: a `poll` that does not wait."""
    poller = poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def _original_poll():
    """The system's poll: a gevent worker (monkey-patched before the app loads) replaced select.poll with its own,
    which would go through its event loop for nothing."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey.get_original("select", "poll") if monkey is not None else select.poll


@contextmanager
def without_begin(session: Session) -> Iterator[None]:
    """Reads that open no transaction: on PostgreSQL, while the session's connection has none open yet, the
    statements inside run each on its own (the driver's autocommit), instead of psycopg's `BEGIN` going first in a
    round trip of its own. Under READ COMMITTED, PostgreSQL's level here, each statement sees the data as it is when
    it starts, in a transaction or not, so such reads see what they would have seen; the next statement after the
    block opens the transaction as usual. For reads only: a write inside would be committed at once. Elsewhere (SQLite,
    or a transaction already open) it changes nothing."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    connection = session.connection()
    driver = connection.connection.driver_connection
    if driver.autocommit or driver.info.transaction_status != TransactionStatus.IDLE:
        yield
        return
    driver.autocommit = True
    try:
        yield
    finally:
        try:
            driver.autocommit = False
        except psycopg.Error:  # the connection broke meanwhile: it must never return to the pool in autocommit
            connection.invalidate()
