"""Steps the staff earnings and payouts page tests share: staff with two-factor, real earnings."""

from __future__ import annotations

import uuid
from datetime import timedelta

from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client
from django.utils import timezone

from gigs.dispatch import task_claim
from gigs.services import resolution_codes_seed
from gigs.work import task_resolve
from payouts.earnings import earnings_release_due
from payouts.models import Earning, LedgerAccount, Purpose
from payouts.services import ledger_account, posting_create
from tests.gigs.factories import GigFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent
from tests.marketplace.factories import StaffUserFactory


def staff_with_two_factor(email: str):
    user = StaffUserFactory(email=email)
    # Staff pages require TOTP (StaffTwoFactorMiddleware); set it up as allauth would.
    TOTP.activate(user, generate_totp_secret())
    return user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def agent_of(brand, *, email: str | None = None):
    """An agent in ``brand``'s pool, online, able to claim its English gigs."""
    resolution_codes_seed(brand)
    agent = make_agent(brand)
    if email:
        agent.email = email
        agent.save(update_fields=["email"])
    return agent


def fund(brand, amount_minor: int = 1_000_000, currency: str = "EUR") -> None:
    """Credit ``brand``'s balance as a paid top-up would, so its claims are covered."""
    posting_create(
        idempotency_key=f"test-funding:{uuid.uuid4().hex}",
        kind="brand.topup",
        lines=[
            (
                ledger_account(purpose=Purpose.BRAND_BALANCE, currency=currency, brand=brand),
                amount_minor,
            ),
            (ledger_account(purpose=Purpose.STRIPE_CLEARING, currency=currency), -amount_minor),
        ],
    )


def earn(agent, brand, *, rate_minor: int = 250, currency: str = "EUR", subject=None) -> Earning:
    """One resolved per-resolution task of ``brand`` for ``agent``: its pending earning."""
    fund(brand, currency=currency)
    gig = GigFactory(brand=brand, rate_minor=rate_minor, currency=currency)
    task = TaskFactory(gig=gig, **({"subject": subject} if subject else {}))
    task_claim(agent=agent, task_id=task.pk)
    task_resolve(agent=agent, task_id=task.pk, resolution_code="answered")
    return Earning.objects.get(work_record__task=task)


def release_all() -> None:
    """Every hold ends: pending earnings become available."""
    earnings_release_due(now=timezone.now() + timedelta(days=365))


def balance(agent, purpose: str, currency: str = "EUR") -> int:
    account = LedgerAccount.objects.filter(agent=agent, purpose=purpose, currency=currency).first()
    return account.balance_minor if account else 0
