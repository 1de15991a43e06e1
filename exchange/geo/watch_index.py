"""Which watches does this lot hit? An in-memory index over traders' watches for the live feed.

The rule itself is `distance_if_matches`, in one place; the index only narrows down which
watches are worth asking, so its cost grows with the candidates near the lot, not with the
number of watches, and it asks them all at once with numpy rather than one by one in Python.

Where: each watch circle is registered, under each of its categories (or under "any category"),
in every cell it may touch, at one cell size chosen by its radius: with the defaults every watch
up to 278 km (the API allows 200) gets cells of 1/4 degree (about 28 km), some 12 of them. A cell
holds an int32 numpy array of row numbers. A lot looks up its own cell at each size in use (one,
for watches the API allows) under its category and under "any": at most a few arrays, whose
concatenation is the candidates, without duplicates.

Covering is conservative by the triangle inequality: a cell is kept when the distance from the
watch centre to the cell centre is at most radius + the cell's reach (the largest distance from
its centre to a corner, plus a margin). Any point of the cell lies within reach of its centre, so
any lot inside the circle is in a kept cell. The brute-force tests check this on random data.

What: each watch is one row of a float64 array (its centre as a unit vector, the squared chord of
its radius, price cap, minimum quantity, label bits and text query number, user and watch id).
Per lot, the candidates' rows are gathered in one `np.take` and every filter and the distance run
as array operations; the great-circle distance comes from the chord (2R asin(chord / 2)), equal
to the haversine of `distance_km` to about 1e-11 km. Python objects are touched only for the few
the arrays cannot settle: a text query is checked once per distinct query and product (cached),
and a hit within some 0.03 mm of its circle, or whose labels ran out of bits, is decided by the
rule itself, so the set of hits is exactly the rule's. The answer is three arrays (`Hits`).

Cells: a latitude/longitude grid (default) or H3 hexagons (h3-py v4), behind the same small
interface; `python -m bench match-cells` builds both at several cell sizes over 100,000 watches
and times them taking turns on the same lot events (figures in bench/README.md).

Changes: a removed watch's row numbers are taken out of its cells (worked out again from its spec,
cheaper than keeping them) and the row is reused by the next watch added; `replace_all` builds a
fresh state, rows in Z-order of their centres so that a cell's rows lie close in memory.

Threads: one writer at a time (a lock), any number of lock-free readers. Writers bump a sequence
number before and after each change (a seqlock); a reader that saw it change while matching
retries, and after two tries waits for the lock. Cell arrays are replaced whole, never changed
in place; a reader caught reading a row being rewritten, or the row arrays being grown, sees the
sequence move and retries. This relies on CPython's GIL making each dictionary read or write
atomic, as it is in Python 3.11.
"""
from __future__ import annotations

import math
import threading
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from typing import Protocol

import h3.api.basic_int as h3
import numpy as np
from h3 import H3BaseException

from exchange.domain.text import q_matches
from exchange.geo.distance import EARTH_RADIUS_KM, bounding_box, distance_km

