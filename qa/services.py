"""Writes: review assignments, reviews and disputes. Scorecards and QA
settings are written by ``qa.scorecards``.

Rules stated once, here:
- a review pins the scorecard version current when it was started;
- a submitted review never changes; a dispute decided "amend" adds a
  ``ReviewRevision`` and the review's current values follow the latest one;
- reviewers are the brand's admins and QA reviewers, or platform staff, and
  never the agent whose work is reviewed;
- every refusal raises before anything is written, so bad input leaves no
  row and no audit event.
Scores come from ``qa.scoring`` (pure functions); nothing here does arithmetic.

This module is also QA's front door for the rest of Gigdesk: the pure
``compute_score`` and the feeds ``gigs/`` and ``payouts/`` call
(``eligibility``, ``ranking_signal``, ``bonus_run``; kept in ``qa.feeds``)
are importable from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from marketplace.audit import audit_record
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from qa import scoring
from qa.feeds import bonus_run, eligibility, ranking_signal
from qa.inputs import TEXT_MAX, checked_ratings, cleaned_comments, ratings_shape, text_value
from qa.models import (
    AssignmentStatus,
    Dispute,
    DisputeDecision,
    Review,
    ReviewAssignment,
    ReviewRevision,
    ReviewStatus,
    SamplingReason,
    ScorecardVersion,
)
from qa.permissions import can_manage, can_review, require_review
from qa.scoring import compute_score
from qa.selectors import gig_qa_settings, gig_scorecard_version

__all__ = [
    "assignment_assign",
    "assignment_create_for_task",
    "bonus_run",
    "compute_score",
    "dispute_decide",
    "dispute_open",
    "eligibility",
    "ranking_signal",
    "review_draft_save",
    "review_preview",
    "review_submit",
]

DISPUTE_WINDOW = timedelta(days=7)
DISPUTE_DECISION_SLA = timedelta(hours=72)
DISPUTE_REASON_MIN = 20
OVERALL_COMMENT_MAX = 5000


# --- assignments ---------------------------------------------------------------------


def _merge_reasons(current: Sequence[str], new: Sequence[str]) -> list[str]:
    """All reasons once each, in the one order every page shows them in."""
    wanted = set(current) | set(new)
    return [reason for reason in SamplingReason.values if reason in wanted]


def assignment_create_for_task(*, task, reasons: Sequence[str], actor=None) -> ReviewAssignment:
    """Put a closed task in its brand's review queue, or add ``reasons`` to the
    assignment it already has (one per task). ``actor`` None: the sampling job;
    a person (a manual pick) must be a reviewer of the brand."""
    if actor is not None:
        require_review(actor, task.brand)
    reasons = list(reasons)
    if not reasons or any(reason not in SamplingReason.values for reason in reasons):
        raise ValidationFailed(
            "Say why the task is reviewed.", fields={"reasons": "Unknown or missing reason."}
        )
    if task.closed_at is None or task.holder_id is None:
        raise ValidationFailed(
            "Only closed tasks worked by an agent can be reviewed.", code="task_not_closed"
        )
    with transaction.atomic():
        assignment = ReviewAssignment.objects.select_for_update().filter(task=task).first()
        if assignment is None:
            now = timezone.now()
            sla = timedelta(hours=gig_qa_settings(task.gig).sla_hours)
            try:
                with transaction.atomic():  # savepoint: a concurrent sampler may win
                    assignment = ReviewAssignment.objects.create(
                        task=task,
                        brand_id=task.brand_id,
                        gig_id=task.gig_id,
                        agent_id=task.holder_id,
                        reasons=_merge_reasons([], reasons),
                        assigned_at=now,
                        due_at=now + sla,
                    )
            except IntegrityError:
                assignment = ReviewAssignment.objects.select_for_update().get(task=task)
            else:
                audit_record(
                    actor=actor,
                    action="qa.assignment_created",
                    target=assignment,
                    brand=task.brand,
                    changes={"reasons": assignment.reasons, "agent": task.holder_id},
                )
                return assignment
        merged = _merge_reasons(assignment.reasons, reasons)
        if merged != assignment.reasons:
            audit_record(
                actor=actor,
                action="qa.assignment_reasons_added",
                target=assignment,
                brand=task.brand,
                changes={"reasons": [assignment.reasons, merged]},
            )
            assignment.reasons = merged
            assignment.save(update_fields=["reasons"])
    return assignment


def assignment_assign(*, actor, assignment: ReviewAssignment, reviewer) -> ReviewAssignment:
    """Name the reviewer of an open assignment. A QA reviewer may take one for
    themselves; handing one to someone else takes a brand admin or staff."""
    brand = assignment.brand
    require_review(actor, brand)
    if reviewer.pk != actor.pk and not can_manage(actor, brand):
        raise PermissionDenied("Only admins of the brand and staff hand reviews to others.")
    if not can_review(reviewer, brand):
        raise ValidationFailed(
            f"{reviewer.get_full_name()} is not a QA reviewer of {brand}.",
            fields={"reviewer": "Not a QA reviewer of this brand."},
        )
    if reviewer.pk == assignment.agent_id:
        raise PermissionDenied(
            "Nobody reviews their own work: choose another reviewer.", code="own_task"
        )
    with transaction.atomic():
        assignment = ReviewAssignment.objects.select_for_update().get(pk=assignment.pk)
        if assignment.status != AssignmentStatus.OPEN:
            raise Conflict("This task has already been reviewed.", code="assignment_done")
        if assignment.reviewer_id == reviewer.pk:
            return assignment
        previous = assignment.reviewer_id
        assignment.reviewer = reviewer
        assignment.reviewer_set_at = timezone.now()
        assignment.save(update_fields=["reviewer", "reviewer_set_at"])
        audit_record(
            actor=actor,
            action="qa.assignment_assigned",
            target=assignment,
            brand=brand,
            changes={"reviewer": [previous, reviewer.pk]},
        )
    return assignment


# --- reviews -------------------------------------------------------------------------


def _lock_assignment_for(reviewer, assignment: ReviewAssignment) -> ReviewAssignment:
    """The assignment, locked, if ``reviewer`` may score it now. Call inside a transaction."""
    require_review(reviewer, assignment.brand)
    if reviewer.pk == assignment.agent_id:
        raise PermissionDenied("You cannot review your own task.", code="own_task")
    locked = ReviewAssignment.objects.select_for_update().get(pk=assignment.pk)
    if locked.reviewer_id != reviewer.pk:
        raise PermissionDenied(
            "This task is not assigned to you; take it from the queue first.",
            code="not_assigned",
        )
    return locked


def _own_review(reviewer, assignment: ReviewAssignment) -> Review | None:
    review = (
        Review.objects.select_for_update()
        .filter(assignment=assignment, reviewer=reviewer)
        .select_related("scorecard_version")
        .first()
    )
    if review is not None and review.status == ReviewStatus.SUBMITTED:
        raise Conflict("Submitted reviews cannot be changed.", code="review_submitted")
    if assignment.status != AssignmentStatus.OPEN:
        raise Conflict("This task has already been reviewed.", code="assignment_done")
    return review


def _version_for(assignment: ReviewAssignment, review: Review | None) -> ScorecardVersion:
    if review is not None:
        return review.scorecard_version
    version = gig_scorecard_version(assignment.gig)
    if version is None:
        raise ValidationFailed(
            "The gig has no published scorecard to review with.", code="no_scorecard"
        )
    return version


def _new_review(reviewer, assignment: ReviewAssignment, version: ScorecardVersion) -> Review:
    return Review(
        assignment=assignment,
        task_id=assignment.task_id,
        brand_id=assignment.brand_id,
        gig_id=assignment.gig_id,
        agent_id=assignment.agent_id,
        reviewer=reviewer,
        scorecard_version=version,
    )


def review_draft_save(
    *,
    reviewer,
    assignment: ReviewAssignment,
    ratings: Mapping[str, int | None],
    comments: Mapping[str, str] | None = None,
    overall_comment: str = "",
) -> Review:
    """Autosave the reviewer's draft: partial ratings are fine, wrong ones are
    refused. The first save pins the gig's current scorecard version.

    Drafts are not audited: autosave writes every few seconds, and the submit
    records the full ratings anyway.
    """
    with transaction.atomic():
        assignment = _lock_assignment_for(reviewer, assignment)
        review = _own_review(reviewer, assignment)
        version = _version_for(assignment, review)
        ratings = checked_ratings(version, ratings, partial=True)
        comments = cleaned_comments(version, comments)
        overall = text_value(
            overall_comment,
            field_name="overall_comment",
            label="The overall comment",
            max_length=OVERALL_COMMENT_MAX,
        )
        if review is None:
            review = _new_review(reviewer, assignment, version)
        review.ratings, review.comments, review.overall_comment = ratings, comments, overall
        review.save()
    return review


@dataclass(frozen=True)
class ReviewPreview:
    """What the score would be now. ``problems`` maps category keys to what is
    wrong with their rating; those categories are left out of ``score``."""

    score: Decimal | None
    passed: bool
    critical_fail: bool
    complete: bool
    pass_mark: int
    problems: dict[str, str] = field(default_factory=dict)


def review_preview(
    *, reviewer, assignment: ReviewAssignment, ratings: Mapping[str, int | None]
) -> ReviewPreview:
    """The live score of ratings being entered, computed as submit will, saving nothing."""
    require_review(reviewer, assignment.brand)
    if reviewer.pk == assignment.agent_id:
        raise PermissionDenied("You cannot review your own task.", code="own_task")
    if assignment.reviewer_id != reviewer.pk:
        raise PermissionDenied("This task is not assigned to you.", code="not_assigned")
    draft = (
        Review.objects.filter(assignment=assignment, reviewer=reviewer)
        .select_related("scorecard_version")
        .first()
    )
    version = _version_for(assignment, draft)
    specs = version.category_specs()
    ratings = ratings_shape(ratings)
    problems = scoring.validate_ratings(specs, ratings, partial=True)
    usable = {key: value for key, value in ratings.items() if key not in problems}
    score = scoring.compute_partial_score(specs, usable)
    complete = not problems and not scoring.validate_ratings(specs, ratings)
    return ReviewPreview(
        score=score,
        passed=scoring.passes(score, version.pass_mark),
        critical_fail=scoring.critical_failed(specs, usable),
        complete=complete,
        pass_mark=version.pass_mark,
        problems=problems,
    )


def _write_revision(review: Review, *, actor, reason: str, dispute=None) -> ReviewRevision:
    number = (review.revisions.aggregate(last=Max("number"))["last"] or 0) + 1
    return ReviewRevision.objects.create(
        review=review,
        number=number,
        ratings=review.ratings,
        comments=review.comments,
        overall_comment=review.overall_comment,
        score=review.score,
        passed=review.passed,
        critical_fail=review.critical_fail,
        created_by=actor,
        reason=reason,
        dispute=dispute,
        created_at=timezone.now(),
    )


def _score_into(review: Review, version: ScorecardVersion, ratings) -> None:
    """Set the review's score fields from complete ratings (ValidationFailed if not)."""
    specs = version.category_specs()
    try:
        score = scoring.compute_score(specs, ratings)
    except ValueError as error:
        problems = getattr(error, "problems", None) or {}
        raise ValidationFailed(
            "Rate every category (or mark it N/A where allowed) before submitting.",
            code="ratings_invalid",
            fields=problems,
        ) from None
    review.ratings = ratings
    review.score = score
    review.passed = None if score is None else scoring.passes(score, version.pass_mark)
    review.critical_fail = scoring.critical_failed(specs, ratings)


