"""Offline gazetteer of French communes: postcode and name lookups, search, nearest commune.

The data (every commune, overseas departments and the municipal arrondissements of Paris, Lyon
and Marseille included) is built by scripts/build_gazetteer.py from INSEE's Code officiel
géographique, La Poste's postcodes and IGN's points (docs/gazetteer.md). It is read once, on
first use, from data/communes.tsv.gz beside this module; after that every lookup is a dict hit,
a bisection or a few grid cells, far under a millisecond.

Paris, Lyon and Marseille appear twice: as communes (75056, 69123, 13055), found by INSEE code and
by name, and as their arrondissements, which own the postcodes and win `by_postcode` and `nearest`.
"""
from __future__ import annotations

import gc
import gzip
import math
import re
import threading
import unicodedata
from bisect import bisect_left
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from itertools import takewhile
from typing import Iterable

from flask_babel import lazy_gettext as _l

from exchange.domain.errors import InvalidInput
from exchange.geo.distance import EARTH_RADIUS_KM, distance_km

DATA_FILE = "data/communes.tsv.gz"
COLUMNS = ("insee", "name", "postcodes", "department", "region", "lat", "lon", "population",
           "parent", "aliases", "location")
LOCATION_FROM_POSTCODE = "P"  # the source has no point for the commune; see docs/gazetteer.md

MAX_SEARCH_LIMIT = 100
NEAREST_MAX_KM = 100.0  # farther than this from every commune centre is not in France
_CELL_DEG = 0.1  # grid cell for `nearest`: about 11 km by 8 km, some five communes each

_SLACK_KM = 1e-6  # grid bounds give this much away to float rounding at cell edges
_POSTCODE_RE = re.compile(r"\d{5}")
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
_COMBINING = re.compile("[\u0300-\u036f]")  # the accents NFKD splits off
_SEPARATORS = re.compile(r"[^a-z0-9]+")
_SEPARATORS_BUT_NEWLINE = re.compile(r"[^a-z0-9\n]+")
_ARTICLES = ("l ", "le ", "la ", "les ", "aux ", "las ", "los ")


@dataclass(frozen=True, slots=True)
class Commune:
    insee: str
    name: str
    postcodes: tuple[str, ...]
    department: str
    region: str
    lat: float
    lon: float


def normalize(text: str) -> str:
    """Fold text for matching: no accents, lower case, every run of other characters one space.

    "Saint-Céré", "saint cere" and "SAINT  CÉRÉ" all give "saint cere"; "L'Haÿ-les-Roses" gives
    "l hay les roses"; the ligatures œ and æ become "oe" and "ae".
    """
    folded = unicodedata.normalize("NFKD", text.casefold().replace("œ", "oe").replace("æ", "ae"))
    return _SEPARATORS.sub(" ", _COMBINING.sub("", folded)).strip()


def _normalize_many(texts: list[str]) -> list[str]:
    """[normalize(t) for t in texts], in one pass over one string (texts hold no newline)."""
    folded = unicodedata.normalize("NFKD", "\n".join(texts).casefold().replace("œ", "oe").replace("æ", "ae"))
    folded = _SEPARATORS_BUT_NEWLINE.sub(" ", _COMBINING.sub("", folded))
    return [key.strip() for key in folded.split("\n")]


def _query_key(q: str) -> str:
    """normalize(q), with st/ste spelt out wherever the word is complete (not the one being typed)."""
    words = normalize(q).split(" ")
    complete = len(words) if q and not q[-1].isalnum() else len(words) - 1
    return " ".join(_ABBREVIATIONS.get(w, w) if i < complete else w for i, w in enumerate(words))


def _strip_article(key: str) -> str:
    for article in _ARTICLES:
        if key.startswith(article):
            return key[len(article):]
    return key


