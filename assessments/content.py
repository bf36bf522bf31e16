"""The JSON format of an assessment: validation, import and export.

``assessment_import`` checks the whole document first and reports every
error with its path (``sections[2].questions[4].choices``) in one
``ValidationFailed``; nothing is written unless the document is valid.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import transaction

from assessments.models import (
    Assessment,
    AssessmentKind,
    AssessmentVersion,
    Choice,
    Question,
    QuestionType,
    Section,
    VersionStatus,
)
from assessments.permissions import require_author
from brands.models import Brand
from marketplace.audit import audit_record
from marketplace.errors import Conflict, ValidationFailed
from marketplace.languages import LANGUAGE_NAMES, CEFRLevel

CHILD_TYPES = (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE, QuestionType.SHORT_ANSWER)
MAX_TIME_LIMIT_MINUTES = 24 * 60
# Bounds the authoring form's rows too: a question the form can show whole is
# one it can edit without losing a choice or a criterion.
MAX_CHOICES = 8
MAX_RUBRIC_CRITERIA = 6


def content_hash(data: dict) -> str:
    """A stable hash of a document: same content, same hash, whatever the key order."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class _Errors:
    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        self.fields.setdefault(path, message)


def _text(errors: _Errors, data: dict, key: str, path: str, *, required: bool, max_length: int):
    value = data.get(key)
    where = f"{path}.{key}" if path else key
    if value is None or value == "":
        if required:
            errors.add(where, "This field is required.")
        return ""
    if not isinstance(value, str):
        errors.add(where, "Must be a string.")
        return ""
    if len(value) > max_length:
        errors.add(where, f"At most {max_length} characters.")
    return value.strip()


def _int(
    errors: _Errors,
    data: dict,
    key: str,
    path: str,
    *,
    minimum: int,
    maximum: int,
    required: bool = True,
    default: int | None = None,
) -> int | None:
    where = f"{path}.{key}" if path else key
    value = data.get(key, default)
    if value is None:
        if required:
            errors.add(where, "This field is required.")
        return None
    # bool is an int to Python; true is not a number of points.
    if not isinstance(value, int) or isinstance(value, bool):
        errors.add(where, "Must be a whole number.")
        return None
    if not minimum <= value <= maximum:
        errors.add(where, f"Must be between {minimum} and {maximum}.")
        return None
    return value


def _validate_choices(errors: _Errors, item: dict, path: str, *, single: bool) -> None:
    choices = item.get("choices")
    where = f"{path}.choices"
    if not isinstance(choices, list) or len(choices) < 2:
        errors.add(where, "At least two choices are required.")
        return
    if len(choices) > MAX_CHOICES:
        errors.add(where, f"At most {MAX_CHOICES} choices.")
        return
    correct = 0
    for index, choice in enumerate(choices):
        cpath = f"{where}[{index}]"
        if not isinstance(choice, dict):
            errors.add(cpath, "Must be an object with text and correct.")
            continue
        _text(errors, choice, "text", cpath, required=True, max_length=500)
        if not isinstance(choice.get("correct"), bool):
            errors.add(f"{cpath}.correct", "Must be true or false.")
        elif choice["correct"]:
            correct += 1
    if single and correct != 1:
        errors.add(where, "A single-choice question needs exactly one correct choice.")
    elif not single and correct < 1:
        errors.add(where, "A multiple-choice question needs at least one correct choice.")


