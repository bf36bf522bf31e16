"""Pay runs: gather what agents have earned and cleared, approve, pay through Stripe, reconcile.

The life of a run (``PayRun.status``)::

    draft --approve (another staff member)--> approved --execute--> executing --> completed
      \\___________________cancel (releases the holds)____/

**Holds.** Money is held when the run is created: each line's amount moves
``agent_available -> agent_in_transit`` in the same transaction that writes
the line (``payout.hold``). From then on the money is in exactly one line
(a partial unique constraint allows one unfinished line per agent and
currency across all runs), so a second run cannot gather it and nothing can
pay it twice. Cancelling a run, or Stripe refusing a line, moves it back
(``payout.release``); a paid line moves it ``agent_in_transit ->
stripe_clearing`` (``payout.paid``).

**Clawbacks.** A clawback after the hold takes the money from available,
which goes negative. Just before a line is sent, the sender nets that
negative balance against the line (``payout.net``), so nobody is paid money
they no longer have. A clawback after the line was sent leaves a negative
available balance that the next run nets out (the agent is skipped with
``negative_balance`` until then), or that staff recover with a transfer
reversal (``payrun_line_reverse``).

**Execution** happens in a background job (``payouts.payrun_transfers``):
one Stripe transfer per line and attempt, with the Idempotency-Key
``payrun-line-<id>-attempt-<n>``, paced to Stripe's rate limit, resumable
after any crash. Lines go ``queued -> in_transit -> paid``, or ``failed``
with Stripe's reason and a retry (a new attempt, a new key).

Every staff action is audited. Ledger keys are ``payrun-line:<id>:hold:<n>``,
``...:release:<n>``, ``...:net:<n>:<total>``, ``...:paid`` and
``...:reversal:<trr_id>``: a retried job or a replayed webhook posts once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone

from marketplace.audit import audit_record
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from marketplace.models import User
from marketplace.money import money_format
from payouts.connect import PayoutProviderError
from payouts.models import (
    PAYRUN_LINE_UNFINISHED,
    Entry,
    LedgerAccount,
    PayoutAccount,
    PayRun,
    PayRunLine,
    PayRunLineStatus,
    PayRunSkip,
    PayRunSkipReason,
    PayRunStatus,
    Posting,
    Purpose,
)
from payouts.payrun_transfers import (
    HOLD_KIND,
    RECORD_BATCH,
    RELEASE_KIND,
    StripeUnavailable,
    hold_key,
    line_moves_post,
    paid_key,
    record_reversals,
    release_key,
    stripe_transfers_of_run,
)
from payouts.services import ledger_account, posting_create
from payouts.stripe_api import stripe_client

logger = logging.getLogger(__name__)

DEFAULT_MINIMUM_MINOR = 1000
# A line sent this long ago with no answer and no transfer at Stripe is stuck.
STUCK_AFTER = timedelta(minutes=10)

# The currencies Stripe can move (ISO 4217; Stripe spells them in lower case).
_STRIPE_CURRENCIES = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BWP"
    " BYN BZD CAD CDF CHF CLP CNY COP CRC CVE CZK DJF DKK DOP DZD EGP ETB EUR FJD FKP GBP GEL"
    " GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR ISK JMD JOD JPY KES KGS KHR KMF KRW KWD"
    " KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MUR MVR MWK MXN MYR MZN NAD NGN"
    " NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SEK SGD"
    " SHP SLE SOS SRD STD SZL THB TJS TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VND VUV WST"
    " XAF XCD XOF XPF YER ZAR ZMW"
)
KNOWN_CURRENCIES = frozenset(_STRIPE_CURRENCIES.split())


# --- Input -------------------------------------------------------------------------------


def _require_staff(actor: Any) -> None:
    if not (isinstance(actor, User) and actor.is_authenticated and actor.is_staff):
        raise PermissionDenied("Only platform staff can manage pay runs.")


def _currency(value: Any) -> str:
    if not isinstance(value, str) or len(value.strip()) != 3 or not value.strip().isalpha():
        raise ValidationFailed(
            "Use a three-letter ISO 4217 currency code, like EUR.",
            fields={"currency": [f"“{value}” is not a three-letter currency code."]},
        )
    code = value.strip().upper()
    if code not in KNOWN_CURRENCIES:
        raise ValidationFailed(
            f"{code} is not a currency Stripe can pay out.",
            fields={"currency": [f"Unknown currency “{code}”."]},
        )
    return code


def _amount(value: Any, *, field: str, minimum: int = 1) -> int:
    # bool is an int subclass; floats and Decimals would round silently.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(
            "Amounts are whole numbers of minor units (cents).",
            fields={field: [f"{value!r} is not a whole number of minor units."]},
        )
    if value < minimum:
        raise ValidationFailed(
            f"The amount must be at least {minimum}.",
            fields={field: [f"{value} is less than {minimum}."]},
        )
    return value


def _reason(value: Any, *, what: str) -> str:
    reason = " ".join(value.split()) if isinstance(value, str) else ""
    if not reason:
        raise ValidationFailed(f"Say why {what}.", fields={"reason": ["Give a reason."]})
    return reason


def payout_minimum_minor(currency: str) -> int:
    """``PAYOUT_MINIMUM_MINOR`` for ``currency``: one figure, or a dict per currency."""
    configured = getattr(settings, "PAYOUT_MINIMUM_MINOR", DEFAULT_MINIMUM_MINOR)
    if isinstance(configured, Mapping):
        configured = configured.get(
            currency, configured.get(currency.lower(), DEFAULT_MINIMUM_MINOR)
        )
    return int(configured)


def _queue_execution(run_id: int) -> None:
    from payouts.tasks import payrun_execute_job  # the job module imports this one

    payrun_execute_job(run_id)


def _queue_on_commit(run_id: int) -> None:
    # robust: the run is safely executing once committed; a queue that is down
    # must not undo the staff action. The sweep queues stalled runs.
    transaction.on_commit(lambda: _queue_execution(run_id), robust=True)


# --- Gathering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    agent_id: int
    amount: int  # what the run would pay: as of the cut-off, and never more than now
    current: int


def _candidates(currency: str, cutoff_at: datetime, now: datetime) -> list[_Candidate]:
    """Every agent with an available balance in ``currency``, now or as of the cut-off.

    Two queries: the cached balances, and (for a past cut-off) the entries'
    sums up to it. Paying the smaller of the two nets any clawback since.
    """
    accounts = LedgerAccount.objects.filter(purpose=Purpose.AGENT_AVAILABLE, currency=currency)
    current = dict(accounts.exclude(balance_minor=0).values_list("agent_id", "balance_minor"))
    if cutoff_at >= now:
        as_of = current
    else:
        as_of = dict(
            Entry.objects.filter(
                account__purpose=Purpose.AGENT_AVAILABLE,
                currency=currency,
                posting__created_at__lte=cutoff_at,
            )
            .order_by()
            .values("account__agent_id")
            .annotate(total=Sum("amount_minor"))
            .exclude(total=0)
            .values_list("account__agent_id", "total")
        )
    candidates = []
    for agent_id in sorted(current.keys() | as_of.keys()):
        now_balance = current.get(agent_id, 0)
        amount = min(as_of.get(agent_id, 0), now_balance)
        if amount != 0 or now_balance < 0:
            candidates.append(_Candidate(agent_id, amount, now_balance))
    return candidates


def _skip_reason(
    candidate: _Candidate,
    *,
    account: tuple[int, str, bool] | None,
    unfinished_run: int | None,
    minimum: int,
    currency: str,
) -> tuple[str, str] | None:
    if candidate.current < 0:
        return (
            PayRunSkipReason.NEGATIVE_BALANCE,
            f"Owes {-candidate.current} {currency} after clawbacks; later earnings net it out.",
        )
    if candidate.amount <= 0:
        return (
            PayRunSkipReason.NEGATIVE_BALANCE,
            "Nothing to pay as of the cut-off once clawbacks are netted.",
        )
    if unfinished_run is not None:
        return (
            PayRunSkipReason.ALREADY_IN_RUN,
            f"Money already held in pay run #{unfinished_run}, which has not finished paying.",
        )
    if account is None:
        return PayRunSkipReason.NO_PAYOUT_ACCOUNT, "Has not set up a payout account."
    if not account[2]:
        return (
            PayRunSkipReason.PAYOUTS_NOT_ENABLED,
            "Stripe has not enabled payouts on the agent's account (onboarding unfinished).",
        )
    if candidate.amount < minimum:
        return (
            PayRunSkipReason.BELOW_MINIMUM,
            f"{money_format(candidate.amount, currency)} is below the minimum payout of "
            f"{money_format(minimum, currency)}.",
        )
    return None


def payrun_create(
    *,
    actor: User,
    currency: str,
    cutoff_at: datetime | None = None,
    minimum_minor: int | None = None,
    request: HttpRequest | None = None,
) -> PayRun:
    """Gather a draft run: a line per agent to pay, a skip (with the reason) per agent not paid.

    Staff only. An agent gets a line when their available balance as of
    ``cutoff_at`` (default now; never in the future), and still now, is at
    least ``minimum_minor`` (default ``PAYOUT_MINIMUM_MINOR``) and their
    payout account has payouts enabled. Each line's money is held at once
    (available -> in transit). A constant number of queries per
    ``RECORD_BATCH`` agents.
    """
    _require_staff(actor)
    code = _currency(currency)
    now = timezone.now()
    if cutoff_at is None:
        cutoff_at = now
    elif not isinstance(cutoff_at, datetime) or timezone.is_naive(cutoff_at):
        raise ValidationFailed(
            "The cut-off must be a date and time with its time zone.",
            fields={"cutoff_at": ["Give a date and time with a time zone."]},
        )
    elif cutoff_at > now:
        raise ValidationFailed(
            "The cut-off cannot be in the future: only money already available is paid.",
            fields={"cutoff_at": ["Pick a time that has passed."]},
        )
    minimum = _amount(
        payout_minimum_minor(code) if minimum_minor is None else minimum_minor,
        field="minimum_minor",
    )
    with transaction.atomic(durable=True):
        run = PayRun.objects.create(
            currency=code, cutoff_at=cutoff_at, minimum_minor=minimum, created_by=actor
        )
        candidates = _candidates(code, cutoff_at, now)
        candidate_agents = LedgerAccount.objects.filter(
            purpose=Purpose.AGENT_AVAILABLE, currency=code
        ).values("agent_id")
        accounts = {
            agent_id: (pk, stripe_account_id, enabled)
            for agent_id, pk, stripe_account_id, enabled in PayoutAccount.objects.filter(
                agent_id__in=candidate_agents
            ).values_list("agent_id", "pk", "stripe_account_id", "payouts_enabled")
        }
        unfinished = dict(
            PayRunLine.objects.filter(
                currency=code, status__in=PAYRUN_LINE_UNFINISHED, agent_id__in=candidate_agents
            ).values_list("agent_id", "run_id")
        )
        lines, skips = [], []
        for candidate in candidates:
            skip = _skip_reason(
                candidate,
                account=accounts.get(candidate.agent_id),
                unfinished_run=unfinished.get(candidate.agent_id),
                minimum=minimum,
                currency=code,
            )
            if skip is not None:
                skips.append(
                    PayRunSkip(
                        run=run,
                        agent_id=candidate.agent_id,
                        amount_minor=candidate.current,
                        reason_code=skip[0],
                        reason=skip[1],
                    )
                )
                continue
            account_pk, stripe_account_id, _enabled = accounts[candidate.agent_id]
            lines.append(
                PayRunLine(
                    run=run,
                    agent_id=candidate.agent_id,
                    payout_account_id=account_pk,
                    destination=stripe_account_id,
                    amount_minor=candidate.amount,
                    currency=code,
                )
            )
        PayRunSkip.objects.bulk_create(skips, batch_size=RECORD_BATCH)
        try:
            with transaction.atomic():
                PayRunLine.objects.bulk_create(lines, batch_size=RECORD_BATCH)
        except IntegrityError as exc:
            # A concurrent run gathered one of these agents first.
            raise Conflict(
                "Another pay run was gathering the same agents; try again.",
                code="payrun_gather_conflict",
            ) from exc
        line_moves_post(
            lines,
            kind=HOLD_KIND,
            key=lambda line: hold_key(line.pk, line.attempt),
            source=Purpose.AGENT_AVAILABLE,
            target=Purpose.AGENT_IN_TRANSIT,
            memo=f"Held for pay run #{run.pk}.",
            created_by=actor,
        )
        # A failed line of an earlier run whose money this run now holds is superseded.
        PayRunLine.objects.filter(
            currency=code,
            status=PayRunLineStatus.FAILED,
            agent_id__in=PayRunLine.objects.filter(run=run).values("agent_id"),
        ).update(
            status=PayRunLineStatus.CANCELLED,
            last_error=f"Superseded by pay run #{run.pk}.",
        )
        audit_record(
            actor=actor,
            action="payrun.created",
            target=run,
            changes={
                "currency": code,
                "cutoff_at": cutoff_at.isoformat(),
                "minimum_minor": minimum,
                "lines": len(lines),
                "amount_minor": sum(line.amount_minor for line in lines),
                "skips": len(skips),
            },
            request=request,
        )
    return run


# --- Approval, execution, cancellation -----------------------------------------------------


def _locked_run(run: PayRun) -> PayRun:
    if not isinstance(run, PayRun) or run.pk is None:
        raise NotFound("No such pay run.")
    locked = PayRun.objects.select_for_update().filter(pk=run.pk).first()
    if locked is None:
        raise NotFound("No such pay run.")
    return locked


def payrun_approve(*, run: PayRun, actor: User, request: HttpRequest | None = None) -> PayRun:
    """Approve a draft run: staff only, and never the member who created it."""
    _require_staff(actor)
    with transaction.atomic(durable=True):
        run = _locked_run(run)
        if run.created_by_id == actor.pk:
            raise PermissionDenied("Another staff member must approve the pay run you created.")
        if run.status != PayRunStatus.DRAFT:
            raise Conflict(f"Only a draft pay run can be approved; this one is {run.status}.")
        run.status = PayRunStatus.APPROVED
        run.approved_by = actor
        run.approved_at = timezone.now()
        run.save(update_fields=["status", "approved_by", "approved_at"])
        audit_record(
            actor=actor,
            action="payrun.approved",
            target=run,
            changes={"status": [PayRunStatus.DRAFT, PayRunStatus.APPROVED]},
            request=request,
        )
    return run


def payrun_execute(*, run: PayRun, actor: User, request: HttpRequest | None = None) -> PayRun:
    """Start paying an approved run in the background (or resume an executing one)."""
    _require_staff(actor)
    with transaction.atomic(durable=True):
        run = _locked_run(run)
        if run.status == PayRunStatus.EXECUTING:
            audit_record(actor=actor, action="payrun.resumed", target=run, request=request)
        elif run.status == PayRunStatus.APPROVED:
            run.status = PayRunStatus.EXECUTING
            run.executed_by = actor
            run.executed_at = timezone.now()
            run.save(update_fields=["status", "executed_by", "executed_at"])
            audit_record(
                actor=actor,
                action="payrun.executed",
                target=run,
                changes={"status": [PayRunStatus.APPROVED, PayRunStatus.EXECUTING]},
                request=request,
            )
        else:
            raise Conflict(f"Only an approved pay run can be executed; this one is {run.status}.")
        _queue_on_commit(run.pk)
    return run


def payrun_cancel(
    *, run: PayRun, actor: User, reason: str, request: HttpRequest | None = None
) -> PayRun:
    """Cancel a run before execution; every line's held money goes back to available."""
    _require_staff(actor)
    reason = _reason(reason, what="the pay run is cancelled")
    with transaction.atomic(durable=True):
        run = _locked_run(run)
        if run.status not in (PayRunStatus.DRAFT, PayRunStatus.APPROVED):
            raise Conflict(
                f"Only a draft or approved pay run can be cancelled; this one is {run.status}."
            )
        lines = list(
            run.lines.select_for_update().filter(status=PayRunLineStatus.QUEUED).order_by("pk")
        )
        line_moves_post(
            lines,
            kind=RELEASE_KIND,
            key=lambda line: release_key(line.pk, line.attempt),
            source=Purpose.AGENT_IN_TRANSIT,
            target=Purpose.AGENT_AVAILABLE,
            memo=f"Pay run #{run.pk} cancelled: {reason}",
            created_by=actor,
        )
        run.lines.filter(status=PayRunLineStatus.QUEUED).update(
            status=PayRunLineStatus.CANCELLED, failure_reason="The pay run was cancelled."
        )
        previous = run.status
        run.status = PayRunStatus.CANCELLED
        run.cancelled_by = actor
        run.cancelled_at = timezone.now()
        run.cancel_reason = reason
        run.save(update_fields=["status", "cancelled_by", "cancelled_at", "cancel_reason"])
        audit_record(
            actor=actor,
            action="payrun.cancelled",
            target=run,
            changes={
                "status": [previous, PayRunStatus.CANCELLED],
                "reason": reason,
                "lines_released": len(lines),
            },
            request=request,
        )
    return run


