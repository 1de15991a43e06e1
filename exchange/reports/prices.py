"""Prices per unit, by product and unit: are producers paid fairly?

PostgreSQL has percentile_cont. SQLite has not, so there the same interpolated percentiles are
computed in SQL with window functions: within each (product, unit), rank the prices (0-based `i`)
and count them (`n`); percentile p sits at position p·(n−1), between ranks ⌊p·(n−1)⌋ and the
next, and is interpolated linearly, exactly as percentile_cont does. One statement either way.
"""
from __future__ import annotations

from flask import current_app
from sqlalchemy import Integer, cast, func, select

from exchange.extensions import db
from exchange.models import UNITS, Farm, Lot, Reservation
from exchange.reports.dimensions import product_key
from exchange.reports.scope import Scope
from exchange.reports.summary import dialect_name, scoped, tune_postgresql

BASES = ("collected", "offered")
QUARTILES = {"q1": 0.25, "median": 0.5, "q3": 0.75}


def _observations(scope: Scope, basis: str, dialect: str):
    """One row per observed price: a collected reservation's unit price, or a posted lot's asking price."""
    columns = [product_key(dialect).label("product"), func.trim(Lot.product).label("product_name"),
               Lot.category, Lot.unit, Farm.owner_id]
    if basis == "collected":
        stmt = (select(*columns, Reservation.price_cents.label("price")).select_from(Reservation)
                .join(Lot, Lot.id == Reservation.lot_id).where(Reservation.status == "collected"))
    else:
        stmt = select(*columns, Lot.price_cents.label("price")).select_from(Lot)
    return scoped(stmt.join(Farm, Farm.id == Lot.farm_id), scope)


def _aggregates(c) -> list:
    """What every (product, unit) row shows besides the quartiles, over columns `c`."""
    return [c.product, c.unit, func.min(c.product_name).label("product_name"), func.min(c.category).label("category"),
            func.count().label("observations"), func.count(func.distinct(c.owner_id)).label("producers"),
            func.min(c.price).label("min"), func.max(c.price).label("max"), func.avg(c.price).label("mean")]


def _statement(scope: Scope, basis: str, dialect: str):
    obs = _observations(scope, basis, dialect).subquery("observations")
    if dialect == "postgresql":
        quartiles = [func.percentile_cont(p).within_group(obs.c.price).label(name) for name, p in QUARTILES.items()]
        return select(*_aggregates(obs.c), *quartiles).group_by(obs.c.product, obs.c.unit)
    cell = [obs.c.product, obs.c.unit]
    ranked = select(obs, (func.row_number().over(partition_by=cell, order_by=obs.c.price) - 1).label("i"),
                    func.count().over(partition_by=cell).label("n")).subquery("ranked")
    r = ranked.c
    quartiles = []
    for name, p in QUARTILES.items():
        position = p * (r.n - 1)
        low = cast(position, Integer)  # floor: positions are never negative
        fraction = position - low
        quartiles.append(func.sum(func.iif(r.i == low, r.price * (1 - fraction),
                                           func.iif(r.i == low + 1, r.price * fraction, 0))).label(name))
    return select(*_aggregates(r), *quartiles).group_by(r.product, r.unit)


def price_stats(scope: Scope, basis: str = "collected", min_producers: int | None = None) -> dict:
    """Unit prices by product and unit (min, quartiles, max, mean), masked where producers are few."""
    if basis not in BASES:
        raise ValueError(f"unknown price basis {basis!r}")
    if min_producers is None:
        min_producers = current_app.config["REPORT_MIN_PRODUCERS"]
    dialect = dialect_name()
    if dialect == "postgresql":
        tune_postgresql()
    rows = db.session.execute(_statement(scope, basis, dialect)).mappings().all()
    out = []
    for row in sorted(rows, key=lambda r: (r["product"], UNITS.index(r["unit"]) if r["unit"] in UNITS else 99)):
        masked = 0 < row["producers"] < min_producers
        figures = {"observations": row["observations"], "producers_active": row["producers"],
                   "min_cents": row["min"], "q1_cents": _cents(row["q1"]), "median_cents": _cents(row["median"]),
                   "q3_cents": _cents(row["q3"]), "max_cents": row["max"], "mean_cents": _cents(row["mean"])}
        out.append({"product": row["product"], "product_name": row["product_name"], "category": row["category"],
                    "unit": row["unit"], "masked": masked}
                   | {name: None if masked else value for name, value in figures.items()})
    return {"from": scope.period.first.isoformat(), "to": scope.period.last.isoformat(),
            "departments": list(scope.departments) if scope.departments is not None else None,
            "basis": basis, "min_producers": min_producers, "rows": out}


def _cents(value) -> float | None:
    """Interpolated prices fall between cents: two decimals keep them exact enough and stable across databases."""
    return None if value is None else round(float(value), 2)
