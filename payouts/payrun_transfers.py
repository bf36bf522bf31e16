"""Executing a pay run: one Stripe transfer per line, paced, resumable and exactly once.

``payrun_process`` is the body of the background job. It takes the run's
execution lease (one worker sends a run's transfers at a time; a dead
worker's lease lapses after ``LEASE_SECONDS``), then works in chunks of
about ``CHUNK_SECONDS`` of requests:

1. **Claim** a chunk of queued lines: in one transaction, net any clawback
   that made the agent's available balance negative since the hold, and
   mark the rest ``in_transit`` (sent). From here the amount is frozen.
2. **Send** them from a small thread pool, paced to
   ``STRIPE_MAX_REQUESTS_PER_SECOND``: one ``POST /v1/transfers`` per line
   with the Idempotency-Key ``payrun-line-<id>-attempt-<n>``. A 429 slows
   the whole pace down and retries; a connection error, a timeout or a 5xx
   is retried with the same key, so Stripe makes the transfer once however
   often it is sent.
3. **Record** the chunk in one transaction: paid lines with their
   ``payout.paid`` postings, refused lines (Stripe said no, e.g. the
   account cannot receive transfers or the platform's balance is too low)
   failed with Stripe's reason and their money back in available. Lines
   whose outcome is unknown stay ``in_transit`` without a transfer id and
   are sent again, with the same key, after a back-off or by the next job.

A worker killed anywhere leaves lines queued (never sent) or in transit
without a transfer id (perhaps sent); the next job resends the latter with
their keys and Stripe answers with the transfer it already made. Stripe
keeps keys for 24 hours, so a line left unknown longer than
``KEY_SAFE_HOURS`` is looked up among the run's transfers first.
``transfer.created`` / ``transfer.reversed`` webhooks record the same facts
through the same functions, in any order and any number of times.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import stripe
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from marketplace.audit import audit_record
from payouts.models import (
    PAYRUN_LINE_UNFINISHED,
    LedgerAccount,
    PayRun,
    PayRunLine,
    PayRunLineStatus,
    PayRunStatus,
    Posting,
    Purpose,
    StripeEvent,
)
from payouts.selectors import PAYOUT_PAID_KIND, PAYOUT_REVERSED_KIND
from payouts.services import (
    PostingSpec,
    agent_ledger_accounts,
    ledger_account,
    posting_create,
    postings_create_many,
)
from payouts.stripe_api import stripe_client
from payouts.stripe_events import StripeEventIgnored, StripeEventUnprocessable

logger = logging.getLogger(__name__)

# Posting kinds of a pay run line's money (PAYOUT_PAID_KIND is the selectors').
HOLD_KIND = "payout.hold"  # agent_available -> agent_in_transit, when gathered or retried
RELEASE_KIND = "payout.release"  # back to available: refused by Stripe, or cancelled
NET_KIND = "payout.net"  # back to available: a clawback after the hold, before sending
REVERSED_KIND = PAYOUT_REVERSED_KIND  # Stripe took (part of) the transfer back

# Execution tuning. The lease is renewed while a chunk is in flight, so it
# only has to outlive a stalled renewal; it also bounds how long a killed
# worker's run waits before another worker takes it over.
LEASE_SECONDS = 8
LEASE_RENEW_SECONDS = 2
CHUNK_SECONDS = 4  # record results after about this many seconds of requests
MIN_CHUNK = 10
CONCURRENCY = 8  # requests in flight: Stripe answers in ~0.3 s, so 25/s needs several
TRANSFER_TIMEOUT_SECONDS = 20.0
# The pacer's window (Stripe's limit is per second; the slack is one request).
PACER_WINDOW_SECONDS = 1.0
RATE_LIMIT_RETRIES = 8  # 429s for one line before it waits for the next round
TRANSIENT_TRIES = 2  # attempts per line per round on 5xx/timeouts before backing off
TRANSIENT_PAUSE_SECONDS = 0.5
MAX_ROUNDS = 4  # back-off rounds (1, 2, 4, 8 s) before the job gives up until later
ROUND_BACKOFF_SECONDS = 1.0
KEY_SAFE_HOURS = 20  # Stripe forgets idempotency keys after 24 hours

RECORD_BATCH = 500  # lines per postings_create_many call (bounded SQL parameters)


class StripeUnavailable(Exception):
    """Stripe kept failing; the run stays executing and a later job resumes it."""


def transfer_group(run_id: int) -> str:
    return f"payrun_{run_id}"


def hold_key(line_id: int, attempt: int) -> str:
    return f"payrun-line:{line_id}:hold:{attempt}"


def release_key(line_id: int, attempt: int) -> str:
    return f"payrun-line:{line_id}:release:{attempt}"


def paid_key(line_id: int) -> str:
    return f"payrun-line:{line_id}:paid"


def net_key(line_id: int, attempt: int, netted_total: int) -> str:
    return f"payrun-line:{line_id}:net:{attempt}:{netted_total}"


def reversal_key(line_id: int, reversal_id: str) -> str:
    return f"payrun-line:{line_id}:reversal:{reversal_id}"


def chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- Ledger postings for lines, in batches ------------------------------------------------


def _agent_accounts(
    agent_ids: Iterable[int], purpose: str, currency: str
) -> dict[int, LedgerAccount]:
    return agent_ledger_accounts(
        agent_ids=sorted(set(agent_ids)), purpose=purpose, currency=currency
    )


def _accounts_for(
    purpose: str, currency: str, agent_ids: Sequence[int]
) -> dict[int, LedgerAccount]:
    """Each agent's account for ``purpose``; for STRIPE_CLEARING, the platform's for everyone."""
    if purpose == Purpose.STRIPE_CLEARING:
        clearing = ledger_account(purpose=Purpose.STRIPE_CLEARING, currency=currency)
        return defaultdict(lambda: clearing)
    return _agent_accounts(agent_ids, purpose, currency)


def line_moves_post(
    lines: Sequence[PayRunLine],
    *,
    kind: str,
    key: Callable[[PayRunLine], str],
    source: str,
    target: str,
    memo: str,
    amount: Callable[[PayRunLine], int] = lambda line: line.amount_minor,
    created_by=None,
) -> None:
    """Move each line's amount from the agent's ``source`` account to ``target``, batched.

    ``source``/``target`` are agent purposes or STRIPE_CLEARING. A constant
    number of queries per ``RECORD_BATCH`` lines. Call inside a transaction.
    """
    by_currency: dict[str, list[PayRunLine]] = defaultdict(list)
    for line in lines:
        if amount(line):
            by_currency[line.currency].append(line)
    for currency, group in by_currency.items():
        for batch in chunks(group, RECORD_BATCH):
            agent_ids = [line.agent_id for line in batch]
            accounts = {
                purpose: _accounts_for(purpose, currency, agent_ids) for purpose in (source, target)
            }
            postings_create_many(
                [
                    PostingSpec(
                        idempotency_key=key(line),
                        kind=kind,
                        lines=[
                            (accounts[source][line.agent_id], -amount(line)),
                            (accounts[target][line.agent_id], amount(line)),
                        ],
                        memo=memo,
                        reference=f"payrun_line:{line.pk}",
                        created_by=created_by,
                    )
                    for line in batch
                ]
            )


# --- Recording what Stripe did ------------------------------------------------------------


@dataclass(frozen=True)
class FoundTransfer:
    """A transfer Stripe made for (line, attempt), as Stripe described it."""

    line_id: int
    attempt: int
    transfer: dict[str, Any]


def transfer_line_ref(transfer: dict[str, Any]) -> tuple[int, int] | None:
    """(line id, attempt) from a transfer's metadata, or None when no pay run of ours made it."""
    metadata = transfer.get("metadata") or {}
    try:
        return int(metadata["payrun_line_id"]), int(metadata["attempt"])
    except (KeyError, TypeError, ValueError):
        return None


