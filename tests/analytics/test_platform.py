"""The platform's figures for the staff console against hand-built data."""

from datetime import UTC, datetime, timedelta

import pytest

from analytics.platform import payout_totals, platform_figures
from analytics.rollup import rollup_recompute
from brands.models import BrandRole
from gigs.models import PayModel
from gigs.models import TaskEventKind as K
from payouts.earnings import earning_clawback
from payouts.models import Earning, PayoutAccount, PayRun, PayRunLine, PayRunLineStatus
from qa.models import Dispute, ReviewAssignment
from qa.scorecards import gig_qa_settings_update
from qa.services import (
    assignment_assign,
    assignment_create_for_task,
    dispute_open,
    review_submit,
)
from tests.analytics.histories import task_with_history
from tests.brands.factories import MembershipFactory
from tests.gigs.factories import GigFactory
from tests.marketplace.factories import AgentUserFactory, StaffUserFactory
from tests.qa.factories import EXAMPLE_RATINGS, closed_task, published_scorecard

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, tzinfo=UTC)
END = datetime(2026, 3, 9, tzinfo=UTC)
NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def resolved_task(gig, agent, at, *, breach_first_response=False):
    """Claimed after a minute, resolved after ten: one session, one earning."""
    steps = [(0, K.CREATED), (0, K.CUSTOMER_MESSAGE), (60, K.CLAIMED, agent)]
    # The gig's first-response target is exceeded when the reply comes after a day.
    reply_after = 2 * 86400 if breach_first_response else 120
    steps += [(reply_after, K.AGENT_MESSAGE, agent), (reply_after + 60, K.RESOLVED, agent)]
    return task_with_history(gig, at, *steps)


def spend(earnings):
    return sum(earning.amount_minor + earning.fee_minor for earning in earnings)


@pytest.fixture
def money_world(brand, other_brand):
    eur = GigFactory(brand=brand, pay_model=PayModel.PER_RESOLUTION, rate_minor=300)
    usd = GigFactory(
        brand=other_brand, pay_model=PayModel.PER_RESOLUTION, rate_minor=500, currency="USD"
    )
    a1, a2, a3 = AgentUserFactory(), AgentUserFactory(), AgentUserFactory()
    inside = [
        resolved_task(eur, a1, START + timedelta(hours=5)),
        resolved_task(eur, a1, START + timedelta(days=2)),
        resolved_task(usd, a2, START + timedelta(days=3)),
    ]
    # Before the period: counts nowhere.
    outside = resolved_task(eur, a3, START - timedelta(days=3))
    return {"eur": eur, "usd": usd, "inside": inside, "outside": outside, "agents": (a1, a2, a3)}


def test_gross_volume_and_fees_are_per_currency_for_the_period(money_world, brand):
    figures = platform_figures(start=START, end=END, now=NOW)
    eur = Earning.objects.filter(work_record__task__in=money_world["inside"][:2])
    usd = Earning.objects.filter(work_record__task=money_world["inside"][2])
    assert figures.gross_volume == {"EUR": spend(eur), "USD": spend(usd)}
    assert figures.fees == {
        "EUR": sum(e.fee_minor for e in eur),
        "USD": sum(e.fee_minor for e in usd),
    }
    assert figures.gross_volume["EUR"] == 600 + figures.fees["EUR"]
    assert figures.fees["EUR"] > 0


def test_a_brand_filter_keeps_only_that_brands_money_and_agents(money_world, brand):
    figures = platform_figures(start=START, end=END, now=NOW, brand=brand)
    assert list(figures.gross_volume) == ["EUR"]
    assert figures.active_agents == 1


def test_clawed_back_earnings_are_not_volume(money_world):
    earning = Earning.objects.get(work_record__task=money_world["inside"][0])
    earning_clawback(earning=earning, actor=StaffUserFactory(), reason="Duplicate task")
    figures = platform_figures(start=START, end=END, now=NOW)
    kept = Earning.objects.get(work_record__task=money_world["inside"][1])
    assert figures.gross_volume["EUR"] == kept.amount_minor + kept.fee_minor


def test_active_agents_are_those_with_a_session_in_the_period(money_world):
    assert platform_figures(start=START, end=END, now=NOW).active_agents == 2
    earlier = platform_figures(start=START - timedelta(days=4), end=START, now=NOW)
    assert earlier.active_agents == 1


