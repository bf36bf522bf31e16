"""A restarted sandbox process keeps every object, balance and idempotent answer."""

from payouts.stripe_api import stripe_client
from stripe_sandbox.testing import running_sandbox
from tests.stripe_sandbox.builders import available, fund_platform, onboarded_account


def test_a_killed_and_restarted_sandbox_loses_nothing(tmp_path, settings):
    settings.STRIPE_SECRET_KEY = ""
    with running_sandbox(directory=tmp_path) as sandbox:
        settings.STRIPE_SANDBOX_URL = sandbox.url
        client = stripe_client()
        account = onboarded_account(client)
        fund_platform(client, amount=5000)
        transfer = client.v1.transfers.create(
            params={"amount": 1200, "currency": "eur", "destination": account.id},
            options={"idempotency_key": "before-the-crash"},
        )

        sandbox.restart(kill=True)  # SIGKILL: no chance to flush anything

        assert client.v1.accounts.retrieve(account.id).payouts_enabled is True
        assert client.v1.transfers.retrieve(transfer.id).amount == 1200
        assert available(client) == 3800
        assert available(client, stripe_account=account.id) == 1200
        replayed = client.v1.transfers.create(
            params={"amount": 1200, "currency": "eur", "destination": account.id},
            options={"idempotency_key": "before-the-crash"},
        )
        assert replayed.id == transfer.id
