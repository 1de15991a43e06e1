"""The Socket.IO client managers of the feed: one emit per event, personalised where it is delivered.

Two things happen here, in the process that holds the sockets, for `/feed` events only:

- **Per-room fields.** A lot event reaches many traders, each with their own `distance_km` and
  `watch_ids`. `emit_per_room` sends it once (one message on the Redis queue, whatever the number
  of traders) with a private map room -> fields; each process merges the fields of the rooms it
  has sockets in and sends every socket only its own. The map never leaves the server.
- **The gate.** A connection that resumes with `since` is first replayed what it missed, from
  the event log. Live events that reach it meanwhile are held (`FeedGate`), then sent after the
  replay, skipping those the replay already covered: no gap, no duplicate, in order.

`FeedManager` is the in-process manager (one server process); `FeedRedisManager` goes through
Redis pub/sub (`REDIS_URL`), so that any process, including one without clients (the scheduler,
a CLI), reaches the sockets of every process.
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import redis
import socketio
from engineio import packet as eio_packet
from redis.backoff import NoBackoff
from redis.retry import Retry
from socketio import packet

log = logging.getLogger(__name__)

NAMESPACE = "/feed"
FEED_EVENTS = frozenset({"lot", "reservation"})
PER_ROOM = "__per_room__"  # private key of emit_per_room's payload, stripped before anything is sent


def emit_per_room(sio, event: str, common: dict, per_room: dict[str, dict]) -> None:
    """One emit to every room of `per_room`; each room's sockets get `common` with that room's fields merged in."""
    if per_room:
        sio.emit(event, {**common, PER_ROOM: per_room}, namespace=NAMESPACE, to=list(per_room))


_float_json = float.__repr__  # what json.dumps writes for a finite float


def fields_json(fields: dict) -> str:
    """`json.dumps(fields, separators=(",", ":"))` without its braces, written directly for a lot event's fields.

    Run once per room of every lot event (1,000 times an event for 1,000 traders): the usual
    `{"distance_km": float, "watch_ids": [int, ...]}` is spliced into a string; anything else goes
    through json.dumps. tests/feed/test_fan_out.py checks the two agree.
    """
    if len(fields) == 2:
        distance, ids = fields.get("distance_km"), fields.get("watch_ids")
        if (type(distance) is float and type(ids) is list and next(iter(fields)) == "distance_km"
                and math.isfinite(distance) and all(type(i) is int for i in ids)):
            return f'"distance_km":{_float_json(distance)},"watch_ids":[{",".join(map(int.__repr__, ids))}]'
    return json.dumps(fields, separators=(",", ":"))[1:-1]


@dataclass
class _Connection:
    connected: Any  # an Event of the server's async mode: set once the CONNECT packet is out (or on forget)
    buffer: list[tuple[int, str, dict]] | None = field(default_factory=list)  # None once released
    floor: int = 0  # live events with seq <= floor were covered by the replay


class FeedGate:
    """Per-connection hold on live events while the connection is being replayed to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: dict[str, _Connection] = {}

    def hold(self, sid: str, connected_event: Any = None) -> None:
        """From now on, live events for this connection are kept until `release`.

        `connected_event`: an Event of the server's async mode (threading's by default), set by
        `mark_connected`; `wait_connected` sleeps on it.
        """
        with self._lock:
            self._connections[sid] = _Connection(connected_event or threading.Event())

    def mark_connected(self, sid: str) -> None:
        """The server has sent this connection its CONNECT packet: packets sent from now on reach it."""
        conn = self._connections.get(sid)
        if conn is not None:
            conn.connected.set()

    def wait_connected(self, sid: str, timeout_s: float) -> bool:
        """Wait until the connection is marked connected; False if it was forgotten or the time ran out.

        Waiting on an event rather than polling matters with hundreds of connections arriving at
        once: polling threads would wake every few milliseconds each, fighting over the GIL.
        """
        conn = self._connections.get(sid)
        if conn is None:
            return False
        conn.connected.wait(timeout_s)
        return conn.connected.is_set() and self._connections.get(sid) is conn

    @property
    def active(self) -> bool:
        """Whether any connection is held or filtered at all (most of the time, none is)."""
        return bool(self._connections)

    def holds(self, sid: str) -> bool:
        return sid in self._connections

    def forget(self, sid: str) -> None:
        with self._lock:
            conn = self._connections.pop(sid, None)
        if conn is not None:
            conn.connected.set()  # a replay task still waiting for the connection wakes and gives up

    def screen(self, sids: list[str], event: str, payload: dict) -> list[str]:
        """Of these connections, those that must not get this live event now (held, or already replayed)."""
        if not self._connections:
            return []
        seq = payload.get("seq") or 0
        skipped = []
        with self._lock:
            for sid in sids:
                conn = self._connections.get(sid)
                if conn is None:
                    continue
                if conn.buffer is not None:
                    conn.buffer.append((seq, event, payload))
                    skipped.append(sid)
                elif seq <= conn.floor:
                    skipped.append(sid)
        return skipped

    def release(self, sid: str, replayed_through: int, send: Callable[[str, dict], None]) -> int:
        """Send what was held after the replay (in seq order, skipping what it covered), then let live events pass.

        Returns the last seq this connection has been given, or `replayed_through`.
        """
        with self._lock:
            conn = self._connections.get(sid)
            if conn is None or conn.buffer is None:
                return replayed_through
            last = replayed_through
            for seq, event, payload in sorted(conn.buffer, key=lambda held: held[0]):
                if seq > last:
                    send(event, payload)
                    last = seq
            conn.buffer = None
            conn.floor = replayed_through
            if not replayed_through:
                del self._connections[sid]  # nothing replayed, nothing to skip later
            return last


