"""Full garbage collections on a schedule in server processes, not in the middle of a fan-out.

CPython's cyclic collector runs a full collection (generation 2) whenever a quarter more
long-lived objects have piled up since the last one, and it walks every tracked object while the
process does nothing else. A server process holding 1,000 websockets tracks about 360,000 objects
(some 300 per connection): one full collection took 186 ms on the bench machine, and under gevent no
socket is written meanwhile. After a burst of connections one lands, at random, in the middle of
an event's fan-out: it was the feed bench's p99 at 1,000 clients (docs/feed.md).

`schedule_full_collections` (called by wsgi.py, the server processes' entry point; the test apps
are left alone) freezes what the app holds from start (`gc.freeze`: modules, the app, its
configuration; never collected, never walked again), leaves the young collections (generations 0
and 1, cheap) automatic, and runs the full one every `GC_FULL_EVERY_S` seconds (300) in a
background task instead. Cyclic garbage that outlives the young collections waits at most that
long. `GC_FULL_EVERY_S=0` keeps CPython's own policy. Written for CPython 3.11's generational
collector (3.14's incremental one changes the thresholds' meaning).
"""
from __future__ import annotations

import gc
import logging
import time

from flask import Flask

from exchange.extensions import socketio

log = logging.getLogger(__name__)

NEVER = 2**30  # generation-1 collections before a full one: never, in practice


def schedule_full_collections(app: Flask) -> bool:
    """Take full collections off CPython's trigger and run them every GC_FULL_EVERY_S; False if the setting is 0."""
    every_s = app.config.get("GC_FULL_EVERY_S", 0)
    if not every_s:
        return False
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, NEVER)
    socketio.start_background_task(_collect_every, every_s)
    return True


def _collect_every(every_s: float) -> None:
    while True:
        socketio.sleep(every_s)
        collect()


def collect() -> int:
    """One full collection, logged with its duration; how many objects it freed."""
    started = time.perf_counter()
    freed = gc.collect()
    log.info("gc: full collection freed %d objects in %.0f ms", freed, (time.perf_counter() - started) * 1000)
    return freed
