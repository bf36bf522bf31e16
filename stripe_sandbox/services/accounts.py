"""Connected accounts, their onboarding through Account Links, and Express dashboard login links.

A new account can neither take charges nor receive payouts, and its
requirements are due, as with Stripe. The hosted onboarding page (reached
through an Account Link) completes it in one click: details submitted,
charges and payouts enabled, requested capabilities active, nothing due,
and an ``account.updated`` Connect event for the platform.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from stripe_sandbox.services.events import changed_attributes, event_emit
from stripe_sandbox.services.operation import Operation, now, object_or_404
from stripe_sandbox.store import PLATFORM
from stripe_sandbox.wire import StripeError, new_id, resource_missing

ACCOUNT_TYPES = ("express", "standard", "custom")
ACCOUNT_LINK_TYPES = ("account_onboarding", "account_update")
ACCOUNT_LINK_LIFETIME_SECONDS = 300  # as Stripe's
DEFAULT_COUNTRY = "US"
_COUNTRY_CURRENCIES = {"US": "usd", "GB": "gbp", "CA": "cad", "AU": "aud", "CH": "chf", "JP": "jpy"}
_EURO_COUNTRIES = frozenset(
    {
        "AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PT", "SI", "SK",
    }
)  # fmt: skip
# What Stripe asks of a new Express account for an individual.
_INITIAL_REQUIREMENTS = [
    "business_profile.url",
    "business_type",
    "external_account",
    "individual.first_name",
    "individual.last_name",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]


class AccountLinkUnusable(Exception):
    """The link expired or was used: Stripe sends the browser to the link's refresh_url."""

    def __init__(self, refresh_url: str) -> None:
        super().__init__(refresh_url)
        self.refresh_url = refresh_url


@dataclass(frozen=True)
class OnboardingPage:
    link: dict[str, Any]
    account: dict[str, Any]


def default_currency_for(country: str) -> str:
    if country in _EURO_COUNTRIES:
        return "eur"
    return _COUNTRY_CURRENCIES.get(country, "usd")


def _requirements(due: list[str]) -> dict[str, Any]:
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": list(due),
        "disabled_reason": "requirements.past_due" if due else None,
        "errors": [],
        "eventually_due": list(due),
        "past_due": list(due),
        "pending_verification": [],
    }


# --- Accounts ----------------------------------------------------------------


def account_create(
    op: Operation,
    *,
    type: str,
    country: str | None,
    email: str | None,
    requested_capabilities: list[str],
    metadata: dict[str, str] | None,
) -> dict[str, Any]:
    account_id = new_id("acct_", 16)
    country = (country or DEFAULT_COUNTRY).upper()
    account: dict[str, Any] = {
        "id": account_id,
        "object": "account",
        "business_profile": {"mcc": None, "name": None, "product_description": None, "url": None},
        "business_type": None,
        "capabilities": {name: "inactive" for name in requested_capabilities},
        "charges_enabled": False,
        "controller": {
            "is_controller": True,
            "type": "application",
            "stripe_dashboard": {"type": type if type != "custom" else "none"},
        },
        "country": country,
        "created": now(),
        "default_currency": default_currency_for(country),
        "details_submitted": False,
        "email": email,
        "external_accounts": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/accounts/{account_id}/external_accounts",
        },
        "future_requirements": _requirements([]),
        "metadata": metadata or {},
        "payouts_enabled": False,
        "requirements": _requirements(_INITIAL_REQUIREMENTS),
        "settings": {
            "dashboard": {"display_name": None, "timezone": "Etc/UTC"},
            "payouts": {
                "debit_negative_balances": True,
                "schedule": {"delay_days": 2, "interval": "daily"},
                "statement_descriptor": None,
            },
        },
        "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
        "type": type,
    }
    return op.tx.insert(account, account=PLATFORM)


def account_retrieve(op: Operation, *, account_id: str, param: str = "id") -> dict[str, Any]:
    """The account; if it is missing, the error names the parameter ("No such destination")."""
    resource = "account" if param == "id" else param
    return object_or_404(
        op, account_id, type="account", account=PLATFORM, resource=resource, param=param
    )


def account_update(
    op: Operation, *, account_id: str, email: str | None, metadata: dict[str, str] | None
) -> dict[str, Any]:
    account = account_retrieve(op, account_id=account_id)
    before = copy.deepcopy(account)
    if email is not None:
        account["email"] = email
    if metadata is not None:
        account["metadata"] = merge_metadata(account["metadata"], metadata)
    return _save_and_announce(op, before=before, account=account)


def merge_metadata(current: dict[str, str], update: dict[str, str]) -> dict[str, str]:
    """Stripe's update rule: keys are set one by one, an empty value unsets, ``{}`` clears."""
    if not update:
        return {}
    merged = {**current, **update}
    return {key: value for key, value in merged.items() if value != ""}


def _save_and_announce(
    op: Operation, *, before: dict[str, Any], account: dict[str, Any]
) -> dict[str, Any]:
    previous = changed_attributes(before, account)
    op.tx.save(account)
    if previous:
        event_emit(
            op,
            type="account.updated",
            obj=account,
            account=account["id"],
            previous_attributes=previous,
        )
    return account


# --- Account Links and the hosted onboarding -----------------------------------


