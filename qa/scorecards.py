"""Writes: scorecards (drafts, categories, publishing) and gig and brand QA settings.

A published scorecard version is frozen; edits go to a new draft
(``scorecard_new_draft_from``). Brand admins write their brand's scorecards
and settings, staff the platform's (and any brand's). Every refusal raises
before anything is written: bad input leaves no row and no audit event.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from marketplace.audit import audit_record, changed_fields
from marketplace.errors import Conflict, NotFound, ValidationFailed
from qa.inputs import TEXT_MAX, decimal_number, text_value, whole_number
from qa.models import (
    BonusKind,
    BrandQASettings,
    GigQASettings,
    Scale,
    Scorecard,
    ScorecardCategory,
    ScorecardVersion,
    ScorecardVersionStatus,
)
from qa.permissions import require_manage

PHRASES_MAX = 50
PHRASE_MAX = 200
KEY_MAX = 60


# --- scorecards ----------------------------------------------------------------------


def _lock_draft(version: ScorecardVersion, actor) -> ScorecardVersion:
    """The draft, locked, for an edit; refused once published. Call inside a transaction."""
    require_manage(actor, version.scorecard.brand)
    locked = ScorecardVersion.objects.select_for_update().get(pk=version.pk)
    if locked.status != ScorecardVersionStatus.DRAFT:
        raise Conflict(
            f"Version {locked.number} is published and frozen; start a new draft to change it.",
            code="version_frozen",
        )
    locked.scorecard = version.scorecard
    return locked


def scorecard_create(*, actor, brand, name: str, pass_mark: int = 80) -> Scorecard:
    """A scorecard owned by ``brand`` (None: the platform), with an empty draft v1."""
    require_manage(actor, brand)
    name = text_value(name, field_name="name", label="The name", max_length=120, required=True)
    pass_mark = whole_number(
        pass_mark, field_name="pass_mark", label="The pass mark", low=0, high=100
    )
    with transaction.atomic():
        scorecard = Scorecard.objects.create(brand=brand, name=name, created_by=actor)
        ScorecardVersion.objects.create(
            scorecard=scorecard, number=1, pass_mark=pass_mark, created_by=actor
        )
        audit_record(
            actor=actor,
            action="qa.scorecard_created",
            target=scorecard,
            brand=brand,
            changes={"name": name, "pass_mark": pass_mark},
        )
    return scorecard


def scorecard_draft_update(
    *, actor, version: ScorecardVersion, name: str | None = None, pass_mark: int | None = None
) -> ScorecardVersion:
    """Rename the scorecard and/or change the draft's pass mark (0-100)."""
    with transaction.atomic():
        version = _lock_draft(version, actor)
        scorecard = version.scorecard
        before = {"name": scorecard.name, "pass_mark": version.pass_mark}
        if name is not None:
            scorecard.name = text_value(
                name, field_name="name", label="The name", max_length=120, required=True
            )
        if pass_mark is not None:
            version.pass_mark = whole_number(
                pass_mark, field_name="pass_mark", label="The pass mark", low=0, high=100
            )
        changes = changed_fields(before, {"name": scorecard.name, "pass_mark": version.pass_mark})
        if changes:
            scorecard.save(update_fields=["name"])
            version.save(update_fields=["pass_mark"])
            audit_record(
                actor=actor,
                action="qa.scorecard_draft_updated",
                target=version,
                brand=scorecard.brand,
                changes=changes,
            )
    return version


def _category_fields(*, name, description, scale, weight, critical, allow_na) -> dict[str, object]:
    """The given category fields, checked; None means "leave as it is"."""
    fields: dict[str, object] = {}
    if name is not None:
        fields["name"] = text_value(
            name, field_name="name", label="The name", max_length=120, required=True
        )
    if description is not None:
        fields["description"] = text_value(
            description, field_name="description", label="The description", max_length=TEXT_MAX
        )
    if scale is not None:
        if scale not in Scale.values:
            raise ValidationFailed(
                "Choose a scale: yes/no, 3-, 4- or 5-point.", fields={"scale": "Unknown scale."}
            )
        fields["scale"] = scale
    if weight is not None:
        fields["weight"] = whole_number(
            weight, field_name="weight", label="The weight", low=0, high=100
        )
    for flag_name, flag in (("critical", critical), ("allow_na", allow_na)):
        if flag is not None:
            if not isinstance(flag, bool):
                raise ValidationFailed(f"{flag_name} must be true or false.")
            fields[flag_name] = flag
    return fields


def category_key(text: str) -> str:
    """The one spelling of a category key: lowercase ASCII letters, digits and
    single underscores ("Data protection" → "data_protection"). AutoQA's
    category hints are spelled so; a key spelled otherwise would never have
    its findings shown beside it. "" when nothing usable is left."""
    return re.sub(r"[-_]+", "_", slugify(text)).strip("_")


