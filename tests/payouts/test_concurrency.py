"""Many writers at once, each on its own database connection (PostgreSQL only).

On SQLite writes serialise on the database lock, so nothing here could race;
on PostgreSQL the unique index and the row locks must decide.
"""

import threading

import pytest
from django.db import connection

from marketplace.errors import Conflict
from payouts.models import Entry, LedgerAccount, Posting, Purpose
from payouts.selectors import account_balance_from_entries, balance_mismatches
from payouts.services import ledger_account, posting_create, posting_reverse
from tests.brands.factories import BrandFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real row locks need PostgreSQL"),
]

THREADS = 8


def run_threads(target, count=THREADS):
    """Run ``target(n)`` in ``count`` threads released together; return their errors."""
    errors: list[str] = []
    start = threading.Barrier(count)

    def worker(n):
        try:
            start.wait()
            target(n)
        except Exception as exc:  # noqa: BLE001 - reported to the test thread, which fails on it
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return errors


@pytest.fixture
def accounts():
    brand = BrandFactory()
    return (
        ledger_account(purpose=Purpose.BRAND_BALANCE, currency="EUR", brand=brand),
        ledger_account(purpose=Purpose.STRIPE_CLEARING, currency="EUR"),
    )


def test_one_key_from_eight_writers_makes_one_posting_and_moves_money_once(accounts):
    brand_balance, clearing = accounts
    results: list[int] = []

    def post(_n):
        posting = posting_create(
            idempotency_key="topup:cs_race",
            kind="brand.topup",
            lines=[(brand_balance, 1000), (clearing, -1000)],
        )
        results.append(posting.pk)

    assert run_threads(post) == []
    assert Posting.objects.count() == 1
    assert Entry.objects.count() == 2
    # Every caller got the one posting back: the losers replayed it.
    assert results == [Posting.objects.get().pk] * THREADS
    assert LedgerAccount.objects.get(pk=brand_balance.pk).balance_minor == 1000
    assert account_balance_from_entries(clearing) == -1000


def test_many_keys_between_two_accounts_keep_cached_balances_equal_to_the_entries(accounts):
    brand_balance, _ = accounts
    # Two accounts that both keep a cached balance, so both rows get locked.
    reserved = ledger_account(
        purpose=Purpose.BRAND_RESERVED, currency="EUR", brand=brand_balance.brand
    )
    per_thread = 25

    def post(n):
        for i in range(per_thread):
            amount = n * 100 + i + 1
            lines = [(brand_balance, amount), (reserved, -amount)]
            # Half the writers list the lines the other way round: with locks
            # taken in line order they would deadlock against the rest.
            if n % 2:
                lines.reverse()
            posting_create(idempotency_key=f"t{n}:{i}", kind="brand.topup", lines=lines)

    assert run_threads(post) == []
    expected = sum(n * 100 + i + 1 for n in range(THREADS) for i in range(per_thread))
    assert Posting.objects.count() == THREADS * per_thread
    brand_balance.refresh_from_db()
    reserved.refresh_from_db()
    assert brand_balance.balance_minor == account_balance_from_entries(brand_balance) == expected
    assert reserved.balance_minor == account_balance_from_entries(reserved) == -expected
    assert balance_mismatches() == []


def test_racing_reversals_under_different_keys_reverse_once(accounts):
    brand_balance, clearing = accounts
    topup = posting_create(
        idempotency_key="topup:1",
        kind="brand.topup",
        lines=[(brand_balance, 700), (clearing, -700)],
    )
    refused: list[str] = []

    def reverse(n):
        try:
            posting_reverse(posting=topup, idempotency_key=f"rev:{n}", memo="refund")
        except Conflict as exc:
            refused.append(exc.code)

    assert run_threads(reverse) == []
    assert Posting.objects.filter(reverses=topup).count() == 1
    assert refused == ["already_reversed"] * (THREADS - 1)
    assert LedgerAccount.objects.get(pk=brand_balance.pk).balance_minor == 0
    assert balance_mismatches() == []
