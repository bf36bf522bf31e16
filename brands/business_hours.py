"""Business-time arithmetic on a brand's weekly hours, holidays and time zone.

Pure functions, no database: ``brands.selectors.calendar_for`` builds the
``BusinessCalendar`` of a brand. Days are walked in the brand's local time
with zoneinfo, so a DST day is 23 or 25 hours long and an interval counts the
seconds that really elapse in it: 01:00–04:00 on the night the clocks go
forward is two hours, on the night they go back four.

A calendar with no intervals on any weekday is open 24/7, except on its
holidays. ``closes`` of 00:00 means midnight at the end of the day.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Longest run of closed days a calendar may have before the deadline search
# gives up: a year of holidays plus slack for the weekends around it.
MAX_CLOSED_DAYS = 400

ONE_DAY = timedelta(days=1)
ONE_SECOND = timedelta(seconds=1)
MIDNIGHT = time(0)


@dataclass(frozen=True)
class BusinessCalendar:
    """When a brand is open: ``hours`` maps a weekday (0 = Monday) to its
    (opens, closes) local times; ``holidays`` are local dates closed all day.

    No intervals on any weekday: open 24/7 (holidays still close).
    """

    time_zone: str
    hours: Mapping[int, Sequence[tuple[time, time]]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        # Sorted tuples: the walk below relies on intervals in time order.
        normalised = {
            weekday: tuple(sorted(intervals)) for weekday, intervals in self.hours.items()
        }
        object.__setattr__(self, "hours", normalised)
        object.__setattr__(self, "holidays", frozenset(self.holidays))

    def __hash__(self) -> int:
        return hash((self.time_zone, tuple(sorted(self.hours.items())), self.holidays))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def is_always_open(self) -> bool:
        """No weekly hours set: open around the clock (holidays aside)."""
        return not any(self.hours.values())


def _check_aware(*values: datetime) -> None:
    for value in values:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"Business time needs aware datetimes, got naive {value!r}.")


def _local_instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The instant (in UTC) the brand's wall clock reads ``clock`` on ``day``.

    A time the clocks skip (02:30 on a spring-forward night in Berlin) is
    taken as the moment of the jump, when the wall clock first passes it. A
    time that happens twice (the fall-back night) is its first occurrence.
    """
    naive = datetime.combine(day, clock)
    earlier = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if earlier.astimezone(zone).replace(tzinfo=None) == naive:
        return earlier
    # In a gap: fold=1 reads it with the offset after the jump, so it lands
    # before the jump, fold=0 after it. Bisect to the second of the jump.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = earlier
    after_offset = high.astimezone(zone).utcoffset()
    while high - low > ONE_SECOND:
        middle = low + (high - low) // 2
        if middle.astimezone(zone).utcoffset() == after_offset:
            high = middle
        else:
            low = middle
    return high


def _day_intervals(day: date, calendar: BusinessCalendar) -> list[tuple[datetime, datetime]]:
    """The open intervals of local ``day`` as UTC instants, in order, none empty."""
    if day in calendar.holidays:
        return []
    zone = calendar.zone
    if calendar.is_always_open:
        clocks: Sequence[tuple[time, time]] = ((MIDNIGHT, MIDNIGHT),)
    else:
        clocks = calendar.hours.get(day.weekday(), ())
    intervals = []
    for opens, closes in clocks:
        start = _local_instant(day, opens, zone)
        end = (
            _local_instant(day + ONE_DAY, MIDNIGHT, zone)
            if closes == MIDNIGHT
            else _local_instant(day, closes, zone)
        )
        if end > start:
            intervals.append((start, end))
    return intervals


def _local_days_from(instant: datetime, zone: ZoneInfo) -> Iterator[date]:
    day = instant.astimezone(zone).date()
    while True:
        yield day
        day += ONE_DAY


def business_seconds_between(start: datetime, end: datetime, calendar: BusinessCalendar) -> int:
    """Whole business seconds in [start, end); 0 when ``end`` is not after ``start``."""
    _check_aware(start, end)
    # In UTC: two datetimes of the same zone compare and subtract by wall
    # clock, which is off by an hour across a DST change.
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return 0
    if calendar.is_always_open and not calendar.holidays:
        return (end - start) // ONE_SECOND
    last_day = end.astimezone(calendar.zone).date()
    total = timedelta(0)
    for day in _local_days_from(start, calendar.zone):
        if day > last_day:
            break
        for opens, closes in _day_intervals(day, calendar):
            overlap = min(closes, end) - max(opens, start)
            if overlap > timedelta(0):
                total += overlap
    return total // ONE_SECOND


def business_deadline(start: datetime, seconds: int, calendar: BusinessCalendar) -> datetime:
    """The instant at which ``seconds`` business seconds have elapsed since ``start``.

    From outside business hours the clock starts at the next opening; zero
    seconds are due at ``start``. The answer is in UTC. Raises ValueError for
    negative ``seconds`` and for a calendar closed more than
    ``MAX_CLOSED_DAYS`` days in a row, which could never reach the deadline.
    """
    _check_aware(start)
    if seconds < 0:
        raise ValueError(f"Business seconds cannot be negative, got {seconds}.")
    start = start.astimezone(UTC)  # see business_seconds_between
    if seconds == 0:
        return start
    if calendar.is_always_open and not calendar.holidays:
        return start + timedelta(seconds=seconds)
    remaining = timedelta(seconds=seconds)
    closed_days = 0
    for day in _local_days_from(start, calendar.zone):
        is_open = False
        for opens, closes in _day_intervals(day, calendar):
            opens = max(opens, start)
            if closes <= opens:
                continue
            is_open = True
            available = closes - opens
            if remaining <= available:
                return opens + remaining
            remaining -= available
        closed_days = 0 if is_open else closed_days + 1
        if closed_days > MAX_CLOSED_DAYS:
            raise ValueError(
                f"The business calendar is closed for more than {MAX_CLOSED_DAYS} days "
                f"in a row from {day - timedelta(days=MAX_CLOSED_DAYS)}: no deadline can be set."
            )
    raise AssertionError("unreachable: the day walk is endless")
