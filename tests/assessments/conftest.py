import pytest

from tests.assessments.factories import language_doc, published
from tests.marketplace.factories import AgentProfileFactory, StaffUserFactory


@pytest.fixture
def staff(db):
    return StaffUserFactory(email="staff@gigdesk.test")


@pytest.fixture
def agent(db):
    return AgentProfileFactory(user__email="agent@example.com").user


@pytest.fixture
def other_agent(db):
    return AgentProfileFactory(user__email="other-agent@example.com").user


@pytest.fixture
def spanish(staff):
    return published(language_doc(), actor=staff)
