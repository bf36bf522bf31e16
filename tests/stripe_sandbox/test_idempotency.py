"""Idempotency-Key: the same request replays its first answer; a different one is refused."""

import pytest
import stripe

from tests.stripe_sandbox.builders import available, fund_platform, onboarded_account


@pytest.fixture
def payee(client):
    account = onboarded_account(client)
    fund_platform(client, amount=10_000)
    return account


def pay(client, payee, *, key, amount=1000, **params):
    return client.v1.transfers.create(
        params={"amount": amount, "currency": "eur", "destination": payee.id, **params},
        options={"idempotency_key": key},
    )


def test_the_same_key_and_body_replay_the_first_answer(client, payee):
    first = pay(client, payee, key="payrun-1-line-1")

    again = pay(client, payee, key="payrun-1-line-1")

    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert again.last_response.headers["Original-Request"] == first.last_response.request_id
    assert "Idempotent-Replayed" not in first.last_response.headers
    assert len(client.v1.transfers.list().data) == 1
    assert available(client) == 9000


def test_the_same_key_with_another_body_is_an_idempotency_error(client, payee):
    pay(client, payee, key="payrun-1-line-1", amount=1000)

    with pytest.raises(stripe.IdempotencyError):
        pay(client, payee, key="payrun-1-line-1", amount=2000)

    assert len(client.v1.transfers.list().data) == 1


def test_the_same_key_on_another_endpoint_is_an_idempotency_error(client, payee):
    transfer = pay(client, payee, key="shared-key")

    with pytest.raises(stripe.IdempotencyError):
        client.v1.transfers.reversals.create(transfer.id, options={"idempotency_key": "shared-key"})


def test_a_refusal_is_saved_and_replayed_like_stripe_does(client, payee):
    """Once an endpoint runs, even a refusal is the key's answer: retry with a new key."""
    with pytest.raises(stripe.InvalidRequestError):
        pay(client, payee, key="too-much", amount=50_000)
    fund_platform(client, amount=50_000)

    with pytest.raises(stripe.InvalidRequestError) as replayed:
        pay(client, payee, key="too-much", amount=50_000)

    assert replayed.value.code == "balance_insufficient"
    assert replayed.value.headers["Idempotent-Replayed"] == "true"
    assert pay(client, payee, key="too-much-2", amount=50_000).amount == 50_000


def test_a_request_that_fails_validation_saves_nothing_for_its_key(client, payee):
    with pytest.raises(stripe.InvalidRequestError) as invalid:
        client.v1.transfers.create(
            params={"amount": 1000, "currency": "eur"}, options={"idempotency_key": "fix-me"}
        )
    assert invalid.value.code == "parameter_missing"

    fixed = pay(client, payee, key="fix-me")

    assert fixed.amount == 1000


def test_keys_are_scoped_per_account(client, payee):
    platform_payout = client.v1.payouts.create(
        params={"amount": 100, "currency": "eur"}, options={"idempotency_key": "payout-1"}
    )
    client.v1.transfers.create(params={"amount": 500, "currency": "eur", "destination": payee.id})

    connected_payout = client.v1.payouts.create(
        params={"amount": 100, "currency": "eur"},
        options={"idempotency_key": "payout-1", "stripe_account": payee.id},
    )

    assert connected_payout.id != platform_payout.id
