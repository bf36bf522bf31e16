"""Brand top-ups through Stripe Checkout: started by admins, credited only from the webhook.

Stripe is the sandbox subprocess, reached through the real SDK; webhooks
reach our endpoint as the bytes the sandbox signed.
"""

from decimal import Decimal

import pytest
from django.http import Http404

from marketplace.errors import PermissionDenied, ValidationFailed
from marketplace.models import AuditEvent
from payouts import funding
from payouts.models import Posting, StripeEvent, StripeEventStatus, TopUp, TopUpStatus
from payouts.stripe_api import stripe_client
from stripe_sandbox.testing import pay_checkout
from tests.gigs.factories import GigFactory
from tests.payouts.stripe_helpers import (
    DECLINED_CARD,
    assert_ledger_balanced,
    available_balance,
    checkout_session,
    completed_webhook,
    paid_top_up,
    pay_top_up,
    signed_event,
    stripe_event,
)

# --- Starting a top-up -------------------------------------------------------------------


def test_start_opens_a_checkout_session_for_the_top_up(sandbox, brand, brand_admin, settings):
    checkout = funding.topup_start(
        brand=brand, actor=brand_admin, amount_minor=25_000, currency="EUR"
    )

    top_up = checkout.top_up
    assert (top_up.status, top_up.amount_minor, top_up.currency) == ("pending", 25_000, "EUR")
    session = checkout_session(top_up.checkout_session_id)
    assert checkout.checkout_url == session["url"]
    assert (session["mode"], session["status"], session["payment_status"]) == (
        "payment",
        "open",
        "unpaid",
    )
    assert (session["amount_total"], session["currency"]) == (25_000, "eur")
    assert session["client_reference_id"] == str(top_up.pk)
    assert session["metadata"] == {"topup_id": str(top_up.pk), "brand_id": str(brand.pk)}
    assert session["success_url"] == f"{settings.SITE_URL}/brands/acme/billing/?topup={top_up.pk}"
    assert session["cancel_url"] == (
        f"{settings.SITE_URL}/brands/acme/billing/top-ups/{top_up.pk}/cancel/"
    )


def test_start_is_audited(sandbox, brand, brand_admin):
    top_up = funding.topup_start(
        brand=brand, actor=brand_admin, amount_minor=5_000, currency="EUR"
    ).top_up

    event = AuditEvent.objects.get(action="topup.started")
    assert (event.actor, event.brand, event.target_id) == (brand_admin, brand, str(top_up.pk))
    assert event.changes == {"amount_minor": 5_000, "currency": "EUR"}


def test_start_accepts_a_lower_case_currency(sandbox, brand, brand_admin):
    top_up = funding.topup_start(
        brand=brand, actor=brand_admin, amount_minor=5_000, currency="eur"
    ).top_up

    assert top_up.currency == "EUR"


def test_stripe_failing_closes_the_top_up_with_a_clear_error(sandbox, brand, brand_admin):
    sandbox.fail_next(3)  # the first try and both of the SDK's retries

    with pytest.raises(funding.PaymentProviderError, match="nothing was charged"):
        funding.topup_start(brand=brand, actor=brand_admin, amount_minor=5_000, currency="EUR")

    top_up = TopUp.objects.get()
    assert (top_up.status, top_up.checkout_session_id) == ("canceled", None)
    assert AuditEvent.objects.filter(action="topup.start_failed").count() == 1


@pytest.mark.parametrize(
    ("amount_minor", "message"),
    [
        (0, "more than zero"),
        (-500, "more than zero"),
        (12.5, "whole numbers"),
        (Decimal("12.50"), "whole numbers"),
        (True, "whole numbers"),
        ("2500", "whole numbers"),
        (funding.TOPUP_MAX_MINOR + 1, "limit"),
    ],
)
def test_start_refuses_a_bad_amount_and_writes_nothing(brand, brand_admin, amount_minor, message):
    with pytest.raises(ValidationFailed, match=message) as refused:
        funding.topup_start(
            brand=brand, actor=brand_admin, amount_minor=amount_minor, currency="EUR"
        )

    assert "amount_minor" in refused.value.fields
    assert not TopUp.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="topup.").exists()