# A lot exactly on the circle matches; the epsilon absorbs floating-point noise (1 mm).
MATCH_EPSILON_KM = 1e-6
# Cells: the smallest size, and the largest size as a fraction of the watch radius (H3: edge
# length; grid: height). With 1/4 degree (28 km) and 0.1, every watch the API allows (<= 200 km)
# is at the smallest size, so a lot looks up a single cell. Chosen by `python -m bench match-cells`:
# 1/16, 1/8 and 1/4 degree cost the same per event (the fixed cost of the numpy calls dominates),
# and 1/4 builds twice as fast as 1/8 in a quarter of the memory.
GRID_BASE_DEG = 1 / 4
GRID_CELL_TO_RADIUS = 0.1
H3_FINEST_RESOLUTION = 5  # edges about 9 km
H3_CELL_TO_RADIUS = 0.1
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

    def __init__(self, resolutions: Iterable[int] = range(H3_FINEST_RESOLUTION + 1),
                 cell_to_radius: float = H3_CELL_TO_RADIUS):
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
    """A latitude/longitude grid with cell sizes doubling from base_deg of latitude.

    Cells are `lon_stretch` times wider in degrees than tall, which makes them near-square in km at
    French latitudes.
    """

    name = "grid"

    def __init__(self, levels: int = 8, base_deg: float = GRID_BASE_DEG, lon_stretch: float = 1.5,
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


# One row of _Rows.table per watch: what the filters read, gathered in one go per lot. 64 bytes,
# aligned: one cache line per candidate. X, Y, Z: the centre as a unit vector; CHORD2: the squared
# chord (unit sphere) of the watch's radius plus the epsilon plus _EDGE_KM; the price cap, the
# minimum quantity; the last two hold integers (read through an int64 view of the same memory):
# label bits and text query number, and user id << 32 | watch id, which sorts as (user, watch).
_X, _Y, _Z, _CHORD2, _MAX_PRICE, _MIN_QUANTITY, _FLAGS, _ORDER = range(8)
_COLUMNS = 8
_ID_LIMIT = 2**31  # ids are database integers
_LABEL_BITS = 32  # bits 0-31 of _FLAGS: labels the watch requires (the first 32 labels seen)
_Q_SHIFT, _Q_MASK = 32, (1 << 30) - 1  # bits 32-61: number of the watch's text query in _State.q_texts (0: none)
_CHECK_SPEC = 1 << 62  # its labels ran out of bits: the rule checks this row on its spec
# Distances within this much of a watch's radius (+ epsilon) are decided by the rule itself: the
# chord gives the great-circle distance to within about 1e-11 km, 1,000 times less than this.
_EDGE_KM = 1e-8
_TWO_R = 2 * EARTH_RADIUS_KM
# A squared chord within this of a row's CHORD2 is within 2 * _EDGE_KM of its radius (+ epsilon) or
# closer: d(chord^2)/d(arc) = 2 sin(arc / R) / R <= 2 / R, so 2 * _EDGE_KM spans at most 4 * _EDGE_KM / R
# (6.3e-12) in chord^2. Those hits go to the rule; elsewhere the chord decides with room to spare.
_CHORD2_BAND = 1e-11
_Q_MET_PRODUCTS = 4096


@dataclass(frozen=True, slots=True, eq=False)
class Hits:
    """The watches a lot matches, sorted by user then watch id: three arrays of the same length."""

    watch_ids: np.ndarray  # int64
    user_ids: np.ndarray  # int64
    distances_km: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.watch_ids)

    def triples(self) -> list[tuple[int, int, float]]:
        """(user_id, watch_id, distance_km) per hit, as Python values."""
        return list(zip(self.user_ids.tolist(), self.watch_ids.tolist(), self.distances_km.tolist()))

    @classmethod
    def of(cls, found: Iterable[tuple[WatchSpec, float]]) -> Hits:
        """Hits from (watch, distance) pairs in any order."""
        found = sorted(found, key=lambda f: (f[0].user_id, f[0].id))
        return cls(np.array([w.id for w, _ in found], np.int64), np.array([w.user_id for w, _ in found], np.int64),
                   np.array([d for _, d in found], np.float64))


NO_HITS = Hits(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))


@lru_cache(maxsize=65536)
def _q_passes(q: str, product: str) -> bool:
    return q_matches(q, product)


def _chord2(arc_km: float) -> float:
    """Squared straight-line distance on the unit sphere between two points arc_km apart."""
    half_angle = arc_km / _TWO_R
    return 4.0 if half_angle >= math.pi / 2 else (2 * math.sin(half_angle)) ** 2


def _arc_km(chord2: np.ndarray) -> np.ndarray:
    """Great-circle distances in km from squared chords on the unit sphere (a new array)."""
    arc = np.sqrt(chord2)
    arc *= 0.5
    np.minimum(arc, 1.0, out=arc)
    np.arcsin(arc, out=arc)
    arc *= _TWO_R
    return arc


class _Rows:
    """Watches as rows of one numpy array (see _X...), with room to grow, and their specs."""

    __slots__ = ("table", "ints", "specs")

    def __init__(self, capacity: int):
        raw = np.zeros((capacity + 1) * _COLUMNS, np.float64)
        start = (-raw.ctypes.data % 64) // 8  # rows on cache-line boundaries
        self.table = raw[start:start + capacity * _COLUMNS].reshape(capacity, _COLUMNS)
        self.ints = self.table.view(np.int64)
        self.specs: list[WatchSpec | None] = [None] * capacity

    def __len__(self) -> int:
        return len(self.specs)

    def grown(self) -> _Rows:
        bigger = _Rows(max(64, 2 * len(self)))
        bigger.table[:len(self)] = self.table
        bigger.specs[:len(self)] = self.specs
        return bigger

    def write(self, row: int, w: WatchSpec, flags: int) -> None:
        x, y, z = _unit_vector(w.lat, w.lon)
        self.table[row, :_FLAGS] = (x, y, z, _chord2(w.radius_km + MATCH_EPSILON_KM + _EDGE_KM),
                                    math.inf if w.max_price_cents is None else w.max_price_cents,
                                    -math.inf if w.min_quantity is None else w.min_quantity)
        self.ints[row, _FLAGS:] = (flags, w.user_id << 32 | w.id)
        self.specs[row] = w


