"""The /feed namespace through socketio.test_client: who receives what, with what, and who is refused."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from exchange.extensions import db
from exchange.feed import delivery

CAHORS = (44.4475, 1.4419)
TOULOUSE = (43.6045, 1.4440)


def lot_body(farm, **kw):
    body = {"farm_id": farm.id, "product": "Tomates cœur de bœuf", "category": "vegetables", "unit": "kg",
            "quantity": 30, "price_cents": 280,
            "available_until": (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).isoformat()}
    return body | kw


@pytest.fixture(params=["inline", "background"])
def app_config(request):
    """Every test here runs with delivery in the request and with the background worker (production)."""
    return {"FEED_DELIVERY": request.param}


@pytest.fixture
def producer(login_as, make_farm):
    user, headers = login_as("producer")
    farm = make_farm(user)
    return user, headers, farm


def watch(client, headers, at=CAHORS, **kw):
    body = {"lat": at[0], "lon": at[1], "radius_km": 30} | kw
    r = client.post("/api/v1/watches", json=body, headers=headers)
    assert r.status_code == 201, r.json
    return r.json


def test_a_near_trader_receives_the_lot_with_distance_and_watch_ids(client, producer, login_as, feed_client):
    _, p_headers, farm = producer
    trader, t_headers = login_as("trader")
    w1 = watch(client, t_headers, at=(44.50, 1.44), radius_km=20, categories=["vegetables"])
    w2 = watch(client, t_headers, at=CAHORS, radius_km=10)
    watch(client, t_headers, at=CAHORS, radius_km=10, categories=["dairy"])  # another category: not listed
    feed = feed_client(trader)

    r = client.post("/api/v1/lots", json=lot_body(farm), headers=p_headers)
    assert r.status_code == 201

    [event] = feed.wait_for("lot")
    assert event["type"] == "published"
    assert event["lot"]["id"] == r.json["id"] and event["lot"]["product"] == "Tomates cœur de bœuf"
    assert event["watch_ids"] == sorted([w1["id"], w2["id"]])
    assert event["distance_km"] == 0.0  # w2 is centred on the farm: the smallest distance wins
    assert event["seq"] >= 1
    assert "__per_room__" not in event


def test_a_far_trader_and_one_watching_another_category_receive_nothing(client, producer, login_as, feed_client):
    _, p_headers, farm = producer
    near, near_headers = login_as("trader")
    far, far_headers = login_as("trader")
    dairy, dairy_headers = login_as("trader")
    watch(client, near_headers, radius_km=5)
    watch(client, far_headers, at=TOULOUSE, radius_km=50)  # Toulouse-Cahors is about 94 km
    watch(client, dairy_headers, categories=["dairy", "eggs"])
    feeds = {name: feed_client(user) for name, user in (("near", near), ("far", far), ("dairy", dairy))}

    assert client.post("/api/v1/lots", json=lot_body(farm), headers=p_headers).status_code == 201

    assert len(feeds["near"].wait_for("lot")) == 1
    assert feeds["far"].events("lot") == [] and feeds["dairy"].events("lot") == []


def test_each_lot_event_type_reaches_the_watcher(client, producer, login_as, feed_client):
    _, p_headers, farm = producer
    trader, t_headers = login_as("trader")
    watch(client, t_headers, min_quantity=20)  # compared with the quantity offered: sold_out still reaches
    feed = feed_client(trader)
    lot_id = client.post("/api/v1/lots", json=lot_body(farm), headers=p_headers).json["id"]
    assert client.patch(f"/api/v1/lots/{lot_id}", json={"price_cents": 250}, headers=p_headers).status_code == 200
    assert client.patch(f"/api/v1/lots/{lot_id}", json={"quantity_available": 0}, headers=p_headers).status_code == 200
    assert client.delete(f"/api/v1/lots/{lot_id}", headers=p_headers).status_code == 204

    events = feed.wait_for("lot", 4)
    assert [e["type"] for e in events] == ["published", "updated", "sold_out", "withdrawn"]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert events[1]["lot"]["price_cents"] == 250


def delivered(client) -> None:
    """Wait until the background worker, when there is one, has delivered every event queued so far."""
    worker = delivery.worker(client.application)
    assert worker is None or worker.flush()


def test_a_watch_change_applies_to_the_next_event(client, producer, login_as, feed_client):
    _, p_headers, farm = producer
    trader, t_headers = login_as("trader")
    w = watch(client, t_headers, categories=["dairy"])
    feed = feed_client(trader)
    client.post("/api/v1/lots", json=lot_body(farm), headers=p_headers)  # primes the index: no match yet
    # Each event delivered before the next watch change: a background worker matches an event against the
    # watches as they are when it delivers it (as a replay does), so a change committed before that applies.
    delivered(client)
    assert client.patch(f"/api/v1/watches/{w['id']}", json={"categories": ["vegetables"]},
                        headers=t_headers).status_code == 200
    client.post("/api/v1/lots", json=lot_body(farm, product="Courgettes"), headers=p_headers)
    delivered(client)
    assert [e["lot"]["product"] for e in feed.events("lot")] == ["Courgettes"]
    assert client.delete(f"/api/v1/watches/{w['id']}", headers=t_headers).status_code == 204
    client.post("/api/v1/lots", json=lot_body(farm, product="Aubergines"), headers=p_headers)

    feed.wait_for("lot", 2, timeout=1.0)
    assert [e["lot"]["product"] for e in feed.events("lot")] == ["Courgettes"]


@pytest.mark.parametrize("auth", [None, {}, {"token": "not-a-token"}, {"since": 0}])
def test_a_connection_without_a_valid_token_is_refused(app, auth, feed_client):
    assert not feed_client(auth=auth).connected


def test_a_revoked_token_is_refused(app, make_trader, feed_client):
    from exchange.domain import accounts

    token = accounts.issue_token(make_trader())
    accounts.revoke_token(token)
    assert not feed_client(auth={"token": token}).connected


@pytest.mark.parametrize("since", [-1, "12", 1.5, True])
def test_a_malformed_since_is_refused(make_trader, feed_client, since):
    from exchange.domain import accounts

    assert not feed_client(auth={"token": accounts.issue_token(make_trader()), "since": since}).connected


def test_the_browser_session_is_enough(app, client, make_trader, feed_client, monkeypatch):
    from exchange.extensions import login_manager
    from exchange.models import User

    if login_manager._user_callback is None:  # the pages' user_loader may not be registered in this build
        monkeypatch.setattr(login_manager, "_user_callback", lambda user_id: db.session.get(User, int(user_id)))
    trader = make_trader()
    with client.session_transaction() as session:
        session["_user_id"] = str(trader.id)
        session["_fresh"] = True
    assert feed_client(flask_client=client).connected
    assert not feed_client(flask_client=app.test_client()).connected


def test_reservation_events_reach_the_farms_producer_and_the_trader_only(
        client, producer, make_user, make_farm, make_lot, login_as, feed_client):
    owner, p_headers, farm = producer
    other_producer = make_user("producer")
    make_farm(other_producer)
    trader, t_headers = login_as("trader")
    bystander, _ = login_as("trader")
    feeds = {u: feed_client(u) for u in (owner, other_producer, trader, bystander)}
    lot = make_lot(farm)

    r = client.post(f"/api/v1/lots/{lot.id}/reservations", json={"quantity": 5}, headers=t_headers)
    assert r.status_code == 201, r.json
    assert client.post(f"/api/v1/reservations/{r.json['id']}/confirm", headers=p_headers).status_code == 200

    for user in (owner, trader):
        events = feeds[user].wait_for("reservation", 2)
        assert [(e["type"], e["reservation"]["id"]) for e in events] == [("created", r.json["id"]),
                                                                        ("confirmed", r.json["id"])]
        assert all("pickup_code" not in e["reservation"] for e in events)
    for user in (other_producer, bystander):
        assert feeds[user].events("reservation") == []


def test_resume_replays_exactly_what_was_missed_in_order(client, producer, login_as, feed_client):
    _, p_headers, farm = producer
    trader, t_headers = login_as("trader")
    watch(client, t_headers, categories=["vegetables"])
    feed = feed_client(trader)
    client.post("/api/v1/lots", json=lot_body(farm, product="Avant"), headers=p_headers)
    [seen] = feed.wait_for("lot")
    feed.disconnect()

    posted = [client.post("/api/v1/lots", json=lot_body(farm, product=f"Lot {i}"), headers=p_headers).json["id"]
              for i in range(3)]
    client.post("/api/v1/lots", json=lot_body(farm, category="dairy", product="Fromage"), headers=p_headers)

    again = feed_client(trader, since=seen["seq"])
    client.post("/api/v1/lots", json=lot_body(farm, product="Après"), headers=p_headers)
    events = again.wait_for("lot", 4)
    assert [e["lot"]["id"] for e in events[:3]] == posted
    assert [e["lot"]["product"] for e in events] == ["Lot 0", "Lot 1", "Lot 2", "Après"]
    assert [e["seq"] for e in events] == sorted({e["seq"] for e in events})
    assert all(e["watch_ids"] and e["distance_km"] == 0.0 for e in events)


def test_a_position_older_than_the_log_asks_for_a_resync(client, producer, login_as, feed_client, db):
    from exchange.models import FeedEvent

    _, p_headers, farm = producer
    trader, t_headers = login_as("trader")
    watch(client, t_headers)
    for i in range(3):
        client.post("/api/v1/lots", json=lot_body(farm, product=f"Lot {i}"), headers=p_headers)
    db.session.execute(db.delete(FeedEvent).where(FeedEvent.seq <= 2))  # as the retention job would
    db.session.commit()

    feed = feed_client(trader, since=0)
    [resync] = feed.events("resync")
    assert resync == {"since": 0, "last_seq": 3}
    assert feed.events("lot") == []


def test_a_lot_event_is_emitted_once_for_every_matching_trader(client, producer, make_trader, feed_client,
                                                               monkeypatch):
    from exchange.extensions import socketio

    _, p_headers, farm = producer
    from exchange.domain import watches

    near, farther = make_trader(), make_trader()
    w_near = watches.create_watch(near, lat=44.46, lon=1.44, radius_km=50)
    w_farther = watches.create_watch(farther, lat=44.60, lon=1.44, radius_km=50)
    feeds = {near.id: feed_client(near), farther.id: feed_client(farther)}
    emits = []
    real_emit = socketio.server.emit
    monkeypatch.setattr(socketio.server, "emit", lambda *a, **kw: (emits.append(kw.get("to")), real_emit(*a, **kw)))

    client.post("/api/v1/lots", json=lot_body(farm), headers=p_headers)

    feeds[near.id].events()  # in background mode, waits for the worker to deliver
    assert emits == [[f"user:{near.id}", f"user:{farther.id}"]] or emits == [[f"user:{farther.id}", f"user:{near.id}"]]
    [got_near] = feeds[near.id].wait_for("lot")
    [got_farther] = feeds[farther.id].wait_for("lot")
    assert got_near["watch_ids"] == [w_near.id] and got_farther["watch_ids"] == [w_farther.id]
    assert got_near["distance_km"] < got_farther["distance_km"]
    assert {k: v for k, v in got_near.items() if k not in ("distance_km", "watch_ids")} == \
        {k: v for k, v in got_farther.items() if k not in ("distance_km", "watch_ids")}


def test_resuming_while_lots_are_posted_loses_and_repeats_nothing(app, client, producer, login_as, feed_client):
    """A poster keeps posting while the trader disconnects and resumes: every event exactly once, in order."""
    import threading
    import time

    from exchange.domain import lots

    owner, p_headers, farm = producer
    trader, t_headers = login_as("trader")
    watch(client, t_headers)
    first = feed_client(trader)
    total = 40

    def post_lots():
        for i in range(total):
            with app.app_context():
                lots.post_lot(db.session.get(type(owner), owner.id), farm_id=farm.id, product=f"Lot {i}",
                              category="vegetables", unit="kg", quantity=Decimal(5), price_cents=200,
                              available_until=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1))
            time.sleep(0.005)

    poster = threading.Thread(target=post_lots)
    poster.start()
    first.wait_for("lot", 8)
    first.disconnect()
    seen = first.events("lot")
    second = feed_client(trader, since=seen[-1]["seq"], wait_ready=False)
    poster.join()
    second.wait_for("lot", total - len(seen), timeout=10)
    time.sleep(0.2)  # anything extra (a duplicate) would arrive by now
    products = [e["lot"]["product"] for e in seen + second.events("lot")]
    assert products == [f"Lot {i}" for i in range(total)]