def account_link_create(
    op: Operation, *, account_id: str, refresh_url: str, return_url: str, type: str
) -> dict[str, Any]:
    account_retrieve(op, account_id=account_id, param="account")
    token = new_id("link_", 32)
    created = now()
    link = {
        "id": token,
        "object": "account_link",
        "created": created,
        "expires_at": created + ACCOUNT_LINK_LIFETIME_SECONDS,
        "url": op.hosted_url(f"/connect/onboarding/{token}"),
        "_account": account_id,
        "_refresh_url": refresh_url,
        "_return_url": return_url,
        "_used": False,
    }
    op.tx.insert(link, account=PLATFORM)
    # Account Links have no id in Stripe's API: the token stays in the URL.
    return {key: link[key] for key in ("object", "created", "expires_at", "url")}


def onboarding_page(op: Operation, *, token: str) -> OnboardingPage | None:
    """The link and its account, or ``None`` for an unknown token.

    Raises ``AccountLinkUnusable`` for a used or expired link. Expiry is
    checked only here, when the page opens: someone who opened the page in
    time may take longer than five minutes to click.
    """
    link = op.tx.get(token, type="account_link", account=PLATFORM)
    if link is None:
        return None
    if link["_used"] or link["expires_at"] < now():
        raise AccountLinkUnusable(link["_refresh_url"])
    return OnboardingPage(link=link, account=account_retrieve(op, account_id=link["_account"]))


def onboarding_complete(op: Operation, *, token: str) -> str:
    """Finish onboarding as if every requirement was submitted; return the link's return_url."""
    link = _usable_link(op, token=token)
    account = account_retrieve(op, account_id=link["_account"])
    before = copy.deepcopy(account)
    account.update(
        business_type="individual",
        capabilities={name: "active" for name in account["capabilities"]},
        charges_enabled=True,
        details_submitted=True,
        payouts_enabled=True,
        requirements=_requirements([]),
        tos_acceptance={"date": now(), "ip": "127.0.0.1", "user_agent": "Gigdesk Stripe sandbox"},
    )
    if not account["external_accounts"]["data"]:
        account["external_accounts"]["data"] = [_test_bank_account(account)]
        account["external_accounts"]["total_count"] = 1
    _save_and_announce(op, before=before, account=account)
    return _use(op, link)


def accounts_seed_onboarded(op: Operation, *, count: int, country: str) -> list[str]:
    """``count`` Express accounts that finished onboarding, made directly (no links, no events).

    For benchmarks that pay thousands of agents: the same objects
    ``account_create`` and ``onboarding_complete`` leave behind.
    """
    ids = []
    for _ in range(count):
        account = account_create(
            op,
            type="express",
            country=country,
            email=None,
            requested_capabilities=["transfers"],
            metadata={"seeded": "true"},
        )
        account.update(
            business_type="individual",
            capabilities={name: "active" for name in account["capabilities"]},
            charges_enabled=True,
            details_submitted=True,
            payouts_enabled=True,
            requirements=_requirements([]),
            tos_acceptance={"date": now(), "ip": "127.0.0.1", "user_agent": "sandbox seed"},
        )
        account["external_accounts"]["data"] = [_test_bank_account(account)]
        account["external_accounts"]["total_count"] = 1
        op.tx.save(account)
        ids.append(account["id"])
    return ids


def onboarding_leave(op: Operation, *, token: str) -> str:
    """The person left without finishing: back to the return_url, nothing submitted."""
    return _use(op, _usable_link(op, token=token))


def _usable_link(op: Operation, *, token: str) -> dict[str, Any]:
    link = op.tx.get(token, type="account_link", account=PLATFORM)
    if link is None:
        raise resource_missing("account link", token)
    if link["_used"]:
        raise AccountLinkUnusable(link["_refresh_url"])
    return link


def _use(op: Operation, link: dict[str, Any]) -> str:
    # Account Links are single-use, as with Stripe: a second visit goes to refresh_url.
    link["_used"] = True
    op.tx.save(link)
    return link["_return_url"]


def _test_bank_account(account: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": new_id("ba_"),
        "object": "bank_account",
        "account": account["id"],
        "account_holder_name": None,
        "account_holder_type": "individual",
        "bank_name": "STRIPE TEST BANK",
        "country": account["country"],
        "currency": account["default_currency"],
        "default_for_currency": True,
        "last4": "6789",
        "metadata": {},
        "routing_number": "110000000",
        "status": "new",
    }


# --- Login links to the Express dashboard --------------------------------------


def login_link_create(op: Operation, *, account_id: str) -> dict[str, Any]:
    account = account_retrieve(op, account_id=account_id)
    if account["type"] != "express":
        raise StripeError("Login links can only be created for Express accounts.")
    if not account["details_submitted"]:
        raise StripeError(
            "Cannot create a login link for an account that has not completed onboarding."
        )
    token = new_id("ll_", 32)
    link = {
        "id": token,
        "object": "login_link",
        "created": now(),
        "url": op.hosted_url(f"/express/{token}"),
        "_account": account_id,
    }
    op.tx.insert(link, account=PLATFORM)
    return {key: link[key] for key in ("object", "created", "url")}


def login_link_account(op: Operation, *, token: str) -> dict[str, Any] | None:
    link = op.tx.get(token, type="login_link", account=PLATFORM)
    if link is None:
        return None
    return account_retrieve(op, account_id=link["_account"])


def account_is_connected(op: Operation, *, account_id: str) -> bool:
    return op.tx.get(account_id, type="account", account=PLATFORM) is not None
