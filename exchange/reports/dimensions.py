"""The ways a report can be cut: the SQL expression behind each grouping, the same answer on both databases."""
from __future__ import annotations

from sqlalchemy import case, func, literal
from sqlalchemy.sql.elements import ColumnElement

from exchange.models import Farm, Lot
from exchange.models.types import UTCDateTime
from exchange.reports.periods import Period

DIMENSIONS = ("category", "department", "commune", "month", "product")
# Extra columns that name a key for people: a commune's name beside its INSEE code, a product as typed.
LABELS = {"commune": "commune_name", "product": "product_name"}


def product_key(dialect: str) -> ColumnElement:
    """Products are grouped case-insensitively: 'Tomates' and 'tomates ' are one product.

    SQLite's own lower() folds ASCII only; `unicode_lower` (registered in models/sqlite.py) folds
    'Œufs' like PostgreSQL's lower() does.
    """
    trimmed = func.trim(Lot.product)
    return func.unicode_lower(trimmed) if dialect == "sqlite" else func.lower(trimmed)


def paris_month(column, dialect: str) -> ColumnElement:
    """The Europe/Paris month ("2025-03") of a UTC timestamp, for any instant (SQLite: a registered function)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("Europe/Paris", column), "YYYY-MM")
    return func.paris_month(column)


def month_of(column, period: Period) -> ColumnElement:
    """The Europe/Paris month ("2025-03") of a UTC timestamp within the period.

    The month boundaries of the period (computed here with the time zone rules) become nested CASEs
    that halve the list of months at each step: at most six comparisons of instants per row for the 37
    months of the longest period. SQLite has no time zones; on PostgreSQL it is also 2.5x cheaper than
    formatting each row's local time (`paris_month`: 120 ms against 50 ms of CPU for 200,000 lots).
    """
    def bisect(months):
        if len(months) == 1:
            return literal(months[0].key)
        middle = len(months) // 2
        return case((column < literal(months[middle].start, UTCDateTime()), bisect(months[:middle])),
                    else_=bisect(months[middle:]))

    return bisect(period.months())


def key_columns(dimension: str, dialect: str, period: Period) -> list[ColumnElement]:
    """The key of a grouping, labelled with its name, and the label column when it has one."""
    if dimension == "category":
        return [Lot.category.label("category")]
    if dimension == "department":
        return [Farm.department.label("department")]
    if dimension == "commune":
        return [Farm.insee.label("commune"), Farm.commune.label("commune_name")]
    if dimension == "month":
        return [month_of(Lot.created_at, period).label("month")]
    if dimension == "product":
        return [product_key(dialect).label("product"), func.trim(Lot.product).label("product_name")]
    raise ValueError(f"unknown report dimension {dimension!r}")
