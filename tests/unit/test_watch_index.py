"""The matching rule and the watch index: filters, radius edges, updates, and equivalence with brute force."""
from __future__ import annotations

import math
import random
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geopy.distance import great_circle

from exchange.domain.text import q_matches
from exchange.geo.distance import EARTH_RADIUS_KM, distance_km
from exchange.geo.watch_index import GridCells, H3Cells, Hits, LotFacts, WatchIndex, WatchSpec, distance_if_matches

CAHORS = (44.4475, 1.4419)
SCHEMES = [H3Cells, GridCells]


def lot_at(lat: float, lon: float, **kw) -> LotFacts:
    facts = dict(category="vegetables", product="Tomates cœur de bœuf", price_cents=250,
                 labels=frozenset({"bio"}), quantity=40.0)
    facts.update(kw)
    return LotFacts(lat=lat, lon=lon, **facts)


def north_of(lat: float, lon: float, km: float) -> tuple[float, float]:
    """The point km due north: along a meridian the great-circle distance is the latitude difference."""
    return lat + math.degrees(km / EARTH_RADIUS_KM), lon


def watch(id: int = 1, user_id: int = 1, at=CAHORS, radius_km: float = 30.0, **kw) -> WatchSpec:
    return WatchSpec(id=id, user_id=user_id, lat=at[0], lon=at[1], radius_km=radius_km, **kw)


@pytest.fixture(params=SCHEMES, ids=lambda s: s.name)
def index(request) -> WatchIndex:
    return WatchIndex(request.param())


def ids(hits: Hits) -> list[int]:
    return hits.watch_ids.tolist()


# --- the rule -------------------------------------------------------------------------------------

def test_inside_radius_matches_with_its_distance():
    lot = lot_at(*north_of(*CAHORS, 10.0))
    assert distance_if_matches(watch(), lot) == pytest.approx(10.0, abs=1e-6)


def test_outside_radius_does_not_match():
    assert distance_if_matches(watch(), lot_at(*north_of(*CAHORS, 30.01))) is None


def test_exactly_on_the_radius_matches():
    w = watch(radius_km=25.0)
    lot = lot_at(*north_of(*CAHORS, 25.0))
    assert distance_km(w.lat, w.lon, lot.lat, lot.lon) == pytest.approx(25.0, abs=1e-9)
    assert distance_if_matches(w, lot) == pytest.approx(25.0, abs=1e-6)


# Explicit ids: a frozenset's repr follows string hashing, which differs between processes, and
# pytest-xdist workers must collect the same test names.
FILTER_CASES = [
    pytest.param(dict(categories=frozenset({"vegetables", "eggs"})), {}, True, id="categories-include-lot"),
    pytest.param(dict(categories=frozenset({"eggs"})), {}, False, id="categories-exclude-lot"),
    pytest.param(dict(max_price_cents=250), {}, True, id="price-cap-equal"),
    pytest.param(dict(max_price_cents=249), {}, False, id="price-cap-below"),
    pytest.param(dict(labels=frozenset({"bio"})), {}, True, id="label-carried"),
    pytest.param(dict(labels=frozenset({"bio", "aop"})), {}, False, id="labels-one-missing"),
    pytest.param(dict(labels=frozenset({"bio", "aop"})), dict(labels=frozenset({"aop", "bio", "hve"})), True,
                 id="labels-all-carried"),
    pytest.param(dict(min_quantity=40.0), {}, True, id="min-quantity-equal"),
    pytest.param(dict(min_quantity=40.5), {}, False, id="min-quantity-above"),
    pytest.param(dict(q="tomate"), {}, True, id="q-prefix"),
    pytest.param(dict(q="TOMATES bœuf"), {}, True, id="q-two-words-case"),
    pytest.param(dict(q="tomates chèvre"), {}, False, id="q-one-word-missing"),
    pytest.param(dict(q="oeuf"), dict(product="Œufs plein air", category="eggs"), True, id="q-ligature"),
    pytest.param(dict(q="mate"), {}, False, id="q-not-a-prefix"),
    pytest.param(dict(active=False), {}, False, id="inactive"),
]


@pytest.mark.parametrize("spec, lot_changes, expected", FILTER_CASES)
def test_each_filter(spec, lot_changes, expected):
    lot = lot_at(*north_of(*CAHORS, 5.0), **lot_changes)
    assert (distance_if_matches(watch(**spec), lot) is not None) is expected


