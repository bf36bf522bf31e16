"""Writes to the ledger: accounts, balanced postings and their reversals.

Every later money feature (funding, reservations, earnings, holds, pay runs,
Stripe) moves money by calling ``posting_create``; nothing else writes
entries or cached balances. See ``payouts.models`` for the sign convention
(positive credits an account).
"""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

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


def _cached_deltas(lines: list[tuple[LedgerAccount, int]]) -> dict[int, int]:
    """Each cached account's net change, in primary-key order (the lock order)."""
    deltas: dict[int, int] = defaultdict(int)
    for account, amount in lines:
        if account.keeps_cached_balance:
            deltas[account.pk] += amount
    return {pk: delta for pk, delta in sorted(deltas.items()) if delta}


def _balances_apply(lines: list[tuple[LedgerAccount, int]]) -> None:
    """Add each account's share of a new posting to its cached balance.

    Rows are locked in primary-key order before they change, so that two
    postings touching the same accounts (in whatever order their lines list
    them) queue instead of deadlocking; every change is an ``F()`` increment,
    so a stale in-memory balance is never written back. A posting touches one
    or two cached accounts: one UPDATE each, in pk order, each locking its row
    as it goes (the fewest round trips, which is what a posting costs). A
    batch touches many: lock them all in order, then one UPDATE.
    The platform's accounts are skipped (``UNCACHED_PURPOSES``): every posting
    would otherwise queue on their rows.
    """
    deltas = _cached_deltas(lines)
    if len(deltas) <= 2:
        for pk, delta in deltas.items():
            LedgerAccount.objects.filter(pk=pk).update(balance_minor=F("balance_minor") + delta)
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


def _posting_insert_if_new(
    *, idempotency_key: str, kind: str, memo: str, reference: str, created_by: User | None
) -> Posting | None:
    """Insert the posting row unless its key exists; ``None`` when it does.

    One statement (``INSERT ... ON CONFLICT DO NOTHING RETURNING``, which both
    PostgreSQL and SQLite speak) instead of a read, a savepoint, the insert
    and the savepoint's release: round trips are what a posting costs. A
    concurrent writer of the same key makes this wait until it commits, then
    find nothing inserted.
    """
    table = Posting._meta.db_table
    now = timezone.now()
    created_by_id = created_by.pk if isinstance(created_by, User) and created_by.pk else None
    created_at = Posting._meta.get_field("created_at").get_db_prep_value(now, connection)
    values = [idempotency_key, kind, memo, reference, created_by_id, created_at]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (idempotency_key, kind, memo, reference, created_by_id, "  # noqa: S608 - names from _meta
            "created_at) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            values,
        )
        row = cursor.fetchone()
    if row is None:
        return None
    posting = Posting(
        pk=row[0],
        idempotency_key=idempotency_key,
        kind=kind,
        memo=memo,
        reference=reference,
        created_by_id=created_by_id,
        created_at=now,
    )
    posting._state.adding = False
    posting._state.db = connection.alias
    return posting


