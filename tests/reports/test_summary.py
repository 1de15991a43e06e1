"""The summary's figures on the hand-built exchange of conftest.py, worked out by hand.

The chamber covers departments 46 and 82, January to March 2025; lots L7 (department 12) and L8
(31 December in Paris) must never count. Every figure below is computed in the comments.
"""
import datetime as dt

import pytest

from exchange.domain.errors import Forbidden, InvalidInput
from exchange.reports import rollup
from exchange.reports.periods import Period
from exchange.reports.scope import Scope, scope_for
from exchange.reports.summary import summary

Q1_2025 = Period(dt.date(2025, 1, 1), dt.date(2025, 3, 31))
TERRITORY = Scope(Q1_2025, ("46", "82"))
ZERO_STATES = {"collected": 0, "declined": 0, "cancelled": 0, "expired": 0, "no_show": 0, "open": 0}
MASKED_UNIT = {"masked": True, "producers_active": None, "quantity_offered": None, "quantity_reserved": None,
               "quantity_collected": None, "sell_through": None, "km_per_kg": None}
MASKED_GROUP = {"masked": True, "lots_posted": None, "producers_active": None, "traders_active": None,
                "value_collected_cents": None, "reservations": None, "distance_mean_km": None,
                "distance_total_km": None}


def masked(key: dict, *units: str) -> dict:
    return key | MASKED_GROUP | {"units": [{"unit": u} | MASKED_UNIT for u in units]}


# Every lot in scope: 10 lots by P1..P4; reservations by T1..T3.
TOTAL = {
    "masked": False, "lots_posted": 10, "producers_active": 4, "traders_active": 3,
    # 30×250 + 10.5×250 + 20×300 + 10×80 + 10×260 + 2.5×1200 + 60×30 + 45×32 + 20×150
    "value_collected_cents": 28765,
    "reservations": {"collected": 9, "declined": 1, "cancelled": 1, "expired": 1, "no_show": 1, "open": 2},
    # collected trips with a known distance: 10 + 5 + 40 + 20 + 15 + 10 + 30 + 7 = 137 km over 8
    "distance_mean_km": 17.125, "distance_total_km": 137.0,
    "units": [
        # kg: L1 100 + L2 50 + L10 30 + L9 20 + L12 10; held: 30 + 10.5 + 20 + 5 (pending) + 10 + 2.5;
        # collected 30 + 10.5 + 20 + 10 + 2.5 = 73; km per kg over trips with a distance: (10+5+20+15)/(30+20+10+2.5)
        {"unit": "kg", "masked": False, "producers_active": 4, "quantity_offered": 210.0, "quantity_reserved": 78.0,
         "quantity_collected": 73.0, "sell_through": 0.3476, "km_per_kg": 0.8},
        # piece: L3 40 + L4 120 + L5 60 + L6 90 + L11 50; held 10 + 60 + 45 + 10 (confirmed) + 20; collected 135
        {"unit": "piece", "masked": False, "producers_active": 4, "quantity_offered": 360.0,
         "quantity_reserved": 145.0, "quantity_collected": 135.0, "sell_through": 0.375, "km_per_kg": None},
    ],
}


def test_by_category_masks_cells_of_fewer_than_three_producers(exchange_data):
    report = summary(TERRITORY, ("category",), min_producers=3)
    assert report["total"] == TOTAL
    assert report["rows"] == [
        masked({"category": "dairy"}, "kg", "piece"),  # P2 and P4 only
        {"category": "eggs", "masked": False, "lots_posted": 3, "producers_active": 3, "traders_active": 3,
         "value_collected_cents": 3240,  # 60×30 + 45×32
         "reservations": {"collected": 2, "declined": 0, "cancelled": 1, "expired": 1, "no_show": 0, "open": 1},
         "distance_mean_km": 20.0, "distance_total_km": 40.0,
         "units": [{"unit": "piece", "masked": False, "producers_active": 3, "quantity_offered": 270.0,
                    "quantity_reserved": 115.0, "quantity_collected": 105.0, "sell_through": 0.3889,
                    "km_per_kg": None}]},
        masked({"category": "honey"}, "kg"),  # P3 alone
        {"category": "vegetables", "masked": False, "lots_posted": 4, "producers_active": 4, "traders_active": 3,
         "value_collected_cents": 19525,  # 30×250 + 10.5×250 + 20×300 + 10×80 + 10×260
         "reservations": {"collected": 5, "declined": 1, "cancelled": 0, "expired": 0, "no_show": 1, "open": 1},
         "distance_mean_km": 18.75, "distance_total_km": 75.0,  # 10, 5, 40, 20 (T3 has no base)
         "units": [
             # tomatoes by the kilo: P1, P2, P4; 70.5 of 180 kg collected; (10+5+20) km / (30+20+10) kg
             {"unit": "kg", "masked": False, "producers_active": 3, "quantity_offered": 180.0,
              "quantity_reserved": 75.5, "quantity_collected": 70.5, "sell_through": 0.3917, "km_per_kg": 0.583},
             {"unit": "piece"} | MASKED_UNIT,  # tomatoes by the piece: P3 alone
         ]},
    ]


