"""The report rollup: each lot's reservations already summed, and who reserved on it, kept exact as they change.

The summary would otherwise read every reservation of the period (a million for two years of a busy
region), join it to its lot and sum fourteen figures. Four tables hold what it needs instead:

- `report_lot_totals`, one row per lot that has reservations: how many are in each state, the
  quantities still taken and collected, the value collected and the trips (count, metres, quantity),
  with the lot's report keys and unit copied, so that the sums are grouped without reading a lot;
- `report_lot_traders`, one row per (lot, trader who reserved on it), with the lot's report keys
  copied (posting instant, Paris month, department, commune, category, product), so that distinct
  traders per group are counted without reading a lot;
- `report_month_traders`, one row per (Paris month, department, trader), counting that trader's
  reservations on the lots posted there that month: the distinct traders of the department and month
  groupings, from a fifth of the pairs' rows;
- `report_month_producers`, one row per (Paris month, department, unit, producer): the lots they
  posted and the quantity those offer, so that the same groupings count producers and sum what was
  offered without grouping every lot. The lot services keep it (`posted`, `offered`).

The reservation services call `reserved` (on PostgreSQL, `counted_after`: the same upserts inside the
statement that takes the stock) and `moved` in the transaction that creates or moves a reservation:
rows are locked lot, reservations, then rollup, then the feed counter. The lot services call `posted`
and `offered`. Everything is an integer (thousandths, millicents, metres), so the rollup is exact and
`differences()` can compare it with the reservations and lots row for row (`flask check-integrity`).
`rebuild()` recomputes every table with the same SQL: the migration's backfill, the demo seed and the
benchmark's loader use it.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (BigInteger, Integer, and_, bindparam, case, cast, delete, except_, exists, func, literal,
                        select, type_coerce, update)
from sqlalchemy.dialects import postgresql, sqlite

from exchange.extensions import db
from exchange.models import Farm, Lot, Reservation
from exchange.models.reports import ReportLotTotals, ReportLotTrader, ReportMonthProducer, ReportMonthTrader
from exchange.models.reservations import HOLDING_STATUSES, ReservationStatus
from exchange.models.types import QUANTITY_SCALE, Quantity
from exchange.reports.dimensions import paris_month, product_key

TOTALS = ReportLotTotals.__table__
TRADERS = ReportLotTrader.__table__
MONTHS = ReportMonthTrader.__table__
PRODUCERS = ReportMonthProducer.__table__
STATES = tuple(status.value for status in ReservationStatus)
KEYS = ("posted_at", "month", "department", "commune", "category", "product")
SUMMED = tuple(c.name for c in TOTALS.c if c.name not in {"lot_id", *KEYS, "unit"})  # what the totals sum


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
    """A new reservation: its lot's totals count it, its trader is among the lot's traders and among
    the traders of the lot's month and department."""
    dialect = _dialect()
    share = _share(reservation, reservation.status)
    params = {"lot_id": reservation.lot_id, "trader_id": reservation.trader_id, **share}
    totals, pair, month = _reserved_statements(dialect, tuple(share))
    db.session.execute(totals, params)
    if month is None:  # PostgreSQL: the pair's upsert feeds the month's in the same statement
        db.session.execute(pair, params)
        return
    keys = db.session.execute(pair, params).one()
    db.session.execute(month, {"month": keys.month, "department": keys.department, "trader_id": keys.trader_id})


_RESERVED: dict[tuple, tuple] = {}


