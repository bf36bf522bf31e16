"""Calibration: several reviewers score one closed task blind, staff close the
session, see how far apart the scores are, and record the gold review each
reviewer's alignment is measured against.

Rules stated once, here:
- staff run sessions; at least ``MIN_REVIEWERS`` reviewers are invited, each
  platform staff or an admin / QA reviewer of the task's brand, never the
  task's agent;
- calibration scoring is stored as ``Review`` rows with ``is_calibration`` set,
  which never count toward an agent's QA score (``ReviewQuerySet.counting``);
- blindness: a reviewer sees only their own scoring until they submit, then
  the others' submitted ones; staff see who has submitted, and the scores
  once the session is closed;
- a reviewer's alignment with the gold review is computed by
  ``qa.scoring.alignment`` from the stored, immutable ratings; gold_record
  also writes every reviewer's figure into its audit event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from marketplace.audit import audit_record
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from qa import scoring
from qa.inputs import checked_ratings, cleaned_comments, ratings_shape, text_value
from qa.models import (
    CalibrationInvite,
    CalibrationSession,
    CalibrationStatus,
    Review,
    ReviewRevision,
    ReviewStatus,
    ScorecardVersion,
)
from qa.permissions import REVIEWER_ROLES, can_review
from qa.selectors import gig_scorecard_version

MIN_REVIEWERS = 3
ALIGNMENT_FLAG_BELOW = Decimal(85)
ALIGNMENT_RECENT_SESSIONS = 3
OVERALL_COMMENT_MAX = 5000
OVERALL_KEY = "overall"


def _require_staff(actor, what: str) -> None:
    if actor is None or not actor.is_authenticated or not actor.is_active or not actor.is_staff:
        raise PermissionDenied(f"Only platform staff {what}.")


# --- sessions --------------------------------------------------------------------------


def session_create(*, actor, task, reviewers: Iterable) -> CalibrationSession:
    """Open a calibration session on a closed task, inviting ``reviewers`` (≥ 3)."""
    _require_staff(actor, "run calibration sessions")
    if task.closed_at is None or task.holder_id is None:
        raise ValidationFailed(
            "Only closed tasks worked by an agent can be calibrated.",
            code="task_not_closed",
            fields={"task": "Choose a closed task."},
        )
    invited = list({reviewer.pk: reviewer for reviewer in reviewers}.values())
    if len(invited) < MIN_REVIEWERS:
        raise ValidationFailed(
            f"Invite at least {MIN_REVIEWERS} reviewers.",
            code="too_few_reviewers",
            fields={"reviewers": f"At least {MIN_REVIEWERS}."},
        )
    for reviewer in invited:
        if reviewer.pk == task.holder_id:
            raise ValidationFailed(
                f"{reviewer.get_full_name()} worked this task and cannot calibrate on it.",
                code="agent_invited",
                fields={"reviewers": "The task's agent cannot be invited."},
            )
        if not can_review(reviewer, task.brand):
            raise ValidationFailed(
                f"{reviewer.get_full_name()} is neither staff nor a QA reviewer of {task.brand}.",
                code="not_a_reviewer",
                fields={"reviewers": "Not a reviewer of this brand."},
            )
    version = gig_scorecard_version(task.gig)
    if version is None:
        raise ValidationFailed(
            "The task's gig has no published scorecard to calibrate with.", code="no_scorecard"
        )
    with transaction.atomic():
        session = CalibrationSession.objects.create(
            brand_id=task.brand_id, task=task, scorecard_version=version, created_by=actor
        )
        CalibrationInvite.objects.bulk_create(
            CalibrationInvite(session=session, reviewer=reviewer) for reviewer in invited
        )
        audit_record(
            actor=actor,
            action="qa.calibration_created",
            target=session,
            brand=task.brand,
            changes={
                "task": task.pk,
                "version": version.pk,
                "reviewers": sorted(reviewer.pk for reviewer in invited),
            },
        )
    return session


def _locked_open_session(session: CalibrationSession) -> CalibrationSession:
    locked = (
        CalibrationSession.objects.select_for_update()
        .select_related("scorecard_version", "brand", "task")
        .get(pk=session.pk)
    )
    if locked.status != CalibrationStatus.OPEN:
        raise Conflict("This calibration session is closed.", code="session_closed")
    return locked


def _is_invited(user, session: CalibrationSession) -> bool:
    return CalibrationInvite.objects.filter(session=session, reviewer_id=user.pk).exists()


def _own_calibration_review(reviewer, session: CalibrationSession) -> Review | None:
    if not _is_invited(reviewer, session):
        raise NotFound("No such calibration session.")
    review = (
        Review.objects.select_for_update()
        .filter(calibration_session=session, reviewer=reviewer)
        .first()
    )
    if review is not None and review.status == ReviewStatus.SUBMITTED:
        raise Conflict("You have already submitted your scoring.", code="review_submitted")
    return review


def _new_calibration_review(reviewer, session: CalibrationSession) -> Review:
    task = session.task
    return Review(
        calibration_session=session,
        is_calibration=True,
        task=task,
        brand_id=session.brand_id,
        gig_id=task.gig_id,
        agent_id=task.holder_id,
        reviewer=reviewer,
        scorecard_version=session.scorecard_version,
    )


def _overall(value) -> str:
    return text_value(
        value,
        field_name="overall_comment",
        label="The overall comment",
        max_length=OVERALL_COMMENT_MAX,
    )


def calibration_review_save(
    *,
    reviewer,
    session: CalibrationSession,
    ratings: Mapping[str, int | None],
    comments: Mapping[str, str] | None = None,
    overall_comment: str = "",
) -> Review:
    """Save an invited reviewer's draft; partial ratings are fine, wrong ones refused."""
    with transaction.atomic():
        session = _locked_open_session(session)
        review = _own_calibration_review(reviewer, session)
        version = session.scorecard_version
        ratings = checked_ratings(version, ratings, partial=True)
        comments = cleaned_comments(version, comments)
        overall = _overall(overall_comment)
        if review is None:
            review = _new_calibration_review(reviewer, session)
        review.ratings, review.comments, review.overall_comment = ratings, comments, overall
        review.save()
    return review


