"""Drill-downs list exactly the tasks (or reviews) behind a dashboard figure:
for each metric and filter, the count of raw rows equals the roll-up's sum."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.http import QueryDict

from analytics.drilldown import METRICS, UnknownMetric, drilldown
from analytics.filters import MetricFilter
from analytics.rollup import rollup_recompute
from analytics.selectors import figures
from brands.models import BrandRole, PoolMembership, PoolStatus
from gigs.models import TaskEventKind as K
from qa.models import Review, ReviewStatus
from tests.analytics.histories import task_with_history
from tests.brands.factories import MembershipFactory
from tests.gigs.factories import GigFactory
from tests.marketplace.factories import AgentUserFactory
from tests.qa.factories import EXAMPLE_RATINGS, published_scorecard

# 10:00 in Berlin on 2 March 2026; the range is 1–7 March (Berlin days).
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = 3600
DAY = 24 * HOUR
START, END = "2026-03-01", "2026-03-07"

# The roll-up's sum behind each drill-down metric.
SUMS = {
    "created": lambda f: f.created,
    "waits": lambda f: f.waits,
    "first_response": lambda f: f.first_responses,
    "closed": lambda f: f.closed,
    "resolved": lambda f: f.resolved,
    "escalated": lambda f: f.escalated,
    "cancelled": lambda f: f.cancelled,
    "fcr": lambda f: f.first_contact_resolutions,
    "handled": lambda f: f.handled,
    "rated": lambda f: f.rated,
    "satisfied": lambda f: f.satisfied,
    "unsatisfied": lambda f: f.rated - f.satisfied,
    "qa": lambda f: f.qa_reviews,
    "qa_passed": lambda f: f.qa_passed,
}


@pytest.fixture
def world(brand):
    return build_world(brand)


def build_world(brand) -> dict:
    """Two gigs, three pool agents (tiers 1, 3, 3), and histories covering
    every outcome, a release and re-claim, a lapsed offer, a late rating, and
    tasks straddling both ends of the range."""
    brand.time_zone = "Europe/Berlin"
    brand.save(update_fields=["time_zone"])
    en = GigFactory(brand=brand, title="Orders", language="en")
    billing = GigFactory(brand=brand, title="Billing", language="en")
    a1, a2, a3 = AgentUserFactory(), AgentUserFactory(), AgentUserFactory()
    for agent, tier in ((a1, 1), (a2, 3), (a3, 3)):
        PoolMembership.objects.create(
            brand=brand, agent=agent, status=PoolStatus.APPROVED, tier=tier
        )
    history = task_with_history
    # Answered, resolved in one session, rated 5: first-contact, satisfied.
    history(
        en,
        T0,
        (0, K.CREATED),
        (0, K.CUSTOMER_MESSAGE),
        (60, K.CLAIMED, a1),
        (120, K.AGENT_MESSAGE, a1),
        (600, K.RESOLVED, a1),
        (700, K.RATED, None, {"score": 5}),
    )
    # Released and re-claimed by another agent, in German, rated 2.
    history(
        en,
        T0 + timedelta(hours=2),
        (0, K.CREATED),
        (0, K.CUSTOMER_MESSAGE),
        (30, K.CLAIMED, a1),
        (300, K.RELEASED, a1, {"reason": "released"}),
        (300, K.QUEUED),
        (400, K.CLAIMED, a2),
        (500, K.AGENT_MESSAGE, a2),
        (900, K.RESOLVED, a2),
        (1000, K.RATED, None, {"score": 2}),
        language="de",
    )
    # A lapsed offer, then claimed and escalated.
    history(
        billing,
        T0 + timedelta(days=1),
        (0, K.CREATED),
        (10, K.OFFERED, a3),
        (70, K.RESERVATION_LAPSED, a3),
        (70, K.QUEUED),
        (100, K.CLAIMED, a2),
        (200, K.AGENT_MESSAGE, a2),
        (400, K.ESCALATED, a2),
    )
    # Never claimed: cancelled.
    history(billing, T0 + timedelta(days=1, hours=3), (0, K.CREATED), (900, K.CANCELLED))
    # Resolved the next day, rated two days after that (a late rating).
    history(
        en,
        T0 + timedelta(days=2),
        (0, K.CREATED),
        (0, K.CUSTOMER_MESSAGE),
        (200, K.CLAIMED, a3),
        (300, K.AGENT_MESSAGE, a3),
        (DAY, K.RESOLVED, a3),
        (3 * DAY, K.RATED, None, {"score": 4}),
    )
    # Created before the range, resolved in it.
    history(
        en,
        T0 - timedelta(days=3),
        (0, K.CREATED),
        (60, K.CLAIMED, a1),
        (3 * DAY + 100, K.AGENT_MESSAGE, a1),
        (3 * DAY + 200, K.RESOLVED, a1),
    )
    # Created in the range, closed after it.
    history(
        billing,
        T0 + timedelta(days=5),
        (0, K.CREATED),
        (60, K.CLAIMED, a1),
        (120, K.AGENT_MESSAGE, a1),
        (4 * DAY, K.RESOLVED, a1),
        (4 * DAY + 10, K.RATED, None, {"score": 5}),
    )
    # Still open: created and claimed, nothing else.
    open_task = history(en, T0 + timedelta(days=3), (0, K.CREATED), (20, K.CLAIMED, a2))
    # QA: two counting reviews in range (one passed), one draft left out.
    admin = MembershipFactory(brand=brand, role=BrandRole.ADMIN).user
    version = published_scorecard(actor=admin, brand=brand)
    reviews = ((a2, True, ReviewStatus.SUBMITTED), (a1, False, ReviewStatus.SUBMITTED))
    for agent, passed, status in (*reviews, (a1, True, ReviewStatus.DRAFT)):
        Review.objects.create(
            task=open_task,
            brand=brand,
            gig=en,
            agent=agent,
            reviewer=admin,
            scorecard_version=version,
            status=status,
            ratings=EXAMPLE_RATINGS,
            score=Decimal("80.0") if passed else Decimal("55.0"),
            passed=passed,
            submitted_at=T0 + timedelta(days=4),
        )
    rollup_recompute(brand, T0 - timedelta(days=10), T0 + timedelta(days=20))
    return {"brand": brand, "en": en, "billing": billing, "a1": a1, "a2": a2, "a3": a3}


def metric_filter(brand, **params) -> MetricFilter:
    query = QueryDict(mutable=True)
    query.update({"start": START, "end": END, **{k: str(v) for k, v in params.items()}})
    found = MetricFilter(query, brand=brand)
    assert found.is_valid(), found.errors
    return found


def drill_count(brand, found: MetricFilter, metric: str) -> int:
    period = found.period
    return drilldown(
        brand=brand, metric=metric, start=period.start, end=period.end, **found.active_filters
    ).rows.count()


FILTERS = [
    {},
    {"gig": "billing"},
    {"language": "de"},
    {"agent": "a1"},
    {"agent": "a2"},
    {"tier": 3},
    {"gig": "en", "agent": "a3"},
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(map(str, f.items())) or "all")
def test_every_drilldown_counts_what_the_rollup_sums(world, filters):
    brand = world["brand"]
    params = {
        name: (world[value].pk if name in ("gig", "agent") else value)
        for name, value in filters.items()
    }
    found = metric_filter(brand, **params)
    total = figures(found.qs)
    counts = {metric: drill_count(brand, found, metric) for metric in METRICS}
    assert counts == {metric: SUMS[metric](total) for metric in METRICS}


def test_the_unfiltered_counts_are_the_known_answers(world):
    brand = world["brand"]
    found = metric_filter(brand)
    counts = {metric: drill_count(brand, found, metric) for metric in METRICS}
    # Seven tasks created in range; the one created before it closes in it, the
    # one created on 7 March closes after it; the late rating counts at its close.
    assert counts == {
        "created": 7,
        "waits": 6,
        "first_response": 6,
        "closed": 6,
        "resolved": 4,
        "escalated": 1,
        "cancelled": 1,
        "fcr": 3,
        "handled": 5,
        "rated": 3,
        "satisfied": 2,
        "unsatisfied": 1,
        "qa": 2,
        "qa_passed": 1,
    }


def test_the_agent_of_a_creation_figure_is_the_first_claimer(world):
    brand = world["brand"]
    found = metric_filter(brand, agent=world["a1"].pk)
    period = found.period
    created = drilldown(
        brand=brand, metric="created", start=period.start, end=period.end, agent=world["a1"]
    )
    # a1 claimed first the released task too, though a2 resolved it.
    assert created.rows.count() == 3
    languages = sorted(row.task.language for row in created.rows)
    assert languages == ["de", "en", "en"]


def test_another_brands_tasks_never_show(world, other_brand, other_gig):
    agent = world["a1"]
    task_with_history(
        other_gig, T0, (0, K.CREATED), (10, K.CLAIMED, agent), (20, K.RESOLVED, agent)
    )
    rollup_recompute(other_brand, T0 - timedelta(days=1), T0 + timedelta(days=1))
    found = metric_filter(world["brand"])
    assert drill_count(world["brand"], found, "created") == 7
    assert drill_count(world["brand"], found, "closed") == 6


def test_an_unknown_metric_is_refused(world):
    with pytest.raises(UnknownMetric):
        drilldown(brand=world["brand"], metric="nonsense", start=T0, end=T0 + timedelta(days=1))