def _reserved_statements(dialect: str, names: tuple[str, ...]) -> tuple:
    """The upserts of `reserved`, built once per database and set of columns (they run on every reservation:
    building them each time cost more CPU than executing them). Values come as parameters, typed by the columns.

    Answers (totals, pair, month): the lot's totals, taking the lot's keys when first inserted; the (lot, trader)
    pair, returning its keys; the (month, department, trader) row, from those keys. On PostgreSQL the pair is a
    data-modifying CTE of the month's statement, which comes as `pair`, and `month` is None.
    """
    key = (dialect, names)
    if key not in _RESERVED:
        totals, pair = _totals_upsert(dialect, names), _pair_upsert(dialect)
        if dialect == "postgresql":
            _RESERVED[key] = (totals, _month_upsert_from(pair.cte("pair")), None)
        else:
            month = _insert(MONTHS, dialect).values(month=bindparam("month"), department=bindparam("department"),
                                                    trader_id=bindparam("trader_id"), reservations=1)
            _RESERVED[key] = (totals, pair, _month_upsert(month))
    return _RESERVED[key]


def _totals_upsert(dialect: str, names: tuple[str, ...], *where):
    """Add a reservation's share (`names`, as parameters) to its lot's totals, taking the lot's keys if first."""
    figures = [bindparam(name, type_=TOTALS.c[name].type) for name in names]  # Quantity: in thousandths
    totals = _insert(TOTALS, dialect).from_select(
        ["lot_id", *KEYS, "unit", *names],
        _keyed(select(Lot.id), dialect).add_columns(Lot.unit, *figures).where(Lot.id == bindparam("lot_id"), *where),
        include_defaults=False)  # the other columns take their server default, 0 (a CTE gets no Python defaults)
    return totals.on_conflict_do_update(
        index_elements=[TOTALS.c.lot_id], set_={name: TOTALS.c[name] + totals.excluded[name] for name in names})


def _pair_upsert(dialect: str, *where):
    """Count a reservation in its (lot, trader) pair, made with the lot's keys if first; returns the pair's keys."""
    pair = _insert(TRADERS, dialect).from_select(
        ["lot_id", "trader_id", "reservations", *KEYS],
        _keyed(select(Lot.id, bindparam("trader_id", type_=Integer), literal(1)), dialect)
        .where(Lot.id == bindparam("lot_id"), *where))
    return pair.on_conflict_do_update(
        index_elements=[TRADERS.c.lot_id, TRADERS.c.trader_id], set_={"reservations": TRADERS.c.reservations + 1}
    ).returning(TRADERS.c.month, TRADERS.c.department, TRADERS.c.trader_id)


def _month_upsert(month):
    """`month` (an insert of one (month, department, trader) row) counting one more reservation if the row is there."""
    return month.on_conflict_do_update(index_elements=[MONTHS.c.month, MONTHS.c.department, MONTHS.c.trader_id],
                                       set_={"reservations": MONTHS.c.reservations + 1})


def _month_upsert_from(pair):
    """PostgreSQL: the month row's upsert from the keys the pair's upsert (a CTE) returned."""
    return _month_upsert(postgresql.insert(MONTHS).from_select(
        ["month", "department", "trader_id", "reservations"],
        select(pair.c.month, pair.c.department, pair.c.trader_id, literal(1))))


def share(reservation: Reservation) -> dict[str, int | Decimal]:
    """What the reservation, in its present status, adds to its lot's totals: the parameters of `counted_after`."""
    return _share(reservation, reservation.status)


def counted_after(taken, names: tuple[str, ...]) -> tuple:
    """`reserved`'s upserts as PostgreSQL CTEs that write only when the CTE `taken` (the statement taking the
    lot's stock) has a row: they then run in that statement, after its update has locked the lot, as the lock
    order requires (one round trip instead of three). Parameters: `lot_id`, `trader_id`, and `share`'s `names`.
    Keys are read from the lot and its farm as the statement found them (the update only takes stock).
    """
    took = exists(select(literal(1)).select_from(taken))
    pair = _pair_upsert("postgresql", took).cte("counted_pair")
    return (_totals_upsert("postgresql", names, took).cte("counted_totals"), pair,
            _month_upsert_from(pair).cte("counted_month"))


def posted(lot_id: int, quantity: Decimal) -> None:
    """A new lot: its producer's (month, department, unit) row counts it and what it offers."""
    db.session.execute(_offered_statement(_dialect()), {"lot_id": lot_id, "lots": 1, "offered": quantity})


