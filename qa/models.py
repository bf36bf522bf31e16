"""QA: versioned scorecards, sampled review assignments, reviews and their
revisions, disputes, tier changes, AutoQA findings and calibration sessions.

A ``Scorecard`` is the stable thing a gig uses; its categories live in
``ScorecardVersion`` rows, frozen once published, so every review pins the
exact categories and weights it was scored on. A review's current score is
its latest ``ReviewRevision``: revision 1 is written at submit and every
amend (after a dispute) adds the next, so the history is never lost.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

# --- tenant scoping ------------------------------------------------------------------


def _member_brand_ids(user):
    from brands.models import BrandMembership

    return BrandMembership.objects.filter(user=user).values("brand_id")


def _anonymous(user) -> bool:
    return user is None or not getattr(user, "is_authenticated", False) or not user.is_active


class BrandScopedQuerySet(models.QuerySet):
    """Rows with a ``brand`` column: staff see all, brand members their brands',
    anyone else the rows ``own_rows`` gives them (by default none)."""

    def for_brand(self, brand):
        return self.filter(brand=brand)

    def own_rows(self, user) -> Q | None:
        """The rows ``user`` sees outside the brands they belong to; None: no rows."""
        return None

    def for_user(self, user):
        if _anonymous(user):
            return self.none()
        if user.is_staff:
            return self.all()
        visible = Q(brand_id__in=_member_brand_ids(user))
        own = self.own_rows(user)
        return self.filter(visible if own is None else visible | own)


# --- scorecards ----------------------------------------------------------------------


class ScorecardQuerySet(models.QuerySet["Scorecard"]):
    def platform(self):
        return self.filter(brand__isnull=True)

    def for_brand(self, brand):
        return self.filter(brand=brand)

    def usable_by(self, brand):
        """What a gig of ``brand`` may use: the platform's scorecards and the brand's own."""
        return self.filter(Q(brand__isnull=True) | Q(brand=brand))

    def for_user(self, user):
        """Staff: all. Brand members: the platform's and their brands' own. Others: none."""
        if _anonymous(user):
            return self.none()
        if user.is_staff:
            return self.all()
        return self.filter(Q(brand__isnull=True) | Q(brand_id__in=_member_brand_ids(user)))


class Scorecard(models.Model):
    # Null: a platform scorecard, written by staff, usable by every brand.
    brand = models.ForeignKey(
        "brands.Brand", null=True, blank=True, on_delete=models.CASCADE, related_name="scorecards"
    )
    name = models.CharField(max_length=120)
    # The platform's default: what a gig without its own choice is scored on.
    is_default = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScorecardQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="scorecard_one_default"
            ),
            models.CheckConstraint(
                condition=Q(is_default=False) | Q(brand__isnull=True),
                name="scorecard_default_is_platform",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def published_version(self) -> ScorecardVersion | None:
        """What new reviews are scored on: the latest published version."""
        return (
            self.versions.filter(status=ScorecardVersionStatus.PUBLISHED)
            .order_by("-number")
            .first()
        )

    def draft_version(self) -> ScorecardVersion | None:
        return self.versions.filter(status=ScorecardVersionStatus.DRAFT).first()


class ScorecardVersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class ScorecardVersionQuerySet(models.QuerySet["ScorecardVersion"]):
    def for_user(self, user):
        return self.filter(scorecard__in=Scorecard.objects.for_user(user))


class ScorecardVersion(models.Model):
    """One frozen set of categories. Published versions never change: editing
    one makes a new draft (``services.scorecard_new_draft_from``)."""

    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10,
        choices=ScorecardVersionStatus.choices,
        default=ScorecardVersionStatus.DRAFT,
    )
    pass_mark = models.PositiveSmallIntegerField(
        default=80, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScorecardVersionQuerySet.as_manager()

    class Meta:
        ordering = ["scorecard", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["scorecard", "number"], name="scorecardversion_unique_number"
            ),
            # At most one draft at a time: edits go to it, publishing freezes it.
            models.UniqueConstraint(
                fields=["scorecard"],
                condition=Q(status="draft"),
                name="scorecardversion_one_draft",
            ),
            models.CheckConstraint(
                condition=Q(pass_mark__gte=0, pass_mark__lte=100),
                name="scorecardversion_pass_mark_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scorecard} v{self.number} ({self.get_status_display()})"

    @property
    def is_frozen(self) -> bool:
        return self.status != ScorecardVersionStatus.DRAFT

    def category_specs(self):
        """The categories as the pure scoring functions take them, in order."""
        from qa.scoring import CategorySpec

        return [
            CategorySpec(
                key=c.key, scale=c.scale, weight=c.weight, critical=c.critical, allow_na=c.allow_na
            )
            for c in self.categories.all()
        ]


class Scale(models.TextChoices):
    BINARY = "binary", "Yes / no"
    THREE = "3", "3-point"
    FOUR = "4", "4-point"
    FIVE = "5", "5-point"


class ScorecardCategory(models.Model):
    version = models.ForeignKey(
        ScorecardVersion, on_delete=models.CASCADE, related_name="categories"
    )
    order = models.PositiveIntegerField()
    # Stable within a version and copied to the next draft: ratings and
    # comments are stored under it, and calibration compares by it.
    key = models.SlugField(max_length=60)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    scale = models.CharField(max_length=6, choices=Scale.choices)
    weight = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    # A rating below the middle of a critical category scores the review 0.
    critical = models.BooleanField(default=False)
    allow_na = models.BooleanField(default=False)

    class Meta:
        ordering = ["version", "order", "id"]
        verbose_name_plural = "scorecard categories"
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="scorecardcategory_unique_key"),
            models.UniqueConstraint(
                fields=["version", "order"], name="scorecardcategory_unique_order"
            ),
            models.CheckConstraint(
                condition=Q(weight__gte=0, weight__lte=100),
                name="scorecardcategory_weight_range",
            ),
            models.CheckConstraint(
                condition=Q(scale__in=["binary", "3", "4", "5"]),
                name="scorecardcategory_scale_known",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def spec(self):
        from qa.scoring import CategorySpec

        return CategorySpec(
            key=self.key,
            scale=self.scale,
            weight=self.weight,
            critical=self.critical,
            allow_na=self.allow_na,
        )


# --- settings ------------------------------------------------------------------------


class BonusKind(models.TextChoices):
    NONE = "none", "No bonus"
    FIXED = "fixed", "Fixed amount per resolution"
    MULTIPLIER = "multiplier", "Rate multiplier"


class GigQASettingsQuerySet(models.QuerySet["GigQASettings"]):
    def for_user(self, user):
        if _anonymous(user):
            return self.none()
        if user.is_staff:
            return self.all()
        return self.filter(gig__brand_id__in=_member_brand_ids(user))


class GigQASettings(models.Model):
    """How one gig is sampled and scored, and what QA means for its agents."""

    gig = models.OneToOneField("gigs.Gig", on_delete=models.CASCADE, related_name="qa_settings")
    # Null: the platform's default scorecard.
    scorecard = models.ForeignKey(
        Scorecard, null=True, blank=True, on_delete=models.PROTECT, related_name="gig_settings"
    )
    random_pct = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal(5),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
    )
    # Every task rated at or below this CSAT is reviewed; null: none by CSAT.
    csat_max = models.PositiveSmallIntegerField(
        null=True, blank=True, default=2, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    every_escalation = models.BooleanField(default=True)
    # An agent's first N tasks on the gig after their pool approval are reviewed.
    first_n = models.PositiveSmallIntegerField(default=10)
    # At least this many reviews per agent per ISO week (a top-up fills the gap).
    weekly_min = models.PositiveSmallIntegerField(default=2)
    # Agents below this per-gig QA score are not offered the gig's tasks; null: no minimum.
    min_qa_score = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
    )
    sla_hours = models.PositiveSmallIntegerField(
        default=48, validators=[MinValueValidator(1), MaxValueValidator(24 * 14)]
    )
    bonus_kind = models.CharField(max_length=10, choices=BonusKind.choices, default=BonusKind.NONE)
    # Fixed: minor units (cents) per resolution, in the gig's currency.
    bonus_fixed_minor = models.PositiveIntegerField(default=0)
    # Multiplier: basis points of the rate on top of it (1500 = +15 %).
    bonus_multiplier_bps = models.PositiveIntegerField(default=0)
    # Top-tier agents at or above this QA score earn the bonus.
    bonus_threshold = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = GigQASettingsQuerySet.as_manager()

    class Meta:
        verbose_name = "gig QA settings"
        verbose_name_plural = "gig QA settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(random_pct__gte=0, random_pct__lte=100),
                name="gigqasettings_random_pct_range",
            ),
            models.CheckConstraint(
                condition=Q(min_qa_score__isnull=True)
                | Q(min_qa_score__gte=0, min_qa_score__lte=100),
                name="gigqasettings_min_score_range",
            ),
            models.CheckConstraint(
                condition=Q(bonus_threshold__isnull=True)
                | Q(bonus_threshold__gte=0, bonus_threshold__lte=100),
                name="gigqasettings_bonus_threshold_range",
            ),
        ]

    def __str__(self) -> str:
        return f"QA settings of {self.gig}"


class BrandQASettings(models.Model):
    brand = models.OneToOneField(
        "brands.Brand", on_delete=models.CASCADE, related_name="qa_settings"
    )
    # Agents see "QA reviewer" instead of the reviewer's name.
    hide_reviewer_identity = models.BooleanField(default=False)
    # AutoQA looks for one of these in the agent's first and last replies.
    greeting_phrases = models.JSONField(default=list, blank=True)
    closing_phrases = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BrandScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "brand QA settings"
        verbose_name_plural = "brand QA settings"

    def __str__(self) -> str:
        return f"QA settings of {self.brand}"


# --- sampling and reviews ------------------------------------------------------------


class SamplingReason(models.TextChoices):
    RANDOM = "random", "Random sample"
    LOW_CSAT = "low_csat", "Low CSAT"
    ESCALATION = "escalation", "Escalated"
    NEW_AGENT = "new_agent", "Agent's first tasks"
    WEEKLY_TOPUP = "weekly_topup", "Weekly minimum"
    AUTOQA_LEAK = "autoqa_leak", "Possible data leak (automatic check)"
    MANUAL = "manual", "Picked by hand"


class AssignmentStatus(models.TextChoices):
    OPEN = "open", "Open"
    SUBMITTED = "submitted", "Reviewed"


class ReviewAssignmentQuerySet(BrandScopedQuerySet):
    def open(self):
        return self.filter(status=AssignmentStatus.OPEN)


class ReviewAssignment(models.Model):
    """A task picked for review, with every reason it was picked. One per task."""

    task = models.OneToOneField("gigs.Task", on_delete=models.CASCADE, related_name="qa_assignment")
    # Repeated from the task so queues filter and index without joins.
    brand = models.ForeignKey("brands.Brand", on_delete=models.CASCADE, related_name="+")
    gig = models.ForeignKey("gigs.Gig", on_delete=models.CASCADE, related_name="qa_assignments")
    # The agent whose work is reviewed: never its reviewer.
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="qa_assignments"
    )
    reasons = models.JSONField(default=list)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="qa_review_assignments",
    )
    # When the task entered the review queue; the SLA runs from here.
    assigned_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    # When a reviewer was last named (null: anyone of the brand's QA may take it).
    reviewer_set_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=AssignmentStatus.choices, default=AssignmentStatus.OPEN
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ReviewAssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(
                fields=["brand", "due_at"],
                condition=Q(status="open"),
                name="qa_assignment_open_queue",
            ),
            models.Index(fields=["reviewer", "status"], name="qa_assignment_reviewer"),
        ]

    def __str__(self) -> str:
        return f"Review of task {self.task_id}"

    @property
    def is_overdue(self) -> bool:
        return self.status == AssignmentStatus.OPEN and self.due_at < timezone.now()

    def reason_labels(self) -> list[str]:
        labels = dict(SamplingReason.choices)
        return [labels.get(reason, reason) for reason in self.reasons]


class ReviewStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"


class ReviewQuerySet(BrandScopedQuerySet):
    def own_rows(self, user) -> Q:
        """Agents: their own submitted reviews (never drafts, never calibration scoring)."""
        return Q(agent=user, status=ReviewStatus.SUBMITTED, is_calibration=False)

    def counting(self):
        """Reviews whose score counts toward an agent's QA score."""
        return self.filter(status=ReviewStatus.SUBMITTED, is_calibration=False, score__isnull=False)


