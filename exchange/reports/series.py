"""Chart data for the chamber dashboard: one figure of the summary along one dimension.

A series is read from the summary itself, so a chart can never show what the table masks:
a masked point has `value: null` and `masked: true` (draw a gap, not a zero). Figures per unit
(quantities, sell-through, km per kg) need the unit; a group without that unit shows 0 (nothing
posted in it), or null for a ratio.
"""
from __future__ import annotations

from exchange.reports.dimensions import LABELS
from exchange.reports.scope import Scope
from exchange.reports.summary import FINAL_STATES, summary

GROUP_METRICS = ("lots_posted", "producers_active", "traders_active", "value_collected_cents", "distance_mean_km",
                 "distance_total_km", *(f"reservations_{state}" for state in (*FINAL_STATES, "open")))
UNIT_METRICS = ("quantity_offered", "quantity_reserved", "quantity_collected", "sell_through", "km_per_kg")
METRICS = GROUP_METRICS + UNIT_METRICS
_EMPTY_UNIT = {"quantity_offered": 0.0, "quantity_reserved": 0.0, "quantity_collected": 0.0, "masked": False}


def _group_value(row: dict, metric: str):
    if metric.startswith("reservations_"):
        return None if row["reservations"] is None else row["reservations"][metric.removeprefix("reservations_")]
    return row[metric]


def series(scope: Scope, metric: str, dimension: str = "month", unit: str = "kg",
           min_producers: int | None = None) -> dict:
    """One metric along one dimension, masked exactly where the summary is."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    if metric == "km_per_kg":
        unit = "kg"
    report = summary(scope, (dimension,), min_producers)
    points = []
    for row in report["rows"]:
        point = {"key": row[dimension], "label": row.get(LABELS.get(dimension, dimension), row[dimension])}
        if metric in GROUP_METRICS:
            point |= {"value": _group_value(row, metric), "masked": row["masked"]}
        else:
            cell = next((u for u in row["units"] if u["unit"] == unit), _EMPTY_UNIT)
            point |= {"value": cell.get(metric), "masked": cell["masked"]}
        points.append(point)
    return {"metric": metric, "group_by": dimension, "unit": unit if metric in UNIT_METRICS else None,
            "from": report["from"], "to": report["to"], "departments": report["departments"], "points": points}
