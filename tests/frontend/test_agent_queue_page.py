"""The agent's live queue page: a shell for the WebSocket, with the reasons an
agent would see no work spelt out."""

import pytest
from django.test import Client
from django.urls import reverse

from brands.models import PoolStatus
from gigs.dispatch import task_claim
from tests.gigs.factories import TaskFactory
from tests.gigs.test_eligibility import make_agent
from tests.marketplace.factories import AgentProfileFactory

pytestmark = pytest.mark.django_db

QUEUE_URL = "/agent/queue/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_queue_lives_at_agent_queue():
    assert reverse("frontend:agent_queue") == QUEUE_URL


def test_an_approved_agent_gets_the_live_queue(brand):
    agent = make_agent(brand)
    response = client_for(agent).get(QUEUE_URL)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="live-queue"' in body
    assert "js/agent-queue.js" in body
    assert "Acme Outdoors" in body
    assert "No brand has approved you yet" not in body
    # The nav links here.
    assert f'href="{QUEUE_URL}"' in body


def test_an_agent_without_an_approved_pool_is_sent_to_the_brands(brand):
    agent = make_agent(brand, pool_status=PoolStatus.APPLIED)
    response = client_for(agent).get(QUEUE_URL)
    body = response.content.decode()
    assert "No brand has approved you yet" in body
    assert reverse("frontend:agent_brands") in body
    assert 'id="live-queue"' not in body


def test_an_agent_who_left_every_pool_still_sees_the_tasks_they_hold(brand, gig):
    agent = make_agent(brand)
    task = TaskFactory(gig=gig)
    task_claim(agent=agent, task_id=task.pk)
    agent.pool_memberships.update(status=PoolStatus.BLOCKED)
    body = client_for(agent).get(QUEUE_URL).content.decode()
    assert "No brand has approved you yet" in body
    assert 'id="live-queue"' in body


def test_an_agent_without_languages_is_told_to_add_them(brand):
    agent = make_agent(brand, language=None)
    body = client_for(agent).get(QUEUE_URL).content.decode()
    assert "your profile lists none yet" in body
    assert reverse("frontend:agent_profile") + "#languages" in body


def test_an_agent_with_languages_is_not_nagged(brand):
    agent = make_agent(brand)
    body = client_for(agent).get(QUEUE_URL).content.decode()
    assert "your profile lists none yet" not in body


def test_a_brand_user_gets_403(brand_admin):
    response = client_for(brand_admin).get(QUEUE_URL)
    assert response.status_code == 403


def test_a_visitor_is_sent_to_log_in(db):
    response = Client().get(QUEUE_URL)
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_an_agent_without_a_profile_still_gets_the_page(db):
    agent = AgentProfileFactory().user
    agent.agent_profile.delete()
    response = client_for(agent).get(QUEUE_URL)
    assert response.status_code == 200
    assert "your profile lists none yet" in response.content.decode()
