"""Writes for editing an assessment's draft version in the UI.

Only a draft changes: every write here locks the version row and refuses a
published or retired one, so attempts and certifications always point at the
questions that were taken. Item rules (choices, accepted answers, rubrics)
are the JSON format's own (``assessments.content``), so a draft built here
exports to a document that imports again. Publishing re-checks the whole
draft the same way before ``services.version_publish`` freezes it.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from django.db.models import Max

from assessments.content import (
    CHILD_TYPES,
    MAX_TIME_LIMIT_MINUTES,
    _Errors,
    _validate_item,
    assessment_export,
    validate_document,
)
from assessments.models import (
    Assessment,
    AssessmentKind,
    AssessmentVersion,
    Choice,
    Question,
    QuestionType,
    Section,
)
from assessments.permissions import require_author
from assessments.services import version_publish
from brands.models import Brand
from marketplace.audit import audit_record
from marketplace.errors import Conflict, ValidationFailed
from marketplace.languages import LANGUAGE_NAMES, CEFRLevel

FROZEN_MESSAGE = "Published versions are frozen: make a new draft to edit."
DEFAULT_TIME_LIMIT_MINUTES = 30
DEFAULT_PASS_MARK = 70
# A starting point the author adjusts: every CEFR level, evenly spread.
DEFAULT_LEVEL_BANDS = [
    {"level": "A1", "min_score": 0},
    {"level": "A2", "min_score": 20},
    {"level": "B1", "min_score": 40},
    {"level": "B2", "min_score": 60},
    {"level": "C1", "min_score": 75},
    {"level": "C2", "min_score": 90},
]
# Move a row out of the way while two rows swap places: (version, order) is unique.
_PARKING_ORDER = 2**31 - 1


def _refuse(errors: dict[str, str], what: str) -> None:
    if errors:
        count = len(errors)
        raise ValidationFailed(
            f"The {what} has {count} error{'s' if count != 1 else ''}; nothing was saved.",
            fields=errors,
        )


def _lock_draft(version: AssessmentVersion, actor) -> AssessmentVersion:
    """The draft ``version``, locked, after checking ``actor`` may author it.

    Call inside ``transaction.atomic()``. Publishing takes the same lock, so an
    edit never lands in a version that was frozen a moment before.
    """
    require_author(actor, version.assessment.brand)
    locked = (
        # Only the version row: the brand is an outer join PostgreSQL cannot lock.
        AssessmentVersion.objects.select_for_update(of=("self",))
        .select_related("assessment", "assessment__brand")
        .get(pk=version.pk)
    )
    if locked.is_frozen:
        raise Conflict(FROZEN_MESSAGE, code="version_frozen")
    return locked


def _int_in(errors: dict, name: str, value, minimum: int, maximum: int) -> int | None:
    if value is None or value == "":
        errors[name] = "This field is required."
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        errors[name] = "Must be a whole number."
        return None
    if not minimum <= value <= maximum:
        errors[name] = f"Must be between {minimum} and {maximum}."
        return None
    return value


def _text_in(errors: dict, name: str, value, *, required: bool, max_length: int) -> str:
    value = (value or "").strip()
    if required and not value:
        errors[name] = "This field is required."
    elif len(value) > max_length:
        errors[name] = f"At most {max_length} characters."
    return value


# --- assessments and their settings -------------------------------------------------


def assessment_create(
    *,
    actor,
    brand: Brand | None,
    kind: str,
    slug: str,
    title: str,
    language: str = "",
    domain: str = "",
    description: str = "",
) -> AssessmentVersion:
    """A new assessment owned by ``brand`` (None: the platform) with an empty
    draft version 1 carrying default rules; returns the draft."""
    require_author(actor, brand)
    errors: dict[str, str] = {}
    slug = _text_in(errors, "slug", slug, required=True, max_length=80)
    if slug and "slug" not in errors:
        try:
            validate_slug(slug)
        except DjangoValidationError:
            errors["slug"] = "Use letters, digits, hyphens and underscores only."
        else:
            if Assessment.objects.filter(slug=slug).exists():
                errors["slug"] = "Already used by another assessment: choose another."
    title = _text_in(errors, "title", title, required=True, max_length=160)
    description = _text_in(errors, "description", description, required=False, max_length=5000)
    domain = _text_in(
        errors, "domain", domain, required=kind == AssessmentKind.KNOWLEDGE, max_length=80
    )
    if kind not in AssessmentKind.values:
        errors["kind"] = "Choose language or knowledge."
    elif kind == AssessmentKind.LANGUAGE:
        if language not in LANGUAGE_NAMES:
            errors["language"] = "Choose the language the assessment tests."
    else:
        language = ""
    _refuse(errors, "assessment")
    is_language = kind == AssessmentKind.LANGUAGE
    try:
        with transaction.atomic():
            assessment = Assessment.objects.create(
                slug=slug,
                title=title,
                kind=kind,
                language=language,
                domain=domain,
                description=description,
                brand=brand,
                created_by=actor,
            )
            draft = AssessmentVersion.objects.create(
                assessment=assessment,
                number=1,
                time_limit_seconds=DEFAULT_TIME_LIMIT_MINUTES * 60,
                pass_mark=None if is_language else DEFAULT_PASS_MARK,
                level_bands=[dict(band) for band in DEFAULT_LEVEL_BANDS] if is_language else [],
                created_by=actor,
            )
            audit_record(
                actor=actor,
                action="assessment.created",
                target=assessment,
                brand=brand,
                changes={"slug": slug, "kind": kind},
            )
    except IntegrityError:
        # Two authors chose the same slug at once: the second one loses.
        raise ValidationFailed(
            "The assessment has 1 error; nothing was saved.",
            fields={"slug": "Already used by another assessment: choose another."},
        ) from None
    return draft


def _validate_level_bands(errors: dict, bands: Any) -> list[dict]:
    if not isinstance(bands, list) or not bands:
        errors["level_bands"] = "Give a minimum score for at least one level."
        return []
    cleaned, previous_level, previous_score = [], "", -1
    for band in bands:
        level, score = band.get("level"), band.get("min_score")
        if level not in CEFRLevel.values:
            errors["level_bands"] = "Levels must be CEFR levels, A1 to C2."
            return []
        if level <= previous_level:
            errors["level_bands"] = "Levels must be in ascending order, each once."
            return []
        if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 100:
            errors["level_bands"] = f"The minimum score for {level} must be 0 to 100."
            return []
        if score <= previous_score:
            errors["level_bands"] = "Each higher level needs a higher minimum score."
            return []
        previous_level, previous_score = level, score
        cleaned.append({"level": level, "min_score": score})
    return cleaned


def draft_settings_update(
    *,
    actor,
    version: AssessmentVersion,
    title: str,
    description: str,
    domain: str,
    time_limit_minutes: int,
    cooldown_days: int,
    max_attempts: int,
    validity_months: int,
    pass_mark: int | None = None,
    level_bands: list[dict] | None = None,
) -> AssessmentVersion:
    """Change the draft's rules, and the assessment's title, description and domain.

    A language assessment takes ``level_bands`` (ascending levels, ascending
    minimum scores); a knowledge one takes ``pass_mark``.
    """
    errors: dict[str, str] = {}
    assessment = version.assessment
    is_language = assessment.kind == AssessmentKind.LANGUAGE
    title = _text_in(errors, "title", title, required=True, max_length=160)
    description = _text_in(errors, "description", description, required=False, max_length=5000)
    domain = _text_in(errors, "domain", domain, required=not is_language, max_length=80)
    _int_in(errors, "time_limit_minutes", time_limit_minutes, 1, MAX_TIME_LIMIT_MINUTES)
    _int_in(errors, "cooldown_days", cooldown_days, 0, 365)
    _int_in(errors, "max_attempts", max_attempts, 1, 100)
    _int_in(errors, "validity_months", validity_months, 1, 120)
    if is_language:
        bands = _validate_level_bands(errors, level_bands)
        pass_mark = None
    else:
        bands = []
        _int_in(errors, "pass_mark", pass_mark, 1, 100)
    _refuse(errors, "settings form")
    with transaction.atomic():
        version = _lock_draft(version, actor)
        assessment = version.assessment
        before = {
            "time_limit_seconds": version.time_limit_seconds,
            "cooldown_days": version.cooldown_days,
            "max_attempts": version.max_attempts,
            "validity_months": version.validity_months,
            "pass_mark": version.pass_mark,
            "level_bands": version.level_bands,
        }
        version.time_limit_seconds = time_limit_minutes * 60
        version.cooldown_days = cooldown_days
        version.max_attempts = max_attempts
        version.validity_months = validity_months
        version.pass_mark = pass_mark
        version.level_bands = bands
        version.save()
        assessment.title, assessment.description = title, description
        assessment.domain = "" if is_language else domain
        assessment.save(update_fields=["title", "description", "domain"])
        changed = {
            name: [old, getattr(version, name)]
            for name, old in before.items()
            if old != getattr(version, name)
        }
        audit_record(
            actor=actor,
            action="assessment.settings_updated",
            target=version,
            brand=assessment.brand,
            changes=changed,
        )
    return version


# --- sections ----------------------------------------------------------------------


def _section_fields(title: str, instructions: str, draw) -> tuple[str, str, int]:
    errors: dict[str, str] = {}
    title = _text_in(errors, "title", title, required=True, max_length=160)
    instructions = _text_in(errors, "instructions", instructions, required=False, max_length=5000)
    _int_in(errors, "draw", draw, 1, 1000)
    _refuse(errors, "section")
    return title, instructions, draw


def section_create(
    *, actor, version: AssessmentVersion, title: str, instructions: str = "", draw: int = 1
) -> Section:
    """Add a section at the end of the draft. Its ``draw`` may exceed the bank
    while the author fills it; publishing refuses that."""
    title, instructions, draw = _section_fields(title, instructions, draw)
    with transaction.atomic():
        version = _lock_draft(version, actor)
        last = version.sections.aggregate(last=Max("order"))["last"]
        return Section.objects.create(
            version=version,
            title=title,
            instructions=instructions,
            draw=draw,
            order=0 if last is None else last + 1,
        )


def section_update(*, actor, section: Section, title: str, instructions: str, draw: int) -> Section:
    title, instructions, draw = _section_fields(title, instructions, draw)
    with transaction.atomic():
        _lock_draft(section.version, actor)
        section = Section.objects.get(pk=section.pk)
        section.title, section.instructions, section.draw = title, instructions, draw
        section.save(update_fields=["title", "instructions", "draw"])
    return section


def section_delete(*, actor, section: Section) -> None:
    """Remove a section and its questions from the draft."""
    with transaction.atomic():
        version = _lock_draft(section.version, actor)
        section = Section.objects.get(pk=section.pk)
        question_count = section.questions.count()
        section.delete()
        _renumber(version.sections.order_by("order"))
        audit_record(
            actor=actor,
            action="assessment.section_deleted",
            target=version,
            brand=version.assessment.brand,
            changes={"section": section.title, "questions": question_count},
        )


def _renumber(rows) -> None:
    """Orders 0, 1, 2… again after a delete, lowest first so no two collide."""
    for index, row in enumerate(rows):
        if row.order != index:
            row.order = index
            row.save(update_fields=["order"])


def _swap(row, neighbour) -> None:
    row_order, neighbour_order = row.order, neighbour.order
    row.order = _PARKING_ORDER
    row.save(update_fields=["order"])
    neighbour.order = row_order
    neighbour.save(update_fields=["order"])
    row.order = neighbour_order
    row.save(update_fields=["order"])


def section_move(*, actor, section: Section, offset: int) -> None:
    """Move a section one place up (``offset=-1``) or down (``+1``); at an end it stays."""
    with transaction.atomic():
        version = _lock_draft(section.version, actor)
        sections = list(version.sections.order_by("order"))
        index = next(i for i, s in enumerate(sections) if s.pk == section.pk)
        target = index + (1 if offset > 0 else -1)
        if 0 <= target < len(sections):
            _swap(sections[index], sections[target])


# --- questions ---------------------------------------------------------------------

_PATH_HEAD = re.compile(r"^q\.?")


def _validate_question(item: dict, *, child: bool) -> dict[str, str]:
    """Errors of one bank item, keyed by its field (``choices[1].text``).

    A reading passage is checked on its own: its questions are added one by
    one after it, and publishing checks that it has at least one.
    """
    if not isinstance(item, dict):
        return {"": "A question must be an object."}
    if item.get("type") == QuestionType.READING:
        errors: dict[str, str] = {}
        if child:
            errors["type"] = "A reading passage cannot sit inside another one."
        _text_in(errors, "passage", item.get("passage"), required=True, max_length=20000)
        if item.get("level") not in (None, "", *CEFRLevel.values):
            errors["level"] = "Must be a CEFR level."
        return errors
    collected = _Errors()
    _validate_item(collected, item, "q", child=child)
    return {_PATH_HEAD.sub("", path): message for path, message in collected.fields.items()}


def _question_values(item: dict) -> dict[str, Any]:
    qtype = item["type"]
    rubric = [
        {
            "criterion": c["criterion"].strip(),
            "max_points": c["max_points"],
            "description": (c.get("description") or "").strip(),
        }
        for c in item.get("rubric") or []
    ]
    if qtype == QuestionType.WRITTEN:
        points = sum(c["max_points"] for c in rubric)
    elif qtype == QuestionType.READING:
        points = 0  # the sum of its questions, kept by _reading_points
    else:
        points = item["points"]
    return {
        "prompt": (item.get("prompt") or "").strip() if qtype != QuestionType.READING else "",
        "passage": (item.get("passage") or "").strip() if qtype == QuestionType.READING else "",
        "points": points,
        "level": item.get("level") or "",
        "rubric": rubric if qtype == QuestionType.WRITTEN else [],
        "accepted_answers": [a.strip() for a in item.get("accepted_answers") or []]
        if qtype == QuestionType.SHORT_ANSWER
        else [],
    }


def _write_choices(question: Question, item: dict) -> None:
    question.choices.all().delete()
    if question.type in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE):
        Choice.objects.bulk_create(
            Choice(question=question, order=i, text=c["text"].strip(), correct=c["correct"])
            for i, c in enumerate(item.get("choices") or [])
        )


def _reading_points(parent_id: int | None) -> None:
    """A reading passage scores the sum of its questions: keep it so."""
    if parent_id is None:
        return
    parent = Question.objects.get(pk=parent_id)
    parent.points = sum(parent.children.values_list("points", flat=True))
    parent.save(update_fields=["points"])


def question_create(
    *, actor, section: Section, item: dict, parent: Question | None = None
) -> Question:
    """Add a question at the end of ``section``'s bank, or of ``parent``'s
    questions when ``parent`` is a reading passage. ``item`` is in the JSON
    format (``type``, ``prompt``, ``points``, ``choices``…)."""
    if parent is not None and (
        parent.type != QuestionType.READING or parent.section_id != section.pk
    ):
        raise ValidationFailed("Questions can only be added inside a reading passage.")
    if parent is not None and item.get("type") not in CHILD_TYPES:
        raise ValidationFailed(
            "A reading passage takes single-choice, multiple-choice and short-answer questions.",
            fields={"type": "Not allowed inside a reading passage."},
        )
    _refuse(_validate_question(item, child=parent is not None), "question")
    with transaction.atomic():
        version = _lock_draft(section.version, actor)
        siblings = Question.objects.filter(section=section, parent=parent)
        last = siblings.aggregate(last=Max("order"))["last"]
        question = Question.objects.create(
            section=section,
            parent=parent,
            order=0 if last is None else last + 1,
            type=item["type"],
            **_question_values(item),
        )
        _write_choices(question, item)
        _reading_points(question.parent_id)
        audit_record(
            actor=actor,
            action="assessment.question_added",
            target=version,
            brand=version.assessment.brand,
            changes={"question": question.pk, "type": question.type},
        )
    return question


def question_update(*, actor, question: Question, item: dict) -> Question:
    """Replace a question's content; its type stays (delete and add to change it)."""
    item = {**item, "type": question.type}
    _refuse(_validate_question(item, child=question.parent_id is not None), "question")
    with transaction.atomic():
        _lock_draft(question.section.version, actor)
        question = Question.objects.get(pk=question.pk)
        values = _question_values(item)
        if question.type == QuestionType.READING:
            values.pop("points")
        for name, value in values.items():
            setattr(question, name, value)
        question.save()
        _write_choices(question, item)
        _reading_points(question.parent_id)
        if question.type == QuestionType.READING:
            _reading_points(question.pk)
    return question


