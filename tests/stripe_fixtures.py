"""Stripe sandbox fixtures for every test that talks to Stripe (loaded by tests/conftest.py).

One sandbox subprocess and one webhook receiver serve the whole run; each test
that asks for ``sandbox`` gets it blank, with every switch off, and the
platform's settings pointing at it. Everything goes through the real SDK:
nothing here patches it.

``tests/stripe_sandbox/conftest.py`` keeps its own sandbox on purpose: those
tests stop and restart the process.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.http import HttpResponse
from django.test import Client

from stripe_sandbox.testing import SandboxProcess, WebhookReceiver, running_sandbox
from tests.payouts.stripe_helpers import post_to_endpoint


@pytest.fixture(scope="session")
def stripe_webhooks():
    """Where the sandbox sends its signed webhooks; tests pass them on with ``deliver``."""
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def sandbox_process(tmp_path_factory, stripe_webhooks):
    with running_sandbox(
        directory=tmp_path_factory.mktemp("stripe-sandbox"), webhook_url=stripe_webhooks.url
    ) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(sandbox_process, stripe_webhooks, settings) -> SandboxProcess:
    """The shared sandbox, blank, with the platform pointing at it."""
    sandbox_process.reset()
    stripe_webhooks.clear()
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    settings.STRIPE_SANDBOX_URL = sandbox_process.url
    return sandbox_process


@pytest.fixture
def deliver(db, django_capture_on_commit_callbacks) -> Callable[..., HttpResponse]:
    """POST a webhook to our endpoint, as Stripe would, and run the job it queues,
    as the worker would.

    ``deliver(body, signature)`` asserts the endpoint answered ``expect`` (200
    unless told; ``expect=None`` checks nothing) and returns the response.
    """

    def deliver(body: bytes, signature: str | None, *, expect: int | None = 200) -> HttpResponse:
        with django_capture_on_commit_callbacks(execute=True):
            response = post_to_endpoint(Client(), body, signature)
        if expect is not None:
            assert response.status_code == expect, response.content
        return response

    return deliver
