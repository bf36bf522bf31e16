"""The sandbox's seed switch: onboarded accounts and platform funds for benchmarks."""

import sqlite3

import pytest
import requests

from tests.stripe_sandbox.builders import available


def test_seeded_accounts_are_onboarded_and_seeded_funds_can_be_transferred(client, sandbox):
    account_ids = sandbox.seed(onboarded_accounts=3, platform_funds=("eur", 9000))

    assert len(set(account_ids)) == 3
    account = client.v1.accounts.retrieve(account_ids[0])
    assert (account.payouts_enabled, account.details_submitted) == (True, True)
    assert account.capabilities.transfers == "active"
    assert available(client) == 9000
    transfer = client.v1.transfers.create(
        params={"amount": 2500, "currency": "eur", "destination": account_ids[2]}
    )
    assert transfer.destination == account_ids[2]
    assert available(client) == 6500


@pytest.mark.parametrize(
    "body",
    [
        {"onboarded_accounts": -1},
        {"onboarded_accounts": 1, "country": "Ireland"},
        {"platform_funds": {"currency": "euro", "amount": 5}},
        {"platform_funds": {"currency": "eur", "amount": 0}},
        {"platform_funds": "lots"},
    ],
)
def test_a_bad_seed_request_is_refused_and_creates_nothing(client, sandbox, body):
    response = requests.post(f"{sandbox.url}/_sandbox/seed", json=body, timeout=10)

    assert response.status_code == 400
    assert response.json()["error"]
    with sqlite3.connect(f"file:{sandbox.state_path}?mode=ro", uri=True) as state:
        (accounts,) = state.execute(
            "SELECT count(*) FROM objects WHERE type = 'account'"
        ).fetchone()
    assert accounts == 0
    assert available(client) == 0
