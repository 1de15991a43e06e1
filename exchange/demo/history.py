"""Twelve months of past trade for the demo: lots and reservations in every final state, for the reports.

Deterministic (seeded), written in bulk (a few INSERT ... RETURNING statements, not one per row), and
consistent with the stock invariant: each past lot's movements, reservations and transitions add up
exactly as if the live services had run them, and so does the report rollup (`flask check-integrity`
passes on a seeded database).

Seasons: every kind of product has its months in the Quercy (lamb for Easter, walnuts from October,
truffles in winter, goat cheese from spring to autumn...), some products have their own window (the
Chasselas in September-November, Christmas trees in December), and prices run higher out of season.
"""
from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from decimal import Decimal

from sqlalchemy import bindparam, insert

from exchange.demo import data
from exchange.domain.pickup import next_pickup, pickup_deadline
from exchange.extensions import db
from exchange.geo.distance import distance_km
from exchange.models import Farm, Lot, Reservation, ReservationTransition, StockMovement, User
from exchange.models.types import utcnow
from exchange.reports import rollup

SEED = 46102  # Figeac's INSEE code: not the same stream as the current lots
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

# Months (1-12) when each kind is offered, and the months of plenty when prices are lowest.
SEASONS = {
    "legumes": (range(1, 13), (5, 6, 7, 8, 9, 10)),
    "fruits": ((1, 2, 3, 6, 7, 8, 9, 10, 11, 12), (8, 9, 10)),
    "noix": ((10, 11, 12, 1, 2, 3), (10, 11)),
    "truffe": ((12, 1, 2), (1,)),
    "vin": (range(1, 13), ()),
    "jus": (range(1, 13), (10, 11, 12)),
    "fromage": ((3, 4, 5, 6, 7, 8, 9, 10, 11), (4, 5, 6)),
    "agneau": ((2, 3, 4, 5, 6, 11, 12), (3, 4)),
    "canard": ((1, 2, 3, 10, 11, 12), (11, 12)),
    "porc": (range(1, 13), (11, 12, 1)),
    "oeufs": (range(1, 13), (3, 4, 5, 6)),
    "miel": ((6, 7, 8, 9, 10, 11), (8, 9)),
    "farine": (range(1, 13), (8, 9)),
    "plants": ((3, 4, 5, 6, 11, 12), (4, 5)),
}
# Products with a narrower window than their kind's.
PRODUCT_MONTHS = {
    "Chasselas de Moissac": (9, 10, 11),
    "Sapin de Noël (1,50 m)": (12,),
    "Plants d'aromatiques (godet)": (3, 4, 5, 6),
    "Mâche": (11, 12, 1, 2, 3),
    "Épinards": (10, 11, 12, 1, 2, 3, 4),
    "Courge butternut": (9, 10, 11, 12, 1, 2),
    "Potimarron": (9, 10, 11, 12, 1),
    "Kiwis": (11, 12, 1, 2, 3),
    "Coings": (10, 11),
    "Foie gras de canard cru": (11, 12),
    "Châtaignes": (10, 11, 12),
    "Gigot d'agneau": (3, 4, 12),
}
# How reservations end: mostly collected, then the ways a hold ends without a sale.
ENDINGS = (("collected", 72), ("cancelled", 8), ("expired", 7), ("declined", 6), ("no_show", 7))
HOLD = dt.timedelta(minutes=30)
NO_SHOW_GRACE = dt.timedelta(minutes=120)


def _products_for(kinds: tuple[str, ...], month: int) -> list[tuple]:
    found = []
    for kind in kinds:
        months, plenty = SEASONS[kind]
        if month not in months:
            continue
        for product in data.PRODUCTS[kind]:
            if month in PRODUCT_MONTHS.get(product[0], range(1, 13)):
                found.append((kind, month in plenty, product))
    return found


def _price(rng: random.Random, low: int, high: int, plenty: bool) -> int:
    factor = rng.uniform(0.85, 0.97) if plenty else rng.uniform(1.0, 1.15)
    return max(10, int(round(rng.randint(low, high) * factor, -1)))


def _code(rng: random.Random) -> str:
    return "".join(rng.choice(CODE_ALPHABET) for _ in range(6))


