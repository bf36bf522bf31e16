import factory

from gigs.models import DispatchMode, Gig, Message, MessageKind, PayModel, Task
from tests.brands.factories import BrandFactory


class GigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Gig

    brand = factory.SubFactory(BrandFactory)
    title = factory.Sequence(lambda n: f"Order support {n}")
    description = "Answer questions about orders, returns and delivery."
    language = "en"
    pay_model = PayModel.PER_RESOLUTION
    rate_minor = 250
    currency = "EUR"
    dispatch_mode = DispatchMode.OPEN


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    gig = factory.SubFactory(GigFactory)
    # The task's brand is always its gig's brand.
    brand = factory.SelfAttribute("gig.brand")
    subject = factory.Sequence(lambda n: f"Where is my order {n}?")
    language = factory.SelfAttribute("gig.language")
    customer_reference = factory.Sequence(lambda n: f"cust-{n}")


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    task = factory.SubFactory(TaskFactory)
    brand = factory.SelfAttribute("task.brand")
    kind = MessageKind.CUSTOMER
    author_name = "Customer"
    body = "Hello, my parcel has not arrived."
