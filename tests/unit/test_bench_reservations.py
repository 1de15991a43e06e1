"""The reservations bench's wrk load generator: every answer is counted, and the holds in the database agree."""
from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal

import pytest

from bench import reservations

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (scripts/bench-deps.sh)")]


def test_wrk_counts_every_answer_and_the_lot_sells_out_exactly(tmp_path):
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    tokens, lot_ids = reservations._prepare(url, traders=3, lots=[Decimal(40)])
    since = dt.datetime.now(dt.timezone.utc)
    server = reservations.Server(url, workers=1, threads=4)
    try:
        row = reservations._load_wrk(server.port, tokens, lot_ids, seconds=2, clients=4)
    finally:
        server.stop()
    over, lots_not_adding_up, made, holds_per_s = reservations._outcome(url, since)

    assert row["requests"] > 40, "the run should outlast the lot"
    assert row["created"] == made == 40
    assert row["refused_409"] == row["requests"] - 40 and row["other_status"] == 0
    assert over == 0 and lots_not_adding_up == 0
    assert holds_per_s is not None and holds_per_s > 0 and row["client_cpu_ms_per_request"] > 0


def test_postgres_cpu_counts_the_work_of_a_query():
    from sqlalchemy import create_engine, text

    from tests.conftest import PG_URL

    before = reservations._postgres_cpu_seconds()
    if not PG_URL or before is None:
        pytest.skip("no PostgreSQL on this machine (TEST_DATABASE_URL)")
    engine = create_engine(PG_URL)
    try:
        with engine.connect() as conn:  # a backend kept open, so its CPU time is still counted afterwards
            conn.execute(text("SELECT count(*) FROM generate_series(1, 5000000)")).scalar()
            after = reservations._postgres_cpu_seconds()
    finally:
        engine.dispose()
    assert after - before >= 0.1