def _validate_item(errors: _Errors, item: Any, path: str, *, child: bool) -> int:
    """Validate one question; returns its points (0 when invalid)."""
    if not isinstance(item, dict):
        errors.add(path, "Must be an object.")
        return 0
    allowed = CHILD_TYPES if child else QuestionType.values
    qtype = item.get("type")
    if qtype not in allowed:
        errors.add(f"{path}.type", f"Must be one of: {', '.join(allowed)}.")
        return 0
    level = item.get("level")
    if level not in (None, "") and level not in CEFRLevel.values:
        errors.add(f"{path}.level", f"Must be a CEFR level ({', '.join(CEFRLevel.values)}).")
    if qtype == QuestionType.READING:
        _text(errors, item, "passage", path, required=True, max_length=20000)
        children = item.get("questions")
        if not isinstance(children, list) or not children:
            errors.add(f"{path}.questions", "A reading item needs at least one question.")
            return 0
        before = len(errors.fields)
        total = sum(
            _validate_item(errors, c, f"{path}.questions[{i}]", child=True)
            for i, c in enumerate(children)
        )
        points = item.get("points")
        # Only meaningful when every child is valid (an invalid one counts 0).
        if len(errors.fields) == before and points not in (None, 0, total):
            errors.add(f"{path}.points", f"Must be the sum of its questions' points ({total}).")
        return total
    _text(errors, item, "prompt", path, required=True, max_length=5000)
    if qtype == QuestionType.WRITTEN:
        rubric = item.get("rubric")
        if not isinstance(rubric, list) or not rubric:
            errors.add(
                f"{path}.rubric", "A written item needs a rubric with at least one criterion."
            )
            return 0
        if len(rubric) > MAX_RUBRIC_CRITERIA:
            errors.add(f"{path}.rubric", f"At most {MAX_RUBRIC_CRITERIA} criteria.")
            return 0
        total, names = 0, set()
        for index, criterion in enumerate(rubric):
            cpath = f"{path}.rubric[{index}]"
            if not isinstance(criterion, dict):
                errors.add(cpath, "Must be an object with criterion and max_points.")
                continue
            name = _text(errors, criterion, "criterion", cpath, required=True, max_length=120)
            if name in names:
                errors.add(f"{cpath}.criterion", "Each criterion needs its own name.")
            names.add(name)
            _text(errors, criterion, "description", cpath, required=False, max_length=2000)
            total += _int(errors, criterion, "max_points", cpath, minimum=1, maximum=1000) or 0
        if item.get("points") is not None and item.get("points") != total:
            errors.add(f"{path}.points", f"Must be the sum of the rubric's max_points ({total}).")
        return total
    points = _int(errors, item, "points", path, minimum=1, maximum=1000) or 0
    if qtype == QuestionType.SHORT_ANSWER:
        accepted = item.get("accepted_answers")
        if (
            not isinstance(accepted, list)
            or not accepted
            or not all(isinstance(a, str) and a.strip() for a in accepted)
        ):
            errors.add(f"{path}.accepted_answers", "Give at least one accepted answer (text).")
    else:
        _validate_choices(errors, item, path, single=qtype == QuestionType.SINGLE_CHOICE)
    return points


def validate_document(data: Any) -> dict[str, str]:
    """Every error in ``data``, as {path: message}; empty when it is valid."""
    errors = _Errors()
    if not isinstance(data, dict):
        return {"": "An assessment must be a JSON object."}
    _text(errors, data, "slug", "", required=True, max_length=80)
    slug = data.get("slug")
    if isinstance(slug, str) and slug and not all(c.isalnum() or c in "-_" for c in slug):
        errors.add("slug", "Use letters, digits, hyphens and underscores only.")
    _text(errors, data, "title", "", required=True, max_length=160)
    _text(errors, data, "description", "", required=False, max_length=5000)
    kind = data.get("kind")
    if kind not in AssessmentKind.values:
        errors.add("kind", f"Must be one of: {', '.join(AssessmentKind.values)}.")
    if data.get("brand") is not None and not isinstance(data.get("brand"), str):
        errors.add("brand", "Must be a brand slug or null.")
    _int(errors, data, "time_limit_minutes", "", minimum=1, maximum=MAX_TIME_LIMIT_MINUTES)
    _int(errors, data, "cooldown_days", "", minimum=0, maximum=365, default=14)
    _int(errors, data, "max_attempts", "", minimum=1, maximum=100, default=3)
    _int(errors, data, "validity_months", "", minimum=1, maximum=120, default=12)
    if kind == AssessmentKind.LANGUAGE:
        if data.get("language") not in LANGUAGE_NAMES:
            errors.add("language", "Must be a known language code (for example es).")
        if data.get("pass_mark") is not None:
            errors.add("pass_mark", "A language assessment uses level_bands, not a pass mark.")
        bands = data.get("level_bands")
        if not isinstance(bands, list) or not bands:
            errors.add("level_bands", "A language assessment needs at least one level band.")
        else:
            previous_level, previous_score = "", -1
            for index, band in enumerate(bands):
                bpath = f"level_bands[{index}]"
                if not isinstance(band, dict):
                    errors.add(bpath, "Must be an object with level and min_score.")
                    continue
                level = band.get("level")
                score = _int(errors, band, "min_score", bpath, minimum=0, maximum=100)
                if level not in CEFRLevel.values:
                    errors.add(f"{bpath}.level", "Must be a CEFR level (A1 to C2).")
                elif level <= previous_level:
                    errors.add(f"{bpath}.level", "Levels must be in ascending order.")
                else:
                    previous_level = level
                if score is not None:
                    if score <= previous_score:
                        errors.add(f"{bpath}.min_score", "Scores must be in ascending order.")
                    previous_score = max(previous_score, score)
    elif kind == AssessmentKind.KNOWLEDGE:
        _text(errors, data, "domain", "", required=True, max_length=80)
        _int(errors, data, "pass_mark", "", minimum=1, maximum=100)
        if data.get("level_bands"):
            errors.add("level_bands", "A knowledge assessment uses a pass mark, not level bands.")
        if data.get("language") not in (None, ""):
            errors.add("language", "Only a language assessment has a language.")
    sections = data.get("sections")
    if not isinstance(sections, list) or not sections:
        errors.add("sections", "At least one section is required.")
        sections = []
    for index, section in enumerate(sections):
        spath = f"sections[{index}]"
        if not isinstance(section, dict):
            errors.add(spath, "Must be an object.")
            continue
        _text(errors, section, "title", spath, required=True, max_length=160)
        _text(errors, section, "instructions", spath, required=False, max_length=5000)
        items = section.get("questions")
        if not isinstance(items, list) or not items:
            errors.add(f"{spath}.questions", "A section needs at least one question.")
            items = []
        for qindex, item in enumerate(items):
            _validate_item(errors, item, f"{spath}.questions[{qindex}]", child=False)
        draw = _int(errors, section, "draw", spath, minimum=1, maximum=1000)
        if draw is not None and items and draw > len(items):
            errors.add(
                f"{spath}.draw",
                f"Cannot draw {draw} questions from a bank of {len(items)}.",
            )
    return errors.fields


