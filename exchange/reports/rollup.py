"""The report rollup: each lot's reservations already summed, and who reserved on it, kept exact as they change.

The summary would otherwise read every reservation of the period (a million for two years of a busy
region), join it to its lot and sum fourteen figures. Two tables hold what it needs instead:

- `report_lot_totals`, one row per lot that has reservations: how many are in each state, the
  quantities still taken and collected, the value collected and the trips (count, metres, quantity);
- `report_lot_traders`, one row per (lot, trader who reserved on it), with the lot's report keys
  copied (posting instant, Paris month, department, commune, category, product), so that distinct
  traders per group are counted without reading a lot.

The reservation services call `reserved` (on PostgreSQL, `counted_after`: the same upserts inside the
statement that takes the stock) and `moved` in the transaction that creates or moves a reservation:
rows are locked lot, reservations, then rollup, then the feed counter. Everything is an integer (thousandths, millicents, metres), so the rollup is
exact and `differences()` can compare it with the reservations row for row (`flask check-integrity`).
`rebuild()` recomputes both tables from the reservations with the same SQL: the migration's backfill,
the demo seed and the benchmark's loader use it.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (BigInteger, Integer, and_, bindparam, case, cast, delete, except_, exists, func, literal,
                        select, type_coerce, update)
from sqlalchemy.dialects import postgresql, sqlite

from exchange.extensions import db
from exchange.models import Farm, Lot, Reservation
from exchange.models.reports import ReportLotTotals, ReportLotTrader
from exchange.models.reservations import HOLDING_STATUSES, ReservationStatus
from exchange.models.types import QUANTITY_SCALE
from exchange.reports.dimensions import paris_month, product_key

TOTALS = ReportLotTotals.__table__
TRADERS = ReportLotTrader.__table__
STATES = tuple(status.value for status in ReservationStatus)
KEYS = ("posted_at", "month", "department", "commune", "category", "product")


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _insert(table, dialect: str):
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def metres(distance_km: float) -> int:
    return int(round(distance_km * 1000))


# --- kept by the reservation services ------------------------------------------------------------

def _share(reservation: Reservation, status: str) -> dict[str, int | Decimal]:
    """What one reservation in `status` adds to its lot's totals."""
    quantity = reservation.quantity
    share: dict[str, int | Decimal] = {status: 1}
    if status in HOLDING_STATUSES:
        share["quantity_reserved"] = quantity
    if status == ReservationStatus.collected.value:
        share["quantity_collected"] = quantity
        share["value_millicents"] = int(quantity * QUANTITY_SCALE) * reservation.price_cents
        if reservation.distance_km is not None:
            share |= {"trips": 1, "distance_m": metres(reservation.distance_km), "quantity_travelled": quantity}
    return share


def reserved(reservation: Reservation) -> None:
    """A new reservation: its lot's totals count it, and its trader is among the lot's traders."""
    share = _share(reservation, reservation.status)
    totals, pair = _reserved_statements(_dialect(), tuple(share))
    db.session.execute(totals, {"lot_id": reservation.lot_id, **share})
    db.session.execute(pair, {"lot_id": reservation.lot_id, "trader_id": reservation.trader_id})


_RESERVED: dict[tuple, tuple] = {}


def _reserved_statements(dialect: str, names: tuple[str, ...]) -> tuple:
    """The two upserts of `reserved`, built once per database and set of columns (they run on every reservation:
    building them each time cost more CPU than executing them). Values come as parameters, typed by the columns."""
    key = (dialect, names)
    if key not in _RESERVED:
        totals = _insert(TOTALS, dialect)
        totals = totals.on_conflict_do_update(
            index_elements=[TOTALS.c.lot_id], set_={name: TOTALS.c[name] + totals.excluded[name] for name in names})
        pair = _insert(TRADERS, dialect).from_select(
            ["lot_id", "trader_id", "reservations", *KEYS],
            _keyed(select(Lot.id, bindparam("trader_id", type_=Integer), literal(1)), dialect)
            .where(Lot.id == bindparam("lot_id")))
        pair = pair.on_conflict_do_update(
            index_elements=[TRADERS.c.lot_id, TRADERS.c.trader_id], set_={"reservations": TRADERS.c.reservations + 1})
        _RESERVED[key] = (totals, pair)
    return _RESERVED[key]


def share(reservation: Reservation) -> dict[str, int | Decimal]:
    """What the reservation, in its present status, adds to its lot's totals: the parameters of `counted_after`."""
    return _share(reservation, reservation.status)


def counted_after(taken, names: tuple[str, ...]) -> tuple:
    """`reserved`'s two upserts as PostgreSQL CTEs that write only when the CTE `taken` (the statement taking the
    lot's stock) has a row: they then run in that statement, after its update has locked the lot, as the lock
    order requires (one round trip instead of three). Parameters: `lot_id`, `trader_id`, and `share`'s `names`."""
    columns = [bindparam(name, type_=TOTALS.c[name].type) for name in names]
    totals = postgresql.insert(TOTALS).from_select(
        ["lot_id", *names], select(bindparam("lot_id", type_=Integer), *columns).select_from(taken),
        include_defaults=False)  # the other columns take their server default, 0
    totals = totals.on_conflict_do_update(
        index_elements=[TOTALS.c.lot_id], set_={name: TOTALS.c[name] + totals.excluded[name] for name in names})
    pair = postgresql.insert(TRADERS).from_select(
        ["lot_id", "trader_id", "reservations", *KEYS],
        _keyed(select(Lot.id, bindparam("trader_id", type_=Integer), bindparam("one", 1)), "postgresql")
        .where(Lot.id == bindparam("lot_id"), exists(select(Lot.id).select_from(taken))))
    pair = pair.on_conflict_do_update(index_elements=[TRADERS.c.lot_id, TRADERS.c.trader_id],
                                      set_={"reservations": TRADERS.c.reservations + bindparam("one", 1)})
    return totals.cte("counted_totals"), pair.cte("counted_pair")


