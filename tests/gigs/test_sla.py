"""SLA checks from hand-built event histories with hand-worked answers (docs/metrics.md, SLA)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from brands.business_hours import BusinessCalendar
from gigs.metrics import Event
from gigs.models import TaskEventKind as K
from gigs.sla import SLACheck, SLAKind, SLAStatus, SLATargets, at_risk, breach_rate, task_sla

BERLIN = ZoneInfo("Europe/Berlin")
A1, A2 = 11, 22
# Monday to Friday 09:00–17:00 in Berlin; Friday 6 March 2026 is a holiday.
OFFICE = BusinessCalendar(
    time_zone="Europe/Berlin",
    hours={day: [(time(9), time(17))] for day in range(5)},
    holidays=frozenset({date(2026, 3, 6)}),
)
NIGHTS = BusinessCalendar(
    time_zone="Europe/Berlin", hours={day: [(time(1), time(4))] for day in range(7)}
)
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    """March ``day`` 2026 at ``hour:minute`` on Berlin's wall clock (CET, UTC+1)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def history(*steps) -> list[Event]:
    """``(moment or seconds after T0, kind[, agent id])`` steps as events."""
    events = []
    for moment, kind, *agent in steps:
        when = moment if isinstance(moment, datetime) else at(moment)
        events.append(Event(kind, when, agent[0] if agent else None))
    return events


def wall(**seconds) -> SLATargets:
    return SLATargets(business_hours=False, **seconds)


def office(**seconds) -> SLATargets:
    return SLATargets(business_hours=True, **seconds)


def check(kind, started, due, done, status, agent, target, late=None, stopped=None) -> SLACheck:
    return SLACheck(
        kind=kind,
        started_at=started,
        due_at=due,
        done_at=done,
        status=status,
        agent_id=agent,
        target_seconds=target,
        stopped_at=stopped,
        late_seconds=late,
    )


FIRST, NEXT, RESOLUTION = SLAKind.FIRST_RESPONSE, SLAKind.NEXT_RESPONSE, SLAKind.RESOLUTION
MET, BREACHED, PENDING = SLAStatus.MET, SLAStatus.BREACHED, SLAStatus.PENDING

