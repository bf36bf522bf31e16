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
The platform's own accounts are the exception: nearly every posting touches
``platform_revenue`` or ``stripe_clearing``, so a cached balance there would
be one row every writer waits on. Their ``balance_minor`` stays 0 and their
balance is summed from entries when read (``payouts.selectors.account_balance``).

Postings and entries are immutable: a mistake is corrected by a new posting
(``posting_reverse`` or a ``correction``), never by editing or deleting rows.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models.functions import Length, Upper

from gigs.models import BrandScopedQuerySet, currency_validator

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
# Accounts whose balance is only ever summed from entries: shared by every
# writer, a cached balance on them would serialise all postings on one row.
UNCACHED_PURPOSES = PLATFORM_PURPOSES


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
    # posting's own transaction; ledger_check verifies it. Always 0 for the
    # UNCACHED_PURPOSES (read those with payouts.selectors.account_balance).
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
    def keeps_cached_balance(self) -> bool:
        return self.purpose not in UNCACHED_PURPOSES

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


# --- What brands pay and agents earn ---------------------------------------------------

# The platform's share on top of what the agent earns, in basis points
# (2,000 = 20 %), and how long an earning stays pending before it can be paid
# out (time for the brand's QA and disputes), unless staff set a brand's own.
DEFAULT_PLATFORM_FEE_BPS = 2000
DEFAULT_HOLD_DAYS = 7


