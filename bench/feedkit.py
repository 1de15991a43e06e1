"""What the feed benches share: a migrated database with traders, real servers, fleets of websocket clients.

Clients run in processes of their own (`ClientFleet`), each holding hundreds of asyncio
connections, so that the server process is measured, not the clients; they record
`time.monotonic()` (system-wide on Linux) when each `lot` event arrives. The clients are the lean
ones of bench/leanfeed.py (a bare websocket, a fraction of the CPU) unless
`BENCH_FEED_CLIENT=python-socketio` asks for python-socketio's asyncio client.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import gc
import multiprocessing as mp
import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from tests.live_server import LiveServer, prepare_database

CAHORS = {"lat": 44.4475, "lon": 1.4419}


@dataclass
class Exchange:
    database_url: str
    producer_token: str
    lot_id: int
    trader_tokens: list[str]


@contextmanager
def database():
    """A fresh migrated database: BENCH_DATABASE_URL (PostgreSQL, emptied first) or a SQLite file."""
    url = os.environ.get("BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="carreau-bench-") as tmp:
        if url:
            from sqlalchemy import create_engine, text

            engine = create_engine(url)
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            engine.dispose()
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        prepare_database(url)
        yield url


def populate(database_url: str, traders: int) -> Exchange:
    """A producer with a farm and one lot near Cahors, and `traders` traders each watching 30 km around it.

    The producer, farm and lot go through the domain services; the traders, their tokens and watches
    are inserted in bulk (thousands of argon2 hashes and commits would take minutes). Each server
    process loads the watches into its index on first use, as after a restart.
    """
    import secrets

    from sqlalchemy import insert, select

    from exchange import create_app
    from exchange.domain import accounts, farms, lots
    from exchange.extensions import db
    from exchange.models import ApiToken, User, Watch
    from exchange.models.accounts import hash_token
    from exchange.models.types import utcnow

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None,
                      "ARGON2_PARAMETERS": {"time_cost": 1, "memory_cost": 8, "parallelism": 1}})
    with app.app_context():
        producer = accounts.create_user(email="bench-producer@example.org", password="bench-password-1",
                                        role="producer", name="Bench producer")
        farm = farms.create_farm(producer, name="Ferme du banc", postcode="46000", **CAHORS)
        lot = lots.post_lot(producer, farm_id=farm.id, product="Tomates", category="vegetables", unit="kg",
                            quantity=Decimal(1000), price_cents=250,
                            available_until=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2))
        password_hash = producer.password_hash
        now = utcnow()
        db.session.execute(insert(User), [
            {"email": f"bench-trader-{i}@example.org", "password_hash": password_hash, "role": "trader",
             "name": f"Bench trader {i}", "locale": "fr", "territory": [], "active": True, "created_at": now}
            for i in range(traders)])
        ids = db.session.scalars(select(User.id).where(User.role == "trader").order_by(User.id)).all()
        tokens = [secrets.token_urlsafe(32) for _ in ids]
        db.session.execute(insert(ApiToken), [
            {"user_id": uid, "token_hash": hash_token(tok), "created_at": now, "expires_at": now + dt.timedelta(days=1)}
            for uid, tok in zip(ids, tokens)])
        db.session.execute(insert(Watch), [
            {"trader_id": uid, "lat": CAHORS["lat"], "lon": CAHORS["lon"], "radius_km": 30.0,
             "categories_text": "vegetables", "labels_text": "", "active": True, "created_at": now, "updated_at": now}
            for uid in ids])
        db.session.commit()
        exchange = Exchange(database_url, accounts.issue_token(producer), lot.id, tokens)
        db.session.remove()
        db.engine.dispose()
    return exchange


# --- client fleets -------------------------------------------------------------------------------

CLIENTS = ("lean", "python-socketio")


def client_kind() -> str:
    """Which client the fleets run: BENCH_FEED_CLIENT, "lean" (bench/leanfeed.py, the default) or "python-socketio"."""
    kind = os.environ.get("BENCH_FEED_CLIENT", "lean")
    if kind not in CLIENTS:
        raise ValueError(f"BENCH_FEED_CLIENT must be one of {', '.join(CLIENTS)}, not {kind!r}")
    return kind


async def _hold(url: str, tokens: list[str], arrivals: list, pipe, kind: str, concurrency: int = 40) -> None:
    """Connect one client per token, report how many are ready, then answer the fleet's commands."""
    gate = asyncio.Semaphore(concurrency)
    if kind == "lean":
        from bench import leanfeed

        session = leanfeed.session()
        connect = _lean_connector(session, url, arrivals)
    else:
        session = None
        connect = _socketio_connector(url, arrivals)
    clients, dropped = [], {}

    async def hold(token: str) -> None:
        async with gate:
            for attempt in range(5):
                try:
                    clients.append(await connect(token, dropped))
                    return
                except Exception:  # noqa: BLE001 - a busy server refuses some; try again a little later
                    await asyncio.sleep(0.5 * (attempt + 1))

    await asyncio.gather(*(hold(t) for t in tokens))
    # A full garbage collection here (38-57 ms each, twice in a run at 1,000 clients, 250 per process)
    # would hold back every arrival of this process's connections at once: the browsers these clients
    # stand for do not share one. Young collections go on; full ones wait for the end of the run.
    gc.freeze()
    gc.set_threshold(*gc.get_threshold()[:2], 2**30)
    pipe.send(("ready", len(clients)))
    loop = asyncio.get_running_loop()
    while (command := await loop.run_in_executor(None, pipe.recv)) != "stop":
        if command == "count":
            pipe.send(("count", len(arrivals), sum(1 for c in clients if c.connected), dropped))
    pipe.send(("arrivals", arrivals))
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
    if session is not None:
        await session.close()