class Review(models.Model):
    """One reviewer's scoring of one task on a pinned scorecard version.

    ``ratings``/``comments``/``score``/``passed``/``critical_fail`` are the
    current values: those of the latest revision once submitted.
    """

    # Null for calibration reviews, which are scored outside the queue.
    assignment = models.ForeignKey(
        ReviewAssignment, null=True, blank=True, on_delete=models.CASCADE, related_name="reviews"
    )
    calibration_session = models.ForeignKey(
        "qa.CalibrationSession",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reviews",
    )
    task = models.ForeignKey("gigs.Task", on_delete=models.CASCADE, related_name="qa_reviews")
    brand = models.ForeignKey("brands.Brand", on_delete=models.CASCADE, related_name="+")
    gig = models.ForeignKey("gigs.Gig", on_delete=models.CASCADE, related_name="qa_reviews")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="qa_reviews_received"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="qa_reviews_given"
    )
    scorecard_version = models.ForeignKey(
        ScorecardVersion, on_delete=models.PROTECT, related_name="reviews"
    )
    status = models.CharField(
        max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.DRAFT
    )
    # {category key: rating or null for N/A}
    ratings = models.JSONField(default=dict, blank=True)
    # {category key: comment}
    comments = models.JSONField(default=dict, blank=True)
    overall_comment = models.TextField(blank=True, max_length=5000)
    # 0.0-100.0; null when nothing counted (all N/A): it then counts nowhere.
    score = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    critical_fail = models.BooleanField(default=False)
    # Calibration scoring never counts toward an agent's QA score.
    is_calibration = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    objects = ReviewQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "reviewer"],
                condition=Q(assignment__isnull=False),
                name="review_one_per_assignment_reviewer",
            ),
            # An assignment is answered once: a second submit loses here.
            models.UniqueConstraint(
                fields=["assignment"],
                condition=Q(assignment__isnull=False, status="submitted"),
                name="review_one_submitted_per_assignment",
            ),
            models.UniqueConstraint(
                fields=["calibration_session", "reviewer"],
                condition=Q(calibration_session__isnull=False),
                name="review_one_per_calibration_reviewer",
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=100),
                name="review_score_range",
            ),
            models.CheckConstraint(
                condition=Q(is_calibration=False) | Q(calibration_session__isnull=False),
                name="review_calibration_has_session",
            ),
        ]
        indexes = [
            # The agent QA score: one agent's counting reviews, newest first.
            models.Index(
                fields=["agent", "-submitted_at"],
                condition=Q(status="submitted", is_calibration=False),
                name="qa_review_agent_recent",
            ),
            models.Index(
                fields=["agent", "gig", "-submitted_at"],
                condition=Q(status="submitted", is_calibration=False),
                name="qa_review_agent_gig_recent",
            ),
            models.Index(fields=["brand", "-submitted_at"], name="qa_review_brand_recent"),
            models.Index(fields=["reviewer", "-submitted_at"], name="qa_review_reviewer"),
        ]

    def __str__(self) -> str:
        return f"Review of task {self.task_id} by {self.reviewer}"

    @property
    def is_submitted(self) -> bool:
        return self.status == ReviewStatus.SUBMITTED