def _posting_write_one_statement(
    *,
    idempotency_key: str,
    kind: str,
    memo: str,
    reference: str,
    created_by: User | None,
    checked: list[tuple[LedgerAccount, int]],
    first_delta: tuple[int, int] | None,
) -> Posting | None:
    """PostgreSQL: the posting row, its entries and the first cached balance in one statement.

    Round trips are what a posting costs (see docs/performance.md, ledger):
    data-modifying CTEs insert the posting unless its key exists (``ON
    CONFLICT DO NOTHING``), insert the entries for it, and add the delta of
    the lowest-pk cached account, all or nothing. Outside a transaction this
    single statement is the whole write. ``None`` when the key was already
    posted (nothing was written).
    """
    posting_table = Posting._meta.db_table
    entry_table = Entry._meta.db_table
    account_table = LedgerAccount._meta.db_table
    now = timezone.now()
    created_by_id = created_by.pk if isinstance(created_by, User) and created_by.pk else None
    line_rows = ", ".join(["(%s::bigint, %s::bigint, %s::varchar)"] * len(checked))
    params: list[Any] = [idempotency_key, kind, memo, reference, created_by_id, now]
    for account, amount in checked:
        params += [account.pk, amount, account.currency]
    balance_update = ""
    if first_delta is not None:
        balance_update = (
            f", first_balance AS (UPDATE {account_table} "
            "SET balance_minor = balance_minor + %s "
            "WHERE id = %s AND EXISTS (SELECT 1 FROM new_posting))"
        )
        params += [first_delta[1], first_delta[0]]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH new_posting AS (INSERT INTO {posting_table} "  # noqa: S608 - names from _meta
            "(idempotency_key, kind, memo, reference, created_by_id, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id), "
            f"new_entries AS (INSERT INTO {entry_table} "
            "(posting_id, account_id, amount_minor, currency) "
            "SELECT new_posting.id, line.account_id, line.amount, line.currency "
            f"FROM new_posting, (VALUES {line_rows}) AS line(account_id, amount, currency))"
            f"{balance_update} SELECT id FROM new_posting",
            params,
        )
        row = cursor.fetchone()
    if row is None:
        return None
    posting = Posting(
        pk=row[0],
        idempotency_key=idempotency_key,
        kind=kind,
        memo=memo,
        reference=reference,
        created_by_id=created_by_id,
        created_at=now,
    )
    posting._state.adding = False
    posting._state.db = connection.alias
    return posting


def _reversal_insert(
    *,
    idempotency_key: str,
    kind: str,
    memo: str,
    reference: str,
    created_by: User | None,
    reverses: Posting,
    checked: list[tuple[LedgerAccount, int]],
) -> tuple[Posting, bool]:
    """Insert a reversal's posting row, or replay the one under its key.

    Not ``ON CONFLICT``: the partial unique index on ``reverses`` may refuse
    the insert too (another key reversed it first), which the savepoint turns
    into ``already_reversed``. Reversals are rare; the extra round trips do not matter.
    """
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
        winner = Posting.objects.filter(reverses=reverses).first()
        if winner is not None:
            raise _already_reversed(reverses, winner) from None
        raise
    return posting, True


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
    if reverses is None and connection.vendor == "postgresql":
        deltas = list(_cached_deltas(checked).items())
        # One statement needs no transaction of its own; a second cached
        # account (updated after the first, in pk order) does.
        with transaction.atomic() if len(deltas) > 1 else contextlib.nullcontext():
            posting = _posting_write_one_statement(
                idempotency_key=idempotency_key,
                kind=kind,
                memo=memo,
                reference=reference,
                created_by=created_by,
                checked=checked,
                first_delta=deltas[0] if deltas else None,
            )
            if posting is None:
                return _replay(Posting.objects.get(idempotency_key=idempotency_key), checked), False
            for pk, delta in deltas[1:]:
                LedgerAccount.objects.filter(pk=pk).update(balance_minor=F("balance_minor") + delta)
        return posting, True
    with transaction.atomic():
        if reverses is None:
            posting = _posting_insert_if_new(
                idempotency_key=idempotency_key,
                kind=kind,
                memo=memo,
                reference=reference,
                created_by=created_by,
            )
            if posting is None:
                return _replay(Posting.objects.get(idempotency_key=idempotency_key), checked), False
        else:
            posting, created = _reversal_insert(
                idempotency_key=idempotency_key,
                kind=kind,
                memo=memo,
                reference=reference,
                created_by=created_by,
                reverses=reverses,
                checked=checked,
            )
            if not created:
                return posting, False
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


# --- Many postings at once ------------------------------------------------------------------


@dataclass(frozen=True)
class PostingSpec:
    """One posting for ``postings_create_many``: the same fields as ``posting_create``."""

    idempotency_key: str
    kind: str
    lines: Sequence
    memo: str = ""
    reference: str = ""
    created_by: User | None = None


def _replay_many(existing: dict[str, Posting], checked: dict[str, list]) -> None:
    """Refuse any stored posting whose key now comes with other lines (one query)."""
    if not existing:
        return
    stored: dict[int, Counter] = defaultdict(Counter)
    for posting_id, account_id, amount in Entry.objects.filter(
        posting__in=list(existing.values())
    ).values_list("posting_id", "account_id", "amount_minor"):
        stored[posting_id][(account_id, amount)] += 1
    for key, posting in existing.items():
        wanted = Counter((account.pk, amount) for account, amount in checked[key])
        if stored[posting.pk] != wanted:
            _replay(posting, checked[key])  # raises the idempotency_key_reused Conflict