def payrun_line_retry(
    *, line: PayRunLine, actor: User, request: HttpRequest | None = None
) -> PayRunLine:
    """Send a failed line again, as a new attempt (a new Idempotency-Key).

    The failure returned its money to available; the retry holds again what
    is still there, up to the line's amount (a clawback since makes it
    less). Refused while the agent's payouts are not enabled, while another
    line holds the agent's money, or when nothing is available.
    """
    _require_staff(actor)
    if not isinstance(line, PayRunLine) or line.pk is None:
        raise NotFound("No such pay run line.")
    with transaction.atomic(durable=True):
        line = PayRunLine.objects.select_for_update().filter(pk=line.pk).first()
        if line is None:
            raise NotFound("No such pay run line.")
        run = _locked_run(line.run)
        if line.status != PayRunLineStatus.FAILED:
            raise Conflict(f"Only a failed line can be retried; this one is {line.status}.")
        if run.status not in (PayRunStatus.EXECUTING, PayRunStatus.COMPLETED):
            raise Conflict(f"Lines of a {run.status} pay run cannot be retried.")
        other = (
            PayRunLine.objects.filter(
                agent_id=line.agent_id, currency=line.currency, status__in=PAYRUN_LINE_UNFINISHED
            )
            .exclude(pk=line.pk)
            .first()
        )
        if other is not None:
            raise Conflict(
                f"The agent's money is already held in pay run #{other.run_id}.",
                code="already_in_run",
            )
        account = PayoutAccount.objects.filter(agent_id=line.agent_id).first()
        if account is None or not account.payouts_enabled:
            raise Conflict(
                "Stripe has not enabled payouts on the agent's account; retry once it has.",
                code="payouts_not_enabled",
            )
        available = ledger_account(
            purpose=Purpose.AGENT_AVAILABLE, currency=line.currency, agent=line.agent
        )
        balance = LedgerAccount.objects.select_for_update().get(pk=available.pk).balance_minor
        amount = min(line.amount_minor, balance)
        if amount <= 0:
            raise Conflict("The agent has no available money to pay now.", code="nothing_available")
        previous = {"attempt": line.attempt, "failure_code": line.failure_code}
        line.attempt += 1
        line.amount_minor = amount
        line.status = PayRunLineStatus.QUEUED
        line.payout_account = account
        line.destination = account.stripe_account_id
        line.failure_code = line.failure_reason = line.last_error = ""
        line.sent_at = line.failed_at = None
        try:
            with transaction.atomic():
                line.save()
        except IntegrityError as exc:
            raise Conflict(
                "The agent's money is already held in another pay run.", code="already_in_run"
            ) from exc
        posting_create(
            idempotency_key=hold_key(line.pk, line.attempt),
            kind=HOLD_KIND,
            lines=[
                (available, -amount),
                (
                    ledger_account(
                        purpose=Purpose.AGENT_IN_TRANSIT, currency=line.currency, agent=line.agent
                    ),
                    amount,
                ),
            ],
            memo=f"Held again for attempt {line.attempt} of pay run #{run.pk}.",
            reference=f"payrun_line:{line.pk}",
            created_by=actor,
        )
        if run.status == PayRunStatus.COMPLETED:
            run.status = PayRunStatus.EXECUTING
            run.completed_at = None
            run.save(update_fields=["status", "completed_at"])
        audit_record(
            actor=actor,
            action="payrun.line_retried",
            target=line,
            changes={**previous, "new_attempt": line.attempt, "amount_minor": amount},
            request=request,
        )
        _queue_on_commit(run.pk)
    return line