def test_start_accepts_the_largest_amount(sandbox, brand, brand_admin):
    checkout = funding.topup_start(
        brand=brand, actor=brand_admin, amount_minor=funding.TOPUP_MAX_MINOR, currency="EUR"
    )

    assert checkout.top_up.amount_minor == funding.TOPUP_MAX_MINOR


def test_start_refuses_a_currency_the_brands_gigs_do_not_use(brand, brand_admin):
    GigFactory(brand=brand, currency="EUR")

    with pytest.raises(ValidationFailed, match="EUR") as refused:
        funding.topup_start(brand=brand, actor=brand_admin, amount_minor=5_000, currency="USD")

    assert "currency" in refused.value.fields
    assert not TopUp.objects.exists()


def test_top_up_currencies_are_the_gigs_or_else_the_defaults(brand, other_brand):
    GigFactory(brand=brand, currency="GBP")
    GigFactory(brand=brand, currency="EUR")
    GigFactory(brand=brand, currency="EUR")

    assert funding.topup_currencies(brand=brand) == ["EUR", "GBP"]
    assert funding.topup_currencies(brand=other_brand) == ["EUR", "USD", "GBP"]


def test_a_viewer_cannot_start_a_top_up(brand, brand_viewer):
    with pytest.raises(PermissionDenied):
        funding.topup_start(brand=brand, actor=brand_viewer, amount_minor=5_000, currency="EUR")

    assert not TopUp.objects.exists()


def test_an_admin_of_another_brand_cannot_fund_this_one(brand, other_admin):
    with pytest.raises(PermissionDenied):
        funding.topup_start(brand=brand, actor=other_admin, amount_minor=5_000, currency="EUR")

    assert not TopUp.objects.exists()


# --- Paying, and Stripe's word on it ------------------------------------------------------


def test_a_paid_session_credits_the_brand_balance(
    sandbox, stripe_webhooks, deliver, brand, brand_admin
):
    top_up, webhook = paid_top_up(
        stripe_webhooks, brand=brand, actor=brand_admin, amount_minor=25_000
    )
    assert available_balance(brand) == 0  # paying alone credits nothing

    deliver(webhook.body, webhook.signature)

    top_up.refresh_from_db()
    assert top_up.status == TopUpStatus.PAID
    assert top_up.paid_at is not None
    assert available_balance(brand) == 25_000
    posting = Posting.objects.get(idempotency_key=f"topup:{top_up.pk}")
    assert top_up.posting == posting
    assert sorted(posting.entries.values_list("account__purpose", "amount_minor")) == [
        ("brand_balance", 25_000),
        ("stripe_clearing", -25_000),
    ]
    assert_ledger_balanced()
    assert StripeEvent.objects.get().status == StripeEventStatus.PROCESSED
    assert AuditEvent.objects.filter(action="topup.paid", actor_label="stripe").count() == 1


def test_the_same_event_twice_credits_once(sandbox, stripe_webhooks, deliver, brand, brand_admin):
    _, webhook = paid_top_up(stripe_webhooks, brand=brand, actor=brand_admin, amount_minor=25_000)

    deliver(webhook.body, webhook.signature)
    deliver(webhook.body, webhook.signature)

    assert available_balance(brand) == 25_000
    assert Posting.objects.filter(kind=funding.TOPUP_POSTING_KIND).count() == 1
    assert StripeEvent.objects.count() == 1


def test_a_declined_card_changes_nothing(sandbox, brand, brand_admin):
    checkout = funding.topup_start(
        brand=brand, actor=brand_admin, amount_minor=25_000, currency="EUR"
    )

    response = pay_checkout(checkout.checkout_url, card_number=DECLINED_CARD)

    assert response.status_code == 402
    # The sandbox writes an event's delivery with the event: no delivery, no event.
    assert sandbox.webhook_deliveries() == []
    assert checkout_session(checkout.top_up.checkout_session_id)["payment_status"] == "unpaid"
    checkout.top_up.refresh_from_db()
    assert checkout.top_up.status == TopUpStatus.PENDING
    assert available_balance(brand) == 0
    assert not Posting.objects.exists()


