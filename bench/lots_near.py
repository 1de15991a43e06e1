"""Lots near a point over the API: 100,000 lots on offer, radius queries, p50/p95.

The data: 5,000 farms around the 36 towns of bench/france.py (~30 km out, as in the match bench),
20 lots each, all on offer; the schema from the migrations (so the position index is production's).
Queries come from traders' depots around the same towns (two in three within ~12 km of a town),
at 10 km, 30 km (the API's default) and 100 km, first page of 50, nearest first.

Three ways of answering the same question, on the same data:
- `api`: GET /api/v1/lots?lat&lon&radius_km through gunicorn (one gthread worker), with a trader's
  bearer token: what an integrator's client waits for (wall), and the worker's CPU per request;
- `service`: `lots_near()` in this process (bounding box on the (status, lat, lon) index, exact
  great-circle check on the rows in the box): the code's own cost;
- `scan`: what a simple implementation does, in this process: read every open lot's position and
  check the distance of each (no box), then load the page.
Answers are compared first: the service and the scan must find the same lots.
"""
from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import random
import time
from pathlib import Path

from bench import Row, bench, percentile, time_interleaved
from bench.france import _around, _category
from bench.reports_data import COLUMNS, load, pg_answers, prepare_schema
from bench.reservations import PG_ADMIN_URL, Server

SQLITE_PATH = Path(__file__).resolve().parent.parent / "instance" / "bench-lots-near.sqlite3"
PG_DATABASE = "carreau_bench_lots_near"
RADII_KM = (10.0, 30.0, 100.0)
PAGE_SIZE = 50


def generate(n_lots: int, sqlite: bool, seed: int = 7) -> dict:
    """Rows per table (producers and their farms, one trader, lots on offer)."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.timezone.utc)

    def stamp(value: dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else value

    n_farms = max(50, n_lots // 20)
    users, farms, lots = [], [], []
    for i in range(1, n_farms + 1):
        lat, lon = _around(rng, 30.0)
        users.append((i, f"producer{i}@bench.invalid", "!", "producer", f"Producteur {i}", None, None, None, None,
                      "[]", True, "fr", stamp(now)))
        farms.append((i, i, f"Ferme {i}", "46000", "Cahors", "46042", "46", lat, lon, "{}", stamp(now), stamp(now)))
    trader_id = n_farms + 1
    users.append((trader_id, "trader@bench.invalid", "!", "trader", "Acheteur", 44.45, 1.44, "46000", "Cahors", "[]",
                  True, "fr", stamp(now)))
    for lot_id in range(1, n_lots + 1):
        farm = farms[rng.randrange(n_farms)]
        category, products = _category(rng)
        offered = rng.randrange(5, 300) * 1000
        until = now + dt.timedelta(days=1 + rng.random() * 6)
        lots.append((lot_id, farm[0], rng.choice(products), category, "kg", offered, offered,
                     rng.randrange(100, 3000, 5), stamp(now), stamp(until), "", "published", farm[7], farm[8],
                     stamp(now - dt.timedelta(seconds=rng.randrange(86400))), stamp(now)))
    return {table: (COLUMNS[table], rows) for table, rows in (("users", users), ("farms", farms), ("lots", lots))}


def _queries(n: int, seed: int = 11) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [_around(rng, 12.0 if rng.random() < 2 / 3 else 45.0) for _ in range(n)]


def _scan(lat: float, lon: float, radius_km: float, page_size: int):
    """Every open lot's position read and checked: the answer without a spatial filter."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from exchange.domain.lots import _filtered
    from exchange.extensions import db
    from exchange.geo.distance import distance_km
    from exchange.models import Lot
    from exchange.models.types import utcnow

    rows = db.session.execute(_filtered(select(Lot.id, Lot.lat, Lot.lon), now=utcnow()))
    hits = sorted((d, row.id) for row in rows if (d := distance_km(lat, lon, row.lat, row.lon)) <= radius_km)
    page = [lot_id for _, lot_id in hits[:page_size]]
    loaded = {lot.id: lot for lot in db.session.scalars(
        select(Lot).where(Lot.id.in_(page)).options(selectinload(Lot.farm)))}
    return [loaded[i] for i in page], len(hits)


