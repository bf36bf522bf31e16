"""Reservations: a claim sets aside what the work is expected to cost, and the
final work record settles it.

Dispatch offers a gig's tasks only while the brand can cover one more claim
(``brand_can_cover``, a rule in ``gigs.eligibility``). A claim then, in its own
transaction:

1. locks the brand's ``brand_balance`` (and ``brand_reserved``) rows in that
   currency, and refuses with ``BrandCannotCover`` when the balance is below
   the claim's expected cost. The lock is what keeps two concurrent claims
   from both spending the last of the balance;
2. posts ``brand_balance -X, brand_reserved +X`` under ``reservation:<work
   session id>`` and records X on the work session (``reserved_minor``).

The expected cost X of one claim is what the brand would pay for it at its
terms: per resolution the rate, per minute the rate times the gig's
``reserve_minutes``; plus the platform fee on that, rounded half up like
every earning (``payouts.earnings``).

When the session closes, ``payouts.earnings.earning_post`` settles it in one
posting keyed on the work record: the reservation comes back out of
``brand_reserved`` and the actual cost is charged to ``brand_balance`` (only
the difference appears there). Work that earns nothing still releases its
reservation (``work_record:<id>:release``). The actual cost may exceed the
reservation (a per-minute task that ran long): the balance can then dip below
zero, which is allowed and shown to the brand.

Whenever a brand's balance crosses what one claim of one of its active gigs
needs, in either direction, the pool's live connections are told to read
their state again (``gigs.live.pool_scope_changed``, on commit): offers of a
gig that can no longer be paid stop, and those of a gig funded again come back.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from django.db.models import (
    BigIntegerField,
    Case,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce

from gigs import live
from gigs.models import Gig, GigStatus, PayModel, WorkSession
from marketplace.errors import Conflict
from payouts.earnings import brand_terms, round_half_up
from payouts.models import (
    DEFAULT_PLATFORM_FEE_BPS,
    BrandTerms,
    LedgerAccount,
    Posting,
    Purpose,
)
from payouts.services import ledger_account, posting_create

RESERVATION_KIND = "work.reservation"
RELEASE_KIND = "work.reservation_release"
# Said to the agent: brand-neutral, nothing about how much the brand has.
BRAND_CANNOT_COVER = "This gig is paused: the brand's balance cannot cover another task."


class BrandCannotCover(Conflict):
    """The brand's balance is below what one more claim of the gig needs."""

    code = "brand_cannot_cover"

    def __init__(
        self,
        message: str = BRAND_CANNOT_COVER,
        *,
        brand_id: int | None = None,
        currency: str = "",
        gig_id: int | None = None,
        **kwargs,
    ):
        super().__init__(message, **kwargs)
        # Which balance was short (not shown to the agent): claim-next skips
        # this gig and the brand's other gigs in that currency.
        self.brand_id = brand_id
        self.currency = currency
        self.gig_id = gig_id


def reservation_key(session: WorkSession) -> str:
    return f"reservation:{session.pk}"


def release_key(work_record_id: int) -> str:
    return f"work_record:{work_record_id}:release"


# --- What one claim costs -----------------------------------------------------------------


def claim_amount(*, pay_model: str, rate_minor: int, reserve_minutes: int) -> int:
    """The agent's share of one claim's expected cost, before the fee."""
    if pay_model == PayModel.PER_MINUTE:
        return rate_minor * reserve_minutes
    return rate_minor


def cost_with_fee(amount: int, fee_bps: int) -> int:
    """``amount`` plus the platform fee on it, rounded half up as earnings are."""
    return amount + round_half_up(Fraction(amount * fee_bps, 10_000))


def claim_cost(*, gig: Gig, fee_bps: int | None = None) -> int:
    """What the brand is expected to pay for one claim of ``gig``: the agent's
    earning (per resolution the rate, per minute ``reserve_minutes`` at the
    rate) plus the platform fee at the brand's terms (read when not given)."""
    if fee_bps is None:
        fee_bps = brand_terms(gig.brand_id).platform_fee_bps
    amount = claim_amount(
        pay_model=gig.pay_model, rate_minor=gig.rate_minor, reserve_minutes=gig.reserve_minutes
    )
    return cost_with_fee(amount, fee_bps)


def _claim_amount_expression() -> Case:
    """``claim_amount`` in SQL, on a Gig query (bigint: a per-minute rate times
    the minutes may not fit in an integer column's type)."""
    rate = Cast(F("rate_minor"), BigIntegerField())
    return Case(
        When(pay_model=PayModel.PER_MINUTE, then=rate * F("reserve_minutes")),
        default=rate,
        output_field=BigIntegerField(),
    )


def _fee_bps_expression(brand_ref) -> Coalesce:
    terms = BrandTerms.objects.filter(brand_id=brand_ref).values("platform_fee_bps")[:1]
    return Coalesce(
        Subquery(terms), Value(DEFAULT_PLATFORM_FEE_BPS), output_field=BigIntegerField()
    )


