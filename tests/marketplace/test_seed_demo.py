from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone

from assessments.models import (
    Answer,
    Assessment,
    Attempt,
    BrandCertificationRequirement,
    Certification,
    GigCertificationRequirement,
)
from brands.models import Brand, BrandMembership, PoolMembership, PoolStatus
from gigs.dispatch import presence_set
from gigs.eligibility import eligible_agents_for_gig, eligible_agents_for_task
from gigs.models import (
    AgentPresence,
    CannedReply,
    DispatchMode,
    Gig,
    Message,
    PayModel,
    PresenceStatus,
    ResolutionCode,
    SessionOutcome,
    Task,
    TaskStatus,
    WorkRecord,
    WorkSession,
)
from gigs.services import DEFAULT_RESOLUTION_CODES
from marketplace.models import AgentProfile, User


def seed(*args) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_running_twice_duplicates_nothing():
    # A week of history is enough to show nothing repeats (and seeds fast).
    seed("--history-days", "7")
    models = (
        User,
        Brand,
        BrandMembership,
        PoolMembership,
        Gig,
        Task,
        Message,
        WorkRecord,
        ResolutionCode,
        CannedReply,
        Assessment,
        Attempt,
        Answer,
        Certification,
        BrandCertificationRequirement,
        GigCertificationRequirement,
    )
    counts = [m.objects.count() for m in models]
    seed("--history-days", "7")
    assert [m.objects.count() for m in models] == counts


@pytest.mark.django_db
def test_if_empty_leaves_an_existing_database_alone(brand):
    output = seed("--if-empty")
    assert "skipped" in output
    assert Task.objects.count() == 0


def _agent(n: int) -> User:
    return User.objects.get(email=f"agent{n:02d}@gigdesk.demo")