def _unique_key(version: ScorecardVersion, wanted: str) -> str:
    base = category_key(wanted)[: KEY_MAX - 10].strip("_") or "category"
    taken = set(version.categories.values_list("key", flat=True))
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


def scorecard_category_add(
    *,
    actor,
    version: ScorecardVersion,
    name: str,
    scale: str,
    weight: int,
    description: str = "",
    critical: bool = False,
    allow_na: bool = False,
    key: str | None = None,
) -> ScorecardCategory:
    """Add a category at the end of a draft. ``key`` defaults to one made from
    the name; either way it is normalised by ``category_key``."""
    fields = _category_fields(
        name=name,
        description=description,
        scale=scale,
        weight=weight,
        critical=critical,
        allow_na=allow_na,
    )
    with transaction.atomic():
        version = _lock_draft(version, actor)
        if key is not None:
            key = category_key(key) if isinstance(key, str) else ""
            if not key or len(key) > KEY_MAX:
                raise ValidationFailed(
                    f"A key is 1-{KEY_MAX} lowercase letters, digits and underscores, "
                    "like data_protection.",
                    fields={"key": "Invalid key."},
                )
            if version.categories.filter(key=key).exists():
                raise ValidationFailed(
                    f"The key “{key}” is already used on this scorecard.",
                    fields={"key": "Already used."},
                )
        else:
            key = _unique_key(version, fields["name"])
        last = version.categories.aggregate(last=Max("order"))["last"]
        category = ScorecardCategory.objects.create(
            version=version, order=(last or 0) + 1, key=key, **fields
        )
        audit_record(
            actor=actor,
            action="qa.scorecard_category_added",
            target=version,
            brand=version.scorecard.brand,
            changes={"key": key, **fields},
        )
    return category


def scorecard_category_update(
    *,
    actor,
    category: ScorecardCategory,
    name: str | None = None,
    description: str | None = None,
    scale: str | None = None,
    weight: int | None = None,
    critical: bool | None = None,
    allow_na: bool | None = None,
) -> ScorecardCategory:
    """Change a draft's category; arguments left None stay as they are. The key never changes."""
    fields = _category_fields(
        name=name,
        description=description,
        scale=scale,
        weight=weight,
        critical=critical,
        allow_na=allow_na,
    )
    with transaction.atomic():
        version = _lock_draft(category.version, actor)
        category = ScorecardCategory.objects.get(pk=category.pk)
        before = {attr: getattr(category, attr) for attr in fields}
        for attr, value in fields.items():
            setattr(category, attr, value)
        changes = changed_fields(before, fields)
        if changes:
            category.save(update_fields=list(changes))
            audit_record(
                actor=actor,
                action="qa.scorecard_category_updated",
                target=version,
                brand=version.scorecard.brand,
                changes={"key": category.key, **changes},
            )
    return category


def scorecard_category_delete(*, actor, category: ScorecardCategory) -> None:
    with transaction.atomic():
        version = _lock_draft(category.version, actor)
        key = category.key
        ScorecardCategory.objects.filter(pk=category.pk, version=version).delete()
        audit_record(
            actor=actor,
            action="qa.scorecard_category_deleted",
            target=version,
            brand=version.scorecard.brand,
            changes={"key": key},
        )


def scorecard_categories_reorder(
    *, actor, version: ScorecardVersion, category_ids: Sequence[int]
) -> list[ScorecardCategory]:
    """Put a draft's categories in the order of ``category_ids`` (all of them, once each)."""
    with transaction.atomic():
        version = _lock_draft(version, actor)
        categories = {c.pk: c for c in version.categories.all()}
        ids = list(category_ids)
        if sorted(ids) != sorted(categories) or len(set(ids)) != len(ids):
            raise ValidationFailed("List every category of the scorecard once.")
        # (version, order) is unique: move everything out of the way first.
        offset = len(ids) + max((c.order for c in categories.values()), default=0)
        for category in categories.values():
            category.order += offset
        ScorecardCategory.objects.bulk_update(categories.values(), ["order"])
        for position, pk in enumerate(ids, start=1):
            categories[pk].order = position
        ScorecardCategory.objects.bulk_update(categories.values(), ["order"])
        audit_record(
            actor=actor,
            action="qa.scorecard_categories_reordered",
            target=version,
            brand=version.scorecard.brand,
            changes={"order": [categories[pk].key for pk in ids]},
        )
    return [categories[pk] for pk in ids]


