"""Writes: publishing versions, attempts, answers, grading and certifications.

Grading rules (stated once, here):
- single choice: the one correct choice, exactly;
- multiple choice: all-or-nothing, the exact set of correct choices. Partial
  credit would reward ticking every box, which the bank cannot prevent;
- short answer: equal to an accepted answer after normalising case, spacing
  and accents (unicodedata NFKD, combining marks dropped);
- written: scored by a grader per rubric criterion; the attempt is final when
  the last written answer is graded.
Scores are integer points; the percent is rounded half up.
"""

from __future__ import annotations

import calendar
import random
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from assessments.models import (
    ANSWERABLE_TYPES,
    Answer,
    Assessment,
    AssessmentKind,
    AssessmentVersion,
    Attempt,
    AttemptStatus,
    Certification,
    Question,
    QuestionType,
    VersionStatus,
)
from assessments.permissions import can_grade, require_author
from gigs import live
from marketplace.audit import audit_record
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from marketplace.models import AgentLanguage, AgentProfile

# The attempt cap counts attempts started within this window: past the cap,
# the next attempt opens when the oldest counted one leaves it.
ATTEMPT_WINDOW = timedelta(days=365)
MAX_RESPONSE_CHARS = 20000


def _when(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%B %Y at %H:%M} UTC"


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus whole calendar months, clamped to the month's last day."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def normalise_text(value: str) -> str:
    """Case, spacing and accents folded: "  Canción  " and "cancion" match."""
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def percent(points: int, maximum: int) -> int:
    """Integer percent, rounded half up; 0 of 0 is 0."""
    if maximum <= 0:
        return 0
    return (200 * points + maximum) // (2 * maximum)


# --- versions ----------------------------------------------------------------


def version_publish(version: AssessmentVersion, actor) -> AssessmentVersion:
    """Freeze a draft: new attempts are taken on it; earlier published versions
    retire (their attempts and certifications keep pointing at them)."""
    require_author(actor, version.assessment.brand)
    with transaction.atomic():
        version = AssessmentVersion.objects.select_for_update().get(pk=version.pk)
        if version.status != VersionStatus.DRAFT:
            raise Conflict(
                f"Version {version.number} is already {version.get_status_display().lower()}.",
                code="version_frozen",
            )
        if not version.sections.exists():
            raise ValidationFailed("A version without sections cannot be published.")
        AssessmentVersion.objects.filter(
            assessment=version.assessment_id, status=VersionStatus.PUBLISHED
        ).update(status=VersionStatus.RETIRED)
        version.status = VersionStatus.PUBLISHED
        version.published_at = timezone.now()
        version.published_by = actor if getattr(actor, "pk", None) else None
        version.save(update_fields=["status", "published_at", "published_by"])
        audit_record(
            actor=actor,
            action="assessment.published",
            target=version,
            brand=version.assessment.brand,
            changes={"version": version.number},
        )
    return version


def version_draft_from(version: AssessmentVersion, actor) -> AssessmentVersion:
    """A new draft with ``version``'s content, to edit; the frozen version stays
    as it is. Returns the existing draft if there is one."""
    from assessments.content import assessment_export, assessment_import

    assessment = version.assessment
    existing = assessment.versions.filter(status=VersionStatus.DRAFT).first()
    if existing is not None:
        return existing
    return assessment_import(assessment_export(version), actor=actor, brand=assessment.brand)


# --- attempts ----------------------------------------------------------------


def _draw(version: AssessmentVersion, seed: int) -> list[dict]:
    """The questions an attempt shows, per section in order: ``draw`` top-level
    items sampled from each bank by a generator seeded with ``seed``."""
    rng = random.Random(seed)
    drawn = []
    for section in version.sections.order_by("order"):
        bank = list(
            section.questions.filter(parent__isnull=True)
            .order_by("order")
            .values_list("pk", flat=True)
        )
        drawn.append({"section": section.pk, "questions": rng.sample(bank, section.draw)})
    return drawn


