"""Assessments: versioned question banks, timed attempts, grading and certifications.

An ``Assessment`` is the stable thing a gig or a pool requires; its content
lives in ``AssessmentVersion`` rows, frozen once published, so an attempt and
the certification it earns always point at the exact questions taken.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from marketplace.languages import LANGUAGE_CHOICES, CEFRLevel


class AssessmentKind(models.TextChoices):
    LANGUAGE = "language", "Language (CEFR level)"
    KNOWLEDGE = "knowledge", "Knowledge (pass mark)"


class AssessmentQuerySet(models.QuerySet["Assessment"]):
    def for_brand(self, brand):
        """A brand's own assessments (never another brand's)."""
        return self.filter(brand=brand)

    def platform(self):
        return self.filter(brand__isnull=True)


class Assessment(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=160)
    kind = models.CharField(max_length=10, choices=AssessmentKind.choices)
    language = models.CharField(max_length=8, choices=LANGUAGE_CHOICES, blank=True)
    domain = models.CharField(max_length=80, blank=True)
    description = models.TextField(blank=True)
    # Null: a platform assessment, authored and graded by platform staff.
    brand = models.ForeignKey(
        "brands.Brand",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="assessments",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind=AssessmentKind.LANGUAGE) & ~models.Q(language="")
                    | models.Q(kind=AssessmentKind.KNOWLEDGE)
                ),
                name="assessment_language_kind_has_language",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_language(self) -> bool:
        return self.kind == AssessmentKind.LANGUAGE

    def published_version(self) -> AssessmentVersion | None:
        """The version new attempts are taken on: the latest published one."""
        return self.versions.filter(status=VersionStatus.PUBLISHED).order_by("-number").first()


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


class AssessmentVersion(models.Model):
    """One frozen set of rules and questions. Published versions never change:
    editing one makes a new draft (``services.version_draft_from``)."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    time_limit_seconds = models.PositiveIntegerField()
    cooldown_days = models.PositiveIntegerField(default=14)
    max_attempts = models.PositiveIntegerField(default=3)
    validity_months = models.PositiveIntegerField(default=12)
    # Knowledge kind: percent needed to pass.
    pass_mark = models.PositiveSmallIntegerField(null=True, blank=True)
    # Language kind: [{"level": "A1", "min_score": 0}, ...], min_score ascending.
    level_bands = models.JSONField(default=list, blank=True)
    # sha256 of the imported JSON: ``load_assessments`` skips content already loaded.
    content_hash = models.CharField(max_length=64, blank=True, db_index=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["assessment", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "number"], name="assessmentversion_unique_number"
            ),
            # At most one draft at a time: edits go to it, publishing freezes it.
            models.UniqueConstraint(
                fields=["assessment"],
                condition=models.Q(status="draft"),
                name="assessmentversion_one_draft",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.assessment} v{self.number} ({self.get_status_display()})"

    @property
    def is_frozen(self) -> bool:
        return self.status != VersionStatus.DRAFT


class Section(models.Model):
    version = models.ForeignKey(
        AssessmentVersion, on_delete=models.CASCADE, related_name="sections"
    )
    title = models.CharField(max_length=160)
    instructions = models.TextField(blank=True)
    order = models.PositiveIntegerField()
    # How many top-level questions an attempt draws from this section's bank.
    draw = models.PositiveIntegerField()

    class Meta:
        ordering = ["version", "order"]
        constraints = [
            models.UniqueConstraint(fields=["version", "order"], name="section_unique_order")
        ]

    def __str__(self) -> str:
        return self.title


class QuestionType(models.TextChoices):
    SINGLE_CHOICE = "single_choice", "Single choice"
    MULTIPLE_CHOICE = "multiple_choice", "Multiple choice"
    SHORT_ANSWER = "short_answer", "Short answer"
    READING = "reading", "Reading passage"
    WRITTEN = "written", "Written response"


# Types that take an answer of their own (a reading item is answered through
# its child questions).
ANSWERABLE_TYPES = (
    QuestionType.SINGLE_CHOICE,
    QuestionType.MULTIPLE_CHOICE,
    QuestionType.SHORT_ANSWER,
    QuestionType.WRITTEN,
)


class Question(models.Model):
    """A bank item. A reading item is a passage whose ``children`` are its
    questions; it is drawn as one item and scores the sum of its children."""

    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="questions")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    order = models.PositiveIntegerField()
    type = models.CharField(max_length=20, choices=QuestionType.choices)
    prompt = models.TextField(blank=True)
    passage = models.TextField(blank=True)
    points = models.PositiveIntegerField()
    level = models.CharField(max_length=2, choices=CEFRLevel.choices, blank=True)
    # Written: [{"criterion", "max_points", "description"}]; points = sum of max_points.
    rubric = models.JSONField(default=list, blank=True)
    # Short answer: compared after normalising case, spacing and accents.
    accepted_answers = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["section", "parent_id", "order"]

    def __str__(self) -> str:
        return (self.prompt or self.passage)[:80]


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    order = models.PositiveIntegerField()
    text = models.CharField(max_length=500)
    correct = models.BooleanField(default=False)

    class Meta:
        ordering = ["question", "order"]

    def __str__(self) -> str:
        return self.text


class AttemptStatus(models.TextChoices):
    OPEN = "open", "In progress"
    GRADING = "grading", "Being graded"
    GRADED = "graded", "Graded"
    # Closed at its deadline without a single answer: scored 0, a fail.
    EXPIRED = "expired", "Expired"