def _spatial_order(specs: list[WatchSpec]) -> list[WatchSpec]:
    """Specs in Z-order of their centres (~0.1 degree), so that the rows a cell holds lie close in memory."""
    if not specs:
        return specs
    coords = np.array([(w.lat, w.lon) for w in specs])
    lat = np.clip((coords[:, 0] + 90) * 8, 0, 2**16 - 1).astype(np.uint64)
    lon = np.clip((coords[:, 1] + 180) * 8, 0, 2**16 - 1).astype(np.uint64)
    return [specs[i] for i in np.argsort(_spread_bits(lat) | (_spread_bits(lon) << np.uint64(1)), kind="stable")]


def _spread_bits(v: np.ndarray) -> np.ndarray:
    """Bits of 16-bit values moved to the even positions (for interleaving two coordinates)."""
    for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


class _State:
    """The rows, the cells' row arrays per category, and where each watch is (to take it out again)."""

    __slots__ = ("rows", "by_category", "placed", "free", "level_counts", "levels", "label_bits", "q_codes",
                 "q_texts", "q_met", "spec_checks")

    def __init__(self, rows: _Rows | None = None) -> None:
        self.rows = rows if rows is not None else _Rows(64)
        self.by_category: dict[str | None, dict[int, np.ndarray]] = {}  # int32 row numbers per cell
        self.placed: dict[int, tuple[WatchSpec, int, int]] = {}  # watch id -> (spec, row, level)
        self.free: list[int] = list(range(len(self.rows) - 1, -1, -1))
        self.level_counts: dict[int, int] = {}
        self.levels: tuple[int, ...] = ()
        self.label_bits: dict[str, int] = {}
        # Watches share few distinct queries: each is checked once per lot, then applied to its rows.
        self.q_codes: dict[str, int] = {}
        self.q_texts: list[str] = [""]
        self.q_met: dict[str, np.ndarray] = {}  # product -> whether it meets each query, by number
        self.spec_checks = 0  # rows whose labels ran out of bits

    @classmethod
    def build(cls, specs: Iterable[WatchSpec], placement: Callable[[WatchSpec], tuple[int, tuple[int, ...]]]
              ) -> _State:
        latest = {w.id: w for w in specs}  # a later spec for the same id wins
        state = cls(_Rows(max(64, len(latest))))
        # (cell, row) pairs per category in compact arrays, then one sort per category turns them into
        # a row array per cell (views of one array).
        cells_of: dict[str | None, array] = {}
        rows_of: dict[str | None, array] = {}
        for row, w in enumerate(_spatial_order(list(latest.values()))):
            level, cells = placement(w)
            state._record(w, row, level)
            for category in w.categories or (_ANY_CATEGORY,):
                if category not in cells_of:
                    cells_of[category], rows_of[category] = array("q"), array("i")
                cells_of[category].extend(cells)
                rows_of[category].extend(repeat(row, len(cells)))
        state.free = list(range(len(state.rows) - 1, len(state.placed) - 1, -1))
        for category, cells in cells_of.items():
            keys = np.frombuffer(cells, np.int64)
            order = np.argsort(keys, kind="stable")
            keys, row_numbers = keys[order], np.frombuffer(rows_of[category], np.int32)[order]
            starts = np.flatnonzero(np.diff(keys)) + 1
            state.by_category[category] = dict(zip(keys[np.r_[0, starts]].tolist(), np.split(row_numbers, starts)))
        return state

    def place(self, w: WatchSpec, level: int, cells: tuple[int, ...]) -> None:
        if not self.free:
            old = len(self.rows)
            self.rows = self.rows.grown()
            self.free = list(range(len(self.rows) - 1, old - 1, -1))
        row = self.free.pop()
        self._record(w, row, level)
        added = np.array([row], np.int32)
        for category in w.categories or (_ANY_CATEGORY,):
            by_cell = self.by_category.setdefault(category, {})
            for cell in cells:
                held = by_cell.get(cell)
                by_cell[cell] = added if held is None else np.concatenate((held, added))

    def unplace(self, watch_id: int, cells_of: Callable[[WatchSpec, int], tuple[int, ...]]) -> None:
        """Take a watch out; cells_of(spec, level) gives back the cells it was put in."""
        old = self.placed.pop(watch_id, None)
        if old is None:
            return
        w, row, level = old
        for category in w.categories or (_ANY_CATEGORY,):
            by_cell = self.by_category[category]
            for cell in cells_of(w, level):
                held = by_cell[cell]
                rest = held[held != row]
                if rest.size:
                    by_cell[cell] = rest
                else:
                    del by_cell[cell]
        if self.rows.ints[row, _FLAGS] & _CHECK_SPEC:
            self.spec_checks -= 1
        self.rows.specs[row] = None
        self.free.append(row)
        self.level_counts[level] -= 1
        if not self.level_counts[level]:
            del self.level_counts[level]
            self.levels = tuple(sorted(self.level_counts))

    def _record(self, w: WatchSpec, row: int, level: int) -> None:
        self.rows.write(row, w, self._flags(w))
        self.placed[w.id] = (w, row, level)
        self.level_counts[level] = self.level_counts.get(level, 0) + 1
        if self.level_counts[level] == 1:
            self.levels = tuple(sorted(self.level_counts))

    def _flags(self, w: WatchSpec) -> int:
        flags = 0
        for label in w.labels:
            bit = self.label_bits.get(label)
            if bit is None and len(self.label_bits) < _LABEL_BITS:
                bit = self.label_bits[label] = 1 << len(self.label_bits)
            flags |= _CHECK_SPEC if bit is None else bit
        if flags & _CHECK_SPEC:
            self.spec_checks += 1
        if w.q is not None:
            code = self.q_codes.get(w.q)
            if code is None:
                code = self.q_codes[w.q] = len(self.q_texts)
                self.q_texts.append(w.q)
            flags |= code << _Q_SHIFT
        return flags

    def queries_met(self, product: str, queries: np.ndarray) -> np.ndarray:
        """Which of these query numbers the product meets (0, no query, always): each query asked once per product."""
        texts = self.q_texts
        met = self.q_met.get(product)
        if met is None or len(met) < len(texts):
            known = met if met is not None else np.ones(1, bool)
            met = np.concatenate((known, np.array([_q_passes(q, product) for q in texts[len(known):]], bool)))
            if len(self.q_met) >= _Q_MET_PRODUCTS:
                self.q_met.clear()  # product names are free text: keep the cache bounded
            self.q_met[product] = met
        return met[queries]

    def missing_labels(self, lot: LotFacts) -> int:
        """The label bits a row must not have to match this lot: those of labels the lot lacks."""
        bits = self.label_bits
        return ((1 << _LABEL_BITS) - 1) & ~sum(bits.get(label, 0) for label in lot.labels)


