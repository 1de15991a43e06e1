"""SQLite settings that make the embedded database safe under concurrent requests."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import event

from exchange.extensions import db


def install(app: Flask) -> None:
    """WAL (readers never block the writer), a busy timeout instead of 'database is locked', foreign keys on."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Reports sort and group hundreds of thousands of rows: sort in memory, and cache 32 MiB of pages.
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.close()
        # Unicode-aware lower() for reports' product grouping ('Œufs' = 'œufs'), as PostgreSQL's lower().
        dbapi_connection.create_function("unicode_lower", 1, _lower, deterministic=True)
        # The Paris month of a stored UTC instant, which SQLite cannot work out (it has no time zones).
        dbapi_connection.create_function("paris_month", 1, _paris_month, deterministic=True)


def _lower(value):
    return value.lower() if isinstance(value, str) else value


PARIS = ZoneInfo("Europe/Paris")


def _paris_month(value):
    """'2025-01-31 23:30:00.000000' (UTC, as UTCDateTime stores it) → '2025-02'."""
    if not isinstance(value, str):
        return None
    instant = dt.datetime.fromisoformat(value).replace(tzinfo=dt.timezone.utc).astimezone(PARIS)
    return f"{instant.year:04d}-{instant.month:02d}"