def _create_question(section: Section, item: dict, order: int, parent: Question | None = None):
    qtype = item["type"]
    if qtype == QuestionType.WRITTEN:
        points = sum(c["max_points"] for c in item["rubric"])
    elif qtype == QuestionType.READING:
        points = sum(c["points"] for c in item["questions"])
    else:
        points = item["points"]
    question = Question.objects.create(
        section=section,
        parent=parent,
        order=order,
        type=qtype,
        prompt=(item.get("prompt") or "").strip(),
        passage=(item.get("passage") or "").strip(),
        points=points,
        level=item.get("level") or "",
        rubric=[
            {
                "criterion": c["criterion"].strip(),
                "max_points": c["max_points"],
                "description": (c.get("description") or "").strip(),
            }
            for c in item.get("rubric") or []
        ],
        accepted_answers=[a.strip() for a in item.get("accepted_answers") or []],
    )
    Choice.objects.bulk_create(
        Choice(question=question, order=i, text=c["text"].strip(), correct=c["correct"])
        for i, c in enumerate(item.get("choices") or [])
    )
    for i, child in enumerate(item.get("questions") or []):
        _create_question(section, child, i, parent=question)


def _fill_version(version: AssessmentVersion, data: dict) -> None:
    """Write ``data``'s rules and questions into an empty draft ``version``."""
    version.time_limit_seconds = data["time_limit_minutes"] * 60
    version.cooldown_days = data.get("cooldown_days", 14)
    version.max_attempts = data.get("max_attempts", 3)
    version.validity_months = data.get("validity_months", 12)
    version.pass_mark = data.get("pass_mark") if data["kind"] == AssessmentKind.KNOWLEDGE else None
    version.level_bands = (
        [{"level": b["level"], "min_score": b["min_score"]} for b in data["level_bands"]]
        if data["kind"] == AssessmentKind.LANGUAGE
        else []
    )
    version.content_hash = content_hash(data)
    version.save()
    for order, section_data in enumerate(data["sections"]):
        section = Section.objects.create(
            version=version,
            title=section_data["title"].strip(),
            instructions=(section_data.get("instructions") or "").strip(),
            order=order,
            draw=section_data["draw"],
        )
        for qorder, item in enumerate(section_data["questions"]):
            _create_question(section, item, qorder)


