"""Who may call what: every route of the app, for every kind of caller, with the status expected.

The routes come from the app's URL map, so a route added without a line here fails this test:
decide who may use it, then write it down below. Each route is tried in a fresh world where
producer A owns a farm (Lot, 46) and a lot, trader A has a watch and a pending reservation on that lot,
producer B farms in Gironde (33), trader B, a chamber for 46, one for 33, and an admin exist.
Refused callers go first (a refusal must change nothing); each allowed caller gets a world of its own.
"""
from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from exchange import create_app
from exchange.config import ROOT
from tests.conftest import _settings

CALLERS = ("anonymous", "producer_a", "producer_b", "trader_a", "trader_b", "chamber_46", "chamber_33", "admin")
_emails = itertools.count(1)


@dataclass
class Rule:
    """Expected status per caller ('*' for the others), with the body and query to send."""

    expected: dict[str, int]
    json: object = None
    query: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)

    def status_for(self, caller: str) -> int:
        return self.expected.get(caller, self.expected.get("*"))


def signed_in(status: int, **others) -> dict[str, int]:
    return {"anonymous": 401, "*": status} | others


ONLY = lambda callers, status, refused=403: {"anonymous": 401, "*": refused} | {c: status for c in callers}  # noqa: E731


def until() -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).isoformat()


def rules() -> dict[tuple[str, str], Rule]:
    """(method, rule) -> Rule. Bodies are built per call, so every allowed caller sends a valid one."""
    P = ("producer_a", "producer_b")
    REPORTS = ONLY(("chamber_46", "chamber_33", "admin"), 200)
    PERIOD = {"from": "2026-01-01", "to": "2026-11-30"}
    T = ("trader_a", "trader_b")
    return {
        ("GET", "/healthz"): Rule({"*": 200}),
        ("GET", "/api/v1/openapi.json"): Rule({"*": 200}),
        ("GET", "/api/v1/docs"): Rule({"*": 200}),
        ("GET", "/static/<path:filename>"): Rule({"*": 200}),
        ("POST", "/api/v1/auth/register"): Rule({"*": 201}, json=lambda w: {
            "email": f"new{next(_emails)}@example.org", "password": "long-enough-pw", "role": "trader", "name": "N"}),
        ("POST", "/api/v1/auth/tokens"): Rule({"*": 201}, json=lambda w: {"email": w.emails["producer_a"],
                                                                          "password": w.password}),
        ("DELETE", "/api/v1/auth/tokens"): Rule(signed_in(204)),
        ("GET", "/api/v1/me"): Rule(signed_in(200)),
        ("PATCH", "/api/v1/me"): Rule(signed_in(200), json=lambda w: {"name": "Nouveau nom"}),
        ("GET", "/api/v1/places"): Rule(signed_in(200), query={"q": "46000"}),
        ("GET", "/api/v1/farms"): Rule(ONLY(P + ("admin",), 200)),
        ("POST", "/api/v1/farms"): Rule(ONLY(P, 201), json=lambda w: {"name": "F", "postcode": "46000"}),
        ("GET", "/api/v1/farms/<int:farm_id>"): Rule(ONLY(("producer_a", "admin"), 200)),
        ("PATCH", "/api/v1/farms/<int:farm_id>"): Rule(ONLY(("producer_a", "admin"), 200),
                                                         json=lambda w: {"name": "Le Mas"}),
        ("GET", "/api/v1/lots"): Rule(signed_in(200)),
        ("POST", "/api/v1/lots"): Rule(ONLY(("producer_a",), 201), json=lambda w: {
            "farm_id": w.farm_a, "product": "Poireaux", "category": "vegetables", "unit": "kg", "quantity": 10,
            "price_cents": 200, "available_until": until()}),
        ("GET", "/api/v1/lots/<int:lot_id>"): Rule(signed_in(200)),
        ("PATCH", "/api/v1/lots/<int:lot_id>"): Rule(ONLY(("producer_a", "admin"), 200),
                                                       json=lambda w: {"price_cents": 300}),
        ("DELETE", "/api/v1/lots/<int:lot_id>"): Rule(ONLY(("producer_a", "admin"), 204)),
        ("POST", "/api/v1/lots/<int:lot_id>/reservations"): Rule(ONLY(T, 201), json=lambda w: {"quantity": 1}),
        ("GET", "/api/v1/watches"): Rule(ONLY(T, 200)),
        ("POST", "/api/v1/watches"): Rule(ONLY(T, 201), json=lambda w: {"lat": 44.45, "lon": 1.44, "radius_km": 25}),
        ("GET", "/api/v1/watches/<int:watch_id>"): Rule(ONLY(("trader_a",), 200)),
        ("PATCH", "/api/v1/watches/<int:watch_id>"): Rule(ONLY(("trader_a",), 200), json=lambda w: {"radius_km": 40}),
        ("DELETE", "/api/v1/watches/<int:watch_id>"): Rule(ONLY(("trader_a",), 204)),
        ("GET", "/api/v1/reports/summary"): Rule(REPORTS | {"chamber_33": 403}, query=PERIOD | {"department": "46"}),
        ("GET", "/api/v1/reports/prices"): Rule(REPORTS | {"chamber_33": 403}, query=PERIOD | {"department": "46"}),
        ("GET", "/api/v1/reports/series"): Rule(REPORTS, query=PERIOD | {"metric": "lots_posted"}),
        ("GET", "/api/v1/reports/snapshots"): Rule(REPORTS),
        ("GET", "/api/v1/reports/snapshots/<int:snapshot_id>"): Rule(REPORTS | {"chamber_33": 403}),
        ("GET", "/api/v1/reservations"): Rule(ONLY(P + T + ("admin",), 200)),
        # To anyone but its two parties (and admins) a reservation does not exist.
        ("GET", "/api/v1/reservations/<int:reservation_id>"): Rule(
            ONLY(("producer_a", "trader_a", "admin"), 200, refused=404)),
        ("POST", "/api/v1/reservations/<int:reservation_id>/confirm"): Rule(
            ONLY(("producer_a",), 200) | {"producer_b": 404}),
        ("POST", "/api/v1/reservations/<int:reservation_id>/decline"): Rule(
            ONLY(("producer_a",), 200) | {"producer_b": 404}),
        ("POST", "/api/v1/reservations/<int:reservation_id>/cancel"): Rule(
            ONLY(("trader_a",), 200) | {"trader_b": 404}),
        ("POST", "/api/v1/reservations/<int:reservation_id>/collect"): Rule(
            ONLY(("producer_a",), 409) | {"producer_b": 404}, json=lambda w: {"code": w.pickup_code}),
        ("GET", "/api/v1/reservations/<int:reservation_id>/qr.svg"): Rule(
            ONLY(("trader_a",), 200) | {"trader_b": 404}),
        ("POST", "/api/v1/lots/<int:lot_id>/stock"): Rule(ONLY(("producer_a", "admin"), 200) | {"producer_b": 403},
                                                           json=lambda w: {"delta": 1}),
    } | page_rules()


