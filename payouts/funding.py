"""Brand funding: top-ups through Stripe Checkout, credited only from Stripe's verified webhook.

How a top-up travels:

1. ``topup_start`` (a brand admin, from the billing page) records a pending
   ``TopUp`` and commits it, and only then asks Stripe for a Checkout
   Session, so that no transaction or lock is held across the network call.
   The admin's browser goes to the session's hosted page.
2. Coming back to the success URL credits nothing: anyone can open a URL.
   The billing page says the payment is being confirmed.
3. Stripe sends ``checkout.session.completed``. ``payouts.stripe_events``
   verifies and stores it, and a background job calls
   ``checkout_session_completed``, which posts ``brand_balance +X,
   stripe_clearing -X`` under the key ``topup:<id>`` and marks the top-up
   paid. However often the event arrives, that key allows one posting.
4. ``checkout.session.expired``, or the admin leaving Checkout
   (``topup_cancel``), closes a top-up that was never paid.

The handlers here are registered by event type in
``payouts.stripe_events.STRIPE_EVENT_HANDLERS``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, QuerySet, Sum, Window
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from brands.models import Brand, BrandMembership, BrandRole
from gigs.models import Gig
from marketplace.audit import audit_record
from marketplace.errors import GigdeskError, PermissionDenied, ValidationFailed
from marketplace.models import User
from payouts.models import (
    Earning,
    EarningStatus,
    Entry,
    LedgerAccount,
    Posting,
    Purpose,
    StripeEvent,
    TopUp,
    TopUpStatus,
)
from payouts.reservations import brand_balance_moved
from payouts.services import ledger_account, posting_create
from payouts.stripe_api import stripe_client
from payouts.stripe_events import StripeEventIgnored, StripeEventUnprocessable

logger = logging.getLogger(__name__)

# 1,000,000.00 in a two-decimal currency: far above any real top-up, far
# below anything that could overflow a sum of balances.
TOPUP_MAX_MINOR = 100_000_000
# What a brand without gigs may top up in; otherwise the currencies its gigs pay in.
TOPUP_DEFAULT_CURRENCIES = ("EUR", "USD", "GBP")
TOPUP_POSTING_KIND = "brand.topup"


class PaymentProviderError(GigdeskError):
    """Stripe refused the request or could not be reached; nothing was charged."""

    code = "payment_provider_error"
    http_status = 502


@dataclass(frozen=True)
class TopUpCheckout:
    """A started top-up and the hosted Checkout page to send the admin to."""

    top_up: TopUp
    checkout_url: str


def topup_idempotency_key(top_up: TopUp) -> str:
    """One key for both sides: Stripe's Checkout Session and our ledger posting."""
    return f"topup:{top_up.pk}"


# --- Starting and canceling -----------------------------------------------------------


def topup_currencies(*, brand: Brand) -> list[str]:
    """The currencies ``brand`` may top up in: those its gigs pay in, else the defaults.

    A balance in a currency no gig spends would sit there unusable.
    """
    used = Gig.objects.for_brand(brand).order_by().values_list("currency", flat=True).distinct()
    return sorted(set(used)) or list(TOPUP_DEFAULT_CURRENCIES)


def _require_brand_admin(*, actor: User, brand: Brand) -> None:
    """Views allow only the brand's admins; this keeps a service call from
    crossing brands (an admin of one brand funding or canceling another's)."""
    is_admin = BrandMembership.objects.filter(
        brand=brand, user_id=actor.pk, role=BrandRole.ADMIN
    ).exists()
    if not is_admin:
        raise PermissionDenied(f"Only admins of {brand} can top up its balance.")


def _checked_amount(amount_minor: Any) -> int:
    # bool is an int subclass, and a float or Decimal would round silently: refuse all three.
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise ValidationFailed(
            "Amounts are whole numbers of minor units (cents).",
            fields={"amount_minor": [f"{amount_minor!r} is not a whole number of minor units."]},
        )
    if amount_minor <= 0:
        raise ValidationFailed(
            "A top-up must be more than zero.",
            fields={"amount_minor": ["Must be more than zero."]},
        )
    if amount_minor > TOPUP_MAX_MINOR:
        raise ValidationFailed(
            "The amount is above the top-up limit.",
            fields={"amount_minor": [f"At most {TOPUP_MAX_MINOR:,} minor units per top-up."]},
        )
    return amount_minor


def _checked_currency(*, brand: Brand, currency: Any) -> str:
    allowed = topup_currencies(brand=brand)
    code = currency.strip().upper() if isinstance(currency, str) else ""
    if code not in allowed:
        raise ValidationFailed(
            f"Top up in one of {brand}'s currencies: {', '.join(allowed)}.",
            fields={"currency": [f"“{currency}” is not one of {', '.join(allowed)}."]},
        )
    return code