def attempt_opens_at(*, agent, assessment: Assessment, version: AssessmentVersion | None = None):
    """When ``agent`` may next start ``assessment``: None if now.

    Two limits: the cooldown after a failed attempt, and the cap on attempts
    started within ``ATTEMPT_WINDOW``. On a language assessment every closed
    attempt starts the cooldown: a retake to raise one's level waits like one
    after a fail, or the bank could be learnt by retaking at once.
    """
    version = version or assessment.published_version()
    if version is None:
        return None
    now = timezone.now()
    opens = []
    closed = Attempt.objects.filter(agent=agent, assessment=assessment).exclude(
        submitted_at__isnull=True
    )
    if not assessment.is_language:
        closed = closed.filter(passed=False)
    last_fail = closed.order_by("-submitted_at").first()
    if last_fail is not None and version.cooldown_days:
        retake = last_fail.submitted_at + timedelta(days=version.cooldown_days)
        if retake > now:
            opens.append(retake)
    recent = list(
        Attempt.objects.filter(
            agent=agent, assessment=assessment, started_at__gt=now - ATTEMPT_WINDOW
        )
        .order_by("-started_at")
        .values_list("started_at", flat=True)[: version.max_attempts]
    )
    if len(recent) >= version.max_attempts:
        opens.append(recent[-1] + ATTEMPT_WINDOW)
    return max(opens) if opens else None


def attempt_start(*, agent, assessment: Assessment) -> Attempt:
    """Start an attempt on the assessment's published version, or return the
    agent's open one. Refused while one is being graded, during the cooldown
    after a fail, and past the attempt cap (with the date it opens)."""
    if not agent.is_agent or not agent.is_active:
        raise PermissionDenied("Only agent accounts can take assessments.", code="not_an_agent")
    # An open attempt past its deadline is closed (and stays closed) before
    # deciding, even when the start is then refused.
    for stale in Attempt.objects.filter(
        agent=agent, assessment=assessment, status=AttemptStatus.OPEN
    ):
        attempt_refresh(stale)
    with transaction.atomic():
        current = (
            Attempt.objects.select_for_update()
            .filter(agent=agent, assessment=assessment, status=AttemptStatus.OPEN)
            .first()
        )
        if current is not None and timezone.now() < current.deadline_at:
            return current
        if current is not None:
            current = _close(current, by_deadline=True)
        version = assessment.published_version()
        if version is None:
            raise NotFound("This assessment is not open for attempts yet.")
        if Attempt.objects.filter(
            agent=agent, assessment=assessment, status=AttemptStatus.GRADING
        ).exists():
            raise Conflict(
                "Your last attempt is still being graded; you will see the result soon.",
                code="attempt_grading",
            )
        opens = attempt_opens_at(agent=agent, assessment=assessment, version=version)
        if opens is not None:
            raise ValidationFailed(
                f"You can take {assessment} again from {_when(opens)}.",
                code="attempt_not_yet",
                fields={"opens_at": opens.isoformat()},
            )
        now = timezone.now()
        seed = secrets.randbits(62)
        try:
            with transaction.atomic():  # savepoint: a double click loses the race here
                attempt = Attempt.objects.create(
                    agent=agent,
                    assessment=assessment,
                    version=version,
                    started_at=now,
                    deadline_at=now + timedelta(seconds=version.time_limit_seconds),
                    seed=seed,
                    drawn=_draw(version, seed),
                )
        except IntegrityError:
            return Attempt.objects.get(
                agent=agent, assessment=assessment, status=AttemptStatus.OPEN
            )
        audit_record(
            actor=agent,
            action="assessment.attempt_started",
            target=attempt,
            brand=assessment.brand,
            changes={"version": version.number},
        )
    return attempt


def attempt_questions(attempt: Attempt) -> list[Question]:
    """The answerable questions of the attempt: drawn items and the children
    of drawn reading items."""
    drawn = attempt.drawn_question_ids()
    return list(
        Question.objects.filter(pk__in=drawn, type__in=ANSWERABLE_TYPES)
        | Question.objects.filter(parent_id__in=drawn)
    )


