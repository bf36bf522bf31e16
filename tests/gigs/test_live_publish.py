"""Live events leave after the commit, together, and never after a rollback."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from gigs import live
from gigs.dispatch import task_claim, task_offer, task_reject
from tests.gigs.factories import GigFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent


@pytest.fixture
def hub_channel(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    name = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(live.HUB_GROUP, name)
    yield layer, name
    async_to_sync(layer.group_discard)(live.HUB_GROUP, name)


def _received(layer, name):
    async def drain():
        import asyncio

        messages = []
        while True:
            try:
                messages.append(await asyncio.wait_for(layer.receive(name), timeout=0.05))
            except TimeoutError:
                return messages

    return async_to_sync(drain)()


@pytest.mark.django_db(transaction=True)
def test_events_of_one_transaction_leave_as_one_message_after_commit(hub_channel):
    layer, name = hub_channel
    with transaction.atomic():
        live.publish({"type": "a"}, topics=["agent:1"])
        live.publish({"type": "b"}, topics=["task:2"], agents=[3])
        assert _received(layer, name) == []
    [message] = _received(layer, name)
    assert [item["event"]["type"] for item in message["items"]] == ["a", "b"]
    assert message["items"][1]["agents"] == [3]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_savepoint_drops_its_events(hub_channel):
    layer, name = hub_channel
    with transaction.atomic():
        live.publish({"type": "kept"}, topics=["agent:1"])
        try:
            with transaction.atomic():
                live.publish({"type": "dropped"}, topics=["agent:1"])
                raise RuntimeError
        except RuntimeError:
            pass
    events = [item["event"]["type"] for m in _received(layer, name) for item in m["items"]]
    assert events == ["kept"]


@pytest.mark.django_db(transaction=True)
def test_an_open_task_is_offered_to_its_brands_pool_without_reading_agents(
    hub_channel, brand, django_assert_num_queries
):
    layer, name = hub_channel
    make_agent(brand)
    task = TaskFactory(gig=GigFactory(brand=brand))
    _received(layer, name)
    # Who sees it is each connection's offer scope; the offer itself only asks
    # whether the brand can pay for a claim, and who passed on this task before.
    with django_assert_num_queries(2):
        task_offer(task)
    [message] = _received(layer, name)
    [item] = message["items"]
    assert item["event"]["type"] == "offer"
    assert item["event"]["task"]["id"] == task.pk
    assert (item["event"]["task"]["gig"]["id"], item["event"]["task"]["language"]) == (
        task.gig_id,
        task.language,
    )
    assert (item["topics"], item["agents"]) == ([live.pool_topic(brand.pk)], None)
    assert "skip_agents" not in item


@pytest.mark.django_db(transaction=True)
def test_a_task_offered_again_skips_the_agents_who_passed_on_it(hub_channel, brand):
    layer, name = hub_channel
    passer, other = make_agent(brand), make_agent(brand)
    task = TaskFactory(gig=GigFactory(brand=brand))
    task_reject(agent=passer, task_id=task.pk)
    _received(layer, name)
    task_offer(task)
    [item] = [i for m in _received(layer, name) for i in m["items"]]
    assert item["skip_agents"] == [passer.pk]
    assert other.pk not in item["skip_agents"]


@pytest.mark.django_db(transaction=True)
def test_a_claim_withdraws_the_offer_from_the_pool(hub_channel, brand):
    layer, name = hub_channel
    agent = make_agent(brand)
    task = TaskFactory(gig=GigFactory(brand=brand))
    _received(layer, name)
    task_claim(agent=agent, task_id=task.pk)
    events = [item for m in _received(layer, name) for item in m["items"]]
    withdraw = next(item for item in events if item["event"]["type"] == "withdraw")
    assert withdraw["topics"] == [live.pool_topic(brand.pk)]
    assert withdraw["event"] == {"type": "withdraw", "task_id": task.pk, "reason": "taken"}
