"""Reads: what an agent may see of an attempt, grading queues, certifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from assessments.models import (
    Answer,
    Assessment,
    Attempt,
    AttemptStatus,
    BrandCertificationRequirement,
    Certification,
    Question,
    QuestionType,
    VersionStatus,
)
from assessments.permissions import GRADER_ROLES, can_author
from assessments.services import attempt_refresh
from brands.models import BrandMembership
from marketplace.errors import NotFound


def assessments_for_agents() -> QuerySet[Assessment]:
    """Assessments an agent can take: those with a published version."""
    return Assessment.objects.filter(versions__status=VersionStatus.PUBLISHED).distinct()


def assessments_for_author(*, user, brand=None) -> QuerySet[Assessment]:
    """What ``user`` may author: the brand's own, or the platform's for staff.
    Never another brand's."""
    if not can_author(user, brand):
        return Assessment.objects.none()
    if brand is None:
        return Assessment.objects.platform()
    return Assessment.objects.for_brand(brand)


def access_assessment(user, slug: str, *, brand=None) -> Assessment:
    """An assessment ``user`` may author, or NotFound (another brand's included)."""
    assessment = assessments_for_author(user=user, brand=brand).filter(slug=slug).first()
    if assessment is None:
        raise NotFound("No such assessment.")
    return assessment


def attempt_for_agent(*, agent, attempt_id: int) -> Attempt:
    """The agent's own attempt, closed and graded first if its deadline passed."""
    attempt = Attempt.objects.filter(pk=attempt_id, agent=agent).select_related("version").first()
    if attempt is None:
        raise NotFound("No such attempt.")
    return attempt_refresh(attempt)


def _public_question(question: Question, children, answers) -> dict[str, Any]:
    # Whitelisted fields only: never ``correct``, accepted answers or scores.
    item: dict[str, Any] = {
        "id": question.pk,
        "type": question.type,
        "prompt": question.prompt,
        "points": question.points,
    }
    if question.type == QuestionType.READING:
        item["passage"] = question.passage
        item["questions"] = [
            _public_question(child, children, answers) for child in children.get(question.pk, [])
        ]
        return item
    if question.type in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE):
        item["choices"] = [{"id": c.pk, "text": c.text} for c in question.choices.all()]
    if question.type == QuestionType.WRITTEN:
        item["rubric"] = [
            {
                "criterion": c["criterion"],
                "max_points": c["max_points"],
                "description": c.get("description", ""),
            }
            for c in question.rubric
        ]
    answer = answers.get(question.pk)
    item["response"] = answer.response if answer is not None else None
    return item


def attempt_questions_for_agent(attempt: Attempt) -> dict[str, Any]:
    """The attempt as the agent sees it: sections in order with the drawn
    questions in the stored order, their choices and the agent's saved
    responses. No correct flags, accepted answers or scores."""
    attempt = attempt_refresh(attempt)
    drawn = attempt.drawn_question_ids()
    questions = {
        q.pk: q
        for q in Question.objects.filter(Q(pk__in=drawn) | Q(parent_id__in=drawn))
        .prefetch_related("choices")
        .select_related("section")
    }
    children: dict[int, list[Question]] = {}
    for q in sorted(questions.values(), key=lambda q: q.order):
        if q.parent_id:
            children.setdefault(q.parent_id, []).append(q)
    answers = {a.question_id: a for a in attempt.answers.all()}
    sections = {s.pk: s for s in attempt.version.sections.all()}
    return {
        "attempt": attempt.pk,
        "assessment": attempt.assessment.title,
        "status": attempt.status,
        "started_at": attempt.started_at,
        "deadline_at": attempt.deadline_at,
        "seconds_left": max(0, int((attempt.deadline_at - timezone.now()).total_seconds()))
        if attempt.status == AttemptStatus.OPEN
        else 0,
        "sections": [
            {
                "id": block["section"],
                "title": sections[block["section"]].title,
                "instructions": sections[block["section"]].instructions,
                "questions": [
                    _public_question(questions[qid], children, answers)
                    for qid in block["questions"]
                ],
            }
            for block in attempt.drawn
        ],
    }


