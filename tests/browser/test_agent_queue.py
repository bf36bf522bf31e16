"""The live queue in a real browser, served by a real daphne process (the live
server of pytest-django speaks no WebSocket): two agents see a new task
appear, one claims it, and it leaves the other's queue within a second."""

import time
from contextlib import ExitStack

import pytest
import requests
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from gigs.models import Task
from tests.gigs.test_eligibility import make_agent
from tests.gigs.test_scale_out import Daphne

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def queue_page(stack: ExitStack, browser, server: Daphne, agent, screenshot_dir=None):
    client = Client()
    client.force_login(agent)
    name = settings.SESSION_COOKIE_NAME
    context = browser.new_context(base_url=server.http, viewport={"width": 1280, "height": 900})
    stack.callback(context.close)
    context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": server.http}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto("/agent/queue/")
    expect(page.locator("#live-status")).to_have_text("Live")
    return page


def test_a_task_appears_live_and_leaves_the_other_queue_when_claimed(
    browser, brand, gig, api_secret, tmp_path
):
    ana, ben = make_agent(brand), make_agent(brand)
    with ExitStack() as stack:
        server = stack.enter_context(Daphne("browser", tmp_path))
        ana_page = queue_page(stack, browser, server, ana)
        ben_page = queue_page(stack, browser, server, ben)
        expect(ana_page.locator("#offers-empty")).to_be_visible()
        expect(ana_page.locator("#presence-label")).to_have_text("online")

        response = requests.post(
            f"{server.http}/api/v1/tasks",
            json={"gig": gig.pk, "subject": "Sleeping bag zip stuck", "body": "Help!"},
            headers={"Authorization": f"Bearer {api_secret}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        task_id = response.json()["id"]

        for page in (ana_page, ben_page):
            offer = page.locator("#offers li")
            expect(offer).to_have_count(1)
            expect(offer).to_contain_text("Sleeping bag zip stuck")
            expect(offer).to_contain_text("Acme Outdoors")
            expect(offer).to_contain_text("€2.50 per resolution")
        expect(ana_page.locator("#offers-empty")).to_be_hidden()
        ana_page.screenshot(path=str(tmp_path / "queue-offer.png"), full_page=True)

        ben_page.locator("#offers li button", has_text="Claim").click()
        claimed_at = time.monotonic()
        expect(ana_page.locator("#offers li")).to_have_count(0, timeout=1000)
        assert time.monotonic() - claimed_at < 1.5

        held = ben_page.locator("#held li")
        expect(held).to_contain_text("Sleeping bag zip stuck")
        assert held.locator("a").get_attribute("href") == f"/agent/work/{task_id}/"
        expect(ben_page.locator("#offers li")).to_have_count(0)
        ben_page.screenshot(path=str(tmp_path / "queue-claimed.png"), full_page=True)

        # Pausing answers with a fresh state; the toggle offers the way back.
        ana_page.click("#presence-toggle")
        expect(ana_page.locator("#presence-label")).to_have_text("paused")
        expect(ana_page.locator("#presence-toggle")).to_have_text("Go online")

    assert Task.objects.get(pk=task_id).holder_id == ben.pk


def test_a_claim_refused_by_the_server_is_shown_on_the_offer(browser, brand, gig, tmp_path):
    ana = make_agent(brand)
    task = Task.objects.create(brand=brand, gig=gig, subject="Return label", language="en")
    with ExitStack() as stack:
        server = stack.enter_context(Daphne("browser", tmp_path))
        page = queue_page(stack, browser, server, ana)
        expect(page.locator("#offers li")).to_have_count(1)
        # Meanwhile the gig is paused: the claim is refused, and the offer goes.
        gig.status = "paused"
        gig.save(update_fields=["status"])
        page.locator("#offers li button", has_text="Claim").click()
        expect(page.locator("#queue-notice")).to_contain_text("paused")
        expect(page.locator("#offers li")).to_have_count(0)
    task.refresh_from_db()
    assert task.holder_id is None
