"""Business hours: the arithmetic (hand-worked, DST included), the services and ``calendar_for``."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brands.business_hours import (
    BusinessCalendar,
    business_deadline,
    business_seconds_between,
)
from brands.business_hours_services import business_hours_set, holiday_add, holiday_remove
from brands.models import BrandHoliday, BusinessHours
from brands.selectors import calendar_for
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from marketplace.models import AuditEvent

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3600

# Mon–Fri 09:00–17:00 in Berlin (8 h a day); Friday 25 December 2026 is a holiday.
OFFICE = BusinessCalendar(
    time_zone="Europe/Berlin",
    hours={day: [(time(9), time(17))] for day in range(5)},
    holidays=frozenset({date(2026, 12, 25)}),
)
# Every day 01:00–04:00 in Berlin: the hours the clocks change in.
NIGHT_SHIFT = BusinessCalendar(
    time_zone="Europe/Berlin", hours={day: [(time(1), time(4))] for day in range(7)}
)
NEW_YORK_OFFICE = BusinessCalendar(
    time_zone="America/New_York", hours={day: [(time(9), time(17))] for day in range(5)}
)
ALWAYS_OPEN = BusinessCalendar(time_zone="Europe/Berlin")
ALWAYS_OPEN_NEW_YORK = BusinessCalendar(time_zone="America/New_York")
ALWAYS_OPEN_BUT_CHRISTMAS = BusinessCalendar(
    time_zone="Europe/Berlin", holidays=frozenset({date(2026, 12, 25)})
)
# Sunday only: the evening until midnight, the whole day, or from a time the
# clocks skip on 29 March 2026 (02:30 does not exist in Berlin that night).
SUNDAY_EVENING = BusinessCalendar(time_zone="Europe/Berlin", hours={6: [(time(18), time(0))]})
SUNDAY_ALL_DAY = BusinessCalendar(time_zone="Europe/Berlin", hours={6: [(time(0), time(0))]})
SUNDAY_FROM_SKIPPED_TIME = BusinessCalendar(
    time_zone="Europe/Berlin", hours={6: [(time(2, 30), time(5))]}
)
# Mon–Fri with a lunch break: 08:00–12:00 and 13:00–18:00 (9 h a day).
LUNCH_BREAK = BusinessCalendar(
    time_zone="Europe/Berlin",
    hours={day: [(time(13), time(18)), (time(8), time(12))] for day in range(5)},
)


def berlin(*args, fold=0) -> datetime:
    return datetime(*args, tzinfo=BERLIN, fold=fold)


def new_york(*args) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


SECONDS_BETWEEN_CASES = [
    # (what, calendar, start, end, business seconds)
    ("within one day", OFFICE, berlin(2026, 12, 7, 10), berlin(2026, 12, 7, 12, 30), 9000),
    ("across a night: 1 h + 1 h", OFFICE, berlin(2026, 12, 7, 16), berlin(2026, 12, 8, 10), 7200),
    (
        "across a weekend: Fri 2 h + Mon 2 h",
        OFFICE,
        berlin(2026, 12, 11, 15),
        berlin(2026, 12, 14, 11),
        4 * HOUR,
    ),
    (
        "across a holiday: Thu 1 h, Christmas and the weekend closed, Mon 1 h",
        OFFICE,
        berlin(2026, 12, 24, 16),
        berlin(2026, 12, 28, 10),
        2 * HOUR,
    ),
    (
        "start on a Saturday: the clock starts on Monday at 09:00",
        OFFICE,
        berlin(2026, 12, 12, 10),
        berlin(2026, 12, 14, 9, 30),
        1800,
    ),
    (
        "a whole week: five 8-hour days",
        OFFICE,
        berlin(2026, 12, 7),
        berlin(2026, 12, 14),
        5 * 8 * HOUR,
    ),
    ("both ends closed, same night", OFFICE, berlin(2026, 12, 7, 18), berlin(2026, 12, 8, 8), 0),
    (
        "instants given in UTC: 10:00–12:00 in Berlin",
        OFFICE,
        datetime(2026, 12, 7, 9, tzinfo=UTC),
        datetime(2026, 12, 7, 11, tzinfo=UTC),
        2 * HOUR,
    ),
    (
        "lunch break: 10:00–12:00 and 13:00–14:00",
        LUNCH_BREAK,
        berlin(2026, 12, 7, 10),
        berlin(2026, 12, 7, 14),
        3 * HOUR,
    ),
    ("start == end", OFFICE, berlin(2026, 12, 7, 10), berlin(2026, 12, 7, 10), 0),
    ("end before start", OFFICE, berlin(2026, 12, 7, 12), berlin(2026, 12, 7, 10), 0),
    ("24/7: one day", ALWAYS_OPEN, berlin(2026, 12, 7, 10), berlin(2026, 12, 8, 10), 24 * HOUR),
    (
        "24/7 with Christmas closed: 12 h on the 24th, 12 h on the 26th",
        ALWAYS_OPEN_BUT_CHRISTMAS,
        berlin(2026, 12, 24, 12),
        berlin(2026, 12, 26, 12),
        24 * HOUR,
    ),
    (
        "Berlin spring forward: 01:00–04:00 on 29 March 2026 lasts 2 h",
        NIGHT_SHIFT,
        berlin(2026, 3, 29),
        berlin(2026, 3, 30),
        2 * HOUR,
    ),
    (
        "Berlin spring forward weekend: 3 h on Saturday, 2 h on Sunday",
        NIGHT_SHIFT,
        berlin(2026, 3, 28),
        berlin(2026, 3, 30),
        5 * HOUR,
    ),
    (
        "Berlin spring forward: 01:30 CET to 03:30 CEST is 1 h",
        NIGHT_SHIFT,
        berlin(2026, 3, 29, 1, 30),
        berlin(2026, 3, 29, 3, 30),
        HOUR,
    ),
    (
        "Berlin fall back: 01:00–04:00 on 25 October 2026 lasts 4 h",
        NIGHT_SHIFT,
        berlin(2026, 10, 25),
        berlin(2026, 10, 26),
        4 * HOUR,
    ),
    (
        "Berlin fall back: 02:30 CEST to 02:30 CET is 1 h",
        NIGHT_SHIFT,
        berlin(2026, 10, 25, 2, 30),
        berlin(2026, 10, 25, 2, 30, fold=1),
        HOUR,
    ),
    (
        "opening at a skipped time: the clock starts at the jump, 03:00 CEST",
        SUNDAY_FROM_SKIPPED_TIME,
        berlin(2026, 3, 29),
        berlin(2026, 3, 30),
        2 * HOUR,
    ),
    (
        "closing at 00:00 means midnight: 18:00–24:00",
        SUNDAY_EVENING,
        berlin(2026, 10, 25),
        berlin(2026, 10, 26),
        6 * HOUR,
    ),
    (
        "00:00–00:00 is the whole day, 25 h on the fall-back Sunday",
        SUNDAY_ALL_DAY,
        berlin(2026, 10, 25),
        berlin(2026, 10, 26),
        25 * HOUR,
    ),
    (
        "New York: Fri 1 h, weekend with the spring forward closed, Mon 1 h",
        NEW_YORK_OFFICE,
        new_york(2026, 3, 6, 16),
        new_york(2026, 3, 9, 10),
        2 * HOUR,
    ),
    (
        "New York 24/7 across the fall back: noon to noon is 25 h",
        ALWAYS_OPEN_NEW_YORK,
        new_york(2026, 10, 31, 12),
        new_york(2026, 11, 1, 12),
        25 * HOUR,
    ),
]


@pytest.mark.parametrize(
    ("calendar", "start", "end", "expected"),
    [case[1:] for case in SECONDS_BETWEEN_CASES],
    ids=[case[0] for case in SECONDS_BETWEEN_CASES],
)
def test_business_seconds_between(calendar, start, end, expected):
    assert business_seconds_between(start, end, calendar) == expected


DEADLINE_CASES = [
    # (what, calendar, start, seconds, deadline)
    ("same day", OFFICE, berlin(2026, 12, 7, 10), HOUR, berlin(2026, 12, 7, 11)),
    (
        "exactly at closing time, not the next opening",
        OFFICE,
        berlin(2026, 12, 7, 16),
        HOUR,
        berlin(2026, 12, 7, 17),
    ),
    ("over the night", OFFICE, berlin(2026, 12, 7, 16, 30), HOUR, berlin(2026, 12, 8, 9, 30)),
    (
        "from a Saturday the clock starts on Monday",
        OFFICE,
        berlin(2026, 12, 12, 10),
        60,
        berlin(2026, 12, 14, 9, 1),
    ),
    (
        "over Christmas and the weekend",
        OFFICE,
        berlin(2026, 12, 24, 16),
        2 * HOUR,
        berlin(2026, 12, 28, 10),
    ),
    ("zero seconds: due at once", OFFICE, berlin(2026, 12, 12, 10), 0, berlin(2026, 12, 12, 10)),
    ("24/7", ALWAYS_OPEN, berlin(2026, 12, 7, 10), 26 * HOUR, berlin(2026, 12, 8, 12)),
    (
        "Berlin spring forward: 1 h after opening at 01:00 CET is 03:00 CEST",
        NIGHT_SHIFT,
        berlin(2026, 3, 29),
        HOUR,
        berlin(2026, 3, 29, 3),
    ),
    (
        "Berlin fall back: 2 h after 01:00 is the second 02:00",
        NIGHT_SHIFT,
        berlin(2026, 10, 25),
        2 * HOUR,
        berlin(2026, 10, 25, 2, fold=1),
    ),
    (
        "New York: over the spring-forward weekend",
        NEW_YORK_OFFICE,
        new_york(2026, 3, 6, 16),
        2 * HOUR,
        new_york(2026, 3, 9, 10),
    ),
]


@pytest.mark.parametrize(
    ("calendar", "start", "seconds", "expected"),
    [case[1:] for case in DEADLINE_CASES],
    ids=[case[0] for case in DEADLINE_CASES],
)
def test_business_deadline(calendar, start, seconds, expected):
    deadline = business_deadline(start, seconds, calendar)
    # In UTC: datetime's == is False across zones for a time the clocks repeat.
    assert deadline == expected.astimezone(UTC)
    assert deadline.tzinfo == UTC


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        business_seconds_between(datetime(2026, 12, 7, 10), berlin(2026, 12, 7, 12), OFFICE)
    with pytest.raises(ValueError, match="aware"):
        business_deadline(datetime(2026, 12, 7, 10), 60, OFFICE)


def test_negative_seconds_are_refused():
    with pytest.raises(ValueError, match="negative"):
        business_deadline(berlin(2026, 12, 7, 10), -1, OFFICE)


@pytest.mark.parametrize("hours", [{0: [(time(9), time(17))]}, {}], ids=["mondays", "24/7"])
def test_a_calendar_closed_for_over_400_days_has_no_deadline(hours):
    every_day = frozenset(date(2026, 1, 1) + timedelta(days=n) for n in range(500))
    calendar = BusinessCalendar(time_zone="Europe/Berlin", hours=hours, holidays=every_day)
    with pytest.raises(ValueError, match="closed for more than 400 days"):
        business_deadline(berlin(2026, 1, 1), 60, calendar)
    # Counting seconds over such a stretch is fine: there are none.
    assert business_seconds_between(berlin(2026, 1, 1), berlin(2027, 1, 1), calendar) == 0


def test_a_long_but_finite_closure_still_reaches_the_deadline():
    closed = frozenset(date(2026, 1, 1) + timedelta(days=n) for n in range(300))
    calendar = BusinessCalendar(time_zone="Europe/Berlin", holidays=closed)
    assert business_deadline(berlin(2026, 1, 1), 60, calendar) == berlin(2026, 10, 28, 0, 1)


def test_the_calendar_sorts_intervals_and_is_hashable():
    assert LUNCH_BREAK.hours[0] == ((time(8), time(12)), (time(13), time(18)))
    assert hash(LUNCH_BREAK) == hash(
        BusinessCalendar(
            time_zone="Europe/Berlin",
            hours={day: [(time(8), time(12)), (time(13), time(18))] for day in range(5)},
        )
    )


# --- Deadline is the inverse of seconds-between ------------------------------------------

CALENDARS = [
    OFFICE,
    NIGHT_SHIFT,
    NEW_YORK_OFFICE,
    ALWAYS_OPEN_BUT_CHRISTMAS,
    LUNCH_BREAK,
    SUNDAY_FROM_SKIPPED_TIME,
    SUNDAY_ALL_DAY,
]
YEAR_2026 = datetime(2026, 1, 1, tzinfo=UTC)
# Whole seconds through 2026, with both DST changes of Berlin and New York.
instants = st.integers(min_value=0, max_value=365 * 86400).map(
    lambda offset: YEAR_2026 + timedelta(seconds=offset)
)


@settings(max_examples=300, deadline=None)
@given(
    calendar=st.sampled_from(CALENDARS),
    start=instants,
    seconds=st.integers(min_value=0, max_value=30 * 86400),
)
def test_deadline_is_the_inverse_of_seconds_between(calendar, start, seconds):
    deadline = business_deadline(start, seconds, calendar)
    assert deadline >= start
    assert business_seconds_between(start, deadline, calendar) == seconds
    if seconds:
        # The earliest such instant: one second less is one business second short.
        assert business_seconds_between(start, deadline - timedelta(seconds=1), calendar) == (
            seconds - 1
        )


@settings(max_examples=200, deadline=None)
@given(calendar=st.sampled_from(CALENDARS), a=instants, b=instants, c=instants)
def test_seconds_between_adds_up_over_consecutive_ranges(calendar, a, b, c):
    a, b, c = sorted([a, b, c])
    assert business_seconds_between(a, c, calendar) == (
        business_seconds_between(a, b, calendar) + business_seconds_between(b, c, calendar)
    )


# --- calendar_for -------------------------------------------------------------------------


@pytest.mark.django_db
def test_calendar_for_reads_the_brands_rows_in_two_queries(
    brand, other_brand, django_assert_num_queries
):
    BusinessHours.objects.create(brand=brand, weekday=0, opens=time(13), closes=time(18))
    BusinessHours.objects.create(brand=brand, weekday=0, opens=time(8), closes=time(12))
    BusinessHours.objects.create(brand=other_brand, weekday=2, opens=time(9), closes=time(10))
    BrandHoliday.objects.create(brand=brand, date=date(2026, 12, 25), name="Christmas Day")
    BrandHoliday.objects.create(brand=other_brand, date=date(2026, 12, 26), name="Boxing Day")
    with django_assert_num_queries(2):
        calendar = calendar_for(brand)
    assert calendar == BusinessCalendar(
        time_zone="Europe/Berlin",
        hours={0: [(time(8), time(12)), (time(13), time(18))]},
        holidays=frozenset({date(2026, 12, 25)}),
    )
    assert not calendar.is_always_open


@pytest.mark.django_db
def test_calendar_for_a_brand_without_hours_is_open_24_7(brand):
    calendar = calendar_for(brand)
    assert calendar.is_always_open
    assert business_seconds_between(berlin(2026, 12, 7), berlin(2026, 12, 8), calendar) == 86400


# --- Services -------------------------------------------------------------------------------


def week(brand):
    return list(
        BusinessHours.objects.filter(brand=brand)
        .order_by("weekday", "opens")
        .values_list("weekday", "opens", "closes")
    )


def audit_actions(brand):
    return list(AuditEvent.objects.filter(brand=brand).values_list("action", flat=True))


@pytest.mark.django_db
def test_admin_sets_the_weekly_hours_audited(brand, brand_admin):
    business_hours_set(
        brand=brand,
        actor=brand_admin,
        hours={0: [(time(13), time(18)), (time(8), time(12))], 5: [(time(9), time(14))], 6: []},
    )
    assert week(brand) == [
        (0, time(8), time(12)),
        (0, time(13), time(18)),
        (5, time(9), time(14)),
    ]
    event = AuditEvent.objects.get(brand=brand, action="business_hours.set")
    assert event.actor == brand_admin
    before, after = event.changes["hours"]
    assert before == {"all": "Open 24/7"}
    assert after["Monday"] == "08:00–12:00, 13:00–18:00"
    assert after["Sunday"] == "Closed"


@pytest.mark.django_db
def test_setting_the_hours_replaces_all_rows(brand, brand_admin):
    business_hours_set(brand=brand, actor=brand_admin, hours={0: [(time(8), time(12))]})
    business_hours_set(brand=brand, actor=brand_admin, hours={2: [(time(18), time(0))]})
    assert week(brand) == [(2, time(18), time(0))]
    business_hours_set(brand=brand, actor=brand_admin, hours={})
    assert week(brand) == []
    assert audit_actions(brand).count("business_hours.set") == 3


@pytest.mark.django_db
def test_saving_the_same_hours_again_records_nothing(brand, brand_admin):
    hours = {0: [(time(8), time(12))]}
    business_hours_set(brand=brand, actor=brand_admin, hours=hours)
    business_hours_set(brand=brand, actor=brand_admin, hours=hours)
    assert audit_actions(brand).count("business_hours.set") == 1


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({0: [(time(12), time(8))]}, "Monday: closing time 08:00 must be after opening time 12:00"),
        ({1: [(time(9), time(9))]}, "Tuesday: closing time 09:00 must be after opening time 09:00"),
        (
            {2: [(time(8), time(13)), (time(12), time(18))]},
            "Wednesday: 08:00–13:00 overlaps 12:00–18:00",
        ),
        (
            {3: [(time(20), time(0)), (time(8), time(21))]},
            "Thursday: 08:00–21:00 overlaps 20:00–24:00",
        ),
        (
            {4: [(time(8), time(9)), (time(10), time(11)), (time(12), time(13))]},
            "Friday: at most 2 opening intervals a day, not 3",
        ),
        ({5: [(time(8), None)]}, "Saturday: give both the opening and the closing time"),
        ({6: [(time(8, 0, 30), time(9))]}, "Sunday: use whole minutes"),
        ({7: [(time(8), time(9))]}, "Unknown weekday 7"),
    ],
    ids=[
        "closes-before",
        "closes-equal",
        "overlap",
        "overlap-midnight",
        "three",
        "half",
        "secs",
        "day",
    ],
)
@pytest.mark.django_db
def test_bad_hours_change_nothing(brand, brand_admin, hours, message):
    business_hours_set(brand=brand, actor=brand_admin, hours={0: [(time(9), time(17))]})
    with pytest.raises(ValidationFailed) as refused:
        business_hours_set(brand=brand, actor=brand_admin, hours=hours)
    assert message in refused.value.message
    assert any(message in problem for problem in refused.value.fields["hours"])
    assert week(brand) == [(0, time(9), time(17))]
    assert audit_actions(brand).count("business_hours.set") == 1


@pytest.mark.django_db
def test_touching_intervals_are_not_an_overlap(brand, brand_admin):
    business_hours_set(
        brand=brand, actor=brand_admin, hours={0: [(time(8), time(12)), (time(12), time(0))]}
    )
    assert len(week(brand)) == 2


@pytest.mark.django_db
def test_only_the_brands_admins_set_hours(brand, brand_viewer, other_admin):
    for actor in (brand_viewer, other_admin):
        with pytest.raises(PermissionDenied, match="Only admins of Acme Outdoors"):
            business_hours_set(brand=brand, actor=actor, hours={0: [(time(9), time(17))]})
    assert week(brand) == []
    assert audit_actions(brand) == []


@pytest.mark.django_db
def test_admin_adds_and_removes_a_holiday_audited(brand, brand_admin):
    holiday = holiday_add(
        brand=brand, actor=brand_admin, date=date(2026, 12, 25), name="  Christmas Day "
    )
    assert (holiday.date, holiday.name) == (date(2026, 12, 25), "Christmas Day")
    added = AuditEvent.objects.get(brand=brand, action="holiday.added")
    assert added.changes == {"date": "2026-12-25", "name": "Christmas Day"}
    holiday_remove(holiday=holiday, actor=brand_admin)
    assert not BrandHoliday.objects.filter(brand=brand).exists()
    removed = AuditEvent.objects.get(brand=brand, action="holiday.removed")
    assert removed.changes == {"date": "2026-12-25", "name": "Christmas Day"}


@pytest.mark.parametrize(
    ("day", "name", "field", "message"),
    [
        (None, "Christmas Day", "date", "Choose the date of the holiday."),
        (date(2026, 12, 25), "   ", "name", "Give the holiday a name"),
        (date(2026, 12, 25), "x" * 81, "name", "Keep the name to 80 characters (it has 81)."),
    ],
    ids=["no-date", "no-name", "long-name"],
)
@pytest.mark.django_db
def test_bad_holidays_change_nothing(brand, brand_admin, day, name, field, message):
    with pytest.raises(ValidationFailed) as refused:
        holiday_add(brand=brand, actor=brand_admin, date=day, name=name)
    assert message in refused.value.fields[field][0]
    assert not BrandHoliday.objects.exists()
    assert audit_actions(brand) == []


@pytest.mark.django_db
def test_a_date_is_a_holiday_once(brand, brand_admin, other_brand, other_admin):
    holiday_add(brand=brand, actor=brand_admin, date=date(2026, 12, 25), name="Christmas Day")
    with pytest.raises(Conflict, match="already a holiday"):
        holiday_add(brand=brand, actor=brand_admin, date=date(2026, 12, 25), name="Xmas")
    assert list(BrandHoliday.objects.filter(brand=brand).values_list("name", flat=True)) == [
        "Christmas Day"
    ]
    assert audit_actions(brand) == ["holiday.added"]
    # Another brand has its own calendar.
    holiday_add(brand=other_brand, actor=other_admin, date=date(2026, 12, 25), name="Jul")


@pytest.mark.django_db
def test_only_the_brands_admins_manage_holidays(brand, brand_admin, brand_viewer, other_admin):
    holiday = holiday_add(brand=brand, actor=brand_admin, date=date(2026, 12, 25), name="Xmas")
    for actor in (brand_viewer, other_admin):
        with pytest.raises(PermissionDenied):
            holiday_add(brand=brand, actor=actor, date=date(2026, 12, 26), name="Boxing Day")
        with pytest.raises(PermissionDenied):
            holiday_remove(holiday=holiday, actor=actor)
    assert list(BrandHoliday.objects.values_list("name", flat=True)) == ["Xmas"]
    assert audit_actions(brand) == ["holiday.added"]
