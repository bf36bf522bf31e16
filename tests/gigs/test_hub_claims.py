"""The hub's part in claims: one database attempt per task per process at a
time, and claims refused at once for a task this process just saw taken.

The database decides every claim the hub lets through; these tests pin the
hub's own shortcuts and, above all, that they never refuse a claim the
database would have granted.
"""

import asyncio

import pytest
from channels.db import database_sync_to_async

from gigs import hub as hub_module
from gigs.hub import Hub, TaskTakenHere
from gigs.models import Task, TaskStatus
from marketplace.errors import Conflict
from tests.gigs.factories import TaskFactory
from tests.gigs.test_consumers import (
    _private_channel_layer,  # noqa: F401  (autouse fixture)
    new_agent,
    open_agent_socket,
)

pytestmark = pytest.mark.asyncio


class Attempts:
    """A stand-in database claim: counts calls, wins or fails as told."""

    def __init__(self, *, fail_with: Exception | None = None, delay: float = 0.05) -> None:
        self.calls = 0
        self.fail_with = fail_with
        self.delay = delay

    def __call__(self):
        async def attempt():
            self.calls += 1
            await asyncio.sleep(self.delay)
            if self.fail_with is not None:
                raise self.fail_with
            return {"won": True}

        return attempt


async def _hub() -> Hub:
    return Hub(None)


async def test_concurrent_claims_of_one_task_make_one_attempt_and_the_others_are_refused():
    hub = await _hub()
    attempts = Attempts()
    results = await asyncio.gather(
        hub.claim(7, 1, attempts()),
        hub.claim(7, 2, attempts()),
        hub.claim(7, 3, attempts()),
        return_exceptions=True,
    )
    assert attempts.calls == 1
    assert results[0] == {"won": True}
    assert all(isinstance(r, TaskTakenHere) for r in results[1:])


async def test_when_the_first_claim_fails_for_its_agent_the_next_one_tries_for_itself():
    hub = await _hub()
    refused = Attempts(fail_with=Conflict("You are at your limit.", code="at_limit"))
    granted = Attempts()
    first, second = await asyncio.gather(
        hub.claim(7, 1, refused()), hub.claim(7, 2, granted()), return_exceptions=True
    )
    assert isinstance(first, Conflict)
    assert second == {"won": True}
    assert (refused.calls, granted.calls) == (1, 1)


async def test_the_winner_retrying_its_claim_still_reaches_the_database():
    hub = await _hub()
    attempts = Attempts(delay=0)
    await hub.claim(7, 1, attempts())
    assert await hub.claim(7, 1, attempts()) == {"won": True}
    assert attempts.calls == 2


async def test_a_withdrawal_seen_by_the_hub_refuses_later_claims_without_an_attempt():
    hub = await _hub()
    await hub._deliver(
        [{"topics": [], "event": {"type": "withdraw", "task_id": 7, "reason": "taken"}}]
    )
    attempts = Attempts(delay=0)
    with pytest.raises(TaskTakenHere):
        await hub.claim(7, 2, attempts())
    assert attempts.calls == 0
    # Other tasks, and other reasons for a withdrawal, are left to the database.
    await hub._deliver(
        [{"topics": [], "event": {"type": "withdraw", "task_id": 8, "reason": "rejected"}}]
    )
    assert await hub.claim(8, 2, attempts()) == {"won": True}


async def test_a_task_offered_again_is_claimable_again_at_once():
    hub = await _hub()
    await hub._deliver(
        [{"topics": [], "event": {"type": "withdraw", "task_id": 7, "reason": "taken"}}]
    )
    await hub._deliver([{"topics": [], "event": {"type": "offer", "task": {"id": 7}}}])
    assert await hub.claim(7, 2, Attempts(delay=0)()) == {"won": True}


async def test_the_memory_of_a_taken_task_is_short(monkeypatch):
    hub = await _hub()
    await hub._deliver(
        [{"topics": [], "event": {"type": "withdraw", "task_id": 7, "reason": "taken"}}]
    )
    monkeypatch.setattr(hub_module, "TAKEN_MEMORY_SECONDS", 0.0)
    await asyncio.sleep(0.01)
    assert await hub.claim(7, 2, Attempts(delay=0)()) == {"won": True}


@pytest.mark.django_db(transaction=True)
async def test_agents_racing_on_one_process_get_one_winner_and_clear_refusals(brand, gig):
    agents = [await new_agent(brand) for _ in range(4)]
    task = await database_sync_to_async(TaskFactory)(gig=gig)
    sockets = [(await open_agent_socket(agent))[0] for agent in agents]

    for n, socket in enumerate(sockets):
        await socket.send_json_to({"type": "claim", "task_id": task.pk, "ref": f"r{n}"})
    answers = []
    for socket in sockets:
        while True:
            event = await socket.receive_json_from(timeout=5)
            if event["type"] in ("claim.result", "error"):
                answers.append(event)
                break

    winners = [a for a in answers if a["type"] == "claim.result"]
    losers = [a for a in answers if a["type"] == "error"]
    assert len(winners) == 1
    assert {a["code"] for a in losers} == {"task_taken"}
    await database_sync_to_async(task.refresh_from_db)()
    assert task.status == TaskStatus.CLAIMED
    winner_agent = agents[int(winners[0]["ref"][1:])]
    assert task.holder_id == winner_agent.pk
    assert await database_sync_to_async(Task.objects.filter(holder__isnull=False).count)() == 1
    for socket in sockets:
        await socket.disconnect()
