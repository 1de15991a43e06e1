"""Reservations over HTTP against a real server process: throughput under contention, and oversell.

For each database (SQLite file in WAL mode; PostgreSQL when it answers at $BENCH_PG_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres, where a throw-away database is created):
- the schema, a producer, traders with bearer tokens and lots are made through the domain services;
- gunicorn serves `wsgi:app` on a free port, without the proxy: two gevent workers as in production
  (docs/feed.md; `SOCKETIO_ASYNC_MODE=gevent`, `DATABASE_POOL_SIZE` 16 for the 32 clients), and on PostgreSQL
  also two gthread workers of 8 threads, the setting of the figures measured before 2026-11-27, and the gevent
  workers with 4 pooled connections each and no overflow (`DATABASE_POOL_SIZE=4 DATABASE_MAX_OVERFLOW=0`: the
  requests beyond wait for a connection instead of all reaching PostgreSQL at once);
- concurrent clients with keep-alive connections POST /lots/{id}/reservations:
  `one lot`: everyone on the same lot, offered less than what is asked (contention, then refusals);
  `many lots`: each request on a random lot among 200 (little contention).
Two load generators, each on fresh data: `python` (32 threads of http.client, a fixed number of requests)
and `wrk` (Debian's wrk, 32 connections on one thread for a fixed time, bench/lua/reserve.lua), which costs
the shared two cores far less CPU a request, as clients on other machines would; skipped where wrk is not
installed (`make bench` installs it, scripts/bench-deps.sh).
Figures: requests/s, reservations/s (201s over the whole run), holds/s until sold out (the holds' own
`created_at`, first to last: the rate of reservations under contention, before the refusals), 409s, any
other status, the CPU time per request (user + system, Linux) of the server, of PostgreSQL (its processes on
this machine) and of the load generator, the load average, oversell (units held beyond what a lot offers, from the database afterwards) and the lots whose
stock does not add up (check_integrity).
"""
from __future__ import annotations

import http.client
import json
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from bench import Row, bench

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_database() -> tuple[str, callable] | None:
    """A fresh PostgreSQL database and its dropper, or None when no server answers."""
    name = f"carreau_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server: the SQLite figures still stand
        print(f"PostgreSQL not available at {PG_ADMIN_URL}: {exc.__class__.__name__}", file=sys.stderr)
        return None

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, drop


def _prepare(url: str, traders: int, lots: list[Decimal]):
    """Schema and actors through the app's own services; returns (tokens, lot ids)."""
    import datetime as dt

    from exchange import create_app
    from exchange.domain import accounts, farms
    from exchange.domain import lots as lot_service
    from exchange.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "ARGON2_PARAMETERS": {"time_cost": 1, "memory_cost": 8,
                                                                           "parallelism": 1}})
    with app.app_context():
        db.create_all()
        producer = accounts.create_user(email="bench-producer@example.org", password="bench-password-123",
                                        role="producer", name="Bench producer")
        farm = farms.create_farm(producer, name="Ferme du banc", postcode="46000")
        until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
        lot_ids = [lot_service.post_lot(producer, farm_id=farm.id, product="Pommes", category="fruits", unit="kg",
                                        quantity=q, price_cents=180, available_until=until).id for q in lots]
        tokens = []
        for i in range(traders):
            trader = accounts.create_user(email=f"bench-trader-{i}@example.org", password="bench-password-123",
                                          role="trader", name=f"Trader {i}", base={"postcode": "46000"})
            tokens.append(accounts.issue_token(trader))
        db.session.remove()
        db.engine.dispose()
    return tokens, lot_ids


def _outcome(url: str, since) -> tuple[Decimal, int, int, float | None]:
    """Units held beyond what lots offer, lots that do not add up, reservations made, and the holds per second
    made from `since` on (their count over the time from the first to the last, by their `created_at`)."""
    from exchange import create_app
    from exchange.domain.integrity import lot_balances
    from exchange.extensions import db
    from exchange.models import Reservation

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        balances = lot_balances()
        over = sum((max(Decimal(0), b.quantity_held - b.quantity_offered) for b in balances), Decimal(0))
        bad = sum(1 for b in balances if b.problems)
        made = db.session.scalar(select(func.count()).select_from(Reservation))
        count, first, last = db.session.execute(
            select(func.count(), func.min(Reservation.created_at), func.max(Reservation.created_at))
            .where(Reservation.created_at >= since)).one()
        rate = count / (last - first).total_seconds() if count > 1 and last > first else None
        db.session.remove()
        db.engine.dispose()
    return over, bad, made, rate


