from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from assessments.models import (
    BrandCertificationRequirement,
    Certification,
    GigCertificationRequirement,
)
from assessments.selectors import certification_satisfies
from assessments.services import add_months, attempt_start
from brands.models import PoolMembership, PoolStatus
from brands.pool_services import pool_apply
from gigs.eligibility import (
    eligible_agents_for_gig,
    failed_rules,
    gigs_open_to_agent,
    offerable_tasks_for_agent,
)
from gigs.models import AgentPresence, PresenceStatus
from marketplace.errors import PermissionDenied
from marketplace.languages import CEFRLevel
from tests.gigs.factories import GigFactory, TaskFactory
from tests.marketplace.factories import AgentLanguageFactory, AgentProfileFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def certify(agent, version, *, level="B2", issued_at=None, score=80):
    """A certification as grading issues it (through a real attempt row)."""
    issued_at = issued_at or timezone.now()
    with time_machine.travel(issued_at, tick=False):
        attempt = attempt_start(agent=agent, assessment=version.assessment)
    attempt.status = "graded"
    attempt.passed = True
    attempt.level = level
    attempt.save()
    return Certification.objects.create(
        agent=agent,
        assessment=version.assessment,
        version=version,
        attempt=attempt,
        level=level,
        score=score,
        issued_at=issued_at,
        expires_at=add_months(issued_at, version.validity_months),
    )


def online_member(brand):
    profile = AgentProfileFactory()
    AgentLanguageFactory(profile=profile, language="es", level=CEFRLevel.C1)
    PoolMembership.objects.create(brand=brand, agent=profile.user, status=PoolStatus.APPROVED)
    AgentPresence.objects.create(
        agent=profile.user, status=PresenceStatus.ONLINE, last_heartbeat_at=timezone.now()
    )
    return profile.user


@pytest.fixture
def spanish_gig(brand, spanish):
    gig = GigFactory(brand=brand, language="es", min_language_level=CEFRLevel.B1)
    GigCertificationRequirement.objects.create(
        gig=gig, assessment=spanish.assessment, min_level=CEFRLevel.B2
    )
    return gig


def test_certification_satisfies_checks_level_and_expiry(agent, spanish):
    certify(agent, spanish, level="B2", issued_at=NOW)
    assessment = spanish.assessment
    assert certification_satisfies(agent, assessment, "B1", NOW + timedelta(days=1))
    assert certification_satisfies(agent, assessment, "B2", NOW + timedelta(days=1))
    assert certification_satisfies(agent, assessment, None, NOW + timedelta(days=1))
    assert not certification_satisfies(agent, assessment, "C1", NOW + timedelta(days=1))
    assert not certification_satisfies(agent, assessment, "B2", NOW - timedelta(days=1))
    assert not certification_satisfies(
        agent, assessment, "B2", datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
    )


def test_a_certified_agent_sees_the_gigs_task(brand, spanish, spanish_gig):
    agent = online_member(brand)
    certify(agent, spanish, level="B2")
    task = TaskFactory(gig=spanish_gig)
    assert agent in eligible_agents_for_gig(spanish_gig)
    assert list(offerable_tasks_for_agent(agent)) == [task]


def test_an_uncertified_agent_does_not_see_it(brand, spanish, spanish_gig):
    agent = online_member(brand)
    task = TaskFactory(gig=spanish_gig)
    assert agent not in eligible_agents_for_gig(spanish_gig)
    assert list(offerable_tasks_for_agent(agent)) == []
    assert [r.name for r in failed_rules(agent, task)] == ["holds_required_certifications"]


def test_a_level_below_the_requirement_does_not_count(brand, spanish, spanish_gig):
    agent = online_member(brand)
    certify(agent, spanish, level="B1")
    TaskFactory(gig=spanish_gig)
    assert list(offerable_tasks_for_agent(agent)) == []


def test_an_expired_certification_does_not_count_at_read_time(brand, spanish, spanish_gig):
    agent = online_member(brand)
    certify(agent, spanish, level="C1", issued_at=timezone.now() - timedelta(days=400))
    TaskFactory(gig=spanish_gig)
    assert spanish_gig not in gigs_open_to_agent(agent)
    assert list(offerable_tasks_for_agent(agent)) == []


def test_a_certification_expires_while_the_gig_stays_the_same(brand, spanish, spanish_gig):
    with time_machine.travel(NOW, tick=False) as clock:
        agent = online_member(brand)
        certify(agent, spanish, level="B2", issued_at=NOW)
        assert agent in eligible_agents_for_gig(spanish_gig)
        clock.move_to(datetime(2027, 6, 1, 12, 0, tzinfo=UTC))
        AgentPresence.objects.filter(agent=agent).update(last_heartbeat_at=timezone.now())
        assert agent not in eligible_agents_for_gig(spanish_gig)