def page_rules() -> dict[tuple[str, str], Rule]:
    """The pages (exchange/web): anonymous people are sent to sign in (302), other roles refused (403).

    The calls carry no form, so a new-thing form answers 422 (empty) and an edit form keeps what is there
    (302); an action someone may not take on another's farm or reservation is an error page (403/404).
    """
    anyone = {"*": 302, "anonymous": 200}  # signed-in people are sent to their own pages
    producers = {"anonymous": 302, "*": 403}
    for_producers = lambda status, admin=None, **others: producers | {  # noqa: E731
        "producer_a": status, "producer_b": status, "admin": admin or status} | others
    traders = {"anonymous": 302, "*": 403}
    return {
        ("GET", "/"): Rule(anyone),
        ("GET", "/login"): Rule(anyone),
        ("POST", "/login"): Rule({"*": 302, "anonymous": 422}),
        ("GET", "/signup"): Rule(anyone),
        ("POST", "/signup"): Rule({"*": 302, "anonymous": 422}),
        ("POST", "/logout"): Rule({"*": 302}),
        ("POST", "/language"): Rule({"*": 302}),
        ("GET", "/session/csrf"): Rule({"*": 200}),
        ("GET", "/account"): Rule({"anonymous": 302, "*": 200}),
        ("POST", "/account"): Rule({"anonymous": 302, "*": 302}),  # an empty post keeps the profile as it is
        ("GET", "/producer/farm"): Rule(for_producers(302)),
        ("GET", "/producer/farms/new"): Rule(for_producers(200)),
        ("POST", "/producer/farms/new"): Rule(for_producers(422)),
        ("GET", "/producer/farms/<int:farm_id>"): Rule(for_producers(200, producer_b=403)),
        ("POST", "/producer/farms/<int:farm_id>"): Rule(for_producers(302, producer_b=403)),  # kept as it is
        ("GET", "/producer/lots"): Rule(for_producers(200, admin=302)),  # an admin has no farm: set one up first
        ("GET", "/producer/lots/new"): Rule(for_producers(200, admin=302)),
        ("POST", "/producer/lots/new"): Rule(for_producers(422, admin=302)),
        ("POST", "/producer/lots/<int:lot_id>/stock"): Rule(for_producers(302)),  # no step in an empty form
        ("POST", "/producer/lots/<int:lot_id>/withdraw"): Rule(for_producers(302, producer_b=403)),
        ("GET", "/producer/reservations"): Rule(for_producers(200)),
        ("POST", "/producer/reservations/<int:reservation_id>/confirm"): Rule(
            for_producers(302, producer_b=404, admin=403)),
        ("POST", "/producer/reservations/<int:reservation_id>/decline"): Rule(
            for_producers(302, producer_b=404, admin=403)),
        ("POST", "/producer/reservations/<int:reservation_id>/collect"): Rule(for_producers(302)),  # no code sent
        ("GET", "/trader/reservations"): Rule(traders | {"trader_a": 200, "trader_b": 200}),
        ("POST", "/trader/reservations/<int:reservation_id>/cancel"): Rule(traders | {"trader_a": 302, "trader_b": 404}),
        ("GET", "/trader/board"): Rule(traders | {"trader_a": 200, "trader_b": 200}),
        ("GET", "/trader/watches"): Rule(traders | {"trader_a": 200, "trader_b": 200}),
        ("POST", "/trader/watches"): Rule(traders | {"trader_a": 422, "trader_b": 422}),  # no radius sent
        ("POST", "/trader/watches/<int:watch_id>/toggle"): Rule(traders | {"trader_a": 302}),  # not yours: 403
        ("POST", "/trader/watches/<int:watch_id>/delete"): Rule(traders | {"trader_a": 302}),
        ("GET", "/chamber"): Rule({"anonymous": 302, "*": 403, "chamber_46": 200, "chamber_33": 200, "admin": 200}),
    }


