"""Which watches does this lot hit? An in-memory index over traders' watches for the live feed.

The rule itself is `distance_if_matches`, in one place; the index only narrows down which
watches are worth asking, so its cost grows with the candidates near the lot, not with the
number of watches.

How: each watch circle gets a cell size chosen by its radius (cells about half the radius across,
so a 5 km watch and a 100 km watch both cover a few dozen cells), and is registered in
every cell its circle may touch, under each of its categories (or under "any category"). A lot
looks up its own cell at each cell size in use, takes the watches registered there under its
category and under "any", and asks the rule of each. No watch is registered twice at one cell
size and a lot has one cell per size, so nothing needs de-duplicating.

Covering is conservative by the triangle inequality: a cell is kept when the distance from the
watch centre to the cell centre is at most radius + the cell's reach (the largest distance from
its centre to a corner, plus a margin). Any point of the cell lies within reach of its centre, so
any lot inside the circle is in a kept cell. The brute-force tests check this on random data.

Cells: a latitude/longitude grid (default) or H3 hexagons (h3-py v4), behind the same small
interface; `python -m bench match-cells` builds both at three cell sizes over 100,000 watches and
times them taking turns on the same lot events (figures in bench/README.md). Time per event
follows the number of candidates, whichever the cells: the exact check on each candidate, and
above all on each real match, is the cost. H3's rounder cells gave no clear saving in candidates
for the memory they take, and built two to three times slower (grid_disk and per-cell shapes),
while every server process builds the index at start-up. The grid at half the radius (40 cells a watch) came
within 5 % of the fastest configuration measured, with half its build time and 44 % of its memory.

Threads: one writer at a time (a lock), any number of lock-free readers. Writers bump a sequence
number before and after each change (a seqlock); a reader that saw it change while matching
retries, and after two tries waits for the lock. Buckets are tuples replaced whole, so a reader
never iterates a container being changed. This relies on CPython's GIL making each dictionary
read or write atomic, as it is in Python 3.11.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import h3.api.basic_int as h3
from h3 import H3BaseException

from exchange.domain.text import q_matches
from exchange.geo.distance import EARTH_RADIUS_KM, bounding_box, distance_km

# A lot exactly on the circle matches; the epsilon absorbs floating-point noise (1 mm).
MATCH_EPSILON_KM = 1e-6
# Cell size as a fraction of the watch radius (H3: edge length; grid: height): chosen by
# `python -m bench match-cells`, trading build time and memory against time per event.
GRID_CELL_TO_RADIUS = 0.5
H3_CELL_TO_RADIUS = 0.3
# Extra reach granted to every cell: rounding in the projections, never a real distance.
_REACH_MARGIN = 1.001
_REACH_MARGIN_KM = 0.001
_KM_PER_DEG_LAT = math.pi * EARTH_RADIUS_KM / 180.0
_ANY_CATEGORY = None  # bucket key of watches that take every category


@dataclass(frozen=True, slots=True)
class WatchSpec:
    id: int
    user_id: int
    lat: float
    lon: float
    radius_km: float
    categories: frozenset[str] = frozenset()  # empty = every category
    q: str | None = None  # words that must all start a word of the product name (exchange.domain.text)
    max_price_cents: int | None = None
    labels: frozenset[str] = frozenset()  # the lot must carry all of them
    min_quantity: float | None = None  # compared with the quantity offered, so sold_out events still reach
    active: bool = True


@dataclass(frozen=True, slots=True)
class LotFacts:
    lat: float
    lon: float
    category: str
    product: str
    price_cents: int
    labels: frozenset[str]
    quantity: float  # quantity offered, not what is left


def distance_if_matches(w: WatchSpec, lot: LotFacts) -> float | None:
    """The matching rule: the lot's distance in km from the watch centre if the watch wants it, else None."""
    if not w.active:
        return None
    if w.categories and lot.category not in w.categories:
        return None
    if w.max_price_cents is not None and lot.price_cents > w.max_price_cents:
        return None
    if w.min_quantity is not None and lot.quantity < w.min_quantity:
        return None
    if w.labels and not w.labels <= lot.labels:
        return None
    d = distance_km(w.lat, w.lon, lot.lat, lot.lon)
    if d > w.radius_km + MATCH_EPSILON_KM:
        return None
    if w.q is not None and not q_matches(w.q, lot.product):
        return None
    return d


def _unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    p, l = math.radians(lat), math.radians(lon)
    return math.cos(p) * math.cos(l), math.cos(p) * math.sin(l), math.sin(p)


