"""Ledger accounts for tests. Postings go through ``payouts.services.posting_create``."""

import factory

from payouts.models import LedgerAccount, Purpose
from tests.brands.factories import BrandFactory
from tests.marketplace.factories import AgentUserFactory


class PlatformAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LedgerAccount
        django_get_or_create = ("purpose", "currency")

    purpose = Purpose.STRIPE_CLEARING
    currency = "EUR"


class BrandAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LedgerAccount

    brand = factory.SubFactory(BrandFactory)
    purpose = Purpose.BRAND_BALANCE
    currency = "EUR"


class AgentAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LedgerAccount

    agent = factory.SubFactory(AgentUserFactory)
    purpose = Purpose.AGENT_PENDING
    currency = "EUR"
