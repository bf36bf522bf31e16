"""Writes to the ledger: accounts, balanced postings and their reversals.

Every later money feature (funding, reservations, earnings, holds, pay runs,
Stripe) moves money by calling ``posting_create``; nothing else writes
entries or cached balances. See ``payouts.models`` for the sign convention
(positive credits an account).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Value, When

from marketplace.audit import audit_record
from marketplace.errors import Conflict, ValidationFailed
from marketplace.models import User
from payouts.models import (
    AGENT_PURPOSES,
    BRAND_PURPOSES,
    Entry,
    LedgerAccount,
    Posting,
    Purpose,
)

MAX_KEY_LENGTH = Posting._meta.get_field("idempotency_key").max_length
MAX_KIND_LENGTH = Posting._meta.get_field("kind").max_length
MAX_REFERENCE_LENGTH = Posting._meta.get_field("reference").max_length
# The range of the BIGINT columns: anything outside would fail in the database instead.
_MAX_AMOUNT = 2**63 - 1


def _normalise_currency(currency: Any) -> str:
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isascii():
        raise ValidationFailed(
            "Use a three-letter ISO 4217 currency code, like EUR.",
            fields={"currency": [f"“{currency}” is not a three-letter currency code."]},
        )
    code = currency.upper()
    if not code.isalpha():
        raise ValidationFailed(
            "Use a three-letter ISO 4217 currency code, like EUR.",
            fields={"currency": [f"“{currency}” is not a three-letter currency code."]},
        )
    return code


def ledger_account(
    *,
    purpose: str,
    currency: str,
    brand=None,
    agent: User | None = None,
) -> LedgerAccount:
    """The account for (owner, purpose, currency), created on first use.

    The owner is ``brand`` for brand purposes, ``agent`` for agent purposes
    and neither for the platform's. Two first callers racing on the insert
    are settled by the unique constraints: the loser's insert fails inside a
    savepoint and it reads the winner's row, so the caller's transaction
    survives. Currency codes are stored upper-case, as on gigs ("eur" finds
    the "EUR" account).
    """
    if purpose not in Purpose.values:
        raise ValidationFailed(
            "Unknown ledger account purpose.",
            fields={"purpose": [f"“{purpose}” is not a ledger account purpose."]},
        )
    code = _normalise_currency(currency)
    if purpose in BRAND_PURPOSES:
        if brand is None or agent is not None:
            raise ValidationFailed(
                "A brand account belongs to a brand and nobody else.",
                fields={"brand": [f"“{purpose}” needs a brand and no agent."]},
            )
    elif purpose in AGENT_PURPOSES:
        if agent is None or brand is not None:
            raise ValidationFailed(
                "An agent account belongs to an agent and nobody else.",
                fields={"agent": [f"“{purpose}” needs an agent and no brand."]},
            )
        if not agent.is_agent:
            raise ValidationFailed(
                "Only agent accounts earn money.",
                fields={"agent": [f"{agent} is not an agent account."]},
            )
    elif brand is not None or agent is not None:
        raise ValidationFailed(
            "A platform account has no brand or agent.",
            fields={"purpose": [f"“{purpose}” belongs to the platform."]},
        )
    lookup = {"purpose": purpose, "currency": code, "brand": brand, "agent": agent}
    account = LedgerAccount.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return LedgerAccount.objects.create(**lookup)
    except IntegrityError:
        account = LedgerAccount.objects.filter(**lookup).first()
        if account is None:
            raise
        return account


def _refuse(message: str, field: str, detail: str | None = None) -> None:
    raise ValidationFailed(message, fields={field: [detail or message]})


def _checked_lines(lines: Any) -> list[tuple[LedgerAccount, int]]:
    """``lines`` as ``[(account, amount)]``, or ValidationFailed on the first broken rule."""
    if isinstance(lines, str | bytes) or not isinstance(lines, Sequence):
        _refuse("Lines must be a list of (account, amount) pairs.", "lines")
    if len(lines) < 2:
        _refuse("A posting needs at least two lines.", "lines")
    checked: list[tuple[LedgerAccount, int]] = []
    sums: dict[str, int] = defaultdict(int)
    for number, line in enumerate(lines, start=1):
        if not isinstance(line, tuple | list) or len(line) not in (2, 3):
            _refuse(
                "Each line is (account, amount) or (account, amount, currency).",
                "lines",
                f"Line {number} is not (account, amount) or (account, amount, currency).",
            )
        account, amount = line[0], line[1]
        if not isinstance(account, LedgerAccount) or account.pk is None:
            _refuse(
                "Every line needs a saved ledger account.",
                "lines",
                f"Line {number} has no saved ledger account.",
            )
        # bool is an int subclass, and float/Decimal would round silently: refuse all three.
        if isinstance(amount, bool) or not isinstance(amount, int):
            _refuse(
                "Amounts are whole numbers of minor units (cents).",
                "lines",
                f"Line {number}: {amount!r} is not an integer amount in minor units.",
            )
        if amount == 0:
            _refuse("A line cannot move zero.", "lines", f"Line {number} has a zero amount.")
        if abs(amount) > _MAX_AMOUNT:
            _refuse("Amount out of range.", "lines", f"Line {number}: {amount} is out of range.")
        if len(line) == 3 and line[2] != account.currency:
            _refuse(
                "Every line must be in its account's currency.",
                "lines",
                f"Line {number} is in {line[2]!r} but its account holds {account.currency}.",
            )
        sums[account.currency] += amount
        checked.append((account, amount))
    unbalanced = {currency: total for currency, total in sums.items() if total != 0}
    if unbalanced:
        detail = ", ".join(
            f"{currency} sums to {total:+d}" for currency, total in sorted(unbalanced.items())
        )
        _refuse("The lines must sum to zero in each currency.", "lines", detail)
    return checked


def _check_text(
    *, idempotency_key: Any, kind: Any, memo: Any, reference: Any, reverses: Posting | None
) -> None:
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        _refuse("A posting needs an idempotency key.", "idempotency_key")
    if len(idempotency_key) > MAX_KEY_LENGTH:
        _refuse(f"The idempotency key is longer than {MAX_KEY_LENGTH}.", "idempotency_key")
    if not isinstance(kind, str) or not kind.strip():
        _refuse("A posting needs a kind, like brand.topup.", "kind")
    if len(kind) > MAX_KIND_LENGTH:
        _refuse(f"The kind is longer than {MAX_KIND_LENGTH}.", "kind")
    if not isinstance(memo, str):
        _refuse("The memo must be text.", "memo")
    if not isinstance(reference, str):
        _refuse("The reference must be text.", "reference")
    if len(reference) > MAX_REFERENCE_LENGTH:
        _refuse(f"The reference is longer than {MAX_REFERENCE_LENGTH}.", "reference")
    if reverses is not None and (not isinstance(reverses, Posting) or reverses.pk is None):
        _refuse("A posting can only reverse a saved posting.", "reverses")


def _replay(existing: Posting, lines: list[tuple[LedgerAccount, int]]) -> Posting:
    """The posting already made under this key, if it is the same money movement."""
    stored = Counter(existing.entries.values_list("account_id", "amount_minor"))
    if stored != Counter((account.pk, amount) for account, amount in lines):
        raise Conflict(
            "This idempotency key was already used for a different posting.",
            code="idempotency_key_reused",
            fields={
                "idempotency_key": [
                    f"“{existing.idempotency_key}” is posting #{existing.pk}, with other lines."
                ]
            },
        )
    return existing


def _already_reversed(posting: Posting, by: Posting) -> Conflict:
    return Conflict(
        f"Posting #{posting.pk} was already reversed by posting #{by.pk}.",
        code="already_reversed",
        fields={"posting": [f"Already reversed by #{by.pk} ({by.idempotency_key})."]},
    )


def _balances_apply(lines: list[tuple[LedgerAccount, int]]) -> None:
    """Add each account's share of a new posting to its cached balance.

    Rows are locked in primary-key order before they change, so that two
    postings touching the same accounts (in whatever order their lines list
    them) queue instead of deadlocking. Then one UPDATE adds every delta as an
    ``F()`` increment, so a stale in-memory balance is never written back.
    """
    deltas: dict[int, int] = defaultdict(int)
    for account, amount in lines:
        deltas[account.pk] += amount
    deltas = {pk: delta for pk, delta in sorted(deltas.items()) if delta}
    if not deltas:
        return
    if connection.features.has_select_for_update:
        # PostgreSQL locks the rows as the sorted result streams out. (SQLite
        # has no row locks: its transactions already hold the write lock.)
        list(
            LedgerAccount.objects.select_for_update()
            .filter(pk__in=deltas)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    LedgerAccount.objects.filter(pk__in=deltas).update(
        balance_minor=F("balance_minor")
        + Case(*(When(pk=pk, then=Value(delta)) for pk, delta in deltas.items()), default=0)
    )


def _posting_create(
    *,
    idempotency_key: str,
    kind: str,
    lines: Sequence,
    memo: str = "",
    reference: str = "",
    created_by: User | None = None,
    reverses: Posting | None = None,
) -> tuple[Posting, bool]:
    """``posting_create``, also saying whether this call wrote the posting."""
    _check_text(
        idempotency_key=idempotency_key,
        kind=kind,
        memo=memo,
        reference=reference,
        reverses=reverses,
    )
    checked = _checked_lines(lines)
    with transaction.atomic():
        existing = Posting.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _replay(existing, checked), False
        posting = Posting(
            idempotency_key=idempotency_key,
            kind=kind,
            memo=memo,
            reference=reference,
            reverses=reverses,
            created_by=created_by if isinstance(created_by, User) and created_by.pk else None,
        )
        try:
            # A concurrent caller with the same key waits here on the unique
            # index until the first commits, then fails and replays below.
            with transaction.atomic():
                posting.save()
        except IntegrityError:
            existing = Posting.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return _replay(existing, checked), False
            if reverses is not None:
                winner = Posting.objects.filter(reverses=reverses).first()
                if winner is not None:
                    raise _already_reversed(reverses, winner) from None
            raise
        Entry.objects.bulk_create(
            [
                Entry(
                    posting=posting, account=account, amount_minor=amount, currency=account.currency
                )
                for account, amount in checked
            ]
        )
        _balances_apply(checked)
    return posting, True


def posting_create(
    *,
    idempotency_key: str,
    kind: str,
    lines: Sequence,
    memo: str = "",
    reference: str = "",
    created_by: User | None = None,
    reverses: Posting | None = None,
) -> Posting:
    """Post one balanced movement of money, exactly once per idempotency key.

    ``lines`` is a sequence of ``(account, amount_minor)``; a line may also be
    ``(account, amount_minor, currency)`` to assert the account's currency.
    Amounts are non-zero ints (positive credits the account) and must sum to
    zero in each currency; any broken rule raises ``ValidationFailed`` before
    anything is written.

    The same key again returns the first posting unchanged when its lines
    are the same accounts and amounts (in any order), and raises
    ``Conflict("idempotency_key_reused")`` when they are not; the unique key
    makes concurrent callers produce one posting. Cached balances change in
    the same transaction, with the touched accounts locked in pk order.

    Joins the caller's transaction if there is one. A caller that makes
    several postings in one transaction holds every account lock until it
    commits, so it should touch accounts in a consistent order too (better:
    put all lines of one business action in one posting). The account
    objects passed in are not refreshed: re-read them for their new balance.
    """
    posting, _ = _posting_create(
        idempotency_key=idempotency_key,
        kind=kind,
        lines=lines,
        memo=memo,
        reference=reference,
        created_by=created_by,
        reverses=reverses,
    )
    return posting


def posting_reverse(
    *, posting: Posting, idempotency_key: str, memo: str, created_by: User | None = None
) -> Posting:
    """Undo ``posting`` with its mirror image (every amount negated), at most once.

    The reversal points at the original through ``reverses``. The same key
    again returns the same reversal; reversing an already reversed posting
    under another key raises ``Conflict("already_reversed")``, also when two
    callers race (a partial unique index on ``reverses`` decides).
    """
    if not isinstance(posting, Posting) or posting.pk is None:
        _refuse("Only a saved posting can be reversed.", "posting")
    with transaction.atomic():
        earlier = Posting.objects.filter(reverses=posting).first()
        if earlier is not None and earlier.idempotency_key != idempotency_key:
            raise _already_reversed(posting, earlier)
        lines = [
            (entry.account, -entry.amount_minor)
            for entry in posting.entries.select_related("account").order_by("pk")
        ]
        reversal, created = _posting_create(
            idempotency_key=idempotency_key,
            kind="reversal",
            lines=lines,
            memo=memo,
            reference=f"posting:{posting.pk}",
            created_by=created_by,
            reverses=posting,
        )
        if reversal.reverses_id != posting.pk:
            # The key belongs to some other posting that happens to have these lines.
            raise Conflict(
                "This idempotency key was already used for a different posting.",
                code="idempotency_key_reused",
                fields={"idempotency_key": [f"“{idempotency_key}” is posting #{reversal.pk}."]},
            )
        if created:
            audit_record(
                actor=created_by,
                action="ledger.posting_reversed",
                target=posting,
                changes={
                    "reversal_id": reversal.pk,
                    "idempotency_key": idempotency_key,
                    "memo": memo,
                },
            )
    return reversal
