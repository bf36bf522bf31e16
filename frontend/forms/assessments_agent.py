"""Reading an agent's posted answer into the shape ``answer_save`` expects.

The take page posts every question's answer as ``response`` values: one choice
id for single choice, any number of ids for multiple choice, text otherwise.
Whether the ids belong to the question is the service's check, not ours.
"""

from __future__ import annotations

from django.http import QueryDict

from assessments.models import QuestionType
from marketplace.errors import ValidationFailed


def _choice_id(value: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationFailed("Choose one of the options shown.") from None


def response_from_post(question_type: str, data: QueryDict):
    values = data.getlist("response")
    if question_type == QuestionType.SINGLE_CHOICE:
        return _choice_id(values[0]) if values and values[0] != "" else None
    if question_type == QuestionType.MULTIPLE_CHOICE:
        return [_choice_id(value) for value in values if value != ""]
    return values[0] if values else ""