@pytest.mark.parametrize("spec, lot_changes, expected", FILTER_CASES)
def test_index_applies_each_filter(index, spec, lot_changes, expected):
    """The index's array filters say what the rule says, filter by filter."""
    index.replace_all([watch(id=1, **spec), watch(id=2)])  # a second watch: the arrays are not all one row
    lot = lot_at(*north_of(*CAHORS, 5.0), **lot_changes)
    assert (1 in ids(index.match(lot))) is expected


@pytest.mark.parametrize("q, product, expected", [
    ("tomate", "Tomates cœur de bœuf", True),
    ("TOMATES", "Tomates cœur de bœuf", True),
    ("coeur de boeuf", "Tomates cœur de bœuf", True),
    ("oeuf", "Œufs", True),
    ("ŒUF", "oeufs frais", True),
    ("aebleskiver", "Æbleskiver", True),
    ("chevre", "Fromage de CHÈVRE", True),
    ("oie", "Chou de Savoie", False),
    ("", "anything", True),
])
def test_q_is_accent_and_case_insensitive_word_prefix(q, product, expected):
    assert q_matches(q, product) is expected


# --- the index ------------------------------------------------------------------------------------

def test_index_finds_inside_and_on_the_radius_but_not_outside(index):
    index.upsert(watch(id=1, radius_km=25.0))
    assert ids(index.match(lot_at(*north_of(*CAHORS, 24.0)))) == [1]
    assert ids(index.match(lot_at(*north_of(*CAHORS, 25.0)))) == [1]
    assert ids(index.match(lot_at(*north_of(*CAHORS, 25.001)))) == []


def test_index_applies_filters_and_ignores_inactive(index):
    index.replace_all([
        watch(id=1, categories=frozenset({"eggs"})),
        watch(id=2, categories=frozenset({"vegetables"})),
        watch(id=3, max_price_cents=100),
        watch(id=4, active=False),
        watch(id=5),
    ])
    assert ids(index.match(lot_at(*north_of(*CAHORS, 1.0)))) == [2, 5]
    assert len(index) == 4  # inactive watches are not held


def test_results_sorted_by_user_then_watch_with_distances(index):
    index.replace_all([watch(id=9, user_id=2), watch(id=3, user_id=7), watch(id=5, user_id=2),
                       watch(id=4, user_id=1, at=north_of(*CAHORS, 3.0))])
    found = index.match(lot_at(*CAHORS)).triples()
    assert [(user_id, watch_id) for user_id, watch_id, _ in found] == [(1, 4), (2, 5), (2, 9), (7, 3)]
    assert found[0][2] == pytest.approx(3.0, abs=1e-6) and found[1][2] == 0.0


def test_update_moves_a_watch(index):
    index.upsert(watch(id=1, radius_km=10.0))
    lyon = (45.7640, 4.8357)
    index.upsert(watch(id=1, radius_km=10.0, at=lyon))
    assert ids(index.match(lot_at(*CAHORS))) == []
    assert ids(index.match(lot_at(*lyon))) == [1]
    assert len(index) == 1


def test_update_changes_radius_level_and_filters(index):
    index.upsert(watch(id=1, radius_km=5.0, categories=frozenset({"eggs"})))
    far = lot_at(*north_of(*CAHORS, 80.0))
    assert ids(index.match(far)) == []
    index.upsert(watch(id=1, radius_km=90.0))
    assert ids(index.match(far)) == [1]


def test_deactivating_and_removing(index):
    index.replace_all([watch(id=1), watch(id=2)])
    index.upsert(watch(id=1, active=False))
    index.remove(2)
    index.remove(404)  # unknown ids are ignored
    assert ids(index.match(lot_at(*CAHORS))) == [] and len(index) == 0


def test_clear_and_replace_all(index):
    index.replace_all([watch(id=1), watch(id=2)])
    index.replace_all([watch(id=3)])
    assert ids(index.match(lot_at(*CAHORS))) == [3]
    index.clear()
    assert ids(index.match(lot_at(*CAHORS))) == [] and len(index) == 0


def test_invalid_coordinates_are_refused(index):
    with pytest.raises(ValueError):
        index.upsert(watch(at=(95.0, 1.0)))
    with pytest.raises(ValueError):
        index.upsert(watch(radius_km=float("nan")))
    with pytest.raises(ValueError):
        index.upsert(watch(id=2**31))  # ids are database integers: they share one int64 with the user id