def assessment_import(data: dict, *, actor, brand: Brand | None = None) -> AssessmentVersion:
    """Import one assessment document as a draft version and return it.

    A new slug creates the assessment and its version 1. A known slug (owned
    by the same brand, or the platform) replaces the content of its current
    draft, or starts a new draft when every version is published: published
    versions never change. ``brand`` is the owner; the document's ``brand``
    must be null or that brand's slug. ``actor`` must be platform staff (for
    platform assessments) or an admin of ``brand``; None is the system (the
    ``load_assessments`` command).
    """
    fields = validate_document(data)
    if (
        not fields
        and data.get("brand") is not None
        and (brand is None or brand.slug != data["brand"])
    ):
        fields["brand"] = "The document names a brand other than the one importing it."
    if fields:
        count = len(fields)
        raise ValidationFailed(
            f"The assessment has {count} error{'s' if count != 1 else ''}; nothing was imported.",
            fields=fields,
        )
    require_author(actor, brand)
    with transaction.atomic():
        assessment = Assessment.objects.select_for_update().filter(slug=data["slug"]).first()
        if assessment is None:
            assessment = Assessment.objects.create(
                slug=data["slug"],
                title=data["title"].strip(),
                kind=data["kind"],
                language=data.get("language") or "",
                domain=(data.get("domain") or "").strip(),
                description=(data.get("description") or "").strip(),
                brand=brand,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
        else:
            if assessment.brand_id != (brand.pk if brand else None):
                # Same answer as for a slug that is free to everyone but its owner.
                raise Conflict(
                    f"The slug {data['slug']!r} is already used by another assessment.",
                    code="slug_taken",
                )
            if assessment.kind != data["kind"] or assessment.language != (
                data.get("language") or ""
            ):
                raise ValidationFailed(
                    "An assessment's kind and language cannot change; import it under a new slug.",
                    fields={"kind": "Differs from the existing assessment."},
                )
            assessment.title = data["title"].strip()
            assessment.domain = (data.get("domain") or "").strip()
            assessment.description = (data.get("description") or "").strip()
            assessment.save(update_fields=["title", "domain", "description"])
        draft = assessment.versions.filter(status=VersionStatus.DRAFT).first()
        if draft is not None:
            draft.sections.all().delete()
        else:
            latest = assessment.versions.order_by("-number").values_list("number", flat=True)
            draft = AssessmentVersion(
                assessment=assessment,
                number=(latest.first() or 0) + 1,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
        _fill_version(draft, data)
        audit_record(
            actor=actor,
            action="assessment.imported",
            target=draft,
            brand=brand,
            changes={"slug": assessment.slug, "version": draft.number},
        )
    return draft


def _export_question(question: Question, children: dict[int, list[Question]]) -> dict:
    item: dict[str, Any] = {"type": question.type}
    if question.type == QuestionType.READING:
        item["passage"] = question.passage
        item["points"] = question.points
        item["questions"] = [_export_question(c, children) for c in children.get(question.pk, [])]
        if question.level:
            item["level"] = question.level
        return item
    item["prompt"] = question.prompt
    item["points"] = question.points
    if question.level:
        item["level"] = question.level
    if question.type == QuestionType.WRITTEN:
        item["rubric"] = question.rubric
    elif question.type == QuestionType.SHORT_ANSWER:
        item["accepted_answers"] = question.accepted_answers
    else:
        item["choices"] = [{"text": c.text, "correct": c.correct} for c in question.choices.all()]
    return item


def assessment_export(version: AssessmentVersion) -> dict:
    """The document for ``version``, in the import format (answer key included:
    for authors only, never for agents)."""
    assessment = version.assessment
    data: dict[str, Any] = {
        "slug": assessment.slug,
        "title": assessment.title,
        "kind": assessment.kind,
        "brand": assessment.brand.slug if assessment.brand_id else None,
        "description": assessment.description,
        "time_limit_minutes": version.time_limit_seconds // 60,
        "cooldown_days": version.cooldown_days,
        "max_attempts": version.max_attempts,
        "validity_months": version.validity_months,
    }
    if assessment.kind == AssessmentKind.LANGUAGE:
        data["language"] = assessment.language
        data["level_bands"] = version.level_bands
    else:
        data["domain"] = assessment.domain
        data["pass_mark"] = version.pass_mark
    questions = list(Question.objects.filter(section__version=version).prefetch_related("choices"))
    children: dict[int, list[Question]] = {}
    top: dict[int, list[Question]] = {}
    for q in sorted(questions, key=lambda q: q.order):
        if q.parent_id:
            children.setdefault(q.parent_id, []).append(q)
        else:
            top.setdefault(q.section_id, []).append(q)
    data["sections"] = [
        {
            "title": s.title,
            "instructions": s.instructions,
            "draw": s.draw,
            "questions": [_export_question(q, children) for q in top.get(s.pk, [])],
        }
        for s in version.sections.order_by("order")
    ]
    return data
