from payouts.selectors import account_balance_from_entries, postings_for_account
from payouts.services import posting_create


def test_postings_for_account_lists_only_its_postings_newest_first(
    brand_balance, clearing, agent_pending, revenue
):
    first = posting_create(
        idempotency_key="1", kind="brand.topup", lines=[(brand_balance, 900), (clearing, -900)]
    )
    posting_create(
        idempotency_key="2", kind="correction", lines=[(revenue, 5), (clearing, 1), (clearing, -6)]
    )
    third = posting_create(
        idempotency_key="3",
        kind="work.earning",
        lines=[(brand_balance, -300), (agent_pending, 200), (brand_balance, -100), (revenue, 200)],
    )
    assert list(postings_for_account(brand_balance)) == [third, first]
    assert list(postings_for_account(agent_pending)) == [third]


def test_account_balance_from_entries_is_zero_for_a_new_account(agent_pending):
    assert account_balance_from_entries(agent_pending) == 0
