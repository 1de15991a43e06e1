"""The live feed keeps each person's business to themselves, live and when replayed with `since`.

Who may connect: a valid, unexpired, unrevoked token of an active account, or the session of one.
What each person gets, in a market where two producers farm around Cahors, one near Toulouse,
three traders watch different things, one watches nothing, and a chamber and an admin look on:
- a trader: lot events of their own watches only (with their own watch ids), and their own
  reservations' events, never another trader's;
- a producer: their own farms' reservation events, never another farm's; no lot events;
- a chamber, an admin, a trader without watches: nothing at all;
- and a reconnection with `since=0` replays exactly what that person got live, nothing more.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import pytest
from sqlalchemy import update

from exchange.domain import accounts
from exchange.extensions import db
from exchange.models import ApiToken, User

API = "/api/v1"
CAHORS = (44.4475, 1.4419)
TOULOUSE = {"postcode": "31000", "lat": 43.6045, "lon": 1.4440}
QUIET_S = 0.3  # after the expected events arrived, how long anything unexpected gets to turn up


# --- who may connect ---------------------------------------------------------------------------

def _expired_token(user) -> str:
    token = accounts.issue_token(user)
    db.session.execute(update(ApiToken).where(ApiToken.user_id == user.id)
                       .values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    db.session.commit()
    return token


def _revoked_token(user) -> str:
    token = accounts.issue_token(user)
    accounts.revoke_token(token)
    return token


def _token_of_a_deactivated_account(user) -> str:
    token = accounts.issue_token(user)
    user.active = False
    db.session.commit()
    return token


def _token_with_a_character_changed(user) -> str:
    token = accounts.issue_token(user)
    return token[:-1] + ("A" if token[-1] != "A" else "B")


@pytest.mark.parametrize("make_auth", [
    lambda user: None,
    lambda user: {},
    lambda user: {"since": 0},
    lambda user: {"token": ""},
    lambda user: {"token": "garbage"},
    lambda user: {"token": "\x00" * 64},
    lambda user: {"token": 12345},
    lambda user: {"token": ["a", "b"]},
    lambda user: {"token": {"$ne": None}},
    lambda user: {"token": f"Bearer {accounts.issue_token(user)}"},  # the header's form is not the token
    lambda user: {"token": _token_with_a_character_changed(user)},
    lambda user: {"token": _expired_token(user)},
    lambda user: {"token": _revoked_token(user)},
    lambda user: {"token": _token_of_a_deactivated_account(user)},
    lambda user: "not-a-dict",
], ids=["no-auth", "empty", "since-only", "empty-token", "garbage", "nul-bytes", "number", "list", "object",
        "bearer-prefix", "altered", "expired", "revoked", "deactivated-account", "auth-not-a-dict"])
def test_no_connection_without_a_valid_token(make_trader, feed_client, make_auth):
    trader = make_trader()
    feed = feed_client(auth=make_auth(trader))
    assert not feed.connected
    assert feed.events() == []


def test_a_token_refused_once_expired_was_accepted_before(make_trader, feed_client):
    """The expired case above fails for the expiry, not for something else about the token."""
    trader = make_trader()
    token = accounts.issue_token(trader)
    assert feed_client(auth={"token": token}).connected
    db.session.execute(update(ApiToken).where(ApiToken.user_id == trader.id)
                       .values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    db.session.commit()
    assert not feed_client(auth={"token": token}).connected


@pytest.fixture
def session_users(monkeypatch):
    """Sessions name users by id; the pages' user_loader (branch `web`) may not be in this build yet."""
    from exchange.extensions import login_manager

    if login_manager._user_callback is None:
        monkeypatch.setattr(login_manager, "_user_callback", lambda user_id: db.session.get(User, int(user_id)))


def _signed_in_client(app, user):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
    return client