def test_index_asks_only_nearby_watches(index):
    """Cost follows candidates: watches far away are never even looked at."""
    rng = random.Random(7)
    far = [watch(id=i, at=(48.8 + rng.uniform(-0.5, 0.5), 2.35 + rng.uniform(-0.5, 0.5)), radius_km=20.0)
           for i in range(1, 2001)]
    index.replace_all([*far, watch(id=5000, radius_km=20.0)])
    assert index.candidates(lot_at(*CAHORS)) == 1
    assert ids(index.match(lot_at(*CAHORS))) == [5000]


def test_text_queries_added_after_a_product_was_seen(index):
    """Query answers are cached per product; a query added later is still asked of that product."""
    index.replace_all([watch(id=1, q="tomate"), watch(id=2, q="carotte")])
    lot = lot_at(*CAHORS)
    assert ids(index.match(lot)) == [1]
    index.upsert(watch(id=3, q="cœur"))
    index.upsert(watch(id=4, q="poireau"))
    assert ids(index.match(lot)) == [1, 3]
    assert ids(index.match(lot_at(*CAHORS, product="Poireaux d'hiver"))) == [4]


def test_labels_beyond_the_bits_are_checked_by_the_rule(index):
    """The first 32 labels are bits in the arrays; watches needing later ones are settled by the rule."""
    many = [f"label{i}" for i in range(40)]
    index.replace_all([watch(id=i + 1, labels=frozenset({label})) for i, label in enumerate(many)])
    carried = frozenset({"label3", "label35", "label39"})
    assert ids(index.match(lot_at(*CAHORS, labels=carried))) == [4, 36, 40]
    index.upsert(watch(id=50, labels=frozenset({"label0", "label38"})))
    assert 50 not in ids(index.match(lot_at(*CAHORS, labels=frozenset({"label0"}))))
    assert 50 in ids(index.match(lot_at(*CAHORS, labels=frozenset({"label0", "label38"}))))


def test_rows_are_reused_and_grown(index):
    """Watches removed and added many times: rows are recycled, arrays grow, answers stay right."""
    index.replace_all([watch(id=i, radius_km=10.0) for i in range(1, 11)])
    for i in range(1, 11):
        index.remove(i)
    index.replace_all([])
    for i in range(100, 300):
        index.upsert(watch(id=i, user_id=i % 7, radius_km=10.0 + i % 5))
    for i in range(100, 300, 2):
        index.remove(i)
    found = index.match(lot_at(*north_of(*CAHORS, 10.5)))
    assert sorted(ids(found)) == [i for i in range(101, 300, 2) if 10.0 + i % 5 >= 10.5]
    assert found.user_ids.tolist() == sorted(found.user_ids.tolist())


# --- equivalence with brute force -------------------------------------------------------------------

def brute_force(watches, lot) -> list[tuple[int, int, float]]:
    """(user_id, watch_id, distance_km) of every watch the rule accepts, sorted."""
    return sorted((w.user_id, w.id, d) for w in watches if (d := distance_if_matches(w, lot)) is not None)


def assert_same_hits(hits: Hits, expected: list[tuple[int, int, float]]) -> None:
    """The same watches in the same order, and the same distances to a micrometre (the index takes them
    from the chord, the rule from the haversine: they differ by about 1e-11 km)."""
    found = hits.triples()
    assert [f[:2] for f in found] == [e[:2] for e in expected]
    assert [f[2] for f in found] == pytest.approx([e[2] for e in expected], abs=1e-9, rel=0)


def _clamp(value: float, limit: float) -> float:
    return max(-limit, min(limit, value))


def random_watch(rng: random.Random, i: int, centre) -> WatchSpec:
    return WatchSpec(
        id=i, user_id=rng.randrange(1, 40), lat=_clamp(centre[0] + rng.gauss(0, 1.0), 90.0),
        lon=_clamp(centre[1] + rng.gauss(0, 1.5), 180.0),
        radius_km=rng.choice([0.0, 0.5, rng.uniform(5, 100), rng.uniform(100, 600)]),
        categories=frozenset(rng.sample(["vegetables", "fruits", "eggs"], rng.randrange(0, 3))),
        max_price_cents=rng.choice([None, 200, 400]), labels=frozenset(rng.sample(["bio", "aop"], rng.randrange(0, 2))),
        min_quantity=rng.choice([None, 10.0, 50.0]), active=rng.random() > 0.05,
    )