def _standing_follows(agent_id: int) -> None:
    # What dispatch reads (``QAStanding``) follows the agent's new score once
    # the review commits; a background job, so the reviewer never waits on it.
    from qa.tasks import qa_standing_refresh_job  # lazily: qa.tasks imports this module

    transaction.on_commit(lambda: qa_standing_refresh_job(agent_id))


def review_submit(
    *,
    reviewer,
    assignment: ReviewAssignment,
    ratings: Mapping[str, int | None],
    comments: Mapping[str, str] | None = None,
    overall_comment: str = "",
) -> Review:
    """Score and submit: every category rated (N/A where allowed). Writes
    revision 1; the review is immutable from here."""
    with transaction.atomic():
        assignment = _lock_assignment_for(reviewer, assignment)
        review = _own_review(reviewer, assignment)
        version = _version_for(assignment, review)
        ratings = ratings_shape(ratings)
        comments = cleaned_comments(version, comments)
        overall = text_value(
            overall_comment,
            field_name="overall_comment",
            label="The overall comment",
            max_length=OVERALL_COMMENT_MAX,
        )
        if review is None:
            review = _new_review(reviewer, assignment, version)
        _score_into(review, version, ratings)
        now = timezone.now()
        review.comments, review.overall_comment = comments, overall
        review.status = ReviewStatus.SUBMITTED
        review.submitted_at = now
        review.save()
        _write_revision(review, actor=reviewer, reason="Submitted")
        assignment.status = AssignmentStatus.SUBMITTED
        assignment.submitted_at = now
        assignment.save(update_fields=["status", "submitted_at"])
        audit_record(
            actor=reviewer,
            action="qa.review_submitted",
            target=review,
            brand=assignment.brand,
            changes={
                "score": None if review.score is None else str(review.score),
                "passed": review.passed,
                "critical_fail": review.critical_fail,
                "version": version.number,
            },
        )
        _standing_follows(review.agent_id)
    return review


