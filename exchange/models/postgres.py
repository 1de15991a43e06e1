"""PostgreSQL (psycopg): pooled connections checked before use mostly without a round trip, and reads that send
no BEGIN.

A connection PostgreSQL ended while it sat in the pool (a restart, `pg_terminate_backend`, `idle_session_timeout`)
has something to read: the server's last message, then the end of the stream. A healthy idle connection has nothing
(no query is running; the app LISTENs to nothing). So a checkout looks whether the socket is readable, with a `poll`
that does not wait, and hands out a fresh connection instead of one that is. A connection can also die without a
word (a NAT or a load balancer forgetting it, a failover moving an address): only sending finds that out, so a
connection idle for longer than DATABASE_PING_AFTER_IDLE_S (30 s) is also pinged (`SELECT 1`), as
`pool_pre_ping` pinged every one. Under load connections come back within milliseconds and are never pinged: the
ping was a round trip before each request's own statements. A healthy connection that happens to have a message
waiting is replaced too, which costs only a new connection.
"""
from __future__ import annotations

import select
import sys
import time
from contextlib import contextmanager
from typing import Iterator

import psycopg
from flask import Flask
from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session

from exchange.extensions import db

_CHECKED_IN = "carreau_checked_in"  # in a pooled connection's record: when it last came back (monotonic)


def checks_connections(uri: str) -> bool:
    """Whether this database's connections are checked here (PostgreSQL through psycopg 3) rather than by a ping."""
    url = make_url(uri)
    return url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg"


def install(app: Flask) -> None:
    """Check a PostgreSQL (psycopg) engine's connections at checkout, in place of `pool_pre_ping`."""
    if not checks_connections(app.config["SQLALCHEMY_DATABASE_URI"]):
        return
    with app.app_context():
        engine = db.engine
    poll, idle_s = _original_poll(), app.config["DATABASE_PING_AFTER_IDLE_S"]

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection, record, _proxy):
        if dbapi_connection.closed or has_something_to_read(dbapi_connection.pgconn.socket, poll):
            raise DisconnectionError("PostgreSQL ended this pooled connection")  # the pool connects anew
        if time.monotonic() - record.info[_CHECKED_IN] >= idle_s:
            try:
                engine.dialect.do_ping(dbapi_connection)
            except psycopg.Error as error:
                raise DisconnectionError("a pooled connection idle for a while did not answer") from error

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_connection, record):
        record.info[_CHECKED_IN] = time.monotonic()  # as good as checked: it has just answered

    @event.listens_for(engine, "checkin")
    def _came_back(dbapi_connection, record):
        record.info[_CHECKED_IN] = time.monotonic()
        if dbapi_connection is not None and dbapi_connection.autocommit and not dbapi_connection.closed:
            dbapi_connection.autocommit = False  # never lent out again without transactions (see without_begin)


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
    """Reads that open no transaction: on PostgreSQL with psycopg, while the session's connection has none open yet,
    the statements inside run each on its own (the driver's autocommit), instead of psycopg's `BEGIN` going first in
    a round trip of its own. Under READ COMMITTED, PostgreSQL's level here, each statement sees the data as it is
    when it starts, in a transaction or not, so such reads see what they would have seen; the next statement after
    the block opens the transaction as usual. For reads only: a write inside would be committed at once, so a session
    with changes not yet flushed (which a query would flush) reads as usual. Elsewhere (SQLite, or a transaction
    already open) it changes nothing."""
    connection = _idle(session)
    if connection is None:
        yield
        return
    with autocommit(connection):
        yield


@contextmanager
def autocommit(connection) -> Iterator[None]:
    """The psycopg connection under this SQLAlchemy `connection` in autocommit inside the block, and out of it after;
    one that broke meanwhile is invalidated, so that it never returns to the pool in autocommit."""
    driver = connection.connection.driver_connection
    driver.autocommit = True
    failed = True
    try:
        yield
        failed = False
    finally:
        try:
            driver.autocommit = False
        except psycopg.Error:
            connection.invalidate()
            if not failed:
                raise


def _idle(session: Session):
    """The session's connection, when it is psycopg's with no transaction open and the session has nothing to
    flush; None otherwise."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql" or bind.dialect.driver != "psycopg" or session.new or session.dirty \
            or session.deleted:
        return None
    connection = session.connection()
    driver = connection.connection.driver_connection
    return None if driver.autocommit or driver.info.transaction_status != TransactionStatus.IDLE else connection
