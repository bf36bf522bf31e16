"""Reads of the ledger: balances proven from entries, and the auditor's checks."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import BigIntegerField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from payouts.models import Entry, LedgerAccount, Posting


def account_balance_from_entries(account: LedgerAccount) -> int:
    """The account's balance as the sum of its entries (the truth the cache must match)."""
    total = Entry.objects.filter(account=account).aggregate(total=Sum("amount_minor"))["total"]
    return total or 0


@dataclass(frozen=True)
class BalanceMismatch:
    account: LedgerAccount
    cached: int
    from_entries: int


def balance_mismatches() -> list[BalanceMismatch]:
    """Every account whose cached balance differs from the sum of its entries.

    One query: each account's entry sum as a correlated subquery (the
    ``entry_account_posting`` index serves it), compared in the database.
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
        .filter(~Q(balance_minor=F("from_entries")))
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