def _validate_response(question: Question, response):
    if question.type == QuestionType.SINGLE_CHOICE:
        if response is None:
            return None
        if not isinstance(response, int) or isinstance(response, bool):
            raise ValidationFailed("Choose one option.", fields={"response": "Choose one option."})
        if not question.choices.filter(pk=response).exists():
            raise ValidationFailed("That option is not part of this question.")
        return response
    if question.type == QuestionType.MULTIPLE_CHOICE:
        if response is None:
            return []
        if not isinstance(response, list) or not all(
            isinstance(r, int) and not isinstance(r, bool) for r in response
        ):
            raise ValidationFailed("Choose options from the list.")
        chosen = sorted(set(response))
        if question.choices.filter(pk__in=chosen).count() != len(chosen):
            raise ValidationFailed("An option is not part of this question.")
        return chosen
    # Short answer and written: text.
    if response is None:
        return ""
    if not isinstance(response, str):
        raise ValidationFailed("Answer with text.")
    if len(response) > MAX_RESPONSE_CHARS:
        raise ValidationFailed(f"Answers are limited to {MAX_RESPONSE_CHARS} characters.")
    return response


def answer_save(*, agent, attempt_id: int, question_id: int, response) -> Answer:
    """Save (or replace) the agent's answer to one question of their open attempt.

    Refused, with nothing saved: another agent's attempt (404), a question not
    drawn for it, a closed attempt or one past its deadline (the server's clock).
    """
    attempt = Attempt.objects.filter(pk=attempt_id, agent=agent).first()
    if attempt is None:
        raise NotFound("No such attempt.")
    # Past its deadline the attempt is closed (and graded) first, and stays so.
    attempt_refresh(attempt)
    with transaction.atomic():
        attempt = Attempt.objects.select_for_update().get(pk=attempt_id)
        if attempt.closed_by_deadline or (
            attempt.status == AttemptStatus.OPEN and timezone.now() >= attempt.deadline_at
        ):
            raise Conflict(
                "Time is up: the attempt closed at its deadline and this answer was not saved.",
                code="attempt_deadline_passed",
            )
        if attempt.status != AttemptStatus.OPEN:
            raise Conflict(
                "This attempt is closed; answers can no longer change.", code="attempt_closed"
            )
        question = next((q for q in attempt_questions(attempt) if q.pk == question_id), None)
        if question is None:
            raise ValidationFailed(
                "That question is not part of this attempt.", code="question_not_in_attempt"
            )
        response = _validate_response(question, response)
        answer, _ = Answer.objects.update_or_create(
            attempt=attempt,
            question=question,
            defaults={"response": response, "saved_at": timezone.now()},
        )
    return answer


def _auto_score(question: Question, response) -> int:
    if question.type == QuestionType.SINGLE_CHOICE:
        correct = [c.pk for c in question.choices.all() if c.correct]
        return question.points if correct == [response] else 0
    if question.type == QuestionType.MULTIPLE_CHOICE:
        correct = sorted(c.pk for c in question.choices.all() if c.correct)
        return question.points if sorted(response or []) == correct else 0
    if question.type == QuestionType.SHORT_ANSWER:
        given = normalise_text(response or "")
        accepted = {normalise_text(a) for a in question.accepted_answers}
        return question.points if given and given in accepted else 0
    return 0


def _close(attempt: Attempt, *, by_deadline: bool) -> Attempt:
    """Score the objective answers of a locked open attempt and queue its
    written ones; final at once when nothing waits for a grader."""
    attempt.submitted_at = attempt.deadline_at if by_deadline else timezone.now()
    attempt.closed_by_deadline = by_deadline
    questions = {q.pk: q for q in attempt_questions(attempt)}
    for q in Question.objects.filter(pk__in=questions).prefetch_related("choices"):
        questions[q.pk] = q
    answers = {a.question_id: a for a in attempt.answers.all()}
    if by_deadline and not answers:
        attempt.status = AttemptStatus.EXPIRED
        attempt.save(update_fields=["status", "submitted_at", "closed_by_deadline"])
        return _finalise(attempt)
    for question in questions.values():
        answer = answers.get(question.pk)
        if question.type == QuestionType.WRITTEN:
            if answer is not None and (answer.response or "").strip():
                answer.needs_grading = True
                answer.save(update_fields=["needs_grading"])
            elif answer is not None:
                answer.auto_score = 0
                answer.save(update_fields=["auto_score"])
            continue
        if answer is not None:
            answer.auto_score = _auto_score(question, answer.response)
            answer.save(update_fields=["auto_score"])
    attempt.status = AttemptStatus.GRADING
    attempt.save(update_fields=["status", "submitted_at", "closed_by_deadline"])
    if not attempt.answers.filter(needs_grading=True).exists():
        return _finalise(attempt)
    return attempt


