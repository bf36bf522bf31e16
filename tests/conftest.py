"""Fixtures shared by every app's tests: two brands, so each test can check isolation."""

import pytest
from django.test import Client

from brands.models import BrandRole
from brands.services import api_key_create
from tests.brands.factories import BrandFactory, MembershipFactory
from tests.gigs.factories import GigFactory

# The Stripe sandbox, its webhook receiver and ``deliver``, for every package that pays.
pytest_plugins = ["tests.stripe_fixtures"]


@pytest.fixture(autouse=True)
def _no_login_rate_limits(settings):
    # Tests sign in many times from one address; allauth would throttle them.
    settings.ACCOUNT_RATE_LIMITS = False


@pytest.fixture(autouse=True)
def _immediate_jobs(settings):
    """Background jobs run inline in tests, inside the test's own database."""
    from huey.contrib.djhuey import HUEY

    previous = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = previous


@pytest.fixture
def brand(db):
    return BrandFactory(name="Acme Outdoors", slug="acme")


@pytest.fixture
def other_brand(db):
    """Charlie's brand: nothing of it may leak to ``brand``'s users or keys."""
    return BrandFactory(name="Borealis Telecom", slug="borealis")


@pytest.fixture
def brand_admin(brand):
    return MembershipFactory(brand=brand, role=BrandRole.ADMIN, user__email="admin@acme.test").user


@pytest.fixture
def brand_viewer(brand):
    return MembershipFactory(
        brand=brand, role=BrandRole.VIEWER, user__email="viewer@acme.test"
    ).user


@pytest.fixture
def other_admin(other_brand):
    return MembershipFactory(
        brand=other_brand, role=BrandRole.ADMIN, user__email="admin@borealis.test"
    ).user


@pytest.fixture
def admin_client(brand_admin) -> Client:
    client = Client()
    client.force_login(brand_admin)
    return client


@pytest.fixture
def gig(brand):
    return GigFactory(brand=brand, title="Order support (EN)")


@pytest.fixture
def other_gig(other_brand):
    return GigFactory(brand=other_brand, title="Borealis billing")


@pytest.fixture
def api_secret(brand, brand_admin) -> str:
    return api_key_create(brand=brand, name="Helpdesk sync", created_by=brand_admin).secret


@pytest.fixture
def other_api_secret(other_brand, other_admin) -> str:
    return api_key_create(brand=other_brand, name="Borealis sync", created_by=other_admin).secret


@pytest.fixture
def api_client(api_secret):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret}")
    return client


def pytest_collection_modifyitems(items):
    # While Playwright's browser is open its sync API keeps an event loop
    # running in the main thread, where async tests and async_to_sync cannot
    # run: browser tests go last (the sort is stable, so the rest keep their order).
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