def _lean_connector(session, url: str, arrivals: list):
    from bench.leanfeed import LeanFeedClient

    async def connect(token: str, dropped: dict):
        got_ready = asyncio.Event()

        def on_event(name: str, data: dict, at: float) -> None:
            if name == "lot":
                arrivals.append((data["lot"]["quantity_available"], at))
            elif name == "ready":
                got_ready.set()

        client = LeanFeedClient(session, url, token, on_event)
        await client.connect(timeout_s=30)
        try:
            await asyncio.wait_for(got_ready.wait(), 30)
        except BaseException:
            await client.disconnect()
            raise

        def ended(_closed) -> None:
            if client.reason != "client disconnect":
                dropped[client.reason] = dropped.get(client.reason, 0) + 1
        asyncio.ensure_future(client.closed()).add_done_callback(ended)
        return client
    return connect


def _socketio_connector(url: str, arrivals: list):
    import socketio

    async def connect(token: str, dropped: dict):
        sio = socketio.AsyncClient(reconnection=False)
        got_ready = asyncio.Event()

        @sio.on("lot", namespace="/feed")
        async def on_lot(data):
            arrivals.append((data["lot"]["quantity_available"], time.monotonic()))

        @sio.on("ready", namespace="/feed")
        async def on_ready(data):
            got_ready.set()

        @sio.on("disconnect", namespace="/feed")
        async def on_disconnect(reason=None):
            dropped[str(reason)] = dropped.get(str(reason), 0) + 1

        try:
            await sio.connect(url, namespaces=["/feed"], transports=["websocket"], auth={"token": token},
                              wait_timeout=30)
            await asyncio.wait_for(got_ready.wait(), 30)
        except BaseException:
            await sio.disconnect()
            raise
        return sio
    return connect


def _client_process(url: str, tokens: list[str], pipe, kind: str) -> None:
    asyncio.run(_hold(url, tokens, [], pipe, kind))


class ClientFleet:
    """`processes` client processes sharing `tokens`, spread over the given server URLs."""

    def __init__(self, urls: list[str], tokens: list[str], processes: int, kind: str | None = None):
        self.kind = kind or client_kind()
        ctx = mp.get_context("spawn")
        self._pipes, self._procs = [], []
        self.dropped: dict[str, int] = {}  # why connections ended, as the clients saw it (last counts())
        for i in range(processes):
            parent, child = ctx.Pipe()
            share = tokens[i::processes]
            url = urls[i % len(urls)]
            proc = ctx.Process(target=_client_process, args=(url, share, child, self.kind), daemon=True)
            proc.start()
            self._pipes.append(parent)
            self._procs.append(proc)

    def wait_connected(self, timeout_s: float = 600) -> int:
        """How many connections are live (each has had its `ready`)."""
        total = 0
        for pipe in self._pipes:
            if not pipe.poll(timeout_s):
                raise TimeoutError("client process did not connect in time")
            _, count = pipe.recv()
            total += count
        return total

    def counts(self) -> tuple[int, int]:
        """(events received so far, connections still up), without stopping the clients."""
        received = live = 0
        self.dropped = {}
        for pipe in self._pipes:
            pipe.send("count")
        for pipe in self._pipes:
            _, got, up, why = pipe.recv()
            for reason, n in why.items():
                self.dropped[reason] = self.dropped.get(reason, 0) + n
            received += got
            live += up
        return received, live

    def settle(self, expected: int, timeout_s: float) -> int:
        """Wait until `expected` events have arrived or nothing more arrives for a few seconds; how many did."""
        deadline, last, quiet_since = time.monotonic() + timeout_s, -1, time.monotonic()
        while time.monotonic() < deadline:
            received, _ = self.counts()
            if received >= expected:
                return received
            if received != last:
                last, quiet_since = received, time.monotonic()
            elif time.monotonic() - quiet_since > 5:
                return received
            time.sleep(0.5)
        return last

    def arrivals(self) -> list[tuple[float, float]]:
        """Stop the clients; every (quantity_available, arrival time) they recorded."""
        found = []
        for pipe in self._pipes:
            pipe.send("stop")
        for pipe in self._pipes:
            _, got = pipe.recv()
            found += got
        for proc in self._procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
        return found

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self._procs]

    def cpu_seconds(self) -> float:
        """CPU time used so far by the client processes together."""
        return sum(cpu_seconds(proc.pid) for proc in self._procs)

    def kill(self) -> None:
        for proc in self._procs:
            if proc.is_alive():
                proc.kill()


def serving_pid(pid: int) -> int:
    """The process that holds the connections: gunicorn's single worker, or the process itself."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(children[0]) if children else pid


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def load_average() -> float:
    """The machine's 1-minute load average: how many others wanted the CPU meanwhile."""
    return round(os.getloadavg()[0], 1)


def process_memory(pid: int) -> dict:
    """RSS in MiB and thread count of the process serving the connections, from /proc."""
    pid = serving_pid(pid)
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "Threads"):
            fields[key] = int(value.split()[0])
    return {"rss_mib": round(fields.get("VmRSS", 0) / 1024, 1), "threads": fields.get("Threads", 0)}


__all__ = ["ClientFleet", "Exchange", "LiveServer", "cpu_seconds", "database", "load_average", "populate",
           "process_memory", "serving_pid"]
