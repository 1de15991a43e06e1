"""Getting feed events to people: live after each commit, and replayed to connections that resume.

`deliver` is the function publish.py calls after a commit (installed at
`app.extensions["carreau_feed_delivery"]`). A lot event goes, once, to the rooms of the traders
whose watches match it, each getting their own `distance_km` and `watch_ids` (see manager.py);
a reservation event goes to its producer's and its trader's rooms.

`open_session` / `close_session` serve the `/feed` namespace: a connection joins its user's room
at once, its live events are held by the gate, and a background task replays what it missed
since `since` (the same rules as live delivery, applied to the event log) before letting them pass.
"""
from __future__ import annotations

import logging
import time
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
    manager.gate.hold(sid)
    socketio.server.enter_room(sid, room_of(user.id), namespace=NAMESPACE)
    app = current_app._get_current_object()
    socketio.start_background_task(_catch_up, app, sid, user.id, start)


def close_session(sid: str) -> None:
    socketio.server.manager.gate.forget(sid)


def _catch_up(app: Flask, sid: str, user_id: int, since: int) -> None:
    manager = socketio.server.manager
    gate = manager.gate
    # Packets sent before the CONNECT packet would be dropped by the client: wait until it is out.
    deadline = time.monotonic() + CONNECT_WAIT_S
    while not manager.is_connected(sid, NAMESPACE):
        if not gate.holds(sid) or time.monotonic() > deadline:
            gate.forget(sid)
            return
        socketio.sleep(0.002)
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


def install(app: Flask) -> None:
    """Make this app deliver feed events, with its own watch registry (built on first use)."""
    app.extensions[REGISTRY_KEY] = WatchRegistry()
    app.extensions[publish.DELIVERY_KEY] = deliver
    manager = socketio.server.manager
    if hasattr(manager, "on_resubscribed"):
        manager.on_resubscribed = lambda since: tell_gap(app, since)
