"""Report periods: calendar days and months of Europe/Paris, turned into UTC instants for the database."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from exchange.domain.errors import InvalidInput

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.timezone.utc
# Three years (one leap day included): long enough to compare seasons, short enough to stay fast.
MAX_SPAN_DAYS = 1096


def paris_midnight(day: dt.date) -> dt.datetime:
    """The UTC instant at which `day` starts in Paris."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=PARIS).astimezone(UTC)


def month_key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)


@dataclass(frozen=True, slots=True)
class Month:
    key: str  # "2025-03"
    start: dt.datetime  # UTC instant of its first Paris midnight
    end: dt.datetime  # UTC instant of the next month's first Paris midnight (exclusive)
    start_day: dt.date  # its first day
    end_day: dt.date  # the next month's first day (exclusive)


@dataclass(frozen=True, slots=True)
class Period:
    """Calendar days `first` to `last`, both included, in Paris time."""

    first: dt.date
    last: dt.date

    def __post_init__(self):
        if self.last < self.first:
            raise InvalidInput(_l("La fin de la période précède son début."), errors={"to": ["Must not be before from."]})
        if (self.last - self.first).days + 1 > MAX_SPAN_DAYS:
            raise InvalidInput(_l("La période dépasse trois ans."),
                               errors={"to": [f"The period may span at most {MAX_SPAN_DAYS} days."]})

    @classmethod
    def of_month(cls, key: str) -> "Period":
        """The whole calendar month "YYYY-MM"."""
        first = dt.date(int(key[:4]), int(key[5:7]), 1)
        return cls(first, next_month(first) - dt.timedelta(days=1))

    @property
    def start(self) -> dt.datetime:
        return paris_midnight(self.first)

    @property
    def end(self) -> dt.datetime:
        """Exclusive: the Paris midnight after the last day."""
        return paris_midnight(self.last + dt.timedelta(days=1))

    def months(self) -> list[Month]:
        """Every Paris calendar month the period touches, in order."""
        months, day = [], self.first.replace(day=1)
        while day <= self.last:
            following = next_month(day)
            months.append(Month(month_key(day), paris_midnight(day), paris_midnight(following), day, following))
            day = following
        return months
