"""Scorecards: drafts, categories, publishing and freezing; gig and brand QA settings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from marketplace.models import AuditEvent
from qa.autoqa import CATEGORY_HINTS, POSSIBLE_LEAK
from qa.models import (
    BrandQASettings,
    GigQASettings,
    Scorecard,
    ScorecardCategory,
    ScorecardVersionStatus,
)
from qa.scorecards import (
    brand_qa_settings_update,
    gig_qa_settings_update,
    scorecard_categories_reorder,
    scorecard_category_add,
    scorecard_category_delete,
    scorecard_category_update,
    scorecard_create,
    scorecard_draft_update,
    scorecard_new_draft_from,
    scorecard_publish,
)
from tests.qa.factories import EXAMPLE_CATEGORIES, draft_scorecard, published_scorecard

pytestmark = pytest.mark.django_db


def _audit_count() -> int:
    return AuditEvent.objects.count()


def test_create_makes_an_empty_draft_v1_with_pass_mark_80(brand, brand_admin):
    scorecard = scorecard_create(actor=brand_admin, brand=brand, name="  Chat quality ")

    draft = scorecard.draft_version()
    assert scorecard.name == "Chat quality"
    assert (draft.number, draft.status, draft.pass_mark) == (1, "draft", 80)
    assert AuditEvent.objects.filter(action="qa.scorecard_created", brand=brand).exists()


def test_category_keys_come_from_names_and_stay_unique(brand, brand_admin):
    version = draft_scorecard(actor=brand_admin, brand=brand, categories=[])

    first = scorecard_category_add(
        actor=brand_admin, version=version, name="Tone of voice", scale="3", weight=2
    )
    second = scorecard_category_add(
        actor=brand_admin, version=version, name="Tone of voice", scale="5", weight=1
    )

    assert (first.key, first.order) == ("tone_of_voice", 1)
    assert (second.key, second.order) == ("tone_of_voice_2", 2)


def test_a_key_made_from_a_name_matches_the_autoqa_hint(brand, brand_admin):
    version = draft_scorecard(actor=brand_admin, brand=brand, categories=[])

    category = scorecard_category_add(
        actor=brand_admin, version=version, name="Data protection", scale="binary", weight=1
    )

    assert category.key == "data_protection" == CATEGORY_HINTS[POSSIBLE_LEAK]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("data-protection", "data_protection"),
        ("Data Protection", "data_protection"),
        ("  first--response__time ", "first_response_time"),
        ("résolution", "resolution"),
    ],
)
def test_a_typed_key_is_stored_in_snake_case(brand, brand_admin, typed, stored):
    version = draft_scorecard(actor=brand_admin, brand=brand, categories=[])

    category = scorecard_category_add(
        actor=brand_admin, version=version, name="Some category", scale="3", weight=1, key=typed
    )

    assert category.key == stored
    event = AuditEvent.objects.get(action="qa.scorecard_category_added")
    assert event.changes["key"] == stored


def test_a_key_spelled_differently_is_still_the_same_key(brand, brand_admin):
    version = draft_scorecard(actor=brand_admin, brand=brand, categories=[])
    scorecard_category_add(
        actor=brand_admin, version=version, name="Data protection", scale="binary", weight=1
    )
    before = _audit_count()

    with pytest.raises(ValidationFailed) as refusal:
        scorecard_category_add(
            actor=brand_admin,
            version=version,
            name="Privacy",
            scale="binary",
            weight=1,
            key="Data-Protection",
        )

    assert refusal.value.fields == {"key": "Already used."}
    assert list(version.categories.values_list("key", flat=True)) == ["data_protection"]
    assert _audit_count() == before


@pytest.mark.parametrize("typed", ["", "--", "!?", 42, "x" * 61])
def test_a_key_with_nothing_usable_or_too_long_is_refused(brand, brand_admin, typed):
    version = draft_scorecard(actor=brand_admin, brand=brand, categories=[])
    before = _audit_count()

    with pytest.raises(ValidationFailed) as refusal:
        scorecard_category_add(
            actor=brand_admin, version=version, name="Tone", scale="3", weight=1, key=typed
        )

    assert "key" in refusal.value.fields
    assert not version.categories.exists()
    assert _audit_count() == before


def test_a_long_name_makes_a_key_that_still_fits_with_a_suffix(brand, brand_admin):
    version = draft_scorecard(actor=brand_admin, brand=brand, categories=[])
    name = "Follows the refund policy " * 4

    keys = [
        scorecard_category_add(
            actor=brand_admin, version=version, name=name[:120], scale="3", weight=1
        ).key
        for _ in range(2)
    ]

    assert keys[0] != keys[1] and keys[1] == f"{keys[0]}_2"
    assert all(len(key) <= 60 and "-" not in key for key in keys)


@pytest.mark.parametrize("weight", [-1, 101, 2.5, True, "3"])
def test_a_weight_outside_0_to_100_is_refused_and_nothing_changes(brand, brand_admin, weight):
    version = draft_scorecard(actor=brand_admin, brand=brand, categories=[])
    before = _audit_count()

    with pytest.raises(ValidationFailed) as refusal:
        scorecard_category_add(
            actor=brand_admin, version=version, name="Tone", scale="3", weight=weight
        )

    assert "weight" in refusal.value.fields
    assert not version.categories.exists()
    assert _audit_count() == before


def test_weights_0_and_100_are_accepted(brand, brand_admin):
    version = draft_scorecard(actor=brand_admin, brand=brand, categories=[])

    scorecard_category_add(actor=brand_admin, version=version, name="A", scale="3", weight=0)
    scorecard_category_add(actor=brand_admin, version=version, name="B", scale="3", weight=100)

    assert sorted(version.categories.values_list("weight", flat=True)) == [0, 100]


def test_an_unknown_scale_is_refused(brand, brand_admin):
    version = draft_scorecard(actor=brand_admin, brand=brand, categories=[])

    with pytest.raises(ValidationFailed):
        scorecard_category_add(actor=brand_admin, version=version, name="A", scale="7", weight=1)
    assert not version.categories.exists()


@pytest.mark.parametrize("pass_mark", [-1, 101, "80", 80.5])
def test_a_pass_mark_outside_0_to_100_is_refused(brand, brand_admin, pass_mark):
    version = draft_scorecard(actor=brand_admin, brand=brand)
    before = _audit_count()

    with pytest.raises(ValidationFailed):
        scorecard_draft_update(actor=brand_admin, version=version, pass_mark=pass_mark)

    version.refresh_from_db()
    assert version.pass_mark == 80
    assert _audit_count() == before


def test_a_pass_mark_outside_0_to_100_is_refused_at_creation(brand, brand_admin):
    with pytest.raises(ValidationFailed):
        scorecard_create(actor=brand_admin, brand=brand, name="Strict", pass_mark=120)
    assert not Scorecard.objects.exists()


def test_draft_update_renames_and_sets_the_pass_mark(brand, brand_admin):
    version = draft_scorecard(actor=brand_admin, brand=brand)

    scorecard_draft_update(actor=brand_admin, version=version, name="Chat QA", pass_mark=0)

    version.refresh_from_db()
    version.scorecard.refresh_from_db()
    assert (version.scorecard.name, version.pass_mark) == ("Chat QA", 0)
    event = AuditEvent.objects.get(action="qa.scorecard_draft_updated")
    assert event.changes["pass_mark"] == [80, 0]


def test_publish_refuses_a_scorecard_without_categories(brand, brand_admin):
    version = draft_scorecard(actor=brand_admin, brand=brand, categories=[])

    with pytest.raises(ValidationFailed) as refusal:
        scorecard_publish(actor=brand_admin, version=version)

    assert refusal.value.code == "scorecard_empty"
    version.refresh_from_db()
    assert version.status == ScorecardVersionStatus.DRAFT
    assert not AuditEvent.objects.filter(action="qa.scorecard_published").exists()


def test_publish_refuses_when_every_weight_is_0(brand, brand_admin):
    version = draft_scorecard(
        actor=brand_admin,
        brand=brand,
        categories=[
            {"name": "Greeting", "scale": "binary", "weight": 0},
            {"name": "Tone", "scale": "3", "weight": 0},
        ],
    )

    with pytest.raises(ValidationFailed) as refusal:
        scorecard_publish(actor=brand_admin, version=version)

    assert refusal.value.code == "scorecard_weightless"
    version.refresh_from_db()
    assert version.status == ScorecardVersionStatus.DRAFT


def test_publish_freezes_the_version_and_records_it(brand, brand_admin):
    version = draft_scorecard(actor=brand_admin, brand=brand)

    published = scorecard_publish(actor=brand_admin, version=version)

    assert published.status == ScorecardVersionStatus.PUBLISHED
    assert published.published_by == brand_admin
    assert published.scorecard.published_version() == published
    event = AuditEvent.objects.get(action="qa.scorecard_published")
    assert event.changes == {"version": 1, "pass_mark": 80, "categories": 6}


@pytest.mark.parametrize(
    "edit",
    [
        lambda actor, version, category: scorecard_category_add(
            actor=actor, version=version, name="New", scale="3", weight=1
        ),
        lambda actor, version, category: scorecard_category_update(
            actor=actor, category=category, weight=50
        ),
        lambda actor, version, category: scorecard_category_delete(actor=actor, category=category),
        lambda actor, version, category: scorecard_categories_reorder(
            actor=actor,
            version=version,
            category_ids=list(reversed(version.categories.values_list("pk", flat=True))),
        ),
        lambda actor, version, category: scorecard_draft_update(
            actor=actor, version=version, pass_mark=50
        ),
        lambda actor, version, category: scorecard_publish(actor=actor, version=version),
    ],
    ids=["add", "update", "delete", "reorder", "pass_mark", "publish_again"],
)
def test_a_published_version_cannot_be_edited(brand, brand_admin, edit):
    version = published_scorecard(actor=brand_admin, brand=brand)
    category = version.categories.get(key="tone")
    before_categories = list(version.categories.values_list("key", "order", "weight"))
    before = _audit_count()

    with pytest.raises(Conflict) as refusal:
        edit(brand_admin, version, category)

    assert refusal.value.code == "version_frozen"
    assert list(version.categories.values_list("key", "order", "weight")) == before_categories
    version.refresh_from_db()
    assert version.pass_mark == 80
    assert _audit_count() == before


def test_a_new_draft_copies_the_published_categories(brand, brand_admin):
    version = published_scorecard(actor=brand_admin, brand=brand)

    draft = scorecard_new_draft_from(actor=brand_admin, version=version)
    again = scorecard_new_draft_from(actor=brand_admin, version=version)

    assert again == draft
    assert (draft.number, draft.status) == (2, "draft")
    copied = list(draft.categories.values_list("key", "scale", "weight", "critical", "allow_na"))
    original = list(
        version.categories.values_list("key", "scale", "weight", "critical", "allow_na")
    )
    assert copied == original
    scorecard_category_update(
        actor=brand_admin, category=draft.categories.get(key="tone"), weight=9
    )
    assert version.categories.get(key="tone").weight == 2


def test_category_update_changes_only_the_given_fields(brand, brand_admin):
    version = draft_scorecard(actor=brand_admin, brand=brand)
    category = version.categories.get(key="solution")

    scorecard_category_update(actor=brand_admin, category=category, weight=5, critical=True)

    category.refresh_from_db()
    assert (category.name, category.scale, category.weight, category.critical) == (
        "Solution",
        "4",
        5,
        True,
    )


def test_reorder_puts_categories_in_the_given_order(brand, brand_admin):
    version = draft_scorecard(actor=brand_admin, brand=brand)
    ids = list(version.categories.values_list("pk", flat=True))

    scorecard_categories_reorder(actor=brand_admin, version=version, category_ids=ids[::-1])

    assert list(version.categories.order_by("order").values_list("pk", flat=True)) == ids[::-1]
    assert list(version.categories.order_by("order").values_list("order", flat=True)) == list(
        range(1, len(ids) + 1)
    )


def test_reorder_refuses_a_partial_list(brand, brand_admin):
    version = draft_scorecard(actor=brand_admin, brand=brand)
    ids = list(version.categories.values_list("pk", flat=True))

    with pytest.raises(ValidationFailed):
        scorecard_categories_reorder(actor=brand_admin, version=version, category_ids=ids[1:])
    assert list(version.categories.order_by("order").values_list("pk", flat=True)) == ids


def test_delete_removes_a_draft_category(brand, brand_admin):
    version = draft_scorecard(actor=brand_admin, brand=brand)

    scorecard_category_delete(actor=brand_admin, category=version.categories.get(key="upsell"))

    assert not version.categories.filter(key="upsell").exists()
    assert version.categories.count() == len(EXAMPLE_CATEGORIES) - 1


def test_a_viewer_cannot_write_scorecards(brand, brand_viewer):
    with pytest.raises(PermissionDenied):
        scorecard_create(actor=brand_viewer, brand=brand, name="Mine")
    assert not Scorecard.objects.exists()


def test_another_brands_admin_cannot_see_or_edit_the_draft(brand, brand_admin, other_admin):
    version = draft_scorecard(actor=brand_admin, brand=brand)

    with pytest.raises(NotFound):
        scorecard_category_add(actor=other_admin, version=version, name="X", scale="3", weight=1)
    with pytest.raises(NotFound):
        scorecard_publish(actor=other_admin, version=version)
    assert version.categories.count() == len(EXAMPLE_CATEGORIES)


def test_only_staff_write_platform_scorecards(brand_admin, staff):
    with pytest.raises(PermissionDenied):
        scorecard_create(actor=brand_admin, brand=None, name="Platform default")

    scorecard = scorecard_create(actor=staff, brand=None, name="Platform default")
    assert scorecard.brand is None


# --- gig settings ----------------------------------------------------------------------


def test_gig_settings_store_and_audit_the_changes(gig, brand_admin):
    settings = gig_qa_settings_update(
        actor=brand_admin, gig=gig, random_pct="12.5", min_qa_score=75, first_n=20
    )

    settings.refresh_from_db()
    assert settings.random_pct == Decimal("12.50")
    assert settings.min_qa_score == Decimal("75.0")
    assert (settings.first_n, settings.weekly_min, settings.sla_hours) == (20, 2, 48)
    event = AuditEvent.objects.get(action="qa.gig_settings_updated")
    assert event.changes["random_pct"] == ["5", "12.50"]


def test_gig_settings_with_nothing_changed_record_nothing(gig, brand_admin):
    gig_qa_settings_update(actor=brand_admin, gig=gig, random_pct=5)
    assert not AuditEvent.objects.filter(action="qa.gig_settings_updated").exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"random_pct": 101},
        {"random_pct": -1},
        {"random_pct": "lots"},
        {"min_qa_score": "100.5"},
        {"csat_max": 6},
        {"sla_hours": 0},
        {"bonus_kind": "fixed", "bonus_fixed_minor": 50},
        {"bonus_kind": "multiplier", "bonus_threshold": 90},
        {"colour": "red"},
    ],
)
def test_bad_gig_settings_are_refused_and_nothing_changes(gig, brand_admin, changes):
    with pytest.raises(ValidationFailed):
        gig_qa_settings_update(actor=brand_admin, gig=gig, **changes)

    assert not GigQASettings.objects.filter(gig=gig).exists()
    assert not AuditEvent.objects.filter(action="qa.gig_settings_updated").exists()


def test_a_gig_may_use_a_platform_scorecard(gig, brand_admin, staff):
    platform = published_scorecard(actor=staff, brand=None, name="Platform").scorecard

    settings = gig_qa_settings_update(actor=brand_admin, gig=gig, scorecard=platform)

    assert settings.scorecard == platform


def test_a_gig_cannot_use_another_brands_scorecard(gig, brand_admin, other_brand, other_admin):
    theirs = published_scorecard(actor=other_admin, brand=other_brand).scorecard

    with pytest.raises(NotFound):
        gig_qa_settings_update(actor=brand_admin, gig=gig, scorecard=theirs)
    assert not GigQASettings.objects.filter(gig=gig).exists()


def test_a_gig_cannot_use_an_unpublished_scorecard(gig, brand, brand_admin):
    draft = draft_scorecard(actor=brand_admin, brand=brand).scorecard

    with pytest.raises(ValidationFailed):
        gig_qa_settings_update(actor=brand_admin, gig=gig, scorecard=draft)


def test_another_brands_admin_cannot_change_the_gig_settings(gig, other_admin):
    with pytest.raises(NotFound):
        gig_qa_settings_update(actor=other_admin, gig=gig, random_pct=50)
    assert not GigQASettings.objects.filter(gig=gig).exists()


def test_brand_settings_clean_the_phrases(brand, brand_admin):
    settings = brand_qa_settings_update(
        actor=brand_admin,
        brand=brand,
        hide_reviewer_identity=True,
        greeting_phrases=["  Hello ", "hello", "", "Good   morning"],
    )

    assert settings.hide_reviewer_identity is True
    assert settings.greeting_phrases == ["Hello", "Good morning"]
    assert AuditEvent.objects.filter(action="qa.brand_settings_updated", brand=brand).exists()


def test_brand_settings_refuse_a_viewer(brand, brand_viewer):
    with pytest.raises(PermissionDenied):
        brand_qa_settings_update(actor=brand_viewer, brand=brand, hide_reviewer_identity=True)
    assert not BrandQASettings.objects.exists()


def test_category_rows_are_never_shared_between_versions(brand, brand_admin):
    version = published_scorecard(actor=brand_admin, brand=brand)
    draft = scorecard_new_draft_from(actor=brand_admin, version=version)

    assert ScorecardCategory.objects.filter(version=draft).count() == len(EXAMPLE_CATEGORIES)
    assert not set(draft.categories.values_list("pk", flat=True)) & set(
        version.categories.values_list("pk", flat=True)
    )
