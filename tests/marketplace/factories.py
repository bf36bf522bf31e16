import factory
from allauth.account.models import EmailAddress

from marketplace.languages import CEFRLevel
from marketplace.models import AccountType, AgentLanguage, AgentProfile, Skill, User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    account_type = AccountType.BRAND

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save(update_fields=["password"])

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        # allauth refuses log-in to an unverified address; factories give a verified one.
        if create and extracted is not False:
            EmailAddress.objects.get_or_create(
                user=obj, email=obj.email, defaults={"verified": True, "primary": True}
            )


class AgentUserFactory(UserFactory):
    account_type = AccountType.AGENT


class StaffUserFactory(UserFactory):
    account_type = AccountType.BRAND
    is_staff = True


class SkillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Skill
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"skill-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class AgentProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentProfile

    user = factory.SubFactory(AgentUserFactory)
    display_name = factory.Faker("first_name")
    country = "ES"
    time_zone = "Europe/Madrid"


class AgentLanguageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentLanguage

    profile = factory.SubFactory(AgentProfileFactory)
    language = "en"
    level = CEFRLevel.C1