def test_by_month_in_paris_time_with_the_empty_month_present(exchange_data):
    rows = summary(TERRITORY, ("month",), min_producers=3)["rows"]
    assert [r["month"] for r in rows] == ["2025-01", "2025-02", "2025-03"]
    january, february, march = rows
    # L9 (31 Dec 23:30 UTC) is January in Paris; L4 (31 Jan 23:30 UTC) is February.
    assert (january["lots_posted"], january["producers_active"], january["value_collected_cents"]) == (5, 4, 22525)
    assert january["reservations"] == {"collected": 6, "declined": 1, "cancelled": 0, "expired": 0, "no_show": 1,
                                       "open": 1}
    assert (january["distance_mean_km"], january["distance_total_km"]) == (18.0, 90.0)
    assert (february["lots_posted"], february["producers_active"], february["value_collected_cents"]) == (5, 3, 6240)
    assert (february["distance_mean_km"], february["distance_total_km"]) == (15.667, 47.0)
    # January by the piece (P3) and February by the kilo (P4) are secret; the visible total per unit
    # would give them away, so the other month of each unit is masked too.
    assert [u["masked"] for u in january["units"] + february["units"]] == [True, True, True, True]
    assert march == {"month": "2025-03", "masked": False, "lots_posted": 0, "producers_active": 0,
                     "traders_active": 0, "value_collected_cents": 0, "reservations": ZERO_STATES,
                     "distance_mean_km": None, "distance_total_km": 0.0, "units": []}


def test_a_lone_secret_cell_beside_a_visible_total_takes_another_with_it(exchange_data):
    report = summary(TERRITORY, ("department",), min_producers=3)
    # 82 has one producer (P4); 46 has three, but total − 46 would give 82 away.
    assert report["rows"] == [masked({"department": "46"}, "kg", "piece"),
                              masked({"department": "82"}, "kg", "piece")]
    assert report["total"] == TOTAL


def test_the_threshold_is_configurable(exchange_data):
    rows = summary(TERRITORY, ("department",), min_producers=1)["rows"]
    assert [(r["department"], r["masked"], r["producers_active"], r["lots_posted"]) for r in rows] == [
        ("46", False, 3, 7), ("82", False, 1, 3)]


def test_by_product_groups_spellings_and_splits_units(exchange_data):
    rows = summary(TERRITORY, ("product",), min_producers=3)["rows"]
    assert [(r["product"], r["product_name"], r["masked"]) for r in rows] == [
        ("fromage de chèvre", "Fromage de chèvre", True), ("miel", "Miel", True),
        ("tomates", "Tomates", False), ("tomme", "Tomme", True), ("œufs", "Œufs", False)]
    tomatoes = rows[2]
    assert [(u["unit"], u["masked"], u["quantity_offered"]) for u in tomatoes["units"]] == [
        ("kg", False, 180.0), ("piece", True, None)]  # never 220 "kg-or-pieces"


def test_by_commune_names_the_commune(exchange_data):
    rows = summary(TERRITORY, ("commune",), min_producers=2)["rows"]
    assert [(r["commune"], r["commune_name"], r["masked"], r["producers_active"]) for r in rows] == [
        ("46042", "Cahors", False, 2), ("46102", "Figeac", True, None), ("82121", "Montauban", True, None)]


def test_two_dimensions(exchange_data):
    rows = summary(TERRITORY, ("department", "month"), min_producers=3)["rows"]
    assert [(r["department"], r["month"], r["masked"]) for r in rows] == [
        ("46", "2025-01", False), ("46", "2025-02", True), ("82", "2025-01", True), ("82", "2025-02", True)]
    lot_46_january = rows[0]
    # L1, L2, L3, L9 by P1, P2, P3: 30×250 + 10.5×250 + 20×300 + 10×80 + 2.5×1200
    assert (lot_46_january["lots_posted"], lot_46_january["value_collected_cents"]) == (4, 19925)
    assert lot_46_january["units"][0] == {"unit": "kg", "masked": False, "producers_active": 3,
                                          "quantity_offered": 170.0, "quantity_reserved": 68.0,
                                          "quantity_collected": 63.0, "sell_through": 0.3706, "km_per_kg": 0.571}