def payrun_line_reverse(
    *,
    line: PayRunLine,
    actor: User,
    amount_minor: int,
    reason: str,
    currency: str | None = None,
    request: HttpRequest | None = None,
) -> PayRunLine:
    """Take (part of) a paid line back from the agent's Stripe account: a transfer reversal.

    For a clawback after the payout: the money returns to the platform's
    Stripe balance and the agent's available balance is credited the same
    (making up the negative the clawback left). ``amount_minor`` is in the
    line's currency (``currency``, if given, must be it) and at most what is
    not reversed yet. Idempotent: the Stripe key is derived from the line,
    what it had reversed before and the amount, and the ledger posting from
    Stripe's reversal id, so a double click reverses once.
    """
    _require_staff(actor)
    reason = _reason(reason, what="the transfer is reversed")
    amount = _amount(amount_minor, field="amount_minor")
    if not isinstance(line, PayRunLine) or line.pk is None:
        raise NotFound("No such pay run line.")
    line = PayRunLine.objects.filter(pk=line.pk).first()
    if line is None:
        raise NotFound("No such pay run line.")
    if currency is not None and _currency(currency) != line.currency:
        raise ValidationFailed(
            f"The line was paid in {line.currency}.",
            fields={"currency": [f"Reverse in {line.currency}, the line's currency."]},
        )
    if line.status != PayRunLineStatus.PAID:
        raise Conflict(f"Only a paid line can be reversed; this one is {line.status}.")
    remaining = line.amount_minor - line.reversed_minor
    if amount > remaining:
        raise ValidationFailed(
            f"At most {money_format(remaining, line.currency)} of this line is left to reverse.",
            fields={
                "amount_minor": [
                    f"{money_format(amount, line.currency)} is more than the "
                    f"{money_format(remaining, line.currency)} left."
                ]
            },
        )
    try:
        reversal = (
            stripe_client()
            .v1.transfers.reversals.create(
                line.stripe_transfer_id,
                params={
                    "amount": amount,
                    "description": reason[:500],
                    "metadata": {"payrun_line_id": str(line.pk), "payrun_id": str(line.run_id)},
                },
                options={
                    "idempotency_key": f"payrun-line-{line.pk}-reversal-"
                    f"{line.reversed_minor}-{amount}"
                },
            )
            .to_dict()
        )
    except stripe.StripeError as exc:
        logger.warning("Stripe refused the reversal of line %s: %s", line.pk, exc)
        raise PayoutProviderError(
            f"Stripe did not reverse the transfer: {exc.user_message or exc}"
        ) from exc
    with transaction.atomic(durable=True):
        before = line.reversed_minor
        line = record_reversals(line.pk, [reversal], actor=actor)
        audit_record(
            actor=actor,
            action="payrun.line_reversed",
            target=line,
            changes={
                "reversal_id": reversal.get("id"),
                "amount_minor": amount,
                "reversed_minor": [before, line.reversed_minor],
                "reason": reason,
            },
            request=request,
        )
    return line


