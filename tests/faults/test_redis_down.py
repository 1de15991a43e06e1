"""Redis stops under two server processes: the HTTP API keeps answering at once, the feed degrades as
docs/feed.md says (each process still delivers its own events; the log keeps everything for resume),
and delivery between the processes comes back with Redis, each process sending its clients `resync`
for the stretch they may have missed.

Redis here is a private `redis-server` on a free port, started and killed by the test.
"""
from __future__ import annotations

import shutil
import signal
import time
import uuid

import pytest
import requests

from tests.conftest import PG_URL
from tests.live_server import FeedListener, LiveServer, PrivateRedis, fresh_database, post_lot, setup_exchange, sign_up

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server program")]

FAST_S = 3.0  # "at once": an HTTP answer while Redis is down takes no longer than this
RECOVERY_S = 30.0


@pytest.fixture
def private_redis():
    server = PrivateRedis().start()
    yield server
    server.kill()


@pytest.fixture
def database_url(tmp_path):
    with fresh_database(tmp_path, PG_URL) as url:
        yield url


def timed(call):
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def test_http_keeps_working_without_redis_and_the_feed_recovers_when_it_returns(database_url, private_redis):
    channel = f"carreau-fault-{uuid.uuid4().hex}"
    # Rate limits in Redis too, as in production when only REDIS_URL is set.
    options = {"RATELIMIT_STORAGE_URI": private_redis.url}
    with LiveServer(database_url, private_redis.url, channel, **options) as one, \
            LiveServer(database_url, private_redis.url, channel, **options) as two:
        p_headers, farm_id, t_token, _ = setup_exchange(two.url)
        t_headers = {"Authorization": f"Bearer {t_token}"}
        listener = FeedListener(one.url, t_token)
        try:
            listener.wait_for("ready")
            through_two = post_lot(two.url, p_headers, farm_id, "Avant la panne")
            assert listener.wait_for("lot")[-1]["lot"]["id"] == through_two["id"]  # across processes
            position = listener.last_seq

            private_redis.kill()

            # The HTTP API: writes, reads, a reservation and a new account (rate-limited routes), each answered at once.
            lot, took = timed(lambda: post_lot(one.url, p_headers, farm_id, "Pendant la panne, par un"))
            assert took < FAST_S, (took, one.log_tail())
            held, took = timed(lambda: requests.post(f"{two.url}/api/v1/lots/{lot['id']}/reservations",
                                                     headers=t_headers, json={"quantity": 1}, timeout=FAST_S))
            assert held.status_code == 201 and took < FAST_S, (took, held.text)
            listed, took = timed(lambda: requests.get(two.url + "/api/v1/lots", headers=t_headers, timeout=FAST_S))
            assert listed.status_code == 200 and took < FAST_S, (took, listed.text)
            _, took = timed(lambda: sign_up(two.url, "trader"))
            assert took < 2 * FAST_S, took

            # The feed, degraded: a process still delivers its own events to its own clients.
            assert listener.wait_for("lot", 2)[-1]["lot"]["id"] == lot["id"]
            missed = post_lot(two.url, p_headers, farm_id, "Pendant la panne, par deux")

            # Redis returns on the same address: delivery across processes resumes by itself.
            private_redis.start()
            deadline = time.monotonic() + RECOVERY_S
            recovered = None
            while recovered is None and time.monotonic() < deadline:
                probe = post_lot(two.url, p_headers, farm_id, "Après la panne")
                if any(e["lot"]["id"] == probe["id"] for e in listener.wait_for("lot", 99, timeout_s=1.0)):
                    recovered = probe
            assert recovered is not None, f"no delivery across processes {RECOVERY_S} s after Redis returned"
            # ...and process one tells its clients from where they may have missed events.
            [gap] = listener.wait_for("resync", timeout_s=5)
            assert position <= gap["since"] < gap["last_seq"], gap
            seqs = [e["seq"] for e in listener.events("lot")]
            assert seqs == sorted(set(seqs)), "an event twice, or out of order"
        finally:
            listener.close()

        # What the outage kept from the client live is in the log: resuming from before it gets it, in order.
        again = FeedListener(one.url, t_token, since=position)
        try:
            again.wait_for("ready")
            resumed = again.events("lot")
        finally:
            again.close()
        assert [e["seq"] for e in resumed] == sorted({e["seq"] for e in resumed})
        ids = [e["lot"]["id"] for e in resumed]
        assert ids[0] == lot["id"] and missed["id"] in ids and ids[-1] == recovered["id"]
        missed_seq = resumed[ids.index(missed["id"])]["seq"]
        assert gap["since"] < missed_seq <= gap["last_seq"], "the resync does not cover the event missed"
        assert gap["since"] < resumed[0]["seq"], "an event that never went through Redis counted as shared"


def test_a_redis_that_does_not_answer_does_not_hold_requests_up(database_url, private_redis):
    """Frozen (SIGSTOP) rather than dead: connections stay open and nothing answers, as behind a lost network."""
    with LiveServer(database_url, private_redis.url, f"carreau-fault-{uuid.uuid4().hex}") as server:
        p_headers, farm_id, t_token, _ = setup_exchange(server.url)
        t_headers = {"Authorization": f"Bearer {t_token}"}
        private_redis.process.send_signal(signal.SIGSTOP)
        try:
            lot, took = timed(lambda: post_lot(server.url, p_headers, farm_id, "Redis figé"))
            assert took < FAST_S, took  # python-socketio's own publish waited 2 × 5 s here
            for _ in range(3):  # and the following ones, during the pause after the failure
                held, took = timed(lambda: requests.post(f"{server.url}/api/v1/lots/{lot['id']}/reservations",
                                                         headers=t_headers, json={"quantity": 1}, timeout=FAST_S))
                assert held.status_code == 201 and took < FAST_S, (took, held.text)
        finally:
            private_redis.process.send_signal(signal.SIGCONT)