def _checkout_session_create(top_up: TopUp, *, customer_email: str) -> stripe.checkout.Session:
    brand = top_up.brand
    billing_url = settings.SITE_URL + reverse("frontend:brand_billing", args=[brand.slug])
    cancel_url = settings.SITE_URL + reverse("frontend:topup_cancel", args=[brand.slug, top_up.pk])
    return stripe_client().v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        # Stripe spells currencies in lower case; we store ISO upper case.
                        "currency": top_up.currency.lower(),
                        "unit_amount": top_up.amount_minor,
                        "product_data": {"name": f"Gigdesk balance top-up for {brand.name}"},
                    },
                    "quantity": 1,
                }
            ],
            "client_reference_id": str(top_up.pk),
            # The handler finds the top-up by session id; the metadata also names
            # it, for when the session id was never stored (``_session_top_up``).
            "metadata": {"topup_id": str(top_up.pk), "brand_id": str(brand.pk)},
            "customer_email": customer_email,
            "success_url": f"{billing_url}?topup={top_up.pk}",
            "cancel_url": cancel_url,
        },
        # A retry from another request or process gets the same session back.
        options={"idempotency_key": topup_idempotency_key(top_up)},
    )


def topup_start(
    *, brand: Brand, actor: User, amount_minor: int, currency: str, request=None
) -> TopUpCheckout:
    """Start a top-up of ``amount_minor`` in ``currency``: a pending TopUp and its Checkout Session.

    Brand admins only. Raises ``ValidationFailed`` for a bad amount or
    currency (nothing is written) and ``PaymentProviderError`` when Stripe
    fails (the top-up is then closed as canceled). Must run outside any
    transaction: Stripe is called between two short ones of its own.
    """
    _require_brand_admin(actor=actor, brand=brand)
    amount_minor = _checked_amount(amount_minor)
    currency = _checked_currency(brand=brand, currency=currency)
    with transaction.atomic(durable=True):
        top_up = TopUp.objects.create(
            brand=brand, currency=currency, amount_minor=amount_minor, created_by=actor
        )
        audit_record(
            actor=actor,
            action="topup.started",
            target=top_up,
            brand=brand,
            changes={"amount_minor": amount_minor, "currency": currency},
            request=request,
        )
    try:
        session = _checkout_session_create(top_up, customer_email=actor.email)
    except stripe.StripeError as exc:
        logger.warning("Stripe refused a Checkout Session for top-up %s: %s", top_up.pk, exc)
        # Whether or not Stripe made a session, the admin never got its URL,
        # so nobody can pay it: the top-up is closed, and a retry starts anew.
        _topup_close(
            top_up,
            status=TopUpStatus.CANCELED,
            action="topup.start_failed",
            actor=actor,
            request=request,
        )
        raise PaymentProviderError(
            "Stripe could not start the payment, and nothing was charged. Try again in a moment."
        ) from exc
    # Only if unset: a webhook that found the top-up by its metadata may have set it.
    TopUp.objects.filter(pk=top_up.pk, checkout_session_id__isnull=True).update(
        checkout_session_id=session.id
    )
    top_up.refresh_from_db()
    return TopUpCheckout(top_up=top_up, checkout_url=session.url)


def access_topup(*, brand: Brand, top_up_id: int, lock: bool = False) -> TopUp:
    """``brand``'s top-up ``top_up_id``; 404 for any other brand's. ``lock`` needs a transaction."""
    top_ups = TopUp.objects.for_brand(brand)
    if lock:
        top_ups = top_ups.select_for_update()
    top_up = top_ups.filter(pk=top_up_id).first()
    if top_up is None:
        raise Http404("No such top-up.")
    return top_up


def _topup_close(
    top_up: TopUp, *, status: str, action: str, actor: User | None = None, request=None
) -> bool:
    """Move a still pending top-up to ``status``; False when it was no longer pending.

    Without ``actor`` the change is Stripe's (an event), and audited as such.
    """
    with transaction.atomic():
        closed = TopUp.objects.filter(pk=top_up.pk, status=TopUpStatus.PENDING).update(
            status=status
        )
        if closed:
            audit_record(
                actor=actor,
                actor_label=None if actor else "stripe",
                action=action,
                target=top_up,
                brand=top_up.brand,
                changes={"status": [TopUpStatus.PENDING, status]},
                request=request,
            )
    return bool(closed)