def _with_fee_expression(amount, fee_bps) -> ExpressionWrapper:
    # Half up in integers: floor((a * bps + 5000) / 10000) for a >= 0, as
    # ``round_half_up`` does (both databases divide integers as integers).
    return ExpressionWrapper(
        amount + (amount * fee_bps + Value(5000)) / Value(10_000),
        output_field=BigIntegerField(),
    )


def claim_cost_expression() -> ExpressionWrapper:
    """``claim_cost`` in SQL, on a Gig query (the brand's terms as a subquery)."""
    return _with_fee_expression(
        _claim_amount_expression(), _fee_bps_expression(OuterRef("brand_id"))
    )


def _covering_balance():
    """On a Gig query annotated with ``claim_cost``: the brand's balance in the
    gig's currency holds at least that."""
    return Exists(
        LedgerAccount.objects.filter(
            brand_id=OuterRef("brand_id"),
            purpose=Purpose.BRAND_BALANCE,
            currency=OuterRef("currency"),
            balance_minor__gte=OuterRef("claim_cost"),
        )
    )


def brand_can_cover(gig_ref) -> Exists:
    """The dispatch condition: the gig ``gig_ref`` (a pk, ``F`` or ``OuterRef``)
    is one whose brand can pay for one more claim of it now."""
    return Exists(
        Gig.objects.filter(pk=gig_ref)
        .annotate(claim_cost=claim_cost_expression())
        .filter(_covering_balance())
    )


def gig_can_cover(gig: Gig) -> bool:
    """Whether ``gig``'s brand can pay for one more claim of it now (one query)."""
    return Gig.objects.filter(brand_can_cover(gig.pk), pk=gig.pk).exists()


# --- The claim's side ----------------------------------------------------------------------


@dataclass
class Hold:
    """A claim's reservation, checked and locked, not yet posted."""

    brand_id: int
    currency: str
    amount_minor: int
    balance: LedgerAccount
    reserved: LedgerAccount
    # The brand's balance before this claim, and the range of what one claim
    # of its active gigs in this currency costs: enough to tell whether the
    # reservation takes the balance below any of them without another query.
    balance_before: int
    cheapest_claim: int
    dearest_claim: int


def _amount_bound(aggregate) -> Subquery:
    gigs = (
        Gig.objects.filter(
            brand_id=OuterRef("brand_id"), currency=OuterRef("currency"), status=GigStatus.ACTIVE
        )
        .order_by()
        .values("brand_id")
        .annotate(bound=aggregate(_claim_amount_expression()))
        .values("bound")
    )
    return Subquery(gigs, output_field=BigIntegerField())


def reservation_check(*, gig: Gig) -> Hold:
    """Lock the brand's balance for one claim of ``gig`` and check it covers the cost.

    Call inside the claim's transaction, after the task row is locked and
    before anything is written: a refusal (``BrandCannotCover``) then leaves
    nothing to undo. One statement reads and locks the brand's balance and
    reserved rows in the gig's currency (in primary-key order, as
    ``posting_create`` does, so claims and postings never deadlock), with the
    brand's fee and the price range of its active gigs. Concurrent claims on
    one brand queue on that lock until the first commits: none can spend a
    balance another has already reserved.
    """
    rows = list(
        LedgerAccount.objects.select_for_update()
        .filter(
            brand_id=gig.brand_id,
            currency=gig.currency,
            purpose__in=(Purpose.BRAND_BALANCE, Purpose.BRAND_RESERVED),
        )
        .annotate(
            fee_bps=_fee_bps_expression(OuterRef("brand_id")),
            cheapest_amount=_amount_bound(Min),
            dearest_amount=_amount_bound(Max),
        )
        .order_by("pk")
    )
    balance = next((row for row in rows if row.purpose == Purpose.BRAND_BALANCE), None)
    if balance is None:
        # Never funded in this currency.
        raise BrandCannotCover(brand_id=gig.brand_id, currency=gig.currency, gig_id=gig.pk)
    cost = claim_cost(gig=gig, fee_bps=balance.fee_bps)
    if balance.balance_minor < cost:
        raise BrandCannotCover(brand_id=gig.brand_id, currency=gig.currency, gig_id=gig.pk)
    reserved = next((row for row in rows if row.purpose == Purpose.BRAND_RESERVED), None)
    if reserved is None:
        reserved = ledger_account(
            purpose=Purpose.BRAND_RESERVED, currency=gig.currency, brand=gig.brand
        )
    cheapest = balance.cheapest_amount if balance.cheapest_amount is not None else 0
    dearest = balance.dearest_amount if balance.dearest_amount is not None else 0
    return Hold(
        brand_id=gig.brand_id,
        currency=gig.currency,
        amount_minor=cost,
        balance=balance,
        reserved=reserved,
        balance_before=balance.balance_minor,
        cheapest_claim=cost_with_fee(cheapest, balance.fee_bps),
        # The claimed gig itself may have been paused a moment ago: include it.
        dearest_claim=max(cost, cost_with_fee(dearest, balance.fee_bps)),
    )


