"""Task metrics from hand-built event histories with known answers (docs/metrics.md)."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gigs.metrics import Event, TaskFacts, task_facts
from gigs.models import TaskEventKind as K

T0 = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
DAY = 24 * 3600
A1, A2 = 11, 22


def history(*steps) -> list[Event]:
    """``(seconds after T0, kind[, agent id[, data]])`` steps as events."""
    events = []
    for step in steps:
        seconds, kind, *rest = step
        agent_id = rest[0] if rest else None
        data = rest[1] if len(rest) > 1 else {}
        events.append(Event(kind, T0 + timedelta(seconds=seconds), agent_id, data))
    return events


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


SCENARIOS = {
    "answered and rated": (
        history(
            (0, K.CREATED),
            (0, K.CUSTOMER_MESSAGE),
            (60, K.CLAIMED, A1),
            (120, K.AGENT_MESSAGE, A1),
            (300, K.CUSTOMER_MESSAGE),
            (360, K.AGENT_MESSAGE, A1),
            (600, K.RESOLVED, A1),
            (700, K.RATED, None, {"score": 5}),
        ),
        {
            "wait_seconds": 60,
            "total_wait_seconds": 60,
            "first_response_seconds": 120,
            "next_response_seconds": (60,),
            "back_and_forths": 2,
            "outcome": K.RESOLVED,
            "closed_at": at(600),
            "resolved_by_agent_id": A1,
            "first_contact_resolution": True,
            "csat_score": 5,
            "csat_satisfied": True,
            "csat_counts_at": at(600),
        },
    ),
    "a release and a re-claim": (
        history(
            (0, K.CREATED),
            (0, K.CUSTOMER_MESSAGE),
            (100, K.CLAIMED, A1),
            (200, K.RELEASED, A1, {"reason": "released"}),
            (200, K.QUEUED),
            (500, K.CLAIMED, A2),
            (550, K.AGENT_MESSAGE, A2),
            (900, K.RESOLVED, A2),
        ),
        {
            "wait_seconds": 100,
            "total_wait_seconds": 100 + 300,
            "first_response_seconds": 550,
            "back_and_forths": 1,
            "claims": 2,
            "releases": 1,
            "resolved_by_agent_id": A2,
            "first_contact_resolution": False,
            "csat_score": None,
            "csat_satisfied": None,
        },
    ),
    "a lapsed reservation": (
        history(
            (0, K.CREATED),
            (5, K.OFFERED, A1),
            (35, K.RESERVATION_LAPSED, A1),
            (35, K.QUEUED),
            (35, K.OFFERED, A2),
            (50, K.CLAIMED, A2),
            (80, K.AGENT_MESSAGE, A2),
            (300, K.RESOLVED, A2),
        ),
        {
            # Offered is still waiting: nobody works the task.
            "wait_seconds": 50,
            "total_wait_seconds": 50,
            "first_response_seconds": 80,
            "back_and_forths": 0,
            "lapsed_offers": 1,
            "claims": 1,
            "first_contact_resolution": True,
        },
    ),
    "an escalation": (
        history(
            (0, K.CREATED),
            (0, K.CUSTOMER_MESSAGE),
            (30, K.CLAIMED, A1),
            (60, K.AGENT_MESSAGE, A1),
            (400, K.ESCALATED, A1),
        ),
        {
            "wait_seconds": 30,
            "outcome": K.ESCALATED,
            "closed_at": at(400),
            "resolved_by_agent_id": None,
            "first_contact_resolution": False,
            "back_and_forths": 1,
        },
    ),
    "a late CSAT": (
        history(
            (0, K.CREATED),
            (10, K.CLAIMED, A1),
            (100, K.RESOLVED, A1),
            (100 + DAY, K.RATED, None, {"score": 3}),
        ),
        {
            "csat_score": 3,
            "csat_satisfied": False,
            "rated_at": at(100 + DAY),
            # Counted with the task's close, not the day it came.
            "csat_counts_at": at(100),
            "first_contact_resolution": True,
        },
    ),
    "a reopen": (
        history(
            (0, K.CREATED),
            (10, K.CLAIMED, A1),
            (100, K.RESOLVED, A1),
            (1000, K.REOPENED),
            (1300, K.CLAIMED, A2),
            (1500, K.RESOLVED, A2),
            (1600, K.RATED, None, {"score": 4}),
        ),
        {
            "wait_seconds": 10,
            "total_wait_seconds": 10 + 300,
            "outcome": K.RESOLVED,
            "closed_at": at(1500),
            "reopens": 1,
            "resolved_by_agent_id": A2,
            "first_contact_resolution": False,
            "csat_counts_at": at(1500),
        },
    ),
    "reopened and not closed again": (
        history((0, K.CREATED), (10, K.CLAIMED, A1), (100, K.RESOLVED, A1), (1000, K.REOPENED)),
        {"outcome": None, "closed_at": None, "first_contact_resolution": False},
    ),
    "cancelled in the queue": (
        history((0, K.CREATED), (500, K.CANCELLED)),
        {
            "wait_seconds": None,
            "total_wait_seconds": 500,
            "first_response_seconds": None,
            "outcome": K.CANCELLED,
            "claims": 0,
            "first_contact_resolution": False,
        },
    ),
    "several customer messages before an answer": (
        history(
            (0, K.CREATED),
            (0, K.CUSTOMER_MESSAGE),
            (20, K.CLAIMED, A1),
            (100, K.AGENT_MESSAGE, A1),
            (200, K.CUSTOMER_MESSAGE),
            (250, K.CUSTOMER_MESSAGE),
            (400, K.AGENT_MESSAGE, A1),
            (410, K.AGENT_MESSAGE, A1),
            (500, K.CUSTOMER_MESSAGE),
            (600, K.RESOLVED, A1),
        ),
        {
            "first_response_seconds": 100,
            # From the first unanswered message; the last one was never answered.
            "next_response_seconds": (200,),
            "back_and_forths": 2,
        },
    ),
    "an agent writing first": (
        history(
            (0, K.CREATED),
            (10, K.CLAIMED, A1),
            (20, K.AGENT_MESSAGE, A1),
            (30, K.CUSTOMER_MESSAGE),
            (40, K.AGENT_MESSAGE, A1),
        ),
        {"first_response_seconds": 20, "next_response_seconds": (10,), "back_and_forths": 1},
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario(name):
    events, expected = SCENARIOS[name]
    facts = task_facts(events)
    actual = {field: getattr(facts, field) for field in expected}
    assert actual == expected


@pytest.mark.parametrize("name", SCENARIOS)
def test_event_order_in_the_input_does_not_matter(name):
    events, _ = SCENARIOS[name]
    # Same-moment events keep their order: shuffle whole moments only.
    moments: dict[datetime, list[Event]] = {}
    for event in events:
        moments.setdefault(event.occurred_at, []).append(event)
    groups = list(moments.values())
    random.Random(name).shuffle(groups)
    assert task_facts([e for group in groups for e in group]) == task_facts(events)


def test_a_wait_still_running_counts_up_to_as_of():
    events = history((0, K.CREATED), (60, K.CLAIMED, A1), (120, K.RELEASED, A1), (120, K.QUEUED))
    assert task_facts(events).total_wait_seconds == 60
    assert task_facts(events, as_of=at(300)).total_wait_seconds == 60 + 180
    assert task_facts(history((0, K.CREATED)), as_of=at(45)).wait_seconds is None


def test_no_events_give_empty_facts():
    facts = task_facts([])
    assert isinstance(facts, TaskFacts)
    assert (facts.created_at, facts.total_wait_seconds, facts.back_and_forths) == (None, 0, 0)
    assert not facts.closed


# --- Random histories: the figures keep their invariants ---------------------------------------

STEP_KINDS = [
    K.CUSTOMER_MESSAGE,
    K.AGENT_MESSAGE,
    K.CLAIMED,
    K.RELEASED,
    K.OFFERED,
    K.RESERVATION_LAPSED,
    K.RESOLVED,
    K.ESCALATED,
    K.REOPENED,
    K.RATED,
]


@st.composite
def histories(draw) -> list[Event]:
    """A possible life of a task: the state decides which events may follow."""
    events = [Event(K.CREATED, T0)]
    now = T0
    state = "queued"  # queued, offered, claimed, closed
    for _ in range(draw(st.integers(0, 25))):
        now += timedelta(seconds=draw(st.integers(0, 3600)))
        allowed = {
            "queued": [K.CUSTOMER_MESSAGE, K.CLAIMED, K.OFFERED, K.CANCELLED],
            "offered": [K.CUSTOMER_MESSAGE, K.CLAIMED, K.RESERVATION_LAPSED],
            "claimed": [
                K.CUSTOMER_MESSAGE,
                K.AGENT_MESSAGE,
                K.RELEASED,
                K.RESOLVED,
                K.ESCALATED,
            ],
            "closed": [K.REOPENED, K.RATED],
        }[state]
        kind = draw(st.sampled_from(allowed))
        agent = draw(st.sampled_from([A1, A2]))
        if kind == K.RATED:
            events.append(Event(kind, now, None, {"score": draw(st.integers(1, 5))}))
            continue
        events.append(Event(kind, now, agent))
        if kind in (K.RELEASED, K.RESERVATION_LAPSED):
            events.append(Event(K.QUEUED, now))
        state = {
            K.CLAIMED: "claimed",
            K.OFFERED: "offered",
            K.RELEASED: "queued",
            K.RESERVATION_LAPSED: "queued",
            K.RESOLVED: "closed",
            K.ESCALATED: "closed",
            K.CANCELLED: "closed",
            K.REOPENED: "queued",
        }.get(kind, state)
    return events


@given(histories())
def test_random_histories_keep_the_invariants(events):
    facts = task_facts(events)
    span = (events[-1].occurred_at - events[0].occurred_at).total_seconds()

    assert 0 <= facts.total_wait_seconds <= span
    if facts.wait_seconds is not None:
        assert facts.wait_seconds <= facts.total_wait_seconds
        assert facts.first_claimed_at is not None
    else:
        assert facts.claims == 0
    assert facts.back_and_forths >= 0
    assert facts.back_and_forths <= sum(e.kind == K.AGENT_MESSAGE for e in events)
    assert len(facts.next_response_seconds) <= facts.back_and_forths
    assert all(seconds >= 0 for seconds in facts.next_response_seconds)
    if facts.first_contact_resolution:
        assert facts.resolved and facts.reopens == 0 and facts.releases == 0
    if facts.resolved:
        assert facts.resolved_by_agent_id is not None
    if facts.csat_score is not None:
        assert facts.csat_satisfied == (facts.csat_score >= 4)
        assert facts.csat_counts_at is not None
    # Whatever is still waiting counts once an end is given.
    later = events[-1].occurred_at + timedelta(hours=1)
    assert task_facts(events, as_of=later).total_wait_seconds >= facts.total_wait_seconds
