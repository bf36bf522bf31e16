import pytest
from django.db import IntegrityError, transaction
from django.db.models.deletion import ProtectedError

from marketplace.errors import ValidationFailed
from payouts.models import LedgerAccount, Purpose
from payouts.services import ledger_account
from tests.marketplace.factories import AgentUserFactory, UserFactory


def test_ledger_account_creates_once_and_then_returns_the_same_account(brand):
    first = ledger_account(purpose=Purpose.BRAND_BALANCE, currency="EUR", brand=brand)
    again = ledger_account(purpose=Purpose.BRAND_BALANCE, currency="EUR", brand=brand)
    assert again.pk == first.pk
    assert LedgerAccount.objects.count() == 1


def test_ledger_account_keeps_currencies_and_purposes_apart(brand):
    eur = ledger_account(purpose=Purpose.BRAND_BALANCE, currency="EUR", brand=brand)
    usd = ledger_account(purpose=Purpose.BRAND_BALANCE, currency="USD", brand=brand)
    reserved = ledger_account(purpose=Purpose.BRAND_RESERVED, currency="EUR", brand=brand)
    assert len({eur.pk, usd.pk, reserved.pk}) == 3


def test_ledger_account_stores_currency_upper_case_like_gigs(db):
    lower = ledger_account(purpose=Purpose.PLATFORM_REVENUE, currency="eur")
    assert lower.currency == "EUR"
    assert ledger_account(purpose=Purpose.PLATFORM_REVENUE, currency="EUR").pk == lower.pk


def test_platform_accounts_are_unique_despite_null_owners(db):
    ledger_account(purpose=Purpose.STRIPE_CLEARING, currency="EUR")
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.create(purpose=Purpose.STRIPE_CLEARING, currency="EUR")


@pytest.mark.parametrize(
    ("purpose", "owner", "field"),
    [
        (Purpose.BRAND_BALANCE, None, "brand"),
        (Purpose.AGENT_PENDING, None, "agent"),
        (Purpose.AGENT_PENDING, "brand", "agent"),
        (Purpose.PLATFORM_REVENUE, "brand", "purpose"),
    ],
)
def test_ledger_account_refuses_an_owner_that_does_not_fit_the_purpose(
    brand, purpose, owner, field
):
    kwargs = {"brand": brand} if owner == "brand" else {}
    with pytest.raises(ValidationFailed) as excinfo:
        ledger_account(purpose=purpose, currency="EUR", **kwargs)
    assert field in excinfo.value.fields
    assert LedgerAccount.objects.count() == 0


def test_ledger_account_refuses_a_brand_user_as_agent(db):
    with pytest.raises(ValidationFailed) as excinfo:
        ledger_account(purpose=Purpose.AGENT_PENDING, currency="EUR", agent=UserFactory())
    assert "agent" in excinfo.value.fields


@pytest.mark.parametrize("currency", ["EURO", "E1R", "", "€€€", None])
def test_ledger_account_refuses_a_bad_currency(db, currency):
    with pytest.raises(ValidationFailed) as excinfo:
        ledger_account(purpose=Purpose.PLATFORM_REVENUE, currency=currency)
    assert "currency" in excinfo.value.fields


def test_database_rejects_an_agent_purpose_account_without_an_agent(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.create(purpose=Purpose.AGENT_AVAILABLE, currency="EUR")
    assert LedgerAccount.objects.count() == 0


def test_database_rejects_a_brand_purpose_account_owned_by_an_agent(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.create(
            purpose=Purpose.BRAND_BALANCE, currency="EUR", agent=AgentUserFactory()
        )


def test_database_rejects_a_lower_case_currency(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.create(purpose=Purpose.PLATFORM_REVENUE, currency="eur")


def test_a_brand_with_ledger_accounts_cannot_be_deleted(brand):
    ledger_account(purpose=Purpose.BRAND_BALANCE, currency="EUR", brand=brand)
    with pytest.raises(ProtectedError):
        brand.delete()
