"""Reports at scale: build 1,000,000 reservations over 200,000 lots, then time the summaries.

    python bench/reports_data.py                      # SQLite file, then PostgreSQL if it answers
    python bench/reports_data.py --quick              # 100,000 reservations over 20,000 lots
    python bench/reports_data.py --sqlite-only | --pg-only
    BENCH_PG_URL: a PostgreSQL server's maintenance database, as for the other benches (default
    postgresql+psycopg://postgres@127.0.0.1:5432/postgres); the bench drops and creates again its own
    database `carreau_bench_reports` on that server (BENCH_REPORTS_DB names another), and nothing else.

The schema comes from the migrations (so the report indexes are the ones production gets). The
data are synthetic but shaped like the exchange: two years of lots from 8,000 farms over 25
departments, about five reservations per lot, every reservation ending the way reservations do,
and the stock rule kept (what is held or collected never exceeds what was offered). Rows go in
with COPY on PostgreSQL and executemany on SQLite; the report rollup is then filled from them by the
backfill SQL of migration 0010 (`rollup.rebuild`), as a site upgrading with that history would get it. Prints one JSON object; the figures that the
targets are about are `department_month_ms` (target: 1,000 ms on PostgreSQL, 3,000 ms on SQLite).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

UTC = dt.timezone.utc
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = os.environ.get("BENCH_REPORTS_DB", "carreau_bench_reports")
SQLITE_PATH = Path(__file__).resolve().parent.parent / "instance" / "bench-reports.sqlite3"
DEPARTMENTS = ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82",
               "16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87")
# category: (unit choices, products, price range in cents per unit)
CATALOGUE = {
    "vegetables": (("kg", "kg", "kg", "bunch", "piece"), ("Tomates", "Courgettes", "Carottes", "Poireaux", "Salades",
                                                          "Pommes de terre", "Radis", "Haricots verts"), (120, 600)),
    "fruits": (("kg", "kg", "crate"), ("Pommes", "Poires", "Prunes", "Fraises", "Melons", "Noix"), (150, 900)),
    "dairy": (("piece", "litre", "kg"), ("Fromage de chèvre", "Tomme", "Lait cru", "Yaourts"), (80, 2500)),
    "meat": (("kg",), ("Agneau", "Bœuf", "Canard", "Porc"), (900, 3500)),
    "eggs": (("piece",), ("Œufs",), (25, 60)),
    "honey": (("kg", "piece"), ("Miel", "Miel de châtaignier"), (900, 2200)),
    "grains": (("kg",), ("Farine", "Lentilles", "Pois chiches"), (150, 600)),
    "drinks": (("litre", "piece"), ("Vin de Cahors", "Jus de pomme", "Bière"), (250, 1500)),
    "plants": (("piece",), ("Plants de tomates", "Aromatiques"), (80, 400)),
    "other": (("piece",), ("Safran", "Truffes", "Confitures"), (300, 8000)),
}
CATEGORY_WEIGHTS = (30, 15, 12, 8, 10, 4, 5, 6, 5, 5)
STATUS_WEIGHTS = {"collected": 62, "declined": 6, "cancelled": 8, "expired": 12, "no_show": 3, "pending": 4,
                  "confirmed": 5}
START = dt.datetime(2023, 1, 1, tzinfo=UTC)
SPAN_S = 730 * 86400  # two years of lots


# Columns of the rows the generators make, in order (quantities in stored thousandths).
COLUMNS = {
    "users": ("id", "email", "password_hash", "role", "name", "base_lat", "base_lon", "base_postcode",
              "base_commune", "territory", "active", "locale", "created_at"),
    "farms": ("id", "owner_id", "name", "postcode", "commune", "insee", "department", "lat", "lon",
              "pickup_hours", "created_at", "updated_at"),
    "lots": ("id", "farm_id", "product", "category", "unit", "quantity_offered", "quantity_available",
             "price_cents", "available_from", "available_until", "labels", "status", "lat", "lon", "created_at",
             "updated_at"),
    "reservations": ("id", "lot_id", "trader_id", "quantity", "price_cents", "status", "pickup_code",
                     "distance_km", "created_at", "updated_at", "closed_at"),
}


def _stamp(value: dt.datetime, sqlite: bool):
    """SQLAlchemy's SQLite storage format for UTCDateTime (naive UTC); aware datetimes for psycopg."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else value


