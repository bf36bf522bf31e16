"""The agent's own figures page: their numbers per gig next to the gig's
median, from a hand-built history; nobody else's identity or data on it."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from analytics.rollup import rollup_recompute
from gigs.models import PayModel
from gigs.models import TaskEventKind as K
from tests.analytics.histories import task_with_history
from tests.gigs.factories import GigFactory
from tests.marketplace.factories import AgentUserFactory

pytestmark = pytest.mark.django_db
URL = reverse("frontend:agent_figures")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def resolved(gig, agent, t0, handle, score=None):
    steps = [(0, K.CREATED), (0, K.CUSTOMER_MESSAGE), (60, K.CLAIMED, agent)]
    steps += [(90, K.AGENT_MESSAGE, agent), (60 + handle, K.RESOLVED, agent)]
    if score:
        steps.append((60 + handle + 10, K.RATED, None, {"score": score}))
    return task_with_history(gig, t0, *steps)


@pytest.fixture
def world(brand, other_brand):
    """Me and two colleagues on one gig; a gig of another brand only a stranger worked."""
    gig = GigFactory(
        brand=brand, title="Returns", pay_model=PayModel.PER_RESOLUTION, rate_minor=300
    )
    me = AgentUserFactory(email="me@agents.test", full_name="Mia Me")
    bea = AgentUserFactory(email="bea@agents.test", full_name="Bea Colleague")
    cal = AgentUserFactory(email="cal@agents.test", full_name="Cal Colleague")
    stranger = AgentUserFactory(email="stranger@agents.test")
    secret = GigFactory(brand=other_brand, title="Secret gig")
    now = timezone.now()
    t0 = now - timedelta(days=3)
    resolved(gig, me, t0, 300, score=5)
    resolved(gig, me, t0 + timedelta(hours=1), 300, score=2)
    resolved(gig, bea, t0, 600, score=5)
    resolved(gig, cal, t0, 900)
    resolved(secret, stranger, t0, 120)
    for b in (brand, other_brand):
        rollup_recompute(b, t0 - timedelta(days=1), now + timedelta(hours=1))
    return gig, me


def rows_by_name(response, index=0):
    return {row["name"]: row for row in response.context["gigs"][index]["rows"]}


def test_my_figures_and_the_gigs_median_match_the_history(world):
    gig, me = world
    response = client_for(me).get(URL)
    assert response.status_code == 200
    [item] = response.context["gigs"]
    assert item["gig"] == gig and item["agents"] == 3
    rows = rows_by_name(response)
    # Me: 2 closed in 5 min each; colleagues 1 each, in 10 and 15 min.
    assert (rows["closed"]["mine"], rows["closed"]["median"]) == ("2", "1")
    assert (rows["handle_avg"]["mine"], rows["handle_avg"]["median"]) == (
        "5 min 00 s",
        "10 min 00 s",
    )
    assert (rows["first_response_avg"]["mine"], rows["first_response_avg"]["median"]) == (
        "1 min 30 s",
        "1 min 30 s",
    )
    assert rows["resolution_rate"]["mine"] == "100.0%"
    assert rows["csat_rate"]["mine"] == "50.0%"
    # Only two agents were rated: their median would give a colleague's CSAT away.
    assert rows["csat_rate"]["median"] == "–"
    # Per resolution at €3.00 for 5 min engaged: €36.00 an hour.
    assert item["per_hour"] == ["€36.00 per engaged hour"]
    assert [(w.closed, w.rated) for w in response.context["weeks"] if w.closed] == [(2, 2)]
    assert sum(response.context["chart_data"]["closed"]) == 2
    assert b'id="agent-trend-data"' in response.content


def test_the_page_names_no_other_agent(world):
    _, me = world
    content = client_for(me).get(URL).content.decode()
    for trace in ("bea@agents.test", "Bea Colleague", "cal@agents.test", "Cal Colleague"):
        assert trace not in content
    assert "stranger@agents.test" not in content and "Secret gig" not in content


def test_another_agents_work_never_shows_as_mine(world):
    newcomer = AgentUserFactory()
    response = client_for(newcomer).get(URL)
    assert response.context["gigs"] == []
    assert b"You did no work in this period." in response.content


def test_a_period_without_the_work_shows_none(world):
    _, me = world
    today = timezone.now().date()
    response = client_for(me).get(
        URL,
        {
            "start": (today - timedelta(days=60)).isoformat(),
            "end": (today - timedelta(days=30)).isoformat(),
        },
    )
    assert response.context["gigs"] == []


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        ("2026-03-10", "2026-03-01", "The end date is before the start date."),
        ("2022-01-01", "2026-01-01", "Choose a range of at most two years."),
        ("yesterday", "2026-01-01", "Enter a date like 2026-03-01."),
    ],
)
def test_a_bad_period_is_a_form_error(start, end, says):
    response = client_for(AgentUserFactory()).get(URL, {"start": start, "end": end})
    assert response.status_code == 400
    assert says in response.content.decode()


def test_brand_users_are_turned_away(brand_admin):
    response = client_for(brand_admin).get(URL)
    assert response.status_code == 403