class BrandTerms(models.Model):
    """A brand's money terms, set by platform staff: the platform fee and the hold.

    A brand without a row has the defaults; ``payouts.selectors.brand_terms``
    reads them either way.
    """

    brand = models.OneToOneField(
        "brands.Brand", on_delete=models.CASCADE, related_name="money_terms"
    )
    platform_fee_bps = models.PositiveIntegerField(
        default=DEFAULT_PLATFORM_FEE_BPS,
        validators=[MaxValueValidator(10_000)],
        help_text="The platform fee in basis points of the agent's earning (2000 = 20 %).",
    )
    hold_days = models.PositiveIntegerField(
        default=DEFAULT_HOLD_DAYS,
        validators=[MaxValueValidator(90)],
        help_text="Days an earning stays pending before it can be paid out.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.brand}: fee {self.platform_fee_bps / 100:g} %, hold {self.hold_days} days"


class EarningStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    AVAILABLE = "available", "Available"
    CLAWED_BACK = "clawed_back", "Clawed back"


class Earning(models.Model):
    """What one finished work record earned its agent, posted to the ledger once.

    One row per work record (the database refuses a second), with the terms
    it was priced on. The money itself is in the postings: ``posting`` moved
    it from the brand to the agent's pending balance and the platform's
    revenue; ``released_posting`` from pending to available when the hold
    ended; ``clawback_posting`` took it back.
    """

    work_record = models.OneToOneField(
        "gigs.WorkRecord", on_delete=models.PROTECT, related_name="earning"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="earnings"
    )
    brand = models.ForeignKey("brands.Brand", on_delete=models.PROTECT, related_name="earnings")
    gig = models.ForeignKey("gigs.Gig", on_delete=models.PROTECT, related_name="earnings")
    currency = models.CharField(max_length=3, validators=[currency_validator])
    # Copied from the work record: what the line on a statement shows.
    pay_model = models.CharField(max_length=20)
    billable_seconds = models.PositiveIntegerField()
    rate_minor = models.PositiveIntegerField()
    amount_minor = models.BigIntegerField(help_text="The agent's earning.")
    fee_minor = models.BigIntegerField(help_text="The platform fee the brand pays on top.")
    fee_bps = models.PositiveIntegerField()
    earned_at = models.DateTimeField()
    available_at = models.DateTimeField(help_text="When the hold ends.")
    status = models.CharField(
        max_length=20, choices=EarningStatus.choices, default=EarningStatus.PENDING
    )
    posting = models.OneToOneField(Posting, on_delete=models.PROTECT, related_name="+")
    released_posting = models.OneToOneField(
        Posting, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    clawback_posting = models.OneToOneField(
        Posting, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    clawback_reason = models.TextField(blank=True)
    clawed_back_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    clawed_back_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-earned_at", "-id"]
        indexes = [
            models.Index(fields=["agent", "-earned_at"], name="earning_agent_recent"),
            # The hold release: pending earnings whose hold has ended.
            models.Index(
                fields=["available_at"],
                condition=models.Q(status="pending"),
                name="earning_hold_due",
            ),
            # The metrics roll-up's pass: clawbacks since its previous pass.
            models.Index(
                fields=["clawed_back_at"],
                condition=models.Q(clawed_back_at__isnull=False),
                name="earning_clawed_back",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_minor__gt=0, fee_minor__gte=0),
                name="earning_amounts_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"Earning #{self.pk}: {self.amount_minor} {self.currency} for {self.agent}"


# --- Funding and Stripe events -------------------------------------------------------


class StripeEventStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"
    FAILED = "failed", "Failed"


class StripeEvent(models.Model):
    """One event Stripe sent to our webhook endpoint, stored once by its id.

    The endpoint stores the verified event and answers at once; a background
    job processes it (``payouts.stripe_events``). The unique ``event_id`` is
    what makes a redelivered event change nothing: Stripe delivers at least
    once, and in no particular order.
    """

    event_id = models.CharField(max_length=255, unique=True, help_text="Stripe's evt_… id.")
    type = models.CharField(max_length=100)
    # The connected account a Connect event is about (acct_…); blank for the platform's own.
    account = models.CharField(max_length=255, blank=True)
    livemode = models.BooleanField(default=False)
    payload = models.JSONField(help_text="The event exactly as Stripe sent it.")
    stripe_created_at = models.DateTimeField(help_text="When the event happened at Stripe.")
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=20, choices=StripeEventStatus.choices, default=StripeEventStatus.RECEIVED
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The sweep: events still waiting for their job.
            models.Index(
                fields=["received_at"],
                condition=models.Q(status="received"),
                name="stripeevent_waiting",
            ),
            models.Index(fields=["type", "-id"], name="stripeevent_type_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type} ({self.status})"


class TopUpStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PAID = "paid", "Paid"
    CANCELED = "canceled", "Canceled"
    EXPIRED = "expired", "Expired"


class TopUp(models.Model):
    """A brand admin's payment into the brand balance through Stripe Checkout.

    It starts pending with its Checkout Session; only the verified
    ``checkout.session.completed`` webhook marks it paid, together with the
    ledger posting that credits the brand (``posting``). Returning from
    Checkout proves nothing: anyone can open the success URL.
    """

    brand = models.ForeignKey("brands.Brand", on_delete=models.PROTECT, related_name="top_ups")
    currency = models.CharField(max_length=3, validators=[currency_validator])
    amount_minor = models.BigIntegerField()
    status = models.CharField(
        max_length=20, choices=TopUpStatus.choices, default=TopUpStatus.PENDING
    )
    # Null until Stripe answers; unique so that one session can credit one top-up only.
    checkout_session_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    posting = models.OneToOneField(
        Posting, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = BrandScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["brand", "-id"], name="topup_brand_recent")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_minor__gt=0), name="topup_amount_positive"
            ),
            # Paid means credited: a paid top-up without its posting would be money lost.
            models.CheckConstraint(
                condition=~models.Q(status="paid")
                | models.Q(posting__isnull=False, paid_at__isnull=False),
                name="topup_paid_has_posting",
            ),
        ]

    def __str__(self) -> str:
        return f"Top-up #{self.pk}: {self.amount_minor} {self.currency} ({self.status})"


# --- Payout accounts -------------------------------------------------------------------


class PayoutAccount(models.Model):
    """An agent's Stripe Connect Express account: where pay runs send the agent's money.

    Created on the agent's first "Set up payouts" (``payouts.connect``); the
    onboarding itself happens on Stripe's hosted pages. The status fields
    copy what Stripe last said about the account (the return page re-reads
    it, ``account.updated`` webhooks push it), as of ``synced_at``: data
    older than that is dropped, so a late or out-of-order event never rolls
    the status back.
    """

    agent = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_account"
    )
    stripe_account_id = models.CharField(
        max_length=255, unique=True, help_text="Stripe's acct_… id."
    )
    # Stripe fixes an account's country when it is created; it decides the payout currency.
    country = models.CharField(max_length=2, blank=True)
    details_submitted = models.BooleanField(default=False)
    charges_enabled = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(
        default=False, help_text="Stripe pays this account out: pay runs may include the agent."
    )
    requirements_due = models.JSONField(
        default=list,
        blank=True,
        help_text="What Stripe still needs (requirements currently due and past due).",
    )
    disabled_reason = models.CharField(max_length=255, blank=True)
    synced_at = models.DateTimeField(
        help_text="When Stripe's data above was current, in Stripe's whole seconds."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.stripe_account_id} for {self.agent}"

    @property
    def in_review(self) -> bool:
        """Every detail is in and nothing is due, yet payouts are off: Stripe is still checking."""
        return self.details_submitted and not self.requirements_due and not self.payouts_enabled


# --- Pay runs ------------------------------------------------------------------------------


class PayRunStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    EXECUTING = "executing", "Executing"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class PayRun(models.Model):
    """One payout of every eligible agent's available money in one currency (``payouts.payruns``).

    Staff create it (lines and skips are gathered then, and each line's money
    is held), a second staff member approves it, and execution sends one
    Stripe transfer per line in the background. The execution lease
    (``lease_token``, ``lease_expires_at``) lets one worker at a time send
    the run's transfers; a worker that dies simply lets it lapse.
    """

    currency = models.CharField(max_length=3, validators=[currency_validator])
    cutoff_at = models.DateTimeField(help_text="Money available by this time is paid.")
    minimum_minor = models.BigIntegerField(help_text="Agents with less are skipped.")
    status = models.CharField(
        max_length=20, choices=PayRunStatus.choices, default=PayRunStatus.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    executed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    executed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    lease_token = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text="Why execution last paused, if it did.")

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The sweep: runs still executing.
            models.Index(
                fields=["lease_expires_at"],
                condition=models.Q(status="executing"),
                name="payrun_executing",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(currency=Upper("currency"))
                & models.Q(models.lookups.Exact(Length("currency"), 3)),
                name="payrun_currency_iso",
            ),
            models.CheckConstraint(
                condition=models.Q(minimum_minor__gte=1), name="payrun_minimum_positive"
            ),
            # Four eyes: the creator never approves their own run.
            models.CheckConstraint(
                condition=models.Q(approved_by__isnull=True)
                | ~models.Q(approved_by=models.F("created_by")),
                name="payrun_approver_not_creator",
            ),
        ]

    def __str__(self) -> str:
        return f"Pay run #{self.pk} ({self.currency}, {self.status})"


class PayRunLineStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    IN_TRANSIT = "in_transit", "In transit"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# A line in these holds the agent's money (agent_in_transit): one at a time per agent and currency.
PAYRUN_LINE_UNFINISHED = (PayRunLineStatus.QUEUED, PayRunLineStatus.IN_TRANSIT)


class PayRunLine(models.Model):
    """One agent's payout in a run: one Stripe transfer per attempt.

    ``attempt`` starts at 1 and grows each time staff retry a failed line;
    the transfer's Idempotency-Key is derived from (line, attempt), so every
    resend of one attempt is the same transfer at Stripe. ``amount_minor`` is
    what this attempt pays; ``netted_minor`` is what a clawback took off the
    held amount before it was sent.
    """

    run = models.ForeignKey(PayRun, on_delete=models.PROTECT, related_name="lines")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payrun_lines"
    )
    payout_account = models.ForeignKey(
        PayoutAccount, on_delete=models.PROTECT, related_name="payrun_lines"
    )
    destination = models.CharField(
        max_length=255, help_text="The connected account (acct_…) when the run was gathered."
    )
    amount_minor = models.BigIntegerField()
    netted_minor = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    status = models.CharField(
        max_length=20, choices=PayRunLineStatus.choices, default=PayRunLineStatus.QUEUED
    )
    attempt = models.PositiveIntegerField(default=1)
    stripe_transfer_id = models.CharField(max_length=255, blank=True)
    failure_code = models.CharField(max_length=100, blank=True)
    failure_reason = models.TextField(blank=True)
    last_error = models.TextField(blank=True, help_text="The last transient error, if any.")
    sent_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    reversed_minor = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["run", "status", "id"], name="payrunline_run_status"),
            models.Index(fields=["agent", "-id"], name="payrunline_agent_recent"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["run", "agent"], name="payrunline_one_per_run"),
            # The agent's held money is in at most one line per currency, across runs.
            models.UniqueConstraint(
                fields=["agent", "currency"],
                condition=models.Q(status__in=PAYRUN_LINE_UNFINISHED),
                name="payrunline_one_unfinished_per_agent",
            ),
            models.UniqueConstraint(
                fields=["stripe_transfer_id"],
                condition=~models.Q(stripe_transfer_id=""),
                name="payrunline_unique_transfer",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_minor__gte=0, netted_minor__gte=0),
                name="payrunline_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(status="cancelled") | models.Q(amount_minor__gt=0),
                name="payrunline_pays_something",
            ),
            models.CheckConstraint(
                condition=models.Q(reversed_minor__gte=0)
                & models.Q(reversed_minor__lte=models.F("amount_minor")),
                name="payrunline_reversed_within_amount",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="paid") | ~models.Q(stripe_transfer_id=""),
                name="payrunline_paid_has_transfer",
            ),
        ]

    def __str__(self) -> str:
        return f"Pay run #{self.run_id} line #{self.pk}: {self.amount_minor} {self.currency}"

    @property
    def transfer_idempotency_key(self) -> str:
        return f"payrun-line-{self.pk}-attempt-{self.attempt}"


class PayRunSkipReason(models.TextChoices):
    NO_PAYOUT_ACCOUNT = "no_payout_account", "No payout account"
    PAYOUTS_NOT_ENABLED = "payouts_not_enabled", "Payouts not enabled"
    BELOW_MINIMUM = "below_minimum", "Below the minimum payout"
    NEGATIVE_BALANCE = "negative_balance", "Negative balance"
    ALREADY_IN_RUN = "already_in_run", "Already in an unfinished pay run"


class PayRunSkip(models.Model):
    """An agent with money in the run's currency that the run does not pay, and why."""

    run = models.ForeignKey(PayRun, on_delete=models.PROTECT, related_name="skips")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount_minor = models.BigIntegerField(help_text="The available balance the agent had.")
    reason_code = models.CharField(max_length=40, choices=PayRunSkipReason.choices)
    reason = models.TextField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "agent"], name="payrunskip_one_per_run"),
        ]

    def __str__(self) -> str:
        return f"Pay run #{self.run_id} skips {self.agent_id}: {self.reason_code}"