def _score_submitted(review: Review, version: ScorecardVersion, ratings, *, actor) -> None:
    """Score complete ``ratings`` into ``review``, submit it and write revision 1."""
    specs = version.category_specs()
    try:
        score = scoring.compute_score(specs, ratings)
    except ValueError as error:
        raise ValidationFailed(
            "Rate every category (or mark it N/A where allowed) before submitting.",
            code="ratings_invalid",
            fields=getattr(error, "problems", None) or {},
        ) from None
    now = timezone.now()
    review.ratings = ratings
    review.score = score
    review.passed = None if score is None else scoring.passes(score, version.pass_mark)
    review.critical_fail = scoring.critical_failed(specs, ratings)
    review.status = ReviewStatus.SUBMITTED
    review.submitted_at = now
    review.save()
    ReviewRevision.objects.create(
        review=review,
        number=1,
        ratings=review.ratings,
        comments=review.comments,
        overall_comment=review.overall_comment,
        score=review.score,
        passed=review.passed,
        critical_fail=review.critical_fail,
        created_by=actor,
        reason="Submitted",
        created_at=now,
    )


def calibration_review_submit(
    *,
    reviewer,
    session: CalibrationSession,
    ratings: Mapping[str, int | None],
    comments: Mapping[str, str] | None = None,
    overall_comment: str = "",
) -> Review:
    """Submit an invited reviewer's scoring: every category rated (N/A where allowed)."""
    with transaction.atomic():
        session = _locked_open_session(session)
        review = _own_calibration_review(reviewer, session)
        version = session.scorecard_version
        ratings = ratings_shape(ratings)
        comments = cleaned_comments(version, comments)
        overall = _overall(overall_comment)
        if review is None:
            review = _new_calibration_review(reviewer, session)
        review.comments, review.overall_comment = comments, overall
        _score_submitted(review, version, ratings, actor=reviewer)
        audit_record(
            actor=reviewer,
            action="qa.calibration_review_submitted",
            target=review,
            brand=session.brand,
            changes={
                "session": session.pk,
                "score": None if review.score is None else str(review.score),
            },
        )
    return review


def session_close(*, actor, session: CalibrationSession) -> CalibrationStats:
    """Close scoring (drafts stay unsubmitted and out of the figures) and return the stats."""
    _require_staff(actor, "close calibration sessions")
    with transaction.atomic():
        session = _locked_open_session(session)
        submitted = submitted_reviews(session).count()
        if submitted < MIN_REVIEWERS:
            raise ValidationFailed(
                f"{submitted} of the invited reviewers have submitted; at least "
                f"{MIN_REVIEWERS} must before the session closes.",
                code="too_few_submitted",
            )
        session.status = CalibrationStatus.CLOSED
        session.closed_at = timezone.now()
        session.save(update_fields=["status", "closed_at"])
        audit_record(
            actor=actor,
            action="qa.calibration_closed",
            target=session,
            brand=session.brand,
            changes={"submitted": submitted},
        )
    return session_stats(session)