# --- Reads ----------------------------------------------------------------------------------


def payrun_get(*, run_id: Any) -> PayRun:
    """The run with this id, or NotFound (also for ids that are not numbers)."""
    try:
        return PayRun.objects.select_related(
            "created_by", "approved_by", "executed_by", "cancelled_by"
        ).get(pk=int(run_id))
    except (TypeError, ValueError, PayRun.DoesNotExist):
        raise NotFound("No such pay run.") from None


def payrun_line_get(*, line_id: Any, run: PayRun | None = None) -> PayRunLine:
    """The line with this id (within ``run``, if given), or NotFound."""
    lines = PayRunLine.objects.select_related("run", "agent", "payout_account")
    if run is not None:
        lines = lines.filter(run=run)
    try:
        return lines.get(pk=int(line_id))
    except (TypeError, ValueError, PayRunLine.DoesNotExist):
        raise NotFound("No such pay run line.") from None


def _status_count(status: str) -> Count:
    return Count("lines", filter=Q(lines__status=status))


def _status_sum(status: str) -> Coalesce:
    return Coalesce(Sum("lines__amount_minor", filter=Q(lines__status=status)), Value(0))


def payrun_list() -> QuerySet[PayRun]:
    """Every run, newest first, with per-status line counts and amounts.

    Annotations: ``line_count``, ``amount_minor``; ``<status>_count`` and
    ``<status>_minor`` for queued, in_transit, paid, failed and cancelled;
    ``reversed_minor``; ``skip_count``.
    """
    skip_count = (
        PayRunSkip.objects.filter(run=OuterRef("pk"))
        .order_by()
        .values("run")
        .annotate(n=Count("pk"))
        .values("n")
    )
    annotations: dict[str, Any] = {
        "line_count": Count("lines"),
        "amount_minor": Coalesce(Sum("lines__amount_minor"), Value(0)),
        "reversed_minor": Coalesce(Sum("lines__reversed_minor"), Value(0)),
        "skip_count": Coalesce(Subquery(skip_count, output_field=IntegerField()), Value(0)),
    }
    for status in PayRunLineStatus.values:
        annotations[f"{status}_count"] = _status_count(status)
        annotations[f"{status}_minor"] = _status_sum(status)
    return (
        PayRun.objects.select_related("created_by", "approved_by", "executed_by")
        .annotate(**annotations)
        .order_by("-id")
    )