class ReviewRevision(models.Model):
    """A submitted state of a review. Revision 1 is the submit; an amend adds the next."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    ratings = models.JSONField(default=dict)
    comments = models.JSONField(default=dict, blank=True)
    overall_comment = models.TextField(blank=True)
    score = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    critical_fail = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Why this revision exists: "Submitted", or the dispute decision's reason.
    reason = models.TextField(blank=True, max_length=2000)
    dispute = models.ForeignKey(
        "qa.Dispute", null=True, blank=True, on_delete=models.SET_NULL, related_name="revisions"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["review", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["review", "number"], name="reviewrevision_unique_number"
            )
        ]

    def __str__(self) -> str:
        return f"{self.review} r{self.number}"


# --- disputes ------------------------------------------------------------------------


class DisputeDecision(models.TextChoices):
    UPHOLD = "uphold", "Upheld (score stands)"
    AMEND = "amend", "Amended"


class DisputeQuerySet(BrandScopedQuerySet):
    def own_rows(self, user) -> Q:
        """Agents: their own disputes."""
        return Q(agent=user)

    def undecided(self):
        return self.filter(decided_at__isnull=True)


class Dispute(models.Model):
    review = models.OneToOneField(Review, on_delete=models.CASCADE, related_name="dispute")
    brand = models.ForeignKey("brands.Brand", on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="qa_disputes"
    )
    reason = models.TextField(max_length=2000)
    # {category key: rating or null}: what the agent thinks is right, optional.
    proposed_ratings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The decision's SLA (72 h); a late decision is still taken, shown as late.
    due_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision = models.CharField(max_length=10, choices=DisputeDecision.choices, blank=True)
    decision_reason = models.TextField(blank=True, max_length=2000)
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = DisputeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["brand", "due_at"],
                condition=Q(decided_at__isnull=True),
                name="qa_dispute_open",
            )
        ]

    def __str__(self) -> str:
        return f"Dispute of {self.review}"

    @property
    def is_decided(self) -> bool:
        return self.decided_at is not None

    @property
    def is_overdue(self) -> bool:
        return not self.is_decided and self.due_at < timezone.now()


# --- tiers, AutoQA -------------------------------------------------------------------


class TierChangeQuerySet(BrandScopedQuerySet):
    def own_rows(self, user) -> Q:
        """Agents: their own tier changes."""
        return Q(agent=user)


class TierChange(models.Model):
    """One move of an agent's pool tier, with the reason the agent and brand see."""

    brand = models.ForeignKey("brands.Brand", on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="qa_tier_changes"
    )
    membership = models.ForeignKey(
        "brands.PoolMembership",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tier_changes",
    )
    from_tier = models.PositiveSmallIntegerField()
    to_tier = models.PositiveSmallIntegerField()
    reason = models.TextField(max_length=2000)
    # Null: the nightly tier job. A person here is a staff override.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_override = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TierChangeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["brand", "agent", "-created_at"], name="qa_tierchange_recent")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(from_tier__gte=1, from_tier__lte=5, to_tier__gte=1, to_tier__lte=5),
                name="tierchange_tier_range",
            ),
            models.CheckConstraint(
                condition=Q(is_override=False) | Q(actor__isnull=False),
                name="tierchange_override_has_actor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent} {self.from_tier}→{self.to_tier} in {self.brand}"


class AutoQAFinding(models.Model):
    """A rule-based observation on a closed task: a suggestion, never a rating."""

    task = models.ForeignKey("gigs.Task", on_delete=models.CASCADE, related_name="autoqa_findings")
    brand = models.ForeignKey("brands.Brand", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    # The scorecard category key the finding is shown beside ("" for none).
    category_hint = models.CharField(max_length=60, blank=True)
    detail = models.TextField(max_length=2000)
    leak = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = BrandScopedQuerySet.as_manager()

    class Meta:
        ordering = ["task", "id"]
        verbose_name = "AutoQA finding"

    def __str__(self) -> str:
        return f"{self.kind} on task {self.task_id}"


# --- calibration ---------------------------------------------------------------------


class CalibrationStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class CalibrationSessionQuerySet(BrandScopedQuerySet):
    def own_rows(self, user) -> Q:
        """Invited reviewers: the sessions they are invited to. A subquery, not a
        join on invites, so a session is listed once without ``distinct()``."""
        return Q(pk__in=CalibrationInvite.objects.filter(reviewer=user).values("session_id"))


class CalibrationSession(models.Model):
    """Several reviewers score one task blind; staff then record the gold review."""

    brand = models.ForeignKey("brands.Brand", on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey(
        "gigs.Task", on_delete=models.CASCADE, related_name="calibration_sessions"
    )
    scorecard_version = models.ForeignKey(
        ScorecardVersion, on_delete=models.PROTECT, related_name="calibration_sessions"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=CalibrationStatus.choices, default=CalibrationStatus.OPEN
    )
    gold_review = models.OneToOneField(
        Review, null=True, blank=True, on_delete=models.SET_NULL, related_name="gold_of"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = CalibrationSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Calibration on task {self.task_id}"


class CalibrationInvite(models.Model):
    session = models.ForeignKey(
        CalibrationSession, on_delete=models.CASCADE, related_name="invites"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="qa_calibration_invites"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "reviewer"], name="calibrationinvite_unique")
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} invited to {self.session}"


# --- standing: what dispatch reads -------------------------------------------------------


class QAStandingQuerySet(models.QuerySet["QAStanding"]):
    def blocked(self):
        return self.exclude(blocked_reason="")


class QAStanding(models.Model):
    """An agent's QA score on one gig, as dispatch reads it in SQL.

    A claim cannot afford to average an agent's reviews, so ``qa.standing``
    keeps a row per agent and gig they have counting reviews on, or whose
    minimum QA score keeps them off it (``blocked_reason`` then says why, as
    the agent is told). It is rewritten when a review is submitted or
    amended, when a gig's minimum changes, when an agent joins a pool, and
    nightly, since the 30-day window slides without any of those.
    """

    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="qa_standings"
    )
    gig = models.ForeignKey("gigs.Gig", on_delete=models.CASCADE, related_name="qa_standings")
    # The per-gig QA score (``qa.scoring.agent_qa_score``); null with no counting review.
    score = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    review_count = models.PositiveIntegerField(default=0)
    provisional = models.BooleanField(default=True)
    # Empty: the gig's minimum (if any) does not keep the agent off.
    blocked_reason = models.CharField(max_length=200, blank=True)
    computed_at = models.DateTimeField()

    objects = QAStandingQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "gig"], name="qastanding_agent_gig_unique")
        ]

    def __str__(self) -> str:
        return f"{self.agent} on gig {self.gig_id}: {self.score}"
