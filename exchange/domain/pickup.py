"""Pickup hours: when a trader may come to the farm, from the farm's weekly hours in Europe/Paris time.

A farm's `pickup_hours` reads {"mon": ["07:00-12:00", "14:00-18:00"], "sat": ["08:00-11:00"]}. A slot is
turned into UTC on each calendar day, so that summer and winter time are both right. A farm that has
declared no hours accepts any time (the producer arranges it by phone).
"""
from __future__ import annotations

import datetime as dt
from typing import Iterator
from zoneinfo import ZoneInfo

from exchange.models.farms import WEEKDAYS

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.timezone.utc
# How far ahead the next slot is looked for; a farm open less than once a fortnight has no "next" slot.
SEARCH_DAYS = 15

Slot = tuple[dt.datetime, dt.datetime]


def _clock(text: str) -> tuple[int, int]:
    hours, minutes = text.split(":")
    return int(hours), int(minutes)


def _local(day: dt.date, hours: int, minutes: int) -> dt.datetime:
    """A wall-clock time on a day in Paris as aware UTC; 24:00 is the next day's midnight."""
    if hours == 24:
        day, hours = day + dt.timedelta(days=1), 0
    return dt.datetime(day.year, day.month, day.day, hours, minutes, tzinfo=PARIS).astimezone(UTC)


def slots_on(day: dt.date, pickup_hours: dict[str, list[str]]) -> list[Slot]:
    """The farm's pickup slots on a calendar day (Paris), as UTC intervals [start, end)."""
    slots = []
    for text in pickup_hours.get(WEEKDAYS[day.weekday()], ()):
        start, end = text.split("-")
        slots.append((_local(day, *_clock(start)), _local(day, *_clock(end))))
    return sorted(slots)


def _slots_from(when: dt.datetime, pickup_hours: dict[str, list[str]], days: int) -> Iterator[Slot]:
    # Start the day before: a slot ending at 24:00 local belongs to the previous day's hours.
    first = when.astimezone(PARIS).date() - dt.timedelta(days=1)
    for offset in range(days + 1):
        yield from slots_on(first + dt.timedelta(days=offset), pickup_hours)


def slot_containing(when: dt.datetime, pickup_hours: dict[str, list[str]]) -> Slot | None:
    """The slot a pickup time falls in, or None when the farm is closed then."""
    for start, end in _slots_from(when, pickup_hours, 1):
        if start <= when < end:
            return start, end
    return None


def is_open(when: dt.datetime, pickup_hours: dict[str, list[str]] | None) -> bool:
    """Whether a trader may come at that time (always, for a farm without declared hours)."""
    return not pickup_hours or slot_containing(when, pickup_hours) is not None


def next_pickup(after: dt.datetime, pickup_hours: dict[str, list[str]] | None, *, window_start: dt.datetime,
                window_end: dt.datetime) -> dt.datetime | None:
    """The earliest time from `after` on that is in the farm's hours and in the lot's window [start, end)."""
    earliest = max(after, window_start)
    if earliest >= window_end:
        return None
    if not pickup_hours:
        return earliest
    days = min(SEARCH_DAYS, (window_end - earliest).days + 1)
    for start, end in _slots_from(earliest, pickup_hours, days):
        candidate = max(start, earliest)
        if candidate < end and candidate < window_end:
            return candidate
    return None


def pickup_deadline(pickup_at: dt.datetime | None, pickup_hours: dict[str, list[str]] | None,
                    available_until: dt.datetime) -> dt.datetime:
    """When a confirmed pickup is over: the end of the slot the pickup time is in, else the time itself.

    Without a pickup time, the trader may come until the lot's window ends.
    """
    if pickup_at is None:
        return available_until
    slot = slot_containing(pickup_at, pickup_hours) if pickup_hours else None
    return slot[1] if slot else pickup_at