def test_no_connection_without_a_valid_session(app, make_trader, feed_client, session_users):
    trader = make_trader()
    assert feed_client(flask_client=_signed_in_client(app, trader)).connected  # the session works...
    assert not feed_client(flask_client=app.test_client()).connected  # ...an anonymous one does not,
    forged = app.test_client()
    forged.set_cookie(app.config.get("SESSION_COOKIE_NAME", "session"), "eyJfdXNlcl9pZCI6IjEifQ.forged.signature")
    assert not feed_client(flask_client=forged).connected  # ...nor one not signed with our key,
    trader.active = False
    db.session.commit()
    assert not feed_client(flask_client=_signed_in_client(app, trader)).connected  # ...nor a closed account's.


# --- who gets what -----------------------------------------------------------------------------

@dataclass
class Person:
    user: User
    headers: dict
    watch_ids: set[int] = field(default_factory=set)
    farm_ids: set[int] = field(default_factory=set)


@dataclass
class Market:
    people: dict[str, Person]
    lots: dict[str, int]
    reservations: dict[str, int]  # name -> reservation id


def _watch(client, person: Person, **body) -> None:
    r = client.post(f"{API}/watches", json={"lat": CAHORS[0], "lon": CAHORS[1], "radius_km": 30} | body,
                    headers=person.headers)
    assert r.status_code == 201, r.json
    person.watch_ids.add(r.json["id"])


def _lot(client, person: Person, farm_id: int, **body) -> int:
    body = {"farm_id": farm_id, "product": "Tomates", "category": "vegetables", "unit": "kg", "quantity": 40,
            "price_cents": 280,
            "available_until": (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).isoformat()} | body
    r = client.post(f"{API}/lots", json=body, headers=person.headers)
    assert r.status_code == 201, r.json
    return r.json["id"]


def _reserve(client, person: Person, lot_id: int, quantity: int) -> int:
    r = client.post(f"{API}/lots/{lot_id}/reservations", json={"quantity": quantity}, headers=person.headers)
    assert r.status_code == 201, r.json
    return r.json["id"]


def _act(client, person: Person, reservation_id: int, action: str) -> None:
    r = client.post(f"{API}/reservations/{reservation_id}/{action}", headers=person.headers)
    assert r.status_code == 200, r.json


@pytest.fixture
def people(client, login_as, make_farm):
    people = {name: Person(*login_as(role)) for name, role in (
        ("producer_a", "producer"), ("producer_b", "producer"), ("producer_toulouse", "producer"),
        ("trader_veg", "trader"), ("trader_all", "trader"), ("trader_toulouse", "trader"),
        ("trader_no_watch", "trader"), ("chamber", "chamber"), ("admin", "admin"))}
    for name, place in (("producer_a", {}), ("producer_b", {}), ("producer_toulouse", TOULOUSE)):
        people[name].farm_ids.add(make_farm(people[name].user, **place).id)
    _watch(client, people["trader_veg"], categories=["vegetables"])
    _watch(client, people["trader_all"])
    _watch(client, people["trader_all"], radius_km=5)  # two watches: both ids are theirs
    _watch(client, people["trader_toulouse"], lat=TOULOUSE["lat"], lon=TOULOUSE["lon"], radius_km=20)
    return people


def _trade(client, people) -> Market:
    """Lots posted around Cahors and Toulouse, reserved, confirmed, declined, cancelled, collected."""
    p = people
    farm = {name: next(iter(p[name].farm_ids)) for name in ("producer_a", "producer_b", "producer_toulouse")}
    lots = {
        "veg_a": _lot(client, p["producer_a"], farm["producer_a"]),
        "cheese_b": _lot(client, p["producer_b"], farm["producer_b"], product="Rocamadour", category="dairy",
                         unit="piece"),
        "toulouse": _lot(client, p["producer_toulouse"], farm["producer_toulouse"], product="Ail violet"),
    }
    reservations = {
        "veg_by_veg": _reserve(client, p["trader_veg"], lots["veg_a"], 5),
        "veg_by_all": _reserve(client, p["trader_all"], lots["veg_a"], 3),
        "cheese_by_all": _reserve(client, p["trader_all"], lots["cheese_b"], 4),
        "toulouse_by_toulouse": _reserve(client, p["trader_toulouse"], lots["toulouse"], 2),
    }
    _act(client, p["producer_a"], reservations["veg_by_veg"], "confirm")
    _act(client, p["producer_a"], reservations["veg_by_all"], "decline")
    _act(client, p["trader_all"], reservations["cheese_by_all"], "cancel")
    _act(client, p["producer_toulouse"], reservations["toulouse_by_toulouse"], "confirm")
    return Market(people, lots, reservations)