class _FeedDelivery:
    """Local delivery of /feed events: per-room fields merged, the gate consulted. Mixed into both managers."""

    gate: FeedGate
    YIELD_EVERY = 20  # rooms queued between two yields to the writer tasks

    def _deliver(self, event: str, data: dict, namespace: str, room, skip_sid) -> None:
        rooms = [room] if isinstance(room, str) or room is None else list(room)
        skip = [] if skip_sid is None else (skip_sid if isinstance(skip_sid, list) else [skip_sid])
        per_room = data.get(PER_ROOM)
        if per_room is None:
            sids = [sid for r in rooms for sid, _ in self.get_participants(namespace, r)]
            held = self.gate.screen(sids, event, data) if sids else []
            socketio.Manager.emit(self, event, data, namespace, room=rooms, skip_sid=skip + held)
            return
        common = {k: v for k, v in data.items() if k != PER_ROOM}
        # The common part is encoded once; each room's packet only appends its own fields to it.
        prefix = self.server.packet_class(packet.EVENT, namespace=namespace, data=[event, common]).encode()[:-2]
        here = self.rooms.get(namespace, {})
        dumps = self.server.packet_class.json.dumps  # engineio.json's is the standard library's, unless replaced
        queued = 0
        for r in rooms:
            if r not in here:
                continue  # only the rooms with sockets in this process cost anything
            fields = per_room.get(r) or {}
            participants = list(self.get_participants(namespace, r))
            held = self.gate.screen([sid for sid, _ in participants], event, {**common, **fields}) \
                if self.gate.active else ()
            extra = fields_json(fields) if dumps is json.dumps else dumps(fields, separators=(",", ":"))[1:-1]
            message = eio_packet.Packet(eio_packet.MESSAGE, f"{prefix},{extra}}}]" if extra else f"{prefix}}}]")
            for sid, eio_sid in participants:
                if sid not in skip and sid not in held:
                    self.server._send_eio_packet(eio_sid, message)
            queued += 1
            if queued % self.YIELD_EVERY == 0:
                # Let the sockets' writer tasks send what is queued so far: the clients (on other cores,
                # or other machines) start receiving while the rest is queued, instead of after all of it.
                self.server.sleep(0)

    def connect(self, sid, namespace):
        # Called by the server right after it has sent the CONNECT packet (our connect handler has
        # already put the connection on hold): the replay task may start sending.
        result = super().connect(sid, namespace)
        if namespace == NAMESPACE:
            self.gate.mark_connected(sid)
        return result

    def send_to(self, sid: str, event: str, payload: dict) -> None:
        """Send to one local connection, past the gate (replays and released events)."""
        socketio.Manager.emit(self, event, payload, NAMESPACE, room=sid)

    @staticmethod
    def _is_feed_event(event, data, namespace) -> bool:
        return namespace == NAMESPACE and event in FEED_EVENTS and isinstance(data, dict)


