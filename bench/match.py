"""Matching one lot event against 1k / 10k / 100k watches: the index, every watch, the database.

- index: `WatchIndex.match` (the lat/lon grid, default, and H3 cells for comparison), whose answer
  is three arrays (watch ids, user ids, distances); "+ by trader" also groups them per trader
  (`exchange.feed.matching.by_trader`, a Match per trader, what delivery uses);
- numpy, one cell: the same index code with every watch in a single cell, i.e. numpy over every
  watch of the lot's category or of any category (context: what the cells save);
- naive: `distance_if_matches` on every watch, one after the other, in Python;
- db: the question asked of SQLite through SQLAlchemy 2 on each event, as a service without the
  index would: a bounding box around the lot widened by the largest radius (index on lat, lon),
  with the cheap filters (active, category, price) in SQL, then the exact rule in Python.

Every method's answers are checked against the naive scan before any time is reported: the same
watches, the same order, the same distances to a micrometre. Memory: the growth of a forked
process's RSS while it builds the index (`rss_mib`).
"""
from __future__ import annotations

import gc
import multiprocessing
import statistics
import time
from dataclasses import replace

from sqlalchemy import Boolean, Float, Index, Integer, String, create_engine, or_, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bench import Row, bench, time_each, time_interleaved
from bench.france import lots, watches
from exchange.geo.distance import bounding_box
from exchange.feed.matching import by_trader
from exchange.geo.watch_index import (CellScheme, GridCells, H3Cells, Hits, LotFacts, WatchIndex, WatchSpec,
                                      distance_if_matches)


def _by_user_then_watch(found: tuple[WatchSpec, float]) -> tuple[int, int]:
    return found[0].user_id, found[0].id


def naive_match(specs: list[WatchSpec], lot: LotFacts) -> list[tuple[WatchSpec, float]]:
    """Ask the rule of every watch."""
    found = [(w, d) for w in specs if (d := distance_if_matches(w, lot)) is not None]
    found.sort(key=_by_user_then_watch)
    return found


class OneCell:
    """Every watch in one cell: the index's numpy filters over all watches of the lot's category (or any)."""

    name = "numpy, one cell"

    def level_for(self, radius_km: float) -> int:
        return 0

    def cover(self, lat: float, lon: float, radius_km: float, level: int) -> tuple[int, ...]:
        return (0,)

    def keys(self, lat: float, lon: float, levels) -> list[int]:
        return [0] * len(levels)


class _Base(DeclarativeBase):
    pass