def attempt_result_for_agent(attempt: Attempt) -> dict[str, Any]:
    """What the agent may see of a result: scores per section, level or
    pass/fail, graders' comments, when a retake opens. Never the answer key."""
    from assessments.services import attempt_opens_at

    attempt = attempt_refresh(attempt)
    final = attempt.status in (AttemptStatus.GRADED, AttemptStatus.EXPIRED)
    comments = [
        {
            "question": a.question_id,
            "prompt": a.question.prompt,
            "score": a.grader_score,
            "max_points": a.question.points,
            "comment": a.grader_comment,
        }
        for a in attempt.answers.filter(graded_at__isnull=False).select_related("question")
    ]
    result: dict[str, Any] = {
        "attempt": attempt.pk,
        "assessment": attempt.assessment.title,
        "status": attempt.status,
        "final": final,
        "submitted_at": attempt.submitted_at,
        "closed_by_deadline": attempt.closed_by_deadline,
        "comments": comments,
    }
    if final:
        result.update(
            score=attempt.score,
            sections=[
                {
                    "title": s["title"],
                    "points": s["points"],
                    "max_points": s["max_points"],
                    "score": s["score"],
                }
                for s in attempt.section_scores
            ],
            level=attempt.level or None,
            passed=attempt.passed,
            # A knowledge pass has nothing to retake; a language level can be raised.
            retake_opens_at=None
            if attempt.passed and not attempt.assessment.is_language
            else attempt_opens_at(agent=attempt.agent, assessment=attempt.assessment),
        )
    return result


def grading_queue(grader) -> QuerySet[Answer]:
    """Written answers waiting for ``grader``, oldest first: platform
    assessments for staff, plus those of brands where they are an admin or QA
    reviewer. Nothing else."""
    if grader is None or not getattr(grader, "is_authenticated", False) or not grader.is_active:
        return Answer.objects.none()
    brands = BrandMembership.objects.filter(user=grader, role__in=GRADER_ROLES).values("brand_id")
    scope = Q(attempt__assessment__brand_id__in=brands)
    if grader.is_staff:
        scope |= Q(attempt__assessment__brand__isnull=True)
    return (
        Answer.objects.filter(scope, needs_grading=True)
        .exclude(attempt__agent=grader)
        .select_related("question", "attempt__assessment")
        .order_by("attempt__submitted_at", "pk")
    )


def satisfying_certifications(*, agent_ref, assessment_ref, min_level_ref, at: datetime):
    """Certifications of the agent for the assessment, valid at ``at``, at or
    above ``min_level`` ("": any level, or a pass). Each ref is a value or an
    ``OuterRef``; CEFR levels sort as strings and a pass is ""."""
    return Certification.objects.filter(
        agent=agent_ref,
        assessment=assessment_ref,
        issued_at__lte=at,
        expires_at__gt=at,
        level__gte=min_level_ref,
    )


def certification_satisfies(
    agent, assessment: Assessment, min_level_or_pass: str | None, at: datetime | None = None
) -> bool:
    """Whether ``agent`` holds a certification of ``assessment`` valid at ``at``
    (default now), at ``min_level_or_pass`` or above (None or "pass": any)."""
    level = None if min_level_or_pass in (None, "", "pass") else min_level_or_pass
    return satisfying_certifications(
        agent_ref=agent.pk,
        assessment_ref=assessment.pk,
        min_level_ref=level or "",
        at=at or timezone.now(),
    ).exists()


def missing_brand_certifications(*, agent, brand) -> list[BrandCertificationRequirement]:
    """The brand's pool requirements the agent does not meet now."""
    now = timezone.now()
    return list(
        BrandCertificationRequirement.objects.filter(brand=brand)
        .select_related("assessment")
        .exclude(
            Exists(
                satisfying_certifications(
                    agent_ref=agent.pk,
                    assessment_ref=OuterRef("assessment_id"),
                    min_level_ref=OuterRef("min_level"),
                    at=now,
                )
            )
        )
        .order_by("assessment__title")
    )


def certifications_for_agent(*, agent) -> QuerySet[Certification]:
    return Certification.objects.filter(agent=agent).select_related("assessment")


# An agent's profile warns about a certification this long before it expires.
EXPIRY_WARNING = timedelta(days=30)


def certifications_expiring_soon(*, agent, at: datetime | None = None) -> QuerySet[Certification]:
    """The agent's valid certifications that expire within ``EXPIRY_WARNING``."""
    at = at or timezone.now()
    return certifications_for_agent(agent=agent).filter(
        issued_at__lte=at, expires_at__gt=at, expires_at__lte=at + EXPIRY_WARNING
    )


# --- the agent's assessment pages ------------------------------------------------


