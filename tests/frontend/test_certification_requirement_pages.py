"""Required certifications on the gig page and the brand's pool page.

Admins add and remove them; other members read them; another brand's admin
gets 404 and changes nothing; only platform assessments and the brand's own
(published) ones can be required.
"""

import pytest
from django.test import Client
from django.urls import reverse

from assessments.content import assessment_import
from assessments.models import BrandCertificationRequirement, GigCertificationRequirement
from assessments.requirements import (
    assessments_requirable,
    brand_certification_require,
    gig_certification_require,
)
from marketplace.models import AuditEvent
from tests.assessments.factories import knowledge_doc, language_doc, published
from tests.marketplace.factories import StaffUserFactory

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff(db):
    return StaffUserFactory(email="staff@gigdesk.test")


@pytest.fixture
def spanish(staff):
    return published(language_doc(), actor=staff).assessment


@pytest.fixture
def fundamentals(staff):
    return published(knowledge_doc(), actor=staff).assessment


@pytest.fixture
def own_product(brand, brand_admin):
    doc = knowledge_doc("acme-product", title="Acme products", brand=brand.slug)
    return published(doc, actor=brand_admin, brand=brand).assessment


@pytest.fixture
def rival_product(other_brand, other_admin):
    doc = knowledge_doc("borealis-plans", title="Borealis plans", brand=other_brand.slug)
    return published(doc, actor=other_admin, brand=other_brand).assessment


def gig_url(gig):
    return reverse("frontend:gig_detail", args=[gig.brand.slug, gig.pk])


def add_gig_url(gig):
    return reverse("frontend:gig_certification_add", args=[gig.brand.slug, gig.pk])


def remove_gig_url(gig, assessment):
    return reverse(
        "frontend:gig_certification_remove", args=[gig.brand.slug, gig.pk, assessment.slug]
    )


def pool_url(brand):
    return reverse("frontend:brand_pool", args=[brand.slug])


# --- what may be required ------------------------------------------------------------------


def test_a_brand_may_require_platform_assessments_and_its_own_published_ones(
    brand, brand_admin, spanish, own_product, rival_product
):
    assessment_import(knowledge_doc("acme-draft", brand=brand.slug), actor=brand_admin, brand=brand)
    slugs = set(assessments_requirable(brand=brand).values_list("slug", flat=True))
    assert slugs == {"spanish-written", "acme-product"}


def test_the_gig_form_offers_only_what_the_brand_may_require(
    admin_client, gig, spanish, own_product, rival_product
):
    response = admin_client.get(gig_url(gig))
    choices = {a.slug for a in response.context["form"].fields["assessment"].queryset}
    assert choices == {"spanish-written", "acme-product"}
    assert b"Borealis plans" not in response.content


# --- the gig page ---------------------------------------------------------------------------


def test_an_admin_requires_a_language_level_for_a_gig(admin_client, gig, spanish):
    response = admin_client.post(add_gig_url(gig), {"assessment": spanish.slug, "min_level": "B2"})
    assert response.status_code == 302
    assert response.url == gig_url(gig) + "#certifications"
    requirement = GigCertificationRequirement.objects.get(gig=gig)
    assert (requirement.assessment, requirement.min_level) == (spanish, "B2")
    assert AuditEvent.objects.filter(action="gig.certification_required").exists()
    page = admin_client.get(gig_url(gig)).content.decode()
    assert "Spanish (written)" in page
    assert "B2</span> or above" in page


def test_a_knowledge_assessment_cannot_be_required_at_a_level(admin_client, gig, fundamentals):
    response = admin_client.post(
        add_gig_url(gig), {"assessment": fundamentals.slug, "min_level": "B2"}, follow=True
    )
    assert "has no level" in response.content.decode()
    assert not GigCertificationRequirement.objects.exists()


def test_a_level_the_assessment_does_not_award_is_refused(admin_client, gig, spanish):
    # The test document's bands stop at C1.
    response = admin_client.post(
        add_gig_url(gig), {"assessment": spanish.slug, "min_level": "C2"}, follow=True
    )
    assert "does not award C2" in response.content.decode()
    assert not GigCertificationRequirement.objects.exists()


def test_another_brands_assessment_cannot_be_required(admin_client, gig, rival_product):
    response = admin_client.post(add_gig_url(gig), {"assessment": rival_product.slug}, follow=True)
    assert "Choose one of the assessments listed" in response.content.decode()
    assert not GigCertificationRequirement.objects.exists()