class _PrefixIndex:
    """Sorted (key, rank) pairs: which communes have a key starting with a given prefix."""

    __slots__ = ("keys", "ranks", "top")
    # A short prefix matches thousands of keys: its best ranks are kept once computed.
    MEMO_ABOVE = 256

    def __init__(self, keys: list[str], ranks: list[int]):
        order = sorted(range(len(keys)), key=keys.__getitem__)  # stable: equal keys stay by rank
        self.keys = [keys[i] for i in order]
        self.ranks = [ranks[i] for i in order]
        self.top: dict[str, list[int]] = {}

    def prefixed(self, prefix: str) -> list[int]:
        """Ranks of the keys starting with prefix, best first, the best MAX_SEARCH_LIMIT at least.

        (Keys hold [a-z0-9 ] only, all below "~".)"""
        top = self.top.get(prefix)
        if top is not None:
            return top
        lo = bisect_left(self.keys, prefix)
        hi = bisect_left(self.keys, prefix + "~", lo)
        ranks = sorted(set(self.ranks[lo:hi]))
        if hi - lo > self.MEMO_ABOVE:
            ranks = self.top[prefix] = ranks[:MAX_SEARCH_LIMIT]  # a race only computes it twice
        return ranks

    def exact(self, key: str) -> list[int]:
        lo = bisect_left(self.keys, key)
        hi = bisect_left(self.keys, key + " ", lo)  # " " sorts below every other key character
        return self.ranks[lo:hi]


class _NameIndex:
    """Name lookups, built on the first search: full names, later words, merged communes' names."""

    def __init__(self, names: list[str], aliases: list[tuple[str, ...]]):
        keys = _normalize_many(names)
        self.full = _PrefixIndex(keys, list(range(len(keys))))
        self.words = _PrefixIndex(*_later_words(keys, range(len(keys))))
        alias_ranks = [rank for rank, former in enumerate(aliases) for _ in former]
        alias_keys = _normalize_many([name for former in aliases for name in former])
        later_keys, later_ranks = _later_words(alias_keys, alias_ranks)
        self.former = _PrefixIndex(alias_keys + later_keys, alias_ranks + later_ranks)

    def search(self, key: str, limit: int) -> list[int]:
        """Ranks matching key: exact name, name prefix, later-word prefix, former commune's name."""
        tiers = (self.full.exact, self.full.prefixed, self.words.prefixed, self.former.prefixed)
        return _first_distinct((tier(key) for tier in tiers), limit)


class _Grid:
    """Commune centres bucketed by _CELL_DEG cells, searched ring by ring for the nearest."""

    def __init__(self, points: list[tuple[float, float, str, int]]):
        self.cells: dict[tuple[int, int], list[tuple[float, float, str, int]]] = {}
        for point in points:
            self.cells.setdefault(_cell(point[0], point[1]), []).append(point)

    def nearest(self, lat: float, lon: float, max_km: float) -> int | None:
        """Rank of the commune nearest to (lat, lon), ties to the lower INSEE code; None past max_km."""
        ci, cj = _cell(lat, lon)
        best, best_km = (math.inf, ""), None
        for ring in range(0, int(180 / _CELL_DEG)):
            for cell in _ring_cells(ci, cj, ring):
                points = self.cells.get(cell)
                if not points or _cell_floor_km(lat, lon, cell) > best[0]:
                    continue
                for plat, plon, insee, rank in points:
                    candidate = (distance_km(lat, lon, plat, plon), insee)
                    if candidate < best:
                        best, best_km = candidate, rank
            floor_km = _outside_km(lat, lon, ci, cj, ring)
            if best[0] <= floor_km or floor_km > max_km:
                break
        return best_km if best[0] <= max_km else None