# --- disputes ------------------------------------------------------------------------


def dispute_open(
    *,
    agent,
    review: Review,
    reason: str,
    proposed_ratings: Mapping[str, int | None] | None = None,
) -> Dispute:
    """The agent disputes their own submitted review: once, within 7 days of
    its submit, saying why in at least 20 characters."""
    if (
        review.agent_id != agent.pk
        or review.status != ReviewStatus.SUBMITTED
        or review.is_calibration
    ):
        raise NotFound("No such review.")
    reason = text_value(reason, field_name="reason", label="The reason", max_length=TEXT_MAX)
    if len(reason) < DISPUTE_REASON_MIN:
        raise ValidationFailed(
            f"Say why in at least {DISPUTE_REASON_MIN} characters.",
            fields={"reason": f"At least {DISPUTE_REASON_MIN} characters."},
        )
    with transaction.atomic():
        review = (
            Review.objects.select_for_update().select_related("scorecard_version").get(pk=review.pk)
        )
        if Dispute.objects.filter(review=review).exists():
            raise Conflict("This review has already been disputed.", code="dispute_exists")
        now = timezone.now()
        closes = review.submitted_at + DISPUTE_WINDOW
        if now > closes:
            raise ValidationFailed(
                f"Disputes are open for {DISPUTE_WINDOW.days} days after a review; "
                f"this one closed on {closes:%d %B %Y}.",
                code="dispute_window_closed",
            )
        proposed = {}
        if proposed_ratings:
            proposed = checked_ratings(review.scorecard_version, proposed_ratings, partial=True)
        dispute = Dispute.objects.create(
            review=review,
            brand_id=review.brand_id,
            agent=agent,
            reason=reason,
            proposed_ratings=proposed,
            created_at=now,
            due_at=now + DISPUTE_DECISION_SLA,
        )
        audit_record(
            actor=agent,
            action="qa.dispute_opened",
            target=dispute,
            brand=review.brand,
            changes={"review": review.pk, "proposed_ratings": proposed},
        )
    return dispute


