"""A server killed (SIGKILL) in the middle of its work: nothing acknowledged is lost, nothing is held twice,
the stock still adds up, and feed clients resume where they were.

Real `flask serve` processes on a database of their own (a SQLite file, or a new PostgreSQL database
when TEST_DATABASE_URL is set); the kill is a SIGKILL, so no shutdown handler runs.
"""
from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.conftest import PG_URL
from tests.live_server import (FeedListener, LiveServer, flask_command, fresh_database, post_lot, setup_exchange,
                               sign_up)

pytestmark = pytest.mark.slow

TRADERS = 4
ACKNOWLEDGED_BEFORE_KILL = 24  # the kill comes once this many reservations were answered 201
REQUEST_TIMEOUT_S = 10


@pytest.fixture
def database_url(tmp_path):
    with fresh_database(tmp_path, PG_URL) as url:
        yield url


class ReservationStream:
    """One thread per trader posting 1 kg reservations, each with a new Idempotency-Key, until a request fails.

    `acknowledged[key]` is the reservation answered 201; `unanswered` the keys whose request got no answer
    (the server died under it, or refused the connection): the server may or may not have committed them.
    """

    def __init__(self, url: str, lot_id: int, traders: list[dict]):
        self.url, self.lot_id = url, lot_id
        self.acknowledged: dict[tuple[int, str], dict] = {}
        self.unanswered: list[tuple[int, str]] = []
        self.refused: list[tuple[int, str, int, str]] = []  # answers other than 201: none expected
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i, headers), daemon=True)
                         for i, headers in enumerate(traders)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def _run(self, trader: int, headers: dict) -> None:
        for n in range(10_000):
            key = f"trader{trader}-{n}"
            try:
                answer = requests.post(f"{self.url}/api/v1/lots/{self.lot_id}/reservations", timeout=REQUEST_TIMEOUT_S,
                                       headers=headers | {"Idempotency-Key": key}, json={"quantity": 1})
            except requests.RequestException:
                with self._lock:
                    self.unanswered.append((trader, key))
                return
            with self._lock:
                if answer.status_code == 201:
                    self.acknowledged[(trader, key)] = answer.json()
                else:
                    self.refused.append((trader, key, answer.status_code, answer.text[:200]))
                    return

    def wait_for(self, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.acknowledged) < count and time.monotonic() < deadline and not self.refused:
            time.sleep(0.01)

    def join(self, timeout_s: float) -> None:
        for thread in self._threads:
            thread.join(timeout_s)
        assert not any(thread.is_alive() for thread in self._threads), "a client thread is stuck"


def reservations_of(url: str, headers: dict) -> dict[int, dict]:
    """All of this trader's reservations, by id, page after page."""
    found, page = {}, 1
    while True:
        answer = requests.get(f"{url}/api/v1/reservations", headers=headers, timeout=REQUEST_TIMEOUT_S,
                              params={"page": page, "page_size": 200})
        assert answer.status_code == 200, answer.text
        found |= {r["id"]: r for r in answer.json()}
        if len(answer.json()) < 200:
            return found
        page += 1


