"""Language codes (ISO 639-1) and CEFR levels shared by profiles, gigs and tasks."""

from django.conf.locale import LANG_INFO
from django.db import models

# Django's locale table has Chinese only as zh-hans/zh-hant; support work is
# usually asked for as plain "zh".
_EXTRA_LANGUAGES = {"zh": "Chinese"}

LANGUAGE_CHOICES: list[tuple[str, str]] = sorted(
    [
        *(
            (code, info["name"])
            for code, info in LANG_INFO.items()
            if len(code) == 2 and "name" in info
        ),
        *_EXTRA_LANGUAGES.items(),
    ],
    key=lambda choice: choice[1],
)
LANGUAGE_NAMES = dict(LANGUAGE_CHOICES)


class CEFRLevel(models.TextChoices):
    # Stored as the level's own name: A1 < A2 < B1 < B2 < C1 < C2 also holds
    # as strings, so "at least B2" is a plain >= comparison in SQL.
    A1 = "A1", "A1 · Beginner"
    A2 = "A2", "A2 · Elementary"
    B1 = "B1", "B1 · Intermediate"
    B2 = "B2", "B2 · Upper intermediate"
    C1 = "C1", "C1 · Advanced"
    C2 = "C2", "C2 · Proficient"


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)