def _transfer_differences(line: PayRunLine, transfer: dict[str, Any]) -> list[str]:
    differences = []
    if transfer.get("amount") != line.amount_minor:
        differences.append(f"amount {transfer.get('amount')} at Stripe, {line.amount_minor} here")
    if str(transfer.get("currency", "")).upper() != line.currency:
        differences.append(f"currency {transfer.get('currency')} at Stripe, {line.currency} here")
    if transfer.get("destination") != line.destination:
        differences.append(
            f"destination {transfer.get('destination')} at Stripe, {line.destination} here"
        )
    return differences


def record_transfers(found: Sequence[FoundTransfer]) -> list[str]:
    """Mark lines paid by the transfers Stripe made for them; return what contradicts us.

    Idempotent: a line already paid by that transfer is left alone, so the
    job and both webhooks may record the same transfer in any order. Paid
    lines get their ``payout.paid`` posting (in transit -> stripe clearing).
    A transfer for another attempt, a second transfer, or one whose amount
    or destination differ from the line is not recorded but returned, for a
    person (reconciliation shows it too). Call inside a transaction.
    """
    if not found:
        return []
    problems: list[str] = []
    lines = {
        line.pk: line
        for line in PayRunLine.objects.select_for_update()
        .filter(pk__in=[item.line_id for item in found])
        .order_by("pk")
    }
    now = timezone.now()
    paid: list[PayRunLine] = []
    for item in found:
        line = lines.get(item.line_id)
        transfer_id = item.transfer.get("id", "")
        if line is None:
            problems.append(
                f"Transfer {transfer_id} names pay run line {item.line_id}: no such line."
            )
            continue
        if line.stripe_transfer_id == transfer_id:
            continue  # recorded already
        if line.stripe_transfer_id:
            problems.append(
                f"Line #{line.pk} was paid by {line.stripe_transfer_id}; Stripe also made "
                f"{transfer_id} for it."
            )
            continue
        if item.attempt != line.attempt or line.status not in PAYRUN_LINE_UNFINISHED:
            problems.append(
                f"Transfer {transfer_id} is for attempt {item.attempt} of line #{line.pk}, "
                f"which is at attempt {line.attempt} and {line.status}."
            )
            continue
        differences = _transfer_differences(line, item.transfer)
        if differences:
            problems.append(
                f"Transfer {transfer_id} for line #{line.pk}: {'; '.join(differences)}."
            )
            continue
        line.status = PayRunLineStatus.PAID
        line.stripe_transfer_id = transfer_id
        line.paid_at = now
        line.sent_at = line.sent_at or now
        line.last_error = ""
        paid.append(line)
    if paid:
        PayRunLine.objects.bulk_update(
            paid, ["status", "stripe_transfer_id", "paid_at", "sent_at", "last_error"]
        )
        line_moves_post(
            paid,
            kind=PAYOUT_PAID_KIND,
            key=lambda line: paid_key(line.pk),
            source=Purpose.AGENT_IN_TRANSIT,
            target=Purpose.STRIPE_CLEARING,
            memo="Stripe transfer to the agent's account.",
        )
    return problems


