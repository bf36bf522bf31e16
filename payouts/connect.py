"""Agent payout accounts: Stripe Connect Express onboarding, status sync, the Express dashboard.

How an agent gets set up:

1. "Set up payouts" on the earnings page calls ``payout_account_start``. The
   first time, it creates the agent's Express account at Stripe and stores
   it (``PayoutAccount``); every time, it makes a fresh Account Link (a
   single-use, short-lived URL of Stripe's hosted onboarding) and the
   agent's browser goes there.
2. Stripe sends the agent back to our return page, which re-reads the
   account (``payout_account_refresh``); or, when the link expired or was
   used already, to our refresh page, which makes a new link. Coming back
   proves nothing by itself: the status always comes from Stripe's account.
3. Stripe sends ``account.updated`` whenever the account changes (onboarding
   finished, a document requested, payouts paused). Its handler,
   ``account_updated``, registered in ``payouts.stripe_events``, stores the
   same fields from the event.
4. Once the agent's details are submitted, ``payout_dashboard_link`` opens
   the agent's Express dashboard through a single-use login link.

Stripe is only called outside our transactions, so no row lock is ever held
across the network; each write afterwards is a short transaction of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from marketplace.audit import audit_record, changed_fields
from marketplace.errors import GigdeskError, PermissionDenied
from marketplace.models import User
from payouts.models import PayoutAccount, StripeEvent
from payouts.stripe_api import stripe_client
from payouts.stripe_events import StripeEventIgnored

logger = logging.getLogger(__name__)

# The fields of PayoutAccount that mirror Stripe's account object.
SYNCED_FIELDS = (
    "country",
    "details_submitted",
    "charges_enabled",
    "payouts_enabled",
    "requirements_due",
    "disabled_reason",
)


class PayoutProviderError(GigdeskError):
    """Stripe refused the request or could not be reached; the agent can simply try again."""

    code = "payout_provider_error"
    http_status = 502


class PayoutAccountNotReady(GigdeskError):
    """The agent has no payout account yet, or has not finished Stripe's onboarding."""

    code = "payout_account_not_ready"
    http_status = 409


@dataclass(frozen=True)
class PayoutAccountSync:
    """What a sync did: ``applied`` is False when Stripe's data was older than ours and dropped."""

    payout_account: PayoutAccount
    applied: bool


def connect_account_idempotency_key(agent: User) -> str:
    """One key per agent: however often creation is retried, Stripe makes one account."""
    return f"connect-account:{agent.pk}"


def payout_account_for(*, agent: User) -> PayoutAccount | None:
    """The agent's payout account, or None before they first set up payouts."""
    return PayoutAccount.objects.filter(agent=agent).first()


def _require_agent(agent: User) -> None:
    # Views allow agents only; this keeps any other caller from giving a
    # brand user a Stripe account that pay runs would then consider.
    if not agent.is_agent:
        raise PermissionDenied("Payout accounts are for agent accounts.")


