"""The foundation's "done when", played in a real browser: a brand admin logs in,
posts a gig and a task, creates an API key, and an API client creates a task with it."""

import json
import urllib.request

import pytest
from django.core.management import call_command

from gigs.models import Gig, Task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def api(live_server, method: str, path: str, key: str, body: dict | None = None):
    request = urllib.request.Request(
        live_server.url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def log_in(page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_brand_admin_posts_gig_and_task_then_api_client_creates_task(page, screenshot, live_server):
    call_command("seed_demo", verbosity=0, history_days=7)
    log_in(page, "admin@acme.demo", "gigdesk-demo")
    assert "/brands/acme-outdoors/" in page.url
    screenshot("01-brand-home")

    # Post a gig.
    page.goto("/brands/acme-outdoors/gigs/new/")
    page.fill("input[name=title]", "Trail shoe fitting chat (EN)")
    page.fill("textarea[name=description]", "Help customers choose the right trail shoe size.")
    page.select_option("select[name=language]", "en")
    page.check("input[name=pay_model][value=per_minute]")
    page.fill("input[name=rate]", "0.40")
    page.fill("input[name=currency]", "EUR")
    page.check("input[name=dispatch_mode][value=open]")
    screenshot("02-gig-form")
    page.click("main form button[type=submit]")
    page.wait_for_load_state("networkidle")
    gig = Gig.objects.get(title="Trail shoe fitting chat (EN)")
    assert gig.rate_minor == 40 and gig.pay_model == "per_minute"
    assert page.locator("h1, h2").filter(has_text="Trail shoe fitting chat").count() >= 1
    screenshot("03-gig-detail")

    # Post a task on it from the web form.
    page.goto("/brands/acme-outdoors/tasks/new/")
    page.select_option("select[name=gig]", str(gig.pk))
    page.fill("input[name=subject]", "Do the Ridge 3 run small?")
    page.fill("textarea[name=body]", "I wear 43 in road shoes. Which size for the Ridge 3?")
    page.click("main form button[type=submit]")
    page.wait_for_load_state("networkidle")
    web_task = Task.objects.get(subject="Do the Ridge 3 run small?")
    assert web_task.gig == gig
    assert page.get_by_text("I wear 43 in road shoes").is_visible()
    screenshot("04-task-detail")

    # Create an API key; the secret is on the page once.
    page.goto("/brands/acme-outdoors/api-keys/")
    page.fill("main form input[name=name]", "Helpdesk sync")
    page.click("main form button:has-text('Create key')")
    page.wait_for_load_state("networkidle")
    secret = page.locator("#new-secret").inner_text().strip()
    assert secret.startswith("gdk_")
    screenshot("05-api-key-created")

    # An API client creates a task with the new key and reads it back.
    body = {
        "gig": gig.pk,
        "subject": "Order 5521: wrong size",
        "body": "I received size 44 instead of 43.",
        "external_id": "zd-5521",
    }
    status, created = api(live_server, "POST", "/api/v1/tasks", secret, body)
    assert status == 201
    status, fetched = api(live_server, "GET", f"/api/v1/tasks/{created['id']}", secret)
    assert status == 200
    assert fetched["subject"] == "Order 5521: wrong size"
    assert fetched["messages"][0]["body"] == "I received size 44 instead of 43."
    status, replayed = api(live_server, "POST", "/api/v1/tasks", secret, body)
    assert (status, replayed["id"]) == (200, created["id"])
    assert Task.objects.filter(external_id="zd-5521").count() == 1

    # The brand sees the API's task in its console.
    page.goto(f"/brands/acme-outdoors/tasks/?gig={gig.pk}")
    assert page.get_by_text("Order 5521: wrong size").is_visible()
    assert page.get_by_text("Do the Ridge 3 run small?").is_visible()
    screenshot("06-task-list")