def gold_record(
    *,
    actor,
    session: CalibrationSession,
    ratings: Mapping[str, int | None],
    comments: Mapping[str, str] | None = None,
    overall_comment: str = "",
) -> dict[int, Decimal | None]:
    """Record the gold review of a closed session; returns {reviewer id: alignment}."""
    _require_staff(actor, "record gold reviews")
    with transaction.atomic():
        session = (
            CalibrationSession.objects.select_for_update()
            .select_related("scorecard_version", "brand", "task")
            .get(pk=session.pk)
        )
        if session.status != CalibrationStatus.CLOSED:
            raise Conflict("Close the session before recording the gold review.", code="open")
        if session.gold_review_id is not None:
            raise Conflict("The gold review is already recorded.", code="gold_recorded")
        if _is_invited(actor, session):
            raise PermissionDenied(
                "You scored in this session: another staff member records its gold review.",
                code="invited_gold",
            )
        version = session.scorecard_version
        ratings = ratings_shape(ratings)
        gold = _new_calibration_review(actor, session)
        gold.comments = cleaned_comments(version, comments)
        gold.overall_comment = _overall(overall_comment)
        _score_submitted(gold, version, ratings, actor=actor)
        session.gold_review = gold
        session.save(update_fields=["gold_review"])
        alignments = session_alignments(session)
        audit_record(
            actor=actor,
            action="qa.calibration_gold_recorded",
            target=session,
            brand=session.brand,
            changes={
                "gold_review": gold.pk,
                "score": None if gold.score is None else str(gold.score),
                "alignment": {
                    str(reviewer_id): None if value is None else str(value)
                    for reviewer_id, value in alignments.items()
                },
            },
        )
    return alignments


# --- reads -----------------------------------------------------------------------------


def access_calibration_session(user, session_id: int) -> CalibrationSession:
    """The session for staff and its invited reviewers; NotFound for everyone else."""
    session = (
        CalibrationSession.objects.for_user(user)
        .select_related("task", "task__gig", "brand", "scorecard_version", "created_by")
        .filter(pk=session_id)
        .first()
    )
    if session is None or not (user.is_staff or _is_invited(user, session)):
        raise NotFound("No such calibration session.")
    return session


def submitted_reviews(session: CalibrationSession):
    """The invited reviewers' submitted scoring (never the gold review)."""
    reviews = Review.objects.filter(calibration_session=session, status=ReviewStatus.SUBMITTED)
    if session.gold_review_id is not None:
        reviews = reviews.exclude(pk=session.gold_review_id)
    return reviews.select_related("reviewer").order_by("submitted_at", "id")


@dataclass(frozen=True)
class InviteProgress:
    reviewer: object
    submitted: bool
    submitted_at: object = None


def session_progress(session: CalibrationSession) -> list[InviteProgress]:
    """Who has submitted, without any score: what staff see while a session is open."""
    submitted = dict(submitted_reviews(session).values_list("reviewer_id", "submitted_at"))
    return [
        InviteProgress(
            reviewer=invite.reviewer,
            submitted=invite.reviewer_id in submitted,
            submitted_at=submitted.get(invite.reviewer_id),
        )
        for invite in session.invites.select_related("reviewer").order_by("id")
    ]


def own_calibration_review(*, reviewer, session: CalibrationSession) -> Review | None:
    return Review.objects.filter(
        calibration_session=session, reviewer=reviewer, is_calibration=True
    ).first()


def visible_reviews(*, viewer, session: CalibrationSession) -> list[Review]:
    """The submitted scorings ``viewer`` may see: staff once the session is closed;
    an invited reviewer after submitting their own; nobody else any."""
    if session.status == CalibrationStatus.CLOSED and viewer.is_staff:
        return list(submitted_reviews(session))
    own = own_calibration_review(reviewer=viewer, session=session)
    if own is not None and own.status == ReviewStatus.SUBMITTED:
        return list(submitted_reviews(session))
    return []


@dataclass(frozen=True)
class StatsRow:
    """Min, max, spread and population SD of one category (in points of 100) or
    of the overall score. ``count`` 0: nobody rated it (all N/A)."""

    key: str
    name: str
    count: int
    min: Decimal | None = None
    max: Decimal | None = None
    spread: Decimal | None = None
    sd: Decimal | None = None