def postings_create_many(specs: Sequence[PostingSpec]) -> list[Posting]:
    """``posting_create`` for a batch, in one transaction and a constant number of queries.

    For work that posts per line of something large (a pay run's holds, its
    recorded transfers): every spec is checked first, and one broken spec
    refuses the whole batch. Keys already posted replay exactly as
    ``posting_create`` does (same lines: the stored posting; other lines:
    ``Conflict``); a key twice in one batch is refused. Returns the postings
    in the order of ``specs``. Should a concurrent writer insert one of the
    keys first, the batch falls back to ``posting_create`` per spec, which
    settles each key on its own.
    """
    checked: dict[str, list[tuple[LedgerAccount, int]]] = {}
    for spec in specs:
        _check_text(
            idempotency_key=spec.idempotency_key,
            kind=spec.kind,
            memo=spec.memo,
            reference=spec.reference,
            reverses=None,
        )
        if spec.idempotency_key in checked:
            _refuse(
                "Each posting in a batch needs its own idempotency key.",
                "idempotency_key",
                f"“{spec.idempotency_key}” appears twice.",
            )
        checked[spec.idempotency_key] = _checked_lines(spec.lines)
    if not specs:
        return []
    with transaction.atomic():
        existing = {
            posting.idempotency_key: posting
            for posting in Posting.objects.filter(idempotency_key__in=list(checked))
        }
        _replay_many(existing, checked)
        fresh = [
            Posting(
                idempotency_key=spec.idempotency_key,
                kind=spec.kind,
                memo=spec.memo,
                reference=spec.reference,
                created_by=(
                    spec.created_by
                    if isinstance(spec.created_by, User) and spec.created_by.pk
                    else None
                ),
            )
            for spec in specs
            if spec.idempotency_key not in existing
        ]
        try:
            with transaction.atomic():
                Posting.objects.bulk_create(fresh)
        except IntegrityError:
            # Someone else posted one of these keys since the read above.
            return [
                posting_create(
                    idempotency_key=spec.idempotency_key,
                    kind=spec.kind,
                    lines=spec.lines,
                    memo=spec.memo,
                    reference=spec.reference,
                    created_by=spec.created_by,
                )
                for spec in specs
            ]
        Entry.objects.bulk_create(
            [
                Entry(
                    posting=posting,
                    account=account,
                    amount_minor=amount,
                    currency=account.currency,
                )
                for posting in fresh
                for account, amount in checked[posting.idempotency_key]
            ]
        )
        _balances_apply([line for posting in fresh for line in checked[posting.idempotency_key]])
        created = {posting.idempotency_key: posting for posting in fresh}
    return [existing.get(spec.idempotency_key) or created[spec.idempotency_key] for spec in specs]


def agent_ledger_accounts(
    *, agent_ids: Sequence[int], purpose: str, currency: str
) -> dict[int, LedgerAccount]:
    """Each agent's account for (purpose, currency), created where missing, in three queries.

    The batch form of ``ledger_account`` for work over many agents. The ids
    must be agents' (the caller selected them as such).
    """
    if purpose not in AGENT_PURPOSES:
        _refuse("Only agent purposes have agent accounts.", "purpose")
    code = _normalise_currency(currency)
    wanted = set(agent_ids)
    found = LedgerAccount.objects.filter(purpose=purpose, currency=code, agent_id__in=wanted)
    accounts = {account.agent_id: account for account in found}
    missing = wanted - accounts.keys()
    if missing:
        LedgerAccount.objects.bulk_create(
            [LedgerAccount(agent_id=pk, purpose=purpose, currency=code) for pk in missing],
            ignore_conflicts=True,
        )
        accounts.update(
            (account.agent_id, account)
            for account in LedgerAccount.objects.filter(
                purpose=purpose, currency=code, agent_id__in=missing
            )
        )
    return accounts
