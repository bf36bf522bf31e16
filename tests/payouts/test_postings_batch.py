"""Many postings at once, and the platform accounts that keep no cached balance."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.errors import Conflict, ValidationFailed
from payouts.models import LedgerAccount, Posting, Purpose
from payouts.selectors import account_balance, account_balance_from_entries, balance_mismatches
from payouts.services import (
    PostingSpec,
    agent_ledger_accounts,
    posting_create,
    postings_create_many,
)
from tests.marketplace.factories import AgentUserFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


def spec(brand_balance, clearing, key, amount):
    return PostingSpec(
        idempotency_key=key,
        kind="brand.topup",
        lines=[(brand_balance, amount), (clearing, -amount)],
        reference=key,
    )


def test_a_batch_writes_every_posting_and_moves_balances_by_their_sum(brand_balance, clearing):
    postings = postings_create_many([spec(brand_balance, clearing, f"k{n}", n) for n in (1, 2, 3)])
    assert [p.idempotency_key for p in postings] == ["k1", "k2", "k3"]
    assert all(p.pk for p in postings)
    assert [sorted(p.entries.values_list("amount_minor", flat=True)) for p in postings] == [
        [-1, 1],
        [-2, 2],
        [-3, 3],
    ]
    assert account_balance(LedgerAccount.objects.get(pk=brand_balance.pk)) == 6
    assert account_balance(clearing) == -6
    assert balance_mismatches() == []


def test_a_batch_costs_the_same_number_of_queries_for_ten_or_a_hundred(brand_balance, clearing):
    def queries(prefix, count):
        specs = [spec(brand_balance, clearing, f"{prefix}{n}", n + 1) for n in range(count)]
        with CaptureQueriesContext(connection) as captured:
            postings_create_many(specs)
        return len(captured.captured_queries)

    assert queries("a", 10) == queries("b", 100)


def test_keys_already_posted_replay_and_only_the_new_ones_are_written(brand_balance, clearing):
    first = posting_create(
        idempotency_key="k1", kind="brand.topup", lines=[(brand_balance, 5), (clearing, -5)]
    )
    postings = postings_create_many(
        [spec(brand_balance, clearing, "k1", 5), spec(brand_balance, clearing, "k2", 7)]
    )
    assert postings[0].pk == first.pk
    assert Posting.objects.count() == 2
    assert LedgerAccount.objects.get(pk=brand_balance.pk).balance_minor == 12


def test_a_reused_key_with_other_lines_refuses_the_whole_batch(brand_balance, clearing):
    posting_create(
        idempotency_key="k1", kind="brand.topup", lines=[(brand_balance, 5), (clearing, -5)]
    )
    with pytest.raises(Conflict) as refused:
        postings_create_many(
            [spec(brand_balance, clearing, "k2", 7), spec(brand_balance, clearing, "k1", 6)]
        )
    assert refused.value.code == "idempotency_key_reused"
    assert Posting.objects.count() == 1
    assert LedgerAccount.objects.get(pk=brand_balance.pk).balance_minor == 5


@pytest.mark.parametrize(
    "specs_from",
    [
        # one unbalanced posting among good ones
        lambda b, c: [spec(b, c, "ok", 1), PostingSpec("bad", "x", [(b, 2), (c, -1)])],
        # a key twice in one batch
        lambda b, c: [spec(b, c, "dup", 1), spec(b, c, "dup", 1)],
        # a fractional amount
        lambda b, c: [spec(b, c, "ok", 1), PostingSpec("frac", "x", [(b, 1.5), (c, -1.5)])],
    ],
)
def test_one_broken_spec_writes_nothing(brand_balance, clearing, specs_from, ledger_counts):
    before = ledger_counts()
    with pytest.raises(ValidationFailed):
        postings_create_many(specs_from(brand_balance, clearing))
    assert ledger_counts() == before
    assert LedgerAccount.objects.get(pk=brand_balance.pk).balance_minor == 0


def test_platform_accounts_keep_no_cached_balance_but_read_from_their_entries(
    brand_balance, clearing, revenue
):
    posting_create(
        idempotency_key="k1", kind="brand.topup", lines=[(brand_balance, 900), (clearing, -900)]
    )
    posting_create(idempotency_key="k2", kind="fee", lines=[(brand_balance, -100), (revenue, 100)])
    clearing.refresh_from_db()
    revenue.refresh_from_db()
    # No writer ever waits on these rows: the cache stays untouched.
    assert (clearing.balance_minor, revenue.balance_minor) == (0, 0)
    assert account_balance(clearing) == account_balance_from_entries(clearing) == -900
    assert account_balance(revenue) == 100
    assert balance_mismatches() == []


def test_a_cached_figure_written_on_a_platform_account_is_a_mismatch(clearing):
    LedgerAccount.objects.filter(pk=clearing.pk).update(balance_minor=5)
    [mismatch] = balance_mismatches()
    assert (mismatch.account.pk, mismatch.cached, mismatch.from_entries) == (clearing.pk, 5, 0)


def test_agent_ledger_accounts_finds_and_creates_in_one_go():
    agents = AgentUserFactory.create_batch(3)
    existing = agent_ledger_accounts(
        agent_ids=[agents[0].pk], purpose=Purpose.AGENT_AVAILABLE, currency="eur"
    )[agents[0].pk]
    accounts = agent_ledger_accounts(
        agent_ids=[a.pk for a in agents], purpose=Purpose.AGENT_AVAILABLE, currency="EUR"
    )
    assert set(accounts) == {a.pk for a in agents}
    assert accounts[agents[0].pk].pk == existing.pk
    assert {a.currency for a in accounts.values()} == {"EUR"}
    assert LedgerAccount.objects.filter(purpose=Purpose.AGENT_AVAILABLE).count() == 3


def test_agent_ledger_accounts_refuses_a_purpose_agents_do_not_hold():
    with pytest.raises(ValidationFailed):
        agent_ledger_accounts(
            agent_ids=[StaffUserFactory().pk], purpose=Purpose.BRAND_BALANCE, currency="EUR"
        )