def test_a_session_charging_another_amount_is_not_credited(
    sandbox, stripe_webhooks, deliver, brand, brand_admin
):
    top_up = funding.topup_start(
        brand=brand, actor=brand_admin, amount_minor=25_000, currency="EUR"
    ).top_up
    # A session naming the top-up in its metadata but charging 1.00: someone
    # else's code, or a bug; its money must not become 250.00 of balance.
    other = stripe_client().v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": 100,
                        "product_data": {"name": "Not a real top-up"},
                    },
                    "quantity": 1,
                }
            ],
            "success_url": "https://example.test/done",
            "metadata": {"topup_id": str(top_up.pk), "brand_id": str(brand.pk)},
        }
    )
    TopUp.objects.filter(pk=top_up.pk).update(checkout_session_id=None)
    pay_top_up(other.url)
    webhook = completed_webhook(stripe_webhooks, other.id)

    deliver(webhook.body, webhook.signature)

    event = StripeEvent.objects.get()
    assert event.status == StripeEventStatus.FAILED
    assert "charged 100 EUR" in event.last_error
    assert "Not credited" in event.last_error
    top_up.refresh_from_db()
    assert top_up.status == TopUpStatus.PENDING
    assert available_balance(brand) == 0
    assert not Posting.objects.exists()


def test_a_session_in_another_currency_is_not_credited(
    sandbox, stripe_webhooks, deliver, brand, brand_admin
):
    top_up, webhook = paid_top_up(
        stripe_webhooks, brand=brand, actor=brand_admin, amount_minor=25_000
    )
    # Our record says USD, Stripe charged EUR: the record is what the money must match.
    TopUp.objects.filter(pk=top_up.pk).update(currency="USD")

    deliver(webhook.body, webhook.signature)

    assert StripeEvent.objects.get().status == StripeEventStatus.FAILED
    assert not Posting.objects.exists()


def test_a_session_that_is_no_top_up_is_ignored(sandbox, stripe_webhooks, deliver):
    session = stripe_client().v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": 900,
                        "product_data": {"name": "Conference ticket"},
                    },
                    "quantity": 1,
                }
            ],
            "success_url": "https://example.test/done",
        }
    )
    pay_top_up(session.url)
    webhook = completed_webhook(stripe_webhooks, session.id)

    deliver(webhook.body, webhook.signature)

    event = StripeEvent.objects.get()
    assert event.status == StripeEventStatus.IGNORED
    assert "not a Gigdesk top-up" in event.last_error
    assert not Posting.objects.exists()


def test_a_top_up_whose_session_id_was_never_stored_is_found_by_its_metadata(
    sandbox, stripe_webhooks, deliver, brand, brand_admin
):
    top_up, webhook = paid_top_up(
        stripe_webhooks, brand=brand, actor=brand_admin, amount_minor=7_500
    )
    session_id = top_up.checkout_session_id
    # As if the process died between Stripe's answer and saving the session id.
    TopUp.objects.filter(pk=top_up.pk).update(checkout_session_id=None)

    deliver(webhook.body, webhook.signature)

    top_up.refresh_from_db()
    assert (top_up.status, top_up.checkout_session_id) == ("paid", session_id)
    assert available_balance(brand) == 7_500


def test_an_unpaid_completed_session_credits_nothing(sandbox, deliver, brand, brand_admin):
    top_up = funding.topup_start(
        brand=brand, actor=brand_admin, amount_minor=25_000, currency="EUR"
    ).top_up
    # A delayed payment method: the session completes before the money arrives.
    session = {**checkout_session(top_up.checkout_session_id), "status": "complete"}

    deliver(*signed_event(stripe_event("checkout.session.completed", session)))

    event = StripeEvent.objects.get()
    assert event.status == StripeEventStatus.IGNORED
    assert "not paid yet" in event.last_error
    top_up.refresh_from_db()
    assert top_up.status == TopUpStatus.PENDING
    assert not Posting.objects.exists()