def _worker_cpu_s(server: Server) -> float:
    """CPU seconds used by the gunicorn master and its workers (/proc), for CPU per request."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    pids = [server.process.pid]
    try:
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
        pids += [int(p) for p in children]
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    except (OSError, ValueError):
        return float("nan")
    return total


def _over_http(server: Server, token: str, queries: list[tuple[float, float]], radius_km: float) -> Row:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"}
    walls, found = [], 0
    cpu_before = _worker_cpu_s(server)
    for lat, lon in queries:
        t0 = time.perf_counter()
        conn.request("GET", f"/api/v1/lots?lat={lat:.5f}&lon={lon:.5f}&radius_km={radius_km:g}&page_size={PAGE_SIZE}",
                     headers=headers)
        response = conn.getresponse()
        body = response.read()
        walls.append(time.perf_counter() - t0)
        if response.status != 200:
            raise RuntimeError(f"GET /lots answered {response.status}: {body[:200]!r}")
        found += int(json.loads(response.headers["X-Pagination"])["total"])
    cpu = _worker_cpu_s(server) - cpu_before
    conn.close()
    walls.sort()
    return {"p50_ms": percentile(walls, 50) * 1e3, "p95_ms": percentile(walls, 95) * 1e3,
            "p99_ms": percentile(walls, 99) * 1e3, "server_cpu_ms": cpu / len(queries) * 1e3,
            "lots_found_mean": found / len(queries)}


def _measure(url: str, n_lots: int, n_queries: int) -> list[Row]:
    from exchange import create_app
    from exchange.domain import accounts
    from exchange.domain.lots import lots_near
    from exchange.extensions import db
    from exchange.models import User

    database = "sqlite" if url.startswith("sqlite") else "postgresql"
    started = time.perf_counter()
    prepare_schema(url)
    load(url, generate(n_lots, sqlite=database == "sqlite"))
    built_s = time.perf_counter() - started
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    queries = _queries(n_queries)
    rows: list[Row] = []
    with app.app_context():
        token = accounts.issue_token(db.session.scalar(db.select(User).where(User.role == "trader")))
        for lat, lon in queries[:10]:  # same answers before any timing
            for radius_km in RADII_KM:
                page = lots_near(page=1, page_size=PAGE_SIZE, lat=lat, lon=lon, radius_km=radius_km)
                scanned, total = _scan(lat, lon, radius_km, PAGE_SIZE)
                assert page.total == total and [lot.id for lot in page.items] == [lot.id for lot in scanned], \
                    (lat, lon, radius_km)
        in_process = {}
        for radius_km in RADII_KM:
            some = queries[:30]  # the scan reads every lot: a few queries tell its cost
            figures = time_interleaved({
                "service": lambda q, r=radius_km: lots_near(page=1, page_size=PAGE_SIZE, lat=q[0], lon=q[1],
                                                            radius_km=r),
                "scan": lambda q, r=radius_km: _scan(q[0], q[1], r, PAGE_SIZE),
            }, some)
            db.session.remove()
            in_process[radius_km] = figures
        db.session.remove()
        db.engine.dispose()
    server = Server(url, workers=1, threads=4)
    try:
        for radius_km in RADII_KM:
            _over_http(server, token, queries[:10], radius_km)  # warm the worker
            api = _over_http(server, token, queries, radius_km)
            service, scan = in_process[radius_km]["service"], in_process[radius_km]["scan"]
            rows.append({
                "database": database, "lots": n_lots, "radius_km": radius_km, "queries": n_queries,
                "lots_found_mean": round(api["lots_found_mean"]),
                "api_p50_ms": api["p50_ms"], "api_p95_ms": api["p95_ms"], "api_p99_ms": api["p99_ms"],
                "api_server_cpu_ms": api["server_cpu_ms"],
                "service_cpu_p50_ms": service["cpu_p50_us"] / 1e3, "service_cpu_p99_ms": service["cpu_p99_us"] / 1e3,
                "scan_cpu_p50_ms": scan["cpu_p50_us"] / 1e3,
                "scan_vs_service": scan["cpu_p50_us"] / service["cpu_p50_us"],
                "target_p95_ms": 30.0, "build_s": round(built_s, 1),
            })
    finally:
        server.stop()
    return rows


@bench("lots-near", "GET /api/v1/lots around a point over 100,000 lots on offer (quick: 10,000), 10/30/100 km, "
                    "through gunicorn, beside reading every open lot; SQLite and PostgreSQL; goal p95 ≤ 30 ms")
def run(quick: bool) -> list[Row]:
    n_lots, n_queries = (10_000, 100) if quick else (100_000, 400)
    rows = _measure(f"sqlite:///{SQLITE_PATH}", n_lots, n_queries)
    pg_url = os.environ.get("BENCH_PG_URL", PG_ADMIN_URL).rsplit("/", 1)[0] + "/" + PG_DATABASE
    if pg_answers(pg_url):
        rows += _measure(pg_url, n_lots, n_queries)
    return rows
