from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from brands.models import Brand, BrandMembership
from gigs.models import Gig, Message, PayModel, Task
from marketplace.models import AgentProfile, User


def seed(*args) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_demo_world_is_believable():
    seed()
    assert Brand.objects.count() >= 2
    assert AgentProfile.objects.filter(languages__isnull=False).distinct().count() >= 20
    assert Task.objects.count() >= 200
    assert set(Gig.objects.values_list("pay_model", flat=True)) == set(PayModel.values)
    assert Gig.objects.values("language").distinct().count() >= 3
    assert Message.objects.values("task").distinct().count() == Task.objects.count()


@pytest.mark.django_db
def test_running_twice_duplicates_nothing():
    seed()
    counts = [m.objects.count() for m in (User, Brand, BrandMembership, Gig, Task, Message)]
    seed()
    assert [m.objects.count() for m in (User, Brand, BrandMembership, Gig, Task, Message)] == counts


@pytest.mark.django_db
def test_if_empty_leaves_an_existing_database_alone(brand):
    output = seed("--if-empty")
    assert "skipped" in output
    assert Task.objects.count() == 0


@pytest.mark.django_db
def test_printed_logins_work():
    output = seed()
    assert "admin@acme.demo" in output
    assert authenticate(email="admin@acme.demo", password="gigdesk-demo") is not None
