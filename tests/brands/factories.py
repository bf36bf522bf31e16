import factory

from brands.models import (
    Brand,
    BrandMembership,
    BrandRole,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from tests.marketplace.factories import UserFactory


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand

    name = factory.Sequence(lambda n: f"Brand {n}")
    slug = factory.Sequence(lambda n: f"brand-{n}")
    time_zone = "Europe/Berlin"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BrandMembership

    brand = factory.SubFactory(BrandFactory)
    user = factory.SubFactory(UserFactory)
    role = BrandRole.ADMIN


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint

    brand = factory.SubFactory(BrandFactory)
    url = factory.Sequence(lambda n: f"https://helpdesk-{n}.example.com/gigdesk/webhooks")
    secret = factory.Sequence(lambda n: f"whsec_test_secret_{n}")
    events = factory.LazyFunction(lambda: list(WebhookEventType.values))


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookDelivery

    endpoint = factory.SubFactory(WebhookEndpointFactory)
    # The log belongs to the endpoint's brand, as the service writes it.
    brand = factory.LazyAttribute(lambda delivery: delivery.endpoint.brand)
    event_id = factory.Sequence(lambda n: f"evt_{n:032x}")
    event_type = WebhookEventType.TASK_CLAIMED
    body = factory.LazyAttribute(
        lambda d: (
            f'{{"brand":"{d.endpoint.brand.slug}","data":{{}},"id":"{d.event_id}",'
            f'"type":"{d.event_type}"}}'
        )
    )