def test_crediting_a_top_up_twice_posts_once(brand, brand_admin):
    # The one crediting step the webhook handler and the demo seed share.
    top_up = TopUp.objects.create(
        brand=brand, currency="EUR", amount_minor=5_000, created_by=brand_admin
    )

    first = funding.topup_credit(top_up, memo="Paid", reference="test")
    second = funding.topup_credit(top_up, memo="Paid", reference="test")

    assert first == second
    assert Posting.objects.filter(kind=funding.TOPUP_POSTING_KIND).count() == 1
    assert available_balance(brand) == 5_000
    top_up.refresh_from_db()
    assert (top_up.status, top_up.posting) == (TopUpStatus.PAID, first)
    assert top_up.paid_at is not None
    assert_ledger_balanced()


# --- Expiry and cancelation ----------------------------------------------------------------


def _expired_event(top_up: TopUp) -> dict:
    session = checkout_session(top_up.checkout_session_id)
    return stripe_event("checkout.session.expired", {**session, "status": "expired"})


def test_an_expired_session_expires_its_pending_top_up(sandbox, deliver, brand, brand_admin):
    top_up = funding.topup_start(
        brand=brand, actor=brand_admin, amount_minor=25_000, currency="EUR"
    ).top_up

    deliver(*signed_event(_expired_event(top_up)))

    top_up.refresh_from_db()
    assert top_up.status == TopUpStatus.EXPIRED
    assert StripeEvent.objects.get().status == StripeEventStatus.PROCESSED
    assert AuditEvent.objects.filter(action="topup.expired").count() == 1


def test_an_expiry_arriving_after_the_payment_changes_nothing(
    sandbox, stripe_webhooks, deliver, brand, brand_admin
):
    top_up, webhook = paid_top_up(
        stripe_webhooks, brand=brand, actor=brand_admin, amount_minor=25_000
    )
    expired = _expired_event(top_up)
    deliver(webhook.body, webhook.signature)

    deliver(*signed_event(expired))

    top_up.refresh_from_db()
    assert top_up.status == TopUpStatus.PAID
    assert available_balance(brand) == 25_000


def test_cancel_closes_a_pending_top_up(sandbox, brand, brand_admin):
    top_up = funding.topup_start(
        brand=brand, actor=brand_admin, amount_minor=25_000, currency="EUR"
    ).top_up

    canceled = funding.topup_cancel(brand=brand, actor=brand_admin, top_up_id=top_up.pk)

    assert canceled.status == TopUpStatus.CANCELED
    event = AuditEvent.objects.get(action="topup.canceled")
    assert event.actor == brand_admin


def test_cancel_leaves_a_paid_top_up_paid(sandbox, stripe_webhooks, deliver, brand, brand_admin):
    top_up, webhook = paid_top_up(
        stripe_webhooks, brand=brand, actor=brand_admin, amount_minor=25_000
    )
    deliver(webhook.body, webhook.signature)

    after = funding.topup_cancel(brand=brand, actor=brand_admin, top_up_id=top_up.pk)

    assert after.status == TopUpStatus.PAID
    assert not AuditEvent.objects.filter(action="topup.canceled").exists()


def test_a_session_paid_after_its_top_up_was_canceled_is_still_credited(
    sandbox, stripe_webhooks, deliver, brand, brand_admin
):
    # The admin left Checkout (cancel), then went back and paid: Stripe has the money.
    checkout = funding.topup_start(
        brand=brand, actor=brand_admin, amount_minor=25_000, currency="EUR"
    )
    funding.topup_cancel(brand=brand, actor=brand_admin, top_up_id=checkout.top_up.pk)
    pay_top_up(checkout.checkout_url)
    webhook = completed_webhook(stripe_webhooks, checkout.top_up.checkout_session_id)

    deliver(webhook.body, webhook.signature)

    checkout.top_up.refresh_from_db()
    assert checkout.top_up.status == TopUpStatus.PAID
    assert available_balance(brand) == 25_000


def test_cancel_of_another_brands_top_up_is_not_found(
    sandbox, brand, brand_admin, other_brand, other_admin
):
    top_up = funding.topup_start(
        brand=brand, actor=brand_admin, amount_minor=25_000, currency="EUR"
    ).top_up

    with pytest.raises(Http404):
        funding.topup_cancel(brand=other_brand, actor=other_admin, top_up_id=top_up.pk)

    top_up.refresh_from_db()
    assert top_up.status == TopUpStatus.PENDING
