"""FEED_DELIVERY="background": the request answers without waiting for the fan-out, which follows seq order."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from exchange.domain import lots, watches
from exchange.feed import delivery
from exchange.models import FeedEvent


@pytest.fixture
def app_config():
    return {"FEED_DELIVERY": "background"}


@pytest.fixture
def worker(app):
    worker = delivery.worker(app)
    yield worker
    worker.stop()


def post_lot(owner, farm, product="Tomates"):
    return lots.post_lot(owner, farm_id=farm.id, product=product, category="vegetables", unit="kg",
                         quantity=Decimal(5), price_cents=200,
                         available_until=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1))


class HeldDelivery:
    """Stands in front of the real `deliver`: records what it is given and waits until let go."""

    def __init__(self):
        self.started = threading.Event()
        self.go = threading.Event()
        self.calls: list[list[int]] = []
        self.real = delivery.deliver

    def __call__(self, events):
        self.calls.append([e["seq"] for e in events])
        self.started.set()
        assert self.go.wait(10), "the test never let the delivery go"
        self.real(events)


def test_the_request_answers_while_the_fan_out_is_still_running(app, client, login_as, make_farm, feed_client,
                                                                 worker, monkeypatch):
    producer, p_headers = login_as("producer")
    farm = make_farm(producer)
    trader, _ = login_as("trader")
    watches.create_watch(trader, lat=farm.lat, lon=farm.lon, radius_km=10)
    feed = feed_client(trader)
    held = HeldDelivery()
    monkeypatch.setattr(delivery, "deliver", held)

    answer = client.patch(f"/api/v1/lots/{post_lot(producer, farm).id}", json={"price_cents": 150}, headers=p_headers)

    assert answer.status_code == 200
    assert held.started.wait(5) and not held.go.is_set()  # answered while the worker is still inside deliver
    assert [e for e in feed.client.queue if e["name"] == "lot"] == []
    held.go.set()
    assert [e["type"] for e in feed.wait_for("lot", 2)] == ["published", "updated"]


def test_events_queued_meanwhile_are_delivered_together_in_seq_order(db, login_as, make_farm, worker, monkeypatch):
    producer, _ = login_as("producer")
    farm = make_farm(producer)
    for i in range(4):
        post_lot(producer, farm, product=f"Lot {i}")
    assert worker.flush()
    logged = [{"seq": e.seq, "kind": e.kind, "type": e.type, "lot_id": e.lot_id, "reservation_id": e.reservation_id,
               "recipient_ids": list(e.recipient_ids), "payload": e.payload}
              for e in db.session.scalars(select(FeedEvent).order_by(FeedEvent.seq))]
    held = HeldDelivery()
    monkeypatch.setattr(delivery, "deliver", held)

    worker.submit([logged[0]])
    assert held.started.wait(5)
    # Two requests committed 2 then 3 but reached the queue in the other order; 4 came alone.
    worker.submit([logged[3]])
    worker.submit([logged[2]])
    worker.submit([logged[1]])
    held.go.set()
    assert worker.flush()

    assert held.calls == [[logged[0]["seq"]], [e["seq"] for e in logged[1:]]]


def test_a_failed_delivery_does_not_stop_the_worker(app, login_as, make_farm, make_trader, feed_client, worker,
                                                    monkeypatch):
    producer, _ = login_as("producer")
    farm = make_farm(producer)
    trader = make_trader()
    watches.create_watch(trader, lat=farm.lat, lon=farm.lon, radius_km=10)
    feed = feed_client(trader)
    real = delivery.deliver
    failures = []

    def fail_once(events):
        if not failures:
            failures.append(events)
            raise RuntimeError("the fan-out failed")
        real(events)

    monkeypatch.setattr(delivery, "deliver", fail_once)
    post_lot(producer, farm, product="Lost live")  # still in the log: a resume would replay it
    assert worker.flush()
    post_lot(producer, farm, product="Delivered")

    assert [e["lot"]["product"] for e in feed.wait_for("lot")] == ["Delivered"]
    assert len(failures) == 1


def test_stopping_delivers_what_is_queued(app, login_as, make_farm, make_trader, feed_client, worker, monkeypatch):
    producer, _ = login_as("producer")
    farm = make_farm(producer)
    trader = make_trader()
    watches.create_watch(trader, lat=farm.lat, lon=farm.lon, radius_km=10)
    feed = feed_client(trader)
    held = HeldDelivery()
    monkeypatch.setattr(delivery, "deliver", held)
    post_lot(producer, farm, product="First")
    assert held.started.wait(5)
    post_lot(producer, farm, product="Second")
    held.go.set()

    assert worker.stop()

    assert [e["args"][0]["lot"]["product"] for e in feed.client.queue if e["name"] == "lot"] == ["First", "Second"]


GEVENT_WORKER = """
from gevent import monkey
monkey.patch_all()  # as gunicorn's gevent worker does: queue.Queue is gevent's own
import sys
from exchange import create_app
from exchange.feed import delivery

app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "FEED_DELIVERY": "background",
                  "SOCKETIO_ASYNC_MODE": "gevent"})
delivered = []
delivery.deliver = lambda events: delivered.extend(e["seq"] for e in events)
worker = delivery.worker(app)
worker.submit([{"seq": 2}])
worker.submit([{"seq": 1}])
assert worker.flush(5), "flush timed out"
worker.submit([{"seq": 3}])
assert worker.stop(5), "stop timed out"
print(*delivered)
"""


def test_a_gevent_worker_flushes_and_stops_its_queue(tmp_path):
    """Under gevent (production), the monkey-patched queue has no `all_tasks_done`: flushing, and the delivery
    of what is queued when the process exits, used to raise AttributeError there."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", GEVENT_WORKER], cwd=root, capture_output=True, text=True, timeout=60,
                          env=os.environ | {"CARREAU_ENV": "", "REDIS_URL": ""})

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "2", "3"]  # in seq order, the last batch delivered by stop()
    assert "Traceback" not in done.stderr, done.stderr[-2000:]  # nor at exit
