"""Checks of the plain values QA services take; each refusal is a ValidationFailed
naming the field, raised before anything is written."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from marketplace.errors import ValidationFailed
from qa import scoring
from qa.models import ScorecardVersion

TEXT_MAX = 2000


def text_value(
    value, *, field_name: str, label: str, max_length: int, required: bool = False
) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{label} must be text.", fields={field_name: "Must be text."})
    value = value.strip()
    if required and not value:
        raise ValidationFailed(f"{label} is required.", fields={field_name: "Required."})
    if len(value) > max_length:
        message = f"At most {max_length} characters."
        raise ValidationFailed(f"{label}: {message.lower()}", fields={field_name: message})
    return value


def whole_number(value, *, field_name: str, label: str, low: int, high: int) -> int:
    # bool is an int subclass: a checkbox's True is not a weight.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(
            f"{label} must be a whole number.", fields={field_name: "A whole number."}
        )
    if not low <= value <= high:
        message = f"Between {low} and {high}."
        raise ValidationFailed(
            f"{label} must be between {low} and {high}.", fields={field_name: message}
        )
    return value


def decimal_number(value, *, field_name: str, label: str, places: int, low, high) -> Decimal:
    if isinstance(value, bool | float) or value is None:
        raise ValidationFailed(f"{label} must be a number.", fields={field_name: "A number."})
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationFailed(
            f"{label} must be a number.", fields={field_name: "A number."}
        ) from None
    if not number.is_finite() or not Decimal(low) <= number <= Decimal(high):
        message = f"Between {low} and {high}."
        raise ValidationFailed(
            f"{label} must be between {low} and {high}.", fields={field_name: message}
        )
    quantum = Decimal(1).scaleb(-places)
    if number != number.quantize(quantum):
        message = f"At most {places} decimal place{'s' if places != 1 else ''}."
        raise ValidationFailed(f"{label}: {message.lower()}", fields={field_name: message})
    return number.quantize(quantum)


def ratings_shape(ratings) -> dict[str, int | None]:
    """Ratings as the scoring functions take them; the values are checked there."""
    if not isinstance(ratings, Mapping) or not all(isinstance(key, str) for key in ratings):
        raise ValidationFailed("Ratings must map category keys to ratings.")
    return dict(ratings)


def checked_ratings(version: ScorecardVersion, ratings, *, partial: bool) -> dict[str, int | None]:
    ratings = ratings_shape(ratings)
    problems = scoring.validate_ratings(version.category_specs(), ratings, partial=partial)
    if problems:
        raise ValidationFailed(
            "Some ratings do not fit the scorecard.", code="ratings_invalid", fields=problems
        )
    return ratings


def cleaned_comments(version: ScorecardVersion, comments) -> dict[str, str]:
    if comments is None:
        return {}
    if not isinstance(comments, Mapping):
        raise ValidationFailed("Comments must map category keys to text.")
    keys = {c.key for c in version.categories.all()}
    cleaned, problems = {}, {}
    for key, text in comments.items():
        if key not in keys:
            problems[key] = "This category is not on the scorecard."
        elif text is not None and not isinstance(text, str):
            problems[key] = "Must be text."
        elif text and len(text.strip()) > TEXT_MAX:
            problems[key] = f"At most {TEXT_MAX} characters."
        elif text and text.strip():
            cleaned[key] = text.strip()
    if problems:
        raise ValidationFailed("Some comments cannot be saved.", fields=problems)
    return cleaned
