"""Pickup hours: Paris wall-clock slots turned into UTC, summer and winter time, next possible slot."""
import datetime as dt

from exchange.domain.pickup import PARIS, is_open, next_pickup, pickup_deadline, slot_containing, slots_on

UTC = dt.timezone.utc
HOURS = {"mon": ["07:00-12:00", "14:00-18:00"], "sat": ["20:00-24:00"]}


def paris(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS).astimezone(UTC)


def test_slots_follow_summer_and_winter_time():
    # Monday 2026-01-05 (UTC+1) and Monday 2026-07-06 (UTC+2): the same 07:00 Paris is 06:00 then 05:00 UTC.
    assert slots_on(dt.date(2026, 1, 5), HOURS)[0] == (dt.datetime(2026, 1, 5, 6, tzinfo=UTC),
                                                       dt.datetime(2026, 1, 5, 11, tzinfo=UTC))
    assert slots_on(dt.date(2026, 7, 6), HOURS)[0][0] == dt.datetime(2026, 7, 6, 5, tzinfo=UTC)
    assert slots_on(dt.date(2026, 7, 7), HOURS) == []


def test_a_slot_ending_at_midnight_runs_to_the_next_day():
    slot = slot_containing(paris(2026, 3, 7, 23, 30), HOURS)  # Saturday 23:30
    assert slot == (paris(2026, 3, 7, 20), paris(2026, 3, 8, 0))
    assert slot_containing(paris(2026, 3, 8, 0, 0), HOURS) is None  # the end is excluded


def test_is_open_and_the_farm_without_hours():
    assert is_open(paris(2026, 3, 9, 8), HOURS)
    assert not is_open(paris(2026, 3, 9, 12, 30), HOURS)
    assert not is_open(paris(2026, 3, 9, 18), HOURS)
    assert is_open(paris(2026, 3, 10, 3), {})
    assert is_open(paris(2026, 3, 10, 3), None)


def test_next_pickup_is_the_first_open_moment_in_the_lots_window():
    window = {"window_start": paris(2026, 3, 1), "window_end": paris(2026, 3, 31)}
    assert next_pickup(paris(2026, 3, 9, 12, 30), HOURS, **window) == paris(2026, 3, 9, 14)
    assert next_pickup(paris(2026, 3, 9, 15), HOURS, **window) == paris(2026, 3, 9, 15)
    assert next_pickup(paris(2026, 3, 9, 19), HOURS, **window) == paris(2026, 3, 14, 20)
    # Not before the lot is available, and never at or after its end.
    assert next_pickup(paris(2026, 2, 20), HOURS, **window) == paris(2026, 3, 2, 7)
    assert next_pickup(paris(2026, 3, 9, 19), HOURS, window_start=window["window_start"],
                       window_end=paris(2026, 3, 14, 20)) is None
    assert next_pickup(paris(2026, 3, 9, 19), {}, **window) == paris(2026, 3, 9, 19)


def test_next_pickup_over_the_spring_clock_change():
    # Clocks go forward on Sunday 2026-03-29; Monday 30 at 07:00 Paris is 05:00 UTC.
    window = {"window_start": paris(2026, 3, 1), "window_end": paris(2026, 4, 30)}
    assert next_pickup(paris(2026, 3, 29, 0, 30), HOURS, **window) == dt.datetime(2026, 3, 30, 5, tzinfo=UTC)


def test_pickup_deadline_is_the_end_of_the_slot():
    until = paris(2026, 3, 20)
    assert pickup_deadline(paris(2026, 3, 9, 9), HOURS, until) == paris(2026, 3, 9, 12)
    assert pickup_deadline(None, HOURS, until) == until
    assert pickup_deadline(paris(2026, 3, 10, 9), {}, until) == paris(2026, 3, 10, 9)
