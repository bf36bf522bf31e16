import pytest

from marketplace.errors import Conflict, ValidationFailed
from marketplace.models import AuditEvent
from payouts.models import LedgerAccount, Posting
from payouts.selectors import account_balance
from payouts.services import posting_create, posting_reverse


@pytest.fixture
def earning(brand_balance, agent_pending, revenue):
    return posting_create(
        idempotency_key="work_record:7:earning",
        kind="work.earning",
        lines=[(brand_balance, -1100), (agent_pending, 1000), (revenue, 100)],
    )


def balance(account):
    return account_balance(LedgerAccount.objects.get(pk=account.pk))


def test_a_reversal_mirrors_every_entry_and_points_at_the_original(earning):
    reversal = posting_reverse(
        posting=earning, idempotency_key="work_record:7:clawback", memo="Fraudulent task"
    )
    assert reversal.reverses == earning
    assert reversal.kind == "reversal"
    assert reversal.memo == "Fraudulent task"
    original = sorted(earning.entries.values_list("account_id", "amount_minor"))
    mirrored = sorted(
        (account_id, -amount)
        for account_id, amount in reversal.entries.values_list("account_id", "amount_minor")
    )
    assert mirrored == original


def test_a_reversal_restores_every_balance(earning, brand_balance, agent_pending, revenue):
    posting_reverse(posting=earning, idempotency_key="rev", memo="undo")
    assert [balance(a) for a in (brand_balance, agent_pending, revenue)] == [0, 0, 0]


def test_a_reversal_is_audited_with_its_actor(earning, staff_user):
    reversal = posting_reverse(
        posting=earning, idempotency_key="rev", memo="undo", created_by=staff_user
    )
    event = AuditEvent.objects.get(action="ledger.posting_reversed")
    assert event.actor == staff_user
    assert event.target_id == str(earning.pk)
    assert event.changes["reversal_id"] == reversal.pk
    assert reversal.created_by == staff_user


def test_replaying_a_reversal_returns_it_and_moves_nothing_twice(earning, agent_pending):
    first = posting_reverse(posting=earning, idempotency_key="rev", memo="undo")
    again = posting_reverse(posting=earning, idempotency_key="rev", memo="undo")
    assert again.pk == first.pk
    assert Posting.objects.count() == 2
    assert balance(agent_pending) == 0
    assert AuditEvent.objects.filter(action="ledger.posting_reversed").count() == 1


def test_reversing_twice_under_another_key_is_refused(earning, agent_pending, ledger_counts):
    first = posting_reverse(posting=earning, idempotency_key="rev:1", memo="undo")
    counts = ledger_counts()
    with pytest.raises(Conflict) as excinfo:
        posting_reverse(posting=earning, idempotency_key="rev:2", memo="undo again")
    assert excinfo.value.code == "already_reversed"
    assert f"#{first.pk}" in excinfo.value.message
    assert ledger_counts() == counts
    assert balance(agent_pending) == 0


def test_posting_create_cannot_sneak_a_second_reversal_past_the_database(
    earning, brand_balance, agent_pending, revenue
):
    posting_reverse(posting=earning, idempotency_key="rev:1", memo="undo")
    with pytest.raises(Conflict) as excinfo:
        posting_create(
            idempotency_key="rev:2",
            kind="correction",
            lines=[(brand_balance, 1100), (agent_pending, -1000), (revenue, -100)],
            reverses=earning,
        )
    assert excinfo.value.code == "already_reversed"
    assert balance(agent_pending) == 0


def test_a_reversal_key_that_belongs_to_another_posting_is_a_conflict(
    earning, brand_balance, clearing
):
    posting_create(
        idempotency_key="taken",
        kind="brand.topup",
        lines=[(brand_balance, 5), (clearing, -5)],
    )
    with pytest.raises(Conflict) as excinfo:
        posting_reverse(posting=earning, idempotency_key="taken", memo="undo")
    assert excinfo.value.code == "idempotency_key_reused"
    assert not Posting.objects.filter(reverses=earning).exists()


def test_a_reversal_can_itself_be_reversed_to_reinstate_the_original(earning, agent_pending):
    reversal = posting_reverse(posting=earning, idempotency_key="rev", memo="undo")
    posting_reverse(posting=reversal, idempotency_key="rev:rev", memo="undo the undo")
    assert balance(agent_pending) == 1000


def test_reversing_an_unsaved_posting_is_refused(db):
    with pytest.raises(ValidationFailed):
        posting_reverse(posting=Posting(kind="x"), idempotency_key="rev", memo="")
