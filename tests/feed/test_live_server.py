"""The feed between real processes: a websocket client, a lot posted over HTTP, two servers joined by Redis."""
from __future__ import annotations

import shutil
import uuid

import pytest

from tests.conftest import PG_URL
from tests.live_server import FeedListener, LiveServer, PrivateRedis, fresh_database, post_lot, setup_exchange

pytestmark = pytest.mark.slow


@pytest.fixture
def database_url(tmp_path):
    """A fresh database for the servers: a SQLite file, or a new PostgreSQL database when TEST_DATABASE_URL is set."""
    with fresh_database(tmp_path, PG_URL) as url:
        yield url


@pytest.fixture
def redis_url():
    """A private redis-server for the test (never a shared one)."""
    if shutil.which("redis-server") is None:
        pytest.skip("needs the redis-server program to test several server processes")
    server = PrivateRedis().start()
    yield server.url
    server.kill()


def test_a_websocket_client_receives_a_lot_posted_over_http(database_url):
    with LiveServer(database_url) as server:
        p_headers, farm_id, t_token, watch_id = setup_exchange(server.url)
        listener = FeedListener(server.url, t_token)
        try:
            listener.wait_for("ready")
            lot = post_lot(server.url, p_headers, farm_id, "Tomates cœur de bœuf")
            [event] = listener.wait_for("lot")
            assert event["lot"]["id"] == lot["id"] and event["type"] == "published"
            assert event["watch_ids"] == [watch_id] and event["distance_km"] == 0.0
        finally:
            listener.close()


def test_resume_with_since_gets_exactly_the_three_lots_missed(database_url):
    with LiveServer(database_url) as server:
        p_headers, farm_id, t_token, _ = setup_exchange(server.url)
        listener = FeedListener(server.url, t_token)
        listener.wait_for("ready")
        post_lot(server.url, p_headers, farm_id, "Avant")
        [seen] = listener.wait_for("lot")
        listener.close()

        missed = [post_lot(server.url, p_headers, farm_id, f"Manqué {i}")["id"] for i in range(3)]
        again = FeedListener(server.url, t_token, since=seen["seq"])
        try:
            again.wait_for("ready")
            assert [e["lot"]["id"] for e in again.events("lot")] == missed
            assert [e["seq"] for e in again.events("lot")] == sorted(e["seq"] for e in again.events("lot"))
            after = post_lot(server.url, p_headers, farm_id, "Après")
            assert [e["lot"]["id"] for e in again.wait_for("lot", 4)] == missed + [after["id"]]
        finally:
            again.close()


@pytest.mark.parametrize("server", ["flask", "gunicorn-threads", "gunicorn-gevent"])
def test_a_client_on_one_process_receives_a_lot_posted_through_another(database_url, redis_url, server):
    """With `flask serve`, the production server (gunicorn, one threaded worker) and gunicorn's gevent worker."""
    channel = f"carreau-test-{uuid.uuid4().hex}"
    with LiveServer(database_url, redis_url, channel, server=server) as one, \
            LiveServer(database_url, redis_url, channel, server=server) as two:
        p_headers, farm_id, t_token, watch_id = setup_exchange(two.url)  # the watch is created through `two`
        listener = FeedListener(one.url, t_token)
        try:
            listener.wait_for("ready")
            lot = post_lot(two.url, p_headers, farm_id, "Courgettes")
            [event] = listener.wait_for("lot")
            assert event["lot"]["id"] == lot["id"] and event["watch_ids"] == [watch_id]
            # And the other way round: process `one` learnt of the watch through the database.
            lot = post_lot(one.url, p_headers, farm_id, "Aubergines")
            assert listener.wait_for("lot", 2)[-1]["lot"]["id"] == lot["id"]
        finally:
            listener.close()
