"""Which traders does a lot event reach? This process's watch index, kept in step with the database.

Every server process (and the scheduler, which publishes too) holds a `WatchRegistry`: a
`WatchIndex` built from the `watches` table on first use, plus the watch version it reflects.
Before matching, the registry reads `watch_version` (one primary-key read) and, when it moved,
applies the logged changes since its own version (`watch_changes`, then the changed rows).

Why a version check rather than broadcasting watch changes over Redis pub/sub: the versions
follow commit order (the counter row is locked until commit), so a lot event delivered after a
watch was committed, in any process, always sees that watch; a broadcast can arrive late or be
lost while a process starts or its Redis connection drops, and it would need Redis even with a
single process. The read costs a fraction of a millisecond per delivered commit, and nothing at
all has to be sent when no watch changes.
"""
from __future__ import annotations

import logging
import math
import threading
from typing import Iterable, NamedTuple

import numpy as np
from sqlalchemy import select

from exchange.extensions import db
from exchange.geo.watch_index import Hits, LotFacts, WatchIndex, WatchSpec, distance_if_matches
from exchange.models import Watch, WatchChange, WatchVersion

log = logging.getLogger(__name__)


class Match(NamedTuple):
    """What one trader's watches say about one lot: the nearest matching centre and which watches hit.

    A named tuple: one is made per trader reached, and it is the cheapest immutable record to make.
    """

    user_id: int
    distance_km: float
    watch_ids: tuple[int, ...]


_SPEC_COLUMNS = (Watch.id, Watch.trader_id, Watch.lat, Watch.lon, Watch.radius_km,
                 Watch.categories_text.label("categories_text"), Watch.q, Watch.max_price_cents,
                 Watch.labels_text.label("labels_text"), Watch.min_quantity, Watch.active)


def spec_of(watch) -> WatchSpec:
    """A watch (model or row of _SPEC_COLUMNS) as the index sees it."""
    return WatchSpec(id=watch.id, user_id=watch.trader_id, lat=watch.lat, lon=watch.lon, radius_km=watch.radius_km,
                     categories=frozenset(c for c in watch.categories_text.split(",") if c), q=watch.q,
                     max_price_cents=watch.max_price_cents,
                     labels=frozenset(c for c in watch.labels_text.split(",") if c),
                     min_quantity=float(watch.min_quantity) if watch.min_quantity is not None else None,
                     active=watch.active)


# Events that end a lot's offer. A producer who sets the stock to 0 also brings the quantity offered
# to 0, so a `min_quantity` watch would never hear that the lot it was shown is gone: for these
# events the quantity filter is left out (the other filters still apply).
CLOSING_TYPES = frozenset({"sold_out", "withdrawn", "expired"})


def facts_of(lot: dict, event_type: str | None = None) -> LotFacts:
    """The facts matching needs, from a lot as recorded with its event (LotOut)."""
    quantity = math.inf if event_type in CLOSING_TYPES else float(lot["quantity"])
    return LotFacts(lat=lot["lat"], lon=lot["lon"], category=lot["category"], product=lot["product"],
                    price_cents=lot["price_cents"], labels=frozenset(lot.get("labels") or ()), quantity=quantity)


def by_trader(hits: Hits) -> dict[int, Match]:
    """Group watch hits per trader: the smallest distance (to 10 m) and the watch ids, ascending.

    Hits come sorted by user then watch, so each trader's are one run: numpy finds the runs,
    their smallest distances and rounds them; what is left per trader (one event can reach
    thousands) is making its Match, through C-level map and zip.
    """
    n = len(hits)
    if not n:
        return {}
    users = hits.user_ids
    starts = np.flatnonzero(np.concatenate(([True], users[1:] != users[:-1])))
    user_ids = users[starts].tolist()
    nearest = np.round(np.minimum.reduceat(hits.distances_km, starts), 2).tolist()
    bounds = starts.tolist()
    bounds.append(n)
    watch_ids = map(tuple, map(hits.watch_ids.tolist().__getitem__, map(slice, bounds, bounds[1:])))
    return dict(zip(user_ids, map(Match, user_ids, nearest, watch_ids)))


def match_one_trader(specs: Iterable[WatchSpec], lot: dict, event_type: str | None = None) -> Match | None:
    """The same rule as the index, for one trader's watches (replaying missed events needs no index)."""
    facts = facts_of(lot, event_type)
    found = [(spec, d) for spec in specs if (d := distance_if_matches(spec, facts)) is not None]
    return next(iter(by_trader(Hits.of(found)).values()), None)


class WatchRegistry:
    """This process's watch index and the watch version it reflects; `match` brings it up to date first."""

    def __init__(self, index: WatchIndex | None = None):
        self.index = index if index is not None else WatchIndex()
        self.version: int | None = None  # None: never loaded
        self._lock = threading.Lock()

    def match(self, lot: dict, event_type: str | None = None, *, watch_version: int | None = None) -> dict[int, Match]:
        """The traders whose active watches this lot (a LotOut dict) matches.

        `watch_version`, when known (read in the event's own transaction), spares the query when the
        index is at least that recent.
        """
        if watch_version is None or self.version is None or watch_version > self.version:
            self.sync()
        return by_trader(self.index.match(facts_of(lot, event_type)))

    def sync(self) -> None:
        """Apply the watch changes committed since the last sync (the whole table on first use)."""
        with db.engine.connect() as conn:
            current = conn.scalar(select(WatchVersion.version).where(WatchVersion.id == 1))
            if current is None or current == self.version:
                return
            with self._lock:
                if self.version is not None and self.version >= current:
                    return  # another thread caught up meanwhile
                if self.version is None or not self._apply_changes(conn, self.version, current):
                    self._load_all(conn)
                # `current` was read before the rows: a change committed in between is applied again next time.
                self.version = current

    def _load_all(self, conn) -> None:
        specs = [spec_of(row) for row in conn.execute(select(*_SPEC_COLUMNS).where(Watch.active.is_(True)))]
        self.index.replace_all(specs)
        log.info("watch index loaded: %d active watches (%s cells)", len(specs), self.index.scheme)

    def _apply_changes(self, conn, since: int, until: int) -> bool:
        """Apply changes (since, until]; False when some were pruned from the log (then reload everything)."""
        changed = conn.scalars(select(WatchChange.watch_id).where(WatchChange.version > since,
                                                                  WatchChange.version <= until)).all()
        if len(changed) != until - since:
            return False
        ids = set(changed)
        found = {row.id: spec_of(row) for row in conn.execute(select(*_SPEC_COLUMNS).where(Watch.id.in_(ids)))}
        for watch_id in ids:
            spec = found.get(watch_id)
            if spec is None or not spec.active:
                self.index.remove(watch_id)
            else:
                self.index.upsert(spec)
        return True
