"""The benches' lean /feed client (bench/leanfeed.py) receives what python-socketio's client receives.

The feed bench measures latency with the lean client by default, so it must see a real server's
events exactly as a python-socketio client does: same events, same order, same per-room fields,
nothing for a trader who is not watching, a refusal without a token, a replay with `since`.
"""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.leanfeed import LeanFeedClient, Refused, session
from tests.conftest import PG_URL
from tests.live_server import FeedListener, LiveServer, fresh_database, post_lot, setup_exchange, sign_up

pytestmark = pytest.mark.slow


def _run(coroutine):
    """asyncio.run in a thread of its own: earlier tests (Playwright's sync API) may leave a loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture
def database_url(tmp_path):
    with fresh_database(tmp_path, PG_URL) as url:
        yield url


class Received:
    """What one lean client got: (event, data, arrival) in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict, float]] = []

    def __call__(self, name: str, data: dict, at: float) -> None:
        self.events.append((name, data, at))

    def of(self, name: str) -> list[dict]:
        return [data for event, data, _ in self.events if event == name]

    async def wait_for(self, name: str, count: int = 1, timeout_s: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        while len(self.of(name)) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.of(name)


async def _lean_session(url: str, watching: str, idle: str, post_three) -> tuple[Received, Received]:
    """A watching and an idle trader on lean clients while three lots are posted; what each received."""
    async with session() as http:
        got, got_idle = Received(), Received()
        clients = [LeanFeedClient(http, url, watching, got), LeanFeedClient(http, url, idle, got_idle)]
        for client in clients:
            await client.connect(timeout_s=10)
        await got.wait_for("ready")
        await got_idle.wait_for("ready")
        await asyncio.to_thread(post_three)
        await got.wait_for("lot", 3)
        await asyncio.sleep(0.5)  # the idle trader's room was in the same fan-out; give anything stray time to land
        for client in clients:
            await client.disconnect()
        assert [client.reason for client in clients] == ["client disconnect"] * 2
        return got, got_idle


async def _lean_since(url: str, token: str, since: int) -> list[dict]:
    async with session() as http:
        got = Received()
        client = LeanFeedClient(http, url, token, got, since=since)
        await client.connect(timeout_s=10)
        await got.wait_for("ready")
        await client.disconnect()
        return got.of("lot")


async def _lean_refused(url: str, token: str) -> None:
    async with session() as http:
        await LeanFeedClient(http, url, token, Received()).connect(timeout_s=10)


def test_the_lean_client_receives_the_same_events_as_python_socketio(database_url):
    with LiveServer(database_url, server="gunicorn-gevent") as server:
        p_headers, farm_id, t_token, watch_id = setup_exchange(server.url)
        _, idle_token, _ = sign_up(server.url, "trader")  # no watch: must get nothing
        reference, reference_idle = FeedListener(server.url, t_token), FeedListener(server.url, idle_token)
        try:
            reference.wait_for("ready")
            reference_idle.wait_for("ready")
            posted = []
            got, got_idle = _run(_lean_session(server.url, t_token, idle_token, lambda: posted.extend(
                post_lot(server.url, p_headers, farm_id, f"Poireaux {i}")["id"] for i in range(3))))
            expected = reference.wait_for("lot", 3)
        finally:
            reference.close()
            reference_idle.close()

        assert [e["lot"]["id"] for e in expected] == posted
        assert got.of("lot") == expected  # every field: seq, type, lot, distance_km, watch_ids
        assert {tuple(e["watch_ids"]) for e in got.of("lot")} == {(watch_id,)}
        assert got.of("ready") == reference.events("ready")
        # The trader who watches nothing: ready, and no lot, on both clients.
        assert got_idle.of("ready") and got_idle.of("lot") == [] == reference_idle.events("lot")
        # Arrival times are the client's monotonic clock, in arrival order.
        times = [at for name, _, at in got.events if name == "lot"]
        assert times == sorted(times) and time.monotonic() - times[-1] < 60

        # Resuming after the first lot: exactly the two after it, as python-socketio's client gets them.
        since = expected[0]["seq"]
        replayed = _run(_lean_since(server.url, t_token, since))
        again = FeedListener(server.url, t_token, since=since)
        try:
            again.wait_for("ready")
            assert replayed == again.events("lot") == expected[1:]
        finally:
            again.close()

        with pytest.raises(Refused):
            _run(_lean_refused(server.url, "not-a-token"))
