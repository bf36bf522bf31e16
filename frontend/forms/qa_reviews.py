"""Reading a scorecard form: per category a radio (a rating or "na"), a comment,
and an overall comment, as posted by the review page, the dispute form and the
dispute decision form.

The scorecard varies per review, so the fields are built from its categories
instead of a fixed Django form. Values are only converted here; whether they
fit the scale is the QA services' call (``qa.scoring.validate_ratings``), so a
rating the page did not offer is refused with the same message as anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from qa.models import ScorecardCategory
from qa.scoring import scale_bounds

NA = "na"


def rating_field(key: str) -> str:
    return f"rating-{key}"


def comment_field(key: str) -> str:
    return f"comment-{key}"


def rating_choices(category: ScorecardCategory) -> list[tuple[str, str]]:
    """(value, label) for each radio: Yes/No or the scale's numbers, then N/A if allowed."""
    if category.scale == "binary":
        choices = [("1", "Yes"), ("0", "No")]
    else:
        low, high = scale_bounds(category.scale)
        choices = [(str(number), str(number)) for number in range(low, high + 1)]
    if category.allow_na:
        choices.append((NA, "N/A"))
    return choices


def rating_text(category: ScorecardCategory, rating) -> str:
    """A stored rating as the page shows it."""
    if rating is None:
        return "N/A"
    if category.scale == "binary":
        return {1: "Yes", 0: "No"}.get(rating, str(rating))
    _, high = scale_bounds(category.scale)
    return f"{rating} of {high}"


def _rating_value(raw: str):
    """ "na" → None (N/A); a whole number → int; anything else is passed on as
    text so the service names the problem."""
    raw = raw.strip()
    if raw == NA:
        return None
    try:
        return int(raw)
    except ValueError:
        return raw


@dataclass
class ScorecardInput:
    ratings: dict[str, int | None | str] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    overall_comment: str = ""


def scorecard_input(
    data: Mapping[str, str], categories: Iterable[ScorecardCategory]
) -> ScorecardInput:
    """Ratings of the categories that were answered (absent: not rated yet),
    their non-empty comments and the overall comment."""
    read = ScorecardInput(overall_comment=data.get("overall_comment", ""))
    for category in categories:
        raw = data.get(rating_field(category.key), "")
        if raw.strip():
            read.ratings[category.key] = _rating_value(raw)
        comment = data.get(comment_field(category.key), "")
        if comment.strip():
            read.comments[category.key] = comment
    return read


@dataclass(frozen=True)
class CategoryRow:
    """One category as a form shows it: its choices, the value checked, its comment,
    its error and (on the review page) its AutoQA suggestions."""

    category: ScorecardCategory
    choices: list[tuple[str, str]]
    checked: str
    comment: str
    error: str
    findings: tuple = ()

    @property
    def field_name(self) -> str:
        return rating_field(self.category.key)

    @property
    def comment_name(self) -> str:
        return comment_field(self.category.key)


def _checked(ratings: Mapping, key: str) -> str:
    if key not in ratings:
        return ""
    value = ratings[key]
    return NA if value is None else str(value)


def category_rows(
    categories: Iterable[ScorecardCategory],
    *,
    ratings: Mapping,
    comments: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    findings: Mapping[str, list] | None = None,
) -> list[CategoryRow]:
    comments, errors, findings = comments or {}, errors or {}, findings or {}
    return [
        CategoryRow(
            category=category,
            choices=rating_choices(category),
            checked=_checked(ratings, category.key),
            comment=comments.get(category.key, ""),
            error=errors.get(category.key, ""),
            findings=tuple(findings.get(category.key, ())),
        )
        for category in categories
    ]
