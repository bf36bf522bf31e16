"""QA feeds: eligibility reasons, the ranking signal and the weekly QA bonus."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from brands.models import PoolMembership, PoolStatus, PoolTier
from gigs.models import PayModel, SessionOutcome, WorkRecord, WorkSession
from marketplace.errors import ValidationFailed
from payouts.models import LedgerAccount, Posting, Purpose
from qa.feeds import (
    agent_gig_eligibility,
    bonus_key,
    bonus_run,
    eligibility,
    last_payable_week,
    ranking_signal,
)
from qa.models import BonusKind, GigQASettings, Review, ReviewStatus
from qa.selectors import agent_qa_score, agent_qa_scores
from tests.gigs.factories import GigFactory
from tests.payouts.factories import brand_fund
from tests.qa.factories import closed_task

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday; week 2026-W48 ended 7 days ago
WEEK = "2026-W48"  # Monday 23 Nov 2026 .. Sunday 29 Nov 2026


@pytest.fixture
def give_reviews(version, reviewer):
    def give(agent, gig, count, score, *, at):
        for number in range(count):
            Review.objects.create(
                task=closed_task(gig=gig, agent=agent),
                brand=gig.brand,
                gig=gig,
                agent=agent,
                reviewer=reviewer,
                scorecard_version=version,
                status=ReviewStatus.SUBMITTED,
                score=Decimal(score),
                passed=Decimal(score) >= version.pass_mark,
                submitted_at=at - timedelta(minutes=number),
            )

    return give


def set_minimum(gig, minimum):
    GigQASettings.objects.update_or_create(gig=gig, defaults={"min_qa_score": minimum})


# --- eligibility -------------------------------------------------------------------------


def test_no_minimum_means_no_reason(gig, agent, give_reviews):
    give_reviews(agent, gig, 6, "40.0", at=NOW)
    assert eligibility(agent, gig, now=NOW) is None


def test_per_gig_score_below_the_minimum_keeps_the_agent_off_with_the_reason(
    gig, agent, give_reviews
):
    set_minimum(gig, Decimal("75"))
    give_reviews(agent, gig, 5, "70.0", at=NOW - timedelta(days=1))
    give_reviews(agent, gig, 1, "80.0", at=NOW - timedelta(days=2))

    assert eligibility(agent, gig, now=NOW) == "QA 71.7 < 75 (6 reviews, 30 d)"


def test_a_provisional_score_everywhere_passes(gig, agent, give_reviews):
    set_minimum(gig, Decimal("75"))
    give_reviews(agent, gig, 4, "10.0", at=NOW - timedelta(days=1))
    assert eligibility(agent, gig, now=NOW) is None


def test_a_provisional_gig_score_falls_back_to_the_overall_score(brand, gig, agent, give_reviews):
    other = GigFactory(brand=brand, title="Returns")
    set_minimum(gig, Decimal("75"))
    give_reviews(agent, gig, 2, "90.0", at=NOW - timedelta(days=1))
    give_reviews(agent, other, 5, "50.0", at=NOW - timedelta(days=1))

    assert eligibility(agent, gig, now=NOW) == "Overall QA 61.4 < 75 (7 reviews, 30 d)"


def test_all_of_an_agents_scores_in_one_query_match_the_one_at_a_time_figures(
    brand, gig, agent, give_reviews, django_assert_num_queries
):
    returns = GigFactory(brand=brand, title="Returns")
    warranty = GigFactory(brand=brand, title="Warranty")
    give_reviews(agent, gig, 5, "70.0", at=NOW - timedelta(days=1))
    give_reviews(agent, gig, 2, "99.0", at=NOW - timedelta(days=31))  # out of the window
    give_reviews(agent, returns, 50, "50.0", at=NOW - timedelta(days=2))
    give_reviews(agent, returns, 2, "100.0", at=NOW - timedelta(days=3))  # past the 50 newest

    with django_assert_num_queries(1):
        scores = agent_qa_scores(agent=agent, now=NOW)

    # The 50 newest overall: 5 × 70 and 45 × 50.
    assert (scores.overall.score, scores.overall.count) == (Decimal("52.0"), 50)
    assert (scores.on_gig(gig.pk).score, scores.on_gig(gig.pk).count) == (Decimal("70.0"), 5)
    assert scores.on_gig(returns.pk).score == Decimal("50.0")
    assert scores.on_gig(warranty.pk).score is None and scores.on_gig(warranty.pk).provisional
    assert scores.overall == agent_qa_score(agent=agent, now=NOW)
    for each in (gig, returns, warranty):
        assert scores.on_gig(each.pk) == agent_qa_score(agent=agent, gig=each, now=NOW)


def test_the_agents_eligibility_list_matches_eligibility_gig_by_gig_in_two_queries(
    brand, gig, agent, give_reviews, django_assert_num_queries
):
    returns = GigFactory(brand=brand, title="Returns")
    warranty = GigFactory(brand=brand, title="Warranty")
    no_minimum = GigFactory(brand=brand, title="Chat")
    set_minimum(gig, Decimal("75"))
    set_minimum(returns, Decimal("40"))
    set_minimum(warranty, Decimal("80"))
    give_reviews(agent, gig, 5, "70.0", at=NOW - timedelta(days=1))
    give_reviews(agent, returns, 5, "50.0", at=NOW - timedelta(days=2))
    gigs = [gig, returns, warranty, no_minimum]

    with django_assert_num_queries(2):
        listed = agent_gig_eligibility(agent, gigs, now=NOW)

    assert listed == [
        (gig, "QA 70.0 < 75 (5 reviews, 30 d)"),
        (returns, None),
        (warranty, "Overall QA 60.0 < 80 (10 reviews, 30 d)"),
        (no_minimum, None),
    ]
    assert listed == [(each, eligibility(agent, each, now=NOW)) for each in gigs]


def test_ranking_puts_higher_scores_first_and_unscored_last(gig, agent, other_agent, give_reviews):
    from tests.marketplace.factories import AgentProfileFactory

    unscored = AgentProfileFactory().user
    give_reviews(agent, gig, 2, "80.0", at=NOW - timedelta(days=1))
    give_reviews(other_agent, gig, 2, "95.0", at=NOW - timedelta(days=1))

    with time_machine.travel(NOW, tick=False):
        ordered = sorted([unscored, agent, other_agent], key=lambda a: ranking_signal(a, gig))

    assert ordered == [other_agent, agent, unscored]


# --- the weekly bonus --------------------------------------------------------------------


def resolved_session(*, gig, agent, ended_at):
    task = closed_task(gig=gig, agent=agent)
    session = WorkSession.objects.create(
        task=task,
        agent=agent,
        brand=gig.brand,
        gig=gig,
        pay_model=PayModel.PER_RESOLUTION,
        rate_minor=gig.rate_minor,
        currency=gig.currency,
        grace_seconds=60,
        lease_seconds=600,
        max_billable_seconds=3600,
        started_at=ended_at - timedelta(minutes=5),
        active_since=ended_at - timedelta(minutes=5),
        last_heartbeat_at=ended_at,
        ended_at=ended_at,
        outcome=SessionOutcome.RESOLVED,
    )
    return WorkRecord.objects.create(
        session=session,
        agent=agent,
        task=task,
        gig=gig,
        brand=gig.brand,
        started_at=session.started_at,
        ended_at=ended_at,
        billable_seconds=300,
        outcome=SessionOutcome.RESOLVED,
        pay_model=PayModel.PER_RESOLUTION,
        rate_minor=gig.rate_minor,
        currency=gig.currency,
    )


@pytest.fixture
def bonus_gig(brand, gig, version):
    brand_fund(brand, gig.currency)
    GigQASettings.objects.filter(gig=gig).update(
        bonus_kind=BonusKind.FIXED, bonus_fixed_minor=150, bonus_threshold=Decimal("90")
    )
    return gig


def top_member(brand, agent, tier=PoolTier.TOP):
    return PoolMembership.objects.create(
        brand=brand, agent=agent, status=PoolStatus.APPROVED, tier=tier, decided_at=NOW
    )


WEEK_END = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


def test_bonus_pays_top_tier_agents_at_the_threshold_once(
    brand, bonus_gig, agent, other_agent, give_reviews
):
    top_member(brand, agent)
    top_member(brand, other_agent)
    give_reviews(agent, bonus_gig, 5, "92.0", at=WEEK_END - timedelta(days=2))
    give_reviews(other_agent, bonus_gig, 5, "85.0", at=WEEK_END - timedelta(days=2))
    for day in (1, 3, 5):
        resolved_session(gig=bonus_gig, agent=agent, ended_at=WEEK_END - timedelta(days=day))
        resolved_session(gig=bonus_gig, agent=other_agent, ended_at=WEEK_END - timedelta(days=day))
    # Outside the week: not counted.
    resolved_session(gig=bonus_gig, agent=agent, ended_at=WEEK_END + timedelta(hours=1))

    first = bonus_run(WEEK, NOW)
    second = bonus_run(WEEK, NOW)

    key = bonus_key(gig_id=bonus_gig.pk, agent_id=agent.pk, week=WEEK)
    assert [(b.agent_id, b.amount_minor, b.created) for b in first.paid] == [(agent.pk, 450, True)]
    assert [b.created for b in second.paid] == [False]
    assert Posting.objects.filter(kind="qa.bonus").count() == 1
    assert Posting.objects.get(kind="qa.bonus").idempotency_key == key
    pending = LedgerAccount.objects.get(purpose=Purpose.AGENT_PENDING, agent=agent)
    assert pending.balance_minor == 450
    assert (bonus_gig.pk, other_agent.pk, "QA 85.0 < 90.0") in first.skipped


def test_bonus_skips_agents_below_the_top_tier_and_provisional_scores(
    brand, bonus_gig, agent, other_agent, give_reviews
):
    top_member(brand, agent, tier=PoolTier.TOP - 1)
    top_member(brand, other_agent)
    give_reviews(agent, bonus_gig, 5, "99.0", at=WEEK_END - timedelta(days=2))
    give_reviews(other_agent, bonus_gig, 4, "99.0", at=WEEK_END - timedelta(days=2))
    resolved_session(gig=bonus_gig, agent=agent, ended_at=WEEK_END - timedelta(days=1))
    resolved_session(gig=bonus_gig, agent=other_agent, ended_at=WEEK_END - timedelta(days=1))

    run = bonus_run(WEEK, NOW)

    assert run.paid == []
    assert [(agent_id, why.split(":")[0]) for _, agent_id, why in run.skipped] == [
        (other_agent.pk, "provisional")
    ]


def test_a_week_not_over_for_7_days_is_refused(bonus_gig):
    with pytest.raises(ValidationFailed, match="over for 7 days"):
        bonus_run("2026-W49", NOW)
    assert Posting.objects.filter(kind="qa.bonus").count() == 0


def test_a_malformed_week_is_refused():
    with pytest.raises(ValidationFailed, match="ISO week"):
        bonus_run("2026-48", NOW)


def test_last_payable_week_is_the_one_over_for_7_days():
    assert last_payable_week(NOW) == WEEK
    assert last_payable_week(NOW - timedelta(hours=10)) == "2026-W47"


def test_the_command_pays_the_week_and_reruns_post_nothing(brand, bonus_gig, agent, give_reviews):
    top_member(brand, agent)
    give_reviews(agent, bonus_gig, 5, "95.0", at=WEEK_END - timedelta(days=2))
    resolved_session(gig=bonus_gig, agent=agent, ended_at=WEEK_END - timedelta(days=1))

    with time_machine.travel(NOW, tick=False):
        out = StringIO()
        call_command("qa_run_bonus", "--week", WEEK, stdout=out)
        again = StringIO()
        call_command("qa_run_bonus", stdout=again)

    assert "1.50 EUR posted" in out.getvalue()
    assert "0 bonus postings made, 1 already paid" in again.getvalue()
    assert Posting.objects.filter(kind="qa.bonus").count() == 1
    with time_machine.travel(NOW, tick=False), pytest.raises(CommandError):
        call_command("qa_run_bonus", "--week", "2026-W50", stdout=StringIO())


def test_the_weekly_job_pays_the_last_payable_week_and_audits_each_posting_once(
    brand, bonus_gig, agent, give_reviews
):
    from marketplace.models import AuditEvent
    from qa.tasks import qa_bonus_weekly_job

    top_member(brand, agent)
    give_reviews(agent, bonus_gig, 5, "95.0", at=WEEK_END - timedelta(days=2))
    resolved_session(gig=bonus_gig, agent=agent, ended_at=WEEK_END - timedelta(days=1))

    with time_machine.travel(NOW, tick=False):
        qa_bonus_weekly_job.call_local()
        qa_bonus_weekly_job.call_local()

    assert Posting.objects.filter(kind="qa.bonus").count() == 1
    event = AuditEvent.objects.get(action="qa.bonus_posted")
    assert event.actor is None and event.brand == brand
    assert event.changes["week"] == WEEK and event.changes["amount_minor"] == 150
