"""For random event histories, the roll-up path gives the figures computed
directly from the events (``gigs.metrics.task_facts``), whatever the order
the events arrive in across passes of the periodic job."""

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.rollup import rollup_pending
from analytics.selectors import (
    Period,
    figures,
    figures_by,
    metric_days,
    metric_hours,
    volume_by_weekday_hour,
)
from gigs.events import task_event_new, task_events_record
from gigs.metrics import Event, next_responses, task_facts
from gigs.models import TaskEventKind as K
from tests.brands.factories import BrandFactory
from tests.gigs.factories import GigFactory, TaskFactory
from tests.marketplace.factories import AgentUserFactory

T0 = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)  # DST ends in Europe the next night
STEPS = [1, 30, 300, 3600, 5 * 3600, 26 * 3600]


def random_history(
    rng: random.Random, agents: list[int]
) -> list[tuple[int, str, int | None, dict]]:
    """A plausible history: claims, offers, replies, releases, closes, late
    ratings and reopens, in the orders the services write them."""
    t = rng.randint(0, 48 * 3600)
    steps = [(t, K.CREATED, None, {}), (t, K.CUSTOMER_MESSAGE, None, {})]
    holder = None
    closed = None
    for _ in range(rng.randint(0, 14)):
        t += rng.choice(STEPS)
        if closed is not None:
            choice = rng.choice(["rate", "reopen", "stop"])
            if choice == "rate" and closed == K.RESOLVED:
                steps.append((t, K.RATED, None, {"score": rng.randint(1, 5)}))
            elif choice == "reopen":
                steps.append((t, K.REOPENED, None, {}))
                closed = None
            else:
                break
        elif holder is None:
            choice = rng.choice(["claim", "claim", "offer", "cancel", "customer"])
            if choice == "claim":
                holder = rng.choice(agents)
                steps.append((t, K.CLAIMED, holder, {}))
            elif choice == "offer":
                agent = rng.choice(agents)
                steps.append((t, K.OFFERED, agent, {}))
                t += rng.choice(STEPS[:3])
                steps.append(
                    (t, rng.choice([K.RESERVATION_LAPSED, K.RESERVATION_DECLINED]), agent, {})
                )
                steps.append((t, K.QUEUED, None, {}))
            elif choice == "cancel":
                steps.append((t, K.CANCELLED, None, {}))
                closed = K.CANCELLED
            else:
                steps.append((t, K.CUSTOMER_MESSAGE, None, {}))
        else:
            choice = rng.choice(["reply", "reply", "customer", "release", "resolve", "escalate"])
            if choice == "reply":
                steps.append((t, K.AGENT_MESSAGE, holder, {}))
            elif choice == "customer":
                steps.append((t, K.CUSTOMER_MESSAGE, None, {}))
            elif choice == "release":
                steps.append((t, K.RELEASED, holder, {"reason": "released"}))
                steps.append((t, K.QUEUED, None, {}))
                holder = None
            else:
                kind = K.RESOLVED if choice == "resolve" else K.ESCALATED
                steps.append((t, kind, holder, {}))
                holder, closed = None, kind
    return steps


def direct_sums(histories: list[list[Event]], start: datetime, end: datetime) -> dict:
    """Per agent (and ``None``), the event figures straight from ``task_facts``."""
    sums: dict = {}

    def add(agent, **values):
        sums.setdefault(agent, Counter()).update(values)

    def within(moment):
        return moment is not None and start <= moment < end

    for events in histories:
        facts = task_facts(events)
        if within(facts.created_at):
            add(
                facts.first_claimed_by_id,
                created=1,
                total_wait_seconds=round(facts.total_wait_seconds),
                waits=int(facts.wait_seconds is not None),
                wait_seconds=round(facts.wait_seconds or 0),
            )
        if within(facts.first_replied_at):
            add(
                facts.first_replied_by_id,
                first_responses=1,
                first_response_seconds=round(facts.first_response_seconds),
            )
        for reply, seconds in next_responses(events):
            if within(reply.occurred_at):
                add(reply.agent_id, next_responses=1, next_response_seconds=round(seconds))
        for event in events:
            if event.kind in (K.RESERVATION_LAPSED, K.RESERVATION_DECLINED) and within(
                event.occurred_at
            ):
                add(event.agent_id, offers_missed=1)
        if within(facts.closed_at):
            add(
                facts.closed_by_id,
                closed=1,
                resolved=int(facts.resolved),
                escalated=int(facts.escalated),
                cancelled=int(facts.outcome == K.CANCELLED),
                first_contact_resolutions=int(facts.first_contact_resolution),
                back_and_forths=facts.back_and_forths,
                rated=int(facts.csat_score is not None),
                satisfied=int(bool(facts.csat_satisfied)),
                csat_points=facts.csat_score or 0,
            )
    return sums