def random_lot(rng: random.Random, centre) -> LotFacts:
    return lot_at(_clamp(centre[0] + rng.gauss(0, 1.2), 90.0), _clamp(centre[1] + rng.gauss(0, 2.0), 180.0),
                  category=rng.choice(["vegetables", "fruits", "eggs", "meat"]), price_cents=rng.choice([150, 300]),
                  labels=frozenset(rng.sample(["bio", "aop"], rng.randrange(0, 3))), quantity=rng.choice([5.0, 20.0, 80.0]))


@pytest.mark.parametrize("scheme", SCHEMES, ids=lambda s: s.name)
@pytest.mark.parametrize("centre", [CAHORS, (48.85, 2.35), (64.1, -21.9), (-33.9, 151.2), (0.0, 179.9), (89.0, 10.0)],
                         ids=["cahors", "paris", "reykjavik", "sydney", "antimeridian", "pole"])
def test_same_answers_as_brute_force_after_loads_moves_and_removals(scheme, centre):
    rng = random.Random(repr(centre))
    index, expected = WatchIndex(scheme()), {}
    first = [random_watch(rng, i, centre) for i in range(1, 201)]
    index.replace_all(first)
    expected.update((w.id, w) for w in first)
    for _ in range(300):
        action = rng.random()
        if action < 0.7:
            w = random_watch(rng, rng.randrange(1, 300), centre)
            index.upsert(w)
            expected[w.id] = w
        else:
            watch_id = rng.randrange(1, 300)
            index.remove(watch_id)
            expected.pop(watch_id, None)
    assert len(index) == sum(w.active for w in expected.values())
    for _ in range(150):
        lot = random_lot(rng, centre)
        assert_same_hits(index.match(lot), brute_force(expected.values(), lot))


@st.composite
def watch_and_lot_on_its_edge(draw):
    """A watch, and a lot placed at (almost exactly) its radius in a random direction."""
    lat = draw(st.floats(-80, 80))
    lon = draw(st.floats(-180, 180))
    radius_km = draw(st.one_of(st.floats(0.0, 5.0), st.floats(5.0, 100.0), st.floats(100.0, 900.0)))
    bearing = draw(st.floats(0, 360))
    stretch = draw(st.sampled_from([1 - 1e-9, 1.0, 1 + 1e-9, 0.999, 1.001]))
    end = great_circle(kilometers=radius_km * stretch).destination((lat, lon), bearing)
    return watch(at=(lat, lon), radius_km=radius_km), lot_at(end.latitude, end.longitude)


@pytest.mark.parametrize("scheme", SCHEMES, ids=lambda s: s.name)
@settings(max_examples=300, deadline=None, derandomize=True)
@given(case=watch_and_lot_on_its_edge())
def test_lots_on_the_circle_agree_with_the_rule(scheme, case):
    w, lot = case
    index = WatchIndex(scheme())
    index.upsert(w)
    assert_same_hits(index.match(lot), brute_force([w], lot))


def test_concurrent_readers_see_one_state_or_the_other():
    """A watch being rewritten over and over is seen by each match exactly once, in one of its versions."""
    index = WatchIndex()
    index.replace_all([watch(id=i, radius_km=20.0) for i in range(2, 60)])
    # Both versions contain the lot, but at different cell sizes: a reader caught between taking the
    # old version out and putting the new one in would see it zero times, or twice.
    versions = [watch(id=1, radius_km=20.0), watch(id=1, radius_km=70.0, at=north_of(*CAHORS, 15.0))]
    lot = lot_at(*north_of(*CAHORS, 7.5))
    expected = [distance_if_matches(v, lot) for v in versions]
    index.upsert(versions[0])
    stop, errors = threading.Event(), []

    def writer():
        while not stop.is_set():
            for v in versions:
                index.upsert(v)

    def reader():
        for _ in range(800):
            seen = [d for _, watch_id, d in index.match(lot).triples() if watch_id == 1]
            if len(seen) != 1 or not any(abs(seen[0] - d) < 1e-9 for d in expected):
                errors.append(seen)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join()
    stop.set()
    threads[0].join()
    assert errors == []
