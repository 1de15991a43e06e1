"""The territorial summary: lots, volumes, value, activity, outcomes and distances, aggregated in the database.

Everything that happens to a lot belongs to the day it was posted (Europe/Paris): a lot posted on
31 March and collected on 2 April counts in March. So sell-through is a true share of what was
offered, and a month, once settled, does not change.

One SQL statement does the work, whatever the grouping (see `_statement`): its branches read the
lots in scope with their keys computed once, their reservations' totals and the (lot, trader) pairs
from the report rollup (rollup.py), never a reservation; for the department and month groupings, the
whole months of the period come from the rollup's month tables (`group_traders`, `producer_cells`).
They answer every level the report shows (cell = keys × unit, group, unit, total), distinct producers
and traders exact at each. Python only assembles the few hundred resulting cells and masks them
(masking.py).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import current_app
from sqlalchemy import (BigInteger, Column, Index, Integer, MetaData, String, Table, cast, func, literal, null, select,
                        text, type_coerce, union_all)

from exchange.extensions import db
from exchange.models import UNITS, Farm, Lot
from exchange.models.types import QUANTITY_SCALE
from exchange.reports.dimensions import DIMENSIONS, LABELS, key_columns
from exchange.reports.masking import protect
from exchange.reports.periods import Period
from exchange.reports.rollup import MONTHS, PRODUCERS, TOTALS, TRADERS
from exchange.reports.scope import Scope

STATES = ("collected", "declined", "cancelled", "expired", "no_show", "pending", "confirmed")
FINAL_STATES = STATES[:5]
MAX_DIMENSIONS = 2


def thousandths(column):
    """A Quantity column as the integer it is stored as: SQL sums stay exact, and we scale once."""
    return type_coerce(column, BigInteger)


def scoped(stmt, scope: Scope):
    """Lots posted within the period, on farms of the territory."""
    stmt = stmt.where(Lot.created_at >= scope.period.start, Lot.created_at < scope.period.end)
    if scope.departments is not None:
        stmt = stmt.where(Farm.department.in_(scope.departments))
    return stmt


def tune_postgresql() -> None:
    """For this transaction only: room to hash a few hundred thousand lots without spilling to disk, and no JIT.

    The planner's cost estimate for the report crosses the JIT threshold, and compiling the
    expressions takes seconds, far more than the query itself.
    """
    db.session.execute(text("SET LOCAL work_mem = '64MB'"))
    db.session.execute(text("SET LOCAL jit = off"))


def dialect_name() -> str:
    return db.session.get_bind().dialect.name


# What the rollup sums per lot (rollup.py), under the names the statement gives them.
ROLLUP_SUMS = {"reserved": "quantity_reserved", "collected_q": "quantity_collected",
               "value_millicents": "value_millicents", "distance_m": "distance_m", "trips": "trips",
               "travelled_q": "quantity_travelled", **{state: state for state in STATES}}
SUMS = tuple(ROLLUP_SUMS)


def lots_in_scope_select(scope: Scope, dims: tuple[str, ...], dialect: str):
    """The lots in scope with their keys computed once: what the lot branches read."""
    keys = key_columns_for(dims, dialect, scope)
    stmt = select(Lot.id, *keys, Lot.unit, Farm.owner_id, thousandths(Lot.quantity_offered).label("offered"))
    return scoped(stmt.join(Farm, Farm.id == Lot.farm_id), scope)


def _totals_of(columns) -> list:
    return [thousandths(columns[column]).label(name) for name, column in ROLLUP_SUMS.items()]


# Groupings the month tables answer for whole months: traders everywhere, producers and offers on PostgreSQL.
MONTH_GRAIN = frozenset({"department", "month"})


def split_months(period: Period) -> tuple[list, list[Period]]:
    """The calendar months the period covers entirely, in order, and the part-months left at its ends
    (none, one or two periods; the whole period when it covers no month entirely)."""
    whole = [m for m in period.months() if m.start >= period.start and m.end <= period.end]
    if not whole:
        return [], [period]
    edges = [Period(period.first, whole[0].start_day - dt.timedelta(days=1)) if period.first < whole[0].start_day
             else None, Period(whole[-1].end_day, period.last) if whole[-1].end_day <= period.last else None]
    return whole, [edge for edge in edges if edge is not None]


def group_traders(scope: Scope, dims: tuple[str, ...]):
    """The distinct (group keys, trader) of everyone who reserved on the lots in scope: the source of every
    trader count.

    From the (lot, trader) pairs, by the keys copied onto them (no lot is read); for the department
    and month groupings, the whole months of the period come from report_month_traders instead (a
    fifth of the rows) and only the part-months at its ends from the pairs. With both keys in the
    grouping each month's rows are distinct already and months do not overlap, so the parts are
    only appended; otherwise the union is made distinct.
    """
    whole, edges = split_months(scope.period)

    def from_pairs(part: Period):
        pairs = TRADERS.c
        stmt = select(*[pairs[d] for d in dims], pairs.trader_id).where(pairs.posted_at >= part.start,
                                                                         pairs.posted_at < part.end)
        return stmt.where(pairs.department.in_(scope.departments)) if scope.departments is not None else stmt

    if not set(dims) <= MONTH_GRAIN or not whole:
        return from_pairs(scope.period).distinct().cte("group_traders")
    months = MONTHS.c
    parts = [select(*[months[d] for d in dims], months.trader_id).where(months.month >= whole[0].key,
                                                                          months.month <= whole[-1].key)]
    if scope.departments is not None:
        parts[0] = parts[0].where(months.department.in_(scope.departments))
    parts += [from_pairs(edge) for edge in edges]
    if set(dims) == MONTH_GRAIN:
        parts = [part if i == 0 else part.distinct() for i, part in enumerate(parts)]
        return (union_all(*parts) if len(parts) > 1 else parts[0]).cte("group_traders")
    rows = union_all(*parts).subquery("traders_in_scope")
    return select(*[rows.c[d] for d in dims], rows.c.trader_id).distinct().cte("group_traders")


def _statement(lots, distinct, dims: tuple[str, ...], dialect: str, scope: Scope):
    """Every level of the report in one statement (branches tagged by `level`).

    `lots` is, on PostgreSQL, a CTE of the (cell, producer) pairs in scope with their lots and quantity
    offered (the sums then come from the totals' own keys); on SQLite a temporary table of the lots in
    scope indexed by cell, so that every grouping over it, joined to the totals, streams in order
    instead of sorting. `distinct` is
    the distinct (group keys, trader) in scope (`group_traders`), the only source of traders. The engines want
    distinct counts in different shapes: PostgreSQL hashes (count(*) over a hashed SELECT DISTINCT),
    SQLite sorts (COUNT(DISTINCT) is its cheapest form).
    """
    lk = lots.c
    labels = [LABELS[d] for d in dims if d in LABELS]
    names = ["level", *dims, *labels, "unit", "people", "lots", "offered", *SUMS]
    texts = {"level", "unit", *dims, *labels}
    postgresql = dialect == "postgresql"

    def empty(name: str):
        """A typed NULL: PostgreSQL resolves UNION column types pairwise and would take bare NULLs for text."""
        return cast(null(), String if name in texts else BigInteger)

    def branch(level: str, source, group_by: list, **values):
        columns = [literal(level, String) if name == "level" else values.get(name, empty(name)) for name in names]
        stmt = select(*[column.label(name) for column, name in zip(columns, names)]).select_from(source)
        if not postgresql and (source is lots or source is with_totals) and group_by and group_by[0] is not lk.unit:
            stmt = stmt.with_hint(lots, f"INDEXED BY {SQLITE_KEYS_INDEX}", dialect_name="sqlite")
        return stmt.group_by(*group_by) if group_by else stmt

    def people(level: str, source, keys: dict, who):
        """Distinct producers or traders per combination of `keys` (none: overall)."""
        if postgresql:
            distinct = select(*[c.label(n) for n, c in keys.items()], who.label("who")).select_from(source).distinct()
            distinct = distinct.subquery()
            by = {n: distinct.c[n] for n in keys}
            return branch(level, distinct, list(by.values()), **by, people=func.count())
        return branch(level, source, list(keys.values()), **keys, people=func.count(func.distinct(who)))

    keys = {d: lk[d] for d in dims}
    cell = keys | {"unit": lk.unit}
    if postgresql:
        # `lots` holds one row per (cell, producer), with their lots and quantity offered: counting its rows per
        # cell gives the producers, and the coarser distinct counts start from it. The reservations' sums are
        # grouped from report_lot_totals alone, by the keys copied onto it.
        # PostgreSQL sums bigints as numeric: cast back, so that the driver hands over ints, not Decimals.
        per_cell = {"lots": func.sum(lk.lots), "offered": cast(func.sum(lk.offered), BigInteger),
                    "people": func.count()} | {n: func.min(lk[n]) for n in labels}
        t = TOTALS.c
        by = {d: t[d] for d in dims} | {"unit": t.unit}
        sums = branch("sums", TOTALS, list(by.values()), **by,
                      **{name: cast(func.sum(thousandths(t[column])), BigInteger)
                         for name, column in ROLLUP_SUMS.items()})
        sums = sums.where(t.posted_at >= scope.period.start, t.posted_at < scope.period.end)
        if scope.departments is not None:
            sums = sums.where(t.department.in_(scope.departments))
        lot_branches = [branch("lots", lots, list(cell.values()), **cell, **per_cell), sums]
    else:  # totals sought by lot id as the walk in cell order reaches each lot: the TEMP table stays narrow
        with_totals = lots.outerjoin(TOTALS, TOTALS.c.lot_id == lk.id)
        per_cell = ({"lots": func.count(), "offered": func.sum(lk.offered)} | {n: func.min(lk[n]) for n in labels}
                    | {column.name: func.sum(column) for column in _totals_of(TOTALS.c)})
        lot_branches = [branch("lots", with_totals, list(cell.values()), **cell, **per_cell,
                               people=func.count(func.distinct(lk.owner_id)))]
    # The distinct (group, trader) pairs, made once (hashed by PostgreSQL, an ephemeral index in SQLite, which
    # materializes a CTE read twice), give the distinct traders per group and overall: on SQLite too this beats
    # two COUNT(DISTINCT) passes over every pair in scope.
    trader_branches = [branch("traders_group", distinct, [distinct.c[d] for d in dims],
                              **{d: distinct.c[d] for d in dims}, people=func.count()),
                       people("traders_total", distinct, {}, distinct.c.trader_id)]
    return union_all(
        *lot_branches,
        people("producers_group", lots, keys, lk.owner_id),
        people("producers_unit", lots, {"unit": lk.unit}, lk.owner_id),
        people("producers_total", lots, {}, lk.owner_id),
        *trader_branches,
    )


SQLITE_KEYS_INDEX = "report_lots_in_scope_keys"


def _sqlite_lots_table(dims: tuple[str, ...]) -> Table:
    """A TEMP table for the lots in scope, indexed by cell so that every GROUP BY streams instead of sorting."""
    labels = [LABELS[d] for d in dims if d in LABELS]
    table = Table("report_lots_in_scope", MetaData(), Column("id", Integer, primary_key=True),
                  *[Column(name, String) for name in (*dims, *labels, "unit")], Column("owner_id", Integer),
                  Column("offered", BigInteger), prefixes=["TEMPORARY"])
    return table


def producer_cells(scope: Scope, dims: tuple[str, ...], dialect: str):
    """The lots in scope as one row per (cell, producer): how many lots and how much they offered.

    Grouped from the lots; for the department and month groupings, the whole months of the period are
    read from report_month_producers instead (rows already at that grain, no join) and only the
    part-months at its ends from the lots. With both keys in the grouping the parts share no month
    and are appended; otherwise they are summed again per (cell, producer).
    """
    def from_lots(part: Scope):
        lots = lots_in_scope_select(part, dims, dialect).subquery()
        keys = [lots.c[d] for d in dims] + [lots.c.unit, lots.c.owner_id]
        labels = [func.min(lots.c[LABELS[d]]).label(LABELS[d]) for d in dims if d in LABELS]
        return select(*keys, *labels, func.count().label("lots"), func.sum(lots.c.offered).label("offered")
                      ).group_by(*keys)

    whole, edges = split_months(scope.period)
    if not set(dims) <= MONTH_GRAIN or not whole:
        return from_lots(scope)
    p = PRODUCERS.c
    months = select(*[p[d] for d in dims], p.unit, p.producer_id.label("owner_id"), p.lots,
                    thousandths(p.offered).label("offered")).where(p.month >= whole[0].key, p.month <= whole[-1].key)
    if scope.departments is not None:
        months = months.where(p.department.in_(scope.departments))
    parts = [months] + [from_lots(Scope(edge, scope.departments)) for edge in edges]
    if len(parts) == 1:
        return months
    rows = union_all(*parts)
    if set(dims) == MONTH_GRAIN:
        return rows
    rows = rows.subquery("producer_rows")
    keys = [rows.c[d] for d in dims] + [rows.c.unit, rows.c.owner_id]
    return select(*keys, func.sum(rows.c.lots).label("lots"), func.sum(rows.c.offered).label("offered")).group_by(*keys)


def _report_rows(scope: Scope, dims: tuple[str, ...]) -> list:
    dialect = dialect_name()
    source = lots_in_scope_select(scope, dims, dialect)
    traders = group_traders(scope, dims)
    if dialect != "sqlite":
        if dialect == "postgresql":
            tune_postgresql()
        return db.session.execute(_statement(producer_cells(scope, dims, dialect).cte("lots_in_scope"), traders, dims,
                                             dialect, scope)).mappings().all()
    connection = db.session.connection()
    table = _sqlite_lots_table(dims)
    table.drop(connection, checkfirst=True)
    table.create(connection)
    try:
        connection.execute(table.insert().from_select([c.name for c in source.selected_columns], source))
        # Built once the rows are in: one sort, rather than 200,000 inserts at random places.
        Index(SQLITE_KEYS_INDEX, *[table.c[d] for d in dims], table.c.unit, table.c.owner_id).create(connection)
        return connection.execute(_statement(table, traders, dims, dialect, scope)).mappings().all()
    finally:
        table.drop(connection)


def key_columns_for(dims: tuple[str, ...], dialect: str, scope: Scope):
    return [column for d in dims for column in key_columns(d, dialect, scope.period)]


def summary(scope: Scope, group_by: tuple[str, ...] = ("category",), min_producers: int | None = None) -> dict:
    """Figures for a territory and period, one row per group, every cell of few producers masked."""
    dims = tuple(group_by)
    if not dims or len(dims) > MAX_DIMENSIONS or len(set(dims)) != len(dims) or set(dims) - set(DIMENSIONS):
        raise ValueError(f"bad grouping {group_by!r}")
    if min_producers is None:
        min_producers = current_app.config["REPORT_MIN_PRODUCERS"]
    rows = _report_rows(scope, dims)

    groups: dict[tuple, dict] = {}
    total = _new_group(())
    units_total: dict[str, dict] = {}

    def group_of(row) -> dict:
        key = tuple(row[d] for d in dims)
        if key not in groups:
            groups[key] = _new_group(key)
        return groups[key]

    def add_sums(row) -> None:
        group = group_of(row)
        cell = _cell_of(group, row["unit"])
        unit_total = units_total.setdefault(row["unit"], _new_cell())
        figures = {name: int(row[name] or 0) for name in SUMS}  # PostgreSQL sums integers as numeric
        figures["distance_km"] = figures.pop("distance_m") / 1000
        for target in (group, total):
            for name in ("value_millicents", "distance_km", "trips", *STATES):
                target[name] += figures[name]
        for target in (cell, unit_total):
            for name in ("reserved", "collected_q", "travelled_q", "distance_km"):
                target[name] += figures[name]

    for row in rows:
        level = row["level"]
        if level == "lots":
            group = group_of(row)
            group["labels"].update({LABELS[d]: row[LABELS[d]] for d in dims if d in LABELS})
            cell = _cell_of(group, row["unit"])
            cell.update(lots=int(row["lots"]), offered=int(row["offered"]))
            group["lots"] += int(row["lots"])
            total["lots"] += int(row["lots"])
            cell["producers"] = row["people"]
            if row["collected"] is not None:  # SQLite sums the totals in this branch
                add_sums(row)
        elif level == "sums":  # PostgreSQL: the totals grouped by their own keys
            add_sums(row)
        elif level == "producers_group":
            group_of(row)["producers"] = row["people"]
        elif level == "producers_unit":
            units_total.setdefault(row["unit"], _new_cell())["producers"] = row["people"]
        elif level == "producers_total":
            total["producers"] = row["people"]
        elif level == "traders_group":
            group_of(row)["traders"] = row["people"]
        else:
            total["traders"] = row["people"]
    for unit, cell in units_total.items():
        cell["offered"] = sum(g["units"][unit]["offered"] for g in groups.values() if unit in g["units"])
    total["units"] = units_total

    if dims == ("month",):
        for month in scope.period.months():
            groups.setdefault((month.key,), _new_group((month.key,)))
    ordered = [groups[key] for key in sorted(groups, key=lambda k: tuple("" if v is None else str(v) for v in k))]
    _mask(ordered, total, min_producers)
    return {
        "from": scope.period.first.isoformat(),
        "to": scope.period.last.isoformat(),
        "departments": list(scope.departments) if scope.departments is not None else None,
        "group_by": list(dims),
        "min_producers": min_producers,
        "rows": [_render(g, dims) for g in ordered],
        "total": _render(total, ()),
    }


def _new_cell() -> dict:
    return {"producers": 0, "lots": 0, "offered": 0, "reserved": 0, "collected_q": 0, "travelled_q": 0,
            "distance_km": 0.0, "masked": False}


def _new_group(key: tuple) -> dict:
    group = {"key": key, "labels": {}, "producers": 0, "traders": 0, "lots": 0, "value_millicents": 0,
             "distance_km": 0.0, "trips": 0, "units": {}, "masked": False}
    group.update({state: 0 for state in STATES})
    return group


def _cell_of(group: dict, unit: str) -> dict:
    return group["units"].setdefault(unit, _new_cell())


def _is_secret(producers: int, min_producers: int) -> bool:
    """Fewer than the threshold, but some: an empty cell tells nothing about anyone."""
    return 0 < producers < min_producers


def _mask(groups: list[dict], total: dict, min_producers: int) -> None:
    """Primary masking by producer count, then enough secondary masking that no total gives a cell away."""
    for item in [total, *groups]:
        item["masked"] = _is_secret(item["producers"], min_producers)
        for cell in item["units"].values():
            cell["masked"] = item["masked"] or _is_secret(cell["producers"], min_producers)
    changed = True
    while changed:
        changed = protect(groups, total["masked"], size=lambda g: (g["producers"], g["lots"]))
        for unit, unit_total in total["units"].items():
            cells = [g["units"][unit] for g in groups if unit in g["units"]]
            changed |= protect(cells, unit_total["masked"], size=lambda c: (c["producers"], c["offered"]))
        for group in groups:
            for cell in group["units"].values():
                if group["masked"] and not cell["masked"]:
                    cell["masked"] = changed = True


def _quantity(thousandths_: int) -> float:
    return float(Decimal(int(thousandths_)) / QUANTITY_SCALE)


def _ratio(numerator: float, denominator: float, places: int) -> float | None:
    return round(numerator / denominator, places) if denominator else None


def _render_unit(unit: str, cell: dict) -> dict:
    out = {"unit": unit, "masked": cell["masked"]}
    figures = {
        "producers_active": cell["producers"],
        "quantity_offered": _quantity(cell["offered"]),
        "quantity_reserved": _quantity(cell["reserved"]),
        "quantity_collected": _quantity(cell["collected_q"]),
        "sell_through": _ratio(cell["collected_q"], cell["offered"], 4),
        "km_per_kg": (_ratio(cell["distance_km"] * QUANTITY_SCALE, cell["travelled_q"], 3)
                      if unit == "kg" else None),
    }
    return out | {name: None if cell["masked"] else value for name, value in figures.items()}


def _render(group: dict, dims: tuple[str, ...]) -> dict:
    out = dict(zip(dims, group["key"])) | group["labels"]
    out["masked"] = group["masked"]
    figures = {
        "lots_posted": group["lots"],
        "producers_active": group["producers"],
        "traders_active": group["traders"],
        "value_collected_cents": (int(group["value_millicents"]) + QUANTITY_SCALE // 2) // QUANTITY_SCALE,
        "reservations": {state: int(group[state]) for state in FINAL_STATES}
        | {"open": int(group["pending"] + group["confirmed"])},
        "distance_mean_km": _ratio(group["distance_km"], group["trips"], 3),
        "distance_total_km": round(group["distance_km"], 3),
    }
    out |= {name: None if group["masked"] else value for name, value in figures.items()}
    ordered_units = sorted(group["units"], key=lambda u: UNITS.index(u) if u in UNITS else len(UNITS))
    out["units"] = [_render_unit(unit, group["units"][unit]) for unit in ordered_units]
    return out