def _at_morning(day: dt.date, rng: random.Random) -> dt.datetime:
    """A producer posts early: between 05:30 and 09:00 UTC."""
    return dt.datetime(day.year, day.month, day.day, 5, 30, tzinfo=dt.timezone.utc) + dt.timedelta(
        minutes=rng.randint(0, 210))


def _insert_returning_ids(model, rows: list[dict]) -> list[int]:
    """One multi-row INSERT ... RETURNING per thousand rows, on the table itself (keys are column names).

    The ORM's bulk insert splits rows into groups by which values are None and splices the RETURNING
    results group by group, which grows quadratically here; the table insert does not.
    """
    if not rows:
        return []
    statement = insert(model.__table__).returning(model.__table__.c.id, sort_by_parameter_order=True)
    return list(db.session.scalars(statement, rows))


def add_history(farms: list[Farm], traders: list[User], *, now: dt.datetime | None = None, months: int = 12,
                lots_per_farm_week: float = 1.4, seed: int = SEED) -> dict:
    """Past lots (closed) and their reservations, every final state, over the last `months` months."""
    rng = random.Random(seed)
    now = now or utcnow()
    start = (now - dt.timedelta(days=30.44 * months)).date()
    last_day = (now - dt.timedelta(days=7)).date()  # the last week belongs to the current lots
    kinds_of = {name: kinds for _, _, name, kinds in data.FARMS}
    endings, weights = zip(*ENDINGS)
    # Traders buy near their base: each farm's buyers are the traders within 70 km, nearer ones more often.
    buyers = {}
    for farm in farms:
        near = [(t, distance_km(farm.lat, farm.lon, t.base_lat, t.base_lon)) for t in traders]
        near = [(t, d) for t, d in near if d <= 70] or sorted(near, key=lambda td: td[1])[:3]
        buyers[farm.id] = ([t for t, _ in near], [1 / (5 + d) for _, d in near], dict((t.id, d) for t, d in near))

    lot_rows, plans = [], []
    day = start
    while day <= last_day:
        for farm in farms:
            # Each farm posts on about lots_per_farm_week days a week, more in the months of plenty.
            choices = _products_for(kinds_of.get(farm.name, ("legumes",)), day.month)
            if not choices or rng.random() > lots_per_farm_week / 7:
                continue
            kind, plenty, (product, category, unit, low, high, qty_low, qty_high, labels) = rng.choice(choices)
            posted_at = _at_morning(day, rng)
            until = posted_at + dt.timedelta(hours=rng.choice([30, 44, 68, 92, 140]))
            quantity = Decimal(rng.randint(qty_low, qty_high))
            min_order = Decimal(max(1, qty_low // 10)) if rng.random() < 0.3 else None
            withdrawn = rng.random() < 0.04
            lot_rows.append({
                "farm_id": farm.id, "product": product, "category": category, "unit": unit,
                "quantity_offered": quantity, "quantity_available": quantity,
                "price_cents": _price(rng, low, high, plenty),
                "min_order": min_order, "available_from": posted_at, "available_until": until,
                "labels": ("," + ",".join(sorted(labels)) + ",") if labels else "",
                "status": "withdrawn" if withdrawn else "expired", "lat": farm.lat, "lon": farm.lon,
                "created_at": posted_at, "updated_at": until})
            plans.append((farm, plenty, withdrawn))
        day += dt.timedelta(days=1)

    lot_ids = _insert_returning_ids(Lot, lot_rows)

    reservation_rows, steps, movements = [], [], []
    for lot_id, row, (farm, plenty, withdrawn) in zip(lot_ids, lot_rows, plans):
        movements.append({"lot_id": lot_id, "user_id": farm.owner_id, "delta_offered": row["quantity_offered"],
                          "delta_available": row["quantity_offered"], "reason": "posted",
                          "created_at": row["created_at"], "reservation_id": None})
        left = row["quantity_offered"]
        people, weights_near, distance_of = buyers[farm.id]
        sold = Decimal(0)
        for _ in range(rng.choices((0, 1, 2, 3, 4, 5), (8, 22, 28, 22, 13, 7))[0]):
            smallest = row["min_order"] or Decimal(1)
            if left < smallest:
                break
            share = Decimal(rng.choice((0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)))
            quantity = min(left, max(smallest, (row["quantity_offered"] * share).quantize(Decimal(1))))
            left -= quantity  # conservative: stock given back is not sold again, so holds never overlap short
            trader = rng.choices(people, weights_near)[0]
            window = row["available_until"] - row["available_from"]
            created = row["available_from"] + window * rng.uniform(0.02, 0.6)
            window_of_lot = {"window_start": row["available_from"], "window_end": row["available_until"]}
            # A pickup time in the farm's hours when the lot's window has one; otherwise "any time before the end".
            pickup = (next_pickup(created + dt.timedelta(hours=rng.uniform(2, 30)), farm.pickup_hours, **window_of_lot)
                      or next_pickup(created, farm.pickup_hours, **window_of_lot))
            come_by = pickup or created + (row["available_until"] - created) * rng.uniform(0.2, 0.9)
            ending = rng.choices(endings, weights)[0]
            confirmed_at = created + dt.timedelta(minutes=rng.randint(2, 25))
            path = [(None, "pending", trader.id, created)]
            if ending == "expired":
                path.append(("pending", "expired", None, created + HOLD))
            elif ending == "declined":
                path.append(("pending", "declined", farm.owner_id, confirmed_at))
            elif ending == "cancelled" and rng.random() < 0.5:
                path.append(("pending", "cancelled", trader.id, created + dt.timedelta(minutes=rng.randint(1, 25))))
            else:
                path.append(("pending", "confirmed", farm.owner_id, confirmed_at))
                if ending == "collected":
                    path.append(("confirmed", "collected", farm.owner_id,
                                 come_by + dt.timedelta(minutes=rng.randint(0, 50))))
                elif ending == "no_show":
                    deadline = pickup_deadline(pickup, farm.pickup_hours, row["available_until"])
                    path.append(("confirmed", "no_show", None, deadline + NO_SHOW_GRACE))
                else:
                    latest = max(come_by, confirmed_at + dt.timedelta(minutes=10))
                    path.append(("confirmed", "cancelled", trader.id,
                                 confirmed_at + (latest - confirmed_at) * rng.uniform(0.1, 0.8)))
            closed = path[-1][3]
            if ending == "collected":
                sold += quantity
            reservation_rows.append({
                "lot_id": lot_id, "trader_id": trader.id, "quantity": quantity, "price_cents": row["price_cents"],
                "status": ending, "pickup_code": _code(rng), "pickup_at": pickup, "idempotency_key": None,
                "distance_km": round(distance_of[trader.id], 2), "hold_expires_at": min(created + HOLD,
                                                                                        row["available_until"]),
                "created_at": created, "updated_at": closed, "closed_at": closed, "collect_failures": 0,
                "collect_locked_until": None})
            steps.append((path, lot_id, quantity, ending))
        row["quantity_available"] = row["quantity_offered"] - sold

    # The lots' remaining stock is known only now: set it before anything else reads the lots.
    db.session.execute(Lot.__table__.update().where(Lot.id == bindparam("lot_id")).values(
        quantity_available=bindparam("available")),
        [{"lot_id": lot_id, "available": row["quantity_available"]} for lot_id, row in zip(lot_ids, lot_rows)
         if row["quantity_available"] != row["quantity_offered"]])
    reservation_ids = _insert_returning_ids(Reservation, reservation_rows)
    transitions = []
    for reservation_id, (path, lot_id, quantity, ending) in zip(reservation_ids, steps):
        transitions += [{"reservation_id": reservation_id, "from_status": a, "to_status": b, "actor_id": who, "at": at}
                        for a, b, who, at in path]
        movements.append({"lot_id": lot_id, "user_id": path[0][2], "reservation_id": reservation_id,
                          "delta_offered": Decimal(0), "delta_available": -quantity, "reason": "reserved",
                          "created_at": path[0][3]})
        if ending != "collected":
            movements.append({"lot_id": lot_id, "user_id": path[-1][2], "reservation_id": reservation_id,
                              "delta_offered": Decimal(0), "delta_available": quantity, "reason": f"hold_{ending}",
                              "created_at": path[-1][3]})
    if transitions:
        db.session.execute(insert(ReservationTransition.__table__), transitions)
    db.session.execute(insert(StockMovement.__table__), movements)
    # Written in bulk, not by the services: the report rollup is recomputed as the migration's backfill does.
    rollup.rebuild()
    db.session.commit()
    return {"lots": len(lot_ids), "reservations": len(reservation_ids),
            "by_status": dict(sorted(Counter(r["status"] for r in reservation_rows).items()))}
