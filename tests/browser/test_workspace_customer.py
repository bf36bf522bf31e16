"""The workspace and the customer page in real browsers, served by daphne:
messages cross live both ways, notes stay internal, and after the agent
resolves, the customer's page turns into the rating form and takes a rating."""

from contextlib import ExitStack

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from gigs.dispatch import task_claim
from gigs.models import Task, TaskStatus
from gigs.services import resolution_codes_seed
from gigs.work import customer_link_token
from tests.gigs.factories import TaskFactory
from tests.gigs.test_eligibility import make_agent
from tests.gigs.test_scale_out import Daphne

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _context(stack, browser, server, user=None):
    context = browser.new_context(base_url=server.http, viewport={"width": 1280, "height": 900})
    stack.callback(context.close)
    if user is not None:
        client = Client()
        client.force_login(user)
        name = settings.SESSION_COOKIE_NAME
        context.add_cookies(
            [{"name": name, "value": client.cookies[name].value, "url": server.http}]
        )
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def test_agent_and_customer_exchange_messages_live_then_the_customer_rates(
    browser, brand, gig, tmp_path
):
    resolution_codes_seed(brand)
    agent = make_agent(brand)
    task = TaskFactory(gig=gig, subject="Tent pole snapped")
    task_claim(agent=agent, task_id=task.pk)
    token = customer_link_token(task)
    with ExitStack() as stack:
        server = stack.enter_context(Daphne("browser", tmp_path))
        workspace = _context(stack, browser, server, agent)
        workspace.goto(f"/agent/work/{task.pk}/")
        customer = _context(stack, browser, server)
        customer.goto(f"/c/{token}/")
        expect(customer.locator("#customer-page")).to_be_visible()
        # Both pages hold their live connection before anyone writes.
        for page in (workspace, customer):
            page.wait_for_function("window.gigdeskLive && window.gigdeskLive.state() === 'open'")

        customer.fill("#customer-state textarea[name=body]", "The middle pole broke on day two.")
        customer.click("#customer-state button[type=submit]")
        expect(workspace.locator("#conversation")).to_contain_text(
            "The middle pole broke on day two.", timeout=3000
        )

        workspace.fill(
            "#reply-form textarea[name=body]", "Sorry! A replacement pole is on its way."
        )
        workspace.locator("#reply-form button", has_text="Send reply").click()
        expect(customer.locator("#messages")).to_contain_text(
            "A replacement pole is on its way.", timeout=3000
        )

        workspace.locator("summary", has_text="Add an internal note").click()
        workspace.fill("#note-form textarea[name=body]", "Customer seems upset; offer a discount.")
        workspace.locator("#note-form button[type=submit]").click()
        expect(workspace.locator("#conversation")).to_contain_text("offer a discount")
        workspace.screenshot(path=str(tmp_path / "workspace.png"), full_page=True)

        workspace.select_option("select[name=resolution_code]", "replacement_sent")
        workspace.locator("form[action$='/resolve/'] button[type=submit]").click()
        expect(customer.locator("#customer-state")).to_contain_text("resolved", timeout=3000)
        expect(customer.locator("#messages")).not_to_contain_text("offer a discount")
        customer.screenshot(path=str(tmp_path / "customer-rate.png"), full_page=True)

        customer.locator("#customer-state input[name=score][value='5']").check()
        customer.click("#customer-state button[type=submit]")
        expect(customer.locator("#customer-state")).to_contain_text("Thank you")

    task = Task.objects.get(pk=task.pk)
    assert (task.status, task.resolution_code, task.csat_score) == (
        TaskStatus.RESOLVED,
        "replacement_sent",
        5,
    )