def payrun_lines(run: PayRun, *, status: str | None = None) -> QuerySet[PayRunLine]:
    """The run's lines in order, with their agents; only those in ``status`` if given."""
    lines = PayRunLine.objects.filter(run=run).select_related("agent", "payout_account")
    if status:
        if status not in PayRunLineStatus.values:
            raise ValidationFailed(
                "Unknown line status.", fields={"status": [f"“{status}” is not a line status."]}
            )
        lines = lines.filter(status=status)
    return lines.order_by("pk")


def payrun_skips(run: PayRun) -> QuerySet[PayRunSkip]:
    return PayRunSkip.objects.filter(run=run).select_related("agent").order_by("pk")


def agent_payout_lines(agent: User) -> QuerySet[PayRunLine]:
    """The agent's pay run lines, newest first (for their earnings page)."""
    return PayRunLine.objects.filter(agent=agent).select_related("run").order_by("-id")


# --- Reconciliation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PayRunDisagreement:
    """A line whose state here and at Stripe differ (``line`` None: a transfer of no line)."""

    run_id: int
    line: PayRunLine | None
    ledger_state: str
    stripe_state: str
    differences: tuple[str, ...]


def _ledger_state(line: PayRunLine, paid_posted: bool) -> str:
    state = (
        f"{line.status}, {money_format(line.amount_minor, line.currency)}, attempt {line.attempt}"
    )
    if line.stripe_transfer_id:
        state += f", transfer {line.stripe_transfer_id}"
    if line.reversed_minor:
        state += f", reversed {money_format(line.reversed_minor, line.currency)}"
    if line.status == PayRunLineStatus.PAID and not paid_posted:
        state += ", no payout.paid posting"
    return state


