"""Getting feed events to people: live after each commit, and replayed to connections that resume.

`deliver` emits committed events: a lot event goes, once, to the rooms of the traders whose
watches match it, each getting their own `distance_km` and `watch_ids` (see manager.py); a
reservation event goes to its producer's and its trader's rooms. What publish.py calls after a
commit (`app.extensions["carreau_feed_delivery"]`) depends on `FEED_DELIVERY`: "background" (the
default) only puts the events on this process's `DeliveryWorker` queue, so that the request that
made the change answers without waiting for the fan-out; "inline" runs `deliver` in the committing
thread (TestConfig: a test sees the events as soon as the request returns).

`open_session` / `close_session` serve the `/feed` namespace: a connection joins its user's room
at once, its live events are held by the gate, and a background task replays what it missed
since `since` (the same rules as live delivery, applied to the event log) before letting them pass.
"""
from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
import weakref
from typing import Iterator

from flask import Flask, current_app
from sqlalchemy import func, select

from exchange.domain import watches
from exchange.extensions import db, socketio
from exchange.feed import publish
from exchange.feed.manager import NAMESPACE, emit_per_room
from exchange.feed.matching import Match, WatchRegistry, match_one_trader, spec_of
from exchange.models import FeedCounter, FeedEvent, User

log = logging.getLogger(__name__)

REGISTRY_KEY = "carreau_watch_registry"
WORKER_KEY = "carreau_feed_worker"
# How long a connection may take between its connect handler and being marked connected.
CONNECT_WAIT_S = 10.0
_REPLAY_CHUNK = 500


def room_of(user_id: int) -> str:
    return f"user:{user_id}"


def lot_message(event: dict, match: Match | None = None) -> dict:
    message = {"seq": event["seq"], "type": event["type"], "lot": event["payload"]["lot"]}
    if match is not None:
        message |= {"distance_km": match.distance_km, "watch_ids": list(match.watch_ids)}
    return message


def reservation_message(event: dict) -> dict:
    return {"seq": event["seq"], "type": event["type"], "reservation": event["payload"]["reservation"]}


def registry(app: Flask | None = None) -> WatchRegistry:
    return (app or current_app).extensions[REGISTRY_KEY]


def deliver(events: list[dict]) -> None:
    """Emit committed events to the rooms that must get them; a failure is logged, never raised.

    The change is committed already: failing the request would not undo it, and a client that
    missed an event gets it back by reconnecting with `since`.
    """
    for event in events:
        try:
            if event["kind"] == "lot":
                matches = registry().match(event["payload"]["lot"], event["type"],
                                           watch_version=event.get("watch_version"))
                common = lot_message(event)
                emit_per_room(socketio, "lot", common, {
                    room_of(uid): {"distance_km": m.distance_km, "watch_ids": list(m.watch_ids)}
                    for uid, m in matches.items()})
            elif event["kind"] == "reservation" and event["recipient_ids"]:
                socketio.emit("reservation", reservation_message(event), namespace=NAMESPACE,
                              to=[room_of(uid) for uid in event["recipient_ids"]])
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("feed: delivering event %s failed", event.get("seq"))


# --- replay ------------------------------------------------------------------------------------

def last_seq() -> int:
    return db.session.scalar(select(FeedCounter.last_seq).where(FeedCounter.id == 1)) or 0


def missed(user: User, since: int, upto: int) -> Iterator[tuple[str, dict]]:
    """What this user should have received after `since`, up to `upto`, in order: (event name, message)."""
    is_trader = user.has_role("trader")
    specs = [spec_of(w) for w in watches.active_watches_of(user.id)] if is_trader else []
    query = select(FeedEvent.seq, FeedEvent.kind, FeedEvent.type, FeedEvent.recipient_ids, FeedEvent.payload).where(
        FeedEvent.seq > since, FeedEvent.seq <= upto)
    if not specs:
        query = query.where(FeedEvent.kind == "reservation")
    cursor = since
    while True:
        rows = db.session.execute(query.where(FeedEvent.seq > cursor).order_by(FeedEvent.seq)
                                  .limit(_REPLAY_CHUNK)).all()
        for row in rows:
            event = row._asdict()
            if row.kind == "lot":
                match = match_one_trader(specs, row.payload["lot"], row.type)
                if match is not None:
                    yield "lot", lot_message(event, match)
            elif user.id in (row.recipient_ids or ()):
                yield "reservation", reservation_message(event)
        if len(rows) < _REPLAY_CHUNK:
            return
        cursor = rows[-1].seq


def position_lost(since: int, upto: int) -> bool:
    """Whether events after `since` were pruned from the log, or `since` is unknown here."""
    if since > upto:
        return True
    if since == upto:
        return False
    oldest = db.session.scalar(select(func.min(FeedEvent.seq)))
    return oldest is None or oldest > since + 1


# --- connections -------------------------------------------------------------------------------

def open_session(user: User, sid: str, since: int | None) -> None:
    """Join the user's room with live events held, then replay in the background and let them pass.

    Without `since` the connection starts from now: the position read before joining the room, so
    that an event committed just before the join is replayed rather than lost.
    """
    manager = socketio.server.manager
    start = since if since is not None else last_seq()
    manager.gate.hold(sid, socketio.server.eio.create_event())
    socketio.server.enter_room(sid, room_of(user.id), namespace=NAMESPACE)
    app = current_app._get_current_object()
    socketio.start_background_task(_catch_up, app, sid, user.id, start)


def close_session(sid: str) -> None:
    socketio.server.manager.gate.forget(sid)


