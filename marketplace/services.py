"""Writes for users and agent profiles."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import time
from functools import cache

from django.db import transaction
from django.utils.text import slugify
from django_countries import countries

from gigs import live
from marketplace.errors import PermissionDenied, ValidationFailed
from marketplace.languages import LANGUAGE_NAMES, CEFRLevel
from marketplace.models import (
    AccountType,
    AgentLanguage,
    AgentProfile,
    AvailabilitySlot,
    Skill,
    User,
    Weekday,
)

AGENT_MAX_SKILLS = 30
SKILL_NAME_MAX_LENGTH = 40
AGENT_MAX_LANGUAGES = 20
AGENT_MAX_AVAILABILITY_SLOTS = 42
DISPLAY_NAME_MAX_LENGTH = AgentProfile._meta.get_field("display_name").max_length
BIO_MAX_LENGTH = AgentProfile._meta.get_field("bio").max_length


@transaction.atomic
def user_complete_signup(*, user: User, full_name: str, account_type: str) -> User:
    user.full_name = full_name.strip()
    user.account_type = account_type
    user.save(update_fields=["full_name", "account_type"])
    if account_type == AccountType.AGENT:
        agent_profile_ensure(user=user)
    return user


def agent_profile_ensure(*, user: User) -> AgentProfile:
    profile, _ = AgentProfile.objects.get_or_create(
        user=user, defaults={"display_name": user.full_name or user.email.split("@")[0]}
    )
    return profile


@cache
def agent_time_zones() -> tuple[str, ...]:
    """The IANA zones an agent may pick, sorted.

    ``localtime`` (whatever the server is set to) and ``Factory`` (a
    placeholder zone) are in the tz database but mean nothing for a person.
    """
    return tuple(sorted(zoneinfo.available_timezones() - {"localtime", "Factory"}))


@dataclass(frozen=True)
class LanguageInput:
    language: str
    level: str

    @property
    def label(self) -> str:
        return LANGUAGE_NAMES.get(self.language, self.language)


@dataclass(frozen=True)
class AvailabilityInput:
    """A weekly slot in the agent's own time zone; ``ends_at`` is on the same day."""

    weekday: int
    starts_at: time
    ends_at: time

    @property
    def label(self) -> str:
        return f"{Weekday(self.weekday).label} {self.starts_at:%H:%M}–{self.ends_at:%H:%M}"


def skill_names_parse(raw: str) -> list[str]:
    """Split "add new skills" input (comma separated) into clean, distinct names.

    Raises ValidationFailed naming every unusable entry at once, so the
    person fixes them in one go.
    """
    names: list[str] = []
    seen: set[str] = set()
    problems: list[str] = []
    for part in raw.split(","):
        name = " ".join(part.split())
        if not name:
            continue
        if len(name) > SKILL_NAME_MAX_LENGTH:
            problems.append(
                f"“{name[:SKILL_NAME_MAX_LENGTH]}…” is longer than "
                f"{SKILL_NAME_MAX_LENGTH} characters."
            )
            continue
        slug = slugify(name)
        if not slug:
            problems.append(f"“{name}” needs at least one letter or digit.")
            continue
        if slug not in seen:
            seen.add(slug)
            names.append(name)
    if problems:
        raise ValidationFailed(" ".join(problems), fields={"new_skills": problems})
    return names


def language_duplicates(languages: Sequence[LanguageInput]) -> list[int]:
    """Indexes of rows repeating a language listed in an earlier row."""
    seen: set[str] = set()
    duplicates = []
    for index, row in enumerate(languages):
        if row.language in seen:
            duplicates.append(index)
        seen.add(row.language)
    return duplicates


def availability_overlaps(slots: Sequence[AvailabilityInput]) -> list[tuple[int, int]]:
    """``(earlier, later)`` index pairs of slots that overlap on the same weekday.

    Slots that only touch (one ends at 12:00, the next starts at 12:00) do
    not overlap.
    """
    pairs = []
    for later, slot in enumerate(slots):
        for earlier in range(later):
            other = slots[earlier]
            if (
                other.weekday == slot.weekday
                and slot.starts_at < other.ends_at
                and other.starts_at < slot.ends_at
            ):
                pairs.append((earlier, later))
                break
    return pairs