def question_delete(*, actor, question: Question) -> None:
    """Remove a question (a passage with its questions) from the draft's bank."""
    with transaction.atomic():
        version = _lock_draft(question.section.version, actor)
        question = Question.objects.get(pk=question.pk)
        parent_id, section_id = question.parent_id, question.section_id
        label = str(question)
        question.delete()
        _renumber(
            Question.objects.filter(section_id=section_id, parent_id=parent_id).order_by("order")
        )
        _reading_points(parent_id)
        audit_record(
            actor=actor,
            action="assessment.question_deleted",
            target=version,
            brand=version.assessment.brand,
            changes={"question": label},
        )


def question_move(*, actor, question: Question, offset: int) -> None:
    """Move a question one place up (``-1``) or down (``+1``) among its siblings."""
    with transaction.atomic():
        _lock_draft(question.section.version, actor)
        siblings = list(
            Question.objects.filter(
                section_id=question.section_id, parent_id=question.parent_id
            ).order_by("order")
        )
        index = next(i for i, q in enumerate(siblings) if q.pk == question.pk)
        target = index + (1 if offset > 0 else -1)
        if 0 <= target < len(siblings):
            siblings[index], siblings[target] = siblings[target], siblings[index]
            # Question orders are not unique: renumbering the whole list is safe.
            for position, sibling in enumerate(siblings):
                if sibling.order != position:
                    Question.objects.filter(pk=sibling.pk).update(order=position)


