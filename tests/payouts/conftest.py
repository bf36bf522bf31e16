import pytest

from payouts.models import Entry, Posting, Purpose
from tests.marketplace.factories import StaffUserFactory
from tests.payouts.factories import AgentAccountFactory, BrandAccountFactory, PlatformAccountFactory


@pytest.fixture
def clearing(db):
    return PlatformAccountFactory(purpose=Purpose.STRIPE_CLEARING)


@pytest.fixture
def revenue(db):
    return PlatformAccountFactory(purpose=Purpose.PLATFORM_REVENUE)


@pytest.fixture
def brand_balance(brand):
    return BrandAccountFactory(brand=brand)


@pytest.fixture
def agent_pending(db):
    return AgentAccountFactory()


@pytest.fixture
def ledger_counts():
    """(postings, entries) now: a refused write must leave both unchanged."""
    return lambda: (Posting.objects.count(), Entry.objects.count())


@pytest.fixture
def staff_user(db):
    return StaffUserFactory(email="staff@gigdesk.test")
