"""One sandbox subprocess and one webhook receiver for the whole package; a blank sandbox per test."""

import pytest

from payouts.stripe_api import stripe_client
from stripe_sandbox.testing import SandboxProcess, WebhookReceiver, running_sandbox


@pytest.fixture(scope="package")
def webhook_receiver():
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="package")
def sandbox_process(tmp_path_factory, webhook_receiver):
    with running_sandbox(
        directory=tmp_path_factory.mktemp("stripe-sandbox"), webhook_url=webhook_receiver.url
    ) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(sandbox_process, webhook_receiver, settings) -> SandboxProcess:
    """The shared sandbox, reset, with the platform's settings pointing at it."""
    sandbox_process.reset()
    webhook_receiver.clear()
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    settings.STRIPE_SANDBOX_URL = sandbox_process.url
    return sandbox_process


@pytest.fixture
def client(sandbox):
    return stripe_client()


@pytest.fixture
def client_without_retries(sandbox):
    """For tests that must see the first failure the SDK would otherwise retry away."""
    return stripe_client(max_network_retries=0)
