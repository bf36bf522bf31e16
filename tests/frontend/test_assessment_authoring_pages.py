"""Authoring pages: staff for platform assessments, brand admins for their
brand's; the draft's editor (htmx), publishing, new drafts, JSON import and
export; tenant isolation (another brand's assessment is 404)."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from assessments.content import assessment_export, assessment_import
from assessments.models import Assessment, Question, Section, VersionStatus
from brands.models import BrandRole
from tests.assessments.factories import knowledge_doc, published
from tests.brands.factories import MembershipFactory
from tests.frontend.money_helpers import client_for, staff_with_two_factor
from tests.marketplace.factories import AgentUserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def staff_url(name, *args):
    return reverse(f"frontend:staff_{name}", args=args)


def brand_url(brand, name, *args):
    return reverse(f"frontend:brand_{name}", args=[brand.slug, *args])


@pytest.fixture
def staff_user(db):
    return staff_with_two_factor("author@gigdesk.test")


@pytest.fixture
def staff_client(staff_user):
    return client_for(staff_user)


@pytest.fixture
def platform_draft(staff_user):
    return assessment_import(knowledge_doc("support-basics"), actor=staff_user)


@pytest.fixture
def brand_draft(brand, brand_admin):
    return assessment_import(
        knowledge_doc("acme-products", title="Acme products", brand="acme"),
        actor=brand_admin,
        brand=brand,
    )


@pytest.fixture
def other_draft(other_brand, other_admin):
    return assessment_import(
        knowledge_doc("borealis-plans", title="Borealis plans", brand="borealis"),
        actor=other_admin,
        brand=other_brand,
    )


# --- access and tenant isolation --------------------------------------------------------


def test_the_staff_list_shows_platform_assessments_not_brands(
    staff_client, platform_draft, brand_draft
):
    response = staff_client.get(staff_url("assessment_list"))
    assert response.status_code == 200
    assert b"Customer-support fundamentals" in response.content
    assert b"Acme products" not in response.content
    brands_tab = staff_client.get(staff_url("assessment_list"), {"owner": "brands"})
    assert b"Acme products" in brands_tab.content


def test_a_brand_admin_lists_only_their_brands_assessments(
    admin_client, brand, brand_draft, other_draft, platform_draft
):
    response = admin_client.get(brand_url(brand, "assessment_list"))
    assert response.status_code == 200
    assert b"Acme products" in response.content
    assert b"Borealis plans" not in response.content
    assert b"Customer-support fundamentals" not in response.content


def test_another_brands_assessment_is_not_found(admin_client, brand, other_brand, other_draft):
    slug = other_draft.assessment.slug
    assert admin_client.get(brand_url(brand, "assessment_detail", slug)).status_code == 404
    assert admin_client.get(brand_url(other_brand, "assessment_detail", slug)).status_code == 404
    export = brand_url(brand, "assessment_export", slug, 1)
    assert admin_client.get(export).status_code == 404
    response = admin_client.post(brand_url(brand, "assessment_publish", slug))
    assert response.status_code == 404
    other_draft.refresh_from_db()
    assert other_draft.status == VersionStatus.DRAFT


def test_agents_are_refused_the_staff_pages_and_do_not_see_brand_pages(brand, brand_draft):
    agent = client_for(AgentUserFactory())
    assert agent.get(staff_url("assessment_list")).status_code == 403
    assert agent.get(brand_url(brand, "assessment_list")).status_code == 404


def test_brand_viewers_are_refused(brand, brand_viewer, brand_draft):
    response = client_for(brand_viewer).get(brand_url(brand, "assessment_list"))
    assert response.status_code == 403


def test_a_qa_reviewer_reads_but_cannot_change(brand, brand_draft):
    reviewer = MembershipFactory(brand=brand, role=BrandRole.QA_REVIEWER).user
    client = client_for(reviewer)
    slug = brand_draft.assessment.slug
    detail = client.get(brand_url(brand, "assessment_detail", slug))
    assert detail.status_code == 200
    assert b"Make a new draft" not in detail.content
    response = client.post(
        brand_url(brand, "assessment_section_create", slug), {"title": "Extra", "draw": 1}
    )
    assert response.status_code == 403
    assert brand_draft.sections.count() == 1


def test_staff_read_a_brands_assessment_but_do_not_edit_it(staff_client, brand_draft):
    slug = brand_draft.assessment.slug
    assert staff_client.get(staff_url("assessment_detail", slug)).status_code == 200
    response = staff_client.post(staff_url("assessment_publish", slug))
    assert response.status_code == 403
    brand_draft.refresh_from_db()
    assert brand_draft.status == VersionStatus.DRAFT


# --- create, settings, editor ----------------------------------------------------------------


def test_a_brand_admin_creates_an_assessment(admin_client, brand):
    response = admin_client.post(
        brand_url(brand, "assessment_create"),
        {"kind": "knowledge", "title": "Returns", "slug": "acme-returns", "domain": "returns"},
    )
    assessment = Assessment.objects.get(slug="acme-returns")
    assert response.status_code == 302
    assert response.url == brand_url(brand, "assessment_detail", "acme-returns")
    assert assessment.brand == brand
    assert assessment.versions.get().status == VersionStatus.DRAFT


def test_creating_without_a_language_for_a_language_assessment_is_refused(staff_client):
    response = staff_client.post(
        staff_url("assessment_create"), {"kind": "language", "title": "German", "slug": "de"}
    )
    assert response.status_code == 400
    assert b"Choose the language the assessment tests." in response.content
    assert not Assessment.objects.exists()


def test_settings_save_level_bands_left_blank_levels_out(staff_client, staff_user):
    staff_client.post(
        staff_url("assessment_create"),
        {"kind": "language", "title": "German", "slug": "german", "language": "de"},
    )
    response = staff_client.post(
        staff_url("assessment_settings", "german"),
        {
            "title": "German (written)",
            "time_limit_minutes": 40,
            "cooldown_days": 14,
            "max_attempts": 3,
            "validity_months": 24,
            "band_A2": 30,
            "band_B1": 60,
        },
    )
    assert response.status_code == 302
    version = Assessment.objects.get(slug="german").versions.get()
    assert version.level_bands == [
        {"level": "A2", "min_score": 30},
        {"level": "B1", "min_score": 60},
    ]
    assert version.time_limit_seconds == 40 * 60


def test_descending_level_bands_are_refused_on_the_page(staff_client):
    staff_client.post(
        staff_url("assessment_create"),
        {"kind": "language", "title": "German", "slug": "german", "language": "de"},
    )
    response = staff_client.post(
        staff_url("assessment_settings", "german"),
        {
            "title": "German",
            "time_limit_minutes": 40,
            "cooldown_days": 14,
            "max_attempts": 3,
            "validity_months": 24,
            "band_A2": 60,
            "band_B1": 30,
        },
    )
    assert response.status_code == 400
    assert b"Each higher level needs a higher minimum score." in response.content
    assert len(Assessment.objects.get(slug="german").versions.get().level_bands) == 6


def test_adding_a_section_through_htmx_returns_the_editor(staff_client, platform_draft):
    slug = platform_draft.assessment.slug
    response = staff_client.post(
        staff_url("assessment_section_create", slug),
        {"title": "Escalations", "instructions": "", "draw": 1},
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#editor"
    assert b"Escalations" in response.content
    assert platform_draft.sections.filter(title="Escalations").exists()


def test_a_question_form_opens_in_place(staff_client, platform_draft):
    section = platform_draft.sections.get()
    url = staff_url("assessment_question_create", platform_draft.assessment.slug, section.pk)
    response = staff_client.get(url, {"type": "written"}, **HTMX)
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert b'name="criterion_0"' in response.content


def test_adding_a_single_choice_question_from_the_form(staff_client, platform_draft):
    section = platform_draft.sections.get()
    url = staff_url("assessment_question_create", platform_draft.assessment.slug, section.pk)
    response = staff_client.post(
        url,
        {
            "type": "single_choice",
            "prompt": "Where do refunds go?",
            "points": 2,
            "choice_text_0": "The original card",
            "choice_correct_0": "on",
            "choice_text_1": "A voucher",
        },
    )
    assert response.status_code == 302
    question = section.questions.get(prompt="Where do refunds go?")
    assert list(question.choices.values_list("text", "correct")) == [
        ("The original card", True),
        ("A voucher", False),
    ]


def test_a_single_choice_question_without_a_correct_choice_is_not_added(
    staff_client, platform_draft
):
    section = platform_draft.sections.get()
    url = staff_url("assessment_question_create", platform_draft.assessment.slug, section.pk)
    response = staff_client.post(
        url,
        {
            "type": "single_choice",
            "prompt": "Which?",
            "points": 1,
            "choice_text_0": "a",
            "choice_text_1": "b",
        },
        **HTMX,
    )
    assert response.status_code == 200
    assert b"exactly one correct choice" in response.content
    assert not section.questions.filter(prompt="Which?").exists()


def test_editing_a_written_questions_rubric(staff_client, platform_draft):
    section = platform_draft.sections.get()
    slug = platform_draft.assessment.slug
    staff_client.post(
        staff_url("assessment_question_create", slug, section.pk),
        {
            "type": "written",
            "prompt": "Apologise for a late parcel.",
            "criterion_0": "Tone",
            "max_points_0": 3,
        },
    )
    question = section.questions.get(type="written")
    response = staff_client.post(
        staff_url("assessment_question_edit", slug, question.pk),
        {
            "prompt": "Apologise for a late parcel.",
            "criterion_0": "Tone",
            "max_points_0": 3,
            "criterion_1": "Next steps",
            "max_points_1": 2,
            "description_1": "Says what happens now.",
        },
    )
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.points == 5
    assert [c["criterion"] for c in question.rubric] == ["Tone", "Next steps"]


def test_deleting_a_question_through_htmx(staff_client, platform_draft):
    question = Question.objects.filter(section__version=platform_draft).first()
    response = staff_client.post(
        staff_url("assessment_question_delete", platform_draft.assessment.slug, question.pk),
        **HTMX,
    )
    assert response.status_code == 200
    assert not Question.objects.filter(pk=question.pk).exists()


# --- publishing and new drafts --------------------------------------------------------------


def test_publishing_from_the_page_freezes_the_draft(staff_client, platform_draft):
    slug = platform_draft.assessment.slug
    response = staff_client.post(staff_url("assessment_publish", slug), follow=True)
    platform_draft.refresh_from_db()
    assert platform_draft.status == VersionStatus.PUBLISHED
    assert b"Version 1 is published" in response.content
    assert b"Make a new draft" in response.content


def test_publishing_a_draft_that_draws_more_than_its_bank_is_refused(staff_client, platform_draft):
    Section.objects.filter(version=platform_draft).update(draw=9)
    slug = platform_draft.assessment.slug
    detail = staff_client.get(staff_url("assessment_detail", slug))
    assert "Cannot draw 9 questions from a bank of 6." in detail.content.decode()
    response = staff_client.post(staff_url("assessment_publish", slug), follow=True)
    assert b"problem to fix before it can be published" in response.content
    platform_draft.refresh_from_db()
    assert platform_draft.status == VersionStatus.DRAFT


def test_a_published_version_is_frozen_until_a_new_draft_is_made(staff_client, staff_user):
    version = published(knowledge_doc("support-basics"), actor=staff_user)
    question = Question.objects.filter(section__version=version).first()
    slug = version.assessment.slug
    response = staff_client.post(staff_url("assessment_question_delete", slug, question.pk), **HTMX)
    assert b"Published versions are frozen: make a new draft to edit." in response.content
    assert Question.objects.filter(pk=question.pk).exists()
    response = staff_client.post(staff_url("assessment_new_draft", slug, 1))
    assert response.status_code == 302
    draft = version.assessment.versions.get(status=VersionStatus.DRAFT)
    assert draft.number == 2
    assert Question.objects.filter(section__version=draft).count() == 6


# --- import and export ------------------------------------------------------------------


def test_a_malformed_import_lists_each_error_and_creates_nothing(admin_client, brand):
    document = knowledge_doc("acme-bad", brand="acme")
    document["pass_mark"] = 150
    document["sections"][0]["draw"] = 20
    document["sections"][0]["questions"][1]["choices"][1]["correct"] = True
    response = admin_client.post(
        brand_url(brand, "assessment_import"), {"text": json.dumps(document)}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "The assessment has 3 errors; nothing was imported." in page
    for path in ("pass_mark", "sections[0].draw", "sections[0].questions[1].choices"):
        assert f"<code>{path}</code>" in page
    assert not Assessment.objects.exists()


def test_invalid_json_is_reported(admin_client, brand):
    response = admin_client.post(brand_url(brand, "assessment_import"), {"text": '{"slug": '})
    assert response.status_code == 400
    assert b"This is not valid JSON" in response.content
    assert not Assessment.objects.exists()


def test_importing_a_file_creates_the_brands_assessment(admin_client, brand):
    document = knowledge_doc("acme-returns", brand="acme")
    upload = SimpleUploadedFile(
        "returns.json", json.dumps(document).encode(), content_type="application/json"
    )
    response = admin_client.post(brand_url(brand, "assessment_import"), {"file": upload})
    assert response.status_code == 302
    assert response.url == brand_url(brand, "assessment_detail", "acme-returns")
    assert Assessment.objects.get(slug="acme-returns").brand == brand


def test_a_brand_cannot_import_over_another_brands_slug(admin_client, brand, other_draft):
    document = knowledge_doc("borealis-plans", brand="acme")
    response = admin_client.post(
        brand_url(brand, "assessment_import"), {"text": json.dumps(document)}
    )
    assert response.status_code == 400
    assert b"already used by another assessment" in response.content
    assert other_draft.assessment.brand_id != brand.pk
    assert Question.objects.filter(section__version=other_draft).count() == 6


def test_export_downloads_the_versions_document(staff_client, platform_draft):
    response = staff_client.get(
        staff_url("assessment_export", platform_draft.assessment.slug, platform_draft.number)
    )
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert json.loads(response.content) == assessment_export(platform_draft)
