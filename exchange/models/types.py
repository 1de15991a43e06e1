"""Column types that behave the same on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.types import TypeDecorator

UTC = dt.timezone.utc
QUANTITY_SCALE = 1000  # quantities are exact to the gram / millilitre / thousandth of a piece
_STEP = Decimal("0.001")


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime in Python; naive UTC on SQLite, timestamptz on PostgreSQL.

    A naive datetime is a bug (whose local time?), so binding one raises.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: Carreau stores aware UTC datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_quantity(value) -> Decimal:
    """A quantity as an exact Decimal with three places (float input goes through its shortest repr)."""
    return Decimal(str(value)).quantize(_STEP, rounding=ROUND_HALF_EVEN)


class Quantity(TypeDecorator):
    """A quantity stored as an integer number of thousandths.

    Integers make the conditional stock update and the stock invariant exact on both databases
    (SQLite would otherwise do floating-point arithmetic). Python sees a Decimal; SQL arithmetic
    with bound values (`Lot.quantity_available - q`) is converted through the same type.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return int(to_quantity(value) * QUANTITY_SCALE)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return (Decimal(int(value)) / QUANTITY_SCALE).quantize(_STEP)

    @property
    def python_type(self):
        return Decimal
