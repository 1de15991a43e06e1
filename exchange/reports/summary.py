"""The territorial summary: lots, volumes, value, activity, outcomes and distances, aggregated in the database.

Everything that happens to a lot belongs to the day it was posted (Europe/Paris): a lot posted on
31 March and collected on 2 April counts in March. So sell-through is a true share of what was
offered, and a month, once settled, does not change.

Two statements do the work, whatever the size of the data: one over the lots in scope, one over
their reservations. Each first groups by cell and producer (resp. trader) and then counts those
rows at every level the report shows, so distinct producers and traders are exact at each level
without a second pass over the data. Python only assembles the few resulting cells.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from flask import current_app
from sqlalchemy import BigInteger, String, and_, case, func, literal, null, select, type_coerce, union_all

from exchange.extensions import db
from exchange.models import UNITS, Farm, Lot, Reservation
from exchange.models.reservations import HOLDING_STATUSES
from exchange.models.types import QUANTITY_SCALE
from exchange.reports.dimensions import DIMENSIONS, LABELS, key_columns
from exchange.reports.masking import protect
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


def dialect_name() -> str:
    return db.session.get_bind().dialect.name


def _levels(cte, keys: list[str], labels: list[str], who: str, sums: list[str], levels: tuple[str, ...]):
    """One statement answering a cell (keys × unit), group (keys), unit and total level each.

    Every row of `cte` is one (keys, unit, producer-or-trader); counting its rows per cell gives
    distinct people per cell, COUNT(DISTINCT) gives them per group, per unit and overall.
    """
    c = cte.c

    def select_level(level: str, by_keys: bool, by_unit: bool):
        people = func.count() if by_keys and by_unit else func.count(func.distinct(c[who]))
        columns = [literal(level, String).label("level")]
        columns += [c[k] if by_keys else null().label(k) for k in keys]
        columns += [func.min(c[name]).label(name) if by_keys else null().label(name) for name in labels]
        columns += [c.unit if by_unit else null().label("unit"), people.label("people")]
        columns += [func.sum(c[s]).label(s) if by_keys and by_unit else null().label(s) for s in sums]
        group = ([c[k] for k in keys] if by_keys else []) + ([c.unit] if by_unit else [])
        stmt = select(*columns)
        return stmt.group_by(*group) if group else stmt

    shapes = {"cell": (True, True), "group": (True, False), "unit": (False, True), "total": (False, False)}
    return union_all(*(select_level(level, *shapes[level]) for level in levels))


def _lot_levels(scope: Scope, dims: tuple[str, ...], dialect: str):
    keys = key_columns_for(dims, dialect, scope)
    base = scoped(select(*keys, Lot.unit, Farm.owner_id, thousandths(Lot.quantity_offered).label("offered"))
                  .join(Farm, Farm.id == Lot.farm_id), scope).subquery("lots_in_scope")
    labels = [LABELS[d] for d in dims if d in LABELS]
    by = [base.c[d] for d in dims] + [base.c.unit, base.c.owner_id]
    per_producer = (select(*by, *[func.min(base.c[name]).label(name) for name in labels],
                           func.count().label("lots"), func.sum(base.c.offered).label("offered"))
                    .group_by(*by).cte("per_producer"))
    return _levels(per_producer, list(dims), labels, "owner_id", ["lots", "offered"],
                   ("cell", "group", "unit", "total"))


def _reservation_levels(scope: Scope, dims: tuple[str, ...], dialect: str):
    keys = key_columns_for(dims, dialect, scope)
    base = scoped(select(*keys, Lot.unit, Reservation.trader_id, Reservation.status,
                         thousandths(Reservation.quantity).label("q"), Reservation.price_cents, Reservation.distance_km)
                  .select_from(Reservation).join(Lot, Lot.id == Reservation.lot_id)
                  .join(Farm, Farm.id == Lot.farm_id), scope).subquery("reservations_in_scope")
    r = base.c
    collected = r.status == "collected"
    travelled = and_(collected, r.distance_km.is_not(None))

    def total(condition, value=1):
        return func.sum(case((condition, value), else_=0))

    sums = {
        "reserved": total(r.status.in_(HOLDING_STATUSES), r.q),
        "collected_q": total(collected, r.q),
        "value_millicents": total(collected, r.q * r.price_cents),
        "distance_km": total(travelled, r.distance_km),
        "trips": total(travelled),
        "travelled_q": total(travelled, r.q),
        **{state: total(r.status == state) for state in STATES},
    }
    by = [r[d] for d in dims] + [r.unit, r.trader_id]
    per_trader = select(*by, *[expr.label(name) for name, expr in sums.items()]).group_by(*by).cte("per_trader")
    return _levels(per_trader, list(dims), [], "trader_id", list(sums), ("cell", "group", "total"))


def key_columns_for(dims: tuple[str, ...], dialect: str, scope: Scope):
    return [column for d in dims for column in key_columns(d, dialect, scope.period)]


def summary(scope: Scope, group_by: tuple[str, ...] = ("category",), min_producers: int | None = None) -> dict:
    """Figures for a territory and period, one row per group, every cell of few producers masked."""
    dims = tuple(group_by)
    if not dims or len(dims) > MAX_DIMENSIONS or len(set(dims)) != len(dims) or set(dims) - set(DIMENSIONS):
        raise ValueError(f"bad grouping {group_by!r}")
    if min_producers is None:
        min_producers = current_app.config["REPORT_MIN_PRODUCERS"]
    dialect = dialect_name()
    lots = db.session.execute(_lot_levels(scope, dims, dialect)).mappings().all()
    reservations = db.session.execute(_reservation_levels(scope, dims, dialect)).mappings().all()

    groups: dict[tuple, dict] = {}
    total = _new_group(())
    units_total: dict[str, dict] = {}

    def group_of(row) -> dict:
        key = tuple(row[d] for d in dims)
        if key not in groups:
            groups[key] = _new_group(key)
        return groups[key]

    for row in lots:
        level = row["level"]
        if level == "cell":
            group = group_of(row)
            group["labels"].update({LABELS[d]: row[LABELS[d]] for d in dims if d in LABELS})
            cell = _cell_of(group, row["unit"])
            cell.update(producers=row["people"], lots=int(row["lots"]), offered=int(row["offered"]))
            group["lots"] += int(row["lots"])
            total["lots"] += int(row["lots"])
        elif level == "group":
            group_of(row)["producers"] = row["people"]
        elif level == "unit":
            units_total.setdefault(row["unit"], _new_cell())["producers"] = row["people"]
        else:
            total["producers"] = row["people"]
    for row in reservations:
        level = row["level"]
        if level == "cell":
            group = group_of(row)
            cell = _cell_of(group, row["unit"])
            unit_total = units_total.setdefault(row["unit"], _new_cell())
            figures = {name: int(row[name] or 0) for name in ("value_millicents", "trips", "reserved", "collected_q",
                                                                "travelled_q", *STATES)}
            figures["distance_km"] = float(row["distance_km"] or 0)  # PostgreSQL sums integers as numeric
            for target in (group, total):
                for name in ("value_millicents", "distance_km", "trips", *STATES):
                    target[name] += figures[name]
            for target in (cell, unit_total):
                for name in ("reserved", "collected_q", "travelled_q", "distance_km"):
                    target[name] += figures[name]
        elif level == "group":
            group_of(row)["traders"] = row["people"]
        elif level == "total":
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