@dataclass(frozen=True)
class Refusal:
    line_id: int
    attempt: int
    code: str
    reason: str


def record_refusals(refusals: Sequence[Refusal]) -> int:
    """Fail lines Stripe refused, with its reason, and return their money to available.

    Only a line still waiting on that attempt changes. Call inside a transaction.
    """
    if not refusals:
        return 0
    lines = {
        line.pk: line
        for line in PayRunLine.objects.select_for_update()
        .filter(pk__in=[item.line_id for item in refusals])
        .order_by("pk")
    }
    now = timezone.now()
    failed = []
    for item in refusals:
        line = lines.get(item.line_id)
        if (
            line is None
            or line.attempt != item.attempt
            or line.status not in PAYRUN_LINE_UNFINISHED
            or line.stripe_transfer_id
        ):
            continue
        line.status = PayRunLineStatus.FAILED
        line.failure_code = item.code[:100]
        line.failure_reason = item.reason
        line.failed_at = now
        line.last_error = ""
        failed.append(line)
    if failed:
        PayRunLine.objects.bulk_update(
            failed, ["status", "failure_code", "failure_reason", "failed_at", "last_error"]
        )
        line_moves_post(
            failed,
            kind=RELEASE_KIND,
            key=lambda line: release_key(line.pk, line.attempt),
            source=Purpose.AGENT_IN_TRANSIT,
            target=Purpose.AGENT_AVAILABLE,
            memo="Stripe refused the transfer; the money is available again.",
        )
    return len(failed)


