"""Reads of the ledger: balances proven from entries, and the auditor's checks."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import BigIntegerField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from payouts.models import UNCACHED_PURPOSES, Earning, Entry, LedgerAccount, Posting, Purpose


def account_balance_from_entries(account: LedgerAccount) -> int:
    """The account's balance as the sum of its entries (the truth the cache must match)."""
    total = Entry.objects.filter(account=account).aggregate(total=Sum("amount_minor"))["total"]
    return total or 0


def account_balance(account: LedgerAccount) -> int:
    """The account's balance: the cached figure, or the entries' sum where none is kept."""
    if account.keeps_cached_balance:
        return account.balance_minor
    return account_balance_from_entries(account)


@dataclass(frozen=True)
class BalanceMismatch:
    account: LedgerAccount
    cached: int
    from_entries: int


def balance_mismatches() -> list[BalanceMismatch]:
    """Every account whose cached balance differs from the sum of its entries.

    One query: each account's entry sum as a correlated subquery (the
    ``entry_account_posting`` index serves it), compared in the database.
    The platform's accounts keep no cache (``UNCACHED_PURPOSES``); a nonzero
    ``balance_minor`` on one of them is a mismatch all the same.
    """
    entry_sum = (
        Entry.objects.filter(account=OuterRef("pk"))
        .order_by()
        .values("account")
        .annotate(total=Sum("amount_minor"))
        .values("total")
    )
    accounts = (
        LedgerAccount.objects.annotate(
            from_entries=Coalesce(
                Subquery(entry_sum, output_field=BigIntegerField()),
                Value(0),
                output_field=BigIntegerField(),
            )
        )
        .filter(
            (~Q(purpose__in=UNCACHED_PURPOSES) & ~Q(balance_minor=F("from_entries")))
            | (Q(purpose__in=UNCACHED_PURPOSES) & ~Q(balance_minor=0))
        )
        .select_related("brand", "agent")
        .order_by("pk")
    )
    return [
        BalanceMismatch(
            account=account, cached=account.balance_minor, from_entries=account.from_entries
        )
        for account in accounts
    ]


@dataclass(frozen=True)
class UnbalancedPosting:
    posting_id: int
    currency: str
    total: int


def unbalanced_postings() -> list[UnbalancedPosting]:
    """Every (posting, currency) whose entries do not sum to zero.

    ``posting_create`` never writes one; this is how the auditor proves it.
    """
    rows = (
        Entry.objects.order_by()
        .values("posting_id", "currency")
        .annotate(total=Sum("amount_minor"))
        .exclude(total=0)
        .order_by("posting_id", "currency")
    )
    return [UnbalancedPosting(row["posting_id"], row["currency"], row["total"]) for row in rows]


def entries_in_foreign_currency() -> QuerySet[Entry]:
    """Entries whose currency is not their account's (never written by the services)."""
    return Entry.objects.exclude(currency=F("account__currency")).order_by("pk")


def postings_for_account(account: LedgerAccount) -> QuerySet[Posting]:
    """The postings that touched ``account``, newest first (ids grow with creation time)."""
    return Posting.objects.filter(
        pk__in=Entry.objects.filter(account=account).values("posting_id")
    ).order_by("-id")


# --- An agent's earnings ----------------------------------------------------------------


@dataclass(frozen=True)
class AgentBalances:
    """One currency of an agent's money, in minor units."""

    currency: str
    pending: int
    available: int
    in_transit: int
    paid: int


# Pay runs post this kind when Stripe confirms a transfer: the money left the
# agent's in-transit balance for their own Stripe account.
PAYOUT_PAID_KIND = "payout.paid"
# ...and this one when staff take (part of) a transfer back: the money returns
# to the agent's available balance, and no longer counts as paid.
PAYOUT_REVERSED_KIND = "payout.reversed"


def agent_balances(agent) -> list[AgentBalances]:
    """The agent's pending, available, in-transit and paid money, per currency.

    Pending, available and in transit are the cached balances of their
    ledger accounts; paid is what ``payout.paid`` postings moved out of in
    transit, less what ``payout.reversed`` postings took back. Two queries.
    """
    balances: dict[str, dict[str, int]] = {}
    for purpose, currency, amount in LedgerAccount.objects.filter(agent=agent).values_list(
        "purpose", "currency", "balance_minor"
    ):
        balances.setdefault(currency, {})[purpose] = amount
    # Leaving in transit as paid is a debit (negative); a reversal credits
    # available: the net, negated, is what reached the agent and stayed.
    paid = dict(
        Entry.objects.filter(
            Q(account__purpose=Purpose.AGENT_IN_TRANSIT, posting__kind=PAYOUT_PAID_KIND)
            | Q(account__purpose=Purpose.AGENT_AVAILABLE, posting__kind=PAYOUT_REVERSED_KIND),
            account__agent=agent,
        )
        .values("currency")
        .annotate(total=Sum("amount_minor"))
        .values_list("currency", "total")
    )
    return [
        AgentBalances(
            currency=currency,
            pending=amounts.get(Purpose.AGENT_PENDING, 0),
            available=amounts.get(Purpose.AGENT_AVAILABLE, 0),
            in_transit=amounts.get(Purpose.AGENT_IN_TRANSIT, 0),
            paid=-(paid.get(currency) or 0),
        )
        for currency, amounts in sorted(balances.items())
    ]


def agent_earnings(agent, *, status: str | None = None, brand_id: int | None = None):
    """The agent's earnings, newest first, with what a statement line shows."""
    earnings = Earning.objects.filter(agent=agent).select_related(
        "brand", "gig", "work_record__task"
    )
    if status:
        earnings = earnings.filter(status=status)
    if brand_id:
        earnings = earnings.filter(brand_id=brand_id)
    return earnings.order_by("-earned_at", "-id")