def test_an_admin_removes_a_gig_requirement(admin_client, brand_admin, gig, spanish):
    gig_certification_require(actor=brand_admin, gig=gig, assessment=spanish, min_level="B1")
    response = admin_client.post(remove_gig_url(gig, spanish))
    assert response.status_code == 302
    assert not GigCertificationRequirement.objects.exists()
    event = AuditEvent.objects.get(action="gig.certification_unrequired")
    assert event.changes == {"assessment": "spanish-written", "min_level": "B1"}


def test_removing_a_requirement_the_gig_does_not_have_is_404(admin_client, gig, spanish):
    assert admin_client.post(remove_gig_url(gig, spanish)).status_code == 404


def test_viewers_read_the_requirements_but_cannot_change_them(
    brand_viewer, brand_admin, gig, spanish, fundamentals
):
    gig_certification_require(actor=brand_admin, gig=gig, assessment=spanish, min_level="B2")
    viewer = client_for(brand_viewer)
    page = viewer.get(gig_url(gig)).content.decode()
    assert "Spanish (written)" in page
    assert "Only admins can change the required certifications." in page
    assert remove_gig_url(gig, spanish) not in page
    assert viewer.post(add_gig_url(gig), {"assessment": fundamentals.slug}).status_code == 403
    assert viewer.post(remove_gig_url(gig, spanish)).status_code == 403
    assert GigCertificationRequirement.objects.get(gig=gig).min_level == "B2"


def test_another_brands_admin_gets_404_and_changes_nothing(
    other_admin, brand_admin, gig, spanish, fundamentals
):
    gig_certification_require(actor=brand_admin, gig=gig, assessment=spanish, min_level="B2")
    rival = client_for(other_admin)
    assert rival.post(add_gig_url(gig), {"assessment": fundamentals.slug}).status_code == 404
    assert rival.post(remove_gig_url(gig, spanish)).status_code == 404
    assert list(GigCertificationRequirement.objects.values_list("assessment__slug", flat=True)) == [
        "spanish-written"
    ]


def test_a_gig_without_requirements_says_so(admin_client, gig, spanish):
    assert "No certification required" in admin_client.get(gig_url(gig)).content.decode()


# --- the pool page -------------------------------------------------------------------------


def test_an_admin_requires_a_certification_to_apply_to_the_pool(admin_client, brand, own_product):
    response = admin_client.post(
        reverse("frontend:pool_certification_add", args=[brand.slug]),
        {"assessment": own_product.slug, "min_level": ""},
    )
    assert response.status_code == 302
    requirement = BrandCertificationRequirement.objects.get(brand=brand)
    assert (requirement.assessment, requirement.min_level) == (own_product, "")
    page = admin_client.get(pool_url(brand)).content.decode()
    assert "Acme products" in page
    assert "A pass" in page


def test_an_admin_removes_a_pool_requirement(admin_client, brand_admin, brand, spanish):
    brand_certification_require(actor=brand_admin, brand=brand, assessment=spanish)
    response = admin_client.post(
        reverse("frontend:pool_certification_remove", args=[brand.slug, spanish.slug])
    )
    assert response.status_code == 302
    assert not BrandCertificationRequirement.objects.exists()
    assert AuditEvent.objects.filter(action="pool.certification_unrequired").exists()


def test_pool_requirements_stay_with_their_brand(
    brand_admin, other_admin, brand, other_brand, spanish
):
    brand_certification_require(actor=brand_admin, brand=brand, assessment=spanish, min_level="B2")
    rival = client_for(other_admin)
    assert "No certification required" in rival.get(pool_url(other_brand)).content.decode()
    response = rival.post(
        reverse("frontend:pool_certification_remove", args=[brand.slug, spanish.slug])
    )
    assert response.status_code == 404
    assert BrandCertificationRequirement.objects.filter(brand=brand).exists()


def test_pool_viewers_see_the_requirements_without_a_form(
    brand_viewer, brand_admin, brand, spanish
):
    brand_certification_require(actor=brand_admin, brand=brand, assessment=spanish, min_level="B2")
    page = client_for(brand_viewer).get(pool_url(brand)).content.decode()
    assert "Spanish (written)" in page
    assert "Require this certification" not in page