def _chord_km(dx: float, dy: float, dz: float) -> float:
    """Straight-line length between two points of the Earth given their unit-vector difference.

    A chord is never longer than its arc, so "chord <= limit" keeps every cell that
    "great-circle distance <= limit" would keep, and a few more (by about a metre at 100 km):
    conservative, and a few times cheaper than the haversine when covering 100,000 watches.
    """
    return math.sqrt(dx * dx + dy * dy + dz * dz) * EARTH_RADIUS_KM


class CellScheme(Protocol):
    """How the index cuts the Earth into cells. Keys must differ across levels."""

    name: str

    def level_for(self, radius_km: float) -> int: ...

    def cover(self, lat: float, lon: float, radius_km: float, level: int) -> tuple[int, ...]: ...

    def keys(self, lat: float, lon: float, levels: Sequence[int]) -> list[int]: ...


class H3Cells:
    """H3 hexagons: one resolution per watch, the coarsest whose edge is at most cell_to_radius times its radius."""

    name = "h3"

    def __init__(self, resolutions: Iterable[int] = range(10), cell_to_radius: float = H3_CELL_TO_RADIUS):
        self._edge_km = {r: h3.average_hexagon_edge_length(r, "km") for r in sorted(resolutions)}
        self._cell_to_radius = cell_to_radius
        self._shapes: dict[int, tuple[float, float, float, float]] = {}  # cell -> (x, y, z, reach_km)

    def level_for(self, radius_km: float) -> int:
        for res, edge_km in self._edge_km.items():
            if edge_km <= self._cell_to_radius * radius_km:
                return res
        return max(self._edge_km)

    def cover(self, lat: float, lon: float, radius_km: float, level: int) -> tuple[int, ...]:
        centre = h3.latlng_to_cell(lat, lon, level)
        wx, wy, wz = _unit_vector(lat, lon)
        # On a regular hexagon grid the nearest cells of ring k are 1.5 * k * edge away and the reach
        # is about one edge; 0.9 allows for cells a little smaller nearby, and the rim check below
        # widens the disk if that was not enough.
        centre_reach_km = self._shape(centre)[3]
        k = math.ceil((radius_km + centre_reach_km) / (0.9 * 1.5 * centre_reach_km))
        while True:
            disk = h3.grid_disk(centre, k)
            touching = []
            for cell in disk:
                cx, cy, cz, reach_km = self._shape(cell)
                if _chord_km(wx - cx, wy - cy, wz - cz) <= radius_km + reach_km:
                    touching.append(cell)
            if self._rim(centre, k).isdisjoint(touching):
                return tuple(touching)
            k += 2  # the outer ring still touches the circle: the disk was too small

    def keys(self, lat: float, lon: float, levels: Sequence[int]) -> list[int]:
        return [h3.latlng_to_cell(lat, lon, res) for res in levels]

    @staticmethod
    def _rim(centre: int, k: int) -> set[int]:
        try:
            return set(h3.grid_ring(centre, k))
        except H3BaseException:  # near a pentagon the ring is not a simple loop
            return set(h3.grid_disk(centre, k)).difference(h3.grid_disk(centre, k - 1))

    def _shape(self, cell: int) -> tuple[float, float, float, float]:
        """Unit vector of the cell centre and the cell's reach in km (cached)."""
        shape = self._shapes.get(cell)
        if shape is None:
            c_lat, c_lon = h3.cell_to_latlng(cell)
            # H3 edges are great-circle arcs, so the farthest point from the centre is a vertex.
            reach = max(distance_km(c_lat, c_lon, v_lat, v_lon) for v_lat, v_lon in h3.cell_to_boundary(cell))
            shape = self._shapes[cell] = (*_unit_vector(c_lat, c_lon), reach * _REACH_MARGIN + _REACH_MARGIN_KM)
        return shape