def scorecard_publish(*, actor, version: ScorecardVersion) -> ScorecardVersion:
    """Freeze a draft: new reviews of gigs using the scorecard pin it. Refused
    without categories or when every weight is 0 (no review could be scored)."""
    with transaction.atomic():
        version = _lock_draft(version, actor)
        weights = list(version.categories.values_list("weight", flat=True))
        if not weights:
            raise ValidationFailed(
                "Add at least one category before publishing.", code="scorecard_empty"
            )
        if not any(weights):
            raise ValidationFailed(
                "Every category weighs 0, so no review could be scored; give one a weight.",
                code="scorecard_weightless",
            )
        version.status = ScorecardVersionStatus.PUBLISHED
        version.published_at = timezone.now()
        version.published_by = actor
        version.save(update_fields=["status", "published_at", "published_by"])
        audit_record(
            actor=actor,
            action="qa.scorecard_published",
            target=version,
            brand=version.scorecard.brand,
            changes={
                "version": version.number,
                "pass_mark": version.pass_mark,
                "categories": len(weights),
            },
        )
    return version


def scorecard_new_draft_from(*, actor, version: ScorecardVersion) -> ScorecardVersion:
    """A new draft with ``version``'s pass mark and categories, to edit; the
    scorecard's existing draft if it has one."""
    scorecard = version.scorecard
    require_manage(actor, scorecard.brand)
    with transaction.atomic():
        # Lock the scorecard so two clicks make one draft.
        scorecard = Scorecard.objects.select_for_update().get(pk=scorecard.pk)
        existing = scorecard.draft_version()
        if existing is not None:
            return existing
        number = (scorecard.versions.aggregate(last=Max("number"))["last"] or 0) + 1
        draft = ScorecardVersion.objects.create(
            scorecard=scorecard, number=number, pass_mark=version.pass_mark, created_by=actor
        )
        ScorecardCategory.objects.bulk_create(
            ScorecardCategory(
                version=draft,
                order=c.order,
                key=c.key,
                name=c.name,
                description=c.description,
                scale=c.scale,
                weight=c.weight,
                critical=c.critical,
                allow_na=c.allow_na,
            )
            for c in version.categories.all()
        )
        audit_record(
            actor=actor,
            action="qa.scorecard_draft_created",
            target=draft,
            brand=scorecard.brand,
            changes={"from_version": version.number, "version": number},
        )
    return draft


# --- settings ------------------------------------------------------------------------


def gig_qa_settings_update(*, actor, gig, **changes) -> GigQASettings:
    """Change a gig's QA settings. Keys: scorecard (the platform's or the gig
    brand's, with a published version; None for the platform default),
    random_pct (0-100), csat_max (1-5 or None), every_escalation, first_n,
    weekly_min, min_qa_score (0-100 or None), sla_hours, bonus_kind,
    bonus_fixed_minor, bonus_multiplier_bps, bonus_threshold (0-100 or None)."""
    require_manage(actor, gig.brand)
    known = {
        "scorecard",
        "random_pct",
        "csat_max",
        "every_escalation",
        "first_n",
        "weekly_min",
        "min_qa_score",
        "sla_hours",
        "bonus_kind",
        "bonus_fixed_minor",
        "bonus_multiplier_bps",
        "bonus_threshold",
    }
    unknown = set(changes) - known
    if unknown:
        raise ValidationFailed(f"Unknown QA settings: {', '.join(sorted(unknown))}.")
    values: dict[str, object] = {}
    if "scorecard" in changes:
        scorecard = changes["scorecard"]
        if scorecard is not None:
            usable = Scorecard.objects.usable_by(gig.brand).filter(pk=scorecard.pk).exists()
            if not usable:
                raise NotFound("No such scorecard.")
            if scorecard.published_version() is None:
                raise ValidationFailed(
                    f"Publish “{scorecard}” before a gig uses it.",
                    fields={"scorecard": "Not published yet."},
                )
        values["scorecard"] = scorecard
    if "random_pct" in changes:
        values["random_pct"] = decimal_number(
            changes["random_pct"],
            field_name="random_pct",
            label="The random sample",
            places=2,
            low=0,
            high=100,
        )
    if "csat_max" in changes:
        values["csat_max"] = (
            None
            if changes["csat_max"] is None
            else whole_number(
                changes["csat_max"], field_name="csat_max", label="The CSAT limit", low=1, high=5
            )
        )
    if "every_escalation" in changes:
        if not isinstance(changes["every_escalation"], bool):
            raise ValidationFailed("every_escalation must be true or false.")
        values["every_escalation"] = changes["every_escalation"]
    for name, label, high in (
        ("first_n", "The first tasks reviewed", 1000),
        ("weekly_min", "The weekly minimum", 100),
        ("sla_hours", "The review SLA (hours)", 24 * 14),
        ("bonus_fixed_minor", "The fixed bonus", 1_000_000),
        ("bonus_multiplier_bps", "The rate multiplier", 100_000),
    ):
        if name in changes:
            low = 1 if name == "sla_hours" else 0
            values[name] = whole_number(
                changes[name], field_name=name, label=label, low=low, high=high
            )
    for name, label in (
        ("min_qa_score", "The minimum QA score"),
        ("bonus_threshold", "The bonus threshold"),
    ):
        if name in changes:
            values[name] = (
                None
                if changes[name] is None
                else decimal_number(
                    changes[name], field_name=name, label=label, places=1, low=0, high=100
                )
            )
    if "bonus_kind" in changes:
        if changes["bonus_kind"] not in BonusKind.values:
            raise ValidationFailed("Choose a bonus kind.", fields={"bonus_kind": "Unknown kind."})
        values["bonus_kind"] = changes["bonus_kind"]
    with transaction.atomic():
        settings, _ = GigQASettings.objects.select_for_update().get_or_create(gig=gig)
        before = {name: getattr(settings, name) for name in values}
        for name, value in values.items():
            setattr(settings, name, value)
        _check_bonus(settings)
        diff = changed_fields(before, values)
        if diff:
            settings.save()
            audit_record(
                actor=actor,
                action="qa.gig_settings_updated",
                target=gig,
                brand=gig.brand,
                changes={
                    name: [
                        str(old) if old is not None else None,
                        str(new) if new is not None else None,
                    ]
                    for name, (old, new) in diff.items()
                },
            )
            if "min_qa_score" in diff:
                # Who the new minimum keeps off the gig is worked out in the
                # background, for every member of the brand's pool.
                from qa.tasks import qa_standing_gig_job  # lazily: qa.tasks imports qa

                transaction.on_commit(lambda: qa_standing_gig_job(gig.pk))
    return settings