def generate(n_lots: int, n_reservations: int, sqlite: bool, seed: int = 46):
    """Rows per table, as tuples in column order; quantities in stored thousandths."""
    rng = random.Random(seed)
    n_producers, n_traders = max(200, n_lots // 25), max(100, n_lots // 66)
    created = _stamp(START, sqlite)
    users, farms = [], []
    for i in range(1, n_producers + 1):
        users.append((i, f"producer{i}@bench.invalid", "!", "producer", f"Producteur {i}", None, None, None, None,
                      "[]", True, "fr", created))
        department = DEPARTMENTS[i % len(DEPARTMENTS)]
        insee = f"{department}{rng.randrange(1, 60):03d}"
        lat, lon = 43 + rng.random() * 3, -1 + rng.random() * 5
        farms.append((i, i, f"Ferme {i}", insee[:2] + "000", f"Commune {insee}", insee, department, lat, lon, "{}",
                      created, created))
    traders, local_traders = [], {department: [] for department in DEPARTMENTS}
    for j in range(n_producers + 1, n_producers + n_traders + 1):
        local_traders[DEPARTMENTS[j % len(DEPARTMENTS)]].append(j)
        users.append((j, f"trader{j}@bench.invalid", "!", "trader", f"Acheteur {j}", 43 + rng.random() * 3,
                      -1 + rng.random() * 5, "46000", "Cahors", "[]", True, "fr", created))
        traders.append(j)
    categories = list(CATALOGUE)
    lots, reservations = [], []
    # Which lot each reservation is on: random, then sorted, so lots get Poisson-like counts.
    per_lot = [0] * n_lots
    for _ in range(n_reservations):
        per_lot[rng.randrange(n_lots)] += 1
    statuses, weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    rid = 0
    for lot_id in range(1, n_lots + 1):
        category = rng.choices(categories, CATEGORY_WEIGHTS)[0]
        units, products, (low, high) = CATALOGUE[category]
        farm = farms[rng.randrange(len(farms))]
        posted = START + dt.timedelta(seconds=rng.randrange(SPAN_S))
        offered = rng.randrange(5, 300) * 1000
        price = rng.randrange(low, high)
        held = 0
        k = per_lot[lot_id - 1]
        for _ in range(k):
            rid += 1
            quantity = max(1, int(offered / (k + 1) * (0.3 + 0.7 * rng.random())))
            status = rng.choices(statuses, weights)[0]
            if status in ("pending", "confirmed", "collected"):
                held += quantity
            at = posted + dt.timedelta(minutes=rng.randrange(5, 2880))
            closed = at + dt.timedelta(hours=rng.randrange(1, 72))
            distance = None if rng.random() < 0.1 else round(2 + rng.random() * 78, 3)
            # Most buyers come from the farm's own department (short supply chains), some from further.
            pool = local_traders[farm[6]] if rng.random() < 0.85 else traders
            reservations.append((rid, lot_id, pool[rng.randrange(len(pool))], quantity, price, status,
                                 f"{rid % 1000000:06d}", distance, _stamp(at, sqlite), _stamp(closed, sqlite),
                                 None if status in ("pending", "confirmed") else _stamp(closed, sqlite)))
        until = posted + dt.timedelta(days=rng.randrange(1, 8))
        lots.append((lot_id, farm[0], products[rng.randrange(len(products))], category,
                     units[rng.randrange(len(units))], offered, offered - held, price, _stamp(posted, sqlite),
                     _stamp(until, sqlite), "", "expired", farm[7], farm[8], _stamp(posted, sqlite),
                     _stamp(posted, sqlite)))
    return {"users": (COLUMNS["users"], users), "farms": (COLUMNS["farms"], farms), "lots": (COLUMNS["lots"], lots),
            "reservations": (COLUMNS["reservations"], reservations)}


def prepare_schema(url: str) -> None:
    """A fresh database at the migrations' head (PostgreSQL: dropped and created again)."""
    from flask_migrate import upgrade

    from exchange import create_app
    from exchange.extensions import db

    if url.startswith("postgresql"):
        base, name = url.rsplit("/", 1)
        admin = create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    else:
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade()
        db.engine.dispose()


def load(url: str, tables: dict) -> None:
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if url.startswith("postgresql"):
            for table, (columns, rows) in tables.items():
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            for table in tables:
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            raw.commit()
            raw.driver_connection.autocommit = True
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute("PRAGMA synchronous=OFF")
            for table, (columns, rows) in tables.items():
                marks = ", ".join("?" * len(columns))
                cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
            raw.commit()
            cursor.execute("ANALYZE")
            raw.commit()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # as a running site's checkpoints would leave it
    finally:
        raw.close()
        engine.dispose()


def fill_rollup(url: str) -> dict:
    """The report rollup, filled from the loaded reservations by the SQL migration 0010 backfills with."""
    from exchange import create_app
    from exchange.extensions import db
    from exchange.reports import rollup

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        start, start_cpu = time.perf_counter(), time.process_time()
        rows = rollup.rebuild()
        db.session.commit()
        figures = {"rollup_s": round(time.perf_counter() - start, 1),
                   "rollup_client_cpu_s": round(time.process_time() - start_cpu, 1), "rollup_rows": rows}
        db.engine.dispose()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:  # as autovacuum / a running site's ANALYZE would leave them
        conn.execute(text("VACUUM ANALYZE report_lot_totals, report_lot_traders, report_month_traders"
                          if url.startswith("postgresql")
                          else "ANALYZE"))
    engine.dispose()
    return figures


def _server_cpu_s(backend_pid: int | None) -> float:
    """CPU seconds used so far by a PostgreSQL backend on this machine (/proc), 0 when unknown."""
    try:
        fields = Path(f"/proc/{backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return 0.0


def timed(fn, repeat: int = 3, backend_pid: int | None = None) -> dict:
    """Wall time (first call and best of `repeat`), and the CPU time the best call cost the database.

    On a machine shared with other work, wall time includes the time given to others; CPU time does
    not. SQLite works inside this process, so `cpu_ms` is this process's; PostgreSQL works in its
    backend, so `cpu_ms` is that backend's (read from /proc; run without parallel workers so the
    backend does all the work), plus this process's own share in `client_cpu_ms`.
    """
    rows = []
    for _ in range(repeat):
        start, start_cpu, start_server = time.perf_counter(), time.process_time(), _server_cpu_s(backend_pid)
        fn()
        wall = (time.perf_counter() - start) * 1e3
        client = (time.process_time() - start_cpu) * 1e3
        server = (_server_cpu_s(backend_pid) - start_server) * 1e3
        rows.append((wall, client, server))
    wall, client, server = min(rows)
    figures = {"first_ms": round(rows[0][0], 1), "best_ms": round(wall, 1)}
    if backend_pid is None:
        return figures | {"cpu_ms": round(client, 1)}
    return figures | {"cpu_ms": round(server, 1), "client_cpu_ms": round(client, 1)}


def measure(url: str) -> dict:
    from exchange import create_app
    from exchange.extensions import db
    from exchange.reports.periods import Period
    from exchange.reports.prices import price_stats
    from exchange.reports.scope import Scope
    from exchange.reports.summary import summary

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    everything = Period(dt.date(2023, 1, 1), dt.date(2024, 12, 31))
    one_year = Period(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    occitanie = ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82")
    with app.app_context():
        backend_pid = None
        if url.startswith("postgresql"):  # one backend does all the work, so that its CPU time is the cost
            db.session.execute(text("SET max_parallel_workers_per_gather = 0"))
            backend_pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()

        def best_ms(fn, repeat=3):
            return timed(fn, repeat, backend_pid)

        report = summary(Scope(everything, None), ("department", "month"))
        results = {
            "cells": len(report["rows"]),
            "lots_in_report": report["total"]["lots_posted"],
            "reservations_in_report": sum(report["total"]["reservations"].values()),
            "department_month": best_ms(lambda: summary(Scope(everything, None), ("department", "month"))),
            "month_for_a_chamber_of_13_departments_1y": best_ms(
                lambda: summary(Scope(one_year, occitanie), ("month",)), 2),
            "category_for_one_department_1y": best_ms(lambda: summary(Scope(one_year, ("46",)), ("category",)), 2),
            "product_all_2y": best_ms(lambda: summary(Scope(everything, None), ("product",)), 2),
            "prices_collected_all_2y": best_ms(lambda: price_stats(Scope(everything, None), "collected"), 2),
        }
        db.engine.dispose()
    return results


def run(url: str, n_lots: int, n_reservations: int, measure_only: bool = False) -> dict:
    sqlite = url.startswith("sqlite")
    out = {}
    if not measure_only:
        start = time.perf_counter()
        prepare_schema(url)
        tables = generate(n_lots, n_reservations, sqlite)
        generated = time.perf_counter()
        load(url, tables)
        loaded = time.perf_counter()
        out = {"generate_s": round(generated - start, 1), "load_s": round(loaded - generated, 1)} | fill_rollup(url)
    out |= measure(url)
    out["department_month_ms"] = out["department_month"]["best_ms"]
    out["target_ms"] = 3000 if sqlite else 1000
    return out


def pg_answers(url: str) -> bool:
    try:
        engine = create_engine(url.rsplit("/", 1)[0] + "/postgres", connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:  # any failure to connect means: no PostgreSQL here
        return False


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 reservations over 20,000 lots")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--pg-only", action="store_true")
    parser.add_argument("--measure-only", action="store_true", help="time the reports on the data already built")
    args = parser.parse_args(argv)
    n_lots, n_reservations = (20_000, 100_000) if args.quick else (200_000, 1_000_000)
    results = {"lots": n_lots, "reservations": n_reservations, "cpus": os.cpu_count(),
               "load_average_at_start": os.getloadavg()}
    if not args.pg_only:
        results["sqlite"] = run(f"sqlite:///{SQLITE_PATH}", n_lots, n_reservations, args.measure_only)
    pg_url = os.environ.get("BENCH_PG_URL", PG_ADMIN_URL).rsplit("/", 1)[0] + "/" + PG_DATABASE
    if not args.sqlite_only:
        results["postgresql"] = (run(pg_url, n_lots, n_reservations, args.measure_only) if pg_answers(pg_url)
                                 else "not answering")
    results["load_average_at_end"] = os.getloadavg()
    print(json.dumps(results, indent=2))
    return results



REPORTS = ("department_month", "month_for_a_chamber_of_13_departments_1y", "category_for_one_department_1y",
           "product_all_2y", "prices_collected_all_2y")


def rows_of(results: dict) -> list[dict]:
    """The harness's rows: one per database and report."""
    rows = []
    for database in ("sqlite", "postgresql"):
        figures = results.get(database)
        if not isinstance(figures, dict):
            rows.append({"database": database, "report": figures or "not run"})
            continue
        for report in REPORTS:
            rows.append({"database": database, "report": report, "reservations": results["reservations"],
                         "wall_ms": figures[report]["best_ms"], "first_ms": figures[report]["first_ms"],
                         "cpu_ms": figures[report]["cpu_ms"],
                         "target_ms": figures["target_ms"] if report == "department_month" else None})
    return rows


try:  # registered with the bench harness (`python -m bench reports`) when it is there
    from bench import bench as _register
except ImportError:  # run as a script without the harness
    _register = None

if _register is not None:
    @_register("reports", "Territorial summaries over 1,000,000 reservations and 200,000 lots (quick: a tenth), "
                          "SQLite and PostgreSQL; target: department × month ≤ 3,000 ms / ≤ 1,000 ms")
    def reports_bench(quick: bool) -> list[dict]:
        return rows_of(main(["--quick"] if quick else []))


if __name__ == "__main__":
    main()
