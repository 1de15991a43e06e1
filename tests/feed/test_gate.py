"""The gate that makes resuming exact: live events held during a replay, then sent once, in order."""
from exchange.feed.manager import FeedGate


def event(seq):
    return {"seq": seq, "type": "published", "lot": {"id": seq}}


def test_held_events_are_released_in_order_without_those_the_replay_covered():
    gate = FeedGate()
    gate.hold("a")
    assert gate.screen(["a", "b"], "lot", event(12)) == ["a"]  # "b" is not gated: it gets it live
    gate.screen(["a"], "lot", event(10))
    gate.screen(["a"], "lot", event(11))
    sent = []
    last = gate.release("a", replayed_through=10, send=lambda name, payload: sent.append(payload["seq"]))
    assert sent == [11, 12] and last == 12
    # Once released, live events pass; one the replay covered is still skipped if it turns up late.
    assert gate.screen(["a"], "lot", event(13)) == []
    assert gate.screen(["a"], "lot", event(9)) == ["a"]


def test_a_connection_that_replayed_nothing_is_forgotten_on_release():
    gate = FeedGate()
    gate.hold("a")
    gate.release("a", replayed_through=0, send=lambda *_: None)
    assert not gate.holds("a") and gate.screen(["a"], "lot", event(1)) == []


def test_a_disconnected_connection_is_forgotten():
    gate = FeedGate()
    gate.hold("a")
    gate.forget("a")
    assert gate.screen(["a"], "lot", event(1)) == []
    assert gate.release("a", 5, send=lambda *_: None) == 5


def test_the_replay_waits_for_the_connect_packet_and_gives_up_on_a_forgotten_connection():
    import threading
    import time

    gate = FeedGate()
    gate.hold("a")
    assert gate.wait_connected("a", 0.01) is False  # not marked yet: the time runs out
    threading.Timer(0.05, gate.mark_connected, ["a"]).start()
    assert gate.wait_connected("a", 5) is True
    gate.hold("b")
    threading.Timer(0.05, gate.forget, ["b"]).start()
    started = time.monotonic()
    assert gate.wait_connected("b", 5) is False
    assert time.monotonic() - started < 4  # woken by the disconnect, not by the timeout
    assert gate.wait_connected("never-held", 5) is False