COMPARED = [
    "created",
    "waits",
    "wait_seconds",
    "total_wait_seconds",
    "first_responses",
    "first_response_seconds",
    "next_responses",
    "next_response_seconds",
    "offers_missed",
    "closed",
    "resolved",
    "escalated",
    "cancelled",
    "first_contact_resolutions",
    "back_and_forths",
    "rated",
    "satisfied",
    "csat_points",
]


@pytest.mark.django_db
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    tasks=st.integers(1, 12),
    cut_hours=st.integers(0, 120),
    window=st.tuples(st.integers(0, 96), st.integers(1, 72)),
)
def test_roll_ups_equal_figures_computed_from_the_events(seed, tasks, cut_hours, window):
    rng = random.Random(seed)
    brand = BrandFactory(time_zone=rng.choice(["Europe/Berlin", "Asia/Kolkata", "UTC"]))
    gig = GigFactory(brand=brand, funded=False)
    agents = [AgentUserFactory().pk for _ in range(3)]
    cut = T0 + timedelta(hours=cut_hours)
    histories, later = [], []
    for _ in range(tasks):
        task = TaskFactory(gig=gig)
        steps = random_history(rng, agents)
        events = [
            task_event_new(task, kind, T0 + timedelta(seconds=s), agent_id=agent, **data)
            for s, kind, agent, data in steps
        ]
        histories.append([Event(e.kind, e.occurred_at, e.agent_id, e.data) for e in events])
        # What happened before the cut is written first and rolled up; the rest
        # (claims, closes, late ratings, reopens) arrives after that pass.
        task_events_record([e for e in events if e.occurred_at < cut])
        later += [e for e in events if e.occurred_at >= cut]
    rollup_pending()
    task_events_record(later)
    rollup_pending()

    # The whole history, and an arbitrary window of whole hours.
    spans = [(T0 - timedelta(days=1), T0 + timedelta(days=30))]
    first = T0 + timedelta(hours=window[0])
    spans.append((first, first + timedelta(hours=window[1])))
    for start, end in spans:
        if brand.time_zone == "Asia/Kolkata":
            start, end = start + timedelta(minutes=30), end + timedelta(minutes=30)
        rows = metric_hours(brand_ids=[brand.pk], start=start, end=end)
        expected = direct_sums(histories, start, end)
        per_agent = figures_by(rows, "agent_id")
        for agent in set(expected) | set(per_agent):
            got = per_agent[agent].sums if agent in per_agent else Counter()
            want = expected.get(agent, Counter())
            assert {name: got[name] for name in COMPARED} == {
                name: want[name] for name in COMPARED
            }, agent
        total = figures(rows)
        assert total.created == sum(c["created"] for c in expected.values())

    # The daily rows sum the hourly ones, per agent and over all agents, and
    # their hours of the day add up to the tasks created.
    zone = ZoneInfo(brand.time_zone)
    period = Period((T0 - timedelta(days=1)).date(), (T0 + timedelta(days=30)).date(), zone)
    hourly = metric_hours(brand_ids=[brand.pk], start=period.start, end=period.end)
    everyone = metric_days(first=period.first, last=period.last, brand_ids=[brand.pk])
    assert figures(everyone).sums == figures(hourly).sums
    by_agent = metric_days(
        first=period.first, last=period.last, brand_ids=[brand.pk], per_agent=True
    )
    assert {k: v.sums for k, v in figures_by(by_agent, "agent_id").items()} == {
        k: v.sums for k, v in figures_by(hourly, "agent_id").items()
    }
    grid = volume_by_weekday_hour(everyone, zone)
    assert sum(map(sum, grid)) == figures(hourly).created
    assert grid == volume_by_weekday_hour(hourly, zone)