class _Gazetteer:
    """The data file's rows, numbered by rank (most populous first), and indexes over them.

    Commune objects are made on first use of each, and the name and grid indexes on the first
    search and nearest: loading only splits lines and fills the INSEE and postcode dicts.
    """

    def __init__(self, lines: list[str]):
        if tuple(lines[0].split("\t")) != COLUMNS:
            raise ValueError(f"{DATA_FILE}: unexpected header {lines[0]!r}")
        rows = [line.split("\t") for line in lines[1:] if line]  # INSEE order, kept among equals
        population = [int(r[7] or 0) for r in rows]
        self.rows = [rows[i] for i in sorted(range(len(rows)), key=population.__getitem__, reverse=True)]
        self.rank_of = {r[0]: rank for rank, r in enumerate(self.rows)}
        self._communes: list[Commune | None] = [None] * len(self.rows)
        self._name_keys: list[str | None] = [None] * len(self.rows)
        # Paris, Lyon, Marseille: their arrondissements own the postcodes and the ground.
        self.cities = {r[8] for r in self.rows if r[8]}
        self.unlocated = {r[0] for r in self.rows if r[10] == LOCATION_FROM_POSTCODE}
        by_postcode: dict[str, list[int]] = {}
        for rank, r in enumerate(self.rows):
            if r[0] not in self.cities:
                for pc in r[2].split(","):
                    by_postcode.setdefault(pc, []).append(rank)
        self.by_postcode = {pc: tuple(ranks) for pc, ranks in by_postcode.items()}
        self.postcodes = sorted(self.by_postcode)
        self._lock = threading.Lock()
        self._names: _NameIndex | None = None
        self._grid: _Grid | None = None

    def commune(self, rank: int) -> Commune:
        c = self._communes[rank]
        if c is None:  # two threads may both build it: equal values, either one is kept
            r = self.rows[rank]
            c = self._communes[rank] = Commune(r[0], r[1], tuple(r[2].split(",")), r[3], r[4],
                                               float(r[5]), float(r[6]))
        return c

    def names(self) -> _NameIndex:
        if self._names is None:
            with self._lock:
                if self._names is None:
                    with _without_gc():
                        self._names = _NameIndex([r[1] for r in self.rows],
                                                 [tuple(r[9].split("|")) if r[9] else () for r in self.rows])
        return self._names

    def grid(self) -> _Grid:
        if self._grid is None:
            with self._lock:
                if self._grid is None:
                    skip = self.cities | self.unlocated
                    with _without_gc():
                        self._grid = _Grid([(float(r[5]), float(r[6]), r[0], rank)
                                            for rank, r in enumerate(self.rows) if r[0] not in skip])
        return self._grid

    def search_postcodes(self, prefix: str, limit: int) -> list[int]:
        start = bisect_left(self.postcodes, prefix)
        following = (self.postcodes[i] for i in range(start, len(self.postcodes)))
        postcodes = takewhile(lambda pc: pc.startswith(prefix), following)
        return _first_distinct((self.by_postcode[pc] for pc in postcodes), limit)

    def name_key(self, rank: int) -> str:
        key = self._name_keys[rank]
        if key is None:
            key = self._name_keys[rank] = normalize(self.rows[rank][1])
        return key

    def is_named(self, rank: int, key: str) -> bool:
        """Whether key is this commune's name (article optional) or INSEE code."""
        own = self.name_key(rank)
        return key in (own, _strip_article(own), self.rows[rank][0].lower())

    def was_named(self, rank: int, key: str) -> bool:
        """Whether key names a former commune merged into this one or, for an arrondissement, its
        city ("Paris" for Paris 1er Arrondissement)."""
        *_, parent, aliases, _where = self.rows[rank]
        if aliases and any(key in (n, _strip_article(n)) for n in map(normalize, aliases.split("|"))):
            return True
        return bool(parent) and key == self.name_key(self.rank_of[parent])


def _first_distinct(groups: Iterable[Iterable[int]], limit: int) -> list[int]:
    """The first `limit` distinct ranks met through the groups, in order (groups read lazily)."""
    found: list[int] = []
    seen: set[int] = set()
    for group in groups:
        for rank in group:
            if rank not in seen:
                seen.add(rank)
                found.append(rank)
                if len(found) == limit:
                    return found
    return found


def _later_words(keys: list[str], ranks) -> tuple[list[str], list[int]]:
    """Each key from its second word on, from its third…: "saint jean de luz" → "jean de luz",
    "de luz", "luz"; with the rank of the key each comes from."""
    tails, tail_ranks = [], []
    for key, rank in zip(keys, ranks):
        space = key.find(" ")
        while space >= 0:
            tails.append(key[space + 1:])
            tail_ranks.append(rank)
            space = key.find(" ", space + 1)
    return tails, tail_ranks


def _cell(lat: float, lon: float) -> tuple[int, int]:
    return math.floor(lat / _CELL_DEG), math.floor(lon / _CELL_DEG)