def test_an_empty_period_is_empty_not_masked(exchange_data):
    report = summary(Scope(Period(dt.date(2025, 3, 1), dt.date(2025, 3, 31)), ("46", "82")), ("category",), 3)
    assert report["rows"] == []
    assert report["total"] == {"masked": False, "lots_posted": 0, "producers_active": 0, "traders_active": 0,
                               "value_collected_cents": 0, "reservations": ZERO_STATES, "distance_mean_km": None,
                               "distance_total_km": 0.0, "units": []}


def test_an_admin_sees_any_department_and_the_period_edges_hold(exchange_data, make_user):
    admin = make_user("admin")
    report = summary(scope_for(admin, Q1_2025, "12"), ("category",), min_producers=1)
    assert [(r["category"], r["lots_posted"], r["value_collected_cents"]) for r in report["rows"]] == [
        ("vegetables", 1, 1000)]  # L7: 5 kg × 200
    everything = summary(scope_for(admin, Period(dt.date(2024, 12, 31), dt.date(2025, 3, 31))), ("month",), 1)
    assert [(r["month"], r["lots_posted"]) for r in everything["rows"]] == [
        ("2024-12", 1), ("2025-01", 5), ("2025-02", 6), ("2025-03", 0)]  # L8 in December, L7 in February


def test_territory_rules(make_user):
    chamber = make_user("chamber", territory=["46", "82"])
    assert scope_for(chamber, Q1_2025).departments == ("46", "82")
    assert scope_for(chamber, Q1_2025, "82").departments == ("82",)
    with pytest.raises(Forbidden):
        scope_for(chamber, Q1_2025, "12")
    with pytest.raises(Forbidden):
        scope_for(make_user("trader"), Q1_2025)
    assert scope_for(make_user("admin"), Q1_2025).departments is None


def test_periods_are_bounded():
    with pytest.raises(InvalidInput):
        Period(dt.date(2025, 2, 1), dt.date(2025, 1, 31))
    with pytest.raises(InvalidInput):
        Period(dt.date(2020, 1, 1), dt.date(2025, 1, 1))
    march = Period.of_month("2025-03")
    # Paris is UTC+1 on 1 March and UTC+2 on 1 April (summer time starts on 30 March 2025)
    assert (march.start.isoformat(), march.end.isoformat()) == ("2025-02-28T23:00:00+00:00",
                                                                "2025-03-31T22:00:00+00:00")


def test_months_follow_paris_summer_time(exchange_data, db):
    from tests.reports.conftest import at

    farm = exchange_data.farms["F1"]
    lot = exchange_data.lots["L1"]
    instants = [at(2025, 3, 31, 21, 59), at(2025, 3, 31, 22, 0),  # CEST: 23:59 31 March, 00:00 1 April
                at(2025, 10, 31, 22, 59), at(2025, 10, 31, 23, 0)]  # CET: 23:59 31 October, 00:00 1 November
    for created_at in instants:
        db.session.add(type(lot)(farm_id=farm.id, product="Radis", category="vegetables", unit="bunch",
                                 quantity_offered=1, quantity_available=1, price_cents=100, available_from=created_at,
                                 available_until=created_at, status="expired", lat=44.4, lon=1.4,
                                 created_at=created_at))
    db.session.flush()
    rollup.rebuild()  # written directly: the month tables follow, as the migration fills them
    db.session.commit()
    # Whole months (PostgreSQL: from the month tables, months stored when written) and the same months cut by
    # the period (from the lots, months computed for the period).
    for first, last in ((dt.date(2025, 3, 1), dt.date(2025, 11, 30)), (dt.date(2025, 3, 31), dt.date(2025, 11, 1))):
        rows = summary(Scope(Period(first, last), ("46",)), ("month",), 1)["rows"]
        assert [(r["month"], r["lots_posted"]) for r in rows if r["lots_posted"]] == [
            ("2025-03", 1), ("2025-04", 1), ("2025-10", 1), ("2025-11", 1)]
        assert len(rows) == 9  # March to November, empty months included


