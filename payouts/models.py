"""The double-entry ledger: accounts, postings and their entries.

Every movement of money is one ``Posting`` made of two or more ``Entry`` rows
whose amounts sum to zero in each currency. Amounts are signed integers in the
currency's minor unit (cents); never floats.

Sign convention: **a positive amount credits the account, a negative amount
debits it**, and an account's balance is the plain sum of its entries. Every
account an owner holds (a brand's balance, an agent's earnings, the platform's
revenue) is money the platform owes or has earned, so it is credit-normal and
reads positive when the owner has money: a brand with 10 EUR to spend has a
``brand_balance`` of +1000. ``stripe_clearing`` is the other side of the
books, the platform's money at Stripe (an asset, debit-normal): it reads
*negative* by what Stripe holds for us. A top-up of 10 EUR therefore posts
``brand_balance +1000, stripe_clearing -1000``; an earning posts
``brand_balance -1100, agent_pending +1000, platform_revenue +100``.

``LedgerAccount.balance_minor`` caches that sum so that reads need no
aggregate; ``payouts.services.posting_create`` keeps it in step in the same
transaction, and ``manage.py ledger_check`` proves it against the entries.

Postings and entries are immutable: a mistake is corrected by a new posting
(``posting_reverse`` or a ``correction``), never by editing or deleting rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Length, Upper

from gigs.models import currency_validator

IMMUTABLE = "Ledger postings and entries are immutable: post a correction instead."


class Purpose(models.TextChoices):
    BRAND_BALANCE = "brand_balance", "Brand balance"
    BRAND_RESERVED = "brand_reserved", "Brand reserved"
    AGENT_PENDING = "agent_pending", "Agent pending"
    AGENT_AVAILABLE = "agent_available", "Agent available"
    AGENT_IN_TRANSIT = "agent_in_transit", "Agent in transit"
    PLATFORM_REVENUE = "platform_revenue", "Platform revenue"
    STRIPE_CLEARING = "stripe_clearing", "Stripe clearing"


BRAND_PURPOSES = (Purpose.BRAND_BALANCE, Purpose.BRAND_RESERVED)
AGENT_PURPOSES = (Purpose.AGENT_PENDING, Purpose.AGENT_AVAILABLE, Purpose.AGENT_IN_TRANSIT)
PLATFORM_PURPOSES = (Purpose.PLATFORM_REVENUE, Purpose.STRIPE_CLEARING)


class LedgerAccount(models.Model):
    """One balance of one owner in one currency.

    The owner is a brand, an agent, or the platform (neither set), and must
    fit the purpose; the database checks both that and uniqueness per
    (owner, purpose, currency). Get accounts through
    ``payouts.services.ledger_account``, which creates them on first use.
    """

    brand = models.ForeignKey(
        "brands.Brand",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
    )
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    # The sum of this account's entries, kept by posting_create in the
    # posting's own transaction; ledger_check verifies it.
    balance_minor = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(purpose__in=BRAND_PURPOSES, brand__isnull=False, agent__isnull=True)
                    | models.Q(purpose__in=AGENT_PURPOSES, agent__isnull=False, brand__isnull=True)
                    | models.Q(
                        purpose__in=PLATFORM_PURPOSES, brand__isnull=True, agent__isnull=True
                    )
                ),
                name="ledgeraccount_owner_fits_purpose",
            ),
            # One spelling per currency, or per-currency sums would split "eur" from "EUR".
            models.CheckConstraint(
                condition=models.Q(currency=Upper("currency"))
                & models.Q(models.lookups.Exact(Length("currency"), 3)),
                name="ledgeraccount_currency_iso",
            ),
            # NULL never equals NULL in a unique index: one partial constraint per owner kind.
            models.UniqueConstraint(
                fields=["brand", "purpose", "currency"],
                condition=models.Q(brand__isnull=False),
                name="ledgeraccount_unique_brand",
            ),
            models.UniqueConstraint(
                fields=["agent", "purpose", "currency"],
                condition=models.Q(agent__isnull=False),
                name="ledgeraccount_unique_agent",
            ),
            models.UniqueConstraint(
                fields=["purpose", "currency"],
                condition=models.Q(brand__isnull=True, agent__isnull=True),
                name="ledgeraccount_unique_platform",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.owner_label} · {self.purpose} · {self.currency}"

    @property
    def owner_label(self) -> str:
        if self.brand_id is not None:
            return f"brand {self.brand} (#{self.brand_id})"
        if self.agent_id is not None:
            return f"agent {self.agent} (#{self.agent_id})"
        return "platform"


class ImmutableQuerySet(models.QuerySet):
    """Refuses bulk changes; also the base manager, so Django's own paths meet it too."""

    def update(self, **kwargs):  # noqa: ARG002
        raise TypeError(IMMUTABLE)

    def delete(self):
        raise TypeError(IMMUTABLE)


class ImmutableModel(models.Model):
    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError(IMMUTABLE)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError(IMMUTABLE)


class Posting(ImmutableModel):
    """One balanced movement of money, written once under a unique idempotency key.

    Callers derive the key from what they post for ("work_record:123:earning"),
    so a retried job or a replayed webhook finds the posting already there.
    """

    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=40, help_text='What moved, e.g. "brand.topup".')
    memo = models.TextField(blank=True)
    reference = models.CharField(
        max_length=200, blank=True, help_text='What it is for, e.g. "work_record:123".'
    )
    # A reversal or correction points at what it undoes; each posting is undone at most once.
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        base_manager_name = "objects"
        constraints = [
            models.UniqueConstraint(
                fields=["reverses"],
                condition=models.Q(reverses__isnull=False),
                name="posting_reversed_at_most_once",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} ({self.idempotency_key})"


class Entry(ImmutableModel):
    """One line of a posting: a signed amount on one account (positive credits it)."""

    posting = models.ForeignKey(Posting, on_delete=models.PROTECT, related_name="entries")
    # No index of its own: "entry_account_posting" starts with the account.
    account = models.ForeignKey(
        LedgerAccount, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    amount_minor = models.BigIntegerField()
    # The account's currency, repeated so that per-currency sums need no join.
    currency = models.CharField(max_length=3)

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        base_manager_name = "objects"
        verbose_name_plural = "entries"
        indexes = [models.Index(fields=["account", "posting"], name="entry_account_posting")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(amount_minor=0), name="entry_amount_nonzero"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount_minor:+d} {self.currency} on account #{self.account_id}"