class Server:
    """gunicorn serving the app on a free port, with its own environment; stopped by stop().
    `worker`: "gevent" (as in production) or "gthread" (`threads` threads per worker)."""

    def __init__(self, url: str, workers: int, threads: int, worker: str = "gthread", pool_size: int = 10,
                 max_overflow: int = 10):
        self.port = _free_port()
        env = os.environ | {"DATABASE_URL": url, "SECRET_KEY": "bench-" + uuid.uuid4().hex, "CARREAU_ENV": "",
                            "REDIS_URL": "", "PYTHONUNBUFFERED": "1", "DATABASE_POOL_SIZE": str(pool_size),
                            "DATABASE_MAX_OVERFLOW": str(max_overflow),
                            "SOCKETIO_ASYNC_MODE": "gevent" if worker == "gevent" else "threading"}
        concurrency = (["--worker-connections", "1000"] if worker == "gevent" else ["--threads", str(threads)])
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-k", worker, "-w", str(workers), *concurrency,
             "-b", f"127.0.0.1:{self.port}", "--backlog", "512", "--log-level", "warning", "wsgi:app"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the server did not answer /healthz within 30 s")

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) used so far by the server and its workers; None where /proc is missing."""
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
            total = 0
            for pid in [self.process.pid, *map(int, children)]:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
        except (OSError, ValueError, IndexError):
            return None
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> str:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


def _postgres_cpu_seconds() -> float | None:
    """CPU time (user + system) used so far by this machine's PostgreSQL processes; None where none is seen (another
    machine) or /proc is missing. Backends that exit meanwhile take their share with them: the pool keeps them open."""
    total, seen = 0, False
    try:
        processes = [p for p in Path("/proc").iterdir() if p.name.isdigit()]
    except OSError:
        return None
    for process in processes:
        try:
            stat = (process / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        name, _, rest = stat.partition(" (")[2].rpartition(")")
        if name in ("postgres", "postmaster"):
            fields = rest.split()
            total, seen = total + int(fields[11]) + int(fields[12]), True
    return total / os.sysconf("SC_CLK_TCK") if seen else None


def _load(port: int, tokens: list[str], lot_ids: list[int], requests: int, clients: int, seed: int) -> Row:
    """`clients` threads share `requests` reservations of 1 unit; each keeps its connection open."""
    cpu_before = os.times()
    rng = random.Random(seed)
    plan = [(rng.choice(tokens), rng.choice(lot_ids)) for _ in range(requests)]
    cursor = iter(range(requests))
    lock = threading.Lock()
    statuses: Counter = Counter()
    latencies: list[float] = []
    barrier = threading.Barrier(clients + 1)

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine, seen = [], Counter()
        barrier.wait()
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            token, lot_id = plan[i]
            t0 = time.perf_counter()
            try:
                conn.request("POST", f"/api/v1/lots/{lot_id}/reservations", body=json.dumps({"quantity": 1}),
                             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                seen[response.status] += 1
            except (OSError, http.client.HTTPException):
                seen["error"] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            mine.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            statuses.update(seen)
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    cpu = os.times()
    client_cpu_s = cpu.user + cpu.system - cpu_before.user - cpu_before.system
    latencies.sort()
    other = sum(n for status, n in statuses.items() if status not in (201, 409))
    return {"requests": requests, "clients": clients, "seconds": round(seconds, 2),
            "requests_per_s": requests / seconds, "reservations_per_s": statuses[201] / seconds,
            "created": statuses[201], "refused_409": statuses[409], "other_status": other,
            "p50_ms": latencies[len(latencies) // 2] * 1e3, "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3,
            "client_cpu_ms_per_request": client_cpu_s * 1e3 / requests}


def _load_wrk(port: int, tokens: list[str], lot_ids: list[int], seconds: int, clients: int) -> Row:
    """wrk for `seconds`: `clients` keep-alive connections on one thread, each request 1 unit of a random lot."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="carreau-bench-plan-") as plan:
        plan.write("bench_tokens = {%s}\nbench_lots = {%s}\n" % (", ".join(json.dumps(t) for t in tokens),
                                                                ", ".join(str(i) for i in lot_ids)))
        plan.flush()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "30s",
                               "-s", str(ROOT / "bench" / "lua" / "reserve.lua"), f"http://127.0.0.1:{port}"],
                              env=os.environ | {"BENCH_PLAN": plan.name}, capture_output=True, text=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = re.search(r"^BENCH_RESULT (.*)$", done.stdout, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"wrk gave no result:\n{done.stdout}\n{done.stderr}")
    result = json.loads(found.group(1))
    statuses = {int(status): n for status, n in result["statuses"].items()}
    requests = result["requests"]
    other = sum(n for status, n in statuses.items() if status not in (201, 409)) + result["socket_errors"]
    return {"requests": requests, "clients": clients, "seconds": round(result["seconds"], 2),
            "requests_per_s": requests / result["seconds"], "reservations_per_s": statuses.get(201, 0) / result["seconds"],
            "created": statuses.get(201, 0), "refused_409": statuses.get(409, 0), "other_status": other,
            "p50_ms": result["p50_us"] / 1e3, "p99_ms": result["p99_us"] / 1e3,
            "client_cpu_ms_per_request": (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
                                         * 1e3 / max(requests, 1)}


SMALL_POOL_SIZE = 4
SMALL_POOL = f", {SMALL_POOL_SIZE} connections a worker"


def _scenario(backend: str, url: str, name: str, lots: list[Decimal], requests: int, clients: int, workers: int,
              threads: int, generator: str, seconds: int, worker: str = "gthread") -> Row:
    import datetime as dt

    tokens, lot_ids = _prepare(url, traders=50, lots=lots)
    if backend.endswith(SMALL_POOL):  # the requests beyond queue for a connection instead of all reaching PostgreSQL
        pool = {"pool_size": SMALL_POOL_SIZE, "max_overflow": 0}
    else:  # as many pooled connections as requests a worker runs at once: threads, or its share of the clients
        pool = {"pool_size": threads if worker == "gthread" else -(-clients // workers)}
    server = Server(url, workers, threads, worker, **pool)
    try:
        _load(server.port, tokens, lot_ids, min(200, requests), clients, seed=1)  # warm up every worker
        since = dt.datetime.now(dt.timezone.utc)
        cpu_before, load_before = server.cpu_seconds(), os.getloadavg()[0]
        postgres_before = _postgres_cpu_seconds() if backend != "sqlite" else None
        if generator == "wrk":
            row = _load_wrk(server.port, tokens, lot_ids, seconds, clients)
        else:
            row = _load(server.port, tokens, lot_ids, requests, clients, seed=2)
        cpu_after = server.cpu_seconds()
        postgres_after = _postgres_cpu_seconds() if postgres_before is not None else None
        row["server_cpu_ms_per_request"] = (None if cpu_before is None or cpu_after is None else
                                            (cpu_after - cpu_before) * 1e3 / row["requests"])
        row["postgres_cpu_ms_per_request"] = (None if postgres_after is None else
                                              (postgres_after - postgres_before) * 1e3 / row["requests"])
        row["load_average"] = f"{load_before:.1f}–{os.getloadavg()[0]:.1f}"
    finally:
        log = server.stop()
    over, bad_lots, made, holds_per_s = _outcome(url, since)
    if row["other_status"]:
        print(log[-3000:], file=sys.stderr)
    server_name = f"gunicorn {workers}x{threads} threads" if worker == "gthread" else f"gunicorn {workers} gevent"
    return ({"database": backend, "scenario": name, "server": server_name, "client": generator}
            | row | {"holds_per_s_until_sold_out": holds_per_s, "oversold_units": float(over),
                     "lots_not_adding_up": bad_lots, "reservations_in_db": made})


@bench("reservations", "POST /lots/{id}/reservations over HTTP: one contended lot and 200 lots, SQLite and PostgreSQL")
def run(quick: bool) -> list[Row]:
    requests, seconds = (600, 3) if quick else (3000, 10)
    clients = 32
    workers, threads = 2, 8
    generators = ["python"] + (["wrk"] if shutil.which("wrk") else [])
    if "wrk" not in generators:
        print("wrk is not installed (scripts/bench-deps.sh): reservations measured with the Python client only",
              file=sys.stderr)
    rows = []
    configurations = [("sqlite", "gthread"), ("postgresql", "gevent"), ("postgresql" + SMALL_POOL, "gevent"),
                      ("postgresql", "gthread"),
                      ("postgresql async commit", "gevent")]
    if quick:  # SQLite, and PostgreSQL as in production; one load generator (wrk where installed)
        configurations, generators = configurations[:2], generators[-1:]
    for (backend, worker), generator in [(c, g) for c in configurations for g in generators]:
        for name, lots in (("one lot", [Decimal(requests * 3 // 4)]),  # the last quarter is refused
                           ("many lots", [Decimal(1000)] * 200)):
            if backend == "sqlite":
                folder = tempfile.TemporaryDirectory()
                url, drop = f"sqlite:///{folder.name}/bench.sqlite3", folder.cleanup
            else:
                made = _pg_database()
                if made is None:
                    continue
                url, drop = made
                if backend.endswith("async commit"):
                    # The operator's choice, in DATABASE_URL: commits return before the WAL reaches the disk.
                    url += "?options=-csynchronous_commit%3Doff"
            try:
                rows.append(_scenario(backend, url, name, lots, requests, clients, workers, threads, generator,
                                      seconds, worker))
            finally:
                drop()
    return rows