def _ring_cells(ci: int, cj: int, ring: int):
    if ring == 0:
        yield ci, cj
        return
    for dj in range(-ring, ring + 1):
        yield ci - ring, cj + dj
        yield ci + ring, cj + dj
    for di in range(-ring + 1, ring):
        yield ci + di, cj - ring
        yield ci + di, cj + ring


def _cell_floor_km(lat: float, lon: float, cell: tuple[int, int]) -> float:
    """A lower bound on the distance from (lat, lon) to any point of a grid cell."""
    lat_lo, lon_lo = cell[0] * _CELL_DEG, cell[1] * _CELL_DEG
    lat_gap = max(0.0, lat_lo - lat, lat - lat_lo - _CELL_DEG)
    lon_gap = max(0.0, lon_lo - lon, lon - lon_lo - _CELL_DEG)
    by_lat = math.radians(lat_gap) * EARTH_RADIUS_KM
    # haversine's a >= cos(lat)·cos(φ)·sin²(Δλ/2), φ the cell's latitude farthest from the equator
    cos_far = math.cos(math.radians(min(90.0, max(abs(lat_lo), abs(lat_lo + _CELL_DEG)))))
    s = math.sqrt(max(0.0, math.cos(math.radians(lat)) * cos_far)) * math.sin(math.radians(lon_gap) / 2)
    return max(by_lat, 2 * EARTH_RADIUS_KM * math.asin(min(1.0, s))) - _SLACK_KM


def _outside_km(lat: float, lon: float, ci: int, cj: int, ring: int) -> float:
    """A lower bound on the distance from (lat, lon) to any point outside the cells searched so far."""
    lat_lo, lat_hi = (ci - ring) * _CELL_DEG, (ci + ring + 1) * _CELL_DEG
    lon_lo, lon_hi = (cj - ring) * _CELL_DEG, (cj + ring + 1) * _CELL_DEG
    by_lat = math.radians(min(lat - lat_lo, lat_hi - lat)) * EARTH_RADIUS_KM
    # Beyond the longitude edges but within the latitude band: the haversine term is at least
    # cos²(φmax)·sin²(Δλ/2), φmax being the band's latitude farthest from the equator.
    cos_max = math.cos(math.radians(min(90.0, max(abs(lat_lo), abs(lat_hi)))))
    gap = math.radians(min(lon - lon_lo, lon_hi - lon))
    by_lon = 2 * EARTH_RADIUS_KM * math.asin(min(1.0, cos_max * math.sin(gap / 2)))
    return min(by_lat, by_lon) - _SLACK_KM