def topup_cancel(*, brand: Brand, actor: User, top_up_id: int, request=None) -> TopUp:
    """Cancel ``brand``'s top-up if it is still pending (the admin left Checkout).

    A paid, expired or already canceled top-up is returned unchanged, so the
    cancel URL can be opened any number of times. Canceling is our record
    only: should the admin go back and pay the same session after all,
    Stripe took the money and the completed event still credits it.
    """
    _require_brand_admin(actor=actor, brand=brand)
    with transaction.atomic():
        top_up = access_topup(brand=brand, top_up_id=top_up_id, lock=True)
        _topup_close(
            top_up,
            status=TopUpStatus.CANCELED,
            action="topup.canceled",
            actor=actor,
            request=request,
        )
    top_up.refresh_from_db()
    return top_up


# --- Crediting a paid top-up -----------------------------------------------------------


def topup_credit(
    top_up: TopUp, *, memo: str, reference: str, checkout_session_id: str | None = None
) -> Posting:
    """Credit the brand's balance with a paid top-up and mark the top-up paid.

    Posts ``brand_balance +amount, stripe_clearing -amount`` under the key
    ``topup:<id>``, so crediting the same top-up again posts nothing new and
    returns the first posting. The caller has checked that the money arrived
    (Stripe's event, or the demo seed standing in for it), holds the top-up's
    row lock inside its transaction, and audits who confirmed the payment.
    """
    brand, currency, amount = top_up.brand, top_up.currency, top_up.amount_minor
    posting = posting_create(
        idempotency_key=topup_idempotency_key(top_up),
        kind=TOPUP_POSTING_KIND,
        lines=[
            (ledger_account(purpose=Purpose.BRAND_BALANCE, currency=currency, brand=brand), amount),
            (ledger_account(purpose=Purpose.STRIPE_CLEARING, currency=currency), -amount),
        ],
        memo=memo,
        reference=reference,
    )
    # The balance may cover claims again: the brand's pool hears of it on commit.
    brand_balance_moved(brand_id=brand.pk, currency=currency, delta=amount)
    top_up.status = TopUpStatus.PAID
    top_up.paid_at = timezone.now()
    top_up.posting = posting
    update_fields = ["status", "paid_at", "posting"]
    if checkout_session_id is not None:
        top_up.checkout_session_id = checkout_session_id
        update_fields.append("checkout_session_id")
    top_up.save(update_fields=update_fields)
    return posting


# --- Stripe event handlers (registered in payouts.stripe_events) -----------------------


def _session_top_up(session: dict[str, Any]) -> TopUp:
    """The top-up a Checkout Session pays for, locked. Call inside a transaction.

    Raises ``StripeEventIgnored`` for a session that is no top-up of ours
    (the platform's Stripe account may take other payments).
    """
    session_id = session.get("id")
    top_ups = TopUp.objects.select_for_update(of=("self",)).select_related("brand")
    top_up = top_ups.filter(checkout_session_id=session_id).first()
    if top_up is not None:
        return top_up
    # The session id is stored only once Stripe has answered topup_start; if
    # that process died in between, the metadata we sent still names the top-up.
    metadata = session.get("metadata") or {}
    top_up_id, brand_id = str(metadata.get("topup_id", "")), str(metadata.get("brand_id", ""))
    if top_up_id.isdigit() and brand_id.isdigit():
        top_up = top_ups.filter(pk=int(top_up_id), brand_id=int(brand_id)).first()
    if top_up is None:
        raise StripeEventIgnored(f"Checkout Session {session_id} is not a Gigdesk top-up.")
    if top_up.checkout_session_id not in (None, session_id):
        raise StripeEventUnprocessable(
            f"Checkout Session {session_id} names top-up #{top_up.pk}, which was started "
            f"with session {top_up.checkout_session_id}. Not credited."
        )
    return top_up


def _check_session_pays_for(session: dict[str, Any], top_up: TopUp) -> None:
    """Refuse to credit a session whose amount or currency is not the top-up's."""
    paid_amount = session.get("amount_total")
    paid_currency = str(session.get("currency") or "").upper()
    if paid_amount != top_up.amount_minor or paid_currency != top_up.currency:
        raise StripeEventUnprocessable(
            f"Checkout Session {session.get('id')} charged {paid_amount} {paid_currency} "
            f"(minor units) but top-up #{top_up.pk} is for {top_up.amount_minor} "
            f"{top_up.currency}. Not credited: check it in the Stripe Dashboard."
        )


