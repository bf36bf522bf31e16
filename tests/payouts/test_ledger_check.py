from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from payouts.models import Entry, LedgerAccount
from payouts.selectors import BalanceMismatch, balance_mismatches, unbalanced_postings
from payouts.services import posting_create


def run_check() -> str:
    out = StringIO()
    call_command("ledger_check", stdout=out)
    return out.getvalue()


@pytest.fixture
def two_postings(brand_balance, clearing, agent_pending):
    posting_create(
        idempotency_key="topup:1",
        kind="brand.topup",
        lines=[(brand_balance, 1000), (clearing, -1000)],
    )
    return posting_create(
        idempotency_key="work_record:1:earning",
        kind="work.earning",
        lines=[(brand_balance, -400), (agent_pending, 400)],
    )


def test_ledger_check_passes_on_a_balanced_ledger(two_postings):
    assert run_check().strip() == "Ledger balanced: 3 accounts, 2 postings."
    assert balance_mismatches() == []


def test_ledger_check_reports_a_tampered_cached_balance_and_exits_1(two_postings, brand_balance):
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {LedgerAccount._meta.db_table} SET balance_minor = 99999 WHERE id = %s",
            [brand_balance.pk],
        )
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("ledger_check", stdout=out)
    assert excinfo.value.returncode == 1
    printed = out.getvalue()
    assert f"account #{brand_balance.pk}" in printed
    assert "brand Acme Outdoors" in printed
    assert "brand_balance" in printed
    assert "EUR" in printed
    assert "cached 99999, from entries 600" in printed
    assert "Ledger balanced" not in printed
    assert balance_mismatches() == [
        BalanceMismatch(
            account=LedgerAccount.objects.get(pk=brand_balance.pk), cached=99999, from_entries=600
        )
    ]


def test_ledger_check_reports_an_account_with_a_balance_but_no_entries(db, revenue):
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {LedgerAccount._meta.db_table} SET balance_minor = 5 WHERE id = %s",
            [revenue.pk],
        )
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_check", stdout=out)
    assert "cached 5, from entries 0" in out.getvalue()


def test_ledger_check_reports_a_posting_that_does_not_sum_to_zero(two_postings, agent_pending):
    entry = two_postings.entries.get(account=agent_pending)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Entry._meta.db_table} SET amount_minor = 300 WHERE id = %s", [entry.pk]
        )
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_check", stdout=out)
    assert f"Unbalanced posting #{two_postings.pk}: its EUR entries sum to -100" in out.getvalue()
    assert [(row.posting_id, row.total) for row in unbalanced_postings()] == [
        (two_postings.pk, -100)
    ]


def test_ledger_check_reports_an_entry_in_another_currency_than_its_account(two_postings):
    entry = two_postings.entries.first()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Entry._meta.db_table} SET currency = 'USD' WHERE id = %s", [entry.pk]
        )
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_check", stdout=out)
    assert f"entry #{entry.pk}" in out.getvalue()
