"""QA dashboard pages and the QA CSV export: who may see them, what they show,
tenant scope, and a query count that does not grow with the reviews."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from brands.models import BrandRole
from qa.models import Review, ReviewStatus
from qa.scorecards import gig_qa_settings_update
from qa.services import assignment_assign, assignment_create_for_task, review_submit
from tests.brands.factories import MembershipFactory
from tests.frontend.money_helpers import client_for, staff_with_two_factor
from tests.marketplace.factories import AgentProfileFactory
from tests.qa.factories import EXAMPLE_RATINGS, closed_task, published_scorecard

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(db):
    return AgentProfileFactory(
        display_name="Ana", user__email="agent@example.com", user__full_name="Ana Agent"
    ).user


@pytest.fixture
def reviewer(brand):
    return MembershipFactory(
        brand=brand,
        role=BrandRole.QA_REVIEWER,
        user__email="rita@acme.test",
        user__full_name="Rita Reviewer",
    ).user


@pytest.fixture
def version(brand, brand_admin, gig):
    version = published_scorecard(actor=brand_admin, brand=brand)
    gig_qa_settings_update(actor=brand_admin, gig=gig, scorecard=version.scorecard)
    return version


@pytest.fixture
def submitted(version, gig, agent, reviewer):
    """The issue's worked example, submitted through the services: 72.0, failed."""
    assignment = assignment_create_for_task(
        task=closed_task(gig=gig, agent=agent), reasons=["random"]
    )
    assignment = assignment_assign(actor=reviewer, assignment=assignment, reviewer=reviewer)
    return review_submit(reviewer=reviewer, assignment=assignment, ratings=EXAMPLE_RATINGS)


@pytest.fixture
def foreign(other_brand, other_gig):
    """A submitted review of another brand: never on ``brand``'s pages."""
    admin = MembershipFactory(brand=other_brand, role=BrandRole.ADMIN).user
    version = published_scorecard(actor=admin, brand=other_brand, name="Borealis card")
    agent = AgentProfileFactory(display_name="Olaf").user
    return Review.objects.create(
        task=closed_task(gig=other_gig, agent=agent),
        brand=other_brand,
        gig=other_gig,
        agent=agent,
        reviewer=admin,
        scorecard_version=version,
        status=ReviewStatus.SUBMITTED,
        ratings=EXAMPLE_RATINGS,
        score=Decimal("72.0"),
        passed=False,
        submitted_at=timezone.now(),
    )


def dashboard_url(brand):
    return reverse("frontend:brand_qa_dashboard", args=[brand.slug])


def export_url(brand):
    return reverse("frontend:brand_qa_export", args=[brand.slug])


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


@pytest.mark.parametrize("role", [BrandRole.ADMIN, BrandRole.QA_REVIEWER, BrandRole.VIEWER])
def test_every_brand_role_reads_the_dashboard(brand, submitted, foreign, role):
    member = MembershipFactory(brand=brand, role=role).user

    response = client_for(member).get(dashboard_url(brand))

    assert response.status_code == 200
    page = response.content.decode()
    assert "<td>Ana</td>" in page
    assert "Rita Reviewer" in page
    assert "72.0" in page
    assert "Data protection" in page
    assert "<td>Olaf</td>" not in page
    assert "Borealis billing" not in page
    assert 'id="qa-trend-data"' in page


def test_the_empty_dashboard_says_so(brand, brand_admin):
    page = client_for(brand_admin).get(dashboard_url(brand)).content.decode()

    assert "No submitted reviews" in page
    assert "No reviews submitted in the last 12 weeks." in page


def test_another_brands_member_is_refused(brand, other_brand, submitted):
    outsider = MembershipFactory(brand=other_brand, role=BrandRole.ADMIN).user
    client = client_for(outsider)

    assert client.get(dashboard_url(brand)).status_code in (403, 404)
    assert client.get(export_url(brand)).status_code in (403, 404)


def test_an_agent_cannot_read_the_dashboard(brand, agent, submitted):
    client = client_for(agent)
    assert client.get(dashboard_url(brand)).status_code in (403, 404)
    assert client.get(reverse("frontend:staff_qa_dashboard")).status_code == 403


def test_the_brand_export_streams_only_its_own_reviews(brand, brand_admin, submitted, foreign):
    response = client_for(brand_admin).get(export_url(brand))

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = read_csv(response)
    header, body = rows[0], rows[1:]
    assert [row[0] for row in body] == [str(submitted.pk)]
    row = dict(zip(header, body[0], strict=True))
    assert row["agent"] == "Ana"
    assert row["reviewer"] == "Rita Reviewer"
    assert (row["score"], row["passed"], row["critical fail"]) == ("72.0", "no", "no")
    assert row["rating: upsell"] == "N/A"
    assert row["gig"] == "Order support (EN)"


def test_staff_see_every_brand_and_can_filter_by_one(brand, other_brand, submitted, foreign):
    client = client_for(staff_with_two_factor("staff@gigdesk.test"))

    everything = client.get(reverse("frontend:staff_qa_dashboard")).content.decode()
    assert "<td>Ana</td>" in everything and "<td>Olaf</td>" in everything
    one = client.get(reverse("frontend:staff_qa_dashboard"), {"brand": other_brand.slug})
    assert "<td>Olaf</td>" in one.content.decode()
    assert "<td>Ana</td>" not in one.content.decode()

    rows = read_csv(client.get(reverse("frontend:staff_qa_export"), {"brand": brand.slug}))
    assert [row[0] for row in rows[1:]] == [str(submitted.pk)]
    every_row = read_csv(client.get(reverse("frontend:staff_qa_export")))
    assert len(every_row) == 3


def _add_reviews(count, *, version, gig, agent, reviewer):
    now = timezone.now()
    for number in range(count):
        Review.objects.create(
            task=closed_task(gig=gig, agent=agent),
            brand=gig.brand,
            gig=gig,
            agent=agent,
            reviewer=reviewer,
            scorecard_version=version,
            status=ReviewStatus.SUBMITTED,
            ratings=EXAMPLE_RATINGS,
            score=Decimal("72.0"),
            passed=False,
            submitted_at=now - timedelta(days=number % 80),
        )


def test_the_dashboard_makes_the_same_queries_at_10_and_100_reviews(
    brand, brand_admin, version, gig, agent, reviewer
):
    client = client_for(brand_admin)
    _add_reviews(10, version=version, gig=gig, agent=agent, reviewer=reviewer)
    with CaptureQueriesContext(connection) as at_10:
        assert client.get(dashboard_url(brand)).status_code == 200

    _add_reviews(90, version=version, gig=gig, agent=agent, reviewer=reviewer)
    with CaptureQueriesContext(connection) as at_100:
        assert client.get(dashboard_url(brand)).status_code == 200

    assert len(at_100) == len(at_10)
    assert len(at_100) <= 25
