"""A server database's connection pool is sized from the environment; SQLite keeps Flask-SQLAlchemy's."""
from __future__ import annotations

import importlib

import pytest

from exchange import config as config_module
from exchange import create_app
from exchange.extensions import db

PG_URL = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # the engine is made, never connected


def _pool(app):
    with app.app_context():
        return db.engine.pool


def test_a_server_database_keeps_ten_connections_and_ten_more_under_bursts():
    pool = _pool(create_app({"SQLALCHEMY_DATABASE_URI": PG_URL}))
    assert (pool.size(), pool._max_overflow) == (10, 10)
    assert not pool._pre_ping  # checked without a round trip instead (test_pooled_connections.py)


def test_the_environment_sizes_the_pool(monkeypatch):
    monkeypatch.setenv("DATABASE_POOL_SIZE", "24")
    monkeypatch.setenv("DATABASE_MAX_OVERFLOW", "4")
    importlib.reload(config_module)
    try:
        pool = _pool(create_app({"SQLALCHEMY_DATABASE_URI": PG_URL}))
    finally:
        monkeypatch.undo()
        importlib.reload(config_module)
    assert (pool.size(), pool._max_overflow) == (24, 4)


def test_engine_options_set_explicitly_win():
    app = create_app({"SQLALCHEMY_DATABASE_URI": PG_URL, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 3,
                                                                                     "pool_pre_ping": True}})
    pool = _pool(app)
    assert (pool.size(), pool._max_overflow, pool._pre_ping) == (3, 10, True)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///{tmp}/pool.sqlite3"])
def test_sqlite_is_left_to_flask_sqlalchemy(url, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": url.format(tmp=tmp_path)})
    assert "pool_size" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert _pool(app)._pre_ping  # an in-memory database's static pool would refuse a size


def test_the_reservation_statement_fits_in_psycopg_statement_cache():
    """psycopg rewrites a statement's placeholders on every call unless the statement is short enough to be cached;
    the app raises that limit for the reservation's single statement."""
    import re
    from decimal import Decimal
    from types import SimpleNamespace

    from psycopg import _queries
    from psycopg.adapt import Transformer
    from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

    from exchange.domain import reservations
    from exchange.reports import rollup

    create_app({"SQLALCHEMY_DATABASE_URI": PG_URL})
    names = tuple(rollup.share(SimpleNamespace(status="pending", quantity=Decimal(1))))  # a new hold's share
    # What a reservation sends: the take (guarded, in one round trip with its events; unguarded when the lot changed
    # after the read) and its completed events.
    for statement in (reservations._take_and_hold(names, guarded=True), reservations._take_and_hold(names),
                      reservations._EVENTS_COMPLETED):
        sql = str(statement.compile(dialect=psycopg_dialect.dialect()))
        assert len(sql.encode()) <= _queries.MAX_CACHED_STATEMENT_LENGTH
        params = {name: None for name in re.findall(r"%\((\w+)\)s", sql)}
        assert len(params) <= _queries.MAX_CACHED_STATEMENT_PARAMS
        # psycopg itself: converting the statement again is a hit in its cache.
        query = _queries.PostgresQuery(Transformer())
        query.convert(sql.encode(), params)
        hits = _queries._query2pg.cache_info().hits
        query.convert(sql.encode(), params)
        assert _queries._query2pg.cache_info().hits == hits + 1