def _finalise(attempt: Attempt) -> Attempt:
    """Compute the final scores; issue a certification on a pass."""
    version = attempt.version
    questions = {q.pk: q for q in Question.objects.filter(pk__in=attempt.drawn_question_ids())}
    children: dict[int, list[int]] = {}
    for child_id, parent_id in Question.objects.filter(parent_id__in=list(questions)).values_list(
        "pk", "parent_id"
    ):
        children.setdefault(parent_id, []).append(child_id)
    scores = {a.question_id: a.score or 0 for a in attempt.answers.all()}
    titles = dict(version.sections.values_list("pk", "title"))
    section_scores, total, maximum = [], 0, 0
    for block in attempt.drawn:
        points = sum(
            scores.get(qid, 0) + sum(scores.get(c, 0) for c in children.get(qid, []))
            for qid in block["questions"]
        )
        section_max = sum(questions[qid].points for qid in block["questions"])
        section_scores.append(
            {
                "section": block["section"],
                "title": titles.get(block["section"], ""),
                "points": points,
                "max_points": section_max,
                "score": percent(points, section_max),
            }
        )
        total += points
        maximum += section_max
    attempt.score_points, attempt.max_points = total, maximum
    attempt.score = percent(total, maximum)
    attempt.section_scores = section_scores
    if attempt.status == AttemptStatus.EXPIRED:
        # Nothing answered: no level, whatever the lowest band says.
        attempt.level = ""
        attempt.passed = False
    elif attempt.assessment.kind == AssessmentKind.LANGUAGE:
        reached = [b["level"] for b in version.level_bands if attempt.score >= b["min_score"]]
        attempt.level = reached[-1] if reached else ""
        attempt.passed = bool(reached)
    else:
        attempt.level = ""
        attempt.passed = attempt.score >= (version.pass_mark or 100)
    attempt.graded_at = timezone.now()
    if attempt.status != AttemptStatus.EXPIRED:
        attempt.status = AttemptStatus.GRADED
    attempt.save()
    if attempt.passed:
        Certification.objects.create(
            agent=attempt.agent,
            assessment=attempt.assessment,
            version=version,
            attempt=attempt,
            level=attempt.level,
            score=attempt.score,
            issued_at=attempt.graded_at,
            expires_at=add_months(attempt.graded_at, version.validity_months),
        )
        if attempt.assessment.kind == AssessmentKind.LANGUAGE:
            _profile_language_at_least(attempt.agent, attempt.assessment.language, attempt.level)
        # The certification may open gigs to the agent: their live queue
        # reads its offer scope again (on commit).
        live.agent_scope_changed(attempt.agent_id)
    audit_record(
        actor=None,
        action="assessment.attempt_graded",
        target=attempt,
        brand=attempt.assessment.brand,
        changes={"score": attempt.score, "level": attempt.level, "passed": attempt.passed},
    )
    return attempt


def _profile_language_at_least(agent, language: str, level: str) -> None:
    """Raise the level the agent declares for ``language`` to a certified one.

    Gigs match on the profile's languages; a certified level is one the
    platform has checked, so it counts at least that much. A higher declared
    level stays: the certification gates gigs that require it on its own.
    """
    profile = AgentProfile.objects.filter(user=agent).first()
    if profile is None:
        return
    declared = AgentLanguage.objects.filter(profile=profile, language=language).first()
    if declared is None:
        AgentLanguage.objects.create(profile=profile, language=language, level=level)
    elif declared.level < level:  # CEFR levels sort as strings
        declared.level = level
        declared.save(update_fields=["level"])