def moved(reservation: Reservation, seen: str) -> None:
    """A reservation went from `seen` to its present status: its lot's totals move with it."""
    before, after = _share(reservation, seen), _share(reservation, reservation.status)
    # One bound value per column: `column + delta` binds it through the column's type (Quantity: thousandths).
    deltas = {name: after.get(name, 0) - before.get(name, 0) for name in before.keys() | after.keys()}
    changes = {name: TOTALS.c[name] + delta for name, delta in deltas.items() if delta}
    db.session.execute(update(TOTALS).where(TOTALS.c.lot_id == reservation.lot_id).values(changes))


def relabel(*, lot_id: int | None = None, farm_id: int | None = None) -> None:
    """A lot's product or category changed, or a farm moved: its pairs take the keys the summary now computes."""
    db.session.flush()
    dialect = _dialect()
    lots = select(Lot.id).where(Lot.id == lot_id if lot_id is not None else Lot.farm_id == farm_id)

    def now(expression):
        return _keyed(select(expression), dialect, only=()).where(Lot.id == TRADERS.c.lot_id).scalar_subquery()

    keys = _key_columns(dialect)
    db.session.execute(update(TRADERS).where(TRADERS.c.lot_id.in_(lots))
                       .values({name: now(keys[name]) for name in ("department", "commune", "category", "product")}))


# --- recomputed from the reservations ------------------------------------------------------------

def _key_columns(dialect: str) -> dict:
    return {"posted_at": Lot.created_at, "month": paris_month(Lot.created_at, dialect),
            "department": Farm.department, "commune": Farm.insee, "category": Lot.category,
            "product": product_key(dialect)}


def _keyed(stmt, dialect: str, only=KEYS):
    """`stmt` with the lot's report keys added (those named in `only`), reading the lot and its farm."""
    keys = _key_columns(dialect)
    return stmt.add_columns(*[keys[name].label(name) for name in only]).select_from(Lot).join(Farm,
                                                                                              Farm.id == Lot.farm_id)


def expected_totals():
    """Every lot's totals, summed from its reservations (same columns as report_lot_totals)."""
    r = Reservation
    quantity = type_coerce(r.quantity, BigInteger)
    collected = r.status == ReservationStatus.collected.value
    travelled = and_(collected, r.distance_km.is_not(None))

    def total(condition, value=1):
        return func.sum(case((condition, value), else_=0))

    figures = {state: total(r.status == state) for state in STATES} | {
        "quantity_reserved": total(r.status.in_(HOLDING_STATUSES), quantity),
        "quantity_collected": total(collected, quantity),
        "value_millicents": total(collected, quantity * r.price_cents),
        "trips": total(travelled),
        "distance_m": total(travelled, cast(func.round(r.distance_km * 1000), BigInteger)),
        "quantity_travelled": total(travelled, quantity),
    }
    return select(r.lot_id.label("lot_id"), *[figures[c.name].label(c.name) for c in TOTALS.c if c.name != "lot_id"]
                  ).group_by(r.lot_id)


def expected_traders(dialect: str):
    """Every (lot, trader) pair of the reservations, with the lot's keys (same columns as report_lot_traders)."""
    pairs = (select(Reservation.lot_id, Reservation.trader_id, func.count().label("reservations"))
             .group_by(Reservation.lot_id, Reservation.trader_id).subquery())
    return _keyed(select(pairs.c.lot_id, pairs.c.trader_id, pairs.c.reservations), dialect).where(
        Lot.id == pairs.c.lot_id)


def rebuild(connection=None) -> dict[str, int]:
    """Both tables recomputed from the reservations, in the caller's transaction (the session's, or
    `connection`: the migration's); answers the rows written."""
    executor = connection if connection is not None else db.session
    dialect = connection.dialect.name if connection is not None else _dialect()
    executor.execute(delete(TOTALS))
    executor.execute(delete(TRADERS))
    executor.execute(TOTALS.insert().from_select([c.name for c in TOTALS.c], expected_totals()))
    executor.execute(TRADERS.insert().from_select([c.name for c in TRADERS.c], expected_traders(dialect)))
    return {"lots": executor.execute(select(func.count()).select_from(TOTALS)).scalar_one(),
            "pairs": executor.execute(select(func.count()).select_from(TRADERS)).scalar_one()}


def differences(limit: int = 20) -> list[str]:
    """How the stored rollup differs from the reservations, one line per lot (at most `limit`); empty when equal."""
    dialect = _dialect()
    found = []
    for name, table, expected in (("totals", TOTALS, expected_totals()),
                                  ("traders", TRADERS, expected_traders(dialect))):
        stored, computed = select(table).subquery(), expected.subquery()
        columns = [c.name for c in table.c]

        def rows(a, b):
            return except_(select(*[a.c[n] for n in columns]), select(*[b.c[n] for n in columns])).subquery()

        for label, subset in (("missing or wrong", rows(computed, stored)), ("stale or extra", rows(stored, computed))):
            lots = db.session.scalars(select(subset.c.lot_id).distinct().order_by(subset.c.lot_id).limit(limit))
            found += [f"lot {lot_id}: rollup {name} {label}" for lot_id in lots]
    return found[:limit]
