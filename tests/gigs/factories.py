import factory

from gigs.models import DispatchMode, Gig, Message, MessageKind, PayModel, Task
from tests.brands.factories import BrandFactory
from tests.payouts.factories import brand_fund


class GigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Gig
        skip_postgeneration_save = True

    brand = factory.SubFactory(BrandFactory)
    title = factory.Sequence(lambda n: f"Order support {n}")
    description = "Answer questions about orders, returns and delivery."
    language = "en"
    pay_model = PayModel.PER_RESOLUTION
    rate_minor = 250
    currency = "EUR"
    dispatch_mode = DispatchMode.OPEN
    # As gig_create does: the default, never more than a task may bill.
    reserve_minutes = factory.LazyAttribute(
        lambda gig: min(15, getattr(gig, "max_billable_minutes", 60))
    )

    @factory.post_generation
    def funded(gig, create, extracted, **kwargs):
        """Dispatch offers a gig's tasks only while its brand's balance covers a
        claim: every factory gig's brand is funded in the gig's currency
        (``brand_fund``, a real posting), unless ``funded=False``."""
        if create and extracted is not False:
            brand_fund(gig.brand, gig.currency)


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
