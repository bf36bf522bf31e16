from decimal import Decimal

import pytest

from marketplace.errors import Conflict, ValidationFailed
from payouts.models import Entry, LedgerAccount, Posting, Purpose
from payouts.selectors import account_balance, account_balance_from_entries
from payouts.services import ledger_account, posting_create


def balances(*accounts):
    return [account_balance(LedgerAccount.objects.get(pk=a.pk)) for a in accounts]


def topup(brand_balance, clearing, *, key="topup:1", amount=1000, **kwargs):
    return posting_create(
        idempotency_key=key,
        kind="brand.topup",
        lines=[(brand_balance, amount), (clearing, -amount)],
        **kwargs,
    )


def test_balanced_posting_writes_its_entries_and_moves_both_cached_balances(
    brand_balance, clearing, brand_admin
):
    posting = topup(
        brand_balance,
        clearing,
        memo="Checkout cs_1",
        reference="checkout:cs_1",
        created_by=brand_admin,
    )
    assert sorted(posting.entries.values_list("account_id", "amount_minor", "currency")) == sorted(
        [(brand_balance.pk, 1000, "EUR"), (clearing.pk, -1000, "EUR")]
    )
    assert (posting.kind, posting.memo, posting.reference) == (
        "brand.topup",
        "Checkout cs_1",
        "checkout:cs_1",
    )
    assert posting.created_by == brand_admin
    assert balances(brand_balance, clearing) == [1000, -1000]
    assert account_balance_from_entries(brand_balance) == 1000
    assert account_balance_from_entries(clearing) == -1000


def test_successive_postings_accumulate_in_the_cached_balance(brand_balance, clearing):
    topup(brand_balance, clearing, key="topup:1", amount=1000)
    topup(brand_balance, clearing, key="topup:2", amount=250)
    assert balances(brand_balance, clearing) == [1250, -1250]


def test_a_three_way_posting_splits_an_earning(brand_balance, agent_pending, revenue):
    posting_create(
        idempotency_key="work_record:1:earning",
        kind="work.earning",
        lines=[(brand_balance, -1100), (agent_pending, 1000), (revenue, 100)],
    )
    assert balances(brand_balance, agent_pending, revenue) == [-1100, 1000, 100]


def test_two_lines_on_one_account_net_in_its_balance(brand_balance, clearing, revenue):
    posting_create(
        idempotency_key="k",
        kind="correction",
        lines=[(clearing, -300), (clearing, -200), (brand_balance, 400), (revenue, 100)],
    )
    assert balances(clearing, brand_balance, revenue) == [-500, 400, 100]
    assert Entry.objects.count() == 4


def test_a_posting_may_span_currencies_when_each_sums_to_zero(brand):
    eur_brand = ledger_account(purpose=Purpose.BRAND_BALANCE, currency="EUR", brand=brand)
    usd_brand = ledger_account(purpose=Purpose.BRAND_BALANCE, currency="USD", brand=brand)
    eur_clearing = ledger_account(purpose=Purpose.STRIPE_CLEARING, currency="EUR")
    usd_clearing = ledger_account(purpose=Purpose.STRIPE_CLEARING, currency="USD")
    posting = posting_create(
        idempotency_key="fx:1",
        kind="correction",
        lines=[(eur_brand, 100), (eur_clearing, -100), (usd_brand, -120), (usd_clearing, 120)],
    )
    assert dict(posting.entries.values_list("account_id", "currency")) == {
        eur_brand.pk: "EUR",
        eur_clearing.pk: "EUR",
        usd_brand.pk: "USD",
        usd_clearing.pk: "USD",
    }


# --- Every rule refuses, and refuses before writing ------------------------------------