class WatchIndex:
    """Active watches by place and category; `match` answers which of them a lot event hits."""

    def __init__(self, cells: CellScheme | None = None):
        self._cells = cells if cells is not None else GridCells()
        self._lock = threading.Lock()
        self._seq = 0  # odd while a writer is changing the state
        self._state = _State()

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
                self._state.unplace(w.id, self._cover)
                if placement is not None:
                    self._state.place(w, *placement)
            finally:
                self._seq += 1

    def remove(self, watch_id: int) -> None:
        """Forget a watch; unknown ids are ignored."""
        with self._lock:
            self._seq += 1
            try:
                self._state.unplace(watch_id, self._cover)
            finally:
                self._seq += 1

    def replace_all(self, specs: Iterable[WatchSpec]) -> None:
        """Load a whole set of watches at once (start-up, resynchronisation); readers keep the old set until the swap."""
        with self._lock:
            state = _State.build((w for w in specs if w.active), self._placement)
            self._seq += 1
            self._state = state
            self._seq += 1

    def clear(self) -> None:
        """Forget every watch."""
        self.replace_all(())

    def match(self, lot: LotFacts) -> Hits:
        """The watches this lot matches with their distances in km, sorted by user then watch id."""
        for _ in range(2):
            seq = self._seq
            if not seq & 1:
                try:
                    found = self._collect(lot)
                except (IndexError, AttributeError):  # rows grown or reused under our feet
                    if self._seq == seq:
                        raise
                    continue
                if self._seq == seq:
                    return found
        with self._lock:
            return self._collect(lot)

    def stats(self) -> dict[str, float]:
        """Size figures for benchmarks and monitoring: watches, cells per watch, row numbers held in cells."""
        state = self._state
        entries = sum(len(rows) for by_cell in state.by_category.values() for rows in by_cell.values())
        registrations = sum(len(w.categories) or 1 for w, _, _ in state.placed.values())
        return {"watches": len(state.placed), "levels": len(state.levels),
                "cells_per_watch": entries / registrations if registrations else 0.0,
                "bucket_entries": entries, "buckets": sum(len(by_cell) for by_cell in state.by_category.values()),
                "array_bytes": state.rows.table.nbytes + 4 * entries}

    def candidates(self, lot: LotFacts) -> int:
        """How many rows `match` runs the array filters over for this lot (for benchmarks and tests)."""
        return sum(len(rows) for rows in self._candidate_arrays(self._state, lot))

    def _candidate_arrays(self, state: _State, lot: LotFacts) -> list[np.ndarray]:
        keys = self._cells.keys(lot.lat, lot.lon, state.levels)
        parts = []
        for category in (lot.category, _ANY_CATEGORY):
            by_cell = state.by_category.get(category)
            if by_cell is not None:
                for key in keys:
                    rows = by_cell.get(key)
                    if rows is not None:
                        parts.append(rows)
        return parts

    def _collect(self, lot: LotFacts) -> Hits:
        state = self._state
        store = state.rows
        parts = self._candidate_arrays(state, lot)
        if not parts:
            return NO_HITS
        # A watch has one cell size and is under one of the lot's two category keys: no duplicates.
        rows = parts[0] if len(parts) == 1 else np.concatenate(parts)
        found = np.take(store.table, rows, axis=0)  # faster than table[rows] for rows of a 2-D array
        x, y, z = _unit_vector(lot.lat, lot.lon)
        chord2 = np.subtract(found[:, _X], x)
        chord2 *= chord2
        d = np.subtract(found[:, _Y], y)
        d *= d
        chord2 += d
        np.subtract(found[:, _Z], z, out=d)
        d *= d
        chord2 += d
        keep = chord2 <= found[:, _CHORD2]
        keep &= found[:, _MAX_PRICE] >= lot.price_cents
        keep &= found[:, _MIN_QUANTITY] <= lot.quantity
        keep &= (found[:, _FLAGS].view(np.int64) & state.missing_labels(lot)) == 0
        hit = np.flatnonzero(keep)
        if not hit.size:
            return NO_HITS
        rows, found = rows[hit], np.take(found, hit, axis=0)
        chord2 = chord2[hit]
        distances = _arc_km(chord2)  # great-circle distances from the chords, for the hits only
        flags = found[:, _FLAGS].view(np.int64)
        keep = None
        queries = flags >> _Q_SHIFT  # bits 62-63 are 0 here (labels ran out of bits: see below)
        if queries.any():
            keep = state.queries_met(lot.product, queries & _Q_MASK)
        unsure = chord2 > found[:, _CHORD2] - _CHORD2_BAND
        if state.spec_checks:
            unsure |= (flags & _CHECK_SPEC) != 0
        unsure = np.flatnonzero(unsure)
        if unsure.size:
            keep = np.ones(len(rows), bool) if keep is None else keep
            for i in unsure.tolist():  # on the very edge of their circle, or labels beyond the bits: the rule decides
                distance = distance_if_matches(store.specs[rows[i]], lot)
                keep[i] = distance is not None
                distances[i] = distance if distance is not None else math.nan
        order_keys = found[:, _ORDER].view(np.int64)
        if keep is not None:
            order_keys, distances = order_keys[keep], distances[keep]
        order = np.argsort(order_keys, kind="stable")  # the fastest numpy sort here for a few thousand int64
        order_keys = order_keys[order]
        return Hits(order_keys & (_ID_LIMIT - 1), order_keys >> 32, distances[order])

    def _placement(self, w: WatchSpec) -> tuple[int, tuple[int, ...]]:
        for value in (w.lat, w.lon, w.radius_km):
            if not math.isfinite(value):
                raise ValueError(f"watch {w.id}: coordinates and radius must be finite numbers")
        if not (-90.0 <= w.lat <= 90.0 and -180.0 <= w.lon <= 180.0) or w.radius_km < 0:
            raise ValueError(f"watch {w.id}: lat in [-90, 90], lon in [-180, 180], radius_km >= 0")
        if not (0 <= w.id < _ID_LIMIT and 0 <= w.user_id < _ID_LIMIT):
            raise ValueError(f"watch {w.id}: ids must be database integers (0 to 2**31 - 1)")
        level = self._cells.level_for(w.radius_km + MATCH_EPSILON_KM)
        return level, self._cover(w, level)

    def _cover(self, w: WatchSpec, level: int) -> tuple[int, ...]:
        """The cells of a watch at its level (worked out again to take it out: cheaper than keeping them)."""
        return self._cells.cover(w.lat, w.lon, w.radius_km + MATCH_EPSILON_KM, level)