def checkout_session_completed(event: StripeEvent) -> None:
    """Credit the brand for a paid top-up, exactly once however often Stripe says so.

    Also handles ``checkout.session.async_payment_succeeded``: the same
    session, once a delayed payment method has paid. Runs in the caller's
    transaction (``stripe_event_process``, which holds the event's lock).
    """
    session = event.payload["data"]["object"]
    top_up = _session_top_up(session)
    if top_up.status == TopUpStatus.PAID:
        return  # a redelivery, or both events for one session: credited already
    if session.get("payment_status") != "paid":
        # A delayed payment method completes the session before the money
        # arrives; checkout.session.async_payment_succeeded follows when it does.
        raise StripeEventIgnored(
            f"Checkout Session {session.get('id')} is not paid yet "
            f"(payment_status {session.get('payment_status')!r})."
        )
    _check_session_pays_for(session, top_up)
    previous_status = top_up.status
    posting = topup_credit(
        top_up,
        memo=f"Top-up #{top_up.pk} paid through Stripe Checkout",
        reference=f"checkout_session:{session['id']}",
        checkout_session_id=session["id"],
    )
    audit_record(
        actor=None,
        actor_label="stripe",
        action="topup.paid",
        target=top_up,
        brand=top_up.brand,
        changes={
            # Not always "pending": Stripe's money decides, whatever we recorded before.
            "status": [previous_status, TopUpStatus.PAID],
            "posting_id": posting.pk,
            "stripe_event_id": event.event_id,
        },
    )


def checkout_session_expired(event: StripeEvent) -> None:
    """Close a top-up whose Checkout Session expired unpaid; any other state stays as it is."""
    top_up = _session_top_up(event.payload["data"]["object"])
    _topup_close(top_up, status=TopUpStatus.EXPIRED, action="topup.expired")


# --- Reads for the billing page ---------------------------------------------------------


@dataclass(frozen=True)
class BrandBalance:
    """A brand's money in one currency: what it can spend, and what running work holds."""

    currency: str
    available_minor: int
    reserved_minor: int


def brand_balances(*, brand: Brand) -> list[BrandBalance]:
    """One row per currency the brand has an account in, from the cached balances."""
    by_currency: dict[str, dict[str, int]] = {}
    accounts = LedgerAccount.objects.filter(brand=brand).values_list(
        "currency", "purpose", "balance_minor"
    )
    for currency, purpose, balance in accounts:
        by_currency.setdefault(currency, {})[purpose] = balance
    return [
        BrandBalance(
            currency=currency,
            available_minor=balances.get(Purpose.BRAND_BALANCE, 0),
            reserved_minor=balances.get(Purpose.BRAND_RESERVED, 0),
        )
        for currency, balances in sorted(by_currency.items())
    ]


def brand_statement(*, brand: Brand) -> QuerySet[Entry]:
    """Every entry on the brand's accounts, newest first, with its posting and account.

    Each row carries ``balance_after_minor``: its account's balance right
    after it, a running sum the database computes over all of the account's
    entries (a page of the statement still shows true balances).
    """
    return (
        Entry.objects.filter(account__brand=brand)
        .select_related("posting", "account")
        .annotate(
            balance_after_minor=Window(
                Sum("amount_minor"), partition_by=[F("account_id")], order_by=F("id").asc()
            )
        )
        .order_by("-id")
    )


def topup_list(*, brand: Brand) -> QuerySet[TopUp]:
    """The brand's top-ups, newest first."""
    return TopUp.objects.for_brand(brand).select_related("created_by").order_by("-id")


@dataclass(frozen=True)
class GigSpend:
    """What one gig's finished work has cost the brand in one currency."""

    gig_id: int
    title: str
    currency: str
    tasks: int
    earnings_minor: int
    fees_minor: int

    @property
    def total_minor(self) -> int:
        return self.earnings_minor + self.fees_minor


def brand_spend_per_gig(*, brand: Brand) -> list[GigSpend]:
    """Agent earnings and platform fees charged per gig and currency, with how
    many tasks they paid for, from the brand's earnings (clawed-back ones were
    refunded and are left out). One query."""
    rows = (
        Earning.objects.filter(brand=brand)
        .exclude(status=EarningStatus.CLAWED_BACK)
        .values("gig_id", "gig__title", "currency")
        .annotate(
            tasks=Count("work_record__task_id", distinct=True),
            earnings=Sum("amount_minor"),
            fees=Sum("fee_minor"),
        )
        .order_by("gig__title", "gig_id", "currency")
    )
    return [
        GigSpend(
            gig_id=row["gig_id"],
            title=row["gig__title"],
            currency=row["currency"],
            tasks=row["tasks"],
            earnings_minor=row["earnings"],
            fees_minor=row["fees"],
        )
        for row in rows
    ]