def offered(lot_id: int, delta: Decimal) -> None:
    """A lot's quantity offered changed by `delta` (the producer's stock edits)."""
    if delta:
        db.session.execute(_offered_statement(_dialect()), {"lot_id": lot_id, "lots": 0, "offered": delta})


_OFFERED: dict[str, object] = {}


def _offered_statement(dialect: str):
    """An upsert of the lot's (month, department, unit, producer) row adding `lots` and `offered`, built once."""
    if dialect not in _OFFERED:
        keys = _key_columns(dialect)
        rows = select(keys["month"], keys["department"], Lot.unit, Farm.owner_id, bindparam("lots", type_=Integer),
                      bindparam("offered", type_=Quantity())).select_from(Lot).join(Farm, Farm.id == Lot.farm_id)
        stmt = _insert(PRODUCERS, dialect).from_select([c.name for c in PRODUCERS.c],
                                                        rows.where(Lot.id == bindparam("lot_id")))
        _OFFERED[dialect] = stmt.on_conflict_do_update(
            index_elements=list(PRODUCERS.primary_key),
            set_={"lots": PRODUCERS.c.lots + stmt.excluded.lots, "offered": PRODUCERS.c.offered + stmt.excluded.offered})
    return _OFFERED[dialect]


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

    keys = _key_columns(dialect)
    for table in (TOTALS, TRADERS):
        def now(name, table=table):
            return _keyed(select(keys[name]), dialect, only=()).where(Lot.id == table.c.lot_id).scalar_subquery()

        db.session.execute(update(table).where(table.c.lot_id.in_(lots))
                           .values({name: now(name) for name in ("department", "commune", "category", "product")}))
    if farm_id is not None:  # the farm may have changed department: its traders' and producer's months again
        traders = select(TRADERS.c.trader_id).where(TRADERS.c.lot_id.in_(lots)).distinct()
        db.session.execute(delete(MONTHS).where(MONTHS.c.trader_id.in_(traders)))
        db.session.execute(MONTHS.insert().from_select(
            [c.name for c in MONTHS.c], _months_of(select(TRADERS).where(TRADERS.c.trader_id.in_(traders)).subquery())))
        owner = select(Farm.owner_id).where(Farm.id == farm_id).scalar_subquery()
        db.session.execute(delete(PRODUCERS).where(PRODUCERS.c.producer_id == owner))
        db.session.execute(PRODUCERS.insert().from_select(
            [c.name for c in PRODUCERS.c], expected_producers(dialect).where(Farm.owner_id == owner)))


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


def expected_totals(dialect: str):
    """Every lot's totals, summed from its reservations, with its keys (same columns as report_lot_totals)."""
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
    sums = select(r.lot_id.label("lot_id"), *[figures[name].label(name) for name in SUMMED]).group_by(r.lot_id)
    sums = sums.subquery()
    keyed = _keyed(select(sums), dialect).add_columns(Lot.unit.label("unit")).where(Lot.id == sums.c.lot_id).subquery()
    return select(*[keyed.c[c.name] for c in TOTALS.c])


def expected_traders(dialect: str):
    """Every (lot, trader) pair of the reservations, with the lot's keys (same columns as report_lot_traders)."""
    pairs = (select(Reservation.lot_id, Reservation.trader_id, func.count().label("reservations"))
             .group_by(Reservation.lot_id, Reservation.trader_id).subquery())
    return _keyed(select(pairs.c.lot_id, pairs.c.trader_id, pairs.c.reservations), dialect).where(
        Lot.id == pairs.c.lot_id)


def _months_of(pairs):
    """(lot, trader) pairs summed per (month, department, trader): the rows of report_month_traders."""
    return (select(pairs.c.month, pairs.c.department, pairs.c.trader_id,
                   func.sum(pairs.c.reservations).label("reservations"))
            .group_by(pairs.c.month, pairs.c.department, pairs.c.trader_id))


