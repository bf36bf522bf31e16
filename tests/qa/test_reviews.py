"""Review assignments, drafts, the live preview, submitting, the queue and agent scores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from gigs.models import TaskStatus
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from marketplace.models import AuditEvent
from qa.models import AssignmentStatus, Review, ReviewAssignment, ReviewStatus
from qa.scorecards import (
    gig_qa_settings_update,
    scorecard_category_update,
    scorecard_new_draft_from,
    scorecard_publish,
)
from qa.selectors import agent_qa_score, review_queue
from qa.services import (
    assignment_assign,
    assignment_create_for_task,
    review_draft_save,
    review_preview,
    review_submit,
)
from tests.gigs.factories import GigFactory, TaskFactory
from tests.qa.factories import EXAMPLE_RATINGS, closed_task

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _ratings(**changes):
    ratings = dict(EXAMPLE_RATINGS)
    ratings.update(changes)
    return ratings


# --- assignments -----------------------------------------------------------------------


def test_an_assignment_lists_its_reasons_and_is_audited(version, task, agent):
    assignment = assignment_create_for_task(task=task, reasons=["low_csat"])

    assert (assignment.agent, assignment.gig, assignment.brand) == (agent, task.gig, task.brand)
    assert assignment.reasons == ["low_csat"]
    assert assignment.status == AssignmentStatus.OPEN
    assert AuditEvent.objects.filter(action="qa.assignment_created").count() == 1


def test_a_second_pick_of_a_task_merges_its_reasons(version, task):
    first = assignment_create_for_task(task=task, reasons=["escalation"])
    second = assignment_create_for_task(task=task, reasons=["random", "escalation"])

    assert second.pk == first.pk
    assert ReviewAssignment.objects.filter(task=task).count() == 1
    assert second.reasons == ["random", "escalation"]
    assert second.reason_labels() == ["Random sample", "Escalated"]


def test_the_sla_is_48_hours_from_the_pick(version, task):
    with time_machine.travel(START, tick=False):
        assignment = assignment_create_for_task(task=task, reasons=["random"])

    assert assignment.due_at - assignment.assigned_at == timedelta(hours=48)


def test_an_open_task_cannot_be_reviewed(version, gig, agent):
    task = TaskFactory(gig=gig, status=TaskStatus.CLAIMED, holder=agent)

    with pytest.raises(ValidationFailed):
        assignment_create_for_task(task=task, reasons=["random"])
    assert not ReviewAssignment.objects.exists()


def test_an_unknown_reason_is_refused(version, task):
    with pytest.raises(ValidationFailed):
        assignment_create_for_task(task=task, reasons=["because"])
    assert not ReviewAssignment.objects.exists()


def test_a_qa_reviewer_takes_an_assignment(version, task, reviewer):
    assignment = assignment_create_for_task(task=task, reasons=["random"])

    taken = assignment_assign(actor=reviewer, assignment=assignment, reviewer=reviewer)

    assert taken.reviewer == reviewer
    assert AuditEvent.objects.filter(action="qa.assignment_assigned").exists()


def test_the_agent_is_never_the_reviewer(version, brand, brand_admin, gig):
    # A brand admin who also worked the task as its agent.
    task = closed_task(gig=gig, agent=brand_admin)
    assignment = assignment_create_for_task(task=task, reasons=["random"])

    with pytest.raises(PermissionDenied):
        assignment_assign(actor=brand_admin, assignment=assignment, reviewer=brand_admin)
    assignment.refresh_from_db()
    assert assignment.reviewer is None


def test_a_reviewer_must_review_for_the_brand(version, task, brand_admin, brand_viewer):
    assignment = assignment_create_for_task(task=task, reasons=["random"])

    with pytest.raises(ValidationFailed):
        assignment_assign(actor=brand_admin, assignment=assignment, reviewer=brand_viewer)
    assignment.refresh_from_db()
    assert assignment.reviewer is None


def test_a_qa_reviewer_cannot_hand_work_to_someone_else(version, task, reviewer, second_reviewer):
    assignment = assignment_create_for_task(task=task, reasons=["random"])

    with pytest.raises(PermissionDenied):
        assignment_assign(actor=reviewer, assignment=assignment, reviewer=second_reviewer)


def test_an_admin_and_staff_hand_work_out(version, task, brand_admin, reviewer, staff):
    assignment = assignment_create_for_task(task=task, reasons=["random"])

    assignment_assign(actor=brand_admin, assignment=assignment, reviewer=reviewer)
    assignment = assignment_assign(actor=brand_admin, assignment=assignment, reviewer=staff)

    assert assignment.reviewer == staff


def test_another_brands_reviewer_cannot_take_the_assignment(version, task, other_reviewer):
    assignment = assignment_create_for_task(task=task, reasons=["random"])

    with pytest.raises(NotFound):
        assignment_assign(actor=other_reviewer, assignment=assignment, reviewer=other_reviewer)


# --- drafts and preview ----------------------------------------------------------------


def test_a_draft_saves_partial_ratings_and_pins_the_version(assignment, reviewer, version):
    review = review_draft_save(
        reviewer=reviewer,
        assignment=assignment,
        ratings={"greeting": 1},
        comments={"greeting": " Warm start "},
        overall_comment="Half way",
    )

    assert review.status == ReviewStatus.DRAFT
    assert review.ratings == {"greeting": 1}
    assert review.comments == {"greeting": "Warm start"}
    assert review.scorecard_version == version
    assert review.score is None
    assert not AuditEvent.objects.filter(action__startswith="qa.review").exists()


def test_autosave_replaces_the_same_draft(assignment, reviewer):
    review_draft_save(reviewer=reviewer, assignment=assignment, ratings={"greeting": 1})
    review = review_draft_save(
        reviewer=reviewer, assignment=assignment, ratings={"greeting": 0, "tone": 3}
    )

    assert Review.objects.count() == 1
    assert review.ratings == {"greeting": 0, "tone": 3}


@pytest.mark.parametrize(
    "ratings, key",
    [
        ({"understanding": 6}, "understanding"),
        ({"understanding": 0}, "understanding"),
        ({"greeting": 2}, "greeting"),
        ({"tone": None}, "tone"),
        ({"tone": "2"}, "tone"),
        ({"speed": 3}, "speed"),
    ],
    ids=["above_scale", "below_scale", "binary_2", "na_not_allowed", "text", "unknown"],
)
def test_a_draft_with_a_bad_rating_is_refused_and_nothing_is_saved(
    assignment, reviewer, ratings, key
):
    review_draft_save(reviewer=reviewer, assignment=assignment, ratings={"greeting": 1})

    with pytest.raises(ValidationFailed) as refusal:
        review_draft_save(reviewer=reviewer, assignment=assignment, ratings=ratings)

    assert key in refusal.value.fields
    assert Review.objects.get().ratings == {"greeting": 1}


def test_a_draft_keeps_its_version_when_a_new_one_is_published(
    assignment, reviewer, version, brand_admin
):
    review_draft_save(reviewer=reviewer, assignment=assignment, ratings={"greeting": 1})
    draft = scorecard_new_draft_from(actor=brand_admin, version=version)
    scorecard_category_update(
        actor=brand_admin, category=draft.categories.get(key="tone"), weight=10
    )
    scorecard_publish(actor=brand_admin, version=draft)

    review = review_submit(reviewer=reviewer, assignment=assignment, ratings=EXAMPLE_RATINGS)

    assert review.scorecard_version == version
    assert review.score == Decimal("72.0")


def test_the_preview_scores_the_example_without_saving(assignment, reviewer):
    preview = review_preview(reviewer=reviewer, assignment=assignment, ratings=EXAMPLE_RATINGS)

    assert preview.score == Decimal("72.0")
    assert (preview.passed, preview.critical_fail, preview.complete) == (False, False, True)
    assert preview.pass_mark == 80
    assert not Review.objects.exists()


def test_the_preview_skips_unrated_and_reports_bad_ratings(assignment, reviewer):
    preview = review_preview(
        reviewer=reviewer,
        assignment=assignment,
        ratings={"greeting": 1, "understanding": 9, "solution": 4},
    )

    # Greeting (w1, v=1) and Solution (w4, v=1): 100; Understanding is out of scale.
    assert preview.score == Decimal("100.0")
    assert preview.complete is False
    assert set(preview.problems) == {"understanding"}


def test_the_preview_shows_a_critical_fail(assignment, reviewer):
    preview = review_preview(
        reviewer=reviewer, assignment=assignment, ratings={"data_protection": 0, "greeting": 1}
    )

    assert preview.score == Decimal("0.0")
    assert preview.critical_fail is True


def test_the_preview_is_refused_to_someone_not_assigned(assignment, second_reviewer):
    with pytest.raises(PermissionDenied):
        review_preview(reviewer=second_reviewer, assignment=assignment, ratings=EXAMPLE_RATINGS)


# --- submit ----------------------------------------------------------------------------


def test_submit_scores_the_worked_example_72_a_fail(assignment, reviewer):
    with time_machine.travel(START, tick=False):
        review = review_submit(
            reviewer=reviewer,
            assignment=assignment,
            ratings=EXAMPLE_RATINGS,
            comments={"solution": "Refund offered, not made."},
            overall_comment="Friendly, but the refund was not processed.",
        )

    review.refresh_from_db()
    assert review.status == ReviewStatus.SUBMITTED
    assert review.score == Decimal("72.0")
    assert (review.passed, review.critical_fail) == (False, False)
    assert review.submitted_at == START
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED
    (revision,) = review.revisions.all()
    assert (revision.number, revision.score, revision.reason) == (1, Decimal("72.0"), "Submitted")
    assert revision.ratings == EXAMPLE_RATINGS
    event = AuditEvent.objects.get(action="qa.review_submitted")
    assert event.changes["score"] == "72.0"


def test_submit_scores_0_when_data_protection_fails(assignment, reviewer):
    review = review_submit(
        reviewer=reviewer, assignment=assignment, ratings=_ratings(data_protection=0)
    )

    assert review.score == Decimal("0.0")
    assert (review.passed, review.critical_fail) == (False, True)


def test_submit_after_a_draft_uses_the_draft_row(assignment, reviewer):
    draft = review_draft_save(reviewer=reviewer, assignment=assignment, ratings={"greeting": 1})

    review = review_submit(reviewer=reviewer, assignment=assignment, ratings=EXAMPLE_RATINGS)

    assert review.pk == draft.pk
    assert Review.objects.count() == 1


@pytest.mark.parametrize(
    "ratings, key",
    [
        ({k: v for k, v in EXAMPLE_RATINGS.items() if k != "tone"}, "tone"),
        (_ratings(solution=5), "solution"),
        (_ratings(greeting=None), "greeting"),
    ],
    ids=["missing", "outside_scale", "na_not_allowed"],
)
def test_submit_refuses_incomplete_or_bad_ratings(assignment, reviewer, ratings, key):
    with pytest.raises(ValidationFailed) as refusal:
        review_submit(reviewer=reviewer, assignment=assignment, ratings=ratings)

    assert key in refusal.value.fields
    assert not Review.objects.exists()
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.OPEN
    assert not AuditEvent.objects.filter(action="qa.review_submitted").exists()


def test_a_task_not_assigned_to_you_cannot_be_reviewed(assignment, second_reviewer):
    with pytest.raises(PermissionDenied) as refusal:
        review_submit(reviewer=second_reviewer, assignment=assignment, ratings=EXAMPLE_RATINGS)

    assert refusal.value.code == "not_assigned"
    assert not Review.objects.exists()


def test_an_unassigned_task_cannot_be_reviewed(version, task, reviewer):
    assignment = assignment_create_for_task(task=task, reasons=["random"])

    with pytest.raises(PermissionDenied):
        review_draft_save(reviewer=reviewer, assignment=assignment, ratings={"greeting": 1})
    assert not Review.objects.exists()


def test_your_own_task_cannot_be_reviewed(version, gig, brand_admin, reviewer):
    task = closed_task(gig=gig, agent=brand_admin)
    assignment = assignment_create_for_task(task=task, reasons=["random"])
    # Even if it was (wrongly) handed to them directly in the table.
    ReviewAssignment.objects.filter(pk=assignment.pk).update(reviewer=brand_admin)
    assignment.refresh_from_db()

    with pytest.raises(PermissionDenied) as refusal:
        review_submit(reviewer=brand_admin, assignment=assignment, ratings=EXAMPLE_RATINGS)

    assert refusal.value.code == "own_task"
    assert not Review.objects.exists()


def test_another_brands_reviewer_gets_not_found(assignment, other_reviewer):
    with pytest.raises(NotFound):
        review_draft_save(reviewer=other_reviewer, assignment=assignment, ratings={})


def test_a_submitted_review_cannot_be_edited(assignment, reviewer):
    review_submit(reviewer=reviewer, assignment=assignment, ratings=EXAMPLE_RATINGS)
    events = AuditEvent.objects.count()

    with pytest.raises(Conflict):
        review_draft_save(reviewer=reviewer, assignment=assignment, ratings={"greeting": 0})
    with pytest.raises(Conflict):
        review_submit(reviewer=reviewer, assignment=assignment, ratings=_ratings(solution=4))

    review = Review.objects.get()
    assert review.ratings == EXAMPLE_RATINGS
    assert review.score == Decimal("72.0")
    assert review.revisions.count() == 1
    assert AuditEvent.objects.count() == events


def test_a_reassigned_reviewer_cannot_submit_over_the_first(
    assignment, reviewer, second_reviewer, brand_admin
):
    review_submit(reviewer=reviewer, assignment=assignment, ratings=EXAMPLE_RATINGS)

    with pytest.raises(Conflict):
        assignment_assign(actor=brand_admin, assignment=assignment, reviewer=second_reviewer)


def test_a_gig_without_a_published_scorecard_cannot_be_reviewed(gig, agent, reviewer):
    task = closed_task(gig=gig, agent=agent)
    assignment = assignment_create_for_task(task=task, reasons=["random"])
    assignment = assignment_assign(actor=reviewer, assignment=assignment, reviewer=reviewer)

    with pytest.raises(ValidationFailed) as refusal:
        review_draft_save(reviewer=reviewer, assignment=assignment, ratings={})
    assert refusal.value.code == "no_scorecard"


# --- the queue -------------------------------------------------------------------------


def test_the_queue_shows_open_work_mine_or_nobodys_with_overdue_flags(
    version, gig, agent, reviewer, second_reviewer, other_gig
):
    with time_machine.travel(START, tick=False) as clock:
        old = assignment_create_for_task(task=closed_task(gig=gig, agent=agent), reasons=["random"])
        clock.shift(timedelta(hours=10))
        mine = assignment_create_for_task(
            task=closed_task(gig=gig, agent=agent), reasons=["low_csat"]
        )
        assignment_assign(actor=reviewer, assignment=mine, reviewer=reviewer)
        theirs = assignment_create_for_task(
            task=closed_task(gig=gig, agent=agent), reasons=["random"]
        )
        assignment_assign(actor=second_reviewer, assignment=theirs, reviewer=second_reviewer)
        assignment_create_for_task(task=closed_task(gig=other_gig, agent=agent), reasons=["random"])
        clock.shift(timedelta(hours=40))  # 50 h after the first pick, 40 h after the second

        queue = [(a.pk, a.overdue) for a in review_queue(user=reviewer)]

    assert queue == [(old.pk, True), (mine.pk, False)]


def test_the_queue_leaves_out_submitted_work(assignment, reviewer):
    review_submit(reviewer=reviewer, assignment=assignment, ratings=EXAMPLE_RATINGS)

    assert list(review_queue(user=reviewer)) == []


def test_a_viewer_has_no_queue(assignment, brand_viewer):
    assert list(review_queue(user=brand_viewer)) == []


def test_staff_see_every_brands_queue(version, task, other_gig, agent, staff):
    assignment_create_for_task(task=task, reasons=["random"])
    assignment_create_for_task(task=closed_task(gig=other_gig, agent=agent), reasons=["random"])

    assert review_queue(user=staff).count() == 2


# --- agent QA score --------------------------------------------------------------------


def _reviewed(gig, agent, reviewer, ratings, when):
    with time_machine.travel(when, tick=False):
        assignment = assignment_create_for_task(
            task=closed_task(gig=gig, agent=agent), reasons=["random"]
        )
        assignment_assign(actor=reviewer, assignment=assignment, reviewer=reviewer)
        return review_submit(reviewer=reviewer, assignment=assignment, ratings=ratings)


def test_the_agent_score_is_the_mean_over_30_days_provisional_under_5(
    version, gig, agent, reviewer
):
    _reviewed(gig, agent, reviewer, EXAMPLE_RATINGS, START - timedelta(days=31))
    _reviewed(gig, agent, reviewer, EXAMPLE_RATINGS, START - timedelta(days=3))
    _reviewed(gig, agent, reviewer, _ratings(solution=4), START - timedelta(days=2))
    # A draft never counts.
    assignment = assignment_create_for_task(
        task=closed_task(gig=gig, agent=agent), reasons=["random"]
    )
    assignment_assign(actor=reviewer, assignment=assignment, reviewer=reviewer)
    review_draft_save(reviewer=reviewer, assignment=assignment, ratings=EXAMPLE_RATINGS)

    score = agent_qa_score(agent=agent, now=START)

    # (72.0 + 84.1) / 2 = 78.05 → 78.1
    assert (score.score, score.count, score.provisional) == (Decimal("78.1"), 2, True)


def test_the_agent_score_per_gig_counts_only_that_gig(version, gig, agent, reviewer, brand_admin):
    second_gig = GigFactory(brand=gig.brand, title="Returns (EN)")
    gig_qa_settings_update(actor=brand_admin, gig=second_gig, scorecard=version.scorecard)
    for day in range(1, 6):
        _reviewed(gig, agent, reviewer, EXAMPLE_RATINGS, START - timedelta(days=day))
    _reviewed(second_gig, agent, reviewer, _ratings(data_protection=0), START - timedelta(hours=1))

    on_gig = agent_qa_score(agent=agent, gig=gig, now=START)
    overall = agent_qa_score(agent=agent, now=START)

    assert (on_gig.score, on_gig.count, on_gig.provisional) == (Decimal("72.0"), 5, False)
    # (5 × 72.0 + 0.0) / 6 = 60.0
    assert (overall.score, overall.count) == (Decimal("60.0"), 6)


def test_an_agent_without_reviews_is_unscored(agent):
    score = agent_qa_score(agent=agent, now=START)

    assert (score.score, score.count, score.provisional) == (None, 0, True)