@contextmanager
def _without_gc():
    """Building the indexes makes hundreds of thousands of strings, lists and tuples and not one
    reference cycle: the cycle collector would walk them again and again for nothing."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


_gazetteer: _Gazetteer | None = None
_lock = threading.Lock()


def _data() -> _Gazetteer:
    global _gazetteer
    if _gazetteer is None:
        with _lock:
            if _gazetteer is None:
                raw = resources.files("exchange.geo").joinpath(DATA_FILE).read_bytes()
                with _without_gc():
                    _gazetteer = _Gazetteer(gzip.decompress(raw).decode("utf-8").split("\n"))
    return _gazetteer


def load() -> None:
    """Read the data now rather than on the first lookup (e.g. when the app starts)."""
    _data()


def communes() -> list[Commune]:
    """Every commune and municipal arrondissement, by INSEE code."""
    data = _data()
    return [data.commune(data.rank_of[insee]) for insee in sorted(data.rank_of)]


def by_insee(insee: str) -> Commune | None:
    """The commune with this INSEE code ("46042", "2A004"), or None."""
    data = _data()
    rank = data.rank_of.get(insee.strip().upper())
    return None if rank is None else data.commune(rank)


def by_postcode(postcode: str) -> list[Commune]:
    """The communes served by a postcode, most populous first (often one, sometimes dozens)."""
    data = _data()
    return [data.commune(rank) for rank in data.by_postcode.get(postcode.replace(" ", ""), ())]


def search(q: str, limit: int = 10) -> list[Commune]:
    """Communes for an autocomplete box: a postcode (or its start) or a name (or its start).

    Names match without accents, case, hyphens or apostrophes ("saint cere" finds Saint-Céré);
    "st"/"ste" stand for Saint/Sainte. Best first: exact name, name prefix, a later word's prefix,
    then former communes merged into a commune nouvelle; most populous first within each.
    A postcode prefix lists its postcodes in order. "46000 cahors" looks among 46000's communes.
    """
    limit = max(0, min(int(limit), MAX_SEARCH_LIMIT))
    q = q.strip()
    data = _data()
    if not q or not limit:
        return []
    compact = q.replace(" ", "")
    if compact.isdigit() and len(compact) <= 5:
        return [data.commune(rank) for rank in data.search_postcodes(compact, limit)]
    match = re.fullmatch(r"(\d{5})[\s,]+(.*\w.*)", q)
    if match:
        key = " " + _query_key(match.group(2))
        return [c for c in by_postcode(match.group(1)) if key in " " + normalize(c.name)][:limit]
    key = _query_key(q)
    return [data.commune(rank) for rank in data.names().search(key, limit)] if key else []


def nearest(lat: float, lon: float, max_km: float = NEAREST_MAX_KM) -> Commune | None:
    """The commune whose centre (town hall or centroid) is closest; None beyond max_km of any."""
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):  # also rejects NaN
        raise InvalidInput(_l("Coordonnées hors limites."),
                           errors={"lat" if not -90.0 <= lat <= 90.0 else "lon": ["Out of range."]})
    data = _data()
    rank = data.grid().nearest(lat, lon, max_km)
    return None if rank is None else data.commune(rank)


def resolve(postcode: str, commune: str | None = None) -> Commune:
    """The one commune meant by a postcode and, when the postcode is shared, a commune name.

    `commune` may be the name (accents and article optional, a former commune's name or, for an
    arrondissement, the city's name) or the INSEE code. Raises InvalidInput: postcode malformed or
    unknown, postcode shared and no commune given (extra["choices"] lists them), or commune not
    served by that postcode.
    """
    pc = (postcode or "").replace(" ", "")
    if not _POSTCODE_RE.fullmatch(pc):
        raise InvalidInput(_l("Un code postal compte cinq chiffres (Corse : 20000 à 20999)."),
                           errors={"postcode": ["Five digits expected."]}, code="invalid_postcode")
    candidates = by_postcode(pc)
    if not candidates:
        raise InvalidInput(_l("Code postal %(postcode)s inconnu.", postcode=pc),
                           errors={"postcode": ["Unknown postcode."]}, code="unknown_postcode")
    key = _query_key((commune or "") + " ")
    if not key and len(candidates) == 1:
        return candidates[0]
    data = _data()
    ranks = [data.rank_of[c.insee] for c in candidates] if key else []
    # The commune's own name first: "Conques" is a commune of 11 before a former one of 12.
    matches = ([c for c, r in zip(candidates, ranks) if data.is_named(r, key)]
               or [c for c, r in zip(candidates, ranks) if data.was_named(r, key)])
    if len(matches) == 1:
        return matches[0]
    choices = sorted(matches or candidates, key=lambda c: normalize(c.name))
    extra = {"choices": [{"insee": c.insee, "name": c.name} for c in choices]}
    names = ", ".join(c.name for c in choices)
    if not key:
        message = _l("Plusieurs communes ont le code postal %(postcode)s : %(names)s. Laquelle ?",
                     postcode=pc, names=names)
        code = "ambiguous_postcode"
    elif matches:  # homonyms under one postcode: only the INSEE code tells them apart
        message = _l("Plusieurs communes nommées %(commune)s ont le code postal %(postcode)s : %(names)s. "
                     "Indiquez le code INSEE.", commune=commune.strip(), postcode=pc, names=names)
        code = "ambiguous_postcode"
    else:
        message = _l("Aucune commune nommée %(commune)s n'a le code postal %(postcode)s, qui dessert : %(names)s.",
                     commune=commune.strip(), postcode=pc, names=names)
        code = "unknown_commune"
    raise InvalidInput(message, errors={"commune": [f"{code}: {names}"]}, code=code, extra=extra)
