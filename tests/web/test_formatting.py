"""Money, quantities, dates and times as people read them: French by default, Europe/Paris time."""
import datetime as dt
from decimal import Decimal

import pytest
from flask_babel import force_locale

from exchange.web import formatting

UTC = dt.timezone.utc


@pytest.fixture
def in_request(app):
    with app.test_request_context("/"):
        yield


def test_french_money_quantities_and_dates(in_request):
    with force_locale("fr"):
        assert formatting.money(123450) == "1\u202f234,50\u00a0€"
        assert formatting.money(5) == "0,05\u00a0€"
        assert formatting.money_whole(43429650) == "434\u202f297\u00a0€"
        assert formatting.unit_price(280, "kg") == "2,80\u00a0€\u00a0/\u00a0kg"
        assert formatting.quantity(Decimal("12.500"), "bunch") == "12,5\u00a0bottes"
        assert formatting.quantity(Decimal("1.5"), "litre") == "1,5\u00a0litre"  # French plural starts at 2
        assert formatting.quantity(Decimal("1"), "crate") == "1\u00a0cagette"
        assert formatting.quantity(Decimal("1000"), "kg") == "1\u202f000\u00a0kg"
        assert formatting.date(dt.datetime(2026, 11, 26, 23, 30, tzinfo=UTC)) == "27/11/2026"  # already the 27th in Paris
        assert formatting.time(dt.datetime(2026, 11, 26, 13, 5, tzinfo=UTC)) == "14:05"  # winter: UTC+1
        assert formatting.time(dt.datetime(2026, 7, 14, 13, 5, tzinfo=UTC)) == "15:05"  # summer: UTC+2
        assert formatting.datetime(dt.datetime(2026, 11, 26, 13, 5, tzinfo=UTC)) == "26/11/2026 à 14:05"
        assert formatting.distance(12.345) == "12\u00a0km" and formatting.distance(3.26) == "3,3\u00a0km"


def test_english_alongside(in_request):
    with force_locale("en"):
        assert formatting.money(123450) == "€1,234.50"
        assert formatting.money_whole(43429600) == "€434,296"
        assert formatting.unit_price(280, "bunch") == "€2.80\u00a0/\u00a0bunch"
        assert formatting.quantity(Decimal("1.5"), "litre") == "1.5\u00a0litres"
        assert formatting.date(dt.datetime(2026, 11, 26, 12, tzinfo=UTC)) == "26 Nov 2026"
        assert formatting.time(dt.datetime(2026, 11, 26, 13, 5, tzinfo=UTC)) == "14:05"
