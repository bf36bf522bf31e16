"""Random sequences of everything money does, with every invariant checked after each step.

Hypothesis drives a state machine over: fund (a top-up paid on the
sandbox's Checkout page, credited from its webhook), claim (the brand's
expected cost reserved), finish (resolve, escalate or release after some
minutes of work), release holds, clawback, pay run (create, approve by
another staff member, execute against the sandbox) and webhook replay
(every webhook the sandbox sent, again, shuffled). Stripe is the sandbox
subprocess through the real SDK.

Examples share the test's database and sandbox (each starts a new brand and
new agents), so the invariants are stated over everything written so far.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from django.db.models import Count, F, Sum
from django.utils import timezone
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from brands.models import BrandRole
from gigs.dispatch import task_claim, task_release
from gigs.models import PayModel, TaskStatus, WorkSession
from gigs.services import resolution_codes_seed
from gigs.work import task_escalate, task_resolve
from marketplace.errors import GigdeskError
from payouts.earnings import earning_clawback, earnings_release_due
from payouts.models import (
    Earning,
    EarningStatus,
    Entry,
    LedgerAccount,
    PayRunLine,
    PayRunLineStatus,
    Posting,
    Purpose,
)
from payouts.payrun_transfers import payrun_process
from payouts.payruns import payrun_approve, payrun_create, payrun_execute
from payouts.selectors import (
    PAYOUT_PAID_KIND,
    agent_balances,
    balance_mismatches,
    unbalanced_postings,
)
from tests.brands.factories import BrandFactory, MembershipFactory
from tests.gigs.factories import GigFactory, TaskFactory
from tests.marketplace.factories import StaffUserFactory
from tests.payouts.payrun_helpers import (
    assert_holds_match_lines,
    fund_platform,
    new_agent,
    onboard,
    sandbox_transfers,
)

pytestmark = pytest.mark.django_db

# What the examples did, for the assertion that they did something.
OUTCOMES: Counter = Counter()


def happened(what: str) -> None:
    event(what)
    OUTCOMES[what] += 1


MACHINE_SETTINGS = settings(
    max_examples=15,
    stateful_step_count=30,
    deadline=None,
    # The same sequences on every run: CI stays reproducible, and the
    # assertion at the end knows the sequences reach every step.
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(autouse=True)
def _fast(settings, monkeypatch):
    from payouts import payrun_transfers

    settings.STRIPE_MAX_REQUESTS_PER_SECOND = 200
    settings.PAYOUT_MINIMUM_MINOR = 100
    monkeypatch.setattr(payrun_transfers, "ROUND_BACKOFF_SECONDS", 0.05)
    monkeypatch.setattr(payrun_transfers, "TRANSIENT_PAUSE_SECONDS", 0.05)


def test_random_money_sequences_keep_every_invariant(sandbox, stripe_webhooks, deliver):
    staff = StaffUserFactory(email="creator@gigdesk.test")
    approver = StaffUserFactory(email="approver@gigdesk.test")

    class Money(RuleBasedStateMachine):
        @initialize()
        def world(self):
            self.brand = BrandFactory()
            self.admin = MembershipFactory(brand=self.brand, role=BrandRole.ADMIN).user
            resolution_codes_seed(self.brand)
            # Funded only by the top-ups this machine pays for.
            self.gigs = [
                GigFactory(
                    brand=self.brand,
                    pay_model=PayModel.PER_RESOLUTION,
                    rate_minor=400,
                    funded=False,
                ),
                GigFactory(
                    brand=self.brand,
                    pay_model=PayModel.PER_MINUTE,
                    rate_minor=60,
                    reserve_minutes=5,
                    max_billable_minutes=20,
                    funded=False,
                ),
            ]
            self.agents = [new_agent(self.brand) for _ in range(2)]
            onboard(self.agents[0])  # the second agent never sets up payouts
            self.open_tasks: list[tuple[int, int]] = []  # (agent index, task id)
            self.webhooks_seen = len(stripe_webhooks.received)
            # A first top-up, so that most sequences get as far as paying someone.
            fund_platform(
                stripe_webhooks, deliver, brand=self.brand, admin=self.admin, amount_minor=3_000
            )

        @rule(amount=st.sampled_from([500, 2_000, 10_000]))
        def fund(self, amount):
            fund_platform(
                stripe_webhooks, deliver, brand=self.brand, admin=self.admin, amount_minor=amount
            )

        @rule(agent=st.integers(0, 1), gig=st.integers(0, 1))
        def claim(self, agent, gig):
            task = TaskFactory(gig=self.gigs[gig])
            before = ledger_snapshot()
            try:
                task_claim(agent=self.agents[agent], task_id=task.pk)
            except GigdeskError:
                # Refused (the brand cannot cover it, the agent holds too much): nothing moved.
                assert ledger_snapshot() == before
                happened("claim refused")
                return
            happened("claim taken")
            self.open_tasks.append((agent, task.pk))

        @precondition(lambda self: self.open_tasks)
        @rule(
            pick=st.integers(0, 50),
            how=st.sampled_from(["resolve", "escalate", "release"]),
            minutes=st.integers(0, 30),
        )
        def finish(self, pick, how, minutes):
            agent_index, task_id = self.open_tasks.pop(pick % len(self.open_tasks))
            agent = self.agents[agent_index]
            # Minutes of work: the open session started that long ago, heartbeats to now.
            now = timezone.now()
            WorkSession.objects.filter(task_id=task_id, ended_at__isnull=True).update(
                started_at=now - timedelta(minutes=minutes),
                active_since=now - timedelta(minutes=minutes),
                last_heartbeat_at=now,
            )
            happened(f"finish: {how}")
            if how == "resolve":
                task_resolve(agent=agent, task_id=task_id, resolution_code="answered")
            elif how == "escalate":
                task_escalate(agent=agent, task_id=task_id, reason="Needs a refund approval")
            else:
                task_release(agent=agent, task_id=task_id)

        @rule()
        def release_holds(self):
            happened("holds released")
            earnings_release_due(now=timezone.now() + timedelta(days=30))

        @rule(pick=st.integers(0, 50))
        def clawback(self, pick):
            earnings = list(
                Earning.objects.filter(brand=self.brand)
                .exclude(status=EarningStatus.CLAWED_BACK)
                .order_by("pk")
            )
            if not earnings:
                return
            earning = earnings[pick % len(earnings)]
            happened(f"clawback of a {earning.status} earning")
            earning_clawback(earning=earning, actor=staff, reason="QA found a breach")

        @rule()
        def pay_run(self):
            try:
                run = payrun_create(actor=staff, currency="EUR")
            except GigdeskError as error:
                happened(f"pay run refused: {error}")
                return
            if not run.lines.exists():
                happened("pay run with nothing to pay")
                return
            run = payrun_approve(run=run, actor=approver)
            run = payrun_execute(run=run, actor=approver)
            # The job payrun_execute queues on commit, run here as the worker would.
            payrun_process(run_id=run.pk)
            happened("pay run paid lines")

        @rule(seed=st.integers(0, 2**16))
        def replay_webhooks(self, seed):
            webhooks = stripe_webhooks.received[self.webhooks_seen :]
            random.Random(seed).shuffle(webhooks)
            happened("webhooks replayed" if webhooks else "no webhooks to replay")
            before = ledger_snapshot()
            for webhook in webhooks:
                deliver(webhook.body, webhook.signature)
            assert ledger_snapshot() == before

        # --- Invariants -----------------------------------------------------------------

        @invariant()
        def every_posting_sums_to_zero_and_every_cache_matches(self):
            assert unbalanced_postings() == []
            assert balance_mismatches() == []

        @invariant()
        def a_work_record_earns_at_most_once(self):
            assert not (
                Posting.objects.filter(kind="work.earning")
                .values("reference")
                .annotate(n=Count("pk"))
                .filter(n__gt=1)
                .exists()
            )

        @invariant()
        def reserved_money_is_what_open_work_reserved(self):
            reserved = sum(
                WorkSession.objects.filter(ended_at__isnull=True, brand=self.brand).values_list(
                    "reserved_minor", flat=True
                )
            )
            account = LedgerAccount.objects.filter(
                brand=self.brand, purpose=Purpose.BRAND_RESERVED, currency="EUR"
            ).first()
            assert (account.balance_minor if account else 0) == reserved

        @invariant()
        def held_money_is_what_unfinished_lines_hold(self):
            assert_holds_match_lines()

        @invariant()
        def agents_have_exactly_what_cleared_minus_clawbacks(self):
            for agent in self.agents:
                released = Earning.objects.filter(agent=agent, released_posting__isnull=False)
                cleared = released.aggregate(total=Sum("amount_minor"))["total"] or 0
                clawed = (
                    released.filter(status=EarningStatus.CLAWED_BACK).aggregate(
                        total=Sum("amount_minor")
                    )["total"]
                    or 0
                )
                [money] = agent_balances(agent) or [None]
                held = money.available + money.in_transit + money.paid if money else 0
                assert held == cleared - clawed

        @invariant()
        def paid_lines_are_what_the_ledger_and_stripe_paid(self):
            paid_lines = PayRunLine.objects.filter(status=PayRunLineStatus.PAID)
            paid_total = paid_lines.aggregate(total=Sum("amount_minor"))["total"] or 0
            ledger_paid = -(
                Entry.objects.filter(
                    account__purpose=Purpose.AGENT_IN_TRANSIT, posting__kind=PAYOUT_PAID_KIND
                ).aggregate(total=Sum("amount_minor"))["total"]
                or 0
            )
            assert paid_total == ledger_paid
            per_line: dict[int, list[int]] = defaultdict(list)
            for transfer in sandbox_transfers(sandbox):
                per_line[int(transfer["metadata"]["payrun_line_id"])].append(transfer["amount"])
            for line_id, amount in paid_lines.values_list("pk", "amount_minor"):
                # Exactly one transfer per paid line, of the line's amount.
                assert per_line[line_id] == [amount]

        @invariant()
        def claimed_tasks_are_the_open_ones(self):
            claimed = set(
                WorkSession.objects.filter(ended_at__isnull=True, brand=self.brand).values_list(
                    "task_id", flat=True
                )
            )
            assert claimed == {task_id for _agent, task_id in self.open_tasks}
            assert all(
                status == TaskStatus.CLAIMED
                for status in WorkSession.objects.filter(
                    ended_at__isnull=True, brand=self.brand
                ).values_list("task__status", flat=True)
            )

    OUTCOMES.clear()
    run_state_machine_as_test(Money, settings=MACHINE_SETTINGS)
    print(dict(OUTCOMES))
    # The sequences reached every kind of step at least once.
    assert OUTCOMES["claim taken"] and OUTCOMES["claim refused"], OUTCOMES
    assert OUTCOMES["pay run paid lines"] and OUTCOMES["webhooks replayed"], OUTCOMES
    assert any(what.startswith("clawback") for what in OUTCOMES), OUTCOMES


def ledger_snapshot() -> tuple[int, list[tuple[int, int]]]:
    """Postings written and every cached balance: a refused step changes neither."""
    return (
        Posting.objects.count(),
        list(LedgerAccount.objects.order_by("pk").values_list("pk", F("balance_minor"))),
    )