def _traders_by_hand(period: Period, departments, dims) -> tuple[dict, int]:
    """Distinct traders per group and overall, worked out from conftest's tables in Python (the oracle)."""
    from zoneinfo import ZoneInfo

    from tests.reports.conftest import FARMS, LOTS, RESERVATIONS

    groups, everyone = {}, set()
    for lot, trader, *_ in RESERVATIONS:
        farm, *_, created_at = LOTS[lot]
        department = FARMS[farm][1]
        paris = created_at.astimezone(ZoneInfo("Europe/Paris"))
        if not period.first <= paris.date() <= period.last or (departments and department not in departments):
            continue
        keys = {"department": department, "month": f"{paris.year:04d}-{paris.month:02d}"}
        groups.setdefault(tuple(keys[d] for d in dims), set()).add(trader)
        everyone.add(trader)
    return {key: len(traders) for key, traders in groups.items()}, len(everyone)


@pytest.mark.parametrize("first, last", [
    (dt.date(2025, 1, 1), dt.date(2025, 3, 31)),  # whole months: the month table alone
    (dt.date(2025, 1, 12), dt.date(2025, 2, 28)),  # a part-month first (L1, L9 out), then a whole one
    (dt.date(2024, 12, 31), dt.date(2025, 2, 7)),  # part-months at both ends, L8 on the first day
    (dt.date(2025, 1, 20), dt.date(2025, 1, 31)),  # no whole month: the pairs alone
])
@pytest.mark.parametrize("dims", [("department", "month"), ("department",), ("month",), ("category",)])
@pytest.mark.parametrize("departments", [None, ("46", "82"), ("46",)])
def test_traders_active_are_exact_whatever_part_of_a_month_the_period_cuts(exchange_data, first, last, dims,
                                                                            departments):
    """Whole months are counted from report_month_traders, part-months from the pairs: together, exact."""
    period = Period(first, last)
    report = summary(Scope(period, departments), dims, min_producers=1)
    by_group, everyone = _traders_by_hand(period, departments, tuple(d for d in dims if d != "category"))
    assert report["total"]["traders_active"] == everyone
    if dims != ("category",):
        assert {tuple(r[d] for d in dims): r["traders_active"] for r in report["rows"] if r["traders_active"]} == \
            by_group


@pytest.mark.parametrize("first, last", [
    (dt.date(2025, 1, 1), dt.date(2025, 3, 31)),  # whole months: the month table alone (PostgreSQL)
    (dt.date(2025, 1, 12), dt.date(2025, 2, 28)),  # a part-month first, then a whole one
    (dt.date(2024, 12, 31), dt.date(2025, 2, 7)),  # part-months at both ends
    (dt.date(2025, 1, 20), dt.date(2025, 1, 31)),  # no whole month: the lots alone
])
@pytest.mark.parametrize("dims", [("department", "month"), ("department",), ("month",)])
@pytest.mark.parametrize("departments", [None, ("46", "82")])
def test_producers_lots_and_offers_are_exact_whatever_part_of_a_month_the_period_cuts(exchange_data, first, last,
                                                                                       dims, departments):
    """Whole months are read from report_month_producers, part-months from the lots: together, exact."""
    from zoneinfo import ZoneInfo

    from tests.reports.conftest import FARMS, LOTS

    period = Period(first, last)
    groups, units, everyone = {}, {}, set()
    for farm, _, _, unit, quantity, _, created_at in LOTS.values():
        producer, department = FARMS[farm][0], FARMS[farm][1]
        paris = created_at.astimezone(ZoneInfo("Europe/Paris"))
        if not period.first <= paris.date() <= period.last or (departments and department not in departments):
            continue
        keys = {"department": department, "month": f"{paris.year:04d}-{paris.month:02d}"}
        group = groups.setdefault(tuple(keys[d] for d in dims), {"producers": set(), "lots": 0, "offered": {}})
        group["producers"].add(producer)
        group["lots"] += 1
        group["offered"][unit] = group["offered"].get(unit, 0) + float(quantity)
        units.setdefault(unit, set()).add(producer)
        everyone.add(producer)
    report = summary(Scope(period, departments), dims, min_producers=1)
    assert {tuple(r[d] for d in dims): (r["producers_active"], r["lots_posted"],
                                        {u["unit"]: u["quantity_offered"] for u in r["units"]})
            for r in report["rows"] if r["lots_posted"]} == {
        key: (len(g["producers"]), g["lots"], g["offered"]) for key, g in groups.items()}
    assert report["total"]["producers_active"] == len(everyone)
    assert {u["unit"]: u["producers_active"] for u in report["total"]["units"]} == {
        unit: len(producers) for unit, producers in units.items()}