def _stripe_money(amount: Any, currency: Any) -> str:
    """An amount as Stripe reported it, readable, even if Stripe's fields are odd."""
    if isinstance(amount, int) and isinstance(currency, str) and currency:
        return money_format(amount, currency)
    return f"{amount} {currency}"


def _stripe_state(transfers: list[dict[str, Any]]) -> str:
    if not transfers:
        return "no transfer"
    return "; ".join(
        f"transfer {transfer.get('id')} "
        f"{_stripe_money(transfer.get('amount'), transfer.get('currency'))} "
        f"to {transfer.get('destination')}, "
        f"reversed {_stripe_money(transfer.get('amount_reversed', 0), transfer.get('currency'))}"
        for transfer in transfers
    )


def _line_differences(
    line: PayRunLine, transfers: list[dict[str, Any]], *, paid_posted: bool, now: datetime
) -> list[str]:
    differences: list[str] = []
    if len(transfers) > 1:
        differences.append(f"Stripe has {len(transfers)} transfers for this line.")
    if line.status == PayRunLineStatus.PAID:
        if not paid_posted:
            differences.append("Paid, but the ledger has no payout.paid posting.")
        match = next((t for t in transfers if t.get("id") == line.stripe_transfer_id), None)
        if match is None:
            differences.append(f"Paid by {line.stripe_transfer_id}, which Stripe does not have.")
            return differences
        if match.get("amount") != line.amount_minor:
            differences.append(
                f"Stripe sent {_stripe_money(match.get('amount'), line.currency)}, "
                f"the line paid {money_format(line.amount_minor, line.currency)}."
            )
        if str(match.get("currency", "")).upper() != line.currency:
            differences.append(
                f"Stripe sent {match.get('currency')}, the line is in {line.currency}."
            )
        if match.get("destination") != line.destination:
            differences.append(
                f"Stripe paid {match.get('destination')}, the line {line.destination}."
            )
        if int(match.get("amount_reversed") or 0) != line.reversed_minor:
            differences.append(
                f"Stripe reversed {_stripe_money(match.get('amount_reversed'), line.currency)}, "
                f"the ledger {money_format(line.reversed_minor, line.currency)}."
            )
    elif transfers:
        differences.append(
            f"Stripe made the transfer, but the line is {line.status} "
            "(a webhook or the job will record it if it is in transit)."
        )
    elif (
        line.status == PayRunLineStatus.IN_TRANSIT
        and line.sent_at
        and line.sent_at < now - STUCK_AFTER
    ):
        differences.append("Sent long ago and Stripe has no transfer: the run needs resuming.")
    if paid_posted and line.status != PayRunLineStatus.PAID:
        differences.append(f"The ledger has a payout.paid posting, but the line is {line.status}.")
    return differences


