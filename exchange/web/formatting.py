"""Jinja filters: money, quantities, dates and times as people in France read them (Europe/Paris)."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from flask import Flask
from flask_babel import (format_currency, format_date, format_datetime, format_decimal, format_percent, format_time,
                         get_locale)

from exchange.web import labels

# Dates as 26/11/2026 in French; English readers get the month spelled out, which no one misreads.
_DATE = {"fr": "dd/MM/yyyy", "en": "d MMM yyyy"}
_DATETIME = {"fr": "dd/MM/yyyy 'à' HH:mm", "en": "d MMM yyyy, HH:mm"}
# Near dates keep their weekday, which is what people plan by: « sam. 28/11 à 20:29 », "Sat 28 Nov, 20:29".
_DAY_TIME = {"fr": "EEE dd/MM 'à' HH:mm", "en": "EEE d MMM, HH:mm"}


def _language() -> str:
    locale = get_locale()
    return locale.language if locale is not None and locale.language in _DATE else "fr"


def money(cents: int | None) -> str:
    """1 234,50 € (French), €1,234.50 (English); amounts are integer cents."""
    if cents is None:
        return ""
    return format_currency(Decimal(cents) / 100, "EUR")


def money_whole(cents: int | None) -> str:
    """434 296 € : big totals in whole euros, in the locale's own currency pattern."""
    if cents is None:
        return ""
    pattern = get_locale().currency_formats["standard"].pattern.replace(".00", "")
    euros = (Decimal(cents) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return format_currency(euros, "EUR", format=pattern, currency_digits=False)


def quantity(value: Decimal | float | int | None, unit: str | None = None) -> str:
    """12,5 kg; units are translated, quantities lose needless trailing zeros."""
    if value is None:
        return ""
    number = Decimal(str(value))
    text = format_decimal(number.normalize() if not isinstance(value, int) else value)
    return f"{text}\u00a0{labels.unit_label(unit, number, _language())}" if unit else text


def unit_price(cents: int | None, unit: str | None) -> str:
    """2,80 € / kg."""
    return f"{money(cents)}\u00a0/\u00a0{labels.UNIT_LABELS.get(unit, unit)}" if cents is not None else ""


def amount(quantity: Decimal | None, cents: int | None) -> str:
    """What a quantity at a unit price comes to, to the cent (half up, as on an invoice)."""
    if quantity is None or cents is None:
        return ""
    total = (Decimal(str(quantity)) * cents).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return money(int(total))


def date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    return format_date(value, _DATE[_language()]) if not isinstance(value, dt.datetime) else \
        format_datetime(value, _DATE[_language()])


def time(value: dt.datetime | None) -> str:
    return format_time(value, "HH:mm") if value is not None else ""


def datetime(value: dt.datetime | None) -> str:
    return format_datetime(value, _DATETIME[_language()]) if value is not None else ""


def day_time(value: dt.datetime | None) -> str:
    """Short weekday, day, month and time, e.g. « jeu. 26/11 à 14:05 » (static/js/carreau.js `when` matches it)."""
    return format_datetime(value, _DAY_TIME[_language()]) if value is not None else ""


def distance(km: float | None) -> str:
    if km is None:
        return ""
    return f"{format_decimal(round(km, 1 if km < 10 else 0))}\u00a0km"


def percent(ratio: float | None) -> str:
    """39 % (French puts a narrow space before the sign)."""
    return format_percent(ratio) if ratio is not None else ""


def number(value: float | int | None, places: int = 0) -> str:
    return format_decimal(round(value, places)) if value is not None else ""


def iso(value: dt.datetime | None) -> str:
    """ISO 8601 with offset, for <time datetime=...> and the scripts."""
    return value.isoformat() if value is not None else ""


def register(app: Flask) -> None:
    for name, func in {"money": money, "money_whole": money_whole, "quantity": quantity, "unit_price": unit_price, "amount": amount, "date": date, "time": time,
                       "datetime": datetime, "day_time": day_time, "distance": distance, "iso": iso,
                       "percent": percent, "number": number}.items():
        app.add_template_filter(func, name)
    app.jinja_env.globals.update(
        CATEGORY_LABELS=labels.CATEGORY_LABELS, UNIT_LABELS=labels.UNIT_LABELS, LABEL_LABELS=labels.LABEL_LABELS,
        LOT_STATUS_LABELS=labels.LOT_STATUS_LABELS, RESERVATION_STATUS_LABELS=labels.RESERVATION_STATUS_LABELS,
        WEEKDAY_LABELS=labels.WEEKDAY_LABELS, ROLE_LABELS=labels.ROLE_LABELS, current_language=_language)
