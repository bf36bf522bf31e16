"""Live figures for the brand console and the staff console: counts, expiry on read, isolation."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from brands.models import PoolMembership, PoolStatus
from gigs.eligibility import PRESENCE_TIMEOUT
from gigs.models import (
    AgentPresence,
    DispatchMode,
    GigStatus,
    PresenceStatus,
    Task,
    TaskStatus,
)
from gigs.selectors import brand_live_stats, platform_live_stats
from tests.gigs.factories import GigFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent

pytestmark = pytest.mark.django_db


def task_in(gig, status=TaskStatus.QUEUED, *, age=timedelta(minutes=1), **fields) -> Task:
    """A task of ``gig`` in ``status`` that arrived ``age`` ago."""
    task = TaskFactory(gig=gig, status=status, **fields)
    Task.objects.filter(pk=task.pk).update(created_at=timezone.now() - age)
    return task


def claimed_by(gig, agent, *, lease=timedelta(minutes=5)) -> Task:
    now = timezone.now()
    return task_in(
        gig,
        TaskStatus.CLAIMED,
        holder=agent,
        claimed_at=now,
        lease_expires_at=now + lease,
    )


def start_of_brand_day(brand):
    local = timezone.localtime(timezone.now(), timezone=ZoneInfo(brand.time_zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def set_presence(agent, status, *, heartbeat_ago=timedelta(seconds=5)):
    AgentPresence.objects.update_or_create(
        agent=agent,
        defaults={"status": status, "last_heartbeat_at": timezone.now() - heartbeat_ago},
    )


def gig_row(stats, gig) -> dict:
    return next(row for row in stats["gigs"] if row["gig"].pk == gig.pk)


@pytest.fixture
def open_gig(brand):
    return GigFactory(brand=brand, title="Orders (EN)", dispatch_mode=DispatchMode.OPEN)


@pytest.fixture
def directed_gig(brand):
    return GigFactory(brand=brand, title="Refunds (EN)", dispatch_mode=DispatchMode.DIRECTED)


@pytest.fixture
def paused_gig(brand):
    return GigFactory(brand=brand, title="Warranty (EN)", status=GigStatus.PAUSED)


# --- Queue depth and oldest wait -----------------------------------------------------


def test_queue_depth_counts_queued_and_offered_tasks_of_active_gigs(
    brand, open_gig, directed_gig, paused_gig
):
    task_in(open_gig)
    task_in(open_gig)
    agent = make_agent(brand)
    task_in(
        directed_gig,
        TaskStatus.OFFERED,
        reserved_for=agent,
        reservation_expires_at=timezone.now() + timedelta(seconds=30),
    )
    task_in(paused_gig)
    task_in(open_gig, TaskStatus.CANCELLED)
    task_in(open_gig, TaskStatus.ESCALATED)

    stats = brand_live_stats(brand=brand)

    assert stats["queue_depth"] == 3
    assert stats["held_back"] == 1
    assert (
        gig_row(stats, open_gig)["queue_depth"],
        gig_row(stats, directed_gig)["queue_depth"],
    ) == (
        2,
        1,
    )
    assert (gig_row(stats, paused_gig)["queue_depth"], gig_row(stats, paused_gig)["held_back"]) == (
        0,
        1,
    )


def test_oldest_wait_is_the_age_of_the_oldest_waiting_task(brand, open_gig, directed_gig):
    task_in(open_gig, age=timedelta(minutes=3))
    task_in(directed_gig, age=timedelta(minutes=12))
    # Finished and paused work does not wait for an agent.
    task_in(open_gig, TaskStatus.RESOLVED, age=timedelta(hours=5), resolved_at=timezone.now())

    stats = brand_live_stats(brand=brand)

    assert 12 * 60 <= stats["oldest_wait_seconds"] < 12 * 60 + 30
    assert 3 * 60 <= gig_row(stats, open_gig)["oldest_wait_seconds"] < 3 * 60 + 30


def test_oldest_wait_ignores_paused_gigs(brand, open_gig, paused_gig):
    task_in(open_gig, age=timedelta(minutes=2))
    task_in(paused_gig, age=timedelta(hours=3))

    stats = brand_live_stats(brand=brand)

    assert stats["oldest_wait_seconds"] < 3 * 60
    assert gig_row(stats, paused_gig)["oldest_wait_seconds"] is None


def test_nothing_waiting_means_no_oldest_wait(brand, open_gig):
    stats = brand_live_stats(brand=brand)
    assert (stats["queue_depth"], stats["oldest_wait_seconds"]) == (0, None)
    assert gig_row(stats, open_gig)["queue_depth"] == 0


# --- Agents ------------------------------------------------------------------------------


def test_agents_are_approved_pool_members_with_a_live_heartbeat(brand, other_brand):
    make_agent(brand)
    make_agent(brand)
    make_agent(brand, presence=PresenceStatus.PAUSED)
    away = make_agent(brand)
    set_presence(away, PresenceStatus.AWAY)
    # Not counted: a closed tab, an applicant, another brand's agent, an offline agent.
    silent = make_agent(brand)
    set_presence(
        silent, PresenceStatus.ONLINE, heartbeat_ago=PRESENCE_TIMEOUT + timedelta(seconds=1)
    )
    make_agent(brand, pool_status=PoolStatus.APPLIED)
    make_agent(other_brand)
    make_agent(brand, presence=PresenceStatus.OFFLINE)

    stats = brand_live_stats(brand=brand)

    assert (stats["agents_online"], stats["agents_paused"], stats["agents_away"]) == (2, 1, 1)


def test_gig_row_counts_online_agents_who_qualify_for_its_tasks(brand, open_gig):
    german_gig = GigFactory(brand=brand, language="de")
    make_agent(brand)
    busy = make_agent(brand)
    claimed_by(open_gig, busy)  # at the hold limit of 1: busy, still online
    make_agent(brand, language="de")
    make_agent(brand, presence=PresenceStatus.PAUSED)

    stats = brand_live_stats(brand=brand)

    assert stats["agents_online"] == 3
    assert gig_row(stats, open_gig)["agents_online"] == 2
    assert gig_row(stats, german_gig)["agents_online"] == 1


# --- In progress, resolved today, expiry -------------------------------------------------


def test_in_progress_counts_claimed_tasks(brand, open_gig, directed_gig):
    claimed_by(open_gig, make_agent(brand))
    claimed_by(directed_gig, make_agent(brand))
    task_in(open_gig)

    stats = brand_live_stats(brand=brand)

    assert stats["in_progress"] == 2
    assert gig_row(stats, open_gig)["in_progress"] == 1


def test_resolved_today_counts_from_midnight_in_the_brands_time_zone(brand, open_gig):
    midnight = start_of_brand_day(brand)
    task_in(open_gig, TaskStatus.RESOLVED, resolved_at=timezone.now())
    task_in(open_gig, TaskStatus.RESOLVED, resolved_at=midnight)
    task_in(open_gig, TaskStatus.RESOLVED, resolved_at=midnight - timedelta(seconds=1))
    task_in(open_gig, TaskStatus.ESCALATED)

    stats = brand_live_stats(brand=brand)

    assert stats["resolved_today"] == 2
    assert gig_row(stats, open_gig)["resolved_today"] == 2


def test_a_task_whose_lease_ran_out_is_counted_back_in_the_queue(brand, open_gig):
    """Expiry is enforced on read: no timer has run, the figures are still right."""
    lapsed = claimed_by(open_gig, make_agent(brand), lease=timedelta(seconds=-1))

    stats = brand_live_stats(brand=brand)

    assert (stats["in_progress"], stats["queue_depth"]) == (0, 1)
    lapsed.refresh_from_db()
    assert (lapsed.status, lapsed.holder) == (TaskStatus.QUEUED, None)


# --- Gig rows --------------------------------------------------------------------------


def test_gig_rows_list_active_gigs_first_then_paused(brand, open_gig, paused_gig, directed_gig):
    task_in(directed_gig)

    rows = brand_live_stats(brand=brand)["gigs"]

    assert [row["gig"] for row in rows] == [directed_gig, open_gig, paused_gig]


def test_closed_gigs_show_only_while_they_still_have_work(brand):
    GigFactory(brand=brand, title="Done", status=GigStatus.CLOSED)
    winding_down = GigFactory(brand=brand, title="Winding down", status=GigStatus.CLOSED)
    claimed_by(winding_down, make_agent(brand))

    rows = brand_live_stats(brand=brand)["gigs"]

    assert [row["gig"].title for row in rows] == ["Winding down"]


def test_brand_totals_are_the_sum_of_the_gig_rows(brand, open_gig, directed_gig):
    for _ in range(3):
        task_in(open_gig)
    task_in(directed_gig)
    claimed_by(directed_gig, make_agent(brand))

    stats = brand_live_stats(brand=brand)

    for figure in ("queue_depth", "in_progress", "resolved_today"):
        assert stats[figure] == sum(row[figure] for row in stats["gigs"])


# --- Isolation and cost -------------------------------------------------------------------


def test_another_brands_work_and_agents_are_not_counted(brand, other_brand, open_gig, other_gig):
    task_in(other_gig)
    claimed_by(other_gig, make_agent(other_brand))
    make_agent(other_brand)

    stats = brand_live_stats(brand=brand)

    assert (stats["queue_depth"], stats["in_progress"], stats["agents_online"]) == (0, 0, 0)
    assert [row["gig"] for row in stats["gigs"]] == [open_gig]


def _queries(func) -> int:
    with CaptureQueriesContext(connection) as captured:
        func()
    return len(captured)


def test_brand_figures_take_the_same_few_queries_however_many_gigs(brand, open_gig):
    task_in(open_gig)
    make_agent(brand)
    few = _queries(lambda: brand_live_stats(brand=brand))
    for n in range(6):
        gig = GigFactory(brand=brand, title=f"Gig {n}")
        task_in(gig)
        claimed_by(gig, make_agent(brand))

    many = _queries(lambda: brand_live_stats(brand=brand))

    assert many == few <= 6


# --- Platform -----------------------------------------------------------------------------


def test_platform_rows_cover_every_brand_with_its_own_figures(
    brand, other_brand, open_gig, other_gig
):
    task_in(open_gig)
    task_in(other_gig)
    task_in(other_gig, age=timedelta(minutes=30))
    claimed_by(other_gig, make_agent(other_brand))
    make_agent(brand)

    stats = platform_live_stats()

    rows = {row["brand"].slug: row for row in stats["brands"]}
    assert set(rows) == {brand.slug, other_brand.slug}
    assert (rows[brand.slug]["queue_depth"], rows[brand.slug]["agents_online"]) == (1, 1)
    assert (rows[other_brand.slug]["queue_depth"], rows[other_brand.slug]["in_progress"]) == (2, 1)
    # Busiest first.
    assert [row["brand"] for row in stats["brands"]] == [other_brand, brand]


def test_platform_totals_add_up_and_count_each_agent_once(brand, other_brand, open_gig, other_gig):
    task_in(open_gig, age=timedelta(minutes=40))
    task_in(other_gig)
    both = make_agent(brand)
    PoolMembership.objects.create(brand=other_brand, agent=both, status=PoolStatus.APPROVED)
    make_agent(other_brand, presence=PresenceStatus.PAUSED)

    stats = platform_live_stats()

    totals = stats["totals"]
    assert (totals["brands"], totals["queue_depth"]) == (2, 2)
    assert 40 * 60 <= totals["oldest_wait_seconds"] < 40 * 60 + 30
    assert (totals["agents_online"], totals["agents_paused"]) == (1, 1)
    assert sum(row["agents_online"] for row in stats["brands"]) == 2


def test_platform_resolved_today_uses_each_brands_own_midnight(brand, other_brand):
    brand.time_zone = "Pacific/Kiritimati"  # UTC+14
    brand.save()
    other_brand.time_zone = "Pacific/Pago_Pago"  # UTC-11
    other_brand.save()
    for each in (brand, other_brand):
        gig = GigFactory(brand=each)
        midnight = start_of_brand_day(each)
        task_in(gig, TaskStatus.RESOLVED, resolved_at=midnight + timedelta(seconds=1))
        task_in(gig, TaskStatus.RESOLVED, resolved_at=midnight - timedelta(seconds=1))

    rows = {row["brand"].slug: row for row in platform_live_stats()["brands"]}

    assert (rows[brand.slug]["resolved_today"], rows[other_brand.slug]["resolved_today"]) == (1, 1)


def test_platform_figures_take_the_same_few_queries_however_many_brands(brand, open_gig):
    task_in(open_gig)
    few = _queries(platform_live_stats)
    for n in range(4):
        gig = GigFactory(title=f"Gig {n}")
        task_in(gig)
        make_agent(gig.brand)

    many = _queries(platform_live_stats)

    assert many == few <= 6


def test_platform_figures_with_no_brands_are_empty(db):
    stats = platform_live_stats()
    assert stats["brands"] == []
    assert (stats["totals"]["queue_depth"], stats["totals"]["oldest_wait_seconds"]) == (0, None)