def _catch_up(app: Flask, sid: str, user_id: int, since: int) -> None:
    manager = socketio.server.manager
    gate = manager.gate
    # Packets sent before the CONNECT packet would be dropped by the client: wait until it is out.
    if not gate.wait_connected(sid, CONNECT_WAIT_S) or not manager.is_connected(sid, NAMESPACE):
        gate.forget(sid)
        return
    through = since
    try:
        with app.app_context():
            through = last_seq()
            if position_lost(since, through):
                manager.send_to(sid, "resync", {"since": since, "last_seq": through})
            else:
                user = db.session.get(User, user_id)
                for name, message in missed(user, since, through):
                    if not gate.holds(sid):
                        return  # disconnected meanwhile
                    manager.send_to(sid, name, message)
    except Exception:  # noqa: BLE001 - live events still flow; the client is told to reload
        log.exception("feed: replay to %s failed", sid)
        manager.send_to(sid, "resync", {"since": since, "last_seq": through})
    last = gate.release(sid, through, lambda name, message: manager.send_to(sid, name, message))
    if manager.is_connected(sid, NAMESPACE):
        manager.send_to(sid, "ready", {"last_seq": last})


def tell_gap(app: Flask, since: int) -> None:
    """After the message queue was lost and found again: every connection of this process may have missed
    events of other processes after `since`; send them `resync` so they reload (or resume from `since`)."""
    manager = socketio.server.manager
    try:
        with app.app_context():
            through = last_seq()
    except Exception:  # noqa: BLE001 - still tell them, with what we know
        log.exception("feed: reading the last seq failed")
        through = since
    for sid, _ in list(manager.get_participants(NAMESPACE, None)):
        manager.send_to(sid, "resync", {"since": since, "last_seq": through})


# --- the background worker -----------------------------------------------------------------------

_STOP = object()


class DeliveryWorker:
    """This process's fan-out: committed events queued by the requests, delivered by one background task.

    One task per process keeps delivery in seq order: each turn takes every batch waiting, sorts
    the events by seq (two requests may commit in one order and reach the queue in the other) and
    delivers them. The queue is bounded: when the fan-out falls that far behind, committing
    requests wait for room (back-pressure) rather than events being dropped. Nothing depends on
    the queue for safety: every event is in the log, and a client that missed one (this process
    stopped with events queued) gets it back by reconnecting with `since`.
    """

    def __init__(self, app: Flask, maxsize: int) -> None:
        self._app = app
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._queue: queue.Queue | None = None
        self._pid: int | None = None  # the process the task runs in (a fork inherits no thread)

    def submit(self, events: list[dict]) -> None:
        """Queue committed events for delivery (publish.py's after-commit hook in background mode)."""
        self._running().put(events)

    def _running(self) -> queue.Queue:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._queue = queue.Queue(self._maxsize)
                    socketio.start_background_task(self._run, self._queue)
                    self._pid = os.getpid()
                    _started.add(self)
        return self._queue

    def _run(self, batches: queue.Queue) -> None:
        while True:
            taken = [batches.get()]
            while True:
                try:
                    taken.append(batches.get_nowait())
                except queue.Empty:
                    break
            events = sorted((e for batch in taken if batch is not _STOP for e in batch), key=lambda e: e["seq"])
            try:
                if events:
                    with self._app.app_context():
                        deliver(events)
            except Exception:  # noqa: BLE001 - deliver logs per event; this is the app context itself
                log.exception("feed: delivering events %s..%s failed", events[0]["seq"], events[-1]["seq"])
            finally:
                for _ in taken:
                    batches.task_done()
            if any(batch is _STOP for batch in taken):
                return

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every event queued so far has been delivered; whether it was in time."""
        batches = self._queue
        if batches is None or self._pid != os.getpid():
            return True
        if not hasattr(batches, "all_tasks_done"):
            # gevent's queue, the `queue.Queue` of a monkey-patched process (production's workers): its own join
            # waits at most the timeout and says whether everything was done.
            return batches.join(timeout_s)
        deadline = time.monotonic() + timeout_s
        with batches.all_tasks_done:
            while batches.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                batches.all_tasks_done.wait(remaining)
        return True

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Deliver what is queued, then end the task; whether it was in time."""
        if self._queue is None or self._pid != os.getpid():
            return True
        self._queue.put(_STOP)
        done = self.flush(timeout_s)
        with self._lock:
            self._queue, self._pid = None, None
            _started.discard(self)
        return done


_started: weakref.WeakSet[DeliveryWorker] = weakref.WeakSet()


@atexit.register
def _deliver_before_exit() -> None:
    # A CLI command or the scheduler may exit right after a commit: deliver what it queued (briefly).
    for worker in list(_started):
        worker.stop(timeout_s=5.0)


def worker(app: Flask | None = None) -> DeliveryWorker | None:
    """This app's delivery worker, or None when it delivers inline."""
    return (app or current_app).extensions.get(WORKER_KEY)


def install(app: Flask) -> None:
    """Make this app deliver feed events, with its own watch registry (built on first use)."""
    app.extensions[REGISTRY_KEY] = WatchRegistry()
    mode = app.config.get("FEED_DELIVERY", "background")
    if mode == "background":
        app.extensions[WORKER_KEY] = DeliveryWorker(app, app.config.get("FEED_DELIVERY_QUEUE", 10_000))
        app.extensions[publish.DELIVERY_KEY] = app.extensions[WORKER_KEY].submit
    elif mode == "inline":
        app.extensions[publish.DELIVERY_KEY] = deliver
    else:
        raise ValueError(f"FEED_DELIVERY must be 'background' or 'inline', not {mode!r}")
    manager = socketio.server.manager
    if hasattr(manager, "on_resubscribed"):
        manager.on_resubscribed = lambda since: tell_gap(app, since)
