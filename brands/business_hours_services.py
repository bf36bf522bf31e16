"""Writes for a brand's business hours and holidays: brand admins only, audited.

SLA targets count time in these hours (``brands.business_hours``). A brand
with no weekly hours is open 24/7; its holidays still close whole days.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, time

from django.db import IntegrityError, transaction

from brands.models import Brand, BrandHoliday, BusinessHours
from brands.permissions import require_brand_admin
from marketplace.audit import audit_record
from marketplace.errors import Conflict, ValidationFailed
from marketplace.models import User, Weekday

MAX_INTERVALS_PER_DAY = 2
MIDNIGHT = time(0)

Interval = tuple[time | None, time | None]


def _require_admin(*, actor: User, brand: Brand) -> None:
    require_brand_admin(actor=actor, brand=brand, action="change its business hours")


def _sla_figures_stale(brand: Brand) -> None:
    # SLA clocks count business hours: past SLA figures follow the new calendar.
    from analytics.tasks import rollup_brand_later

    rollup_brand_later(brand.pk)


def _minutes_to_close(closes: time) -> int:
    # 00:00 as a closing time is midnight at the end of the day.
    return 24 * 60 if closes == MIDNIGHT else closes.hour * 60 + closes.minute


def _clock(value: time) -> str:
    return f"{value:%H:%M}"


def describe_intervals(intervals: Sequence[tuple[time, time]]) -> str:
    """``[(08:00, 12:00), (13:00, 00:00)]`` → ``"08:00–12:00, 13:00–24:00"``; none: closed."""
    if not intervals:
        return "Closed"
    return ", ".join(
        f"{_clock(opens)}–{'24:00' if closes == MIDNIGHT else _clock(closes)}"
        for opens, closes in intervals
    )


def _describe_week(hours: Mapping[int, Sequence[tuple[time, time]]]) -> dict[str, str]:
    if not any(hours.values()):
        return {"all": "Open 24/7"}
    return {day.label: describe_intervals(hours.get(day.value, ())) for day in Weekday}


def _clean_week(hours: Mapping[int, Sequence[Interval]]) -> dict[int, list[tuple[time, time]]]:
    """Check every weekday's intervals; one message per problem, naming the day."""
    problems: list[str] = []
    cleaned: dict[int, list[tuple[time, time]]] = {}
    for weekday, intervals in hours.items():
        if weekday not in Weekday.values:
            problems.append(f"Unknown weekday {weekday!r}: use 0 (Monday) to 6 (Sunday).")
            continue
        day = Weekday(weekday).label
        if len(intervals) > MAX_INTERVALS_PER_DAY:
            problems.append(
                f"{day}: at most {MAX_INTERVALS_PER_DAY} opening intervals a day, "
                f"not {len(intervals)}."
            )
            continue
        day_intervals = []
        for opens, closes in intervals:
            if opens is None or closes is None:
                problems.append(f"{day}: give both the opening and the closing time.")
                continue
            if opens.second or opens.microsecond or closes.second or closes.microsecond:
                problems.append(f"{day}: use whole minutes, like 08:30.")
                continue
            if closes != MIDNIGHT and closes <= opens:
                problems.append(
                    f"{day}: closing time {_clock(closes)} must be after opening time "
                    f"{_clock(opens)} (use 00:00 for midnight)."
                )
                continue
            day_intervals.append((opens, closes))
        day_intervals.sort()
        for (opens, closes), (next_opens, next_closes) in zip(
            day_intervals, day_intervals[1:], strict=False
        ):
            if next_opens.hour * 60 + next_opens.minute < _minutes_to_close(closes):
                problems.append(
                    f"{day}: {describe_intervals([(opens, closes)])} overlaps "
                    f"{describe_intervals([(next_opens, next_closes)])}."
                )
        if day_intervals:
            cleaned[weekday] = day_intervals
    if problems:
        raise ValidationFailed(
            "The business hours were not saved: " + " ".join(problems),
            fields={"hours": problems},
        )
    return cleaned


def business_hours_set(
    *,
    brand: Brand,
    actor: User,
    hours: Mapping[int, Sequence[Interval]],
    request=None,
) -> dict[int, list[tuple[time, time]]]:
    """Replace the brand's weekly hours with ``hours``: weekday (0 = Monday) →
    up to two (opens, closes) local times. Weekdays left out or empty are
    closed; no intervals on any day makes the brand open 24/7.
    """
    _require_admin(actor=actor, brand=brand)
    cleaned = _clean_week(hours)
    with transaction.atomic():
        rows = BusinessHours.objects.select_for_update().filter(brand=brand)
        before: dict[int, list[tuple[time, time]]] = {}
        for row in rows.order_by("weekday", "opens"):
            before.setdefault(row.weekday, []).append((row.opens, row.closes))
        if before == cleaned:
            return cleaned
        rows.delete()
        BusinessHours.objects.bulk_create(
            BusinessHours(brand=brand, weekday=weekday, opens=opens, closes=closes)
            for weekday, intervals in sorted(cleaned.items())
            for opens, closes in intervals
        )
        audit_record(
            actor=actor,
            action="business_hours.set",
            target=brand,
            brand=brand,
            changes={"hours": [_describe_week(before), _describe_week(cleaned)]},
            request=request,
        )
        _sla_figures_stale(brand)
    return cleaned


def holiday_add(
    *, brand: Brand, actor: User, date: date | None, name: str, request=None
) -> BrandHoliday:
    """Close the brand all day on local ``date``: SLA clocks stop for it."""
    _require_admin(actor=actor, brand=brand)
    name = (name or "").strip()
    problems: dict[str, list[str]] = {}
    if date is None:
        problems["date"] = ["Choose the date of the holiday."]
    if not name:
        problems["name"] = ["Give the holiday a name, like “New Year's Day”."]
    elif len(name) > BrandHoliday.NAME_MAX_LENGTH:
        problems["name"] = [
            f"Keep the name to {BrandHoliday.NAME_MAX_LENGTH} characters (it has {len(name)})."
        ]
    if problems:
        raise ValidationFailed("The holiday was not added.", fields=problems)
    existing = BrandHoliday.objects.filter(brand=brand, date=date).first()
    if existing is not None:
        raise Conflict(
            f"{date:%Y-%m-%d} is already a holiday ({existing.name}).",
            fields={"date": [f"Already a holiday: {existing.name}."]},
        )
    try:
        with transaction.atomic():
            holiday = BrandHoliday.objects.create(brand=brand, date=date, name=name)
            audit_record(
                actor=actor,
                action="holiday.added",
                target=holiday,
                brand=brand,
                changes={"date": date.isoformat(), "name": name},
                request=request,
            )
            _sla_figures_stale(brand)
    except IntegrityError:
        # Added by someone else between the check and the insert.
        raise Conflict(
            f"{date:%Y-%m-%d} is already a holiday.", fields={"date": ["Already a holiday."]}
        ) from None
    return holiday


def holiday_remove(*, holiday: BrandHoliday, actor: User, request=None) -> None:
    """Open the brand again on the holiday's date, in its usual weekly hours."""
    _require_admin(actor=actor, brand=holiday.brand)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="holiday.removed",
            target=holiday,
            brand=holiday.brand,
            changes={"date": holiday.date.isoformat(), "name": holiday.name},
            request=request,
        )
        holiday.delete()
        _sla_figures_stale(holiday.brand)
