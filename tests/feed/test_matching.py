"""Matching lot events to traders: grouping per trader, closing events, and each process's registry in step."""
from __future__ import annotations

import math

import pytest

from exchange.domain import watches
from exchange.feed.matching import Match, WatchRegistry, by_trader, facts_of, match_one_trader, spec_of
from exchange.geo.watch_index import NO_HITS, Hits, WatchIndex, WatchSpec
from exchange.models import WatchChange

CAHORS = (44.4475, 1.4419)


def lot(**kw) -> dict:
    return {"lat": CAHORS[0], "lon": CAHORS[1], "category": "vegetables", "product": "Tomates cœur de bœuf",
            "price_cents": 280, "labels": ["organic"], "quantity": 30.0, "quantity_available": 30.0} | kw


def spec(id, user_id, **kw) -> WatchSpec:
    return WatchSpec(id=id, user_id=user_id, lat=kw.pop("lat", CAHORS[0]), lon=kw.pop("lon", CAHORS[1]),
                     radius_km=kw.pop("radius_km", 30.0), **kw)


def test_by_trader_keeps_the_smallest_distance_and_every_watch_id():
    found = [(spec(3, 1), 12.345), (spec(1, 1), 4.321), (spec(7, 2), 20.0), (spec(2, 1), 8.0), (spec(9, 5), 1.0)]
    grouped = by_trader(Hits.of(found))
    assert grouped == {1: Match(1, 4.32, (1, 2, 3)), 2: Match(2, 20.0, (7,)), 5: Match(5, 1.0, (9,))}
    assert all(type(v) is int for m in grouped.values() for v in (m.user_id, *m.watch_ids))  # JSON-ready
    assert by_trader(NO_HITS) == {}


def test_by_trader_from_the_index_agrees_with_one_trader_at_a_time():
    """Live delivery (index, grouped) and replay (one trader's watches, the rule) give the same Match."""
    specs = [spec(i, 1 + i % 4, lat=CAHORS[0] + 0.05 * (i % 5), radius_km=8.0 + 3 * (i % 7),
                  categories=frozenset({"vegetables"}) if i % 3 else frozenset()) for i in range(1, 41)]
    index = WatchIndex()
    index.replace_all(specs)
    live = by_trader(index.match(facts_of(lot(), "published")))
    assert live
    for user_id in range(1, 5):
        assert live.get(user_id) == match_one_trader([s for s in specs if s.user_id == user_id], lot(), "published")


def test_closing_events_ignore_the_quantity_filter_only():
    w = spec(1, 1, min_quantity=20.0, max_price_cents=300)
    emptied = lot(quantity=0.0, quantity_available=0.0)
    assert match_one_trader([w], emptied, "updated") is None
    assert match_one_trader([w], emptied, "sold_out") == Match(1, 0.0, (1,))
    assert match_one_trader([w], emptied | {"price_cents": 301}, "withdrawn") is None  # other filters still apply
    assert facts_of(emptied, "expired").quantity == math.inf


@pytest.mark.parametrize("kw, matches", [
    ({}, True),
    ({"categories": frozenset({"dairy"})}, False),
    ({"q": "tomate"}, True), ({"q": "poivron"}, False),
    ({"labels": frozenset({"organic"})}, True), ({"labels": frozenset({"aop"})}, False),
    ({"max_price_cents": 280}, True), ({"max_price_cents": 279}, False),
    ({"min_quantity": 30.0}, True), ({"min_quantity": 30.5}, False),
    ({"lat": 44.0, "radius_km": 40.0}, False), ({"lat": 44.0, "radius_km": 60.0}, True),
    ({"active": False}, False),
])
def test_each_filter_of_a_watch(kw, matches):
    assert (match_one_trader([spec(1, 1, **kw)], lot(), "published") is not None) is matches


def test_a_watch_row_and_its_spec_agree(app, make_trader):
    trader = make_trader()
    w = watches.create_watch(trader, radius_km=12.5, categories=["eggs", "dairy"], labels=["aop"], q="Crottin",
                             max_price_cents=500, min_quantity=2)
    assert spec_of(w) == WatchSpec(id=w.id, user_id=trader.id, lat=trader.base_lat, lon=trader.base_lon,
                                   radius_km=12.5, categories=frozenset({"dairy", "eggs"}), q="Crottin",
                                   max_price_cents=500, labels=frozenset({"aop"}), min_quantity=2.0)


def test_the_registry_follows_watch_changes_made_anywhere(app, db, make_trader):
    one, two = make_trader(), make_trader()
    registry = WatchRegistry()
    assert registry.match(lot()) == {}  # loads the (empty) table

    w1 = watches.create_watch(one, radius_km=10)
    w2 = watches.create_watch(two, radius_km=10, categories=["dairy"])
    assert set(registry.match(lot())) == {one.id}
    watches.update_watch(two, w2.id, {"categories": ["vegetables"]})
    assert set(registry.match(lot())) == {one.id, two.id}
    watches.update_watch(one, w1.id, {"active": False})
    watches.delete_watch(two, w2.id)
    assert registry.match(lot()) == {}
    watches.update_watch(one, w1.id, {"active": True, "lat": 44.0, "lon": 1.44})  # about 50 km south
    assert registry.match(lot()) == {}
    watches.update_watch(one, w1.id, {"radius_km": 60})
    assert registry.match(lot())[one.id].watch_ids == (w1.id,)


def test_the_registry_reads_only_the_changes_and_reloads_when_the_log_was_pruned(app, db, make_trader, monkeypatch):
    trader = make_trader()
    watches.create_watch(trader, radius_km=10)
    registry = WatchRegistry()
    loads = []
    real_load = registry._load_all
    monkeypatch.setattr(registry, "_load_all", lambda conn: (loads.append(1), real_load(conn)))
    registry.match(lot())
    registry.match(lot())
    assert loads == [1]  # nothing changed: one version read, no reload

    w = watches.create_watch(trader, radius_km=5, categories=["dairy"])
    registry.match(lot())
    assert loads == [1] and len(registry.index) == 2  # applied from the change log

    watches.update_watch(trader, w.id, {"categories": []})
    db.session.execute(db.delete(WatchChange))  # as the retention job does with old changes
    db.session.commit()
    assert registry.match(lot())[trader.id].watch_ids == tuple(sorted((w.id, w.id - 1)))
    assert loads == [1, 1]