def _agent_profile_errors(
    *,
    display_name: str,
    country: str,
    time_zone: str,
    bio: str,
    languages: Sequence[LanguageInput],
    availability: Sequence[AvailabilityInput],
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not display_name:
        add("display_name", "Enter the name brands and customers will see.")
    elif len(display_name) > DISPLAY_NAME_MAX_LENGTH:
        add("display_name", f"Keep the display name to {DISPLAY_NAME_MAX_LENGTH} characters.")
    if country and country not in countries:
        add("country", f"“{country}” is not a country code we know.")
    if time_zone not in agent_time_zones():
        add("time_zone", f"“{time_zone}” is not a time zone we know (for example Europe/Madrid).")
    if len(bio) > BIO_MAX_LENGTH:
        add("bio", f"Keep the bio to {BIO_MAX_LENGTH} characters.")

    if len(languages) > AGENT_MAX_LANGUAGES:
        add("languages", f"List at most {AGENT_MAX_LANGUAGES} languages.")
    for row in languages:
        if row.language not in LANGUAGE_NAMES:
            add("languages", f"“{row.language}” is not a language code we know.")
        if row.level not in CEFRLevel.values:
            add("languages", f"Choose a level from A1 to C2 for {row.label}.")
    for index in language_duplicates(languages):
        add("languages", f"{languages[index].label} is listed twice; keep one row per language.")

    if len(availability) > AGENT_MAX_AVAILABILITY_SLOTS:
        add("availability", f"List at most {AGENT_MAX_AVAILABILITY_SLOTS} availability slots.")
    for slot in availability:
        if slot.weekday not in Weekday.values:
            add("availability", f"“{slot.weekday}” is not a day of the week.")
        elif slot.ends_at <= slot.starts_at:
            add("availability", f"{slot.label}: the end must be after the start.")
    for earlier, later in availability_overlaps(availability):
        add(
            "availability",
            f"{availability[later].label} overlaps {availability[earlier].label}.",
        )
    return errors


@transaction.atomic
def agent_profile_update(
    *,
    user: User,
    display_name: str,
    country: str,
    time_zone: str,
    bio: str,
    skill_ids: Iterable[int],
    new_skill_names: Iterable[str],
    languages: Sequence[LanguageInput],
    availability: Sequence[AvailabilityInput],
) -> AgentProfile:
    """Replace an agent's whole profile: details, skills, languages and weekly slots.

    New skill names become ``Skill`` rows (matched by slug, so "Live chat"
    and "live-chat" are one skill). Every rule is checked before anything is
    written; on any problem ValidationFailed says what, and nothing changes.
    """
    if not user.is_agent:
        raise PermissionDenied("Only agent accounts have an agent profile.")

    display_name = " ".join(display_name.split())
    bio = bio.strip()
    errors = _agent_profile_errors(
        display_name=display_name,
        country=country,
        time_zone=time_zone,
        bio=bio,
        languages=languages,
        availability=availability,
    )

    wanted_ids = set(skill_ids)
    existing_skills = list(Skill.objects.filter(pk__in=wanted_ids))
    if len(existing_skills) != len(wanted_ids):
        errors.setdefault("skills", []).append("One of the chosen skills no longer exists.")
    new_names = {slugify(name): name for name in new_skill_names}
    if any(not slug for slug in new_names) or any(
        len(name) > SKILL_NAME_MAX_LENGTH for name in new_names.values()
    ):
        errors.setdefault("new_skills", []).append(
            f"Skill names need a letter or digit and at most {SKILL_NAME_MAX_LENGTH} characters."
        )
    total_skills = len({skill.slug for skill in existing_skills} | set(new_names))
    if total_skills > AGENT_MAX_SKILLS:
        errors.setdefault("skills", []).append(
            f"Pick at most {AGENT_MAX_SKILLS} skills ({total_skills} chosen)."
        )

    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(first, fields=errors)

    # Lock the profile so two saves in flight (two tabs) apply one after the
    # other instead of interleaving their deletes and inserts.
    profile = AgentProfile.objects.select_for_update().get(pk=agent_profile_ensure(user=user).pk)
    profile.display_name = display_name
    profile.country = country
    profile.time_zone = time_zone
    profile.bio = bio
    profile.save(update_fields=["display_name", "country", "time_zone", "bio", "updated_at"])

    skills = list(existing_skills)
    known = {skill.slug for skill in skills}
    for slug, name in new_names.items():
        if slug in known:
            continue
        skill, _ = Skill.objects.get_or_create(slug=slug, defaults={"name": name})
        skills.append(skill)
        known.add(slug)
    profile.skills.set(skills)

    profile.languages.all().delete()
    AgentLanguage.objects.bulk_create(
        AgentLanguage(profile=profile, language=row.language, level=row.level) for row in languages
    )
    profile.availability.all().delete()
    AvailabilitySlot.objects.bulk_create(
        AvailabilitySlot(
            profile=profile, weekday=slot.weekday, starts_at=slot.starts_at, ends_at=slot.ends_at
        )
        for slot in sorted(availability, key=lambda s: (s.weekday, s.starts_at))
    )
    # Languages and skills decide which offers the agent's open pages show.
    live.agent_scope_changed(user.pk)
    return profile