def _stats_row(key: str, name: str, values: Sequence[Fraction | Decimal]) -> StatsRow:
    if not values:
        return StatsRow(key=key, name=name, count=0)
    stats = scoring.spread_stats(values)
    return StatsRow(
        key=key,
        name=name,
        count=stats.count,
        min=scoring.round_half_up(stats.min),
        max=scoring.round_half_up(stats.max),
        spread=scoring.round_half_up(stats.spread),
        sd=scoring.round_half_up(stats.sd),
    )


@dataclass(frozen=True)
class CalibrationStats:
    categories: list[StatsRow]
    overall: StatsRow
    count: int


def session_stats(session: CalibrationSession) -> CalibrationStats:
    """Per category (v as 0–100, N/A left out) and for the overall score."""
    version = session.scorecard_version
    categories = list(version.categories.all())
    specs = [category.spec() for category in categories]
    reviews = list(submitted_reviews(session))
    per_category: dict[str, list[Fraction]] = {category.key: [] for category in categories}
    for review in reviews:
        for key, value in scoring.category_breakdown(specs, review.ratings).items():
            if value is not None:
                per_category[key].append(value * 100)
    rows = [
        _stats_row(category.key, category.name, per_category[category.key])
        for category in categories
    ]
    scores = [review.score for review in reviews if review.score is not None]
    return CalibrationStats(
        categories=rows,
        overall=_stats_row(OVERALL_KEY, "Overall score", scores),
        count=len(reviews),
    )


def session_alignments(session: CalibrationSession) -> dict[int, Decimal | None]:
    """{reviewer id: alignment with the gold review}; empty before the gold is recorded."""
    if session.gold_review_id is None:
        return {}
    gold = Review.objects.get(pk=session.gold_review_id)
    specs = session.scorecard_version.category_specs()
    return {
        review.reviewer_id: scoring.alignment(specs, review.ratings, gold.ratings)
        for review in submitted_reviews(session)
    }


@dataclass(frozen=True)
class AlignmentEntry:
    session: CalibrationSession
    alignment: Decimal | None
    recorded_at: object


@dataclass(frozen=True)
class ReviewerAlignment:
    """A reviewer's alignment per gold-reviewed session (newest first) and the mean
    of the last ``ALIGNMENT_RECENT_SESSIONS`` that have a figure."""

    history: list[AlignmentEntry]
    recent_mean: Decimal | None
    recent_count: int
    flagged: bool


def reviewer_alignment(reviewer) -> ReviewerAlignment:
    reviews = (
        Review.objects.filter(
            reviewer=reviewer,
            is_calibration=True,
            status=ReviewStatus.SUBMITTED,
            calibration_session__gold_review__isnull=False,
        )
        .exclude(gold_of__isnull=False)
        .select_related(
            "calibration_session",
            "calibration_session__task",
            "calibration_session__scorecard_version",
            "calibration_session__gold_review",
        )
        .order_by("-calibration_session__gold_review__submitted_at", "-calibration_session_id")
    )
    history = []
    for review in reviews:
        session = review.calibration_session
        gold = session.gold_review
        specs = session.scorecard_version.category_specs()
        history.append(
            AlignmentEntry(
                session=session,
                alignment=scoring.alignment(specs, review.ratings, gold.ratings),
                recorded_at=gold.submitted_at,
            )
        )
    recent = [entry.alignment for entry in history if entry.alignment is not None][
        :ALIGNMENT_RECENT_SESSIONS
    ]
    if not recent:
        return ReviewerAlignment(history=history, recent_mean=None, recent_count=0, flagged=False)
    mean = scoring.round_half_up(
        sum((Fraction(value) for value in recent), Fraction(0)) / len(recent)
    )
    return ReviewerAlignment(
        history=history,
        recent_mean=mean,
        recent_count=len(recent),
        flagged=mean < ALIGNMENT_FLAG_BELOW,
    )


def calibration_sessions(*, user):
    """Sessions ``user`` may open: all for staff, the ones they are invited to otherwise."""
    sessions = CalibrationSession.objects.for_user(user)
    if not user.is_staff:
        sessions = sessions.filter(invites__reviewer=user)
    return sessions.select_related("task", "brand", "gold_review").order_by("-created_at", "-id")


def eligible_reviewers(task):
    """Who may be invited to calibrate ``task``: active staff and the brand's admins
    and QA reviewers, never the task's agent."""
    reviewing = Q(brand_memberships__brand_id=task.brand_id) & Q(
        brand_memberships__role__in=REVIEWER_ROLES
    )
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_staff=True) | reviewing)
        .exclude(pk=task.holder_id)
        .distinct()
        .order_by("full_name", "email")
    )