class WatchRow(_Base):
    """The columns a watches table needs for matching (sets stored as ',a,b,' for LIKE)."""

    __tablename__ = "watches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    radius_km: Mapped[float] = mapped_column(Float)
    categories: Mapped[str] = mapped_column(String, default="")
    q: Mapped[str | None] = mapped_column(String, nullable=True)
    max_price_cents: Mapped[int | None] = mapped_column(Integer, nullable=True)
    labels: Mapped[str] = mapped_column(String, default="")
    min_quantity: Mapped[float | None] = mapped_column(Float, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    __table_args__ = (Index("ix_watches_lat_lon", "lat", "lon"),)


def _joined(values: frozenset[str]) -> str:
    return f",{','.join(sorted(values))}," if values else ""


def _split(text: str) -> frozenset[str]:
    return frozenset(text.strip(",").split(",")) if text else frozenset()


class DatabaseMatcher:
    """Matching by querying an SQLite copy of the watches on every event."""

    def __init__(self, specs: list[WatchSpec]):
        self.engine = create_engine("sqlite://")
        _Base.metadata.create_all(self.engine)
        with Session(self.engine) as session:
            session.execute(WatchRow.__table__.insert(), [
                dict(id=w.id, user_id=w.user_id, lat=w.lat, lon=w.lon, radius_km=w.radius_km,
                     categories=_joined(w.categories), q=w.q, max_price_cents=w.max_price_cents,
                     labels=_joined(w.labels), min_quantity=w.min_quantity, active=w.active) for w in specs])
            session.commit()
        self.max_radius_km = max(w.radius_km for w in specs)
        self.session = Session(self.engine)

    def match(self, lot: LotFacts) -> list[tuple[WatchSpec, float]]:
        min_lat, max_lat, min_lon, max_lon = bounding_box(lot.lat, lot.lon, self.max_radius_km)
        t = WatchRow
        rows = self.session.execute(
            select(t.id, t.user_id, t.lat, t.lon, t.radius_km, t.categories, t.q, t.max_price_cents, t.labels,
                   t.min_quantity)
            .where(t.lat.between(min_lat, max_lat), t.lon.between(min_lon, max_lon), t.active,
                   or_(t.categories == "", t.categories.contains(f",{lot.category},")),
                   or_(t.max_price_cents.is_(None), t.max_price_cents >= lot.price_cents)))
        found = []
        for r in rows:
            w = WatchSpec(id=r.id, user_id=r.user_id, lat=r.lat, lon=r.lon, radius_km=r.radius_km,
                          categories=_split(r.categories), q=r.q, max_price_cents=r.max_price_cents,
                          labels=_split(r.labels), min_quantity=r.min_quantity)
            d = distance_if_matches(w, lot)
            if d is not None:
                found.append((w, d))
        found.sort(key=_by_user_then_watch)
        return found

    def close(self) -> None:
        self.session.close()
        self.engine.dispose()


def _triples(found: Hits | list[tuple[WatchSpec, float]]) -> list[tuple[int, int, float]]:
    return found.triples() if isinstance(found, Hits) else [(w.user_id, w.id, d) for w, d in found]


def _same(a: Hits | list[tuple[WatchSpec, float]], b: list[tuple[WatchSpec, float]]) -> bool:
    """Same watches in the same order, distances equal to a micrometre (the index's come from the chord)."""
    a, b = _triples(a), _triples(b)
    return len(a) == len(b) and all(x[:2] == y[:2] and abs(x[2] - y[2]) <= 1e-9 for x, y in zip(a, b))


def _check(name: str, method, expected: dict[int, list], events: list[LotFacts]) -> None:
    for i, lot in enumerate(events):
        if i in expected and not _same(method(lot), expected[i]):
            raise AssertionError(f"{name} disagrees with the naive scan on event {i}")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def _build_in_child(specs: list[WatchSpec], scheme: CellScheme, out) -> None:
    gc.collect()
    before = _rss_mib()
    index = WatchIndex(scheme)
    index.replace_all(specs)
    gc.collect()
    out.put(_rss_mib() - before)


def build_rss_mib(specs: list[WatchSpec], scheme: CellScheme) -> float:
    """How much a process grows while it builds the index (measured in a forked child, so nothing else counts)."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_build_in_child, args=(specs, scheme, out))
    child.start()
    grown = out.get()
    child.join()
    return grown


def build_index(n: int, specs: list[WatchSpec], scheme: CellScheme) -> tuple[Row, WatchIndex]:
    """An index over specs, with what building it cost and what it holds."""
    started, started_cpu = time.perf_counter(), time.thread_time()
    index = WatchIndex(scheme)
    index.replace_all(specs)
    build_s, build_cpu_s = time.perf_counter() - started, time.thread_time() - started_cpu
    stats = index.stats()
    # A trader editing a watch: a watch moved to another's place and radius, then put back.
    step = max(1, len(specs) // 100)
    edits = [replace(specs[i], lat=specs[-1 - i].lat, lon=specs[-1 - i].lon, radius_km=specs[-1 - i].radius_km)
             for i in range(0, len(specs), step)]
    upsert_us = time_each(index.upsert, edits)["cpu_mean_us"]
    for i in range(0, len(specs), step):
        index.upsert(specs[i])
    name = scheme.name if isinstance(scheme, OneCell) else f"index ({scheme.name})"
    return {"watches": n, "method": name, "build_s": build_s, "build_cpu_s": build_cpu_s,
            "cells_per_watch": stats["cells_per_watch"], "bucket_entries": stats["bucket_entries"],
            "upsert_us": upsert_us, "rss_mib": build_rss_mib(specs, scheme)}, index


def time_indexes(built: dict[str, tuple[Row, WatchIndex]], events: list[LotFacts],
                 expected: dict[int, list], grouped: str | None = None) -> list[Row]:
    """Check each index against the naive answers, then time them taking turns on every event
    (with `grouped`, that index also with its hits grouped per trader)."""
    for name, (_, index) in built.items():
        _check(name, index.match, expected, events)
    rivals = {name: index.match for name, (_, index) in built.items()}
    if grouped is not None:
        index = built[grouped][1]
        rivals["+ by trader"] = lambda lot: by_trader(index.match(lot))
    figures = time_interleaved(rivals, events)
    rows = []
    for name, (row, index) in built.items():
        rows.append({"watches": row["watches"], "method": row["method"], **figures[name],
                     "candidates": statistics.mean(index.candidates(lot) for lot in events),
                     "matches": statistics.mean(len(index.match(lot)) for lot in events[:200]),
                     **{k: v for k, v in row.items() if k not in ("watches", "method")}})
        if name == grouped:
            rows.append({"watches": row["watches"], "method": f"{row['method']} + by trader",
                         **figures["+ by trader"],
                         "traders": statistics.mean(len(by_trader(index.match(lot))) for lot in events[:200])})
    return rows


@bench("match", "Lot event -> matching watches: index vs every watch vs the database (µs per event)")
def run(quick: bool) -> list[Row]:
    sizes = (1_000, 10_000) if quick else (1_000, 10_000, 100_000)
    events = lots(500 if quick else 2000, seed=2)
    rows: list[Row] = []
    for n in sizes:
        specs = watches(n, seed=1)
        slow_events = events[: max(100, min(300, 3_000_000 // n))]  # the slow methods get fewer events
        expected = {i: naive_match(specs, lot) for i, lot in enumerate(slow_events[:20])}

        db = DatabaseMatcher(specs)
        _check("db", db.match, expected, slow_events)
        built = {scheme.name: build_index(n, specs, scheme) for scheme in (GridCells(), H3Cells(), OneCell())}
        # The slow methods and the indexes take turns on the same events; ratios are of median CPU
        # time per event (the code's own cost, whatever else the machine runs; a median because one
        # garbage collection landing on one method's turn would sway a mean over a few hundred events).
        grid = built["grid"][1]
        slow = time_interleaved({"naive": lambda lot: naive_match(specs, lot), "db": db.match,
                                 **{row["method"]: index.match for row, index in built.values()},
                                 "index (grid) + by trader": lambda lot: by_trader(grid.match(lot))}, slow_events)
        db.close()
        for row in time_indexes(built, events, expected, grouped="grid"):
            # The index's median CPU in those turns (caches cooled by the naive scan and SQLite) is
            # above its median when only indexes take turns: the ratios use the former.
            row["cpu_p50_beside_naive_us"] = slow[row["method"]]["cpu_p50_us"]
            row["naive/index"] = slow["naive"]["cpu_p50_us"] / slow[row["method"]]["cpu_p50_us"]
            row["db/index"] = slow["db"]["cpu_p50_us"] / slow[row["method"]]["cpu_p50_us"]
            rows.append(row)
        del built
        rows += [{"watches": n, "method": "naive (every watch)", **slow["naive"], "candidates": float(n)},
                 {"watches": n, "method": "db (SQLite bbox + rule)", **slow["db"]}]
    return rows


@bench("match-cells", "Cell scheme and size for the watch index: build cost against time per event", default=False)
def run_cells(quick: bool) -> list[Row]:
    n = 10_000 if quick else 100_000
    specs, events = watches(n, seed=1), lots(300 if quick else 1500, seed=2)
    expected = {i: naive_match(specs, lot) for i, lot in enumerate(events[:10])}
    built = {}
    schemes = [(f"{base_deg} deg", GridCells(base_deg=base_deg)) for base_deg in (1 / 16, 1 / 8, 1 / 4)]
    schemes += [(f"res {res}", H3Cells(resolutions=range(res + 1))) for res in (4, 5, 6)]
    for size, scheme in schemes:
        row, index = build_index(n, specs, scheme)
        row["smallest cell"] = size
        built[f"{scheme.name} {size}"] = row, index
    return time_indexes(built, events, expected)