class AttemptQuerySet(models.QuerySet["Attempt"]):
    def for_agent(self, agent):
        return self.filter(agent=agent)


class Attempt(models.Model):
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assessment_attempts"
    )
    # Redundant with version.assessment, for the one-open-attempt constraint.
    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="attempts")
    version = models.ForeignKey(
        AssessmentVersion, on_delete=models.PROTECT, related_name="attempts"
    )
    status = models.CharField(
        max_length=10, choices=AttemptStatus.choices, default=AttemptStatus.OPEN
    )
    started_at = models.DateTimeField(default=timezone.now)
    deadline_at = models.DateTimeField()
    # When the attempt closed: the agent's submit, or the deadline.
    submitted_at = models.DateTimeField(null=True, blank=True)
    closed_by_deadline = models.BooleanField(default=False)
    graded_at = models.DateTimeField(null=True, blank=True)
    # The draw: the seed it came from and its result, stored so a reload shows
    # the same questions in the same order, whatever the bank becomes.
    seed = models.BigIntegerField()
    # [{"section": id, "questions": [top-level question ids in order]}]
    drawn = models.JSONField(default=list)
    score_points = models.PositiveIntegerField(null=True, blank=True)
    max_points = models.PositiveIntegerField(null=True, blank=True)
    # Percent, 0-100, rounded half up.
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    # [{"section": id, "title", "points", "max_points", "score"}]
    section_scores = models.JSONField(default=list, blank=True)
    level = models.CharField(max_length=2, choices=CEFRLevel.choices, blank=True)
    passed = models.BooleanField(null=True, blank=True)

    objects = AttemptQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "assessment"],
                condition=models.Q(status="open"),
                name="attempt_one_open_per_agent_assessment",
            )
        ]
        indexes = [models.Index(fields=["agent", "assessment", "started_at"])]

    def __str__(self) -> str:
        return f"{self.agent} · {self.assessment} ({self.get_status_display()})"

    def drawn_question_ids(self) -> list[int]:
        return [qid for block in self.drawn for qid in block["questions"]]


class Answer(models.Model):
    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    response = models.JSONField(null=True, blank=True)
    saved_at = models.DateTimeField(default=timezone.now)
    auto_score = models.PositiveIntegerField(null=True, blank=True)
    # Written responses: scored by a person against the rubric.
    needs_grading = models.BooleanField(default=False)
    grader_score = models.PositiveIntegerField(null=True, blank=True)
    # {"criterion": points} per rubric criterion.
    grader_rubric_scores = models.JSONField(default=dict, blank=True)
    grader_comment = models.TextField(blank=True)
    graded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    graded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["attempt", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["attempt", "question"], name="answer_one_per_attempt_question"
            )
        ]
        indexes = [
            models.Index(
                fields=["needs_grading", "saved_at"],
                condition=models.Q(needs_grading=True),
                name="answer_grading_queue",
            )
        ]

    def __str__(self) -> str:
        return f"{self.attempt} · q{self.question_id}"

    @property
    def score(self) -> int | None:
        return self.grader_score if self.grader_score is not None else self.auto_score


class CertificationQuerySet(models.QuerySet["Certification"]):
    def valid_at(self, moment):
        return self.filter(issued_at__lte=moment, expires_at__gt=moment)


class Certification(models.Model):
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="certifications"
    )
    assessment = models.ForeignKey(
        Assessment, on_delete=models.CASCADE, related_name="certifications"
    )
    version = models.ForeignKey(
        AssessmentVersion, on_delete=models.PROTECT, related_name="certifications"
    )
    attempt = models.OneToOneField(Attempt, on_delete=models.PROTECT, related_name="certification")
    # Language kind: the CEFR level; knowledge kind: "" (a pass).
    level = models.CharField(max_length=2, choices=CEFRLevel.choices, blank=True)
    score = models.PositiveSmallIntegerField()
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    objects = CertificationQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at"]
        indexes = [models.Index(fields=["agent", "assessment", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.agent} · {self.assessment} {self.level or 'pass'}"


class GigCertificationRequirement(models.Model):
    """A certification an agent must hold (unexpired) to be offered a gig's tasks."""

    gig = models.ForeignKey(
        "gigs.Gig", on_delete=models.CASCADE, related_name="certification_requirements"
    )
    assessment = models.ForeignKey(
        Assessment, on_delete=models.PROTECT, related_name="gig_requirements"
    )
    # Blank: a pass (knowledge kind) or any level (language kind).
    min_level = models.CharField(max_length=2, choices=CEFRLevel.choices, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["gig", "assessment"], name="gigcertificationrequirement_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.gig} requires {self.assessment} {self.min_level or 'pass'}"


class BrandCertificationRequirement(models.Model):
    """A certification an agent must hold to apply to a brand's pool."""

    brand = models.ForeignKey(
        "brands.Brand", on_delete=models.CASCADE, related_name="certification_requirements"
    )
    assessment = models.ForeignKey(
        Assessment, on_delete=models.PROTECT, related_name="brand_requirements"
    )
    min_level = models.CharField(max_length=2, choices=CEFRLevel.choices, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "assessment"], name="brandcertificationrequirement_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.brand} requires {self.assessment} {self.min_level or 'pass'}"
