"""QA scorecard pages: staff for platform scorecards, brand admins for their
brand's; the draft's editor (htmx), publishing and its refusals, frozen
versions and new drafts; the gig and brand QA settings forms; tenant
isolation (another brand's scorecard is 404, viewers only read)."""

from decimal import Decimal

import pytest
from django.urls import reverse

from brands.models import BrandRole
from marketplace.models import AuditEvent
from qa.models import (
    BrandQASettings,
    GigQASettings,
    Scorecard,
    ScorecardCategory,
    ScorecardVersionStatus,
)
from qa.scorecards import scorecard_create
from tests.brands.factories import MembershipFactory
from tests.frontend.money_helpers import client_for, staff_with_two_factor
from tests.marketplace.factories import AgentUserFactory
from tests.qa.factories import draft_scorecard, published_scorecard

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def brand_url(brand, name, *args):
    return reverse(f"frontend:brand_qa_scorecard_{name}", args=[brand.slug, *args])


def staff_url(name, *args):
    return reverse(f"frontend:staff_qa_scorecard_{name}", args=args)


def category_post(**overrides):
    data = {"name": "Greeting", "description": "", "scale": "binary", "weight": "2"}
    data.update(overrides)
    return data


def gig_settings_post(**overrides):
    data = {
        "scorecard": "",
        "random_pct": "5",
        "csat_max": "2",
        "every_escalation": "on",
        "first_n": "10",
        "weekly_min": "2",
        "sla_hours": "48",
        "min_qa_score": "",
        "bonus_kind": "none",
        "bonus_fixed": "0",
        "bonus_multiplier_pct": "0",
        "bonus_threshold": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def staff_user(db):
    return staff_with_two_factor("qa-staff@gigdesk.test")


@pytest.fixture
def staff_client(staff_user):
    return client_for(staff_user)


@pytest.fixture
def viewer_client(brand_viewer):
    return client_for(brand_viewer)


@pytest.fixture
def brand_draft(brand, brand_admin):
    return draft_scorecard(actor=brand_admin, brand=brand, name="Acme support quality")


@pytest.fixture
def other_draft(other_brand, other_admin):
    return draft_scorecard(actor=other_admin, brand=other_brand, name="Borealis quality")


# --- create, edit, publish ----------------------------------------------------------------


def test_a_brand_admin_creates_edits_and_publishes_a_scorecard(admin_client, brand):
    response = admin_client.post(
        brand_url(brand, "create"), {"name": "Chat quality", "pass_mark": "75"}
    )
    scorecard = Scorecard.objects.get(brand=brand, name="Chat quality")
    assert response.status_code == 302
    assert response["Location"] == brand_url(brand, "detail", scorecard.pk)
    draft = scorecard.draft_version()
    assert draft.pass_mark == 75

    added = admin_client.post(
        brand_url(brand, "category_create", scorecard.pk),
        category_post(name="Tone", scale="5", weight="3", critical="on"),
        **HTMX,
    )
    assert added.status_code == 200
    assert added["HX-Retarget"] == "#editor"
    assert b"Tone" in added.content
    admin_client.post(
        brand_url(brand, "category_create", scorecard.pk),
        category_post(name="Upsell", allow_na="on"),
        **HTMX,
    )
    tone, upsell = draft.categories.order_by("order")
    assert (tone.scale, tone.weight, tone.critical, tone.allow_na) == ("5", 3, True, False)
    assert upsell.allow_na is True

    admin_client.post(
        brand_url(brand, "category_move", scorecard.pk, upsell.pk), {"direction": "up"}, **HTMX
    )
    assert list(draft.categories.order_by("order").values_list("name", flat=True)) == [
        "Upsell",
        "Tone",
    ]
    admin_client.post(
        brand_url(brand, "category_edit", scorecard.pk, tone.pk),
        category_post(name="Tone of voice", scale="4", weight="5"),
        **HTMX,
    )
    tone.refresh_from_db()
    assert (tone.name, tone.scale, tone.weight, tone.critical) == ("Tone of voice", "4", 5, False)
    admin_client.post(brand_url(brand, "category_delete", scorecard.pk, upsell.pk), **HTMX)
    assert not ScorecardCategory.objects.filter(pk=upsell.pk).exists()

    published = admin_client.post(brand_url(brand, "publish", scorecard.pk), follow=True)
    draft.refresh_from_db()
    assert draft.status == ScorecardVersionStatus.PUBLISHED
    assert draft.published_by.email == "admin@acme.test"
    assert "Version 1 is published" in published.content.decode()
    assert "Make a new draft" in published.content.decode()
    assert AuditEvent.objects.filter(action="qa.scorecard_published", brand=brand).count() == 1


def test_the_detail_page_lists_versions_with_status_publisher_and_pass_mark(
    admin_client, brand, brand_admin
):
    version = published_scorecard(actor=brand_admin, brand=brand, name="Acme support quality")
    response = admin_client.get(brand_url(brand, "detail", version.scorecard.pk))
    page = response.content.decode()
    assert response.status_code == 200
    assert "v1" in page and "Published" in page and "80%" in page
    assert "admin@acme.test" in page or brand_admin.get_full_name() in page
    assert "Data protection" in page
    assert 'hx-get="' + brand_url(brand, "category_create", version.scorecard.pk) not in page


def test_an_invalid_category_shows_its_error_and_adds_nothing(admin_client, brand, brand_draft):
    scorecard = brand_draft.scorecard
    before = brand_draft.categories.count()
    response = admin_client.post(
        brand_url(brand, "category_create", scorecard.pk),
        category_post(weight="101"),
        **HTMX,
    )
    assert response.status_code == 200
    assert b"less than or equal to 100" in response.content
    assert brand_draft.categories.count() == before


def test_the_pass_mark_is_edited_on_the_draft_and_refused_outside_0_to_100(
    admin_client, brand, brand_draft
):
    scorecard = brand_draft.scorecard
    url = brand_url(brand, "settings", scorecard.pk)
    refused = admin_client.post(url, {"name": "Acme support quality", "pass_mark": "120"})
    assert refused.status_code == 400
    brand_draft.refresh_from_db()
    assert brand_draft.pass_mark == 80
    admin_client.post(url, {"name": "Acme QA", "pass_mark": "70"}, **HTMX)
    brand_draft.refresh_from_db()
    scorecard.refresh_from_db()
    assert (brand_draft.pass_mark, scorecard.name) == (70, "Acme QA")


def test_publishing_an_empty_draft_is_refused_with_the_reason(admin_client, brand, brand_admin):
    scorecard = scorecard_create(actor=brand_admin, brand=brand, name="Empty")
    response = admin_client.post(brand_url(brand, "publish", scorecard.pk), follow=True)
    assert "Add at least one category before publishing." in response.content.decode()
    assert scorecard.draft_version() is not None
    assert not AuditEvent.objects.filter(action="qa.scorecard_published").exists()


def test_publishing_with_every_weight_zero_is_refused_with_the_reason(
    admin_client, brand, brand_admin
):
    version = draft_scorecard(
        actor=brand_admin,
        brand=brand,
        name="Weightless",
        categories=[{"name": "Greeting", "scale": "binary", "weight": 0}],
    )
    detail = admin_client.get(brand_url(brand, "detail", version.scorecard.pk))
    assert b"Every category weighs 0" in detail.content
    response = admin_client.post(brand_url(brand, "publish", version.scorecard.pk), follow=True)
    assert "no review could be scored" in response.content.decode()
    version.refresh_from_db()
    assert version.status == ScorecardVersionStatus.DRAFT


def test_a_published_version_is_frozen_and_edits_are_refused_with_a_message(
    admin_client, brand, brand_admin
):
    version = published_scorecard(actor=brand_admin, brand=brand)
    scorecard = version.scorecard
    category = version.categories.get(key="greeting")
    response = admin_client.post(
        brand_url(brand, "category_edit", scorecard.pk, category.pk),
        category_post(name="Hello", weight="9"),
    )
    assert response.status_code == 400
    assert "published and frozen" in response.content.decode()
    category.refresh_from_db()
    assert (category.name, category.weight) == ("Greeting", 1)
    deleted = admin_client.post(
        brand_url(brand, "category_delete", scorecard.pk, category.pk), **HTMX
    )
    assert "published and frozen" in deleted.content.decode()
    assert ScorecardCategory.objects.filter(pk=category.pk).exists()
    added = admin_client.post(
        brand_url(brand, "category_create", scorecard.pk), category_post(), follow=True
    )
    assert "make a new draft" in added.content.decode().lower()
    assert version.categories.count() == 6


def test_make_a_new_draft_copies_the_published_version(admin_client, brand, brand_admin):
    version = published_scorecard(actor=brand_admin, brand=brand)
    scorecard = version.scorecard
    response = admin_client.post(brand_url(brand, "new_draft", scorecard.pk), follow=True)
    draft = scorecard.draft_version()
    assert draft.number == 2
    assert draft.categories.count() == 6
    assert "Draft version 2 holds a copy of version 1" in response.content.decode()
    admin_client.post(brand_url(brand, "new_draft", scorecard.pk))
    assert scorecard.versions.count() == 2


# --- staff and the platform default ---------------------------------------------------


def test_staff_write_platform_scorecards(staff_client, brand, brand_admin):
    response = staff_client.post(
        staff_url("create"), {"name": "Gigdesk standard", "pass_mark": "80"}
    )
    scorecard = Scorecard.objects.get(name="Gigdesk standard")
    assert scorecard.brand is None
    assert response["Location"] == staff_url("detail", scorecard.pk)
    staff_client.post(staff_url("category_create", scorecard.pk), category_post())
    staff_client.post(staff_url("publish", scorecard.pk))
    assert scorecard.published_version() is not None
    published_scorecard(actor=brand_admin, brand=brand, name="Acme only")
    listing = staff_client.get(staff_url("list")).content.decode()
    assert "Gigdesk standard" in listing and "Acme only" not in listing


def test_brands_see_the_platform_default_read_only(admin_client, brand, staff_user):
    default = published_scorecard(actor=staff_user, brand=None, name="Gigdesk standard")
    Scorecard.objects.filter(pk=default.scorecard.pk).update(is_default=True)
    listing = admin_client.get(brand_url(brand, "list")).content.decode()
    assert "Gigdesk standard" in listing and "Platform default" in listing
    detail = admin_client.get(brand_url(brand, "detail", default.scorecard.pk))
    assert detail.status_code == 200
    assert b"Make a new draft" not in detail.content
    refused = admin_client.post(brand_url(brand, "new_draft", default.scorecard.pk))
    assert refused.status_code == 403
    assert default.scorecard.versions.count() == 1


def test_the_empty_list_invites_admins_to_create_one(admin_client, brand):
    page = admin_client.get(brand_url(brand, "list")).content.decode()
    assert "No scorecards yet." in page
    assert brand_url(brand, "create") in page


# --- tenancy and roles ---------------------------------------------------------------------


def test_another_brands_scorecard_is_not_found(admin_client, brand, other_brand, other_draft):
    scorecard = other_draft.scorecard
    assert admin_client.get(brand_url(brand, "detail", scorecard.pk)).status_code == 404
    assert admin_client.get(brand_url(other_brand, "detail", scorecard.pk)).status_code == 404
    assert admin_client.post(brand_url(brand, "publish", scorecard.pk)).status_code == 404
    response = admin_client.post(brand_url(brand, "category_create", scorecard.pk), category_post())
    assert response.status_code == 404
    other_draft.refresh_from_db()
    assert other_draft.status == ScorecardVersionStatus.DRAFT
    assert other_draft.categories.count() == 6
    assert b"Borealis quality" not in admin_client.get(brand_url(brand, "list")).content


def test_viewers_and_reviewers_read_but_cannot_write(viewer_client, brand, brand_draft):
    reviewer_client = client_for(MembershipFactory(brand=brand, role=BrandRole.QA_REVIEWER).user)
    scorecard = brand_draft.scorecard
    for client in (viewer_client, reviewer_client):
        detail = client.get(brand_url(brand, "detail", scorecard.pk))
        assert detail.status_code == 200
        assert b"only admins of Acme Outdoors change it" in detail.content
        assert b"Add category" not in detail.content
        assert client.post(brand_url(brand, "publish", scorecard.pk)).status_code == 403
        assert (
            client.post(brand_url(brand, "create"), {"name": "X", "pass_mark": "80"}).status_code
            == 403
        )
        added = client.post(brand_url(brand, "category_create", scorecard.pk), category_post())
        assert added.status_code == 403
    brand_draft.refresh_from_db()
    assert brand_draft.status == ScorecardVersionStatus.DRAFT
    assert brand_draft.categories.count() == 6
    assert Scorecard.objects.filter(brand=brand).count() == 1


def test_agents_get_404_on_brand_pages_and_403_on_staff_pages(brand, brand_draft):
    agent = client_for(AgentUserFactory())
    assert agent.get(brand_url(brand, "list")).status_code == 404
    assert agent.get(brand_url(brand, "detail", brand_draft.scorecard.pk)).status_code == 404
    assert agent.get(staff_url("list")).status_code == 403


# --- gig QA settings -----------------------------------------------------------------------


def test_the_gig_page_shows_the_qa_section_and_admins_save_it(
    admin_client, brand, brand_admin, gig
):
    version = published_scorecard(actor=brand_admin, brand=brand, name="Acme support quality")
    detail = admin_client.get(reverse("frontend:gig_detail", args=[brand.slug, gig.pk]))
    assert b'id="qa"' in detail.content
    assert b"Save QA settings" in detail.content
    url = reverse("frontend:gig_qa_settings", args=[brand.slug, gig.pk])
    response = admin_client.post(
        url,
        gig_settings_post(
            scorecard=str(version.scorecard.pk),
            random_pct="12.5",
            csat_max="",
            every_escalation=None,
            min_qa_score="75",
            bonus_kind="fixed",
            bonus_fixed="1.50",
            bonus_threshold="90",
        ),
    )
    assert response.status_code == 302
    settings = GigQASettings.objects.get(gig=gig)
    assert settings.scorecard == version.scorecard
    assert settings.random_pct == Decimal("12.5")
    assert settings.csat_max is None
    assert settings.every_escalation is False
    assert settings.min_qa_score == Decimal("75")
    assert settings.bonus_fixed_minor == 150
    event = AuditEvent.objects.get(action="qa.gig_settings_updated", brand=brand)
    old, new = event.changes["random_pct"]
    assert (Decimal(old), Decimal(new)) == (Decimal(5), Decimal("12.5"))
    shown = admin_client.get(reverse("frontend:gig_detail", args=[brand.slug, gig.pk]))
    assert "12.5% at random" in shown.content.decode()
    assert "€1.50 per resolution" in shown.content.decode()


def test_invalid_gig_settings_show_messages_and_change_nothing(admin_client, brand, gig):
    url = reverse("frontend:gig_qa_settings", args=[brand.slug, gig.pk])
    response = admin_client.post(url, gig_settings_post(random_pct="150", sla_hours="0"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was saved" in page
    assert "less than or equal to 100" in page
    assert "greater than or equal to 1" in page
    bonus = admin_client.post(url, gig_settings_post(bonus_kind="fixed", bonus_fixed="2"))
    assert bonus.status_code == 400
    assert "A bonus needs the QA score that earns it." in bonus.content.decode()
    assert not GigQASettings.objects.filter(gig=gig).exists()
    assert not AuditEvent.objects.filter(action="qa.gig_settings_updated").exists()


def test_an_unpublished_or_foreign_scorecard_cannot_be_chosen(
    admin_client, brand, brand_draft, gig, other_admin, other_brand
):
    foreign = published_scorecard(actor=other_admin, brand=other_brand, name="Borealis")
    url = reverse("frontend:gig_qa_settings", args=[brand.slug, gig.pk])
    for scorecard in (brand_draft.scorecard, foreign.scorecard):
        response = admin_client.post(url, gig_settings_post(scorecard=str(scorecard.pk)))
        assert response.status_code == 400
        assert b"Select a valid choice" in response.content
    assert not GigQASettings.objects.filter(gig=gig).exists()


def test_only_admins_change_gig_qa_settings(viewer_client, brand, gig, other_gig, admin_client):
    detail = viewer_client.get(reverse("frontend:gig_detail", args=[brand.slug, gig.pk]))
    assert b"Only admins can change the QA settings." in detail.content
    url = reverse("frontend:gig_qa_settings", args=[brand.slug, gig.pk])
    assert viewer_client.post(url, gig_settings_post(random_pct="50")).status_code == 403
    foreign = reverse("frontend:gig_qa_settings", args=[brand.slug, other_gig.pk])
    assert admin_client.post(foreign, gig_settings_post(random_pct="50")).status_code == 404
    assert not GigQASettings.objects.exists()


# --- brand QA settings ---------------------------------------------------------------------


def test_brand_qa_settings_are_saved_with_an_audit_row(admin_client, brand):
    url = reverse("frontend:brand_qa_settings", args=[brand.slug])
    response = admin_client.post(
        url,
        {
            "hide_reviewer_identity": "on",
            "greeting_phrases": "Hello\n\n  Hi there \nhello",
            "closing_phrases": "Have a nice day",
        },
    )
    assert response.status_code == 302
    settings = BrandQASettings.objects.get(brand=brand)
    assert settings.hide_reviewer_identity is True
    assert settings.greeting_phrases == ["Hello", "Hi there"]
    assert settings.closing_phrases == ["Have a nice day"]
    assert AuditEvent.objects.filter(action="qa.brand_settings_updated", brand=brand).count() == 1
    page = admin_client.get(url).content.decode()
    assert "Hi there" in page


def test_invalid_brand_qa_settings_show_the_reason_and_change_nothing(admin_client, brand):
    url = reverse("frontend:brand_qa_settings", args=[brand.slug])
    response = admin_client.post(url, {"greeting_phrases": "x" * 201, "closing_phrases": ""})
    assert response.status_code == 400
    assert "is too long" in response.content.decode()
    assert not BrandQASettings.objects.filter(brand=brand).exists()
    assert not AuditEvent.objects.filter(action="qa.brand_settings_updated").exists()


def test_viewers_read_brand_qa_settings_but_cannot_save(viewer_client, brand, other_admin):
    url = reverse("frontend:brand_qa_settings", args=[brand.slug])
    page = viewer_client.get(url)
    assert page.status_code == 200
    assert b"Save QA settings" not in page.content
    assert viewer_client.post(url, {"hide_reviewer_identity": "on"}).status_code == 403
    assert client_for(other_admin).get(url).status_code == 404
    assert not BrandQASettings.objects.exists()


def test_the_brand_nav_links_to_qa(admin_client, brand):
    page = admin_client.get(reverse("frontend:brand_home", args=[brand.slug])).content.decode()
    assert brand_url(brand, "list") in page
