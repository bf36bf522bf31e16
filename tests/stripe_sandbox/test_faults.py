"""The fault and rate-limit switches, seen through the SDK as Stripe's own outages would be."""

import pytest
import stripe

from payouts.stripe_api import stripe_client
from stripe_sandbox.testing import pay_checkout
from tests.stripe_sandbox.builders import (
    available,
    fund_platform,
    onboarded_account,
    top_up_session,
)

CLIENT_TIMEOUT_SECONDS = 0.5
HOLD_SECONDS = 1.5  # longer than the client waits


@pytest.fixture
def payee(client):
    account = onboarded_account(client)
    fund_platform(client, amount=10_000)
    return account


def transfer_params(payee, amount=1000):
    return {"amount": amount, "currency": "eur", "destination": payee.id}


def test_failed_requests_raise_api_error_until_the_faults_are_used_up(
    sandbox, client_without_retries, payee
):
    sandbox.fail_next(2)

    for _ in range(2):
        with pytest.raises(stripe.APIError):
            client_without_retries.v1.transfers.create(params=transfer_params(payee))
    made = client_without_retries.v1.transfers.create(params=transfer_params(payee))

    assert made.amount == 1000
    assert len(client_without_retries.v1.transfers.list().data) == 1


def test_the_sdk_retries_through_failures_and_transfers_once(sandbox, client, payee):
    sandbox.fail_next(2)  # the default client retries twice

    made = client.v1.transfers.create(params=transfer_params(payee))

    assert [t.id for t in client.v1.transfers.list()] == [made.id]
    assert available(client) == 9000


def impatient_client():
    """Gives up after half a second, and lets the test see that instead of retrying."""
    return stripe_client(max_network_retries=0, timeout_seconds=CLIENT_TIMEOUT_SECONDS)


def test_a_timed_out_request_did_not_run(sandbox, client, payee):
    sandbox.fail_next(mode="timeout", hold_seconds=HOLD_SECONDS)

    with pytest.raises(stripe.APIConnectionError):
        impatient_client().v1.transfers.create(params=transfer_params(payee))

    assert client.v1.transfers.list().data == []


def test_a_lost_response_is_recovered_by_retrying_with_the_same_key(sandbox, client, payee):
    """The pay-run case: Stripe made the transfer, we never heard; the retry must not pay twice."""
    sandbox.fail_next(mode="lost_response", hold_seconds=HOLD_SECONDS)
    key = {"idempotency_key": "payrun-9-line-4"}

    with pytest.raises(stripe.APIConnectionError):
        impatient_client().v1.transfers.create(params=transfer_params(payee), options=key)
    retried = client.v1.transfers.create(params=transfer_params(payee), options=key)

    assert [t.id for t in client.v1.transfers.list()] == [retried.id]
    assert retried.last_response.headers["Idempotent-Replayed"] == "true"
    assert available(client) == 9000


def test_the_rate_limit_answers_429_as_rate_limit_error(sandbox, client_without_retries):
    sandbox.rate_limit(2)

    with pytest.raises(stripe.RateLimitError) as limited:
        for _ in range(10):
            client_without_retries.v1.balance.retrieve()

    assert limited.value.http_status == 429
    sandbox.rate_limit(None)
    assert client_without_retries.v1.balance.retrieve().object == "balance"


def test_switches_leave_the_control_api_and_hosted_pages_alone(sandbox, client):
    session = top_up_session(client, amount=100)
    sandbox.fail_next(5)

    assert pay_checkout(session.url).status_code == 302
    assert len(sandbox.switches()["faults"]) == 5
