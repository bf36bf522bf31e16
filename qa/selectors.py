"""Reads: scoped access to QA objects, the review queue, agent QA scores and
what an agent is shown of their reviews.

Every queryset starts from a model's ``for_user(user)``: staff see all, brand
members their brands', agents their own submitted reviews. A single object
the user may not see is NotFound, whether or not it exists.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import BooleanField, Case, Q, QuerySet, Value, When
from django.utils import timezone

from brands.models import BrandMembership
from marketplace.errors import NotFound
from qa import scoring
from qa.models import (
    AssignmentStatus,
    BrandQASettings,
    Dispute,
    GigQASettings,
    Review,
    ReviewAssignment,
    ReviewRevision,
    Scorecard,
    ScorecardVersion,
    ScorecardVersionStatus,
)
from qa.permissions import REVIEWER_ROLES

REVIEWER_HIDDEN_LABEL = "QA reviewer"


# --- single objects --------------------------------------------------------------------


def access_scorecard(user, scorecard_id: int) -> Scorecard:
    scorecard = Scorecard.objects.for_user(user).filter(pk=scorecard_id).first()
    if scorecard is None:
        raise NotFound("No such scorecard.")
    return scorecard


def access_scorecard_version(user, version_id: int) -> ScorecardVersion:
    version = (
        ScorecardVersion.objects.for_user(user)
        .select_related("scorecard")
        .prefetch_related("categories")
        .filter(pk=version_id)
        .first()
    )
    if version is None:
        raise NotFound("No such scorecard version.")
    return version


def access_assignment(user, assignment_id: int) -> ReviewAssignment:
    assignment = (
        ReviewAssignment.objects.for_user(user)
        .select_related("task", "gig", "agent", "reviewer", "brand")
        .filter(pk=assignment_id)
        .first()
    )
    if assignment is None:
        raise NotFound("No such review assignment.")
    return assignment


def access_review(user, review_id: int) -> Review:
    review = (
        Review.objects.for_user(user)
        .select_related("task", "gig", "agent", "reviewer", "brand", "scorecard_version")
        .filter(pk=review_id)
        .first()
    )
    if review is None:
        raise NotFound("No such review.")
    return review


def access_dispute(user, dispute_id: int) -> Dispute:
    dispute = (
        Dispute.objects.for_user(user)
        .select_related("review", "review__reviewer", "agent", "brand", "decided_by")
        .filter(pk=dispute_id)
        .first()
    )
    if dispute is None:
        raise NotFound("No such dispute.")
    return dispute


# --- scorecards and settings -----------------------------------------------------------


def scorecards_for_brand(*, user, brand) -> QuerySet[Scorecard]:
    """What ``brand``'s gigs may use, as ``user`` may see it: the platform's and the brand's."""
    return Scorecard.objects.for_user(user).usable_by(brand)


def platform_default_scorecard() -> Scorecard | None:
    return Scorecard.objects.filter(is_default=True).first()


def gig_qa_settings(gig) -> GigQASettings:
    """The gig's QA settings; an unsaved instance with the defaults when none were set."""
    found = GigQASettings.objects.filter(gig=gig).select_related("scorecard").first()
    return found if found is not None else GigQASettings(gig=gig)


def brand_qa_settings(brand) -> BrandQASettings:
    found = BrandQASettings.objects.filter(brand=brand).first()
    return found if found is not None else BrandQASettings(brand=brand)


def gig_scorecard(gig) -> Scorecard | None:
    """The scorecard a gig's reviews use: its own choice, else the platform default."""
    chosen = gig_qa_settings(gig).scorecard
    return chosen if chosen is not None else platform_default_scorecard()


def gig_scorecard_version(gig) -> ScorecardVersion | None:
    """The version a new review of the gig pins: its scorecard's latest published one."""
    scorecard = gig_scorecard(gig)
    if scorecard is None:
        return None
    return (
        ScorecardVersion.objects.filter(
            scorecard=scorecard, status=ScorecardVersionStatus.PUBLISHED
        )
        .order_by("-number")
        .prefetch_related("categories")
        .first()
    )


# --- queues ----------------------------------------------------------------------------


