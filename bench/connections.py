"""Idle /feed websocket connections held by one server process, and what they cost it (RSS, threads).

One server process against 1,000 and 5,000 authenticated traders connected over websocket from client
processes; after the connections settle, the server's resident memory and thread count are read
from /proc, and the server must still deliver a lot event to every one of them. `dropped` says
why connections ended before that, as the clients saw it. The clients run on the same machine: on
a small one they compete with the server for CPU, so read `live_after_30s` with that in mind.

BENCH_ASYNC_MODES (default "gevent,gthread,threading"): gevent is gunicorn's gevent worker
(production), gthread gunicorn's threaded worker, threading `flask serve` (Werkzeug threads +
simple-websocket: about four threads per connection). BENCH_CONNECTIONS (default "1000,5000"),
BENCH_CLIENTS_PER_PROCESS (500) and BENCH_IDLE_S (30) change the run; SOCKETIO_PING_INTERVAL and
SOCKETIO_PING_TIMEOUT in the environment reach the server. CPU seconds are read from /proc for the
server and for the client processes together, beside the machine's load average, to tell a
server that cannot keep up from one that is starved of CPU.
"""
from __future__ import annotations

import os
import time

import requests

from bench import Row, bench
from bench.feedkit import (ClientFleet, LiveServer, cpu_seconds, database, load_average, populate, process_memory,
                           serving_pid)

SIZES = tuple(int(n) for n in os.environ.get("BENCH_CONNECTIONS", "1000,5000").split(","))
QUICK_SIZES = (100, 300)
PER_PROCESS = int(os.environ.get("BENCH_CLIENTS_PER_PROCESS", "500"))  # connections per client process
IDLE_S = float(os.environ.get("BENCH_IDLE_S", "30"))


SERVERS = {"gthread": "gunicorn-threads", "gevent": "gunicorn-gevent", "threading": "flask"}


def hold(size: int, async_mode: str) -> Row:
    with database() as url:
        exchange = populate(url, size)
        with LiveServer(url, server=SERVERS[async_mode], threads=size + 100) as server:
            requests.get(server.url + "/healthz", timeout=10)
            before = process_memory(server.process.pid)
            pid = serving_pid(server.process.pid)
            load_before = load_average()
            # python-socketio's client, not the feed bench's lean one: like a browser, it hangs up when pings
            # come late, and whether connections stay up is what this bench measures.
            fleet = ClientFleet([server.url], exchange.trader_tokens, max(1, -(-size // PER_PROCESS)),
                                kind="python-socketio")
            try:
                started, cpu0 = time.monotonic(), cpu_seconds(pid)
                connected = fleet.wait_connected()
                connect_s = time.monotonic() - started
                cpu1, clients1, load_connected = cpu_seconds(pid), fleet.cpu_seconds(), load_average()
                time.sleep(IDLE_S)  # idle: pings go both ways (every 25 s by default), the server must keep up
                held = process_memory(server.process.pid)
                cpu2, clients2 = cpu_seconds(pid), fleet.cpu_seconds()
                _, live = fleet.counts()
                dropped = ", ".join(f"{reason}: {n}" for reason, n in fleet.dropped.items()) or "-"
                open_files = len(os.listdir(f"/proc/{pid}/fd"))
                # Every idle connection must still be live: one stock change reaches all of them.
                answer = requests.patch(f"{server.url}/api/v1/lots/{exchange.lot_id}", json={"quantity_available": 999},
                                        headers={"Authorization": f"Bearer {exchange.producer_token}"}, timeout=60)
                answer.raise_for_status()
                fleet.settle(live, timeout_s=120)
                delivered = sum(1 for quantity, _ in fleet.arrivals() if quantity == 999)
            finally:
                fleet.kill()
    per_conn_kib = (held["rss_mib"] - before["rss_mib"]) * 1024 / connected if connected else None
    return {"async_mode": async_mode, "connections": size, "client_procs": max(1, -(-size // PER_PROCESS)),
            "connected": connected, "connect_s": round(connect_s, 1),
            f"live_after_{IDLE_S:g}s": live,
            "rss_idle_mib": before["rss_mib"], "rss_held_mib": held["rss_mib"],
            "kib_per_conn": round(per_conn_kib, 1) if per_conn_kib else None,
            "threads": held["threads"], "fds": open_files,
            "server_cpu_connect_s": round(cpu1 - cpu0, 1), "server_cpu_idle_s": round(cpu2 - cpu1, 1),
            "clients_cpu_connect_s": round(clients1, 1), "clients_cpu_idle_s": round(clients2 - clients1, 1),
            "load_1m": f"{load_before} / {load_connected} / {load_average()}",
            "event_delivered_to": delivered, "dropped": dropped}


@bench("connections", "idle /feed websockets held by one server process: RSS and threads at 1k / 5k")
def run(quick: bool) -> list[Row]:
    modes = os.environ.get("BENCH_ASYNC_MODES", "gevent,gthread,threading").split(",")
    return [hold(size, mode) for mode in modes for size in (QUICK_SIZES if quick else SIZES)]
