"""Forms of the assessment authoring and grading pages.

They parse what an author or grader typed into the shapes the services take
(``assessments.authoring``, ``content.assessment_import``,
``services.answer_grade``); the services decide and may still refuse, and
``add_service_errors`` puts each refusal next to its field.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms

from assessments.content import MAX_CHOICES, MAX_RUBRIC_CRITERIA, MAX_TIME_LIMIT_MINUTES
from assessments.models import Assessment, AssessmentKind, Question, QuestionType
from frontend.forms.gigs import add_service_errors
from marketplace.errors import ValidationFailed
from marketplace.languages import LANGUAGE_CHOICES, CEFRLevel

CHOICE_SLOTS = MAX_CHOICES
RUBRIC_SLOTS = MAX_RUBRIC_CRITERIA
MAX_IMPORT_BYTES = 2 * 1024 * 1024
LEVEL_CHOICES = [("", "No level"), *CEFRLevel.choices]


class AssessmentCreateForm(forms.Form):
    kind = forms.ChoiceField(
        choices=AssessmentKind.choices,
        widget=forms.RadioSelect,
        initial=AssessmentKind.KNOWLEDGE,
        help_text="A language assessment places agents on a CEFR level; a knowledge one "
        "has a pass mark.",
    )
    title = forms.CharField(max_length=160)
    slug = forms.SlugField(
        max_length=80,
        help_text="Its permanent name in links, JSON files and requirements, like "
        "returns-policy. It cannot change later.",
    )
    language = forms.ChoiceField(
        choices=[("", "Choose…"), *LANGUAGE_CHOICES],
        required=False,
        help_text="Language assessments only: the language it tests.",
    )
    domain = forms.CharField(
        max_length=80,
        required=False,
        help_text="Knowledge assessments only: the subject, like customer-support.",
    )
    description = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def add_service_errors(self, exc: ValidationFailed) -> None:
        add_service_errors(self, exc)


class SettingsForm(forms.Form):
    title = forms.CharField(max_length=160)
    description = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )
    domain = forms.CharField(max_length=80, required=False)
    time_limit_minutes = forms.IntegerField(
        label="Time limit (minutes)", min_value=1, max_value=MAX_TIME_LIMIT_MINUTES
    )
    cooldown_days = forms.IntegerField(
        label="Cooldown after a fail (days)", min_value=0, max_value=365
    )
    max_attempts = forms.IntegerField(label="Attempts per year", min_value=1, max_value=100)
    validity_months = forms.IntegerField(
        label="Certification valid for (months)", min_value=1, max_value=120
    )
    pass_mark = forms.IntegerField(
        label="Pass mark (%)", min_value=1, max_value=100, required=False
    )

    def __init__(self, *args, assessment: Assessment, **kwargs):
        super().__init__(*args, **kwargs)
        self.is_language = assessment.kind == AssessmentKind.LANGUAGE
        if self.is_language:
            del self.fields["domain"], self.fields["pass_mark"]
            for level in CEFRLevel.values:
                self.fields[f"band_{level}"] = forms.IntegerField(
                    label=level, min_value=0, max_value=100, required=False
                )
        else:
            self.fields["domain"].required = True
            self.fields["pass_mark"].required = True

    @classmethod
    def initial_for(cls, version) -> dict[str, Any]:
        assessment = version.assessment
        initial = {
            "title": assessment.title,
            "description": assessment.description,
            "domain": assessment.domain,
            "time_limit_minutes": version.time_limit_seconds // 60,
            "cooldown_days": version.cooldown_days,
            "max_attempts": version.max_attempts,
            "validity_months": version.validity_months,
            "pass_mark": version.pass_mark,
        }
        for band in version.level_bands:
            initial[f"band_{band['level']}"] = band["min_score"]
        return initial

    @property
    def band_fields(self) -> list:
        return [self[f"band_{level}"] for level in CEFRLevel.values] if self.is_language else []

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        kwargs = {
            name: data.get(name)
            for name in (
                "title",
                "description",
                "time_limit_minutes",
                "cooldown_days",
                "max_attempts",
                "validity_months",
            )
        }
        kwargs["domain"] = data.get("domain") or ""
        kwargs["pass_mark"] = data.get("pass_mark")
        # A blank level is one the assessment does not award.
        kwargs["level_bands"] = [
            {"level": level, "min_score": data[f"band_{level}"]}
            for level in CEFRLevel.values
            if data.get(f"band_{level}") is not None
        ]
        return kwargs

    def add_service_errors(self, exc: ValidationFailed) -> None:
        add_service_errors(self, exc)


class SectionForm(forms.Form):
    title = forms.CharField(max_length=160)
    instructions = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
    draw = forms.IntegerField(
        label="Questions drawn per attempt",
        min_value=1,
        max_value=1000,
        initial=1,
        help_text="Each attempt shows this many questions picked at random from the "
        "section's bank; publishing needs at least as many in the bank.",
    )

    def add_service_errors(self, exc: ValidationFailed) -> None:
        add_service_errors(self, exc)


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


class QuestionForm(forms.Form):
    """One bank item of a given type. Choices and rubric criteria come in a
    fixed number of rows; blank rows are ignored."""

    prompt = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))
    passage = forms.CharField(
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Agents read it, then answer the questions you add to it.",
    )
    points = forms.IntegerField(min_value=1, max_value=1000, initial=1)
    level = forms.ChoiceField(
        choices=LEVEL_CHOICES,
        required=False,
        help_text="The CEFR level the item targets, for your own reference.",
    )
    accepted_answers = forms.CharField(
        label="Accepted answers",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line. Case, spacing and accents are ignored when comparing.",
    )

    def __init__(self, *args, question_type: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.question_type = question_type
        self.group_errors: dict[str, list[str]] = {"choices": [], "rubric": []}
        is_reading = question_type == QuestionType.READING
        if is_reading:
            del self.fields["prompt"], self.fields["points"]
        else:
            del self.fields["passage"]
        if question_type == QuestionType.WRITTEN:
            # A written item scores the sum of its rubric.
            del self.fields["points"]
        if question_type != QuestionType.SHORT_ANSWER:
            del self.fields["accepted_answers"]
        if self.has_choices:
            for index in range(CHOICE_SLOTS):
                self.fields[f"choice_text_{index}"] = forms.CharField(
                    label=f"Choice {index + 1}", max_length=500, required=False
                )
                self.fields[f"choice_correct_{index}"] = forms.BooleanField(
                    label="Correct", required=False
                )
        if self.has_rubric:
            for index in range(RUBRIC_SLOTS):
                self.fields[f"criterion_{index}"] = forms.CharField(
                    label=f"Criterion {index + 1}", max_length=120, required=False
                )
                self.fields[f"max_points_{index}"] = forms.IntegerField(
                    label="Max points", min_value=1, max_value=1000, required=False
                )
                self.fields[f"description_{index}"] = forms.CharField(
                    label="What earns the points", max_length=2000, required=False
                )

    @property
    def has_choices(self) -> bool:
        return self.question_type in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE)

    @property
    def has_rubric(self) -> bool:
        return self.question_type == QuestionType.WRITTEN

    @property
    def type_label(self) -> str:
        return QuestionType(self.question_type).label

    @property
    def choice_rows(self) -> list[tuple]:
        return [
            (self[f"choice_text_{i}"], self[f"choice_correct_{i}"]) for i in range(CHOICE_SLOTS)
        ]

    @property
    def rubric_rows(self) -> list[tuple]:
        return [
            (self[f"criterion_{i}"], self[f"max_points_{i}"], self[f"description_{i}"])
            for i in range(RUBRIC_SLOTS)
        ]

    @classmethod
    def initial_for(cls, question: Question) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "prompt": question.prompt,
            "passage": question.passage,
            "points": question.points,
            "level": question.level,
            "accepted_answers": "\n".join(question.accepted_answers),
        }
        for index, choice in enumerate(question.choices.all()[:CHOICE_SLOTS]):
            initial[f"choice_text_{index}"] = choice.text
            initial[f"choice_correct_{index}"] = choice.correct
        for index, criterion in enumerate(question.rubric[:RUBRIC_SLOTS]):
            initial[f"criterion_{index}"] = criterion["criterion"]
            initial[f"max_points_{index}"] = criterion["max_points"]
            initial[f"description_{index}"] = criterion.get("description", "")
        return initial

    def item(self) -> dict[str, Any]:
        """The question in the JSON format ``assessments.authoring`` takes."""
        data = self.cleaned_data
        item: dict[str, Any] = {"type": self.question_type, "level": data.get("level") or ""}
        for name in ("prompt", "passage", "points"):
            if name in data:
                item[name] = data[name]
        if "accepted_answers" in data:
            item["accepted_answers"] = _lines(data["accepted_answers"])
        if self.has_choices:
            item["choices"] = [
                {"text": data[f"choice_text_{i}"], "correct": data[f"choice_correct_{i}"]}
                for i in range(CHOICE_SLOTS)
                if data[f"choice_text_{i}"].strip()
            ]
        if self.has_rubric:
            item["rubric"] = [
                {
                    "criterion": data[f"criterion_{i}"],
                    "max_points": data[f"max_points_{i}"],
                    "description": data[f"description_{i}"],
                }
                for i in range(RUBRIC_SLOTS)
                if data[f"criterion_{i}"].strip() or data[f"max_points_{i}"] is not None
            ]
        return item

    def add_service_errors(self, exc: ValidationFailed) -> None:
        if not exc.fields:
            self.add_error(None, exc.message)
            return
        for path, message in exc.fields.items():
            head = re.split(r"[.\[]", path, maxsplit=1)[0]
            if head in self.group_errors:
                self.group_errors[head].append(message)
            elif head in self.fields:
                self.add_error(head, message)
            else:
                self.add_error(None, message)


class ImportForm(forms.Form):
    file = forms.FileField(
        label="JSON file",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}),
    )
    text = forms.CharField(
        label="Or paste the JSON",
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
    )

    def clean(self):
        cleaned = super().clean()
        upload, text = cleaned.get("file"), (cleaned.get("text") or "").strip()
        if upload and text:
            raise forms.ValidationError("Upload a file or paste JSON, not both.")
        if not upload and not text:
            raise forms.ValidationError("Upload a .json file or paste the JSON.")
        if upload:
            if upload.size > MAX_IMPORT_BYTES:
                raise forms.ValidationError("The file is larger than 2 MB.")
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError("The file is not UTF-8 text.") from None
        try:
            cleaned["document"] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"This is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from None
        return cleaned


class GradeForm(forms.Form):
    """Points per rubric criterion and a comment the agent reads."""

    comment = forms.CharField(
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="The agent sees it with their result.",
    )

    def __init__(self, *args, rubric: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.rubric = rubric
        comment = self.fields.pop("comment")
        for index, criterion in enumerate(rubric):
            self.fields[f"score_{index}"] = forms.IntegerField(
                label=f"{criterion['criterion']} (0–{criterion['max_points']})",
                min_value=0,
                max_value=criterion["max_points"],
                error_messages={"required": "Give points for this criterion."},
            )
        self.fields["comment"] = comment

    @property
    def criterion_rows(self) -> list[tuple]:
        return [(criterion, self[f"score_{i}"]) for i, criterion in enumerate(self.rubric)]

    def scores(self) -> dict[str, int]:
        return {
            criterion["criterion"]: self.cleaned_data[f"score_{i}"]
            for i, criterion in enumerate(self.rubric)
        }

    def add_service_errors(self, exc: ValidationFailed) -> None:
        names = {c["criterion"]: f"score_{i}" for i, c in enumerate(self.rubric)}
        add_service_errors(self, exc, names)
