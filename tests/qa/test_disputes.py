"""Disputes: the window, once per review, who decides, uphold and amend, and the history."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from marketplace.models import AuditEvent
from qa.models import Dispute, DisputeDecision
from qa.selectors import review_revisions, undecided_disputes
from qa.services import dispute_decide, dispute_open, review_submit
from tests.qa.factories import EXAMPLE_RATINGS

pytestmark = pytest.mark.django_db

REASON = "The refund was processed in the back office, see the note."
AMENDED = {**EXAMPLE_RATINGS, "solution": 4}


@pytest.fixture
def review(assignment, reviewer):
    return review_submit(reviewer=reviewer, assignment=assignment, ratings=EXAMPLE_RATINGS)


@pytest.fixture
def dispute(review, agent):
    return dispute_open(agent=agent, review=review, reason=REASON)


def test_the_agent_disputes_their_review_with_a_72_hour_decision_sla(review, agent):
    opened = review.submitted_at + timedelta(days=2)
    with time_machine.travel(opened, tick=False):
        dispute = dispute_open(
            agent=agent, review=review, reason=REASON, proposed_ratings={"solution": 4}
        )

    assert (dispute.agent, dispute.brand_id) == (agent, review.brand_id)
    assert dispute.due_at == opened + timedelta(hours=72)
    assert dispute.proposed_ratings == {"solution": 4}
    assert AuditEvent.objects.filter(action="qa.dispute_opened", brand=review.brand).exists()


def test_a_dispute_on_the_last_moment_of_day_7_is_accepted(review, agent):
    with time_machine.travel(review.submitted_at + timedelta(days=7), tick=False):
        assert dispute_open(agent=agent, review=review, reason=REASON)


def test_a_dispute_after_7_days_is_refused(review, agent):
    with (
        time_machine.travel(review.submitted_at + timedelta(days=7, seconds=1), tick=False),
        pytest.raises(ValidationFailed) as refusal,
    ):
        dispute_open(agent=agent, review=review, reason=REASON)

    assert refusal.value.code == "dispute_window_closed"
    assert not Dispute.objects.exists()
    assert not AuditEvent.objects.filter(action="qa.dispute_opened").exists()


def test_a_second_dispute_is_refused(dispute, review, agent):
    with pytest.raises(Conflict):
        dispute_open(agent=agent, review=review, reason="Another long enough reason here.")

    assert Dispute.objects.count() == 1


def test_a_dispute_after_the_first_is_decided_is_refused_too(dispute, review, agent, brand_admin):
    dispute_decide(decider=brand_admin, dispute=dispute, decision="uphold", reason="Stands.")

    with pytest.raises(Conflict):
        dispute_open(agent=agent, review=review, reason="Another long enough reason here.")


@pytest.mark.parametrize("reason", ["Too short", " " * 30, "x" * 19 + "   "])
def test_a_short_reason_is_refused(review, agent, reason):
    with pytest.raises(ValidationFailed) as refusal:
        dispute_open(agent=agent, review=review, reason=reason)

    assert "reason" in refusal.value.fields
    assert not Dispute.objects.exists()


def test_a_reason_of_exactly_20_characters_is_enough(review, agent):
    assert dispute_open(agent=agent, review=review, reason="x" * 20)


def test_someone_elses_review_cannot_be_disputed(review, other_agent):
    with pytest.raises(NotFound):
        dispute_open(agent=other_agent, review=review, reason=REASON)
    assert not Dispute.objects.exists()


def test_proposed_ratings_must_fit_the_scorecard(review, agent):
    with pytest.raises(ValidationFailed):
        dispute_open(agent=agent, review=review, reason=REASON, proposed_ratings={"solution": 9})
    assert not Dispute.objects.exists()


def test_the_original_reviewer_cannot_decide(dispute, reviewer):
    with pytest.raises(PermissionDenied) as refusal:
        dispute_decide(decider=reviewer, dispute=dispute, decision="amend", reason="Fair.")

    assert refusal.value.code == "own_review"
    dispute.refresh_from_db()
    assert not dispute.is_decided
    assert not AuditEvent.objects.filter(action="qa.dispute_decided").exists()


def test_a_viewer_cannot_decide(dispute, brand_viewer):
    with pytest.raises(PermissionDenied):
        dispute_decide(decider=brand_viewer, dispute=dispute, decision="uphold", reason="Fine.")


def test_another_brands_reviewer_gets_not_found(dispute, other_reviewer):
    with pytest.raises(NotFound):
        dispute_decide(decider=other_reviewer, dispute=dispute, decision="uphold", reason="No.")


def test_the_agent_cannot_decide(dispute, agent):
    with pytest.raises(NotFound):
        dispute_decide(decider=agent, dispute=dispute, decision="uphold", reason="Mine.")


def test_uphold_keeps_the_score_and_adds_no_revision(dispute, review, second_reviewer):
    decided = dispute_decide(
        decider=second_reviewer,
        dispute=dispute,
        decision="uphold",
        reason="The note came after the chat.",
    )

    assert decided.decision == DisputeDecision.UPHOLD
    assert decided.decided_by == second_reviewer
    review.refresh_from_db()
    assert review.score == Decimal("72.0")
    assert [r.number for r in review_revisions(review=review)] == [1]
    event = AuditEvent.objects.get(action="qa.dispute_decided")
    assert event.changes == {"decision": "uphold", "score": ["72.0", "72.0"]}


def test_amend_adds_a_revision_and_rescores_to_84_1(dispute, review, second_reviewer):
    dispute_decide(
        decider=second_reviewer,
        dispute=dispute,
        decision="amend",
        reason="The refund went through: full marks for the solution.",
        ratings=AMENDED,
    )

    review.refresh_from_db()
    assert review.score == Decimal("84.1")
    assert review.passed is True
    assert review.ratings == AMENDED
    history = review_revisions(review=review)
    assert [(r.number, r.score, r.created_by) for r in history] == [
        (1, Decimal("72.0"), review.reviewer),
        (2, Decimal("84.1"), second_reviewer),
    ]
    assert history[0].ratings == EXAMPLE_RATINGS
    assert history[1].dispute == dispute
    assert history[1].reason.startswith("The refund went through")
    event = AuditEvent.objects.get(action="qa.dispute_decided")
    assert event.changes["score"] == ["72.0", "84.1"]


def test_an_amend_needs_complete_valid_ratings(dispute, review, second_reviewer):
    for ratings in (None, {"solution": 4}, {**AMENDED, "solution": 7}):
        with pytest.raises(ValidationFailed):
            dispute_decide(
                decider=second_reviewer,
                dispute=dispute,
                decision="amend",
                reason="Changed.",
                ratings=ratings,
            )

    review.refresh_from_db()
    assert review.score == Decimal("72.0")
    assert review.revisions.count() == 1
    dispute.refresh_from_db()
    assert not dispute.is_decided


def test_an_amend_that_changes_nothing_is_refused(dispute, second_reviewer):
    with pytest.raises(ValidationFailed) as refusal:
        dispute_decide(
            decider=second_reviewer,
            dispute=dispute,
            decision="amend",
            reason="Same.",
            ratings=EXAMPLE_RATINGS,
        )
    assert refusal.value.code == "amend_unchanged"


def test_a_decision_needs_a_reason_and_a_known_outcome(dispute, second_reviewer):
    with pytest.raises(ValidationFailed):
        dispute_decide(decider=second_reviewer, dispute=dispute, decision="uphold", reason="  ")
    with pytest.raises(ValidationFailed):
        dispute_decide(decider=second_reviewer, dispute=dispute, decision="maybe", reason="Hm.")
    dispute.refresh_from_db()
    assert not dispute.is_decided


def test_a_dispute_is_decided_once(dispute, second_reviewer, brand_admin):
    dispute_decide(decider=second_reviewer, dispute=dispute, decision="uphold", reason="Stands.")

    with pytest.raises(Conflict):
        dispute_decide(
            decider=brand_admin,
            dispute=dispute,
            decision="amend",
            reason="Changed my mind.",
            ratings=AMENDED,
        )
    assert Dispute.objects.get().decided_by == second_reviewer


def test_staff_may_decide(dispute, review, staff):
    dispute_decide(
        decider=staff, dispute=dispute, decision="amend", reason="Refund seen.", ratings=AMENDED
    )

    review.refresh_from_db()
    assert review.score == Decimal("84.1")


def test_a_late_decision_is_taken_and_was_overdue(dispute, second_reviewer):
    with time_machine.travel(dispute.due_at + timedelta(hours=1), tick=False):
        assert dispute.is_overdue
        decided = dispute_decide(
            decider=second_reviewer, dispute=dispute, decision="uphold", reason="Late but fair."
        )

    assert decided.decided_at > decided.due_at


def test_the_decision_queue_leaves_out_the_original_reviewers_disputes(
    dispute, reviewer, second_reviewer
):
    assert list(undecided_disputes(user=reviewer)) == []
    assert list(undecided_disputes(user=second_reviewer)) == [dispute]