def _reservations_of(market: Market, name: str) -> set[int]:
    """The reservations this person may hear about: their own as a trader, their farms' as a producer."""
    owner_of = {"veg_by_veg": ("trader_veg", "producer_a"), "veg_by_all": ("trader_all", "producer_a"),
                "cheese_by_all": ("trader_all", "producer_b"),
                "toulouse_by_toulouse": ("trader_toulouse", "producer_toulouse")}
    return {market.reservations[r] for r, owners in owner_of.items() if name in owners}


LOTS_SEEN = {"trader_veg": {"veg_a"}, "trader_all": {"veg_a", "cheese_b"}, "trader_toulouse": {"toulouse"}}


def _check_private(market: Market, name: str, feed) -> None:
    person = market.people[name]
    expected_reservations = _reservations_of(market, name)
    expected_lots = {market.lots[lot] for lot in LOTS_SEEN.get(name, ())}
    got_reservations = feed.events("reservation")
    got_lots = feed.events("lot")

    assert {e["reservation"]["id"] for e in got_reservations} == expected_reservations
    assert {e["lot"]["id"] for e in got_lots} == expected_lots
    for event in got_reservations:
        reservation = event["reservation"]
        assert "pickup_code" not in reservation  # the code travels over HTTP to its trader only
        if person.user.has_role("trader"):
            assert reservation["trader_id"] == person.user.id
        else:
            assert reservation["lot"]["farm"]["id"] in person.farm_ids
    for event in got_lots:
        assert "__per_room__" not in event
        assert event["watch_ids"] and set(event["watch_ids"]) <= person.watch_ids
    for event in feed.events():
        assert "pickup_code" not in str(event)


def _expected_counts(market: Market, name: str) -> tuple[int, int]:
    """How many reservation and lot events this person receives in `_trade` (to wait for them)."""
    n_reservations = 2 * len(_reservations_of(market, name))  # `created`, then one transition each
    # published, one `reserved` per hold taken, one `updated` per hold given back (declined, cancelled)
    lot_events = {"veg_a": 4, "cheese_b": 3, "toulouse": 2}
    n_lots = sum(lot_events[lot] for lot in LOTS_SEEN.get(name, ()))
    return n_reservations, n_lots


def test_each_person_receives_only_their_own_business_live_and_replayed(client, people, feed_client):
    live = {name: feed_client(person.user) for name, person in people.items()}

    market = _trade(client, people)

    expected = {name: _expected_counts(market, name) for name in people}
    for name, feed in live.items():
        n_reservations, n_lots = expected[name]
        feed.wait_for("reservation", n_reservations)
        feed.wait_for("lot", n_lots)
    time.sleep(QUIET_S)
    for name, feed in live.items():
        _check_private(market, name, feed)
        assert (len(feed.events("reservation")), len(feed.events("lot"))) == expected[name], name
    for name in ("trader_no_watch", "chamber", "admin"):
        assert [e for e in live[name].events() if "seq" in e] == [], f"{name} received feed events"

    # Everyone comes back from the beginning of the log: the replay is what they got live, no more.
    for name, person in people.items():
        live[name].disconnect()
        again = feed_client(person.user, since=0)
        time.sleep(QUIET_S)
        _check_private(market, name, again)
        replayed = [(e["seq"], e.get("type")) for e in again.events() if "seq" in e]
        got_live = [(e["seq"], e.get("type")) for e in live[name].events() if "seq" in e]
        assert replayed == got_live, name


