"""The demo's 90-day history (``marketplace.management.demo_history``), run on a
small world: two brands (one with office hours, one open around the clock),
an open per-resolution gig and a directed per-minute gig each, a few agents."""

import random
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta

from django.db import transaction
from django.test import TestCase

from brands.models import BusinessHours, PoolMembership, PoolStatus
from brands.selectors import calendar_for
from gigs.metrics import task_facts
from gigs.models import (
    DispatchMode,
    Gig,
    Message,
    MessageKind,
    PayModel,
    ReservationOutcome,
    SessionOutcome,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskReservation,
    TaskStatus,
    WorkRecord,
    WorkSession,
)
from gigs.sla import SLATargets, task_sla
from marketplace.management.demo_history import seed_history
from payouts.earnings import brand_terms, earning_amounts
from payouts.models import Earning, Entry, Purpose, TopUp
from payouts.selectors import balance_mismatches, unbalanced_postings
from tests.brands.factories import BrandFactory, MembershipFactory
from tests.gigs.factories import GigFactory
from tests.marketplace.factories import AgentLanguageFactory

NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)
DAYS = 14
CLOSE_KINDS = {
    TaskEventKind.RESOLVED: TaskStatus.RESOLVED,
    TaskEventKind.ESCALATED: TaskStatus.ESCALATED,
    TaskEventKind.CANCELLED: TaskStatus.CANCELLED,
}


def _agent(n: int):
    return AgentLanguageFactory(
        profile__user__email=f"history-agent{n}@example.com", language="en"
    ).profile.user


def _world():
    office = BrandFactory(name="Office Hours Co", slug="office", time_zone="Europe/Berlin")
    BusinessHours.objects.bulk_create(
        BusinessHours(brand=office, weekday=day, opens=time(8), closes=time(20)) for day in range(5)
    )
    always = BrandFactory(name="Always Open Inc", slug="always", time_zone="America/New_York")
    for brand in (office, always):
        MembershipFactory(brand=brand, user__email=f"admin@{brand.slug}.test")
        # Unfunded: the history's own top-ups pay for its work.
        GigFactory(
            brand=brand,
            funded=False,
            title="Orders",
            pay_model=PayModel.PER_RESOLUTION,
            rate_minor=300,
            sla_first_response_seconds=30 * 60,
        )
        GigFactory(
            brand=brand,
            funded=False,
            title="Live advice",
            pay_model=PayModel.PER_MINUTE,
            rate_minor=35,
            dispatch_mode=DispatchMode.DIRECTED,
            sla_first_response_seconds=5 * 60,
        )
    agents = [_agent(n) for n in range(1, 6)]
    for agent in agents[:4]:
        PoolMembership.objects.create(brand=office, agent=agent, status=PoolStatus.APPROVED)
    for agent in agents[1:]:
        PoolMembership.objects.create(brand=always, agent=agent, status=PoolStatus.APPROVED)
    # Applied, not approved: works for nobody.
    outsider = _agent(9)
    PoolMembership.objects.create(brand=office, agent=outsider, status=PoolStatus.APPLIED)
    return office, always, agents, outsider


def _seed(*brands) -> int:
    return seed_history(brands=brands, now=NOW, rng=random.Random(7), days=DAYS)


class DemoHistoryTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.office, cls.always, cls.agents, cls.outsider = _world()
        cls.written = _seed(cls.office, cls.always)
        # Seeded only by the determinism test, inside a rolled-back block.
        cls.small = BrandFactory(name="Small Shop", slug="small")
        MembershipFactory(brand=cls.small, user__email="admin@small.test")
        GigFactory(brand=cls.small, title="Orders")
        for agent in cls.agents[:3]:
            PoolMembership.objects.create(brand=cls.small, agent=agent, status=PoolStatus.APPROVED)

    def _events_by_task(self):
        events = defaultdict(list)
        for event in TaskEvent.objects.order_by("occurred_at", "id"):
            events[event.task_id].append(event)
        return events

    def test_every_gig_gets_weeks_of_tasks_inside_the_window(self):
        assert self.written == Task.objects.filter(external_id__startswith="hist-").count()
        for gig in Gig.objects.filter(brand__in=[self.office, self.always]):
            tasks = gig.tasks.all()
            # Some 12 a day per brand, shared by its two gigs.
            assert 30 <= tasks.count() <= 200, (gig.title, tasks.count())
            first = tasks.order_by("created_at").first().created_at
            last = tasks.order_by("created_at").last().created_at
            assert NOW - timedelta(days=DAYS) <= first < NOW - timedelta(days=DAYS - 1)
            assert NOW - timedelta(days=1) < last <= NOW - timedelta(hours=6)
        assert not TaskEvent.objects.filter(occurred_at__gt=NOW).exists()

    def test_seeding_again_adds_nothing(self):
        models = (Task, Message, TaskEvent, TaskReservation, WorkSession, WorkRecord, Earning)
        counts = [model.objects.count() for model in models]
        top_ups = TopUp.objects.count()

        assert _seed(self.office, self.always) == 0

        assert [model.objects.count() for model in models] == counts
        assert TopUp.objects.count() == top_ups

    def test_the_same_seed_and_now_give_the_same_history(self):
        def history():
            with transaction.atomic():
                seed_history(brands=[self.small], now=NOW, rng=random.Random(3), days=3)
                rows = list(
                    Task.objects.filter(brand=self.small)
                    .order_by("external_id")
                    .values_list("created_at", "status", "holder", "csat_score", "closed_at")
                )
                transaction.set_rollback(True)
            return rows

        first = history()
        assert first and history() == first

    def test_facts_from_the_events_agree_with_the_rows(self):
        events = self._events_by_task()
        tasks = Task.objects.prefetch_related("work_sessions", "messages", "reservations")
        for task in tasks:
            facts = task_facts(events[task.pk])
            assert CLOSE_KINDS[facts.outcome] == task.status, task.external_id
            assert facts.created_at == task.created_at
            assert facts.closed_at == task.closed_at
            sessions = sorted(task.work_sessions.all(), key=lambda s: s.started_at)
            assert facts.claims == len(sessions)
            assert facts.releases == sum(
                s.outcome in (SessionOutcome.RELEASED, SessionOutcome.LEASE_EXPIRED)
                for s in sessions
            )
            assert facts.csat_score == task.csat_score
            if task.status == TaskStatus.CANCELLED:
                assert facts.wait_seconds is None and not sessions
                continue
            assert facts.wait_seconds >= 0
            assert facts.total_wait_seconds >= facts.wait_seconds
            assert facts.first_claimed_at == sessions[0].started_at
            assert task.claimed_at == sessions[-1].started_at
            assert task.holder_id == sessions[-1].agent_id
            assert sessions[-1].ended_at == task.closed_at
            assert sessions[-1].outcome == task.status
            assert 1 <= facts.back_and_forths <= 4
            assert facts.first_response_seconds >= facts.wait_seconds
            if task.status == TaskStatus.RESOLVED:
                assert facts.resolved_by_agent_id == task.holder_id
                assert task.resolved_at == task.closed_at and task.resolution_code
            else:
                assert task.escalation_reason and task.csat_score is None

    def test_event_data_names_the_tasks_own_rows(self):
        sessions = dict(WorkSession.objects.values_list("pk", "task_id"))
        messages = dict(Message.objects.exclude(kind=MessageKind.NOTE).values_list("pk", "task_id"))
        reservations = dict(TaskReservation.objects.values_list("pk", "task_id"))
        for event in TaskEvent.objects.select_related("task"):
            assert event.brand_id == event.task.brand_id and event.gig_id == event.task.gig_id
            if event.kind in (
                TaskEventKind.CLAIMED,
                TaskEventKind.RESOLVED,
                TaskEventKind.ESCALATED,
                TaskEventKind.RELEASED,
            ):
                assert sessions[event.data["session"]] == event.task_id
            if event.kind in (TaskEventKind.CUSTOMER_MESSAGE, TaskEventKind.AGENT_MESSAGE):
                assert messages[event.data["message"]] == event.task_id
            if event.kind == TaskEventKind.OFFERED:
                assert reservations[event.data["reservation"]] == event.task_id
            if event.kind == TaskEventKind.RELEASED:
                assert event.data["reason"] in (
                    SessionOutcome.RELEASED,
                    SessionOutcome.LEASE_EXPIRED,
                )
        # Every message the events name was written at the event's moment.
        for event in TaskEvent.objects.filter(kind=TaskEventKind.AGENT_MESSAGE)[:200]:
            message = Message.objects.get(pk=event.data["message"])
            assert (message.created_at, message.author_id) == (event.occurred_at, event.agent_id)

    def test_releases_follow_the_services_order_and_a_second_agent_claims(self):
        events = self._events_by_task()
        released = [e for e in TaskEvent.objects.filter(kind=TaskEventKind.RELEASED)]
        assert len(released) >= 5
        assert {e.data["reason"] for e in released} == {"released", "lease_expired"}
        for release in released:
            history = events[release.task_id]
            after = history[history.index(release) + 1 :]
            assert after[0].kind == TaskEventKind.QUEUED
            assert after[0].occurred_at == release.occurred_at
            claim = next(e for e in after if e.kind == TaskEventKind.CLAIMED)
            assert claim.agent_id != release.agent_id
            assert not task_facts(history).first_contact_resolution

    def test_directed_offers_lapse_or_are_declined_and_go_back_to_the_queue(self):
        events = self._events_by_task()
        lapsed = TaskEvent.objects.filter(kind=TaskEventKind.RESERVATION_LAPSED)
        declined = TaskEvent.objects.filter(kind=TaskEventKind.RESERVATION_DECLINED)
        assert lapsed.count() >= 5 and declined.count() >= 2
        for end in [*lapsed, *declined]:
            assert end.task.gig.dispatch_mode == DispatchMode.DIRECTED
            history = events[end.task_id]
            position = history.index(end)
            assert history[position + 1].kind == TaskEventKind.QUEUED
            offer = [e for e in history[:position] if e.kind == TaskEventKind.OFFERED][-1]
            assert offer.agent_id == end.agent_id
            reservation = TaskReservation.objects.get(pk=offer.data["reservation"])
            assert reservation.outcome == (
                ReservationOutcome.LAPSED
                if end.kind == TaskEventKind.RESERVATION_LAPSED
                else ReservationOutcome.REJECTED
            )
            assert reservation.decided_at == end.occurred_at
        # Every claim of a directed gig follows an offer to the claimer.
        for claim in TaskEvent.objects.filter(
            kind=TaskEventKind.CLAIMED, gig__dispatch_mode=DispatchMode.DIRECTED
        )[:100]:
            history = events[claim.task_id]
            before = history[: history.index(claim)]
            assert before[-1].kind == TaskEventKind.OFFERED
            assert before[-1].agent_id == claim.agent_id

    def test_escalations_cancellations_and_ratings_in_believable_shares(self):
        tasks = Task.objects.all()
        total = tasks.count()
        escalated = tasks.filter(status=TaskStatus.ESCALATED).count()
        cancelled = tasks.filter(status=TaskStatus.CANCELLED).count()
        resolved = tasks.filter(status=TaskStatus.RESOLVED)
        assert 0.06 <= escalated / total <= 0.2
        assert 0.01 <= cancelled / total <= 0.08
        rated = resolved.filter(csat_score__isnull=False)
        assert 0.5 <= rated.count() / resolved.count() <= 0.7
        assert set(rated.values_list("csat_score", flat=True)) == {1, 2, 3, 4, 5}
        late = [task for task in rated if task.csat_at - task.closed_at >= timedelta(hours=12)]
        assert len(late) >= 5
        for task in late[:20]:
            event = TaskEvent.objects.get(task=task, kind=TaskEventKind.RATED)
            assert (event.occurred_at, event.data["score"]) == (task.csat_at, task.csat_score)

    def test_some_first_responses_breach_the_sla_in_both_brands(self):
        events = self._events_by_task()
        for brand in (self.office, self.always):
            calendar = calendar_for(brand)
            breached = decided = 0
            for task in Task.objects.filter(brand=brand).select_related("gig"):
                for check in task_sla(
                    events[task.pk], SLATargets.from_gig(task.gig), calendar, NOW
                ):
                    decided += check.decided
                    breached += check.breached
            assert 0 < breached < decided * 0.3, (brand.slug, breached, decided)

    def test_the_slow_agent_takes_longer_than_the_rest(self):
        engaged = defaultdict(list)
        for record in WorkRecord.objects.filter(brand=self.office, outcome=SessionOutcome.RESOLVED):
            engaged[record.agent_id].append((record.ended_at - record.started_at).seconds)
        means = {agent: sum(values) / len(values) for agent, values in engaged.items()}
        slowest = max(means, key=means.get)
        others = [mean for agent, mean in means.items() if agent != slowest]
        assert means[slowest] > 1.4 * (sum(others) / len(others))

    def test_only_approved_pool_agents_of_the_brand_work_its_tasks(self):
        for brand in (self.office, self.always):
            approved = set(
                PoolMembership.objects.filter(brand=brand, status=PoolStatus.APPROVED).values_list(
                    "agent_id", flat=True
                )
            )
            workers = set(WorkSession.objects.filter(brand=brand).values_list("agent", flat=True))
            offered = set(
                TaskReservation.objects.filter(task__brand=brand).values_list("agent", flat=True)
            )
            assert workers and workers | offered <= approved
        assert not WorkSession.objects.filter(agent=self.outsider).exists()
        # agent 1 is in the office pool only, agent 5 in the always-open one only.
        assert not WorkSession.objects.filter(brand=self.always, agent=self.agents[0]).exists()
        assert not WorkSession.objects.filter(brand=self.office, agent=self.agents[4]).exists()

    def test_every_paid_record_has_its_earning_and_the_ledger_balances(self):
        for record in WorkRecord.objects.select_related("session"):
            amount, _ = earning_amounts(
                record, fee_bps=brand_terms(record.brand_id).platform_fee_bps
            )
            assert Earning.objects.filter(work_record=record).exists() == (amount > 0)
            assert 0 < record.billable_seconds <= record.session.max_billable_seconds
        assert unbalanced_postings() == []
        assert balance_mismatches() == []

    def test_brand_balances_never_go_negative(self):
        for brand in (self.office, self.always):
            running: dict[str, int] = {}
            entries = Entry.objects.filter(
                account__brand=brand, account__purpose=Purpose.BRAND_BALANCE
            ).order_by("posting_id", "pk")
            for currency, amount in entries.values_list("currency", "amount_minor"):
                running[currency] = running.get(currency, 0) + amount
                assert running[currency] >= 0, (brand.slug, currency, running[currency])
            assert TopUp.objects.filter(brand=brand).exists()