def review_queue(*, user, brand=None, now: datetime | None = None) -> QuerySet[ReviewAssignment]:
    """Open assignments ``user`` may work: assigned to them or to nobody yet, in
    the brands they review for (every brand for staff), most overdue first.

    Each row has ``overdue`` (past its SLA). Another reviewer's assignments are
    left out: they are that reviewer's to do.
    """
    now = now or timezone.now()
    queue = ReviewAssignment.objects.for_user(user).open()
    if brand is not None:
        queue = queue.for_brand(brand)
    if not user.is_staff:
        reviewing = BrandMembership.objects.filter(user=user, role__in=REVIEWER_ROLES)
        queue = queue.filter(brand_id__in=reviewing.values("brand_id"))
    return (
        queue.filter(Q(reviewer=user) | Q(reviewer__isnull=True))
        .exclude(agent=user)
        .annotate(
            overdue=Case(
                When(due_at__lt=now, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        .select_related("task", "gig", "agent", "reviewer")
        .order_by("due_at", "id")
    )


def brand_open_assignments(*, user, brand) -> QuerySet[ReviewAssignment]:
    """Every open assignment of ``brand`` (for admins handing work out)."""
    return (
        ReviewAssignment.objects.for_user(user)
        .for_brand(brand)
        .filter(status=AssignmentStatus.OPEN)
        .select_related("task", "gig", "agent", "reviewer")
        .order_by("due_at", "id")
    )


def undecided_disputes(*, user, brand=None) -> QuerySet[Dispute]:
    """Disputes waiting for a decision that ``user`` may take: never on their own reviews."""
    disputes = Dispute.objects.for_user(user).undecided().exclude(agent=user)
    if brand is not None:
        disputes = disputes.for_brand(brand)
    return (
        disputes.exclude(review__reviewer=user)
        .select_related("review", "review__task", "agent")
        .order_by("due_at", "id")
    )


# --- agents' reviews and scores --------------------------------------------------------


def reviews_of_agent(*, viewer, agent, gig=None) -> QuerySet[Review]:
    """``agent``'s counting reviews as ``viewer`` may see them, newest first."""
    reviews = Review.objects.for_user(viewer).filter(
        agent=agent, status="submitted", is_calibration=False
    )
    if gig is not None:
        reviews = reviews.filter(gig=gig)
    return reviews.select_related("task", "gig", "reviewer", "scorecard_version").order_by(
        "-submitted_at", "-id"
    )


def _counting_in_window(*, agent, now: datetime) -> QuerySet[Review]:
    """``agent``'s reviews that count toward their QA score at ``now``."""
    return Review.objects.counting().filter(
        agent=agent,
        submitted_at__gte=now - timedelta(days=scoring.WINDOW_DAYS),
        submitted_at__lte=now,
    )


def agent_qa_score(
    *, agent, gig=None, brand=None, now: datetime | None = None
) -> scoring.AgentScore:
    """``agent``'s QA score (``scoring.AgentScore``) over their counting reviews:
    overall, or on one gig or one brand. One query, at most 50 rows."""
    now = now or timezone.now()
    reviews = _counting_in_window(agent=agent, now=now)
    if gig is not None:
        reviews = reviews.filter(gig=gig)
    if brand is not None:
        reviews = reviews.filter(brand=brand)
    scored = list(
        reviews.order_by("-submitted_at").values_list("score", "submitted_at")[
            : scoring.MAX_REVIEWS_IN_SCORE
        ]
    )
    return scoring.agent_qa_score(scored, now=now)


UNSCORED = scoring.AgentScore(score=None, count=0, provisional=True)


@dataclass(frozen=True)
class AgentScores:
    """An agent's overall QA score and their score on each gig they have one on."""

    overall: scoring.AgentScore
    by_gig: dict[int, scoring.AgentScore] = field(default_factory=dict)

    def on_gig(self, gig_id: int) -> scoring.AgentScore:
        """The per-gig score; unscored when no counting review of the gig is in the window."""
        return self.by_gig.get(gig_id, UNSCORED)


def agent_qa_scores(*, agent, now: datetime | None = None) -> AgentScores:
    """``agent``'s overall score and every per-gig score, the figures
    ``agent_qa_score`` gives one at a time, from one query: a page listing
    many gigs must not cost a query per gig. The window bounds the rows read;
    ``scoring.agent_qa_score`` keeps the 50 most recent of each group."""
    now = now or timezone.now()
    rows = list(
        _counting_in_window(agent=agent, now=now).values_list("gig_id", "score", "submitted_at")
    )
    scored_by_gig: dict[int, list] = defaultdict(list)
    for gig_id, score, submitted_at in rows:
        scored_by_gig[gig_id].append((score, submitted_at))
    return AgentScores(
        overall=scoring.agent_qa_score([(score, at) for _, score, at in rows], now=now),
        by_gig={
            gig_id: scoring.agent_qa_score(scored, now=now)
            for gig_id, scored in scored_by_gig.items()
        },
    )


def reviewer_labels(*, reviews: Sequence[Review], viewer) -> list[str]:
    """``reviewer_display`` of each review, in order, with one membership and
    one settings query in all (however many reviews and brands)."""
    brand_ids = {review.brand_id for review in reviews}
    if not brand_ids:
        return []
    if viewer is None or not viewer.is_authenticated:
        named: set[int] = set()
    elif viewer.is_staff:
        named = brand_ids
    else:
        named = set(
            viewer.brand_memberships.filter(brand_id__in=brand_ids).values_list(
                "brand_id", flat=True
            )
        )
    hiding: set[int] = set()
    if brand_ids - named:
        hiding = set(
            BrandQASettings.objects.filter(
                brand_id__in=brand_ids - named, hide_reviewer_identity=True
            ).values_list("brand_id", flat=True)
        )
    return [
        REVIEWER_HIDDEN_LABEL if review.brand_id in hiding else review.reviewer.get_full_name()
        for review in reviews
    ]


def reviewer_display(*, review: Review, viewer) -> str:
    """The reviewer's name as ``viewer`` sees it: "QA reviewer" for the agent
    when the brand hides reviewer identity; the name for the brand and staff."""
    return reviewer_labels(reviews=[review], viewer=viewer)[0]


def review_revisions(*, review: Review) -> list[ReviewRevision]:
    """Every revision of a review, first (the submit) to current."""
    return list(review.revisions.select_related("created_by", "dispute").order_by("number"))
