"""Many claimers at once, each on its own database connection: one holder per task, limits hold.

Every thread walks the agents in the same order, so several threads claim for
the same agent at the same moment: that is the race the hold limit must survive.
On SQLite the claims serialise on the write lock; on PostgreSQL they really
overlap, and the row locks decide.
"""

import random
import threading
from collections import Counter

import pytest
from django.db import connection

from gigs.dispatch import task_claim
from gigs.eligibility import offerable_tasks_for_agent
from gigs.models import Task, TaskStatus, WorkSession
from marketplace.errors import Conflict
from tests.gigs.factories import GigFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent

THREADS = 8
AGENTS = 5
TASKS_PER_GIG = 15
LIMIT = 2
# More tasks than the agents may hold (5 agents x 2 per gig < 15 per gig):
# every agent must end exactly at its limit, and the rest stay queued.
CAPACITY_PER_GIG = AGENTS * LIMIT


def _claimer(agents, seed, successes, conflicts, errors, start):
    rng = random.Random(seed)
    try:
        start.wait()
        while True:
            attempted = False
            for agent in agents:
                open_ids = list(offerable_tasks_for_agent(agent).values_list("pk", flat=True)[:3])
                if not open_ids:
                    continue
                attempted = True
                try:
                    task = task_claim(agent=agent, task_id=rng.choice(open_ids))
                except Conflict:
                    conflicts.append(agent.pk)
                else:
                    successes.append((task.pk, agent.pk))
            if not attempted:
                return
    except Exception as exc:  # noqa: BLE001 - reported to the test thread, which fails on it
        errors.append(repr(exc))
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_give_every_task_exactly_one_holder_within_limits(brand):
    gigs = [GigFactory(brand=brand, max_tasks_per_agent=LIMIT) for _ in range(2)]
    for gig in gigs:
        TaskFactory.create_batch(TASKS_PER_GIG, gig=gig)
    agents = [make_agent(brand) for _ in range(AGENTS)]

    successes, conflicts, errors = [], [], []
    start = threading.Barrier(THREADS)
    threads = [
        threading.Thread(target=_claimer, args=(agents, seed, successes, conflicts, errors, start))
        for seed in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    tasks = list(Task.objects.filter(gig__in=gigs).values("pk", "status", "holder_id", "gig_id"))
    claimed = [t for t in tasks if t["status"] == TaskStatus.CLAIMED]
    assert len(claimed) == CAPACITY_PER_GIG * len(gigs)
    assert all(t["holder_id"] for t in claimed)
    assert all(
        t["status"] == TaskStatus.QUEUED and not t["holder_id"] for t in tasks if t not in claimed
    )
    # No double claims. A thread may re-claim a task another thread just won
    # for the same agent, which returns it unchanged (a retry), so successes
    # are compared as distinct (task, agent) pairs; the audit log counts the
    # claims that really changed a row.
    won = set(successes)
    assert len(won) == len({pk for pk, _ in won}) == len(claimed)
    assert dict(won) == {t["pk"]: t["holder_id"] for t in claimed}
    # One open work session per claimed task, each the holder's.
    sessions = dict(
        WorkSession.objects.filter(ended_at__isnull=True).values_list("task_id", "agent_id")
    )
    assert sessions == {t["pk"]: t["holder_id"] for t in claimed}
    # Every agent reached its limit in every gig, and none went past it.
    per_agent_and_gig = Counter((t["holder_id"], t["gig_id"]) for t in claimed)
    assert len(per_agent_and_gig) == AGENTS * len(gigs)
    assert set(per_agent_and_gig.values()) == {LIMIT}
