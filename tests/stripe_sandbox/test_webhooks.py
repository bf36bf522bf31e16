"""Webhook delivery: retries, and the duplicate and out-of-order switches."""

import stripe

from payouts.stripe_api import webhook_secret
from stripe_sandbox.store import DeliveryStatus
from tests.stripe_sandbox.builders import fund_platform, onboarded_account


def transfer_then_reverse(client, account):
    transfer = client.v1.transfers.create(
        params={"amount": 1000, "currency": "eur", "destination": account.id}
    )
    client.v1.transfers.reversals.create(transfer.id)
    return transfer


def settled_setup(client, webhook_receiver):
    """An onboarded, funded account, with the setup's own webhooks already delivered."""
    account = onboarded_account(client)
    fund_platform(client, amount=5000)
    webhook_receiver.wait_for("checkout.session.completed")
    webhook_receiver.clear()
    return account


def test_a_failing_endpoint_gets_the_event_on_a_later_attempt(sandbox, client, webhook_receiver):
    webhook_receiver.fail_next(2)

    account = onboarded_account(client)

    [webhook] = webhook_receiver.wait_for("account.updated")
    assert webhook.event["account"] == account.id
    assert len(sandbox.webhook_deliveries()) == 1
    delivery = sandbox.wait_for_delivery(webhook.event["id"], DeliveryStatus.DELIVERED)
    assert delivery["attempts"] == 3


def test_the_duplicate_switch_delivers_each_event_twice(sandbox, client, webhook_receiver):
    sandbox.webhooks(duplicate=True)

    onboarded_account(client)

    first, second = webhook_receiver.wait_for("account.updated", count=2)
    assert first.event["id"] == second.event["id"]
    for webhook in (first, second):
        stripe.Webhook.construct_event(webhook.body, webhook.signature, webhook_secret())


def test_the_out_of_order_switch_sends_a_batch_newest_first(sandbox, client, webhook_receiver):
    account = settled_setup(client, webhook_receiver)
    sandbox.webhooks(out_of_order_batch=2)

    transfer_then_reverse(client, account)

    webhook_receiver.wait_for("transfer.created")
    assert [webhook.event["type"] for webhook in webhook_receiver.received] == [
        "transfer.reversed",
        "transfer.created",
    ]


def test_turning_the_out_of_order_switch_off_releases_what_it_held(
    sandbox, client, webhook_receiver
):
    account = settled_setup(client, webhook_receiver)
    sandbox.webhooks(out_of_order_batch=3)
    transfer_then_reverse(client, account)  # two events: the batch of three never fills

    sandbox.webhooks()

    webhook_receiver.wait_for("transfer.reversed")
    assert [webhook.event["type"] for webhook in webhook_receiver.received] == [
        "transfer.created",
        "transfer.reversed",
    ]


def test_events_are_listed_newest_first_and_scoped_by_account(client, webhook_receiver):
    account = settled_setup(client, webhook_receiver)
    transfer = transfer_then_reverse(client, account)

    platform_events = client.v1.events.list(params={"type": "transfer.*"})
    connect_events = client.v1.events.list(options={"stripe_account": account.id})

    assert [event.type for event in platform_events] == ["transfer.reversed", "transfer.created"]
    assert platform_events.data[1].data.object.id == transfer.id
    assert [event.type for event in connect_events] == ["account.updated"]
    assert client.v1.events.retrieve(platform_events.data[0].id).type == "transfer.reversed"