def record_reversals(
    line_id: int, reversals: Iterable[dict[str, Any]], *, actor=None
) -> PayRunLine:
    """Post each of a paid line's transfer reversals once (by its trr_ id); return the line.

    A reversal takes money back from the agent's Stripe account to the
    platform's: ``stripe_clearing`` -amount, ``agent_available`` +amount
    (which makes up for the clawback that usually caused it). Call inside
    a transaction; the line is locked.
    """
    line = PayRunLine.objects.select_for_update().get(pk=line_id)
    wanted = {
        reversal["id"]: int(reversal["amount"])
        for reversal in reversals
        if reversal.get("transfer") in (None, line.stripe_transfer_id) and reversal.get("id")
    }
    if not wanted:
        return line
    keys = {reversal_key(line.pk, reversal_id): amount for reversal_id, amount in wanted.items()}
    done = set(
        Posting.objects.filter(idempotency_key__in=list(keys)).values_list(
            "idempotency_key", flat=True
        )
    )
    new = {key: amount for key, amount in keys.items() if key not in done}
    if not new:
        return line
    if line.reversed_minor + sum(new.values()) > line.amount_minor:
        raise StripeEventUnprocessable(
            f"Reversals of line #{line.pk} would exceed what it paid ({line.amount_minor})."
        )
    clearing = ledger_account(purpose=Purpose.STRIPE_CLEARING, currency=line.currency)
    available = ledger_account(
        purpose=Purpose.AGENT_AVAILABLE, currency=line.currency, agent=line.agent
    )
    for key, amount in sorted(new.items()):
        posting_create(
            idempotency_key=key,
            kind=REVERSED_KIND,
            lines=[(clearing, -amount), (available, amount)],
            memo="Stripe transfer reversal: the money is back in the platform's balance.",
            reference=f"payrun_line:{line.pk}",
            created_by=actor,
        )
    line.reversed_minor += sum(new.values())
    line.save(update_fields=["reversed_minor"])
    return line


# --- Webhooks ----------------------------------------------------------------------------


def _our_transfer(event: StripeEvent) -> tuple[dict[str, Any], int, int]:
    transfer = (event.payload.get("data") or {}).get("object") or {}
    ref = transfer_line_ref(transfer)
    if ref is None:
        raise StripeEventIgnored("The transfer was not made by a pay run.")
    return transfer, *ref


def transfer_created(event: StripeEvent) -> None:
    """``transfer.created``: the line is paid, whether or not the job heard Stripe's answer."""
    transfer, line_id, attempt = _our_transfer(event)
    problems = record_transfers([FoundTransfer(line_id, attempt, transfer)])
    if problems:
        raise StripeEventUnprocessable(" ".join(problems))


def transfer_reversed(event: StripeEvent) -> None:
    """``transfer.reversed`` (partial ones too): post every reversal not recorded yet.

    It may arrive before ``transfer.created``: the transfer it carries pays
    the line first. Reversals come from the transfer's embedded list.
    """
    transfer, line_id, attempt = _our_transfer(event)
    problems = record_transfers([FoundTransfer(line_id, attempt, transfer)])
    if problems:
        raise StripeEventUnprocessable(" ".join(problems))
    embedded = ((transfer.get("reversals") or {}).get("data")) or []
    record_reversals(line_id, embedded)


# --- Sending ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineToSend:
    id: int
    run_id: int
    agent_id: int
    attempt: int
    amount_minor: int
    currency: str
    destination: str

    @property
    def idempotency_key(self) -> str:
        return f"payrun-line-{self.id}-attempt-{self.attempt}"

    @classmethod
    def of(cls, line: PayRunLine) -> LineToSend:
        return cls(
            id=line.pk,
            run_id=line.run_id,
            agent_id=line.agent_id,
            attempt=line.attempt,
            amount_minor=line.amount_minor,
            currency=line.currency,
            destination=line.destination,
        )


PAID, REFUSED, TRANSIENT, UNSENT = "paid", "refused", "transient", "unsent"


@dataclass(frozen=True)
class SendOutcome:
    line: LineToSend
    kind: str
    transfer: dict[str, Any] | None = None
    code: str = ""
    message: str = ""


