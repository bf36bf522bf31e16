import pytest

from brands.models import BrandRole
from qa.scorecards import gig_qa_settings_update
from qa.services import assignment_assign, assignment_create_for_task
from tests.brands.factories import MembershipFactory
from tests.marketplace.factories import AgentProfileFactory, StaffUserFactory
from tests.qa.factories import closed_task, published_scorecard


@pytest.fixture
def staff(db):
    return StaffUserFactory(email="staff@gigdesk.test")


@pytest.fixture
def agent(db):
    return AgentProfileFactory(user__email="agent@example.com", user__full_name="Ana Agent").user


@pytest.fixture
def other_agent(db):
    return AgentProfileFactory(user__email="other-agent@example.com").user


@pytest.fixture
def reviewer(brand):
    return MembershipFactory(
        brand=brand,
        role=BrandRole.QA_REVIEWER,
        user__email="rita@acme.test",
        user__full_name="Rita Reviewer",
    ).user


@pytest.fixture
def second_reviewer(brand):
    return MembershipFactory(
        brand=brand, role=BrandRole.QA_REVIEWER, user__email="sam@acme.test"
    ).user


@pytest.fixture
def other_reviewer(other_brand):
    return MembershipFactory(
        brand=other_brand, role=BrandRole.QA_REVIEWER, user__email="qa@borealis.test"
    ).user


@pytest.fixture
def version(brand, brand_admin, gig):
    """The brand's published example scorecard, used by ``gig``."""
    version = published_scorecard(actor=brand_admin, brand=brand)
    gig_qa_settings_update(actor=brand_admin, gig=gig, scorecard=version.scorecard)
    return version


@pytest.fixture
def task(gig, agent):
    return closed_task(gig=gig, agent=agent)


@pytest.fixture
def assignment(version, task, reviewer):
    """``task`` in the review queue, taken by ``reviewer``."""
    assignment = assignment_create_for_task(task=task, reasons=["random"])
    return assignment_assign(actor=reviewer, assignment=assignment, reviewer=reviewer)
