"""Concurrent claims against one brand's balance, each on its own connection:
however they interleave, they never reserve more than the balance holds.

On SQLite every write transaction is exclusive, so nothing can interleave;
the race is real only on PostgreSQL, where the lock on the brand's balance
row decides.
"""

import threading

import pytest
from django.db import connection

from gigs.dispatch import task_claim, task_claim_next
from gigs.models import Task, TaskStatus, WorkSession
from marketplace.errors import Conflict
from payouts.models import LedgerAccount, Purpose
from payouts.reservations import BrandCannotCover
from payouts.selectors import balance_mismatches
from tests.gigs.factories import GigFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent
from tests.payouts.factories import brand_fund

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real row locks need PostgreSQL"),
]

THREADS = 8
AGENTS = 8
COST = 300  # 250 per resolution + 20 % fee
COVERED = 5  # the balance pays for exactly this many claims
TASKS = 20


def _brand_accounts(brand) -> tuple[int, int]:
    rows = dict(
        LedgerAccount.objects.filter(brand=brand, currency="EUR").values_list(
            "purpose", "balance_minor"
        )
    )
    return rows.get(Purpose.BRAND_BALANCE, 0), rows.get(Purpose.BRAND_RESERVED, 0)


def _run(threads_target, args_for):
    start = threading.Barrier(THREADS)
    errors: list[str] = []
    threads = [
        threading.Thread(target=threads_target, args=(*args_for(n), start, errors))
        for n in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return errors


@pytest.fixture
def world(brand):
    gig = GigFactory(brand=brand, rate_minor=250, max_tasks_per_agent=TASKS, funded=False)
    brand_fund(brand, "EUR", COVERED * COST)
    TaskFactory.create_batch(TASKS, gig=gig)
    agents = [make_agent(brand) for _ in range(AGENTS)]
    return gig, agents


def _claim_next_loop(agent, results, start, errors):
    try:
        start.wait()
        while True:
            try:
                task = task_claim_next(agent=agent)
            except Conflict as exc:
                results.append(exc.code)
                continue
            if task is None:
                return
            results.append(task.pk)
    except Exception as exc:  # noqa: BLE001 - reported to the test thread, which fails on it
        errors.append(repr(exc))
    finally:
        connection.close()


def test_concurrent_claim_next_never_reserves_more_than_the_balance(brand, world):
    gig, agents = world
    results: list = []
    errors = _run(_claim_next_loop, lambda n: (agents[n % AGENTS], results))

    assert errors == []
    claimed = [r for r in results if isinstance(r, int)]
    assert len(claimed) == len(set(claimed)) == COVERED
    assert Task.objects.filter(gig=gig, status=TaskStatus.CLAIMED).count() == COVERED
    assert (
        sorted(
            WorkSession.objects.filter(ended_at__isnull=True).values_list(
                "reserved_minor", flat=True
            )
        )
        == [COST] * COVERED
    )
    assert _brand_accounts(brand) == (0, COVERED * COST)
    assert balance_mismatches() == []


def _claim_each_loop(agent, task_ids, results, start, errors):
    try:
        start.wait()
        for task_id in task_ids:
            try:
                task = task_claim(agent=agent, task_id=task_id)
            except Conflict as exc:
                results.append(exc.code)
            else:
                results.append(task.pk)
    except Exception as exc:  # noqa: BLE001
        errors.append(repr(exc))
    finally:
        connection.close()


def test_concurrent_claims_of_named_tasks_never_reserve_more_than_the_balance(brand, world):
    gig, agents = world
    task_ids = list(Task.objects.filter(gig=gig).order_by("pk").values_list("pk", flat=True))
    results: list = []
    # Every thread tries every task, in its own order: claims race for the
    # same rows and for the last of the balance at once.
    errors = _run(
        _claim_each_loop,
        lambda n: (agents[n % AGENTS], task_ids[n:] + task_ids[:n], results),
    )

    assert errors == []
    claimed = {r for r in results if isinstance(r, int)}
    assert len(claimed) == COVERED
    assert BrandCannotCover.code in results
    assert Task.objects.filter(gig=gig, status=TaskStatus.CLAIMED).count() == COVERED
    assert _brand_accounts(brand) == (0, COVERED * COST)
    assert balance_mismatches() == []