def test_a_replay_counts_the_watches_of_now_and_still_hides_others_reservations(client, people, feed_client):
    """A trader who watches everything from now on replays past lots, never the past reservations of others."""
    market = _trade(client, people)
    late = people["trader_no_watch"]
    _watch(client, late, radius_km=200)  # Cahors and Toulouse, every category

    again = feed_client(late.user, since=0)
    time.sleep(QUIET_S)
    assert again.events("reservation") == []
    assert {e["lot"]["id"] for e in again.events("lot")} == set(market.lots.values())
    assert all(set(e["watch_ids"]) <= late.watch_ids for e in again.events("lot"))


def test_a_producer_never_hears_of_another_farms_reservations_even_as_a_trader_would(
        client, people, make_farm, feed_client):
    """Owning several farms gives their reservations; owning none of a lot's farm gives nothing."""
    second_farm = make_farm(people["producer_a"].user, name="Seconde ferme")
    people["producer_a"].farm_ids.add(second_farm.id)
    feeds = {name: feed_client(people[name].user) for name in ("producer_a", "producer_b")}
    lot_id = _lot(client, people["producer_a"], second_farm.id, product="Melons")
    reservation_id = _reserve(client, people["trader_veg"], lot_id, 2)

    [event] = feeds["producer_a"].wait_for("reservation")
    assert event["reservation"]["id"] == reservation_id
    time.sleep(QUIET_S)
    assert feeds["producer_b"].events() == [feeds["producer_b"].events("ready")[0]]


def test_a_client_cannot_ask_its_way_into_another_persons_room(client, people, feed_client):
    """The namespace listens to no event from clients: naming another user's room joins nothing."""
    nosy = feed_client(people["trader_no_watch"].user)
    target = people["trader_veg"].user.id
    for event, data in (("join", {"room": f"user:{target}"}), ("subscribe", f"user:{target}"),
                        ("enter_room", f"user:{target}")):
        nosy.client.emit(event, data, namespace="/feed")
    _trade(client, people)
    time.sleep(QUIET_S)
    assert [e for e in nosy.events() if "seq" in e] == []
    assert nosy.connected


def test_a_connect_event_sent_by_a_connected_client_is_ignored(client, people, feed_client):
    """A client may send an ordinary event named `connect`; it must not run the connect handler again:
    that would replay the whole log for one small packet, and join the room of whatever token it carries."""
    trader = people["trader_all"]
    feed = feed_client(trader.user)
    _trade(client, people)
    assert len(feed.wait_for("lot", 7) + feed.wait_for("reservation", 4)) == 11
    before = len(feed.events())
    # Flask-SocketIO hands the second argument of a `connect` event to the handler as its `auth`.
    feed.client.emit("connect", "environ", {"token": accounts.issue_token(trader.user), "since": 0},
                     namespace="/feed")
    time.sleep(QUIET_S)
    assert len(feed.events()) == before  # no second replay

    feed.client.emit("connect", "environ", {"token": accounts.issue_token(people["trader_veg"].user)},
                     namespace="/feed")
    feed.client.emit("disconnect", "client disconnect", namespace="/feed")
    lot_id = market_lot(client, people)
    _reserve(client, people["trader_veg"], lot_id, 1)
    assert feed.wait_for("lot", 9)[-1]["lot"]["id"] == lot_id  # still connected, still live: published, reserved
    time.sleep(QUIET_S)
    assert all(e["reservation"]["trader_id"] == trader.user.id for e in feed.events("reservation"))


def market_lot(client, people) -> int:
    producer = people["producer_a"]
    return _lot(client, producer, next(iter(producer.farm_ids)), product="Poivrons")
