"""Earnings: what finished work pays, posted once per work record; holds; clawbacks.

A finished work session leaves an immutable ``WorkRecord`` (gigs). Here it
becomes money, in one balanced posting: the brand pays the agent's earning
plus the platform fee, the agent's share waits in their *pending* balance,
the fee goes to platform revenue. After the brand's hold period the earning
moves to *available*, from which pay runs pay out.

Amounts:

- per resolution: the rate, for a resolved task; nothing for one escalated,
  released or returned (no resolution was delivered);
- per minute: billable seconds times the per-minute rate, rounded once, at
  the end, to the minor unit, half up;
- the platform fee: the earning times the brand's fee in basis points, rounded
  the same way.

The posting also settles what the claim reserved from the brand's balance
(``payouts.reservations``): the reservation is released and the actual cost
charged, in the same posting.

Every posting has a key derived from what it is for (``earning:<work record
id>``, ``earning:<id>:release``, ``earning:<id>:clawback``), so a job run twice
or two processes racing post once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction

from django.db import IntegrityError, transaction
from django.utils import timezone

from gigs.models import PayModel, SessionOutcome, WorkRecord
from marketplace.audit import audit_record
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from marketplace.models import User
from payouts.models import BrandTerms, Earning, EarningStatus, Purpose
from payouts.services import ledger_account, posting_create


def round_half_up(value: Fraction) -> int:
    """``value`` rounded to the nearest integer, halves away from zero (money's rule,
    not Python's round-half-even)."""
    whole, remainder = divmod(abs(value.numerator), value.denominator)
    if remainder * 2 >= value.denominator:
        whole += 1
    return whole if value >= 0 else -whole


def brand_terms(brand_id: int) -> BrandTerms:
    """The brand's money terms, or the platform's defaults (unsaved) when staff set none."""
    return BrandTerms.objects.filter(brand_id=brand_id).first() or BrandTerms(brand_id=brand_id)


def earning_amounts(record: WorkRecord, *, fee_bps: int) -> tuple[int, int]:
    """(the agent's earning, the platform fee) for a work record, in minor units."""
    if record.pay_model == PayModel.PER_RESOLUTION:
        amount = record.rate_minor if record.outcome == SessionOutcome.RESOLVED else 0
    else:
        amount = round_half_up(Fraction(record.billable_seconds * record.rate_minor, 60))
    fee = round_half_up(Fraction(amount * fee_bps, 10_000))
    return amount, fee


def _describe(record: WorkRecord) -> str:
    if record.pay_model == PayModel.PER_RESOLUTION:
        return f"Task #{record.task_id} {record.get_outcome_display().lower()}"
    minutes = Fraction(record.billable_seconds, 60)
    return f"Task #{record.task_id}: {float(minutes):.2f} billable minutes"


def earning_post(*, work_record: WorkRecord) -> Earning | None:
    """Turn a finished work record into an earning, exactly once, settling
    the reservation its claim made.

    One posting under ``earning:<record id>``: the session's reservation
    leaves ``brand_reserved``, the agent's pending balance and the platform's
    revenue get earning and fee, and ``brand_balance`` takes the difference
    (reservation minus actual cost; no line when they are equal; below zero
    when the work cost more than was set aside).

    ``None`` when the work earns nothing (an unresolved per-resolution task,
    a per-minute session with no billable second); its reservation is then
    released on its own (``payouts.reservations.reservation_release``). Call
    it in the transaction that wrote the record: the earning then exists
    exactly when the record does. Calling it again returns the same earning.
    """
    from payouts.reservations import brand_balance_moved, reservation_release

    existing = Earning.objects.filter(work_record=work_record).first()
    if existing is not None:
        return existing
    terms = brand_terms(work_record.brand_id)
    amount, fee = earning_amounts(work_record, fee_bps=terms.platform_fee_bps)
    # What the claim set aside (payouts.reservations); 0 for work claimed
    # before reservations existed, which settles as it always did.
    reserved = work_record.session.reserved_minor
    if amount <= 0:
        if reserved:
            with transaction.atomic():
                reservation_release(work_record=work_record, reserved_minor=reserved)
        return None
    currency = work_record.currency
    brand = work_record.brand
    # Settlement: the reservation comes back and the actual cost is charged,
    # so the balance moves by the difference only (none when they match).
    balance_change = reserved - (amount + fee)
    lines = []
    if balance_change:
        lines.append(
            (
                ledger_account(purpose=Purpose.BRAND_BALANCE, currency=currency, brand=brand),
                balance_change,
            )
        )
    if reserved:
        lines.append(
            (
                ledger_account(purpose=Purpose.BRAND_RESERVED, currency=currency, brand=brand),
                -reserved,
            )
        )
    lines.append(
        (
            ledger_account(
                purpose=Purpose.AGENT_PENDING, currency=currency, agent=work_record.agent
            ),
            amount,
        )
    )
    if fee:
        lines.append((ledger_account(purpose=Purpose.PLATFORM_REVENUE, currency=currency), fee))
    earned_at = work_record.ended_at
    with transaction.atomic():
        posting = posting_create(
            idempotency_key=f"earning:{work_record.pk}",
            kind="work.earning",
            lines=lines,
            memo=_describe(work_record),
            reference=f"work_record:{work_record.pk}",
        )
        brand_balance_moved(brand_id=brand.pk, currency=currency, delta=balance_change)
        try:
            with transaction.atomic():
                return Earning.objects.create(
                    work_record=work_record,
                    agent_id=work_record.agent_id,
                    brand_id=work_record.brand_id,
                    gig_id=work_record.gig_id,
                    currency=currency,
                    pay_model=work_record.pay_model,
                    billable_seconds=work_record.billable_seconds,
                    rate_minor=work_record.rate_minor,
                    amount_minor=amount,
                    fee_minor=fee,
                    fee_bps=terms.platform_fee_bps,
                    earned_at=earned_at,
                    available_at=earned_at + timedelta(days=terms.hold_days),
                    posting=posting,
                )
        except IntegrityError:
            # Another process posted this record first; the posting above was
            # its posting, replayed under the same key.
            return Earning.objects.get(work_record=work_record)


def _release(earning: Earning, now: datetime) -> bool:
    """Move one pending earning whose hold ended to available. Locks its row."""
    earning = Earning.objects.select_for_update().get(pk=earning.pk)
    if earning.status != EarningStatus.PENDING or earning.available_at > now:
        return False
    currency, agent = earning.currency, earning.agent
    earning.released_posting = posting_create(
        idempotency_key=f"earning:{earning.pk}:release",
        kind="earning.release",
        lines=[
            (
                ledger_account(purpose=Purpose.AGENT_PENDING, currency=currency, agent=agent),
                -earning.amount_minor,
            ),
            (
                ledger_account(purpose=Purpose.AGENT_AVAILABLE, currency=currency, agent=agent),
                earning.amount_minor,
            ),
        ],
        memo="The hold ended.",
        reference=f"earning:{earning.pk}",
    )
    earning.status = EarningStatus.AVAILABLE
    earning.save(update_fields=["status", "released_posting"])
    return True


def earnings_release_due(*, now: datetime | None = None, agent: User | None = None) -> int:
    """Release every pending earning whose hold has ended (of one agent, if given).

    Runs from a periodic job and whenever an agent's earnings are read, so
    that no earning waits on a timer. Returns how many were released.
    """
    now = now or timezone.now()
    due = Earning.objects.filter(status=EarningStatus.PENDING, available_at__lte=now)
    if agent is not None:
        due = due.filter(agent=agent)
    released = 0
    for earning in due.order_by("available_at", "pk"):
        with transaction.atomic():
            released += _release(earning, now)
    return released


def earning_clawback(*, earning: Earning, actor: User, reason: str, request=None) -> Earning:
    """Take an earning back (staff only), with the reason the agent is shown.

    The brand gets back what it paid (earning and fee) and the platform gives
    up the fee. Before the hold ends the money leaves the agent's pending
    balance; after, their available balance, which may go below zero: the
    next pay run nets it out.
    """
    if not actor.is_staff:
        raise PermissionDenied("Only platform staff can claw back an earning.")
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationFailed(
            "Say why the earning is clawed back; the agent sees it.",
            fields={"reason": ["Give a reason."]},
        )
    with transaction.atomic():
        earning = Earning.objects.select_for_update().get(pk=earning.pk)
        if earning.status == EarningStatus.CLAWED_BACK:
            raise Conflict("This earning was already clawed back.", code="already_clawed_back")
        currency = earning.currency
        source = (
            Purpose.AGENT_PENDING
            if earning.status == EarningStatus.PENDING
            else Purpose.AGENT_AVAILABLE
        )
        lines = [
            (
                ledger_account(purpose=source, currency=currency, agent=earning.agent),
                -earning.amount_minor,
            ),
            (
                ledger_account(
                    purpose=Purpose.BRAND_BALANCE, currency=currency, brand=earning.brand
                ),
                earning.amount_minor + earning.fee_minor,
            ),
        ]
        if earning.fee_minor:
            lines.append(
                (
                    ledger_account(purpose=Purpose.PLATFORM_REVENUE, currency=currency),
                    -earning.fee_minor,
                )
            )
        previous = earning.status
        earning.clawback_posting = posting_create(
            idempotency_key=f"earning:{earning.pk}:clawback",
            kind="earning.clawback",
            lines=lines,
            memo=reason,
            reference=f"earning:{earning.pk}",
            created_by=actor,
        )
        # The brand has its money back: its paused gigs may be open again.
        # (Imported here: reservations builds on this module.)
        from payouts.reservations import brand_balance_moved

        brand_balance_moved(
            brand_id=earning.brand_id,
            currency=currency,
            delta=earning.amount_minor + earning.fee_minor,
        )
        earning.status = EarningStatus.CLAWED_BACK
        earning.clawback_reason = reason
        earning.clawed_back_by = actor
        earning.clawed_back_at = timezone.now()
        earning.save(
            update_fields=[
                "status",
                "clawback_posting",
                "clawback_reason",
                "clawed_back_by",
                "clawed_back_at",
            ]
        )
        audit_record(
            actor=actor,
            action="earning.clawed_back",
            target=earning,
            brand=earning.brand,
            changes={"status": [previous, EarningStatus.CLAWED_BACK], "reason": reason},
            request=request,
        )
    return earning