def reservation_post(*, hold: Hold, session: WorkSession) -> Posting:
    """Post the reservation ``hold`` checked, for the work session the claim opened.

    ``session.reserved_minor`` must already say ``hold.amount_minor``. When the
    balance falls below what a claim of one of the brand's gigs needs, the
    pool's connections are told (after commit), so its offers stop.
    """
    posting = posting_create(
        idempotency_key=reservation_key(session),
        kind=RESERVATION_KIND,
        lines=[(hold.balance, -hold.amount_minor), (hold.reserved, hold.amount_minor)],
        memo=f"Task #{session.task_id} claimed: expected cost set aside",
        reference=f"work_session:{session.pk}",
    )
    after = hold.balance_before - hold.amount_minor
    # The common case, far above every gig's price, costs no query.
    if after < hold.dearest_claim and hold.balance_before >= hold.cheapest_claim:
        _publish_if_crossed(
            brand_id=hold.brand_id, currency=hold.currency, before=hold.balance_before, after=after
        )
    return posting


# --- Settlement's side and funding --------------------------------------------------------


def reservation_release(*, work_record, reserved_minor: int) -> Posting:
    """Give back the reservation of work that earned nothing, keyed on its record.

    ``payouts.earnings.earning_post`` calls this in the record's transaction;
    work that earned something releases its reservation inside its earning.
    """
    brand, currency = work_record.brand, work_record.currency
    posting = posting_create(
        idempotency_key=release_key(work_record.pk),
        kind=RELEASE_KIND,
        lines=[
            (
                ledger_account(purpose=Purpose.BRAND_RESERVED, currency=currency, brand=brand),
                -reserved_minor,
            ),
            (
                ledger_account(purpose=Purpose.BRAND_BALANCE, currency=currency, brand=brand),
                reserved_minor,
            ),
        ],
        memo=f"Task #{work_record.task_id} {work_record.get_outcome_display().lower()}: "
        "nothing to pay, reservation released",
        reference=f"work_record:{work_record.pk}",
    )
    brand_balance_moved(brand_id=brand.pk, currency=currency, delta=reserved_minor)
    return posting


def brand_balance_moved(*, brand_id: int, currency: str, delta: int) -> None:
    """A posting just moved the brand's balance by ``delta``: tell the pool if
    that changed whether one of the brand's gigs can be paid for.

    Call in the posting's transaction, after it: the balance row is then
    locked by it, so the balance read here is exactly before + ``delta``.
    The message goes out on commit.
    """
    if not delta:
        return
    after = (
        LedgerAccount.objects.filter(
            brand_id=brand_id, purpose=Purpose.BRAND_BALANCE, currency=currency
        )
        .values_list("balance_minor", flat=True)
        .first()
    )
    if after is None:
        return
    _publish_if_crossed(brand_id=brand_id, currency=currency, before=after - delta, after=after)


def _publish_if_crossed(*, brand_id: int, currency: str, before: int, after: int) -> bool:
    """Tell the pool's connections to read their state again when some active
    gig's claim costs more than the lower balance and no more than the higher
    one: it just became (or stopped being) payable."""
    low, high = sorted((before, after))
    if low == high:
        return False
    crossed = (
        Gig.objects.filter(brand_id=brand_id, currency=currency, status=GigStatus.ACTIVE)
        .annotate(claim_cost=claim_cost_expression())
        .filter(claim_cost__gt=low, claim_cost__lte=high)
        .exists()
    )
    if crossed:
        # A snapshot, not only the offer scope: the queue that was hidden (or
        # shown) must appear (or go) on the agents' pages now.
        live.pool_scope_changed(brand_id, resync=True)
    return crossed


# --- Reads for the brand's pages --------------------------------------------------------------


@dataclass(frozen=True)
class PausedGig:
    """An active gig its brand cannot pay one more claim of."""

    gig: Gig
    currency: str
    balance_minor: int
    needed_minor: int


def gigs_paused_for_funds(*, brand) -> list[PausedGig]:
    """The brand's active gigs whose tasks are not dispatched because the
    balance in their currency is below what one claim needs. One query."""
    balance = LedgerAccount.objects.filter(
        brand_id=OuterRef("brand_id"),
        purpose=Purpose.BRAND_BALANCE,
        currency=OuterRef("currency"),
    ).values("balance_minor")[:1]
    rows = (
        Gig.objects.for_brand(brand)
        .filter(status=GigStatus.ACTIVE)
        .annotate(
            claim_cost=claim_cost_expression(),
            balance_now=Coalesce(
                Subquery(balance, output_field=BigIntegerField()),
                Value(0),
                output_field=BigIntegerField(),
            ),
        )
        .filter(balance_now__lt=F("claim_cost"))
        .order_by("title", "pk")
    )
    return [
        PausedGig(
            gig=gig,
            currency=gig.currency,
            balance_minor=gig.balance_now,
            needed_minor=gig.claim_cost,
        )
        for gig in rows
    ]