@pytest.fixture
def usd_clearing(db):
    return ledger_account(purpose=Purpose.STRIPE_CLEARING, currency="USD")


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("one line", "lines"),
        ("no lines", "lines"),
        ("zero amount", "lines"),
        ("bool amount", "lines"),
        ("float amount", "lines"),
        ("decimal amount", "lines"),
        ("string amount", "lines"),
        ("unsaved account", "lines"),
        ("line currency differs from account", "lines"),
        ("does not sum to zero", "lines"),
        ("sums to zero only across currencies", "lines"),
        ("empty key", "idempotency_key"),
        ("blank key", "idempotency_key"),
        ("key too long", "idempotency_key"),
        ("empty kind", "kind"),
    ],
)
def test_each_rule_refuses_the_posting_and_writes_nothing(
    brand_balance, clearing, usd_clearing, ledger_counts, case, field
):
    # A valid posting first, so "writes nothing" is checked against a non-empty ledger.
    topup(brand_balance, clearing, key="before")
    key, kind = "k", "brand.topup"
    lines = [(brand_balance, 500), (clearing, -500)]
    if case == "one line":
        lines = [(brand_balance, 500)]
    elif case == "no lines":
        lines = []
    elif case == "zero amount":
        lines = [(brand_balance, 0), (clearing, 0)]
    elif case == "bool amount":
        lines = [(brand_balance, True), (clearing, -1)]
    elif case == "float amount":
        lines = [(brand_balance, 5.0), (clearing, -5)]
    elif case == "decimal amount":
        lines = [(brand_balance, Decimal("5")), (clearing, -5)]
    elif case == "string amount":
        lines = [(brand_balance, "5"), (clearing, -5)]
    elif case == "unsaved account":
        lines = [
            (LedgerAccount(purpose=Purpose.PLATFORM_REVENUE, currency="EUR"), 5),
            (clearing, -5),
        ]
    elif case == "line currency differs from account":
        lines = [(brand_balance, 500, "USD"), (clearing, -500, "EUR")]
    elif case == "does not sum to zero":
        lines = [(brand_balance, 500), (clearing, -499)]
    elif case == "sums to zero only across currencies":
        lines = [(brand_balance, 500), (usd_clearing, -500)]
    elif case == "empty key":
        key = ""
    elif case == "blank key":
        key = "   "
    elif case == "key too long":
        key = "k" * 201
    elif case == "empty kind":
        kind = ""
    before = ledger_counts()
    with pytest.raises(ValidationFailed) as excinfo:
        posting_create(idempotency_key=key, kind=kind, lines=lines)
    assert field in excinfo.value.fields
    assert excinfo.value.message
    assert ledger_counts() == before
    assert balances(brand_balance, clearing, usd_clearing) == [1000, -1000, 0]


def test_a_matching_explicit_line_currency_is_accepted(brand_balance, clearing):
    posting_create(
        idempotency_key="k",
        kind="brand.topup",
        lines=[(brand_balance, 5, "EUR"), (clearing, -5, "EUR")],
    )
    assert balances(brand_balance, clearing) == [5, -5]


# --- Idempotency ---------------------------------------------------------------------------


def test_replaying_a_key_returns_the_same_posting_and_moves_nothing_twice(
    brand_balance, clearing, ledger_counts
):
    first = topup(brand_balance, clearing, key="topup:cs_1")
    counts = ledger_counts()
    again = topup(brand_balance, clearing, key="topup:cs_1", memo="a retried webhook")
    assert again.pk == first.pk
    assert again.memo == ""  # unchanged: the first posting is returned as it was
    assert ledger_counts() == counts
    assert balances(brand_balance, clearing) == [1000, -1000]


def test_a_replay_may_list_the_same_lines_in_another_order(brand_balance, clearing):
    first = topup(brand_balance, clearing, key="k")
    again = posting_create(
        idempotency_key="k", kind="brand.topup", lines=[(clearing, -1000), (brand_balance, 1000)]
    )
    assert again.pk == first.pk
    assert balances(brand_balance, clearing) == [1000, -1000]


def test_the_same_key_with_other_amounts_is_a_conflict(brand_balance, clearing, ledger_counts):
    topup(brand_balance, clearing, key="k", amount=1000)
    counts = ledger_counts()
    with pytest.raises(Conflict) as excinfo:
        topup(brand_balance, clearing, key="k", amount=999)
    assert excinfo.value.code == "idempotency_key_reused"
    assert ledger_counts() == counts
    assert balances(brand_balance, clearing) == [1000, -1000]


def test_the_same_key_with_other_accounts_is_a_conflict(
    brand_balance, clearing, revenue, ledger_counts
):
    topup(brand_balance, clearing, key="k")
    counts = ledger_counts()
    with pytest.raises(Conflict) as excinfo:
        posting_create(
            idempotency_key="k", kind="brand.topup", lines=[(brand_balance, 1000), (revenue, -1000)]
        )
    assert excinfo.value.code == "idempotency_key_reused"
    assert ledger_counts() == counts
    assert balances(revenue) == [0]


def test_the_same_key_with_an_extra_line_is_a_conflict(brand_balance, clearing, revenue):
    topup(brand_balance, clearing, key="k", amount=1000)
    with pytest.raises(Conflict):
        posting_create(
            idempotency_key="k",
            kind="brand.topup",
            lines=[(brand_balance, 1000), (clearing, -1000), (revenue, 5), (clearing, -5)],
        )


def test_a_conflict_inside_the_callers_transaction_leaves_it_usable(brand_balance, clearing):
    from django.db import transaction

    topup(brand_balance, clearing, key="k", amount=1000)
    with transaction.atomic():
        with pytest.raises(Conflict):
            topup(brand_balance, clearing, key="k", amount=1)
        topup(brand_balance, clearing, key="k2", amount=1)
    assert Posting.objects.count() == 2
    assert balances(brand_balance) == [1001]
