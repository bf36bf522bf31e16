"""Ledger accounts for tests. Postings go through ``payouts.services.posting_create``."""

import factory

from payouts.models import LedgerAccount, Purpose
from payouts.services import ledger_account, posting_create
from tests.brands.factories import BrandFactory
from tests.marketplace.factories import AgentUserFactory

# What ``brand_fund`` gives a brand by default: 1,000,000.00, far more than any
# test spends, so that dispatch (which reserves each claim's expected cost)
# never stops for money unless a test means it to.
TEST_FUNDS_MINOR = 100_000_000
TEST_FUNDING_KIND = "test.funding"


def brand_fund(brand, currency: str = "EUR", amount_minor: int = TEST_FUNDS_MINOR, *, key=None):
    """Credit ``brand``'s balance through a real posting from ``stripe_clearing``,
    as a paid top-up does. Once per brand and currency unless ``key`` is given
    (the same key again changes nothing)."""
    return posting_create(
        idempotency_key=key or f"test-funding:{brand.pk}:{currency}",
        kind=TEST_FUNDING_KIND,
        lines=[
            (
                ledger_account(purpose=Purpose.BRAND_BALANCE, currency=currency, brand=brand),
                amount_minor,
            ),
            (ledger_account(purpose=Purpose.STRIPE_CLEARING, currency=currency), -amount_minor),
        ],
        memo="Test funds",
        reference="test",
    )


class PlatformAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LedgerAccount
        django_get_or_create = ("purpose", "currency")

    purpose = Purpose.STRIPE_CLEARING
    currency = "EUR"


class BrandAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LedgerAccount
        # A funded gig's brand already has its balance account.
        django_get_or_create = ("brand", "purpose", "currency")

    brand = factory.SubFactory(BrandFactory)
    purpose = Purpose.BRAND_BALANCE
    currency = "EUR"


class AgentAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LedgerAccount

    agent = factory.SubFactory(AgentUserFactory)
    purpose = Purpose.AGENT_PENDING
    currency = "EUR"