class DemoWorldTests(TestCase):
    """What the seeded world holds, read from one seed (seeding takes seconds;
    every test reads the same world, each in its own rolled-back transaction)."""

    @classmethod
    def setUpTestData(cls):
        from huey.contrib.djhuey import HUEY

        # Function-scoped fixtures (immediate jobs) have not run yet at class setup.
        previous, HUEY.immediate = HUEY.immediate, True
        try:
            cls.output = seed()
        finally:
            HUEY.immediate = previous

    def test_demo_world_is_believable(self):
        assert Brand.objects.count() >= 2
        assert AgentProfile.objects.filter(languages__isnull=False).distinct().count() >= 20
        assert Task.objects.count() >= 200
        assert set(Gig.objects.values_list("pay_model", flat=True)) == set(PayModel.values)
        assert Gig.objects.values("language").distinct().count() >= 3
        assert Message.objects.values("task").distinct().count() == Task.objects.count()

    def test_printed_logins_work(self):
        output = self.output
        assert "admin@acme.demo" in output
        assert authenticate(email="admin@acme.demo", password="gigdesk-demo") is not None

    def test_agent01_and_agent02_see_the_same_open_acme_task(self):
        agent01, agent02 = _agent(1), _agent(2)
        presence_set(agent=agent01, status=PresenceStatus.ONLINE)
        presence_set(agent=agent02, status=PresenceStatus.ONLINE)

        shared = [
            task
            for task in Task.objects.filter(
                brand__slug="acme-outdoors",
                status=TaskStatus.QUEUED,
                gig__dispatch_mode=DispatchMode.OPEN,
            ).select_related("gig")
            if {agent01, agent02} <= set(eligible_agents_for_task(task))
        ]

        assert shared

    def test_agent01_and_agent02_are_approved_in_acmes_pool(self):
        approved = PoolMembership.objects.filter(
            brand__slug="acme-outdoors", status=PoolStatus.APPROVED
        ).values_list("agent__email", flat=True)
        assert {"agent01@gigdesk.demo", "agent02@gigdesk.demo"} <= set(approved)

    def test_every_brand_has_an_open_and_a_directed_gig_that_pool_agents_qualify_for(self):
        # Everyone approved in some pool comes online.
        for membership in PoolMembership.objects.filter(status=PoolStatus.APPROVED):
            AgentPresence.objects.update_or_create(
                agent=membership.agent,
                defaults={"status": PresenceStatus.ONLINE, "last_heartbeat_at": timezone.now()},
            )
        for brand in Brand.objects.all():
            workable = {
                gig.dispatch_mode
                for gig in brand.gigs.all()
                if eligible_agents_for_gig(gig).exists()
            }
            assert workable == {DispatchMode.OPEN, DispatchMode.DIRECTED}, brand.slug

    def test_every_gig_has_tasks_waiting(self):
        for gig in Gig.objects.all():
            assert gig.tasks.filter(status=TaskStatus.QUEUED).count() >= 3, gig.title

    def test_every_brand_has_resolution_codes_and_canned_replies(self):
        for brand in Brand.objects.all():
            assert brand.resolution_codes.count() == len(DEFAULT_RESOLUTION_CODES)
            assert 3 <= brand.canned_replies.count() <= 4

    def test_worked_tasks_have_one_finished_session_and_a_matching_work_record(self):
        worked = Task.objects.filter(status__in=[TaskStatus.RESOLVED, TaskStatus.ESCALATED])
        assert worked.exists()
        assert WorkSession.objects.filter(ended_at__isnull=True).count() == 0
        # One record per session; a released task (the history's) has two sessions.
        assert WorkRecord.objects.count() == WorkSession.objects.count()
        let_go = (SessionOutcome.RELEASED, SessionOutcome.LEASE_EXPIRED)
        assert WorkRecord.objects.exclude(outcome__in=let_go).count() == worked.count()
        for record in WorkRecord.objects.select_related("task", "session", "gig"):
            task = record.task
            assert record.agent_id == record.session.agent_id
            assert 0 < record.billable_seconds <= record.gig.max_billable_minutes * 60
            # The agent worked the task for its brand: approved in that brand's pool.
            assert PoolMembership.objects.filter(
                brand=task.brand_id, agent=record.agent_id, status=PoolStatus.APPROVED
            ).exists()
            if record.outcome in let_go:
                assert record.ended_at < task.closed_at
                continue
            assert record.outcome == task.status
            assert record.agent_id == task.holder_id
            assert record.resolution_code == task.resolution_code
            assert record.ended_at == task.closed_at <= timezone.now()

    def test_resolution_codes_are_the_brands_own_and_some_tasks_are_rated(self):
        resolved = Task.objects.filter(status=TaskStatus.RESOLVED)
        for task in resolved:
            assert task.brand.resolution_codes.filter(code=task.resolution_code).exists()
        assert resolved.filter(csat_score__isnull=False).count() >= 20
        assert not Task.objects.exclude(status=TaskStatus.RESOLVED).filter(csat_score__isnull=False)

    def test_each_brand_is_funded_before_its_seeded_work_is_paid_for(self):
        from payouts.models import Entry, Purpose

        for brand in Brand.objects.filter(
            slug__in=["acme-outdoors", "borealis-telecom", "lumen-home"]
        ):
            running: dict[str, int] = {}
            entries = Entry.objects.filter(
                account__brand=brand, account__purpose=Purpose.BRAND_BALANCE
            ).order_by("posting_id", "pk")
            assert entries.exists()
            for currency, amount in entries.values_list("currency", "amount_minor"):
                running[currency] = running.get(currency, 0) + amount
                # The statement a brand admin reads never shows a negative balance.
                assert running[currency] >= 0, (brand.slug, currency, running[currency])

    def test_borealis_requires_written_spanish_at_b2_for_its_pool_and_its_spanish_gig(self):
        pool_rule = BrandCertificationRequirement.objects.get(brand__slug="borealis-telecom")
        gig_rule = GigCertificationRequirement.objects.get(gig__title="Facturación y tarifas (ES)")
        for rule in (pool_rule, gig_rule):
            assert (rule.assessment.slug, rule.min_level) == ("spanish-written", "B2")
        assert gig_rule.gig.min_language_level == "B2"
        # Acme's own product assessment is Acme's, and its German gig requires a pass.
        acme_rule = GigCertificationRequirement.objects.get(
            gig__title="Gear advice, live chat (DE)"
        )
        assert acme_rule.assessment.brand.slug == "acme-outdoors"
        assert acme_rule.min_level == ""

    def test_certified_spanish_speakers_still_work_borealis_spanish_gig(self):
        from assessments.models import AttemptStatus

        gig = Gig.objects.get(title="Facturación y tarifas (ES)")
        speakers = [
            m.agent
            for m in PoolMembership.objects.filter(brand=gig.brand, status=PoolStatus.APPROVED)
            if m.agent.agent_profile.languages.filter(language="es", level__gte="B2").exists()
        ]
        assert len(speakers) >= 3
        for agent in speakers:
            presence_set(agent=agent, status=PresenceStatus.ONLINE)
        eligible = set(eligible_agents_for_gig(gig))
        assert eligible
        for agent in eligible:
            certification = Certification.objects.get(
                agent=agent, assessment__slug="spanish-written"
            )
            assert certification.level >= "B2"
            # A real graded attempt is behind it, at the same score and level.
            attempt = certification.attempt
            assert attempt.status == AttemptStatus.GRADED
            assert (attempt.score, attempt.level) == (certification.score, certification.level)
            assert attempt.answers.exists()
            assert not attempt.answers.filter(needs_grading=True).exists()
            assert sum(s["points"] for s in attempt.section_scores) == attempt.score_points

    def test_assessment_history_has_passes_fails_a_retake_date_and_written_answers_to_grade(self):
        from assessments.models import AttemptStatus
        from assessments.selectors import attempt_result_for_agent, grading_queue

        finished = Attempt.objects.filter(
            assessment__slug__in=["english-written", "support-fundamentals"],
            status=AttemptStatus.GRADED,
        )
        assert finished.filter(passed=True).count() >= 3
        assert finished.filter(passed=False).count() >= 2
        assert len(set(finished.values_list("score", flat=True))) >= 5
        staff = User.objects.get(email="staff@gigdesk.demo")
        assert grading_queue(staff).count() >= 1

        failed = Attempt.objects.get(agent=_agent(5), assessment__slug="spanish-written")
        result = attempt_result_for_agent(failed)
        assert result["passed"] is False
        assert result["retake_opens_at"] > timezone.now()

    # --- QA ------------------------------------------------------------------------

    def test_acme_scores_on_the_worked_example_scorecard(self):
        from qa.models import Scorecard

        scorecard = Scorecard.objects.get(brand__slug="acme-outdoors", name="Acme support quality")
        version = scorecard.published_version()
        assert version is not None
        assert version.pass_mark == 80
        categories = [
            (c.name, c.scale, c.weight, c.critical, c.allow_na) for c in version.categories.all()
        ]
        assert categories == [
            ("Greeting", "binary", 1, False, False),
            ("Understanding", "5", 3, False, False),
            ("Solution", "4", 4, False, False),
            ("Tone", "3", 2, False, False),
            ("Data protection", "binary", 1, True, False),
            ("Upsell", "binary", 2, False, True),
        ]
        for gig in Gig.objects.filter(brand__slug="acme-outdoors"):
            assert gig.qa_settings.scorecard == scorecard, gig.title

    def test_a_draft_scorecard_waits_to_be_published_and_the_platform_has_a_default(self):
        from qa.models import Scorecard

        draft = Scorecard.objects.get(brand__slug="acme-outdoors", name="Acme chat quality")
        assert draft.published_version() is None
        assert draft.draft_version().categories.count() == 2
        default = Scorecard.objects.get(is_default=True)
        assert default.brand is None
        assert default.published_version() is not None

    def test_the_example_task_waits_unassigned_with_autoqa_findings_and_a_leak(self):
        from qa.models import AssignmentStatus, SamplingReason

        task = Task.objects.get(subject="Example: double charge on order 58213")
        assert task.brand.slug == "acme-outdoors"
        assert task.holder == _agent(1)
        assert task.status == TaskStatus.RESOLVED
        assignment = task.qa_assignment
        assert assignment.status == AssignmentStatus.OPEN
        assert assignment.reviewer is None
        assert SamplingReason.AUTOQA_LEAK in assignment.reasons
        kinds = set(task.autoqa_findings.values_list("kind", flat=True))
        assert task.autoqa_findings.filter(leak=True, category_hint="data_protection").exists()
        assert "closing_missing" in kinds

    def test_the_second_reviewer_scores_the_worked_example_at_72(self):
        from decimal import Decimal

        from qa.services import assignment_assign, review_preview

        reviewer = authenticate(email="qa2@acme.demo", password="gigdesk-demo")
        assert reviewer is not None
        assignment = Task.objects.get(subject="Example: double charge on order 58213").qa_assignment
        assignment = assignment_assign(actor=reviewer, assignment=assignment, reviewer=reviewer)
        ratings = {
            "greeting": 1,
            "understanding": 4,
            "solution": 3,
            "tone": 2,
            "data_protection": 1,
            "upsell": None,
        }
        preview = review_preview(reviewer=reviewer, assignment=assignment, ratings=ratings)
        assert preview.score == Decimal("72.0")
        assert preview.passed is False

    def test_the_queue_holds_tasks_for_several_reasons_one_of_them_overdue(self):
        from qa.models import ReviewAssignment, SamplingReason
        from qa.selectors import review_queue

        reviewer = User.objects.get(email="qa@acme.demo")
        queue = list(review_queue(user=reviewer))
        reasons = {reason for assignment in queue for reason in assignment.reasons}
        assert {
            SamplingReason.ESCALATION,
            SamplingReason.LOW_CSAT,
            SamplingReason.NEW_AGENT,
            SamplingReason.AUTOQA_LEAK,
        } <= reasons
        assert sum(assignment.overdue for assignment in queue) == 1
        assert not ReviewAssignment.objects.exclude(brand__slug="acme-outdoors").exists()

    def test_acme_has_a_review_history_with_a_critical_fail_and_hidden_reviewers(self):
        from qa.models import Review, ReviewStatus
        from qa.selectors import reviewer_display

        reviews = Review.objects.filter(brand__slug="acme-outdoors", status=ReviewStatus.SUBMITTED)
        assert reviews.count() >= 5
        assert reviews.filter(critical_fail=True, score=0).exists()
        assert len(set(reviews.values_list("score", flat=True))) >= 5
        assert reviews.filter(submitted_at__lt=timezone.now() - timezone.timedelta(days=14))
        review = reviews.filter(agent=_agent(1)).first()
        assert reviewer_display(review=review, viewer=_agent(1)) == "QA reviewer"
        assert reviewer_display(review=review, viewer=review.reviewer) == "Jonas Keller"

    def test_the_tier_job_promotes_agent02_and_gives_agent04_a_reason(self):
        from qa.tiers import tier_job, tier_review

        agent02, agent04 = _agent(2), _agent(4)
        result = tier_job()

        promoted = [change for change in result.changes if change.agent == agent02]
        assert len(promoted) == 1
        assert promoted[0].to_tier == promoted[0].from_tier + 1
        assert promoted[0].reason.startswith("Promoted: QA ")
        assert "10 reviews" in promoted[0].reason
        membership = PoolMembership.objects.get(brand__slug="acme-outdoors", agent=agent04)
        moved = [change for change in result.changes if change.agent == agent04]
        reason = moved[0].reason if moved else tier_review(membership).decision.reason
        assert "below 75" in reason

    def test_the_qa_minimum_keeps_agent04_off_the_reviewed_gig_with_the_reason(self):
        from gigs.eligibility import failed_rules
        from qa.models import QAStanding

        gig = Gig.objects.get(brand__slug="acme-outdoors", title="Order & delivery questions (EN)")
        blocked = QAStanding.objects.blocked().filter(gig=gig)
        assert list(blocked.values_list("agent", flat=True)) == [_agent(4).pk]
        assert blocked.get().blocked_reason.startswith("QA ")
        assert blocked.get().blocked_reason.endswith(" < 75 (5 reviews, 30 d)")
        task = Task.objects.filter(gig=gig).first()
        assert "meets_qa_minimum" in [rule.name for rule in failed_rules(_agent(4), task)]
        assert "meets_qa_minimum" not in [rule.name for rule in failed_rules(_agent(2), task)]

    def test_agent10_earned_the_qa_bonus_of_the_last_payable_week_once(self):
        from datetime import datetime, timedelta

        from brands.models import PoolTier
        from gigs.models import SessionOutcome
        from payouts.models import Posting
        from qa.feeds import bonus_key, bonus_run, iso_week_label, parse_iso_week
        from qa.models import BonusKind, TierChange

        agent10 = _agent(10)
        gig = Gig.objects.get(brand__slug="acme-outdoors", title="Order & delivery questions (EN)")
        settings = gig.qa_settings
        assert (settings.bonus_kind, settings.bonus_fixed_minor) == (BonusKind.FIXED, 50)
        assert settings.bonus_threshold == 85
        membership = PoolMembership.objects.get(brand=gig.brand, agent=agent10)
        assert membership.tier == PoolTier.TOP
        change = TierChange.objects.get(agent=agent10)
        assert change.is_override and change.reason.startswith("Top tier: ")
        # The week the demo made payable: its latest bonus task's, over for 7 days at seeding.
        last_task = Task.objects.filter(external_id__startswith="demo-qa-bonus-").latest(
            "closed_at"
        )
        week = iso_week_label(timezone.localtime(last_task.closed_at).date())
        start = timezone.make_aware(datetime.combine(parse_iso_week(week), datetime.min.time()))
        resolved = WorkRecord.objects.filter(
            agent=agent10,
            gig=gig,
            outcome=SessionOutcome.RESOLVED,
            ended_at__gte=start,
            ended_at__lt=start + timedelta(weeks=1),
        ).count()
        assert resolved >= 2

        first = bonus_run(week)
        second = bonus_run(week)

        assert [(b.agent_id, b.amount_minor, b.created) for b in first.paid] == [
            (agent10.pk, 50 * resolved, True)
        ]
        assert [(b.agent_id, b.created) for b in second.paid] == [(agent10.pk, False)]
        key = bonus_key(gig_id=gig.pk, agent_id=agent10.pk, week=week)
        assert list(
            Posting.objects.filter(kind="qa.bonus").values_list("idempotency_key", flat=True)
        ) == [key]
