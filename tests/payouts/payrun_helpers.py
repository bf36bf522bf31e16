"""Steps the pay run tests share: earning real money, onboarding agents, funding the platform.

Earnings come from resolved tasks and released holds (``payouts.earnings``);
payout accounts from the sandbox's hosted onboarding; the platform's Stripe
balance from a brand top-up paid on the sandbox's Checkout page. Transfers
are counted in the sandbox's own state file.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict

from django.db.models import Sum

from gigs.dispatch import task_claim
from gigs.work import task_resolve
from payouts import connect
from payouts.earnings import earnings_release_due
from payouts.models import (
    PAYRUN_LINE_UNFINISHED,
    Earning,
    Entry,
    LedgerAccount,
    PayoutAccount,
    PayRunLine,
    Purpose,
)
from payouts.stripe_api import stripe_client
from stripe_sandbox.testing import SandboxProcess
from tests.gigs.factories import GigFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent
from tests.payouts.connect_helpers import finish_onboarding
from tests.payouts.stripe_helpers import completed_webhook, pay_top_up


def earn(agent, brand, amount_minor: int, *, release: bool = True) -> Earning:
    """A resolved task of a per-resolution gig paying ``amount_minor``; released by default."""
    task = TaskFactory(gig=GigFactory(brand=brand, rate_minor=amount_minor))
    task_claim(agent=agent, task_id=task.pk)
    task_resolve(agent=agent, task_id=task.pk, resolution_code="answered")
    earning = Earning.objects.get(work_record__task=task)
    if release:
        earnings_release_due(now=earning.available_at, agent=agent)
        earning.refresh_from_db()
    return earning


def new_agent(brand):
    return make_agent(brand)


def onboard(agent) -> PayoutAccount:
    """The agent's Express account, onboarded on the sandbox's hosted page and synced."""
    finish_onboarding(connect.payout_account_start(agent=agent))
    return connect.payout_account_refresh(agent=agent)


def stale_enabled_account(agent) -> PayoutAccount:
    """An account Stripe has not enabled, which our row believes enabled (a stale sync)."""
    connect.payout_account_start(agent=agent)
    account = PayoutAccount.objects.get(agent=agent)
    PayoutAccount.objects.filter(pk=account.pk).update(payouts_enabled=True, details_submitted=True)
    account.refresh_from_db()
    return account


def fund_platform(stripe_webhooks, deliver, *, brand, admin, amount_minor: int) -> None:
    """Pay a brand top-up on the sandbox's Checkout page and credit it from the webhook."""
    from payouts import funding

    checkout = funding.topup_start(
        brand=brand, actor=admin, amount_minor=amount_minor, currency="EUR"
    )
    pay_top_up(checkout.checkout_url)
    webhook = completed_webhook(stripe_webhooks, checkout.top_up.checkout_session_id)
    deliver(webhook.body, webhook.signature)


def balance(agent, purpose: str, currency: str = "EUR") -> int:
    account = LedgerAccount.objects.filter(agent=agent, purpose=purpose, currency=currency).first()
    return account.balance_minor if account else 0


def clearing_balance(currency: str = "EUR") -> int:
    """stripe_clearing summed from its entries (the platform's accounts keep no cache)."""
    total = Entry.objects.filter(
        account__purpose=Purpose.STRIPE_CLEARING, currency=currency
    ).aggregate(total=Sum("amount_minor"))["total"]
    return total or 0


def stripe_platform_available(currency: str = "eur") -> int:
    balance_object = stripe_client().v1.balance.retrieve().to_dict()
    return sum(
        item["amount"] for item in balance_object["available"] if item["currency"] == currency
    )


def sandbox_transfers(sandbox: SandboxProcess) -> list[dict]:
    """Every transfer the sandbox has made, read from its state file (not through the API)."""
    import json

    with sqlite3.connect(f"file:{sandbox.state_path}?mode=ro", uri=True) as state:
        rows = state.execute("SELECT data FROM objects WHERE type = 'transfer' ORDER BY seq")
        return [json.loads(data) for (data,) in rows]


def transfers_per_line(sandbox: SandboxProcess) -> dict[int, int]:
    counts: dict[int, int] = defaultdict(int)
    for transfer in sandbox_transfers(sandbox):
        counts[int(transfer["metadata"]["payrun_line_id"])] += 1
    return dict(counts)


def assert_holds_match_lines() -> None:
    """Each agent's in-transit balance is exactly what their unfinished lines hold."""
    held: dict[tuple[int, str], int] = defaultdict(int)
    for agent_id, currency, amount in PayRunLine.objects.filter(
        status__in=PAYRUN_LINE_UNFINISHED
    ).values_list("agent_id", "currency", "amount_minor"):
        held[(agent_id, currency)] += amount
    in_transit = {
        (agent_id, currency): amount
        for agent_id, currency, amount in LedgerAccount.objects.filter(
            purpose=Purpose.AGENT_IN_TRANSIT
        ).values_list("agent_id", "currency", "balance_minor")
        if amount
    }
    assert in_transit == dict(held)
