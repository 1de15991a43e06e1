"""Server processes take CPython's full garbage collections off its own trigger and run them on a schedule."""
from __future__ import annotations

import gc
import weakref

import pytest

from exchange import gc_schedule


@pytest.fixture
def gc_state():
    """Whatever a test does to the collector is undone."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.fixture
def tasks(monkeypatch):
    started = []
    monkeypatch.setattr(gc_schedule.socketio, "start_background_task", lambda fn, *args: started.append((fn, args)))
    return started


def test_zero_keeps_cpythons_policy(app, gc_state, tasks):
    app.config["GC_FULL_EVERY_S"] = 0
    before = gc.get_threshold()
    assert gc_schedule.schedule_full_collections(app) is False
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0 and tasks == []


def test_full_collections_move_to_a_background_task(app, gc_state, tasks):
    app.config["GC_FULL_EVERY_S"] = 300
    young, middle, _ = gc.get_threshold()
    assert gc_schedule.schedule_full_collections(app) is True
    assert gc.get_threshold() == (young, middle, gc_schedule.NEVER)  # young collections stay automatic
    assert gc.get_freeze_count() > 10_000  # what the app holds from start is out of every collection
    assert tasks == [(gc_schedule._collect_every, (300,))]


def test_the_scheduled_collection_frees_what_young_ones_leave(gc_state):
    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: only the cyclic collector frees it
    gone = weakref.ref(a)
    gc.collect(1)  # alive through a young collection: promoted to the oldest generation
    del a, b
    gc.collect(1)
    assert gone() is not None  # young collections do not look there
    assert gc_schedule.collect() >= 2 and gone() is None


def test_the_task_collects_every_interval(monkeypatch, gc_state):
    slept, collected = [], []
    monkeypatch.setattr(gc_schedule, "collect", lambda: collected.append(len(slept)))

    def sleep(seconds):
        if len(slept) == 3:
            raise SystemExit
        slept.append(seconds)
    monkeypatch.setattr(gc_schedule.socketio, "sleep", sleep)
    with pytest.raises(SystemExit):
        gc_schedule._collect_every(120)
    assert slept == [120, 120, 120] and collected == [1, 2, 3]