def _stripe_timestamp(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _stripe_now() -> datetime:
    """Now, in Stripe's resolution of whole seconds, to compare with its events' ``created``."""
    return timezone.now().replace(microsecond=0)


def _synced_fields(account: Mapping[str, Any]) -> dict[str, Any]:
    """The status we keep, read from Stripe's account object."""
    requirements = account.get("requirements") or {}
    # past_due items are usually in currently_due as well; the agent needs each once.
    due = {*(requirements.get("currently_due") or ()), *(requirements.get("past_due") or ())}
    return {
        "country": account.get("country") or "",
        "details_submitted": bool(account.get("details_submitted")),
        "charges_enabled": bool(account.get("charges_enabled")),
        "payouts_enabled": bool(account.get("payouts_enabled")),
        "requirements_due": sorted(due),
        "disabled_reason": requirements.get("disabled_reason") or "",
    }


# --- Onboarding ---------------------------------------------------------------------------


def _express_account_params(agent: User) -> dict[str, Any]:
    params: dict[str, Any] = {
        "type": "express",
        "email": agent.email,
        # Agents only receive money from the platform (separate charges and
        # transfers): the transfers capability is all they need.
        "capabilities": {"transfers": {"requested": True}},
        # Names the agent at Stripe, should our row ever be lost (see below).
        "metadata": {"agent_id": str(agent.pk)},
    }
    profile = getattr(agent, "agent_profile", None)
    if profile is not None and profile.country:
        # Without a country Stripe uses the platform's, and it cannot be changed later.
        params["country"] = str(profile.country)
    return params


def _payout_account_create(agent: User) -> PayoutAccount:
    """Create the agent's Express account at Stripe and store it. Call outside any transaction."""
    # If we crash after Stripe made the account but before our row is
    # stored, the next start gets the same account back instead of a second
    # one. Stripe replays a key only for the same parameters and for 24
    # hours; beyond that the metadata still names the agent.
    created = stripe_client().v1.accounts.create(
        params=_express_account_params(agent),
        options={"idempotency_key": connect_account_idempotency_key(agent)},
    )
    account = created.to_dict()
    try:
        with transaction.atomic(durable=True):
            return PayoutAccount.objects.create(
                agent=agent,
                stripe_account_id=account["id"],
                # The answer describes the account as it was created (a
                # replayed answer included), so that is when it was current.
                synced_at=_stripe_timestamp(account["created"]),
                **_synced_fields(account),
            )
    except IntegrityError:
        # A concurrent start (a double click) stored it first: Stripe gave
        # both the same account, under the same idempotency key.
        existing = payout_account_for(agent=agent)
        if existing is None:
            # Not the agent's row but the account id: another agent already has
            # this Stripe account. No retry of ours can cause that; say so loudly.
            raise
        return existing


def _onboarding_link_create(payout_account: PayoutAccount) -> str:
    link = stripe_client().v1.account_links.create(
        params={
            "account": payout_account.stripe_account_id,
            "type": "account_onboarding",
            # Our own address, never one taken from the request's Host header.
            "refresh_url": settings.SITE_URL + reverse("frontend:payout_account_refresh"),
            "return_url": settings.SITE_URL + reverse("frontend:payout_account_return"),
        }
    )
    return link.url


def payout_account_start(*, agent: User, request: HttpRequest | None = None) -> str:
    """Start or continue the agent's Stripe onboarding; return the URL to send them to.

    The first call creates the agent's Express account; later calls reuse
    it. Each call makes a new Account Link: links are single-use and expire
    within minutes, so one is made just before the agent goes to Stripe.

    Agents only (``PermissionDenied``). Raises ``PayoutProviderError`` when
    Stripe fails; an account created before the failure is kept, and the
    next call continues with it. Must run outside any transaction.
    """
    _require_agent(agent)
    payout_account = payout_account_for(agent=agent)
    new_account = payout_account is None
    try:
        if payout_account is None:
            payout_account = _payout_account_create(agent)
        onboarding_url = _onboarding_link_create(payout_account)
    except stripe.StripeError as exc:
        logger.warning("Stripe refused payout onboarding for agent %s: %s", agent.pk, exc)
        raise PayoutProviderError(
            "Stripe could not start your payout setup. Try again in a moment."
        ) from exc
    with transaction.atomic(durable=True):
        audit_record(
            actor=agent,
            action="payout_account.onboarding_started",
            target=payout_account,
            changes={
                "stripe_account_id": payout_account.stripe_account_id,
                "new_account": new_account,
            },
            request=request,
        )
    return onboarding_url


# --- Keeping the status in step with Stripe -------------------------------------------------


def payout_account_sync(
    *,
    stripe_account_id: str,
    account: Mapping[str, Any] | None = None,
    as_of: datetime | None = None,
) -> PayoutAccountSync | None:
    """Store Stripe's status of a connected account; None when no agent of ours has it.

    With ``account`` (an ``account.updated`` event's object), ``as_of`` says
    when that data was current: the event's ``created``. Without it, the
    account is retrieved from Stripe now; then call it outside any
    transaction (``PayoutProviderError`` when Stripe fails).

    Older data never overwrites newer: data from before ``synced_at`` is
    dropped (``applied`` False), so events that arrive late, twice or out of
    order change nothing. Stripe's timestamps are whole seconds, so two
    changes within one second cannot be ordered; such a tie is applied (the
    later delivered wins), and the next event or return visit corrects it.
    """
    if account is None:
        if not PayoutAccount.objects.filter(stripe_account_id=stripe_account_id).exists():
            return None
        # Taken before asking: the answer is at least this fresh.
        as_of = _stripe_now()
        try:
            account = stripe_client().v1.accounts.retrieve(stripe_account_id).to_dict()
        except stripe.StripeError as exc:
            logger.warning("Could not retrieve Stripe account %s: %s", stripe_account_id, exc)
            raise PayoutProviderError(
                "Stripe could not be reached to confirm your payout setup."
            ) from exc
    elif as_of is None:
        raise TypeError("Pass as_of with account: when Stripe's data was current.")

    with transaction.atomic():
        payout_account = (
            PayoutAccount.objects.select_for_update()
            .filter(stripe_account_id=stripe_account_id)
            .first()
        )
        if payout_account is None:
            return None
        if as_of < payout_account.synced_at:
            return PayoutAccountSync(payout_account=payout_account, applied=False)
        synced = _synced_fields(account)
        changes = changed_fields(
            {name: getattr(payout_account, name) for name in SYNCED_FIELDS}, synced
        )
        for name, value in synced.items():
            setattr(payout_account, name, value)
        payout_account.synced_at = as_of
        payout_account.save(update_fields=[*SYNCED_FIELDS, "synced_at"])
        if changes:
            # Pay runs go by payouts_enabled: who switched it, and when, is on record.
            audit_record(
                actor=None,
                actor_label="stripe",
                action="payout_account.updated",
                target=payout_account,
                changes=changes,
            )
    return PayoutAccountSync(payout_account=payout_account, applied=True)


def payout_account_refresh(*, agent: User) -> PayoutAccount | None:
    """Re-read the agent's account from Stripe (the return page); None if they have none.

    Raises ``PayoutProviderError`` when Stripe fails. Call outside any transaction.
    """
    payout_account = payout_account_for(agent=agent)
    if payout_account is None:
        return None
    synced = payout_account_sync(stripe_account_id=payout_account.stripe_account_id)
    return synced.payout_account if synced is not None else None


def account_updated(event: StripeEvent) -> None:
    """``account.updated``: store the connected account's new status.

    Registered in ``payouts.stripe_events.STRIPE_EVENT_HANDLERS``; runs in the
    transaction of ``stripe_event_process``, which holds the event's lock.
    """
    account = event.payload["data"]["object"]
    synced = payout_account_sync(
        stripe_account_id=account["id"], account=account, as_of=event.stripe_created_at
    )
    if synced is None:
        raise StripeEventIgnored(f"Account {account['id']} is no Gigdesk agent's payout account.")
    if not synced.applied:
        raise StripeEventIgnored(
            f"Older than the status of {account['id']} stored as of "
            f"{synced.payout_account.synced_at.isoformat()}; nothing changed."
        )


# --- The Express dashboard -------------------------------------------------------------------


def payout_dashboard_link(*, agent: User) -> str:
    """A single-use login link to the agent's Stripe Express dashboard.

    Stripe makes one only once the agent's details are submitted; before
    that this raises ``PayoutAccountNotReady`` without asking Stripe.
    Raises ``PayoutProviderError`` when Stripe fails.
    """
    _require_agent(agent)
    payout_account = payout_account_for(agent=agent)
    if payout_account is None or not payout_account.details_submitted:
        raise PayoutAccountNotReady(
            "Your Stripe dashboard opens once you have finished setting up payouts."
        )
    try:
        login_link = stripe_client().v1.accounts.login_links.create(
            payout_account.stripe_account_id
        )
    except stripe.StripeError as exc:
        logger.warning(
            "Stripe refused a login link for %s: %s", payout_account.stripe_account_id, exc
        )
        raise PayoutProviderError(
            "Stripe could not open your dashboard. Try again in a moment."
        ) from exc
    return login_link.url