class FeedManager(_FeedDelivery, socketio.Manager):
    """In-process manager (a single server process, no REDIS_URL)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = FeedGate()

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        room = to or room
        if callback is None and self._is_feed_event(event, data, namespace):
            return self._deliver(event, data, namespace, room, skip_sid)
        return super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)


class FeedRedisManager(_FeedDelivery, socketio.RedisManager):
    """Manager over Redis pub/sub: every process delivers to its own sockets, any process may emit.

    When Redis goes away, an emit is still delivered to this process's own sockets (python-socketio
    delivers locally before publishing, and a failed publish is logged, not raised), so requests
    carry on. Events from other processes are lost to this process's clients until it subscribes
    again; then `on_resubscribed(since)` tells them (see delivery.tell_gap).
    """

    RETRY_MAX_S = 5.0  # python-socketio's own listener waits up to 60 s between attempts
    PUBLISH_TIMEOUT_S = 1.0  # a request that emits never waits longer on a Redis that does not answer
    PUBLISH_PAUSE_S = 2.0  # after a failed publish, the next ones in this stretch are skipped, not tried

    def __init__(self, url: str, channel: str, write_only: bool = False) -> None:
        super().__init__(url, channel=channel, write_only=write_only)
        self.gate = FeedGate()
        self.on_resubscribed: Callable[[int], None] | None = None
        self._publisher = None
        self._publish_paused_until = 0.0
        # The highest seq known to have gone through Redis: published from here, or heard from another process.
        self.last_shared_seq = 0

    def _publish(self, data) -> None:
        """Publish to the other processes, or give up fast: the emitting request must not wait on Redis.

        python-socketio's own publish shares the listener's client (redis-py's 5 s timeouts) and tries
        twice: 10 s per emit against an unreachable Redis. Here: one try, a short timeout, and a pause
        after a failure. What is not published is still in the event log, and the resync after the
        outage (see `_redis_listen_with_retries`) points clients to it.
        """
        if time.monotonic() < self._publish_paused_until:
            return
        try:
            if self._publisher is None:
                self._publisher = redis.Redis.from_url(self.redis_url, socket_timeout=self.PUBLISH_TIMEOUT_S,
                                                       socket_connect_timeout=self.PUBLISH_TIMEOUT_S,
                                                       retry=Retry(NoBackoff(), 0))
            self._publisher.publish(self.channel, self.json.dumps(data))
            self._shared(data)
        except Exception as exc:  # noqa: BLE001 - the request goes on; see the docstring
            self._publish_paused_until = time.monotonic() + self.PUBLISH_PAUSE_S
            log.error("feed: cannot publish to Redis (%s); other processes miss this event", exc)

    def _shared(self, message: dict) -> None:
        data = message.get("data")
        data = data[0] if isinstance(data, list) and data else data
        if message.get("method") == "emit" and isinstance(data, dict) and isinstance(data.get("seq"), int):
            self.last_shared_seq = max(self.last_shared_seq, data["seq"])

    def _redis_listen_with_retries(self):
        """Subscribe and listen, again and again; after a break, report from which seq events may have been missed."""
        retry_sleep = 0.5
        lost_at: int | None = None
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                if lost_at is not None:
                    log.warning("feed: subscribed to Redis again; events after seq %s may have been missed", lost_at)
                    if self.on_resubscribed is not None:
                        self.on_resubscribed(lost_at)
                    lost_at = None
                retry_sleep = 0.5
                yield from self.pubsub.listen()
            except Exception as exc:  # noqa: BLE001 - whatever broke, the answer is to subscribe again
                if lost_at is None:
                    lost_at = self.last_shared_seq
                log.error("feed: no messages from Redis (%s); retrying in %s s", exc, retry_sleep)
                time.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, self.RETRY_MAX_S)

    def _handle_emit(self, message):
        data = message.get("data")
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if (not message.get("callback") and not message.get("binary")
                and self._is_feed_event(message.get("event"), data, message.get("namespace"))):
            if message.get("host_id") != self.host_id:
                self._shared(message)
            return self._deliver(message["event"], data, message["namespace"], message.get("room"),
                                 message.get("skip_sid"))
        return super()._handle_emit(message)


def client_manager(config) -> socketio.Manager:
    """The manager for this app's settings: through Redis when REDIS_URL is set, in-process otherwise."""
    url = config.get("REDIS_URL")
    if url:
        return FeedRedisManager(url, channel=config.get("SOCKETIO_CHANNEL", "carreau"))
    return FeedManager()
