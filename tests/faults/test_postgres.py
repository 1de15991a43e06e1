"""PostgreSQL drops the app's connections (a restart, a failover, an idle timeout in a proxy): the next
requests still succeed, because pooled connections are checked before use (`pool_pre_ping`).

The shared cluster is not restarted: the server's backends are terminated with `pg_terminate_backend`,
which is what a restart does to them. PostgreSQL only (TEST_DATABASE_URL).
"""
from __future__ import annotations

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL
from tests.live_server import LiveServer, fresh_database, post_lot, setup_exchange, sign_up

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: set TEST_DATABASE_URL")]

TIMEOUT_S = 10


@pytest.fixture
def database_url(tmp_path):
    with fresh_database(tmp_path, PG_URL) as url:
        yield url


def terminate_backends(database_url: str) -> int:
    """Terminate every connection to this database but our own, from a separate connection; how many there were."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": make_url(database_url).database}).scalar()
    finally:
        admin.dispose()


def test_requests_succeed_after_the_apps_connections_are_terminated(database_url):
    with LiveServer(database_url) as server:
        p_headers, farm_id, _, _ = setup_exchange(server.url)
        t_headers, _, _ = sign_up(server.url, "trader")
        lot = post_lot(server.url, p_headers, farm_id, "Melons", quantity=100)

        assert terminate_backends(database_url) >= 1  # the server's pooled connections

        # Each of these is the first try: no retry hides a failure.
        listed = requests.get(server.url + "/api/v1/lots", headers=t_headers, timeout=TIMEOUT_S)
        assert listed.status_code == 200, server.log_tail()
        held = requests.post(f"{server.url}/api/v1/lots/{lot['id']}/reservations", headers=t_headers,
                             timeout=TIMEOUT_S, json={"quantity": 2})
        assert held.status_code == 201, held.text
        assert post_lot(server.url, p_headers, farm_id, "Pastèques")["status"] == "published"

        # Twice in a row: the pool refilled after the first time is checked as well.
        assert terminate_backends(database_url) >= 1
        for _ in range(3):
            answer = requests.get(f"{server.url}/api/v1/lots/{lot['id']}", headers=t_headers, timeout=TIMEOUT_S)
            assert answer.status_code == 200 and answer.json()["quantity_available"] == 98, answer.text
