"""The agent's earnings page and its CSV export."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gigs.dispatch import task_claim
from gigs.models import PayModel
from gigs.services import resolution_codes_seed
from gigs.work import task_resolve
from payouts.earnings import earnings_release_due
from payouts.models import Earning
from tests.gigs.factories import GigFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent
from tests.gigs.test_work_services import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(brand):
    resolution_codes_seed(brand)
    return make_agent(brand)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def resolve(agent, task):
    task_claim(agent=agent, task_id=task.pk)
    task_resolve(agent=agent, task_id=task.pk, resolution_code="answered")


def test_an_agent_without_work_sees_an_empty_statement(agent):
    response = client_for(agent).get("/agent/earnings/")
    assert response.status_code == 200
    assert "No earnings yet" in response.content.decode()


def test_the_statement_shows_each_task_with_its_rate_and_amount(brand, agent):
    gig = GigFactory(brand=brand, title="Returns desk", rate_minor=250, max_tasks_per_agent=3)
    resolve(agent, TaskFactory(gig=gig, subject="Broken zip"))
    html = client_for(agent).get("/agent/earnings/").content.decode()
    assert "Broken zip" in html
    assert "€2.50/resolution" in html
    assert "Pending until" in html
    # Balances: 2.50 pending, nothing available yet.
    assert "<td>€2.50</td>" in html
    assert "<strong>€0.00</strong>" in html


def test_a_hold_that_has_ended_is_released_when_the_page_is_read(brand, agent):
    resolve(agent, TaskFactory(gig=GigFactory(brand=brand, rate_minor=250)))
    Earning.objects.update(available_at=timezone.now() - timedelta(minutes=1))
    html = client_for(agent).get("/agent/earnings/").content.decode()
    assert "<strong>€2.50</strong>" in html
    assert ">Available<" in html


def test_the_csv_has_a_line_per_task_with_minutes_rate_and_amount(brand, agent):
    gig = GigFactory(brand=brand, pay_model=PayModel.PER_MINUTE, rate_minor=60)
    task = TaskFactory(gig=gig, subject="Plan change")
    start = timezone.now().replace(microsecond=0)
    with at(start):
        task_claim(agent=agent, task_id=task.pk)
    with at(start + timedelta(seconds=45)):  # within the heartbeat grace
        task_resolve(agent=agent, task_id=task.pk, resolution_code="answered")
    response = client_for(agent).get("/agent/earnings.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["earned_at", "task_id", "subject"]
    [line] = rows[1:]
    assert (line[1], line[2], line[6], line[7], line[8], line[9]) == (
        str(task.pk),
        "Plan change",
        "0.75",
        "0.60",
        "0.45",
        "EUR",
    )


def test_filters_narrow_the_statement(brand, other_brand, agent):
    resolve(agent, TaskFactory(gig=GigFactory(brand=brand), subject="Acme work"))
    html = client_for(agent).get("/agent/earnings/?status=available").content.decode()
    assert "Acme work" not in html
    assert "No earnings match these filters." in html


def test_an_agent_never_sees_another_agents_earnings(brand, agent):
    resolve(agent, TaskFactory(gig=GigFactory(brand=brand), subject="Private work"))
    other = make_agent(brand)
    assert "Private work" not in client_for(other).get("/agent/earnings/").content.decode()
    body = b"".join(client_for(other).get("/agent/earnings.csv").streaming_content).decode()
    assert "Private work" not in body


def test_brand_users_cannot_open_the_earnings_page(brand_admin):
    assert client_for(brand_admin).get("/agent/earnings/").status_code == 403
    assert Client().get("/agent/earnings/").status_code == 302  # to the login page


def test_release_runs_only_for_the_reader(brand, agent):
    other = make_agent(brand)
    gig = GigFactory(brand=brand, max_tasks_per_agent=2)
    resolve(agent, TaskFactory(gig=gig))
    resolve(other, TaskFactory(gig=gig))
    Earning.objects.update(available_at=timezone.now() - timedelta(minutes=1))
    client_for(agent).get("/agent/earnings/")
    assert Earning.objects.get(agent=other).status == "pending"
    assert earnings_release_due() == 1