def expected_months(dialect: str):
    """Every (month, department, trader) of the reservations, with their count (columns of report_month_traders)."""
    return _months_of(expected_traders(dialect).subquery())


def expected_producers(dialect: str):
    """Every (month, department, unit, producer) of the lots, with their lots and quantity offered (columns of
    report_month_producers)."""
    keys = _key_columns(dialect)
    groups = [keys["month"], keys["department"], Lot.unit, Farm.owner_id]
    return (select(keys["month"].label("month"), keys["department"].label("department"), Lot.unit.label("unit"),
                   Farm.owner_id.label("producer_id"), func.count().label("lots"),
                   type_coerce(func.sum(type_coerce(Lot.quantity_offered, BigInteger)), Quantity()).label("offered"))
            .select_from(Lot).join(Farm, Farm.id == Lot.farm_id).group_by(*groups))


def rebuild(connection=None) -> dict[str, int]:
    """Every rollup table recomputed from the reservations, in the caller's transaction (the session's,
    or `connection`: a migration's); answers the rows written."""
    return rebuild_lots(connection) | rebuild_months(connection)


def _executor(connection):
    return (connection, connection.dialect.name) if connection is not None else (db.session, _dialect())


def rebuild_lots(connection=None) -> dict[str, int]:
    """The per-lot tables (migration 0008's backfill)."""
    executor, dialect = _executor(connection)
    executor.execute(delete(TOTALS))
    executor.execute(delete(TRADERS))
    executor.execute(TOTALS.insert().from_select([c.name for c in TOTALS.c], expected_totals(dialect)))
    executor.execute(TRADERS.insert().from_select([c.name for c in TRADERS.c], expected_traders(dialect)))
    return {"lots": executor.execute(select(func.count()).select_from(TOTALS)).scalar_one(),
            "pairs": executor.execute(select(func.count()).select_from(TRADERS)).scalar_one()}


def rebuild_months(connection=None) -> dict[str, int]:
    """The month tables: traders from the pairs, producers from the lots (migration 0010's backfill)."""
    executor, dialect = _executor(connection)
    executor.execute(delete(MONTHS))
    executor.execute(MONTHS.insert().from_select([c.name for c in MONTHS.c], _months_of(TRADERS)))
    executor.execute(delete(PRODUCERS))
    executor.execute(PRODUCERS.insert().from_select([c.name for c in PRODUCERS.c], expected_producers(dialect)))
    return {"month_traders": executor.execute(select(func.count()).select_from(MONTHS)).scalar_one(),
            "month_producers": executor.execute(select(func.count()).select_from(PRODUCERS)).scalar_one()}


def differences(limit: int = 20) -> list[str]:
    """How the stored rollup differs from the reservations, one line per lot or month (at most `limit`);
    empty when equal."""
    dialect = _dialect()
    found = []
    for name, table, expected, where in (
            ("totals", TOTALS, expected_totals(dialect), lambda row: f"lot {row.lot_id}"),
            ("traders", TRADERS, expected_traders(dialect), lambda row: f"lot {row.lot_id}"),
            ("month traders", MONTHS, expected_months(dialect),
             lambda row: f"month {row.month}, department {row.department}, trader {row.trader_id}"),
            ("month producers", PRODUCERS, expected_producers(dialect),
             lambda row: f"month {row.month}, department {row.department}, {row.unit}, producer {row.producer_id}")):
        stored, computed = select(table).subquery(), expected.subquery()
        columns = [c.name for c in table.c]
        keys = [c.name for c in table.primary_key]

        def rows(a, b):
            return except_(select(*[a.c[n] for n in columns]), select(*[b.c[n] for n in columns])).subquery()

        for label, subset in (("missing or wrong", rows(computed, stored)), ("stale or extra", rows(stored, computed))):
            first = select(*[subset.c[n] for n in keys]).distinct().order_by(*[subset.c[n] for n in keys]).limit(limit)
            found += list(dict.fromkeys(f"{where(row)}: rollup {name} {label}" for row in db.session.execute(first)))
    return found[:limit]