# (events, targets, as_of, the checks expected)
SCENARIOS = {
    # Monday 16:50 + 30 business minutes: 10 on Monday, the clock stops at
    # 17:00 and runs again on Tuesday 09:00 for 20 → due Tuesday 09:20.
    "business hours: the clock stops overnight": (
        history(
            (berlin(2, 16, 50), K.CREATED),
            (berlin(3, 9, 5), K.CLAIMED, A1),
            (berlin(3, 9, 15), K.AGENT_MESSAGE, A1),
        ),
        office(first_response_seconds=1800),
        berlin(4, 12),
        [check(FIRST, berlin(2, 16, 50), berlin(3, 9, 20), berlin(3, 9, 15), MET, A1, 1800)],
    ),
    # Thursday 16:45 + 1 business hour: 15 minutes on Thursday, Friday is a
    # holiday, the weekend is closed, 45 minutes on Monday → due Monday 09:45.
    # The reply at 10:00 is 15 minutes late; A1 held the task at 09:45.
    "business hours: a holiday and a weekend stop the clock": (
        history(
            (berlin(5, 16, 45), K.CREATED),
            (berlin(9, 9, 30), K.CLAIMED, A1),
            (berlin(9, 10), K.AGENT_MESSAGE, A1),
        ),
        office(first_response_seconds=3600),
        berlin(10, 12),
        [check(FIRST, berlin(5, 16, 45), berlin(9, 9, 45), berlin(9, 10), BREACHED, A1, 3600, 900)],
    ),
    # The same task counted around the clock: due Thursday 17:45; the reply
    # on Monday at 10:00 is 3 days 16 h 15 min late; nobody held it at 17:45.
    "wall clock: nights, holidays and weekends count": (
        history(
            (berlin(5, 16, 45), K.CREATED),
            (berlin(9, 9, 30), K.CLAIMED, A1),
            (berlin(9, 10), K.AGENT_MESSAGE, A1),
        ),
        wall(first_response_seconds=3600),
        berlin(10, 12),
        [
            check(
                FIRST,
                berlin(5, 16, 45),
                berlin(5, 17, 45),
                berlin(9, 10),
                BREACHED,
                None,
                3600,
                3 * 86400 + 16 * 3600 + 15 * 60,
            )
        ],
    ),
    # First reply at 120 (target 300: met). Customer at 200 and 250 is one
    # run: due 200 + 240 = 440, answered at 500 → 60 s late. Customer at 600:
    # due 840, answered at 700 → met. Customer at 900: due 1140, pending at 1000.
    "next-response runs": (
        history(
            (0, K.CREATED),
            (0, K.CUSTOMER_MESSAGE),
            (60, K.CLAIMED, A1),
            (120, K.AGENT_MESSAGE, A1),
            (200, K.CUSTOMER_MESSAGE),
            (250, K.CUSTOMER_MESSAGE),
            (500, K.AGENT_MESSAGE, A1),
            (600, K.CUSTOMER_MESSAGE),
            (700, K.AGENT_MESSAGE, A1),
            (900, K.CUSTOMER_MESSAGE),
        ),
        wall(first_response_seconds=300, next_response_seconds=240),
        at(1000),
        [
            check(FIRST, at(0), at(300), at(120), MET, A1, 300),
            check(NEXT, at(200), at(440), at(500), BREACHED, A1, 240, 60),
            check(NEXT, at(600), at(840), at(700), MET, A1, 240),
            check(NEXT, at(900), at(1140), None, PENDING, A1, 240),
        ],
    ),
    # A1 lets go at 100; A2 claims at 200 and holds it when the target runs
    # out at 300: the breach is A2's.
    "a release and re-claim: the holder at the due moment is responsible": (
        history(
            (0, K.CREATED),
            (10, K.CLAIMED, A1),
            (100, K.RELEASED, A1),
            (100, K.QUEUED),
            (200, K.CLAIMED, A2),
            (400, K.AGENT_MESSAGE, A2),
        ),
        wall(first_response_seconds=300),
        at(1000),
        [check(FIRST, at(0), at(300), at(400), BREACHED, A2, 300, 100)],
    ),
    # A1 still held the task at 300 and let go at 350: the breach is A1's,
    # though A2 wrote the late reply.
    "a release after the due moment: the breach stays with the earlier holder": (
        history(
            (0, K.CREATED),
            (10, K.CLAIMED, A1),
            (350, K.RELEASED, A1),
            (350, K.QUEUED),
            (360, K.CLAIMED, A2),
            (400, K.AGENT_MESSAGE, A2),
        ),
        wall(first_response_seconds=300),
        at(1000),
        [check(FIRST, at(0), at(300), at(400), BREACHED, A1, 300, 100)],
    ),
    "pending one second before the due moment": (
        history((0, K.CREATED)),
        wall(first_response_seconds=300),
        at(299),
        [check(FIRST, at(0), at(300), None, PENDING, None, 300)],
    ),
    "pending at the due moment itself": (
        history((0, K.CREATED)),
        wall(first_response_seconds=300),
        at(300),
        [check(FIRST, at(0), at(300), None, PENDING, None, 300)],
    ),
    "breached one second after it, waiting in the queue": (
        history((0, K.CREATED)),
        wall(first_response_seconds=300),
        at(301),
        [check(FIRST, at(0), at(300), None, BREACHED, None, 300, 1)],
    ),
    "events after as_of are not seen": (
        history((0, K.CREATED), (500, K.CLAIMED, A1), (600, K.AGENT_MESSAGE, A1)),
        wall(first_response_seconds=300),
        at(400),
        [check(FIRST, at(0), at(300), None, BREACHED, None, 300, 100)],
    ),
    "resolved in time: met by the resolver": (
        history(
            (0, K.CREATED),
            (10, K.CLAIMED, A1),
            (20, K.AGENT_MESSAGE, A1),
            (3000, K.RESOLVED, A1),
        ),
        wall(resolution_seconds=3600),
        at(9000),
        [check(RESOLUTION, at(0), at(3600), at(3000), MET, A1, 3600)],
    ),
    # An escalation is a close without a resolution: before the due moment
    # the target never came due (no check); after it, a breach up to the close.
    "escalated before the resolution target: no check": (
        history((0, K.CREATED), (10, K.CLAIMED, A1), (1000, K.ESCALATED, A1)),
        wall(resolution_seconds=3600),
        at(9000),
        [],
    ),
    "escalated after the resolution target: breached": (
        history((0, K.CREATED), (10, K.CLAIMED, A1), (4000, K.ESCALATED, A1)),
        wall(resolution_seconds=3600),
        at(9000),
        [check(RESOLUTION, at(0), at(3600), None, BREACHED, A1, 3600, 400, stopped=at(4000))],
    ),
    "resolved without a reply before the first-response target: no first-response check": (
        history((0, K.CREATED), (10, K.CLAIMED, A1), (100, K.RESOLVED, A1)),
        wall(first_response_seconds=300),
        at(9000),
        [],
    ),
    "closed unanswered after the target: breached, stopped at the close": (
        history((0, K.CREATED), (10, K.CLAIMED, A1), (500, K.RESOLVED, A1)),
        wall(first_response_seconds=300),
        at(9000),
        [check(FIRST, at(0), at(300), None, BREACHED, A1, 300, 200, stopped=at(500))],
    ),
    "a customer message left unanswered at the close before its target: no check": (
        history(
            (0, K.CREATED),
            (10, K.CLAIMED, A1),
            (20, K.AGENT_MESSAGE, A1),
            (30, K.CUSTOMER_MESSAGE),
            (60, K.RESOLVED, A1),
        ),
        wall(next_response_seconds=120),
        at(9000),
        [],
    ),
    "no targets, no checks": (
        history((0, K.CREATED), (10, K.CLAIMED, A1), (20, K.AGENT_MESSAGE, A1)),
        wall(),
        at(9000),
        [],
    ),
    # Open 01:00–04:00 every night; on 29 March 2026 Berlin's clocks jump
    # from 02:00 to 03:00, so that night is open 2 real hours (00:00–02:00
    # UTC). Created 01:30 local (00:30 UTC) with a 2-hour target: 1.5 hours
    # that night, 0.5 the next from 01:00 CEST (23:00 UTC) → due 23:30 UTC.
    "business hours across a DST change count real seconds": (
        history((datetime(2026, 3, 29, 0, 30, tzinfo=UTC), K.CREATED)),
        office(resolution_seconds=7200),
        datetime(2026, 3, 29, 12, 0, tzinfo=UTC),
        [
            check(
                RESOLUTION,
                datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
                datetime(2026, 3, 29, 23, 30, tzinfo=UTC),
                None,
                PENDING,
                None,
                7200,
            )
        ],
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_sla_checks_match_the_hand_worked_answer(name):
    events, targets, as_of, expected = SCENARIOS[name]
    calendar = NIGHTS if "DST" in name else OFFICE
    assert task_sla(events, targets, calendar, as_of) == expected


def test_events_in_any_order_give_the_same_checks():
    events, targets, as_of, expected = SCENARIOS["next-response runs"]
    assert task_sla(list(reversed(events)), targets, OFFICE, as_of) == expected


def test_no_calendar_counts_around_the_clock():
    events = history((berlin(5, 16, 45), K.CREATED))
    [result] = task_sla(events, office(first_response_seconds=3600), None, berlin(5, 17))
    assert result.due_at == berlin(5, 17, 45)


def test_a_task_with_no_events_has_no_checks():
    assert task_sla([], wall(first_response_seconds=60), OFFICE, at(0)) == []


RISK = {
    # Target 1000 s, due at 1000: at risk from 800 (200 s = 20 % left).
    "plenty of time left": (at(799), False),
    "20 % of the target left": (at(800), True),
    "due now": (at(1000), True),
}


@pytest.mark.parametrize("name", RISK)
def test_at_risk_is_pending_and_within_a_fifth_of_the_target(name):
    as_of, expected = RISK[name]
    [pending] = task_sla(history((0, K.CREATED)), wall(first_response_seconds=1000), OFFICE, as_of)
    assert at_risk(pending, as_of) is expected


def test_breached_and_met_checks_are_never_at_risk():
    [breached] = task_sla(
        history((0, K.CREATED)), wall(first_response_seconds=1000), OFFICE, at(1001)
    )
    [met] = task_sla(
        history((0, K.CREATED), (5, K.AGENT_MESSAGE, A1)),
        wall(first_response_seconds=1000),
        OFFICE,
        at(999),
    )
    assert breached.status == BREACHED and not at_risk(breached, at(1001))
    assert met.status == MET and not at_risk(met, at(999))


def test_a_custom_threshold_widens_the_window():
    [pending] = task_sla(
        history((0, K.CREATED)), wall(first_response_seconds=1000), OFFICE, at(500)
    )
    assert not at_risk(pending, at(500))
    assert at_risk(pending, at(500), threshold=0.5)


@pytest.mark.parametrize(
    ("breached", "decided", "expected"),
    [(0, 0, None), (0, 4, 0.0), (1, 3, 33.3), (3, 3, 100.0)],
)
def test_breach_rate(breached, decided, expected):
    assert breach_rate(breached, decided) == expected
