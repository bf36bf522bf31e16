"""The "brand can cover" dispatch rule: a gig whose brand cannot pay for one more
claim is not open to anyone, and its tasks are not offered."""

import pytest

from gigs import live
from gigs.dispatch import task_claim, task_offer, tasks_offer
from gigs.eligibility import (
    RULES,
    eligible_agents_for_gig,
    failed_rules,
    gigs_open_to_agent,
    offer_scope_for_agent,
    offerable_tasks_for_agent,
)
from gigs.models import DispatchMode, Gig, PayModel, Task, TaskStatus
from gigs.services import gig_create, gig_update
from marketplace.errors import ValidationFailed
from payouts.reservations import BRAND_CANNOT_COVER, BrandCannotCover
from tests.gigs.factories import GigFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent
from tests.payouts.factories import brand_fund

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(brand):
    return make_agent(brand)


def poor_gig(brand, funds=299, **fields) -> Gig:
    """A €2.50-per-resolution gig (€3.00 a claim with the fee) whose brand holds ``funds``."""
    gig = GigFactory(brand=brand, rate_minor=250, funded=False, **fields)
    if funds:
        brand_fund(brand, gig.currency, funds, key=f"poor:{brand.pk}:{gig.currency}")
    return gig


def offers(callbacks) -> list[int]:
    return [
        item["event"]["task"]["id"]
        for callback in callbacks
        if isinstance(callback, live._Batch)
        for item in callback.items
        if item["event"]["type"] == "offer"
    ]


def test_the_rule_is_per_gig(brand):
    [rule] = [rule for rule in RULES if rule.name == "brand_can_cover"]
    assert not rule.per_task
    assert not rule.is_capacity
    assert rule.refusal == BRAND_CANNOT_COVER


def test_a_gig_the_brand_cannot_cover_is_open_to_nobody(brand, agent):
    poor = poor_gig(brand)
    funded = GigFactory(brand=brand, currency="USD")
    assert set(gigs_open_to_agent(agent)) == {funded}
    assert list(eligible_agents_for_gig(poor)) == []
    assert list(eligible_agents_for_gig(funded)) == [agent]


def test_the_balance_covering_exactly_one_claim_keeps_the_gig_open(brand, agent):
    gig = poor_gig(brand, funds=300)
    assert list(gigs_open_to_agent(agent)) == [gig]


def test_an_unfunded_gigs_tasks_are_not_in_the_agents_queue_or_offer_scope(brand, agent):
    poor = poor_gig(brand)
    funded = GigFactory(brand=brand, currency="USD")
    waiting, open_task = TaskFactory(gig=poor), TaskFactory(gig=funded)
    assert list(offerable_tasks_for_agent(agent)) == [open_task]
    scope = offer_scope_for_agent(agent)
    assert not scope.allows(poor.pk, waiting.language)
    assert scope.allows(funded.pk, open_task.language)


def test_the_slow_path_names_the_funding_rule_with_a_brand_neutral_message(brand, agent):
    task = TaskFactory(gig=poor_gig(brand))
    assert [rule.name for rule in failed_rules(agent, task)] == ["brand_can_cover"]
    with pytest.raises(BrandCannotCover) as refused:
        task_claim(agent=agent, task_id=task.pk)
    assert (refused.value.code, refused.value.message) == ("brand_cannot_cover", BRAND_CANNOT_COVER)


def test_topping_up_opens_the_gig_again(brand, agent):
    gig = poor_gig(brand)
    assert list(gigs_open_to_agent(agent)) == []
    brand_fund(brand, "EUR", 1, key="one more cent")
    assert list(gigs_open_to_agent(agent)) == [gig]


def test_new_tasks_of_an_unfunded_open_gig_are_not_offered_live(
    brand, agent, django_capture_on_commit_callbacks
):
    poor = poor_gig(brand)
    funded = GigFactory(brand=brand, currency="USD")
    waiting, shown = TaskFactory(gig=poor), TaskFactory(gig=funded)
    with django_capture_on_commit_callbacks() as callbacks:
        from django.db import transaction

        with transaction.atomic():
            task_offer(waiting)
            task_offer(shown)
            tasks_offer([TaskFactory(gig=poor), TaskFactory(gig=poor)])
    assert offers(callbacks) == [shown.pk]


def test_a_directed_task_of_an_unfunded_gig_is_reserved_for_nobody(brand, agent):
    task = TaskFactory(gig=poor_gig(brand, dispatch_mode=DispatchMode.DIRECTED))
    task_offer(task)
    task.refresh_from_db()
    assert (task.status, task.reserved_for_id) == (TaskStatus.QUEUED, None)


# --- The gig's reserve minutes -------------------------------------------------------------


def test_reserve_minutes_defaults_to_15_but_never_above_the_billable_cap(brand, brand_admin):
    fields = {"title": "Chat", "language": "en", "pay_model": PayModel.PER_MINUTE, "rate_minor": 30}
    assert gig_create(brand=brand, created_by=brand_admin, **fields).reserve_minutes == 15
    capped = gig_create(brand=brand, created_by=brand_admin, max_billable_minutes=10, **fields)
    assert capped.reserve_minutes == 10


def test_reserving_more_than_a_task_may_bill_is_refused_and_changes_nothing(brand, brand_admin):
    gig = GigFactory(brand=brand, pay_model=PayModel.PER_MINUTE, max_billable_minutes=30)
    with pytest.raises(ValidationFailed) as refused:
        gig_update(gig=gig, actor=brand_admin, reserve_minutes=31)
    assert "reserve_minutes" in refused.value.fields
    assert "at most the most billable minutes per task (30)" in refused.value.message
    gig.refresh_from_db()
    assert gig.reserve_minutes == 15
    with pytest.raises(ValidationFailed):
        gig_create(
            brand=brand,
            created_by=brand_admin,
            title="Chat",
            language="en",
            pay_model=PayModel.PER_MINUTE,
            rate_minor=30,
            reserve_minutes=0,
        )
    assert Gig.objects.count() == 1


def test_lowering_the_billable_cap_lowers_an_unchosen_reserve(brand, brand_admin):
    gig = GigFactory(brand=brand, pay_model=PayModel.PER_MINUTE)
    gig = gig_update(gig=gig, actor=brand_admin, max_billable_minutes=5)
    assert (gig.max_billable_minutes, gig.reserve_minutes) == (5, 5)


def test_changing_a_gigs_price_resyncs_its_pool(
    brand, brand_admin, django_capture_on_commit_callbacks
):
    gig = GigFactory(brand=brand)
    with django_capture_on_commit_callbacks() as callbacks:
        gig_update(gig=gig, actor=brand_admin, rate_minor=999)
    events = [
        item["event"]
        for callback in callbacks
        if isinstance(callback, live._Batch)
        for item in callback.items
    ]
    assert {"type": live.SCOPE_CHANGED, "resync": True} in events
    assert Task.objects.count() == 0