def test_a_certification_of_another_assessment_does_not_count(brand, staff, spanish_gig):
    from tests.assessments.factories import language_doc, published

    other = published(language_doc(slug="spanish-spoken"), actor=staff)
    agent = online_member(brand)
    certify(agent, other, level="C2")
    assert agent not in eligible_agents_for_gig(spanish_gig)


def test_gigs_without_requirements_are_unaffected(brand):
    gig = GigFactory(brand=brand, language="es", min_language_level=CEFRLevel.B1)
    agent = online_member(brand)
    assert agent in eligible_agents_for_gig(gig)


def test_pool_application_refused_without_the_required_certification(brand, agent, spanish):
    BrandCertificationRequirement.objects.create(
        brand=brand, assessment=spanish.assessment, min_level=CEFRLevel.B2
    )
    with pytest.raises(PermissionDenied) as caught:
        pool_apply(agent=agent, brand=brand)
    assert caught.value.code == "pool_certification_required"
    assert "Spanish (written) (B2 or above)" in caught.value.message
    assert not PoolMembership.objects.exists()


def test_pool_application_accepted_with_it(brand, agent, spanish):
    BrandCertificationRequirement.objects.create(
        brand=brand, assessment=spanish.assessment, min_level=CEFRLevel.B2
    )
    certify(agent, spanish, level="C1")
    assert pool_apply(agent=agent, brand=brand).status == PoolStatus.APPLIED


def test_pool_application_refused_with_an_expired_certification(brand, agent, spanish):
    BrandCertificationRequirement.objects.create(brand=brand, assessment=spanish.assessment)
    certify(agent, spanish, level="C1", issued_at=timezone.now() - timedelta(days=400))
    with pytest.raises(PermissionDenied):
        pool_apply(agent=agent, brand=brand)


def test_another_brands_requirement_does_not_apply(other_brand, brand, agent, spanish):
    BrandCertificationRequirement.objects.create(brand=other_brand, assessment=spanish.assessment)
    assert pool_apply(agent=agent, brand=brand).status == PoolStatus.APPLIED


def test_a_brand_admin_requires_a_certification_for_a_gig(brand, brand_admin, gig, spanish):
    from assessments.requirements import gig_certification_require

    requirement = gig_certification_require(
        actor=brand_admin, gig=gig, assessment=spanish.assessment, min_level="B2"
    )
    assert requirement.min_level == "B2"
    again = gig_certification_require(
        actor=brand_admin, gig=gig, assessment=spanish.assessment, min_level="C1"
    )
    assert again.pk == requirement.pk and again.min_level == "C1"


def test_requirement_refusals(brand, brand_admin, brand_viewer, gig, other_admin, spanish, staff):
    from assessments.requirements import brand_certification_require, gig_certification_require
    from marketplace.errors import NotFound, ValidationFailed
    from tests.assessments.factories import knowledge_doc, published
    from tests.brands.factories import BrandFactory

    with pytest.raises(PermissionDenied):
        gig_certification_require(actor=brand_viewer, gig=gig, assessment=spanish.assessment)
    with pytest.raises(PermissionDenied):
        gig_certification_require(actor=other_admin, gig=gig, assessment=spanish.assessment)
    knowledge = published(knowledge_doc(), actor=staff)
    with pytest.raises(ValidationFailed):
        brand_certification_require(
            actor=brand_admin, brand=brand, assessment=knowledge.assessment, min_level="B2"
        )
    with pytest.raises(ValidationFailed):
        gig_certification_require(
            actor=brand_admin, gig=gig, assessment=spanish.assessment, min_level="C2"
        )
    theirs_brand = BrandFactory(slug="third")
    from brands.models import BrandMembership, BrandRole

    BrandMembership.objects.create(brand=theirs_brand, user=staff, role=BrandRole.ADMIN)
    theirs = published(
        knowledge_doc(slug="third-product", brand="third"), actor=staff, brand=theirs_brand
    )
    with pytest.raises(NotFound):
        gig_certification_require(actor=brand_admin, gig=gig, assessment=theirs.assessment)
    assert not GigCertificationRequirement.objects.exists()
    assert not BrandCertificationRequirement.objects.exists()


def test_expiring_certifications_warn_thirty_days_ahead(agent, spanish):
    from assessments.selectors import certifications_expiring_soon

    cert = certify(agent, spanish, issued_at=NOW)
    assert list(certifications_expiring_soon(agent=agent, at=NOW)) == []
    warn_from = cert.expires_at - timedelta(days=30)
    assert list(certifications_expiring_soon(agent=agent, at=warn_from)) == [cert]
    assert list(certifications_expiring_soon(agent=agent, at=cert.expires_at)) == []


def test_an_approved_member_applying_again_hears_they_are_a_member(brand, agent, spanish):
    from marketplace.errors import Conflict

    PoolMembership.objects.create(brand=brand, agent=agent, status=PoolStatus.APPROVED)
    BrandCertificationRequirement.objects.create(brand=brand, assessment=spanish.assessment)
    with pytest.raises(Conflict) as caught:
        pool_apply(agent=agent, brand=brand)
    assert caught.value.code == "pool_already_member"