class GridCells:
    """A latitude/longitude grid with cell sizes doubling from 1/64 degree of latitude.

    Cells are `lon_stretch` times wider in degrees than tall, which makes them near-square in km at
    French latitudes.
    """

    name = "grid"

    def __init__(self, levels: int = 12, base_deg: float = 1 / 64, lon_stretch: float = 1.5,
                 cell_to_radius: float = GRID_CELL_TO_RADIUS):
        self._sizes = [(base_deg * 2**i, base_deg * 2**i * lon_stretch) for i in range(levels)]
        self._cell_to_radius = cell_to_radius
        self._reach: dict[tuple[int, int], float] = {}  # (level, row) -> reach_km

    def level_for(self, radius_km: float) -> int:
        for level in reversed(range(len(self._sizes))):
            lat_deg, _ = self._sizes[level]
            if lat_deg * _KM_PER_DEG_LAT <= self._cell_to_radius * radius_km:
                return level
        return 0

    def cover(self, lat: float, lon: float, radius_km: float, level: int) -> tuple[int, ...]:
        lat_deg, lon_deg = self._sizes[level]
        min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius_km)
        wx, wy, wz = _unit_vector(lat, lon)
        cols = [(col, math.cos(math.radians((col + 0.5) * lon_deg)), math.sin(math.radians((col + 0.5) * lon_deg)))
                for col in range(math.floor(min_lon / lon_deg), math.floor(max_lon / lon_deg) + 1)]
        touching = []
        for row in range(math.floor(min_lat / lat_deg), math.floor(max_lat / lat_deg) + 1):
            limit_km = radius_km + self._row_reach(level, row)
            c_lat = math.radians((row + 0.5) * lat_deg)
            cos_lat, dz = math.cos(c_lat), wz - math.sin(c_lat)
            for col, cos_lon, sin_lon in cols:
                if _chord_km(wx - cos_lat * cos_lon, wy - cos_lat * sin_lon, dz) <= limit_km:
                    touching.append(self._key(level, row, col))
        return tuple(touching)

    def keys(self, lat: float, lon: float, levels: Sequence[int]) -> list[int]:
        sizes = self._sizes
        return [self._key(lv, math.floor(lat / sizes[lv][0]), math.floor(lon / sizes[lv][1])) for lv in levels]

    @staticmethod
    def _key(level: int, row: int, col: int) -> int:
        return ((row << 20) + col) * 16 + level  # |col| < 2**19 for every size used

    def _row_reach(self, level: int, row: int) -> float:
        reach = self._reach.get((level, row))
        if reach is None:
            lat_deg, lon_deg = self._sizes[level]
            c_lat, c_lon = (row + 0.5) * lat_deg, 0.5 * lon_deg
            # Corners and edge midpoints: a parallel is not a great circle, so check its middle too.
            points = [(row * lat_deg + i * lat_deg / 2, j * lon_deg / 2) for i in range(3) for j in range(3)]
            reach = max(distance_km(c_lat, c_lon, p_lat, p_lon) for p_lat, p_lon in points)
            reach = self._reach[(level, row)] = reach * _REACH_MARGIN + _REACH_MARGIN_KM
        return reach


class _State:
    """Buckets of watches per category and cell, and where each watch was put (to take it out again)."""

    __slots__ = ("by_category", "placed", "level_counts", "levels")

    def __init__(self) -> None:
        self.by_category: dict[str | None, dict[int, tuple[WatchSpec, ...]]] = {}
        self.placed: dict[int, tuple[WatchSpec, int, tuple[int, ...]]] = {}
        self.level_counts: dict[int, int] = {}
        self.levels: tuple[int, ...] = ()

    @classmethod
    def build(cls, placements: Iterable[tuple[WatchSpec, int, tuple[int, ...]]]) -> _State:
        state = cls()
        lists: dict[str | None, dict[int, list[WatchSpec]]] = {}
        for w, level, cells in placements:
            state._unplace_record(w.id)  # a later spec for the same id wins
            state._place_record(w, level, cells)
        for w, _, cells in state.placed.values():
            for category in w.categories or (_ANY_CATEGORY,):
                by_cell = lists.setdefault(category, {})
                for cell in cells:
                    by_cell.setdefault(cell, []).append(w)
        state.by_category = {cat: {cell: tuple(ws) for cell, ws in by_cell.items()} for cat, by_cell in lists.items()}
        return state

    def place(self, w: WatchSpec, level: int, cells: tuple[int, ...]) -> None:
        for category in w.categories or (_ANY_CATEGORY,):
            by_cell = self.by_category.setdefault(category, {})
            for cell in cells:
                by_cell[cell] = by_cell.get(cell, ()) + (w,)
        self._place_record(w, level, cells)

    def unplace(self, watch_id: int) -> None:
        old = self._unplace_record(watch_id)
        if old is None:
            return
        w, _, cells = old
        for category in w.categories or (_ANY_CATEGORY,):
            by_cell = self.by_category[category]
            for cell in cells:
                rest = tuple(x for x in by_cell[cell] if x.id != watch_id)
                if rest:
                    by_cell[cell] = rest
                else:
                    del by_cell[cell]

    def _place_record(self, w: WatchSpec, level: int, cells: tuple[int, ...]) -> None:
        self.placed[w.id] = (w, level, cells)
        self.level_counts[level] = self.level_counts.get(level, 0) + 1
        if self.level_counts[level] == 1:
            self.levels = tuple(sorted(self.level_counts))

    def _unplace_record(self, watch_id: int) -> tuple[WatchSpec, int, tuple[int, ...]] | None:
        old = self.placed.pop(watch_id, None)
        if old is not None:
            level = old[1]
            self.level_counts[level] -= 1
            if not self.level_counts[level]:
                del self.level_counts[level]
                self.levels = tuple(sorted(self.level_counts))
        return old