def attempt_refresh(attempt: Attempt) -> Attempt:
    """Close and grade an open attempt past its deadline. Call before reading
    an attempt: correctness never waits for a timer."""
    if attempt.status != AttemptStatus.OPEN or timezone.now() < attempt.deadline_at:
        return attempt
    with transaction.atomic():
        locked = Attempt.objects.select_for_update().get(pk=attempt.pk)
        if locked.status != AttemptStatus.OPEN:
            return locked
        return _close(locked, by_deadline=True)


def attempt_submit(*, agent, attempt_id: int) -> Attempt:
    """The agent hands the attempt in: objective items are graded now, written
    ones queued. Past the deadline it closes as of the deadline instead."""
    with transaction.atomic():
        attempt = Attempt.objects.select_for_update().filter(pk=attempt_id, agent=agent).first()
        if attempt is None:
            raise NotFound("No such attempt.")
        if attempt.status != AttemptStatus.OPEN:
            raise Conflict("This attempt is already closed.", code="attempt_closed")
        by_deadline = timezone.now() >= attempt.deadline_at
        attempt = _close(attempt, by_deadline=by_deadline)
        audit_record(
            actor=agent,
            action="assessment.attempt_submitted",
            target=attempt,
            brand=attempt.assessment.brand,
        )
    return attempt


def answer_grade(*, grader, answer_id: int, score, comment: str = "") -> Answer:
    """Score one written answer against its rubric. ``score`` is
    {criterion: points} (each within its max_points) or a total for a
    one-criterion rubric. The attempt is final when its last answer is graded.

    Only platform staff grade platform assessments; only the brand's admins
    and QA reviewers grade the brand's (others get 404, as if it did not exist).
    """
    with transaction.atomic():
        answer = (
            Answer.objects.select_related("attempt__assessment", "question")
            .filter(pk=answer_id, needs_grading=True)
            .first()
        )
        if answer is None or not can_grade(grader, answer.attempt.assessment.brand):
            raise NotFound("No such answer waiting for grading.")
        attempt = Attempt.objects.select_for_update().get(pk=answer.attempt_id)
        answer = Answer.objects.select_for_update().get(pk=answer.pk)
        if not answer.needs_grading:
            raise Conflict("This answer has already been graded.", code="answer_graded")
        if attempt.agent_id == grader.pk:
            raise PermissionDenied("You cannot grade your own answers.")
        rubric = answer.question.rubric
        if isinstance(score, int) and not isinstance(score, bool) and len(rubric) == 1:
            score = {rubric[0]["criterion"]: score}
        if not isinstance(score, dict):
            raise ValidationFailed("Give points for each rubric criterion.")
        fields = {}
        for criterion in rubric:
            name = criterion["criterion"]
            value = score.get(name)
            if not isinstance(value, int) or isinstance(value, bool):
                fields[name] = "Points are required."
            elif not 0 <= value <= criterion["max_points"]:
                fields[name] = f"Between 0 and {criterion['max_points']}."
        unknown = set(score) - {c["criterion"] for c in rubric}
        for name in unknown:
            fields[name] = "Not a criterion of this rubric."
        if fields:
            raise ValidationFailed("The scores do not fit the rubric.", fields=fields)
        comment = (comment or "").strip()
        if len(comment) > 5000:
            raise ValidationFailed("Comments are limited to 5000 characters.")
        answer.grader_rubric_scores = {c["criterion"]: score[c["criterion"]] for c in rubric}
        answer.grader_score = sum(answer.grader_rubric_scores.values())
        answer.grader_comment = comment
        answer.graded_by = grader
        answer.graded_at = timezone.now()
        answer.needs_grading = False
        answer.save()
        audit_record(
            actor=grader,
            action="assessment.answer_graded",
            target=answer,
            brand=attempt.assessment.brand,
            changes={"score": answer.grader_score},
        )
        if (
            attempt.status == AttemptStatus.GRADING
            and not attempt.answers.filter(needs_grading=True).exists()
        ):
            _finalise(attempt)
    return answer