# --- checking and publishing -------------------------------------------------------

_SECTION_PATH = re.compile(
    r"^sections\[(\d+)\](?:\.questions\[(\d+)\])?(?:\.questions\[(\d+)\])?\.?(.*)$"
)
_FIELD_LABELS = {
    "draw": "questions drawn",
    "questions": "questions",
    "choices": "choices",
    "accepted_answers": "accepted answers",
    "rubric": "rubric",
    "points": "points",
    "passage": "passage",
    "prompt": "prompt",
    "level_bands": "level bands",
    "pass_mark": "pass mark",
    "time_limit_minutes": "time limit",
}


def _problem_label(path: str, section_titles: list[str]) -> str:
    """``sections[1].questions[0].choices`` → ``Section 2 “Reading” · question 1 · choices``."""
    match = _SECTION_PATH.match(path)
    if match is None:
        return _FIELD_LABELS.get(path, path.replace("_", " ")) or "Assessment"
    section, question, child, rest = match.groups()
    index = int(section)
    title = section_titles[index] if index < len(section_titles) else ""
    parts = [f"Section {index + 1} “{title}”" if title else f"Section {index + 1}"]
    if question is not None:
        parts.append(f"question {int(question) + 1}")
    if child is not None:
        parts.append(f"its question {int(child) + 1}")
    if rest:
        field = re.split(r"[.\[]", rest, maxsplit=1)[0]
        parts.append(_FIELD_LABELS.get(field, field.replace("_", " ")))
    return " · ".join(parts)


def draft_problems(version: AssessmentVersion) -> dict[str, str]:
    """What stops ``version`` from being published, as {where: message}:
    exactly what the JSON import would reject (a section drawing more than
    its bank, a passage without questions, a missing rule…)."""
    document = assessment_export(version)
    errors = validate_document(document)
    titles = [s["title"] for s in document["sections"]]
    return {_problem_label(path, titles): message for path, message in errors.items()}


def draft_publish(*, actor, version: AssessmentVersion) -> AssessmentVersion:
    """Publish the draft if it is complete; otherwise refuse with every problem."""
    require_author(actor, version.assessment.brand)
    with transaction.atomic():
        # Held until the publish commits: no edit slips in after the check.
        version = _lock_draft(version, actor)
        problems = draft_problems(version)
        if problems:
            count = len(problems)
            raise ValidationFailed(
                f"The draft has {count} problem{'s' if count != 1 else ''} to fix before "
                "it can be published.",
                code="draft_incomplete",
                fields=problems,
            )
        return version_publish(version, actor)
