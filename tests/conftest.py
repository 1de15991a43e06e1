"""Fixtures: a fresh app and empty database per test, clients, factories, and a network guard.

The suite runs on SQLite (a file per test, so that threads share it) and, when TEST_DATABASE_URL
is set, on PostgreSQL (schema created once, tables emptied after each test).
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import os
import socket
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from exchange import create_app
from exchange.config import TestConfig
from exchange.extensions import db as _db

PG_URL = os.environ.get("TEST_DATABASE_URL")
PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)


# --- no network --------------------------------------------------------------------------------

_real_connect = socket.socket.connect


def _guarded_connect(sock, address):
    host = address[0] if isinstance(address, tuple) else address
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if host != "localhost" and (ip is None or not ip.is_loopback):
            raise RuntimeError(f"Test tried to reach the network: {address!r}")
    return _real_connect(sock, address)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any connection off this machine fails the test (geocoding uses the offline gazetteer)."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)


_real_getaddrinfo = socket.getaddrinfo


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host not in (None, "localhost", "127.0.0.1", "::1", "") and not str(host).startswith("127."):
        raise RuntimeError(f"Test tried to resolve {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


# --- app and database --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def _pg_schema():
    """On PostgreSQL the schema is built once; each test then empties the tables."""
    if not PG_URL:
        yield None
        return
    app = create_app(_settings() | {"SQLALCHEMY_DATABASE_URI": PG_URL})
    with app.app_context():
        _db.drop_all()
        _db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        _db.session.commit()
        _db.create_all()
    yield PG_URL


def _settings() -> dict:
    return {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}


def _config(tmp_path, pg_url, overrides=None) -> dict:
    url = pg_url or f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return _settings() | {"SQLALCHEMY_DATABASE_URI": url} | (overrides or {})


@pytest.fixture
def app_config():
    """Override to change settings for one test module: return a dict."""
    return {}


class FreshContextClient(FlaskClient):
    """Each request runs in its own app context, as in production.

    The test itself holds an app context (for factories and queries); without this, requests would
    reuse it and share its `g` and database session, hiding bugs that real requests would show.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


# Single-row counters keep their row between tests; they are reset to zero instead.
_COUNTERS = {"feed_counter": "last_seq", "watch_version": "version"}


@pytest.fixture
def app(tmp_path, _pg_schema, app_config):
    app = create_app(_config(tmp_path, _pg_schema, app_config))
    app.test_client_class = FreshContextClient
    with app.app_context():
        if not _pg_schema:
            _db.create_all()
        yield app
        _db.session.remove()
        if _pg_schema:
            tables = ", ".join(t.name for t in _db.metadata.sorted_tables if t.name not in _COUNTERS)
            _db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            for table, column in _COUNTERS.items():
                _db.session.execute(text(f"UPDATE {table} SET {column} = 0"))
            _db.session.commit()
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


# --- factories -----------------------------------------------------------------------------------

CAHORS = {"postcode": "46000", "lat": 44.4475, "lon": 1.4419}


@pytest.fixture
def make_user(app):
    from exchange.domain import accounts

    def make(role="producer", **kw):
        n = next(_counter)
        fields = {"email": f"{role}{n}@example.org", "password": PASSWORD, "role": role, "name": f"{role.title()} {n}"}
        fields |= kw
        if role == "chamber":
            fields.setdefault("territory", ["46"])
        return accounts.create_user(**fields)

    return make


@pytest.fixture
def token_for(app):
    from exchange.domain import accounts

    def token(user) -> dict:
        return {"Authorization": f"Bearer {accounts.issue_token(user)}"}

    return token


@pytest.fixture
def login_as(make_user, token_for):
    """A new user of that role and the headers that authenticate as them: `user, headers = login_as("trader")`."""

    def login(role="producer", **kw):
        user = make_user(role, **kw)
        return user, token_for(user)

    return login


@pytest.fixture
def make_farm(app):
    from exchange.domain import farms

    def make(owner, **kw):
        fields = {"name": f"Ferme {next(_counter)}"} | (kw if "postcode" in kw else CAHORS | kw)
        return farms.create_farm(owner, **fields)

    return make


@pytest.fixture
def make_lot(app):
    from exchange.domain import lots

    def make(farm, **kw):
        fields = {"product": "Tomates", "category": "vegetables", "unit": "kg", "quantity": Decimal("30"),
                  "price_cents": 280, "available_until": dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)}
        fields |= kw
        fields["quantity"] = Decimal(str(fields["quantity"]))
        return lots.post_lot(farm.owner, farm_id=farm.id, **fields)

    return make


@pytest.fixture
def make_trader(make_user):
    def make(**kw):
        kw.setdefault("base", {"postcode": "46000"})
        return make_user("trader", **kw)

    return make


# --- the live feed -------------------------------------------------------------------------------

class FeedTestClient:
    """A `socketio.test_client` on /feed that keeps every event and can wait for the ones sent by background tasks."""

    def __init__(self, app, auth=None, flask_client=None):
        from exchange.extensions import socketio

        self.app = app
        with app.app_context():  # its own, as a real connection has (Flask-Login caches the user in `g`)
            self.client = socketio.test_client(app, namespace="/feed", auth=auth, flask_test_client=flask_client)

    @property
    def connected(self) -> bool:
        return self.client.is_connected("/feed")

    def events(self, name: str | None = None) -> list[dict]:
        from exchange.feed import delivery

        # With FEED_DELIVERY="background", what was committed so far is delivered first: a test that
        # checks a client received nothing must not pass only because the worker had not got there yet.
        if (worker := delivery.worker(self.app)) is not None:
            assert worker.flush(), "the feed's delivery worker did not catch up"
        # Read the queue without get_received(), which rebuilds it and could drop an event appended meanwhile.
        return [e["args"][0] for e in list(self.client.queue)
                if e["namespace"] == "/feed" and (name is None or e["name"] == name)]

    def wait_for(self, name: str, count: int = 1, timeout: float = 5.0) -> list[dict]:
        import time

        deadline = time.monotonic() + timeout
        while len(self.events(name)) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.events(name)

    def ready(self, timeout: float = 5.0) -> dict:
        """Wait until the replay is over and live events flow; returns the `ready` message."""
        found = self.wait_for("ready", 1, timeout)
        assert found, "the feed never said it was ready"
        return found[0]

    def disconnect(self) -> None:
        if self.connected:
            self.client.disconnect("/feed")


@pytest.fixture
def feed_client(app):
    """`feed_client(user, since=None)`: a /feed connection with a fresh token of that user, ready for live events."""
    from exchange.domain import accounts

    clients = []

    def connect(user=None, *, since=None, auth=None, flask_client=None, wait_ready=True):
        if auth is None and user is not None:
            auth = {"token": accounts.issue_token(user)} | ({"since": since} if since is not None else {})
        client = FeedTestClient(app, auth=auth, flask_client=flask_client)
        clients.append(client)
        if wait_ready and client.connected:
            client.ready()
        return client

    yield connect
    for client in clients:
        client.disconnect()