def dispute_decide(
    *,
    decider,
    dispute: Dispute,
    decision: str,
    reason: str,
    ratings: Mapping[str, int | None] | None = None,
    comments: Mapping[str, str] | None = None,
) -> Dispute:
    """Uphold the review, or amend it with new complete ratings (a new revision,
    score recomputed). The decider is a reviewer of the brand or staff, and
    neither the original reviewer nor the agent."""
    require_review(decider, dispute.brand)
    if decision not in DisputeDecision.values:
        raise ValidationFailed("Uphold or amend.", fields={"decision": "Unknown decision."})
    reason = text_value(
        reason,
        field_name="reason",
        label="The decision's reason",
        max_length=TEXT_MAX,
        required=True,
    )
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
        review = (
            Review.objects.select_for_update()
            .select_related("scorecard_version", "brand")
            .get(pk=dispute.review_id)
        )
        if decider.pk == review.reviewer_id:
            raise PermissionDenied(
                "The original reviewer cannot decide a dispute of their own review.",
                code="own_review",
            )
        if decider.pk == review.agent_id:
            raise PermissionDenied("Agents cannot decide their own disputes.", code="own_dispute")
        if dispute.is_decided:
            raise Conflict("This dispute has already been decided.", code="dispute_decided")
        old_score = review.score
        now = timezone.now()
        if decision == DisputeDecision.AMEND:
            if ratings is None:
                raise ValidationFailed(
                    "An amend needs the corrected ratings.", fields={"ratings": "Required."}
                )
            version = review.scorecard_version
            new_comments = (
                review.comments if comments is None else cleaned_comments(version, comments)
            )
            ratings = ratings_shape(ratings)
            if ratings == review.ratings and new_comments == review.comments:
                raise ValidationFailed(
                    "The amend changes nothing; uphold the review instead.", code="amend_unchanged"
                )
            _score_into(review, version, ratings)
            review.comments = new_comments
            review.save()
            _write_revision(review, actor=decider, reason=reason, dispute=dispute)
            _standing_follows(review.agent_id)
        dispute.decision = decision
        dispute.decision_reason = reason
        dispute.decided_by = decider
        dispute.decided_at = now
        dispute.save(update_fields=["decision", "decision_reason", "decided_by", "decided_at"])
        audit_record(
            actor=decider,
            action="qa.dispute_decided",
            target=dispute,
            brand=review.brand,
            changes={
                "decision": decision,
                "score": [
                    None if old_score is None else str(old_score),
                    None if review.score is None else str(review.score),
                ],
            },
        )
    return dispute