@dataclass(frozen=True)
class AgentAssessmentStatus:
    """Where ``agent`` stands with one assessment, for the catalogue and detail pages."""

    # The valid certification that lasts longest, if any.
    certification: Certification | None
    open_attempt: Attempt | None
    grading_attempt: Attempt | None
    # When a new attempt may start (cooldown or cap); None: now, or no attempt can start
    # while one is open or being graded.
    opens_at: datetime | None
    attempts_left: int
    max_attempts: int

    @property
    def can_start(self) -> bool:
        return self.open_attempt is None and self.grading_attempt is None and not self.opens_at


def assessments_for_agent_catalogue() -> QuerySet[Assessment]:
    """Assessments open for attempts, platform ones first, then brands' by brand name;
    each with ``published`` (its published version) prefetched."""
    from django.db.models import F, Prefetch

    from assessments.models import AssessmentVersion

    return (
        assessments_for_agents()
        .select_related("brand")
        .prefetch_related(
            Prefetch(
                "versions",
                queryset=AssessmentVersion.objects.filter(status=VersionStatus.PUBLISHED)
                .order_by("-number")
                .prefetch_related("sections"),
                to_attr="published",
            )
        )
        .order_by(F("brand__name").asc(nulls_first=True), "title", "pk")
    )


def agent_assessment_statuses(*, agent, assessments) -> dict[int, AgentAssessmentStatus]:
    """``agent``'s status for each of ``assessments`` (from
    ``assessments_for_agent_catalogue``), by assessment id. Open attempts past their
    deadline are closed first, so no status shows an attempt that cannot go on."""
    from assessments.services import ATTEMPT_WINDOW, attempt_opens_at

    assessments = list(assessments)
    ids = [a.pk for a in assessments]
    now = timezone.now()
    for stale in Attempt.objects.filter(
        agent=agent, assessment_id__in=ids, status=AttemptStatus.OPEN, deadline_at__lte=now
    ):
        attempt_refresh(stale)
    certifications: dict[int, Certification] = {}
    for certification in (
        Certification.objects.filter(agent=agent, assessment_id__in=ids)
        .valid_at(now)
        .order_by("expires_at")
    ):
        certifications[certification.assessment_id] = certification  # the latest expiry wins
    attempts: dict[int, list[Attempt]] = {}
    for attempt in Attempt.objects.filter(agent=agent, assessment_id__in=ids):
        attempts.setdefault(attempt.assessment_id, []).append(attempt)
    statuses = {}
    for assessment in assessments:
        version = assessment.published[0] if assessment.published else None
        mine = attempts.get(assessment.pk, [])
        cap = version.max_attempts if version else 0
        recent = sum(1 for a in mine if a.started_at > now - ATTEMPT_WINDOW)
        statuses[assessment.pk] = AgentAssessmentStatus(
            certification=certifications.get(assessment.pk),
            open_attempt=next((a for a in mine if a.status == AttemptStatus.OPEN), None),
            grading_attempt=next((a for a in mine if a.status == AttemptStatus.GRADING), None),
            opens_at=attempt_opens_at(agent=agent, assessment=assessment, version=version)
            if mine and version
            else None,
            attempts_left=max(0, cap - recent),
            max_attempts=cap,
        )
    return statuses


def agent_attempts_for_assessment(*, agent, assessment: Assessment) -> QuerySet[Attempt]:
    """The agent's attempts at ``assessment``, newest first."""
    return Attempt.objects.for_agent(agent).filter(assessment=assessment).select_related("version")


@dataclass(frozen=True)
class RequiredCertification:
    assessment: Assessment
    # "" for a pass, or any level of a language assessment.
    min_level: str
    held: bool
    # Whether agents can take it now (it has a published version).
    open_for_attempts: bool


def brand_required_certifications(*, agent, brand) -> list[RequiredCertification]:
    """The certifications ``brand`` requires to apply to its pool, each marked held
    (valid now, at the level) or missing for ``agent``."""
    missing = {r.pk for r in missing_brand_certifications(agent=agent, brand=brand)}
    takeable = set(assessments_for_agents().values_list("pk", flat=True))
    return [
        RequiredCertification(
            assessment=requirement.assessment,
            min_level=requirement.min_level,
            held=requirement.pk not in missing,
            open_for_attempts=requirement.assessment_id in takeable,
        )
        for requirement in BrandCertificationRequirement.objects.filter(brand=brand)
        .select_related("assessment")
        .order_by("assessment__title")
    ]