def _check_bonus(settings: GigQASettings) -> None:
    if settings.bonus_kind == BonusKind.NONE:
        return
    if settings.bonus_threshold is None:
        raise ValidationFailed(
            "A bonus needs the QA score that earns it.",
            fields={"bonus_threshold": "Required with a bonus."},
        )
    if settings.bonus_kind == BonusKind.FIXED and settings.bonus_fixed_minor <= 0:
        raise ValidationFailed(
            "A fixed bonus needs an amount.", fields={"bonus_fixed_minor": "More than 0."}
        )
    if settings.bonus_kind == BonusKind.MULTIPLIER and settings.bonus_multiplier_bps <= 0:
        raise ValidationFailed(
            "A rate multiplier needs a percentage.", fields={"bonus_multiplier_bps": "More than 0."}
        )


def _phrases(value, *, field_name: str) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(p, str) for p in value):
        raise ValidationFailed(
            "Phrases are a list of text.", fields={field_name: "A list of text."}
        )
    cleaned, seen = [], set()
    for phrase in value:
        phrase = " ".join(phrase.split())
        if not phrase or phrase.casefold() in seen:
            continue
        if len(phrase) > PHRASE_MAX:
            raise ValidationFailed(
                f"A phrase is at most {PHRASE_MAX} characters.",
                fields={field_name: f"“{phrase[:40]}…” is too long."},
            )
        seen.add(phrase.casefold())
        cleaned.append(phrase)
    if len(cleaned) > PHRASES_MAX:
        raise ValidationFailed(
            f"At most {PHRASES_MAX} phrases.", fields={field_name: f"At most {PHRASES_MAX}."}
        )
    return cleaned


def brand_qa_settings_update(
    *,
    actor,
    brand,
    hide_reviewer_identity: bool | None = None,
    greeting_phrases: Sequence[str] | None = None,
    closing_phrases: Sequence[str] | None = None,
) -> BrandQASettings:
    require_manage(actor, brand)
    values: dict[str, object] = {}
    if hide_reviewer_identity is not None:
        if not isinstance(hide_reviewer_identity, bool):
            raise ValidationFailed("hide_reviewer_identity must be true or false.")
        values["hide_reviewer_identity"] = hide_reviewer_identity
    if greeting_phrases is not None:
        values["greeting_phrases"] = _phrases(greeting_phrases, field_name="greeting_phrases")
    if closing_phrases is not None:
        values["closing_phrases"] = _phrases(closing_phrases, field_name="closing_phrases")
    with transaction.atomic():
        settings, _ = BrandQASettings.objects.select_for_update().get_or_create(brand=brand)
        before = {name: getattr(settings, name) for name in values}
        diff = changed_fields(before, values)
        if diff:
            for name, value in values.items():
                setattr(settings, name, value)
            settings.save()
            audit_record(
                actor=actor,
                action="qa.brand_settings_updated",
                target=settings,
                brand=brand,
                changes=diff,
            )
    return settings
