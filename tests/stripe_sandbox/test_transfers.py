"""Connect transfers from the platform's balance, their refusals, and reversals."""

import pytest
import stripe

from tests.stripe_sandbox.builders import (
    available,
    express_account,
    fund_platform,
    onboarded_account,
)


def test_a_transfer_to_an_unknown_account_is_refused(client):
    fund_platform(client, amount=5000)

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.transfers.create(
            params={"amount": 1000, "currency": "eur", "destination": "acct_missing"}
        )

    assert (refused.value.code, refused.value.param) == ("resource_missing", "destination")
    assert "No such destination: 'acct_missing'" in refused.value.user_message


def test_a_transfer_to_an_account_without_onboarding_is_refused(client):
    fund_platform(client, amount=5000)
    account = express_account(client)

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.transfers.create(
            params={"amount": 1000, "currency": "eur", "destination": account.id}
        )

    assert refused.value.code == "insufficient_capabilities_for_transfer"
    assert available(client) == 5000


def test_a_transfer_beyond_the_platform_balance_is_refused_then_succeeds_once_funded(client):
    account = onboarded_account(client)
    transfer = {"amount": 3000, "currency": "eur", "destination": account.id}

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.transfers.create(params=transfer)
    assert refused.value.code == "balance_insufficient"
    assert refused.value.http_status == 400

    fund_platform(client, amount=5000)
    made = client.v1.transfers.create(params=transfer)

    assert made.id.startswith("tr_")
    assert (made.amount, made.destination, made.reversed) == (3000, account.id, False)
    assert available(client) == 2000
    assert available(client, stripe_account=account.id) == 3000


def test_a_transfer_sends_transfer_created(client, webhook_receiver):
    account = onboarded_account(client)
    fund_platform(client, amount=5000)

    made = client.v1.transfers.create(
        params={
            "amount": 1000,
            "currency": "eur",
            "destination": account.id,
            "transfer_group": "payrun-3",
            "metadata": {"payrun_line": "3-17"},
        }
    )

    [webhook] = webhook_receiver.wait_for("transfer.created")
    assert webhook.event["data"]["object"]["id"] == made.id
    assert webhook.event["data"]["object"]["metadata"] == {"payrun_line": "3-17"}


def test_transfers_list_filters_by_destination_and_group(client):
    first, second = onboarded_account(client), onboarded_account(client)
    fund_platform(client, amount=5000)
    to_first = client.v1.transfers.create(
        params={"amount": 100, "currency": "eur", "destination": first.id, "transfer_group": "a"}
    )
    to_second = client.v1.transfers.create(
        params={"amount": 200, "currency": "eur", "destination": second.id, "transfer_group": "b"}
    )

    assert [t.id for t in client.v1.transfers.list(params={"destination": first.id})] == [
        to_first.id
    ]
    assert [t.id for t in client.v1.transfers.list(params={"transfer_group": "b"})] == [
        to_second.id
    ]
    newest_first = client.v1.transfers.list(params={"limit": 1})
    assert [t.id for t in newest_first.data] == [to_second.id] and newest_first.has_more
    after = client.v1.transfers.list(params={"limit": 1, "starting_after": to_second.id})
    assert [t.id for t in after.data] == [to_first.id] and not after.has_more


def test_a_partial_then_full_reversal_returns_the_money(client, webhook_receiver):
    account = onboarded_account(client)
    fund_platform(client, amount=5000)
    transfer = client.v1.transfers.create(
        params={"amount": 3000, "currency": "eur", "destination": account.id}
    )

    partial = client.v1.transfers.reversals.create(transfer.id, params={"amount": 1000})
    rest = client.v1.transfers.reversals.create(transfer.id)

    assert partial.id.startswith("trr_")
    assert (partial.amount, rest.amount) == (1000, 2000)
    reversed_transfer = client.v1.transfers.retrieve(transfer.id)
    assert (reversed_transfer.amount_reversed, reversed_transfer.reversed) == (3000, True)
    assert [r.id for r in client.v1.transfers.reversals.list(transfer.id)] == [rest.id, partial.id]
    assert available(client) == 5000
    assert available(client, stripe_account=account.id) == 0
    webhook_receiver.wait_for("transfer.reversed", count=2)


def test_reversing_more_than_is_left_is_refused(client):
    account = onboarded_account(client)
    fund_platform(client, amount=5000)
    transfer = client.v1.transfers.create(
        params={"amount": 3000, "currency": "eur", "destination": account.id}
    )

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.transfers.reversals.create(transfer.id, params={"amount": 3001})

    assert refused.value.param == "amount"
    assert client.v1.transfers.retrieve(transfer.id).amount_reversed == 0


def test_a_connected_account_pays_out_its_balance(client):
    account = onboarded_account(client)
    fund_platform(client, amount=5000)
    client.v1.transfers.create(
        params={"amount": 3000, "currency": "eur", "destination": account.id}
    )

    payout = client.v1.payouts.create(
        params={"amount": 2000, "currency": "eur"}, options={"stripe_account": account.id}
    )

    assert (payout.status, payout.amount) == ("paid", 2000)
    assert available(client, stripe_account=account.id) == 1000
    assert [p.id for p in client.v1.payouts.list(options={"stripe_account": account.id})] == [
        payout.id
    ]
    assert client.v1.payouts.list().data == []  # the platform's own payouts are separate