def test_sla_breaches_sum_the_roll_ups_of_the_period(brand, other_brand):
    gig = GigFactory(brand=brand, sla_first_response_seconds=300, sla_business_hours=False)
    other = GigFactory(brand=other_brand, sla_first_response_seconds=300, sla_business_hours=False)
    agent = AgentUserFactory()
    resolved_task(gig, agent, START + timedelta(hours=1), breach_first_response=True)
    resolved_task(gig, agent, START + timedelta(hours=2))
    resolved_task(other, agent, START + timedelta(hours=3), breach_first_response=True)
    for each in (brand, other_brand):
        rollup_recompute(each, START - timedelta(days=1), END + timedelta(days=1))
    assert platform_figures(start=START, end=END, now=NOW).sla_breaches == 2
    assert platform_figures(start=START, end=END, now=NOW, brand=brand).sla_breaches == 1


# --- payouts ----------------------------------------------------------------------------


def payout_line(run, status, amount_minor, currency="EUR"):
    agent = AgentUserFactory()
    account = PayoutAccount.objects.create(
        agent=agent, stripe_account_id=f"acct_{agent.pk}", synced_at=NOW
    )
    return PayRunLine.objects.create(
        run=run,
        agent=agent,
        payout_account=account,
        destination=account.stripe_account_id,
        amount_minor=amount_minor,
        currency=currency,
        status=status,
        stripe_transfer_id=f"tr_{agent.pk}" if status != PayRunLineStatus.QUEUED else "",
    )


def test_payouts_pending_and_failed_are_unpaid_and_failed_lines_per_currency(db):
    staff = StaffUserFactory()
    run = PayRun.objects.create(currency="EUR", cutoff_at=NOW, minimum_minor=100, created_by=staff)
    usd_run = PayRun.objects.create(
        currency="USD", cutoff_at=NOW, minimum_minor=100, created_by=staff
    )
    payout_line(run, PayRunLineStatus.QUEUED, 1000)
    payout_line(run, PayRunLineStatus.IN_TRANSIT, 500)
    payout_line(run, PayRunLineStatus.FAILED, 200)
    payout_line(run, PayRunLineStatus.PAID, 9999)
    payout_line(run, PayRunLineStatus.CANCELLED, 0)
    payout_line(usd_run, PayRunLineStatus.QUEUED, 700, "USD")
    pending, failed = payout_totals()
    assert [(t.currency, t.count, t.amount_minor) for t in pending] == [
        ("EUR", 2, 1500),
        ("USD", 1, 700),
    ]
    assert [(t.currency, t.count, t.amount_minor) for t in failed] == [("EUR", 1, 200)]
    figures = platform_figures(start=START, end=END, now=NOW)
    assert (figures.payouts_pending_count, figures.payouts_failed_count) == (3, 1)


# --- QA ---------------------------------------------------------------------------------


def qa_backlog(brand, *, overdue_reviews: int, overdue_disputes: int):
    """Open assignments and undecided disputes of ``brand``, the given numbers of them overdue."""
    admin = MembershipFactory(brand=brand, role=BrandRole.ADMIN).user
    reviewer = MembershipFactory(brand=brand, role=BrandRole.QA_REVIEWER).user
    gig = GigFactory(brand=brand)
    version = published_scorecard(actor=admin, brand=brand)
    gig_qa_settings_update(actor=admin, gig=gig, scorecard=version.scorecard)

    def assignment():
        task = closed_task(gig=gig, agent=AgentUserFactory())
        return assignment_create_for_task(task=task, reasons=["random"])

    for index in range(overdue_reviews + 1):
        due = NOW - timedelta(hours=1) if index < overdue_reviews else NOW + timedelta(hours=1)
        ReviewAssignment.objects.filter(pk=assignment().pk).update(due_at=due)
    for index in range(overdue_disputes + 1):
        taken = assignment_assign(actor=reviewer, assignment=assignment(), reviewer=reviewer)
        review = review_submit(reviewer=reviewer, assignment=taken, ratings=EXAMPLE_RATINGS)
        dispute = dispute_open(
            agent=review.agent, review=review, reason="The refund was made, see the note."
        )
        due = NOW - timedelta(hours=1) if index < overdue_disputes else NOW + timedelta(hours=1)
        Dispute.objects.filter(pk=dispute.pk).update(due_at=due)


def test_overdue_reviews_and_disputes_count_open_work_past_its_sla(brand, other_brand):
    qa_backlog(brand, overdue_reviews=2, overdue_disputes=1)
    qa_backlog(other_brand, overdue_reviews=1, overdue_disputes=2)
    figures = platform_figures(start=START, end=END, now=NOW)
    assert (figures.overdue_reviews, figures.overdue_disputes) == (3, 3)
    mine = platform_figures(start=START, end=END, now=NOW, brand=brand)
    assert (mine.overdue_reviews, mine.overdue_disputes) == (2, 1)


def test_a_decided_dispute_is_not_overdue(brand):
    qa_backlog(brand, overdue_reviews=0, overdue_disputes=1)
    Dispute.objects.update(decided_at=NOW)
    assert platform_figures(start=START, end=END, now=NOW).overdue_disputes == 0
