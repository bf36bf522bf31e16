import pytest
from django.db import transaction

from payouts.models import Entry, Posting
from payouts.services import posting_create


@pytest.fixture
def posting(brand_balance, clearing):
    return posting_create(
        idempotency_key="k", kind="brand.topup", lines=[(brand_balance, 100), (clearing, -100)]
    )


def test_saving_a_posting_again_is_refused(posting):
    posting.memo = "rewritten"
    with pytest.raises(TypeError, match="immutable"):
        posting.save()
    assert Posting.objects.get(pk=posting.pk).memo == ""


def test_saving_an_entry_again_is_refused(posting):
    entry = posting.entries.first()
    original = entry.amount_minor
    entry.amount_minor = 1
    with pytest.raises(TypeError, match="immutable"):
        entry.save()
    assert Entry.objects.get(pk=entry.pk).amount_minor == original


def test_deleting_a_posting_or_an_entry_is_refused(posting):
    with pytest.raises(TypeError, match="immutable"):
        posting.delete()
    with pytest.raises(TypeError, match="immutable"):
        posting.entries.first().delete()
    assert Posting.objects.count() == 1
    assert Entry.objects.count() == 2


@pytest.mark.parametrize("model", [Posting, Entry])
def test_querysets_refuse_update_and_delete(posting, model):
    with pytest.raises(TypeError, match="immutable"):
        model.objects.all().update(id=1)
    with pytest.raises(TypeError, match="immutable"):
        model.objects.filter(pk__gt=0).delete()
    with pytest.raises(TypeError, match="immutable"):
        model._base_manager.all().delete()
    assert Entry.objects.count() == 2


def test_bulk_update_is_refused(posting):
    entries = list(posting.entries.all())
    for entry in entries:
        entry.amount_minor = -entry.amount_minor
    # bulk_update joins the caller's transaction without a savepoint: give it one.
    with pytest.raises(TypeError, match="immutable"), transaction.atomic():
        Entry.objects.bulk_update(entries, ["amount_minor"])
    assert sorted(posting.entries.values_list("amount_minor", flat=True)) == [-100, 100]


def test_related_managers_refuse_too(posting):
    with pytest.raises(TypeError, match="immutable"):
        posting.entries.all().delete()
    with pytest.raises(TypeError, match="immutable"):
        posting.entries.update(amount_minor=5)
