"""Staff analytics console: access, the per-brand table and platform figures, the range form."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import time_machine
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client
from django.urls import reverse

from analytics.rollup import rollup_recompute
from gigs.models import PayModel
from gigs.models import TaskEventKind as K
from payouts.models import Earning
from tests.analytics.histories import task_with_history
from tests.brands.factories import BrandFactory
from tests.gigs.factories import GigFactory
from tests.marketplace.factories import AgentUserFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

URL = reverse("frontend:staff_analytics")
T0 = datetime(2026, 3, 3, 9, tzinfo=UTC)
RANGE = {"start": "2026-03-01", "end": "2026-03-07"}


@pytest.fixture
def staff_client(db) -> Client:
    user = StaffUserFactory(email="ops@gigdesk.test")
    # Staff pages require TOTP (StaffTwoFactorMiddleware); set it up as allauth would.
    TOTP.activate(user, generate_totp_secret())
    client = Client()
    client.force_login(user)
    return client


def resolved(gig, agent, at, *, rating=None):
    steps = [
        (0, K.CREATED),
        (0, K.CUSTOMER_MESSAGE),
        (60, K.CLAIMED, agent),
        (120, K.AGENT_MESSAGE, agent),
        (600, K.RESOLVED, agent),
    ]
    if rating:
        steps.append((700, K.RATED, None, {"score": rating}))
    return task_with_history(gig, at, *steps)


def escalated(gig, agent, at):
    return task_with_history(
        gig, at, (0, K.CREATED), (60, K.CLAIMED, agent), (300, K.ESCALATED, agent)
    )


def rolled_up(*brands):
    for brand in brands:
        rollup_recompute(brand, T0 - timedelta(days=3), T0 + timedelta(days=5))


def page_of(response) -> str:
    return response.content.decode()


def brand_slugs(page: str) -> list[str]:
    return re.findall(r'<tr data-brand="([^"]+)">', page)


def brand_row(page: str, slug: str) -> str:
    return re.search(rf'<tr data-brand="{slug}">(.*?)</tr>', page, re.S).group(1)


def cell(page: str, slug: str, name: str) -> str:
    row = brand_row(page, slug)
    return unescape(re.search(rf'<td data-figure="{name}">(.*?)</td>', row, re.S).group(1))


def figure(page: str, name: str) -> str:
    found = re.search(rf'<strong data-figure="{name}">(.*?)</strong>', page, re.S)
    return unescape(found.group(1)).strip()


@pytest.fixture
def two_brands(brand, other_brand):
    agent = AgentUserFactory()
    gig = GigFactory(brand=brand, pay_model=PayModel.PER_RESOLUTION, rate_minor=300)
    other = GigFactory(brand=other_brand, pay_model=PayModel.PER_RESOLUTION, rate_minor=500)
    resolved(gig, agent, T0, rating=5)
    resolved(gig, agent, T0 + timedelta(hours=1), rating=2)
    escalated(gig, agent, T0 + timedelta(hours=2))
    resolved(other, agent, T0, rating=4)
    rolled_up(brand, other_brand)
    return gig, other


# --- access -----------------------------------------------------------------------------


def test_anonymous_users_are_asked_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_brand_admins_are_refused(admin_client):
    response = admin_client.get(URL)
    assert response.status_code == 403
    assert "platform staff only" in response.content.decode()


def test_staff_without_two_factor_are_sent_to_set_it_up(db):
    client = Client()
    client.force_login(StaffUserFactory())
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url != URL


# --- figures ----------------------------------------------------------------------------


def test_each_brand_has_its_row_of_figures_linking_to_its_dashboard(
    staff_client, two_brands, brand, other_brand
):
    response = staff_client.get(URL, RANGE)
    assert response.status_code == 200
    page = page_of(response)
    assert cell(page, "acme", "tasks") == "3"
    # Two resolved of three closed; one of two ratings satisfied.
    assert cell(page, "acme", "resolution_rate") == "66.7%"
    assert cell(page, "acme", "csat_rate") == "50.0%"
    assert cell(page, "borealis", "tasks") == "1"
    assert cell(page, "borealis", "resolution_rate") == "100.0%"
    acme_spend = sum(e.amount_minor + e.fee_minor for e in Earning.objects.filter(brand=brand))
    assert cell(page, "acme", "spend") == f"€{acme_spend / 100:,.2f}"
    assert re.findall(r'href="([^"]+)"', brand_row(page, "acme")) == ["/brands/acme/analytics/"]


def test_gross_volume_matches_the_ledger_and_links_to_the_earnings(staff_client, two_brands):
    response = staff_client.get(URL, RANGE)
    page = page_of(response)
    gross = sum(e.amount_minor + e.fee_minor for e in Earning.objects.all())
    assert figure(page, "gross_volume") == f"€{gross / 100:,.2f}"
    assert figure(page, "active_agents") == "1"
    earnings = reverse("frontend:staff_earning_list") + "?since=2026-03-01&amp;until=2026-03-07"
    assert earnings in response.content.decode()
    for name in ("staff_payrun_list", "staff_qa_disputes", "staff_qa_queue"):
        assert f'href="{reverse(f"frontend:{name}")}"' in response.content.decode()


def test_a_brand_filter_shows_only_that_brand(staff_client, two_brands, brand):
    response = staff_client.get(URL, {**RANGE, "brand": brand.pk})
    page = page_of(response)
    assert brand_slugs(page) == ["acme"]
    own = sum(e.amount_minor + e.fee_minor for e in Earning.objects.filter(brand=brand))
    assert figure(page, "gross_volume") == f"€{own / 100:,.2f}"


def test_a_range_without_activity_shows_no_brands(staff_client, two_brands):
    response = staff_client.get(URL, {"start": "2025-01-01", "end": "2025-01-31"})
    assert response.status_code == 200
    assert b"No brand activity in this range." in response.content


def test_the_default_range_is_the_last_28_days(staff_client, two_brands):
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        response = staff_client.get(URL)
    page = page_of(response)
    assert 'name="start" value="2026-02-06"' in page
    assert cell(page, "acme", "tasks") == "3"


def test_the_page_reads_a_constant_number_of_queries(
    staff_client, two_brands, django_assert_max_num_queries
):
    staff_client.get(URL, RANGE)  # sessions and 2FA state warmed up
    with django_assert_max_num_queries(20) as few:
        staff_client.get(URL, RANGE)
    for index in range(5):
        brand = BrandFactory(slug=f"extra-{index}")
        resolved(GigFactory(brand=brand), AgentUserFactory(), T0)
        rolled_up(brand)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = staff_client.get(URL, RANGE)
    assert len(brand_slugs(page_of(response))) == 7


# --- the range form ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-03-07", "end": "2026-03-01"}, "The end date is before the start date."),
        ({"start": "2024-01-01", "end": "2026-01-01"}, "Choose a range of at most two years."),
        ({"start": "yesterday", "end": "2026-03-01"}, "Enter a date like 2026-03-01."),
        ({**RANGE, "brand": "999999"}, "Choose a brand from the list, or all brands."),
    ],
)
def test_a_bad_range_or_brand_is_a_form_error(staff_client, two_brands, params, message):
    response = staff_client.get(URL, params)
    assert response.status_code == 400
    content = response.content.decode()
    assert message in content
    assert 'id="brands"' not in content