def _user_then_watch(found: tuple[WatchSpec, float]) -> tuple[int, int]:
    return found[0].user_id, found[0].id


class WatchIndex:
    """Active watches by place and category; `match` answers which of them a lot event hits."""

    def __init__(self, cells: CellScheme | None = None):
        self._cells = cells if cells is not None else GridCells()
        self._lock = threading.Lock()
        self._seq = 0  # odd while a writer is changing the state
        self._state = _State()
        self._cell_keys: dict[int, int] = {}

    @property
    def scheme(self) -> str:
        return self._cells.name

    def __len__(self) -> int:
        return len(self._state.placed)

    def upsert(self, w: WatchSpec) -> None:
        """Add or replace a watch; an inactive one is taken out."""
        with self._lock:
            held = self._state.placed.get(w.id)
            if held is not None and held[0] == w:
                return  # unchanged (a resynchronisation replaying every watch)
            placement = self._placement(w) if w.active else None
            self._seq += 1
            try:
                self._state.unplace(w.id)
                if placement is not None:
                    self._state.place(w, *placement)
            finally:
                self._seq += 1

    def remove(self, watch_id: int) -> None:
        """Forget a watch; unknown ids are ignored."""
        with self._lock:
            self._seq += 1
            try:
                self._state.unplace(watch_id)
            finally:
                self._seq += 1

    def replace_all(self, specs: Iterable[WatchSpec]) -> None:
        """Load a whole set of watches at once (start-up, resynchronisation); readers keep the old set until the swap."""
        with self._lock:
            self._cell_keys = {}  # forget cells that only the old set covered
            state = _State.build((w, *self._placement(w)) for w in specs if w.active)
            self._seq += 1
            self._state = state
            self._seq += 1

    def clear(self) -> None:
        """Forget every watch."""
        self.replace_all(())

    def match(self, lot: LotFacts) -> list[tuple[WatchSpec, float]]:
        """The watches this lot matches with their distances in km, sorted by user then watch id."""
        for _ in range(2):
            seq = self._seq
            if not seq & 1:
                found = self._collect(lot)
                if self._seq == seq:
                    return found
        with self._lock:
            return self._collect(lot)

    def stats(self) -> dict[str, float]:
        """Size figures for benchmarks and monitoring: watches, cells per watch, bucket entries."""
        state = self._state
        cells = sum(len(placed[2]) for placed in state.placed.values())
        return {"watches": len(state.placed), "levels": len(state.levels),
                "cells_per_watch": cells / len(state.placed) if state.placed else 0.0,
                "bucket_entries": sum(len(ws) for by_cell in state.by_category.values() for ws in by_cell.values())}

    def candidates(self, lot: LotFacts) -> int:
        """How many watches `match` asks the rule about for this lot (for benchmarks and tests)."""
        state = self._state
        buckets = [state.by_category.get(c) or {} for c in (lot.category, _ANY_CATEGORY)]
        keys = self._cells.keys(lot.lat, lot.lon, state.levels)
        return sum(len(by_cell.get(key, ())) for by_cell in buckets for key in keys)

    def _collect(self, lot: LotFacts) -> list[tuple[WatchSpec, float]]:
        state = self._state
        keys = self._cells.keys(lot.lat, lot.lon, state.levels)
        found = []
        for category in (lot.category, _ANY_CATEGORY):
            by_cell = state.by_category.get(category)
            if by_cell is None:
                continue
            for key in keys:
                for w in by_cell.get(key, ()):
                    d = distance_if_matches(w, lot)
                    if d is not None:
                        found.append((w, d))
        found.sort(key=_user_then_watch)
        return found

    def _placement(self, w: WatchSpec) -> tuple[int, tuple[int, ...]]:
        for value in (w.lat, w.lon, w.radius_km):
            if not math.isfinite(value):
                raise ValueError(f"watch {w.id}: coordinates and radius must be finite numbers")
        if not (-90.0 <= w.lat <= 90.0 and -180.0 <= w.lon <= 180.0) or w.radius_km < 0:
            raise ValueError(f"watch {w.id}: lat in [-90, 90], lon in [-180, 180], radius_km >= 0")
        radius_km = w.radius_km + MATCH_EPSILON_KM
        level = self._cells.level_for(radius_km)
        # One int object per cell, shared by every watch that covers it: cell keys are too big for
        # Python's small-int cache, and 100,000 watches x 40 private copies would take ~130 MB.
        cells = self._cells.cover(w.lat, w.lon, radius_km, level)
        return level, tuple([self._cell_keys.setdefault(cell, cell) for cell in cells])
