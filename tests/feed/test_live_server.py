"""The feed between real processes: a websocket client, a lot posted over HTTP, two servers joined by Redis."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import PG_URL
from tests.live_server import FeedListener, LiveServer, prepare_database, sign_up

pytestmark = pytest.mark.slow

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def database_url(tmp_path):
    """A fresh database for the servers: a SQLite file, or a new PostgreSQL database when TEST_DATABASE_URL is set."""
    if not PG_URL:
        url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
        prepare_database(url)
        yield url
        return
    name = f"carreau_live_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = PG_URL.rsplit("/", 1)[0] + "/" + name
        prepare_database(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def redis_url():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis does not answer at {REDIS_URL} ({exc}); start it to test several server processes")
    return REDIS_URL


def post_lot(url, headers, farm_id, product):
    until = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).isoformat()
    answer = requests.post(url + "/api/v1/lots", headers=headers, timeout=30, json={
        "farm_id": farm_id, "product": product, "category": "vegetables", "unit": "kg", "quantity": 30,
        "price_cents": 280, "available_until": until})
    assert answer.status_code == 201, answer.text
    return answer.json()


def setup_exchange(url):
    """A producer with a farm in Cahors and a trader watching 25 km around Cahors: (producer headers, farm id, trader token, watch id)."""
    p_headers, _, _ = sign_up(url, "producer")
    farm = requests.post(url + "/api/v1/farms", headers=p_headers, timeout=30,
                         json={"name": "Ferme du Causse", "postcode": "46000"})
    assert farm.status_code == 201, farm.text
    t_headers, t_token, _ = sign_up(url, "trader", base={"postcode": "46000"})
    watch = requests.post(url + "/api/v1/watches", headers=t_headers, timeout=30,
                          json={"radius_km": 25, "categories": ["vegetables"]})
    assert watch.status_code == 201, watch.text
    return p_headers, farm.json()["id"], t_token, watch.json()["id"]


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
    """With `flask serve`, gunicorn's threaded worker and its gevent worker (production)."""
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