@dataclass
class World:
    headers: dict[str, dict]
    emails: dict[str, str]
    password: str
    farm_a: int
    lot_a: int
    reservation_a: int
    pickup_code: str
    ids: dict[str, int]


def build_world(app, make_user, make_farm, make_lot, token_for) -> World:
    from exchange.domain import reservations, watches
    from exchange.reports import snapshots
    from tests.conftest import PASSWORD

    users = {
        "producer_a": make_user("producer"), "producer_b": make_user("producer"),
        "trader_a": make_user("trader", base={"postcode": "46000"}), "trader_b": make_user("trader"),
        "chamber_46": make_user("chamber", territory=["46"]), "chamber_33": make_user("chamber", territory=["33"]),
        "admin": make_user("admin"),
    }
    farm_a = make_farm(users["producer_a"])
    make_farm(users["producer_b"], postcode="33000", name="Château B")
    lot_a = make_lot(farm_a, quantity=Decimal(50))
    reservation = reservations.reserve(lot_a.id, users["trader_a"], Decimal(2))
    watch = watches.create_watch(users["trader_a"], radius_km=30)
    snapshot = snapshots.take_snapshot(users["chamber_46"], "2026-10")
    ids = {"farm_id": farm_a.id, "lot_id": lot_a.id, "reservation_id": reservation.id, "watch_id": watch.id,
           "snapshot_id": snapshot.id}
    headers = {"anonymous": {}} | {name: token_for(user) for name, user in users.items()}
    return World(headers, {n: u.email for n, u in users.items()}, PASSWORD, farm_a.id, lot_a.id, reservation.id,
                 reservation.pickup_code, ids)


STATIC_FILE = next(p for p in sorted((ROOT / "static").rglob("*")) if p.is_file()).relative_to(ROOT / "static")


def url_for_rule(rule: str, world: World) -> str:
    url = rule.replace("<path:filename>", STATIC_FILE.as_posix())
    for name, value in world.ids.items():
        url = url.replace(f"<int:{name}>", str(value))
    assert "<" not in url, f"no id in the test world for {rule}: add it to World.ids"
    return url


def app_routes() -> list[tuple[str, str]]:
    app = create_app(_settings() | {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return sorted((method, r.rule) for r in app.url_map.iter_rules()
                  for method in r.methods - {"HEAD", "OPTIONS"})


ROUTES = app_routes()


def test_every_route_has_a_rule():
    missing = [route for route in ROUTES if route not in rules()]
    assert not missing, f"routes with no authorization rule (add them to rules()): {missing}"
    stale = [route for route in rules() if route not in ROUTES]
    assert not stale, f"rules for routes that no longer exist: {stale}"


@pytest.mark.parametrize("method, rule", ROUTES, ids=[f"{m} {r}" for m, r in ROUTES])
def test_each_caller_gets_the_expected_status(method, rule, app, client, make_user, make_farm, make_lot, token_for,
                                              db):
    spec = rules().get((method, rule))
    if spec is None:
        pytest.fail(f"no authorization rule for {method} {rule}")
    allowed = [c for c in CALLERS if spec.status_for(c) < 400]
    refused = [c for c in CALLERS if c not in allowed]
    worlds = {}
    seen = {}
    for index, caller in enumerate(refused + allowed):
        # The refused share one world; each allowed caller gets a fresh one (its call may change it).
        key = "refused" if caller in refused else caller
        if key not in worlds:
            if worlds:
                db.session.remove()
                db.drop_all()
                db.create_all()  # counters and their first rows come back with their tables
            worlds[key] = build_world(app, make_user, make_farm, make_lot, token_for)
        world = worlds[key]
        body = spec.json(world) if callable(spec.json) else spec.json
        response = client.open(url_for_rule(rule, world), method=method, json=body, query_string=spec.query,
                               headers=world.headers[caller] | spec.headers)
        seen[caller] = response.status_code
    expected = {c: spec.status_for(c) for c in CALLERS}
    assert seen == expected