def test_sigkill_during_reservations_loses_no_acknowledged_hold_and_retries_never_hold_twice(database_url):
    lot_quantity = 5_000
    with LiveServer(database_url) as first:
        p_headers, farm_id, _, _ = setup_exchange(first.url)
        lot = post_lot(first.url, p_headers, farm_id, "Pommes de terre", quantity=lot_quantity)
        traders = [sign_up(first.url, "trader")[0] for _ in range(TRADERS)]
        stream = ReservationStream(first.url, lot["id"], traders)
        stream.start()
        stream.wait_for(ACKNOWLEDGED_BEFORE_KILL, timeout_s=120)
        assert not stream.refused, stream.refused
        assert len(stream.acknowledged) >= ACKNOWLEDGED_BEFORE_KILL, first.log_tail()
        first.kill()  # requests are in flight: every client thread is still posting
        stream.join(timeout_s=REQUEST_TIMEOUT_S + 5)
    assert not stream.refused, stream.refused
    assert len(stream.unanswered) == TRADERS  # each thread stopped on the request the kill cut off

    with LiveServer(database_url) as second:
        # 1. Every acknowledged reservation is there, as it was answered.
        held = {i: reservations_of(second.url, headers) for i, headers in enumerate(traders)}
        for (trader, key), answered in stream.acknowledged.items():
            kept = held[trader].get(answered["id"])
            assert kept is not None, f"acknowledged reservation {answered['id']} ({key}) lost"
            assert (kept["lot_id"], kept["quantity"], kept["status"]) == (lot["id"], 1, "pending")

        # 2. Retrying what got no answer, with the same key, gives one reservation per key; retrying
        #    everything once more gives the same ones again.
        by_key = {key: r["id"] for (_, key), r in stream.acknowledged.items()}
        for trader, key in stream.unanswered:
            answer = requests.post(f"{second.url}/api/v1/lots/{lot['id']}/reservations", timeout=REQUEST_TIMEOUT_S,
                                   headers=traders[trader] | {"Idempotency-Key": key}, json={"quantity": 1})
            assert answer.status_code == 201, answer.text
            by_key[key] = answer.json()["id"]
        for (trader, key) in [*stream.acknowledged, *stream.unanswered]:
            answer = requests.post(f"{second.url}/api/v1/lots/{lot['id']}/reservations", timeout=REQUEST_TIMEOUT_S,
                                   headers=traders[trader] | {"Idempotency-Key": key}, json={"quantity": 1})
            assert answer.status_code == 201 and answer.json()["id"] == by_key[key], answer.text

        held = {i: reservations_of(second.url, headers) for i, headers in enumerate(traders)}
        all_held = [r for rs in held.values() for r in rs.values()]
        assert sorted(r["id"] for r in all_held) == sorted(by_key.values()), "a key holds twice, or a hold has no key"
        remaining = requests.get(f"{second.url}/api/v1/lots/{lot['id']}", headers=p_headers, timeout=REQUEST_TIMEOUT_S)
        assert remaining.json()["quantity_available"] == lot_quantity - len(all_held)

    # 3. The books balance, checked by the operator's command on the database itself.
    check = flask_command(database_url, "check-integrity")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "1 lots checked" in check.stdout


def test_feed_client_resumes_after_the_server_is_killed_without_gap_or_duplicate(database_url):
    with LiveServer(database_url) as first:
        p_headers, farm_id, t_token, _ = setup_exchange(first.url)
        listener = FeedListener(first.url, t_token, since=0, reconnect=True)
        try:
            listener.wait_for("ready")
            before = post_lot(first.url, p_headers, farm_id, "Avant l'arrêt")
            listener.wait_for("lot")
            first.kill()

            # While the client's server is down, lots are posted through another process on the same database.
            with LiveServer(database_url) as other:
                missed = [post_lot(other.url, p_headers, farm_id, f"Pendant l'arrêt {i}") for i in range(3)]
            assert listener.events("lot")[-1]["lot"]["id"] == before["id"]

            # The server comes back where the client expects it; the client reconnects with its last seq.
            with LiveServer(database_url, port=first.port) as again:
                assert len(listener.wait_for("ready", 2, timeout_s=30)) == 2, again.log_tail()
                after = post_lot(again.url, p_headers, farm_id, "Après le retour")
                lots = listener.wait_for("lot", 5, timeout_s=15)
                time.sleep(0.5)  # room for a duplicate to show up
                lots = listener.events("lot")
        finally:
            listener.close()
    expected = [before["id"], *(lot["id"] for lot in missed), after["id"]]
    assert [event["lot"]["id"] for event in lots] == expected
    assert [event["seq"] for event in lots] == sorted({event["seq"] for event in lots})
    assert not listener.events("resync")