class Pacer:
    """Paces requests across threads under a limit of ``per_second`` in any sliding second.

    Requests are spaced evenly, and at most ``per_second - 1`` leave in any
    second by our clock: Stripe counts arrivals, and a request delayed on its
    way (a thread that lost the GIL, the network) bunches up with the next
    ones; the one request of slack absorbs that. A 429 pushes everyone back.
    """

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self.window = max(1, math.ceil(per_second) - 1)
        self._sent: deque[float] = deque()
        self._next = time.monotonic()
        self._lock = threading.Lock()
        self.backoffs = 0  # how many 429s pushed the pace back

    def wait(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                while self._sent and self._sent[0] <= now - PACER_WINDOW_SECONDS:
                    self._sent.popleft()
                slot = max(self._next, now)
                if len(self._sent) >= self.window:
                    slot = max(slot, self._sent[0] + PACER_WINDOW_SECONDS)
                if slot <= now:
                    self._sent.append(now)
                    self._next = now + self.interval
                    return
            time.sleep(slot - now)

    def back_off(self, seconds: float) -> None:
        with self._lock:
            self.backoffs += 1
            self._next = max(self._next, time.monotonic() + seconds)


def _retry_after(error: stripe.StripeError, tries: int) -> float:
    header = (error.headers or {}).get("retry-after") or (error.headers or {}).get("Retry-After")
    try:
        return max(float(header), 0.05)
    except (TypeError, ValueError):
        return min(0.25 * 2 ** (tries - 1), 4.0)


def _is_transient(error: stripe.StripeError) -> bool:
    if isinstance(error, stripe.APIConnectionError | stripe.APIError):
        return True
    status = error.http_status
    # 401/403 are our configuration, not the line's: keep the line and stop.
    return status is None or status >= 500 or status in (401, 403, 409)


def transfer_params(line: LineToSend) -> dict[str, Any]:
    return {
        "amount": line.amount_minor,
        "currency": line.currency.lower(),
        "destination": line.destination,
        "transfer_group": transfer_group(line.run_id),
        "description": f"Gigdesk pay run #{line.run_id}",
        "metadata": {
            "payrun_id": str(line.run_id),
            "payrun_line_id": str(line.id),
            "attempt": str(line.attempt),
            "agent_id": str(line.agent_id),
        },
    }


def _send_one(
    client: stripe.StripeClient, pacer: Pacer, line: LineToSend, stop: threading.Event
) -> SendOutcome:
    """One line's transfer: paced, 429s retried, transient errors retried with the same key."""
    limited = failures = 0
    while True:
        if stop.is_set():
            return SendOutcome(line, UNSENT)
        pacer.wait()
        try:
            transfer = client.v1.transfers.create(
                params=transfer_params(line), options={"idempotency_key": line.idempotency_key}
            )
        except stripe.RateLimitError as error:
            limited += 1
            pacer.back_off(_retry_after(error, limited))
            if limited > RATE_LIMIT_RETRIES:
                return SendOutcome(line, TRANSIENT, message=f"Rate limited: {error}")
        except stripe.StripeError as error:
            if not _is_transient(error):
                return SendOutcome(
                    line,
                    REFUSED,
                    code=error.code or type(error).__name__,
                    message=error.user_message or str(error),
                )
            failures += 1
            if failures >= TRANSIENT_TRIES or error.http_status in (401, 403):
                # Stripe is struggling: stop this chunk, back off, resend later.
                stop.set()
                return SendOutcome(line, TRANSIENT, message=f"{type(error).__name__}: {error}")
            time.sleep(TRANSIENT_PAUSE_SECONDS)
        else:
            return SendOutcome(line, PAID, transfer=transfer.to_dict())


@dataclass
class _InFlight:
    batch: Sequence[LineToSend]
    futures: list
    stop: threading.Event


def _submit(
    pool: ThreadPoolExecutor, client: stripe.StripeClient, pacer: Pacer, batch: Sequence[LineToSend]
) -> _InFlight:
    stop = threading.Event()
    return _InFlight(
        batch, [pool.submit(_send_one, client, pacer, line, stop) for line in batch], stop
    )


def _collect(in_flight: _InFlight, keep_alive: Callable[[], bool]) -> list[SendOutcome]:
    """Wait for a chunk's answers, renewing the lease meanwhile."""
    pending = set(in_flight.futures)
    while pending:
        _done, pending = wait(pending, timeout=LEASE_RENEW_SECONDS, return_when=FIRST_EXCEPTION)
        if pending and not keep_alive():
            in_flight.stop.set()  # another worker took the run over: finish what is in flight
    return [future.result() for future in in_flight.futures]


# --- Claiming and recording chunks -----------------------------------------------------------


def _net_clawbacks(lines: list[PayRunLine]) -> list[PayRunLine]:
    """Take from each line what a clawback since its hold made the agent owe; return the rest.

    The agents' available accounts are locked first (pk order), so a
    clawback either commits before this check and is netted here, or waits
    and lands after the line is sent (then the next pay run nets it).
    """
    currency = lines[0].currency
    accounts = LedgerAccount.objects.filter(
        purpose=Purpose.AGENT_AVAILABLE,
        currency=currency,
        agent_id__in=[line.agent_id for line in lines],
    ).order_by("pk")
    if connection.features.has_select_for_update:
        accounts = accounts.select_for_update()
    owed = {
        agent_id: -balance
        for agent_id, balance in accounts.values_list("agent_id", "balance_minor")
        if balance < 0
    }
    if not owed:
        return lines
    to_send = []
    for line in lines:
        take = min(owed.get(line.agent_id, 0), line.amount_minor)
        if take <= 0:
            to_send.append(line)
            continue
        line.amount_minor -= take
        line.netted_minor += take
        posting_create(
            idempotency_key=net_key(line.pk, line.attempt, line.netted_minor),
            kind=NET_KIND,
            lines=[
                (
                    ledger_account(
                        purpose=Purpose.AGENT_IN_TRANSIT, currency=currency, agent=line.agent
                    ),
                    -take,
                ),
                (
                    ledger_account(
                        purpose=Purpose.AGENT_AVAILABLE, currency=currency, agent=line.agent
                    ),
                    take,
                ),
            ],
            memo="A clawback since the pay run was gathered: netted before sending.",
            reference=f"payrun_line:{line.pk}",
        )
        fields = ["amount_minor", "netted_minor"]
        if line.amount_minor == 0:
            line.status = PayRunLineStatus.CANCELLED
            line.failure_code = "netted"
            line.failure_reason = "Clawbacks since the run was gathered took back all of it."
            fields += ["status", "failure_code", "failure_reason"]
        else:
            to_send.append(line)
        line.save(update_fields=fields)
    return to_send


def claim_queued(run_id: int, limit: int) -> list[LineToSend]:
    """Mark up to ``limit`` queued lines in transit (sent) and return them, in one transaction."""
    with transaction.atomic():
        queued = PayRunLine.objects.filter(run_id=run_id, status=PayRunLineStatus.QUEUED).order_by(
            "pk"
        )
        if connection.features.has_select_for_update_skip_locked:
            queued = queued.select_for_update(skip_locked=True, of=("self",))
        lines = list(queued[:limit])
        if not lines:
            return []
        lines = _net_clawbacks(lines)
        now = timezone.now()
        PayRunLine.objects.filter(
            pk__in=[line.pk for line in lines], status=PayRunLineStatus.QUEUED
        ).update(status=PayRunLineStatus.IN_TRANSIT, sent_at=now, last_error="")
        return [LineToSend.of(line) for line in lines]


def unknown_lines(run_id: int) -> list[LineToSend]:
    """Lines sent whose outcome we never heard: resent with the same key."""
    return [
        LineToSend.of(line)
        for line in PayRunLine.objects.filter(
            run_id=run_id, status=PayRunLineStatus.IN_TRANSIT, stripe_transfer_id=""
        ).order_by("pk")
    ]


def record_outcomes(outcomes: Sequence[SendOutcome]) -> None:
    """One chunk's results in one transaction: paid, refused, and errors to retry."""
    with transaction.atomic():
        problems = record_transfers(
            [
                FoundTransfer(outcome.line.id, outcome.line.attempt, outcome.transfer)
                for outcome in outcomes
                if outcome.kind == PAID and outcome.transfer is not None
            ]
        )
        for problem in problems:
            logger.error("Pay run transfer contradicts our records: %s", problem)
        record_refusals(
            [
                Refusal(outcome.line.id, outcome.line.attempt, outcome.code, outcome.message)
                for outcome in outcomes
                if outcome.kind == REFUSED
            ]
        )
        errors = {
            outcome.line.id: outcome.message for outcome in outcomes if outcome.kind == TRANSIENT
        }
        if errors:
            lines = list(
                PayRunLine.objects.filter(
                    pk__in=list(errors), status=PayRunLineStatus.IN_TRANSIT, stripe_transfer_id=""
                )
            )
            for line in lines:
                line.last_error = errors[line.pk][:2000]
            PayRunLine.objects.bulk_update(lines, ["last_error"])


# --- Stripe's own list of a run's transfers ----------------------------------------------------


def stripe_transfers_of_run(run_id: int) -> dict[int, list[dict[str, Any]]]:
    """Every transfer Stripe has in the run's transfer group, by the line its metadata names.

    One auto-paginated listing (100 a page), retried from the start on a 429.
    """
    for tries in range(1, RATE_LIMIT_RETRIES + 1):
        try:
            found: dict[int, list[dict[str, Any]]] = defaultdict(list)
            listing = stripe_client().v1.transfers.list(
                params={"transfer_group": transfer_group(run_id), "limit": 100}
            )
            for transfer in listing.auto_paging_iter():
                data = transfer.to_dict()
                ref = transfer_line_ref(data)
                found[ref[0] if ref else 0].append(data)
            return dict(found)
        except stripe.RateLimitError as error:
            time.sleep(_retry_after(error, tries))
    raise StripeUnavailable("Stripe kept answering 429 to the transfer listing.")


def _recover_stale(run_id: int, lines: list[LineToSend]) -> list[LineToSend]:
    """Lines unknown for longer than Stripe keeps keys: record those Stripe has, resend the rest."""
    cutoff = timezone.now() - timedelta(hours=KEY_SAFE_HOURS)
    stale = set(
        PayRunLine.objects.filter(
            pk__in=[line.id for line in lines], sent_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
    if not stale:
        return lines
    at_stripe = stripe_transfers_of_run(run_id)
    found = []
    for line in lines:
        for transfer in at_stripe.get(line.id, []):
            if transfer_line_ref(transfer) == (line.id, line.attempt):
                found.append(FoundTransfer(line.id, line.attempt, transfer))
    with transaction.atomic():
        record_transfers(found)
    recorded = {item.line_id for item in found}
    return [line for line in lines if line.id not in recorded]


# --- The job body ------------------------------------------------------------------------------


@dataclass
class PayRunProgress:
    run_id: int
    sent: int = 0
    paid: int = 0
    refused: int = 0
    unknown: int = 0
    rate_limited: int = 0  # 429s answered (each retried after a back-off)
    completed: bool = False


def _lease_acquire(run_id: int, token: str) -> bool:
    now = timezone.now()
    return (
        PayRun.objects.filter(pk=run_id, status=PayRunStatus.EXECUTING)
        .filter(
            Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now) | Q(lease_token=token)
        )
        .update(lease_token=token, lease_expires_at=now + timedelta(seconds=LEASE_SECONDS))
        == 1
    )


def _lease_renew(run_id: int, token: str) -> bool:
    return (
        PayRun.objects.filter(pk=run_id, lease_token=token).update(
            lease_expires_at=timezone.now() + timedelta(seconds=LEASE_SECONDS)
        )
        == 1
    )


def _lease_release(run_id: int, token: str, *, error: str | None = None) -> None:
    fields: dict[str, Any] = {"lease_token": "", "lease_expires_at": None}
    if error is not None:
        fields["last_error"] = error[:2000]
    PayRun.objects.filter(pk=run_id, lease_token=token).update(**fields)


def _complete_if_done(run_id: int) -> bool:
    with transaction.atomic():
        run = PayRun.objects.select_for_update().get(pk=run_id)
        if run.status != PayRunStatus.EXECUTING:
            return run.status == PayRunStatus.COMPLETED
        if run.lines.filter(status__in=PAYRUN_LINE_UNFINISHED).exists():
            return False
        run.status = PayRunStatus.COMPLETED
        run.completed_at = timezone.now()
        run.last_error = ""
        run.save(update_fields=["status", "completed_at", "last_error"])
        counts = dict(
            run.lines.order_by().values("status").annotate(n=Count("pk")).values_list("status", "n")
        )
        audit_record(
            actor=None,
            action="payrun.completed",
            target=run,
            changes={"lines": counts},
        )
        return True


def pacing_rate() -> float:
    return max(float(settings.STRIPE_MAX_REQUESTS_PER_SECOND), 0.1)


def payrun_process(*, run_id: int) -> PayRunProgress | None:
    """Send the run's remaining transfers and record them; None when another worker has it.

    Resumable at any point and safe to run twice: see the module docstring.
    Raises ``StripeUnavailable`` when Stripe keeps failing (the run stays
    executing; the job's retry or the sweep resumes it). Call outside any
    transaction: Stripe is called between short transactions of its own.
    """
    token = uuid.uuid4().hex
    if not _lease_acquire(run_id, token):
        return None
    progress = PayRunProgress(run_id=run_id)
    rate = pacing_rate()
    chunk = max(MIN_CHUNK, int(rate * CHUNK_SECONDS))
    client = stripe_client(max_network_retries=0, timeout_seconds=TRANSFER_TIMEOUT_SECONDS)
    pacer = Pacer(rate)
    keep_alive = functools.partial(_lease_renew, run_id, token)
    retry: list[LineToSend] = []
    rounds = 0

    def next_batch() -> list[LineToSend]:
        nonlocal retry
        if retry:
            if rounds:
                time.sleep(min(ROUND_BACKOFF_SECONDS * 2 ** (rounds - 1), 8))
            batch, retry = retry[:chunk], retry[chunk:]
            return batch
        return claim_queued(run_id, chunk)

    def finish(in_flight: _InFlight) -> list[SendOutcome]:
        outcomes = _collect(in_flight, keep_alive)
        record_outcomes(outcomes)
        progress.sent += sum(outcome.kind != UNSENT for outcome in outcomes)
        progress.paid += sum(outcome.kind == PAID for outcome in outcomes)
        progress.refused += sum(outcome.kind == REFUSED for outcome in outcomes)
        return outcomes

    try:
        retry = _recover_stale(run_id, unknown_lines(run_id))
        # Two chunks at a time: the next one is claimed and sending while the
        # last one's answers are recorded, so the pace never waits on the database.
        # After a chunk with errors, nothing new is claimed until it is resent.
        with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="payrun") as pool:
            in_flight: _InFlight | None = None
            trouble = False
            while True:
                following = None
                if in_flight is None or not trouble:
                    batch = next_batch()
                    following = _submit(pool, client, pacer, batch) if batch else None
                if in_flight is None:
                    if following is None:
                        break
                    in_flight = following
                    continue
                outcomes = finish(in_flight)
                again = [
                    outcome.line for outcome in outcomes if outcome.kind in (TRANSIENT, UNSENT)
                ]
                trouble = bool(again)
                if again:
                    rounds += 1
                    retry = again + retry
                elif not retry:
                    rounds = 0
                if rounds > MAX_ROUNDS or not keep_alive():
                    if following is not None:
                        following.stop.set()
                        finish(following)
                    if rounds <= MAX_ROUNDS:
                        return progress  # another worker took over; it finishes the run
                    progress.unknown = len(retry)
                    message = next(
                        (outcome.message for outcome in outcomes if outcome.kind == TRANSIENT),
                        "Stripe did not answer.",
                    )
                    raise StripeUnavailable(f"Pay run #{run_id} paused: {message}")
                in_flight = following
        progress.completed = _complete_if_done(run_id)
        progress.rate_limited = pacer.backoffs
    except StripeUnavailable as exc:
        _lease_release(run_id, token, error=str(exc))
        raise
    except BaseException:
        _lease_release(run_id, token)
        raise
    _lease_release(run_id, token, error="")
    return progress


def payruns_stalled() -> list[int]:
    """Executing runs nobody is working on (no lease, or a lapsed one): the sweep queues them."""
    now = timezone.now()
    return list(
        PayRun.objects.filter(status=PayRunStatus.EXECUTING)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
