"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from exchange import create_app
from exchange.extensions import db
from tests.conftest import PG_URL, _settings


def _database_urls(tmp_path):
    yield f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    if PG_URL:
        name = f"carreau_migr_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield PG_URL.rsplit("/", 1)[0] + "/" + name
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()


def test_migrations_match_the_models(tmp_path):
    for url in _database_urls(tmp_path):
        app = create_app(_settings() | {"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            upgrade()
            with db.engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
                assert diff == [], f"{url.split(':')[0]}: models and migrations differ: {diff}"
                assert conn.execute(text("SELECT last_seq FROM feed_counter WHERE id = 1")).scalar_one() == 0
            db.engine.dispose()


def test_the_database_refuses_negative_stock(app, make_user, make_farm, make_lot):
    from sqlalchemy.exc import IntegrityError

    lot = make_lot(make_farm(make_user("producer")))
    with pytest.raises(IntegrityError):
        db.session.execute(text("UPDATE lots SET quantity_available = -1 WHERE id = :id"), {"id": lot.id})
        db.session.flush()
    db.session.rollback()


def test_the_rollup_migration_backfills_the_reservations_already_there(tmp_path):
    """Upgrading a database with reservations fills the report rollup (0010, after 0008 made its tables), exactly
    as check-integrity recomputes it."""
    from bench.reports_data import generate, load
    from exchange.reports import rollup

    for url in _database_urls(tmp_path):
        app = create_app(_settings() | {"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            upgrade(revision="0007_stock_step_keys")
            tables = generate(200, 1000, url.startswith("sqlite"))
            load(url, tables)
            upgrade()
            reservations = tables["reservations"][1]
            counts = db.session.execute(text("SELECT count(*), sum(pending + confirmed + collected + declined "
                                             "+ cancelled + expired + no_show) FROM report_lot_totals")).one()
            assert counts == (len({r[1] for r in reservations}), len(reservations))
            pairs = db.session.execute(text("SELECT count(*), sum(reservations) FROM report_lot_traders")).one()
            assert pairs == (len({(r[1], r[2]) for r in reservations}), len(reservations))
            assert rollup.differences() == []
            db.session.remove()
            db.engine.dispose()
