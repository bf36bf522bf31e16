"""payouts.stripe_api: which Stripe the platform talks to, and with which webhook secret."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from payouts.stripe_api import SANDBOX_WEBHOOK_SECRET, uses_sandbox, webhook_secret


def test_without_a_secret_key_the_sandbox_and_its_dev_secret_are_used(settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""

    assert uses_sandbox()
    assert webhook_secret() == SANDBOX_WEBHOOK_SECRET


def test_a_configured_webhook_secret_wins(settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_from_the_dashboard"

    assert webhook_secret() == "whsec_from_the_dashboard"


def test_real_stripe_without_a_webhook_secret_is_a_configuration_error(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_real"
    settings.STRIPE_WEBHOOK_SECRET = ""

    assert not uses_sandbox()
    with pytest.raises(ImproperlyConfigured):
        webhook_secret()
