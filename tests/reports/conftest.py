"""A small hand-built exchange whose report figures are worked out by hand in the tests.

Chamber territory: departments 46 and 82; period January to March 2025 (March is empty).
Farms are written directly (reports read what the domain services wrote; the data here is
chosen, not geocoded), and the report rollup is then rebuilt from them as the migration does. Times are UTC; the comments give the Paris day where it matters.

    producer  farm  department  commune (INSEE)
    P1        F1    46          Cahors (46042)
    P2        F2    46          Cahors (46042)
    P3        F3    46          Figeac (46102)
    P4        F4    82          Montauban (82121)
    P5        F5    12          Rodez (12202)        outside the territory
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from exchange.models import Farm, Lot, Reservation
from exchange.reports import rollup

UTC = dt.timezone.utc


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


FARMS = {
    "F1": ("P1", "46", "46042", "Cahors"),
    "F2": ("P2", "46", "46042", "Cahors"),
    "F3": ("P3", "46", "46102", "Figeac"),
    "F4": ("P4", "82", "82121", "Montauban"),
    "F5": ("P5", "12", "12202", "Rodez"),
}

# name: farm, product, category, unit, quantity offered, price_cents, created_at (UTC)
LOTS = {
    "L1": ("F1", "Tomates", "vegetables", "kg", "100", 250, at(2025, 1, 10, 9)),
    "L2": ("F2", "tomates ", "vegetables", "kg", "50", 300, at(2025, 1, 15, 9)),
    "L3": ("F3", "Tomates", "vegetables", "piece", "40", 80, at(2025, 1, 20, 9)),
    "L10": ("F4", "Tomates", "vegetables", "kg", "30", 260, at(2025, 1, 25, 9)),
    "L9": ("F3", "Miel", "honey", "kg", "20", 1200, at(2024, 12, 31, 23, 30)),  # 1 Jan 00:30 in Paris
    "L4": ("F1", "Œufs", "eggs", "piece", "120", 30, at(2025, 1, 31, 23, 30)),  # 1 Feb 00:30 in Paris
    "L5": ("F4", "Œufs", "eggs", "piece", "60", 35, at(2025, 2, 5, 9)),
    "L6": ("F2", "œufs", "eggs", "piece", "90", 32, at(2025, 2, 10, 9)),
    "L11": ("F2", "Fromage de chèvre", "dairy", "piece", "50", 150, at(2025, 2, 20, 9)),
    "L12": ("F4", "Tomme", "dairy", "kg", "10", 1800, at(2025, 2, 21, 9)),
    "L7": ("F5", "Tomates", "vegetables", "kg", "80", 200, at(2025, 2, 1, 9)),  # outside the territory
    "L8": ("F1", "Tomates", "vegetables", "kg", "70", 240, at(2024, 12, 31, 22, 30)),  # 31 Dec 23:30 in Paris
}

# lot, trader, quantity, unit price (cents), status, distance_km
RESERVATIONS = [
    ("L1", "T1", "30", 250, "collected", 10.0),
    ("L1", "T2", "20", 250, "declined", 25.0),
    ("L1", "T3", "10.5", 250, "collected", None),
    ("L2", "T1", "20", 300, "collected", 5.0),
    ("L2", "T2", "5", 300, "pending", 25.0),
    ("L3", "T2", "10", 80, "collected", 40.0),
    ("L3", "T1", "5", 80, "no_show", 12.0),
    ("L10", "T2", "10", 260, "collected", 20.0),
    ("L9", "T1", "2.5", 1200, "collected", 15.0),
    ("L4", "T1", "60", 30, "collected", 10.0),
    ("L5", "T2", "30", 35, "expired", 50.0),
    ("L5", "T3", "12", 35, "cancelled", None),
    ("L6", "T2", "45", 32, "collected", 30.0),
    ("L6", "T1", "10", 32, "confirmed", 8.0),
    ("L11", "T1", "20", 150, "collected", 7.0),
    ("L7", "T1", "5", 200, "collected", 60.0),
    ("L8", "T1", "70", 240, "collected", 10.0),
]


@pytest.fixture
def exchange_data(db, make_user):
    """The dataset above, committed; answers its people, farms and lots by name."""
    people = {name: make_user("producer") for name in ("P1", "P2", "P3", "P4", "P5")}
    people |= {name: make_user("trader") for name in ("T1", "T2", "T3")}
    farms = {}
    for name, (owner, department, insee, commune) in FARMS.items():
        farms[name] = Farm(owner_id=people[owner].id, name=name, postcode=insee, commune=commune, insee=insee,
                           department=department, lat=44.4, lon=1.4, pickup_hours={})
    db.session.add_all(farms.values())
    db.session.flush()
    lots = {}
    for name, (farm, product, category, unit, quantity, price, created_at) in LOTS.items():
        lots[name] = Lot(farm_id=farms[farm].id, product=product, category=category, unit=unit,
                         quantity_offered=Decimal(quantity), quantity_available=Decimal(quantity), price_cents=price,
                         available_from=created_at, available_until=created_at + dt.timedelta(days=3),
                         status="expired", lat=44.4, lon=1.4, created_at=created_at)
    db.session.add_all(lots.values())
    db.session.flush()
    for lot, trader, quantity, price, status, distance in RESERVATIONS:
        created_at = lots[lot].created_at + dt.timedelta(hours=2)
        db.session.add(Reservation(lot_id=lots[lot].id, trader_id=people[trader].id, quantity=Decimal(quantity),
                                   price_cents=price, status=status, pickup_code="000000", distance_km=distance,
                                   created_at=created_at, closed_at=created_at + dt.timedelta(hours=5)))
    db.session.flush()
    rollup.rebuild()  # written directly, so the report rollup is filled as the migration fills it
    db.session.commit()
    return SimpleNamespace(people=people, farms=farms, lots=lots)
