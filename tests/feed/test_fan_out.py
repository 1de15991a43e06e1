"""The fan-out of a lot event in the process that holds the sockets (manager.py's `_deliver`).

The per-room fields are written without json.dumps and must read exactly as if they were; the
packets are those of the merged payload; the writers get to send between rooms.
"""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
from engineio import packet as eio_packet
from socketio import packet

from exchange.feed import manager as manager_module
from exchange.feed.manager import NAMESPACE, FeedManager, fields_json


def dumped(fields: dict) -> str:
    return json.dumps(fields, separators=(",", ":"))[1:-1]


DISTANCES = [0.0, -0.0, 0.01, 0.1 + 0.2, 1.5, 12.34, 29.99, 30.0, 99.99, 1e-7, 123456.78, 1e16, 2.5e-300]
WATCH_IDS = [[], [1], [7, 8, 9], [2**31, 2**63 + 5], list(range(1, 40))]


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("ids", WATCH_IDS)
def test_the_usual_fields_read_as_json_dumps_writes_them(distance, ids):
    fields = {"distance_km": distance, "watch_ids": ids}
    assert fields_json(fields) == dumped(fields)
    assert json.loads("{" + fields_json(fields) + "}") == fields


def test_random_distances_rounded_as_matching_rounds_them():
    rng = random.Random(4)
    for _ in range(20_000):
        fields = {"distance_km": round(rng.uniform(0, 200), rng.choice((2, 3, 9))),
                  "watch_ids": [rng.randrange(1, 10**9) for _ in range(rng.randrange(4))]}
        assert fields_json(fields) == dumped(fields)


@pytest.mark.parametrize("fields", [
    {"distance_km": float("nan"), "watch_ids": [1]},          # not finite: json.dumps's NaN
    {"distance_km": float("inf"), "watch_ids": [1]},
    {"distance_km": np.float64(1.25), "watch_ids": [1]},      # a float subclass
    {"distance_km": 3, "watch_ids": [1]},                     # an int
    {"distance_km": 1.5, "watch_ids": [True, 2]},             # bool is an int subclass: true, not 1
    {"distance_km": 1.5, "watch_ids": (1, 2)},                # a tuple
    {"watch_ids": [1], "distance_km": 1.5},                   # the other order
    {"distance_km": 1.5, "watch_ids": [1], "note": "é"},      # more fields
    {"distance_km": 1.5},
    {},
])
def test_anything_else_goes_through_json_dumps(fields):
    assert fields_json(fields) == dumped(fields)


class FakeServer:
    """What `_deliver` uses of python-socketio's server: the packet class, sending, yielding."""

    packet_class = packet.Packet
    eio = type("Eio", (), {"generate_id": staticmethod(lambda ids=iter(range(10**6)): f"sid-{next(ids)}")})

    def __init__(self) -> None:
        self.log: list = []  # ("send", eio_sid, encoded) and ("yield",) in the order they happened

    def _send_eio_packet(self, eio_sid, message):
        self.log.append(("send", eio_sid, message.encode()))

    def sleep(self, seconds=0):
        self.log.append(("yield",))


def manager_with_rooms(rooms: list[str]) -> tuple[FeedManager, FakeServer]:
    """A FeedManager with one socket (`eio-<room>`) in each of these rooms."""
    server = FakeServer()
    manager = FeedManager()
    manager.set_server(server)
    manager.initialize()
    for room in rooms:
        manager.connect(f"eio-{room}", NAMESPACE)
        manager.enter_room(manager.sid_from_eio_sid(f"eio-{room}", NAMESPACE), NAMESPACE, room)
    return manager, server


def test_a_rooms_packet_is_the_packet_of_its_merged_payload(monkeypatch):
    """What `_deliver` sends a socket: the common part encoded once, then the room's fields spliced in."""
    spliced = []
    monkeypatch.setattr(manager_module, "fields_json", lambda fields: spliced.append(fields) or fields_json(fields))
    manager, server = manager_with_rooms(["user:1", "user:2"])
    common = {"seq": 12, "type": "updated", "lot": {"id": 3, "product": "Poireaux « bio »", "price_cents": 250,
                                                   "quantity_available": 17.5}}
    per_room = {"user:1": {"distance_km": 4.21, "watch_ids": [5, 9]}, "user:2": {"distance_km": 0.0, "watch_ids": [6]},
                "user:3": {"distance_km": 1.0, "watch_ids": [7]}}  # no socket here
    manager.emit("lot", {**common, "__per_room__": per_room}, NAMESPACE, to=list(per_room))

    expected = [("send", f"eio-{room}", eio_packet.Packet(eio_packet.MESSAGE, packet.Packet(
        packet.EVENT, namespace=NAMESPACE, data=["lot", {**common, **per_room[room]}]).encode()).encode())
        for room in ("user:1", "user:2")]
    assert server.log == expected
    assert spliced == [per_room["user:1"], per_room["user:2"]]  # the fast path, not json.dumps, wrote them


def test_the_writers_get_to_send_every_few_rooms(monkeypatch):
    """The fan-out yields every YIELD_EVERY rooms held here, so that the first sockets are written to
    while the others are still being queued; rooms without a socket here do not count."""
    monkeypatch.setattr(FeedManager, "YIELD_EVERY", 2)
    rooms = [f"user:{i}" for i in range(5)]
    manager, server = manager_with_rooms(rooms)
    per_room = {room: {"distance_km": 1.0, "watch_ids": [i]} for i, room in enumerate(rooms)}
    per_room |= {f"user:elsewhere-{i}": {"distance_km": 2.0, "watch_ids": [9]} for i in range(3)}
    manager.emit("lot", {"seq": 1, "type": "published", "lot": {"id": 1}, "__per_room__": per_room}, NAMESPACE,
                 to=sorted(per_room, key=lambda room: "elsewhere" not in room))
    assert [entry[:2] for entry in server.log] == [
        ("send", "eio-user:0"), ("send", "eio-user:1"), ("yield",), ("send", "eio-user:2"), ("send", "eio-user:3"),
        ("yield",), ("send", "eio-user:4")]
