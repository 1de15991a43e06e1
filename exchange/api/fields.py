"""Fields shared by the API schemas."""
from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from marshmallow import ValidationError, fields, validate

from exchange.models.farms import WEEKDAYS

MAX_QUANTITY = Decimal("1000000")  # a million kg, litres or crates: beyond any farm's single lot
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class Text(fields.String):
    """Text from people: trimmed; control characters and bidi overrides refused (NUL breaks PostgreSQL,
    overrides disguise names). Line breaks only where `multiline`."""

    default_error_messages = {"control": "Contains control characters."}

    def __init__(self, *, multiline: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.multiline = multiline

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        allowed = "\n\r\t" if self.multiline else ""
        if any((unicodedata.category(c) == "Cc" and c not in allowed) or c in _BIDI_CONTROLS for c in text):
            raise self.make_error("control")
        return text


class Quantity(fields.Field):
    """A quantity: a JSON number, at most three decimals, loaded as an exact Decimal, shown as a number."""

    default_error_messages = {
        "invalid": "Not a valid number.",
        "too_precise": "At most three decimal places.",
        "range": "Must be between {min} and {max}.",
    }

    def __init__(self, *, minimum: Decimal = Decimal(0), strict_positive: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.minimum = minimum
        self.strict_positive = strict_positive
        self.metadata.setdefault("type", "number")

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else float(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise self.make_error("invalid")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.make_error("invalid")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise self.make_error("invalid") from None
        if not number.is_finite():
            raise self.make_error("invalid")
        if number.as_tuple().exponent < -3 and number != number.quantize(Decimal("0.001")):
            raise self.make_error("too_precise")
        low_ok = number > 0 if self.strict_positive else number >= self.minimum
        if not low_ok or number > MAX_QUANTITY:
            raise self.make_error("range", min=">0" if self.strict_positive else self.minimum, max=MAX_QUANTITY)
        return number.quantize(Decimal("0.001"))


def Cents(strict: bool = True, **kwargs) -> fields.Integer:
    """Money in integer euro cents, excluding VAT; at most 100,000 € per unit (strict: JSON integers only)."""
    return fields.Integer(strict=strict, validate=validate.Range(0, 10_000_000), **kwargs)


def Latitude(**kwargs) -> fields.Float:
    return fields.Float(allow_nan=False, validate=validate.Range(-90, 90), **kwargs)


def Longitude(**kwargs) -> fields.Float:
    return fields.Float(allow_nan=False, validate=validate.Range(-180, 180), **kwargs)


def Postcode(**kwargs) -> fields.String:
    return fields.String(validate=validate.Regexp(r"^\d{5}$", error="A French postcode is five digits."), **kwargs)


class PickupHours(fields.Dict):
    """Weekly pickup hours in Europe/Paris time: {"mon": ["07:00-12:00", "14:00-18:00"], ...}."""

    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(validate=validate.OneOf(WEEKDAYS)),
                         values=fields.List(fields.String(), validate=validate.Length(max=6)), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        hours = super()._deserialize(value, attr, data, **kwargs)
        errors = {}
        for day, slots in hours.items():
            for slot in slots:
                m = _HOURS.match(slot)
                if not m or (m[3], m[4]) <= (m[1], m[2]) or (m[3] == "24" and m[4] != "00"):
                    errors.setdefault(day, []).append(f"{slot!r} is not a time range like 07:00-12:00.")
        if errors:
            raise ValidationError(errors)
        return {day: sorted(slots) for day, slots in hours.items() if slots}


MAX_ID = 2**31 - 1


def Id(**kwargs) -> fields.Integer:
    """A reference to a row: a positive integer that fits the database."""
    return fields.Integer(validate=validate.Range(1, MAX_ID), **kwargs)
