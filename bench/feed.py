"""From a stock change's HTTP answer to its receipt by 100 and 1,000 websocket clients.

A producer changes a lot's stock (PATCH /lots/{id}) while N traders, all watching around the
farm, are connected to /feed from client processes. For every change and every client:
latency = time the `lot` event arrived at the client - time the PATCH answer reached the
producer (both `time.monotonic()`, one clock on Linux); `from_sent` counts from when the PATCH
was sent instead: what a trader waits for, whichever way delivery runs. Delivery happens after
the commit in the server's background delivery task (FEED_DELIVERY=background), so the answer
does not wait for the fan-out; with FEED_DELIVERY=inline in the environment it runs inside the
request, and an event can then arrive before the answer (a negative latency). The servers' CPU
seconds during the changes, the client processes' (which share the machine), and the machine's load
average are recorded beside the latencies.

Scenarios (BENCH_FEED_CLIENTS, default "100,1000"), for each async mode (BENCH_ASYNC_MODES,
default "gevent,gthread,threading": gunicorn's gevent worker as in production, its threaded
worker, and `flask serve`): one server process (in-process client manager); two server processes
joined by Redis (REDIS_URL), clients split over both, changes made through the first. Target
(issue 4): p99 <= 100 ms for 1,000 clients on one process.
"""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import requests

from bench import Row, bench, percentile
from bench.feedkit import ClientFleet, LiveServer, cpu_seconds, database, load_average, populate, serving_pid

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
# Connections per client process. 500 rather than 250: each process then finds more sockets ready
# per wake-up, and the two client processes take 10-25 % less CPU from the cores the server needs.
PER_PROCESS = int(os.environ.get("BENCH_FEED_PER_PROCESS", 500))
SIZES = tuple(int(n) for n in os.environ.get("BENCH_FEED_CLIENTS", "100,1000").split(","))


def _changes(server_url: str, exchange, rounds: int, pause_s: float
             ) -> tuple[dict[float, float], dict[float, float], list[float]]:
    """Make `rounds` stock changes; the monotonic times each was sent and answered, by quantity, and request durations."""
    headers = {"Authorization": f"Bearer {exchange.producer_token}"}
    sent, answered, durations = {}, {}, []
    with requests.Session() as http:
        for i in range(rounds + 1):
            quantity = 500 + i
            started = time.monotonic()
            answer = http.patch(f"{server_url}/api/v1/lots/{exchange.lot_id}", json={"quantity_available": quantity},
                                headers=headers, timeout=60)
            done = time.monotonic()
            answer.raise_for_status()
            if i:  # the first change warms the index and the connections up
                sent[float(quantity)], answered[float(quantity)] = started, done
                durations.append(done - started)
            time.sleep(pause_s)
    return sent, answered, durations


SERVERS = {"gthread": "gunicorn-threads", "gevent": "gunicorn-gevent", "threading": "flask"}


def _pin(pid: int, cpus: set[int]) -> None:
    """Every thread of a process onto these CPUs."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), cpus)


def scenario(mode: str, clients: int, processes: int, rounds: int, pinned: bool = False) -> Row:
    """One row. `pinned`: the server processes on CPU 0, the clients and the producer on CPU 1, as an
    approximation of clients on another machine (the kernel's loopback work still lands on both)."""
    with database() as url:
        exchange = populate(url, clients)
        channel = f"carreau-bench-{uuid.uuid4().hex[:8]}"
        servers = [LiveServer(url, REDIS_URL if processes > 1 else None, channel, server=SERVERS[mode],
                              threads=clients + 100) for _ in range(processes)]
        try:
            for server in servers:
                server.start()
            fleet = ClientFleet([s.url for s in servers], exchange.trader_tokens, max(1, -(-clients // PER_PROCESS)))
            try:
                connected = fleet.wait_connected()
                pids = [serving_pid(s.process.pid) for s in servers]
                if pinned:
                    for server in servers:
                        _pin(server.process.pid, {0})
                        _pin(serving_pid(server.process.pid), {0})
                    for pid in [*fleet.pids, os.getpid()]:
                        _pin(pid, {1})
                load_before, cpu0 = load_average(), [cpu_seconds(pid) for pid in pids]
                clients_cpu0 = fleet.cpu_seconds()
                sent, answered, durations = _changes(servers[0].url, exchange, rounds, pause_s=max(0.3, clients / 2000))
                fleet.settle(connected * len(answered), timeout_s=60)
                server_cpu = [round(cpu_seconds(pid) - c, 1) for pid, c in zip(pids, cpu0)]
                clients_cpu = round(fleet.cpu_seconds() - clients_cpu0, 1)
                load_after = load_average()
                arrivals = fleet.arrivals()
            finally:
                fleet.kill()
                if pinned:
                    _pin(os.getpid(), set(range(os.cpu_count())))
        finally:
            for server in servers:
                server.stop()
    latencies = sorted((at - answered[q]) * 1000 for q, at in arrivals if q in answered)
    # From the moment the producer sent the change: what a trader waits for, whichever way delivery runs.
    end_to_end = sorted((at - sent[q]) * 1000 for q, at in arrivals if q in sent)
    expected = connected * len(answered)
    durations.sort()
    return {"async_mode": mode, "processes": processes, "clients": clients, "client": fleet.kind,
            "cpus": "server 0, clients 1" if pinned else "shared", "connected": connected, "changes": len(answered),
            "received": f"{len(latencies)}/{expected}",
            "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
            "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
            "max_ms": round(latencies[-1], 1) if latencies else None,
            "from_sent_p50_ms": round(percentile(end_to_end, 50), 1) if end_to_end else None,
            "from_sent_p99_ms": round(percentile(end_to_end, 99), 1) if end_to_end else None,
            "patch_p50_ms": round(percentile(durations, 50) * 1000, 1),
            "patch_p99_ms": round(percentile(durations, 99) * 1000, 1),
            "server_cpu_s": "+".join(map(str, server_cpu)), "clients_cpu_s": clients_cpu, "load_1m": f"{load_before} / {load_after}",
            "delivery": os.environ.get("FEED_DELIVERY", "background")}


def _redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@bench("feed", "stock change answered -> lot event received by 100 / 1,000 websocket clients (1 and 2 processes)")
def run(quick: bool) -> list[Row]:
    sizes, rounds = ((50, 200), 10) if quick else (SIZES, 30)
    rows = []
    for mode in os.environ.get("BENCH_ASYNC_MODES", "gevent,gthread,threading").split(","):
        rows += [scenario(mode, n, 1, rounds) for n in sizes]
        if mode == "gevent" and os.cpu_count() >= 2:  # an extra row, beside the headline: not instead of it
            rows.append(scenario(mode, sizes[-1], 1, rounds, pinned=True))
        if _redis_answers():
            rows.append(scenario(mode, sizes[-1], 2, rounds))
        else:
            rows.append({"async_mode": mode, "processes": 2, "clients": sizes[-1],
                         "received": f"skipped: no Redis at {REDIS_URL}"})
    return rows