def payrun_reconciliation(run: PayRun | None = None) -> list[PayRunDisagreement]:
    """Every line whose ledger state and Stripe's disagree, for one run or every executed run.

    One auto-paginated transfer listing per run (by its transfer group), a
    query for the lines and one for their paid postings. Calls Stripe: run
    it outside any transaction. Raises ``PayoutProviderError`` when Stripe
    cannot be reached.
    """
    if run is not None:
        runs = [run]
    else:
        runs = list(
            PayRun.objects.filter(
                status__in=(PayRunStatus.EXECUTING, PayRunStatus.COMPLETED)
            ).order_by("pk")
        )
    now = timezone.now()
    found: list[PayRunDisagreement] = []
    for each in runs:
        try:
            at_stripe = stripe_transfers_of_run(each.pk)
        except (stripe.StripeError, StripeUnavailable) as exc:
            raise PayoutProviderError(f"Stripe's transfers could not be listed: {exc}") from exc
        lines = list(PayRunLine.objects.filter(run=each).select_related("agent").order_by("pk"))
        posted = (
            set(
                Posting.objects.filter(
                    idempotency_key__in=[paid_key(line.pk) for line in lines]
                ).values_list("idempotency_key", flat=True)
            )
            if lines
            else set()
        )
        known = {line.pk for line in lines}
        for line in lines:
            transfers = at_stripe.get(line.pk, [])
            paid_posted = paid_key(line.pk) in posted
            differences = _line_differences(line, transfers, paid_posted=paid_posted, now=now)
            if differences:
                found.append(
                    PayRunDisagreement(
                        run_id=each.pk,
                        line=line,
                        ledger_state=_ledger_state(line, paid_posted),
                        stripe_state=_stripe_state(transfers),
                        differences=tuple(differences),
                    )
                )
        for line_id, transfers in sorted(at_stripe.items()):
            if line_id not in known:
                found.append(
                    PayRunDisagreement(
                        run_id=each.pk,
                        line=None,
                        ledger_state="no such line in this run",
                        stripe_state=_stripe_state(transfers),
                        differences=(
                            "Stripe has a transfer in this run's group that names no line of it.",
                        ),
                    )
                )
    return found


__all__ = [
    "PayRunDisagreement",
    "agent_payout_lines",
    "payout_minimum_minor",
    "payrun_approve",
    "payrun_cancel",
    "payrun_create",
    "payrun_execute",
    "payrun_get",
    "payrun_line_get",
    "payrun_line_retry",
    "payrun_line_reverse",
    "payrun_lines",
    "payrun_list",
    "payrun_reconciliation",
    "payrun_skips",
]
