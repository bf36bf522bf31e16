"""Reads: results of one assessment (optionally one version), for staff and
the owning brand. Counts and averages are aggregated in the database; only
the drawn question lists (one JSON list per attempt) are tallied in Python.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
)
from django.utils import timezone

from assessments.models import (
    ANSWERABLE_TYPES,
    Answer,
    Assessment,
    AssessmentVersion,
    Attempt,
    AttemptStatus,
    Question,
    QuestionType,
)
from assessments.services import attempt_refresh, percent

# A question is flagged when, with at least this many answers, almost nobody
# or almost everybody gets it right: likely a wrong key, a giveaway or a typo.
SUSPICIOUS_MIN_ANSWERS = 10
SUSPICIOUS_BELOW = 20
SUSPICIOUS_ABOVE = 97
BUCKET_WIDTH = 10
FINISHED_STATUSES = (AttemptStatus.GRADED, AttemptStatus.EXPIRED)
# Attempts whose answers are scored (written ones may still wait for a grader).
CLOSED_STATUSES = (AttemptStatus.GRADED, AttemptStatus.GRADING, AttemptStatus.EXPIRED)


@dataclass(frozen=True)
class ScoreBucket:
    low: int
    high: int  # inclusive
    count: int

    @property
    def label(self) -> str:
        return f"{self.low}–{self.high}"


@dataclass(frozen=True)
class AssessmentResults:
    attempts: int
    finished: int
    in_progress: int
    grading: int
    passed: int
    # Percent of finished attempts that passed; None before any finished.
    pass_rate: int | None
    score_buckets: list[ScoreBucket]
    # (level, count) in CEFR order, "" (no level reached) first; language kind only.
    levels: list[tuple[str, int]]
    # Mean of submitted - started over graded attempts; None before any.
    average_time: timedelta | None
    average_score: int | None = None
    versions: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class QuestionStats:
    question: Question
    version_number: int
    drawn: int
    answered: int
    # Auto-scored: answers with full points. Written: the sum of grader scores
    # divided by the question's points (the average, times the graded count).
    right: float
    # Of the answers scored so far; None before any.
    percent_right: int | None
    suspicious: bool


def _attempts(assessment: Assessment, version: AssessmentVersion | None) -> QuerySet[Attempt]:
    attempts = Attempt.objects.filter(assessment=assessment)
    if version is not None:
        attempts = attempts.filter(version=version)
    return attempts.order_by()


def _close_overdue(attempts: QuerySet[Attempt]) -> None:
    # An open attempt past its deadline is closed (and graded) when read, so
    # that none is counted "in progress" after its time ran out.
    for attempt in attempts.filter(status=AttemptStatus.OPEN, deadline_at__lte=timezone.now()):
        attempt_refresh(attempt)


def assessment_results(
    *, assessment: Assessment, version: AssessmentVersion | None = None
) -> AssessmentResults:
    """Attempts by state, pass rate, score buckets of 10 points (the last one
    90-100), levels reached (language kind) and the average time taken."""
    attempts = _attempts(assessment, version)
    _close_overdue(attempts)
    finished = Q(status__in=FINISHED_STATUSES)
    buckets = {
        f"bucket_{low}": Count(
            "pk",
            filter=finished
            & Q(score__gte=low)
            & (Q(score__lt=low + BUCKET_WIDTH) if low + BUCKET_WIDTH < 100 else Q()),
        )
        for low in range(0, 100, BUCKET_WIDTH)
    }
    took = ExpressionWrapper(F("submitted_at") - F("started_at"), output_field=DurationField())
    totals = attempts.aggregate(
        attempts=Count("pk"),
        finished=Count("pk", filter=finished),
        in_progress=Count("pk", filter=Q(status=AttemptStatus.OPEN)),
        grading=Count("pk", filter=Q(status=AttemptStatus.GRADING)),
        passed=Count("pk", filter=finished & Q(passed=True)),
        average_score=Avg("score", filter=finished),
        average_time=Avg(took, filter=Q(status=AttemptStatus.GRADED)),
        **buckets,
    )
    levels: list[tuple[str, int]] = []
    if assessment.is_language:
        levels = sorted(
            attempts.filter(finished)
            .values("level")
            .annotate(n=Count("pk"))
            .values_list("level", "n")
        )
    average_time = totals["average_time"]
    if average_time is not None and not isinstance(average_time, timedelta):
        # SQLite returns the mean of a duration as microseconds.
        average_time = timedelta(microseconds=average_time)
    if average_time is not None:
        average_time = timedelta(seconds=round(average_time.total_seconds()))
    return AssessmentResults(
        attempts=totals["attempts"],
        finished=totals["finished"],
        in_progress=totals["in_progress"],
        grading=totals["grading"],
        passed=totals["passed"],
        pass_rate=percent(totals["passed"], totals["finished"]) if totals["finished"] else None,
        score_buckets=[
            ScoreBucket(
                low=low,
                high=100 if low + BUCKET_WIDTH >= 100 else low + BUCKET_WIDTH - 1,
                count=totals[f"bucket_{low}"],
            )
            for low in range(0, 100, BUCKET_WIDTH)
        ],
        levels=levels,
        average_time=average_time,
        average_score=round(totals["average_score"])
        if totals["average_score"] is not None
        else None,
        versions=list(
            assessment.versions.filter(attempts__isnull=False)
            .distinct()
            .order_by("-number")
            .values_list("number", flat=True)
        ),
    )


def _blank_response() -> Q:
    # A saved answer that was cleared: no choice, no text.
    return Q(response__isnull=True) | Q(response="") | Q(response=[])


def question_stats(
    *, assessment: Assessment, version: AssessmentVersion | None = None
) -> list[QuestionStats]:
    """Per answerable question of the version (or of every version), over
    closed attempts: times drawn, answered, answered right and the percent
    right; ``suspicious`` when the percent is extreme over enough answers.
    In bank order (section, then question)."""
    attempts = _attempts(assessment, version)
    _close_overdue(attempts)
    closed = attempts.filter(status__in=CLOSED_STATUSES)
    questions = (
        Question.objects.filter(section__version__assessment=assessment, type__in=ANSWERABLE_TYPES)
        .select_related("section__version", "parent")
        .order_by("-section__version__number", "section__order", "parent__order", "order", "pk")
    )
    if version is not None:
        questions = questions.filter(section__version=version)
    questions = list(questions)

    # How often each top-level item was drawn; a reading item's questions are
    # drawn with it.
    drawn: Counter[int] = Counter()
    for blocks in closed.values_list("drawn", flat=True).iterator(chunk_size=2000):
        for block in blocks:
            drawn.update(block["questions"])

    rows = {
        row["question_id"]: row
        for row in Answer.objects.filter(attempt__in=closed.values("pk"))
        .order_by()
        .values("question_id")
        .annotate(
            answered=Count("pk", filter=~_blank_response()),
            full_marks=Count(
                "pk", filter=Q(auto_score__isnull=False, auto_score__gte=F("question__points"))
            ),
            auto_scored=Count("pk", filter=Q(auto_score__isnull=False)),
            graded=Count("pk", filter=Q(grader_score__isnull=False)),
            grader_points=Sum("grader_score"),
        )
    }
    stats = []
    for question in questions:
        row = rows.get(question.pk, {})
        if question.type == QuestionType.WRITTEN:
            scored = row.get("graded", 0)
            right = (row.get("grader_points") or 0) / question.points if question.points else 0.0
        else:
            # A blank answer scores 0: it counts as scored, and wrong.
            scored = row.get("auto_scored", 0)
            right = float(row.get("full_marks", 0))
        rate = round(100 * right / scored) if scored else None
        stats.append(
            QuestionStats(
                question=question,
                version_number=question.section.version.number,
                drawn=drawn[question.parent_id or question.pk],
                answered=row.get("answered", 0),
                right=right,
                percent_right=rate,
                suspicious=rate is not None
                and scored >= SUSPICIOUS_MIN_ANSWERS
                and (rate < SUSPICIOUS_BELOW or rate > SUSPICIOUS_ABOVE),
            )
        )
    return stats
