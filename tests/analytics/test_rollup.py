"""The hourly roll-up against hand-built histories with known answers (docs/metrics.md)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from analytics.models import MetricHour
from analytics.rollup import hour_ranges, local_hour, rollup_pending, rollup_recompute
from analytics.selectors import figures, figures_by, metric_hours
from gigs.models import PayModel
from gigs.models import TaskEventKind as K
from payouts.models import Earning
from tests.analytics.histories import task_with_history
from tests.gigs.factories import GigFactory
from tests.marketplace.factories import AgentUserFactory

BERLIN = ZoneInfo("Europe/Berlin")
# 01:30 in Berlin on the night clocks go forward (02:00 CET → 03:00 CEST).
T0 = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
DAY = 24 * 3600


@pytest.fixture
def world(brand):
    brand.time_zone = "Europe/Berlin"
    brand.save(update_fields=["time_zone"])
    gig = GigFactory(brand=brand, pay_model=PayModel.PER_RESOLUTION, rate_minor=300)
    return brand, gig, AgentUserFactory(), AgentUserFactory()


def rolled_up(brand, start=T0 - timedelta(days=1), end=T0 + timedelta(days=3)):
    rollup_recompute(brand, start, end)
    return metric_hours(brand_ids=[brand.pk], start=start, end=end)


def test_answered_and_rated(world):
    brand, gig, a1, _ = world
    task = task_with_history(
        gig,
        T0,
        (0, K.CREATED),
        (0, K.CUSTOMER_MESSAGE),
        (60, K.CLAIMED, a1),
        (120, K.AGENT_MESSAGE, a1),
        (300, K.CUSTOMER_MESSAGE),
        (360, K.AGENT_MESSAGE, a1),
        (600, K.RESOLVED, a1),
        (700, K.RATED, None, {"score": 5}),
    )
    total = figures(rolled_up(brand))
    earning = Earning.objects.get(work_record__task=task)
    assert total.created == 1
    assert total.wait_avg == 60
    assert total.first_response_avg == 120
    assert total.next_response_avg == 60
    assert total.back_and_forths_avg == 2
    assert (total.resolution_rate, total.fcr_rate, total.csat_rate, total.csat_mean) == (
        100.0,
        100.0,
        100.0,
        5,
    )
    assert total.handle_avg == 540
    assert total.handle_distribution[2] == ("5–10 min", 1)
    assert total.money["EUR"]["spend_minor"] == earning.amount_minor + earning.fee_minor
    assert total.cost_per_resolution("EUR") == earning.amount_minor + earning.fee_minor
    assert total.earnings_per_engaged_hour("EUR") == pytest.approx(
        earning.amount_minor * 3600 / 540
    )


def test_a_release_and_reclaim_splits_the_work_but_counts_one_close(world):
    brand, gig, a1, a2 = world
    task_with_history(
        gig,
        T0,
        (0, K.CREATED),
        (0, K.CUSTOMER_MESSAGE),
        (100, K.CLAIMED, a1),
        (200, K.RELEASED, a1, {"reason": "released"}),
        (200, K.QUEUED),
        (500, K.CLAIMED, a2),
        (550, K.AGENT_MESSAGE, a2),
        (900, K.RESOLVED, a2),
    )
    rows = rolled_up(brand)
    total = figures(rows)
    assert (total.closed, total.resolved, total.first_contact_resolutions) == (1, 1, 0)
    assert total.wait_avg == 100
    assert total.total_wait_avg == 400
    assert total.handle_avg == 100 + 400
    per_agent = figures_by(rows, "agent_id")
    # Wait belongs to the first claimer, the close and the reply to the second.
    assert per_agent[a1.pk].waits == 1 and per_agent[a1.pk].closed == 0
    assert per_agent[a1.pk].sessions == 1 and per_agent[a1.pk].billable_seconds == 100
    assert per_agent[a2.pk].closed == 1 and per_agent[a2.pk].first_responses == 1
    # Per resolution: only the resolving session earned.
    assert per_agent[a1.pk].money["EUR"]["earnings_minor"] == 0
    assert per_agent[a2.pk].money["EUR"]["earnings_minor"] == 300


def test_a_lapsed_reservation_is_wait_and_a_missed_offer(world):
    brand, gig, a1, a2 = world
    task_with_history(
        gig,
        T0,
        (0, K.CREATED),
        (10, K.OFFERED, a1),
        (70, K.RESERVATION_LAPSED, a1),
        (70, K.QUEUED),
        (100, K.CLAIMED, a2),
        (130, K.AGENT_MESSAGE, a2),
        (400, K.RESOLVED, a2),
    )
    rows = rolled_up(brand)
    per_agent = figures_by(rows, "agent_id")
    assert figures(rows).wait_avg == 100
    assert figures(rows).total_wait_avg == 100
    assert per_agent[a1.pk].offers_missed == 1
    assert figures(rows).first_contact_resolutions == 1


def test_an_escalation_closes_without_resolving(world):
    brand, gig, a1, _ = world
    task_with_history(
        gig,
        T0,
        (0, K.CREATED),
        (0, K.CUSTOMER_MESSAGE),
        (30, K.CLAIMED, a1),
        (60, K.AGENT_MESSAGE, a1),
        (300, K.ESCALATED, a1),
    )
    total = figures(rolled_up(brand))
    assert (total.closed, total.escalated, total.resolved) == (1, 1, 0)
    assert total.resolution_rate == 0.0
    assert total.escalation_rate == 100.0
    assert total.csat_rate is None and total.fcr_rate is None
    # Per resolution: an escalation earns nothing and costs nothing.
    assert total.money["EUR"]["spend_minor"] == 0


def test_a_late_rating_lands_in_the_close_hour_on_the_next_pass(world):
    brand, gig, a1, _ = world
    task = task_with_history(
        gig,
        T0,
        (0, K.CREATED),
        (0, K.CUSTOMER_MESSAGE),
        (30, K.CLAIMED, a1),
        (60, K.AGENT_MESSAGE, a1),
        (600, K.RESOLVED, a1),
    )
    rollup_pending()
    close_hour = local_hour(T0 + timedelta(seconds=600), BERLIN)
    assert MetricHour.objects.get(brand=brand, hour=close_hour, agent=a1).rated == 0

    from gigs.events import task_event_record

    task_event_record(task, K.RATED, T0 + timedelta(seconds=DAY + 600), score=2)
    run = rollup_pending()
    bucket = MetricHour.objects.get(brand=brand, hour=close_hour, agent=a1)
    assert (bucket.rated, bucket.satisfied, bucket.csat_points) == (1, 0, 2)
    assert run.hours >= 1
    # Nothing lands in the hour the rating came.
    rating_hour = local_hour(T0 + timedelta(seconds=DAY + 600), BERLIN)
    assert not MetricHour.objects.filter(brand=brand, hour=rating_hour).exists()


def test_a_reopen_moves_the_close_and_is_never_first_contact(world):
    brand, gig, a1, a2 = world
    task_with_history(
        gig,
        T0,
        (0, K.CREATED),
        (0, K.CUSTOMER_MESSAGE),
        (60, K.CLAIMED, a1),
        (120, K.AGENT_MESSAGE, a1),
        (600, K.RESOLVED, a1),
        (2 * 3600, K.REOPENED),
        (2 * 3600 + 60, K.CLAIMED, a2),
        (2 * 3600 + 120, K.AGENT_MESSAGE, a2),
        (3 * 3600, K.RESOLVED, a2),
    )
    rows = rolled_up(brand)
    total = figures(rows)
    assert (total.closed, total.resolved, total.first_contact_resolutions) == (1, 1, 0)
    first_close_hour = local_hour(T0 + timedelta(seconds=600), BERLIN)
    assert sum(row.closed for row in rows.filter(hour=first_close_hour)) == 0
    assert figures_by(rows, "agent_id")[a2.pk].closed == 1


def test_sla_breaches_are_counted_at_the_close_for_the_agent_holding_the_task(world):
    brand, gig, a1, _ = world
    gig.sla_first_response_seconds = 60
    gig.sla_business_hours = False
    gig.save()
    task_with_history(
        gig,
        T0,
        (0, K.CREATED),
        (0, K.CUSTOMER_MESSAGE),
        (30, K.CLAIMED, a1),
        (200, K.AGENT_MESSAGE, a1),
        (600, K.RESOLVED, a1),
    )
    task_with_history(
        gig,
        T0,
        (0, K.CREATED),
        (10, K.CLAIMED, a1),
        (20, K.AGENT_MESSAGE, a1),
        (600, K.RESOLVED, a1),
    )
    rows = rolled_up(brand)
    total = figures(rows)
    assert (total.sla_checks, total.sla_breaches, total.sla_hit_rate) == (2, 1, 50.0)
    assert figures_by(rows, "agent_id")[a1.pk].sla_breaches == 1


def test_hours_are_cut_in_the_brand_zone_across_dst():
    # Clocks go forward at 01:00 UTC: 01:30 CET and 03:30 CEST are an hour apart.
    assert local_hour(T0, BERLIN) == datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    assert local_hour(T0 + timedelta(hours=1), BERLIN) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # Clocks go back on 25 October: local 02:30 happens twice, in two buckets.
    first, second = (
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    )
    assert local_hour(first, BERLIN) != local_hour(second, BERLIN)
    assert local_hour(second, BERLIN) == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    # Half-hour zones: local hours start at :30 UTC.
    kolkata = ZoneInfo("Asia/Kolkata")
    assert local_hour(datetime(2026, 1, 1, 10, 10, tzinfo=UTC), kolkata).minute == 30


def test_recomputing_a_range_twice_leaves_the_same_rows(world):
    brand, gig, a1, _ = world
    task_with_history(
        gig,
        T0,
        (0, K.CREATED),
        (30, K.CLAIMED, a1),
        (90, K.AGENT_MESSAGE, a1),
        (300, K.RESOLVED, a1),
    )

    def snapshot():
        return sorted(
            MetricHour.objects.filter(brand=brand).values_list(
                "hour", "agent_id", "created", "closed"
            )
        )

    rolled_up(brand)
    first = snapshot()
    rolled_up(brand)
    assert snapshot() == first and first


def test_hour_ranges_merge_close_hours():
    h = datetime(2026, 1, 1, tzinfo=UTC)
    hours = [h, h + timedelta(hours=1), h + timedelta(hours=3), h + timedelta(hours=10)]
    assert hour_ranges(hours) == [
        (h, h + timedelta(hours=4)),
        (h + timedelta(hours=10), h + timedelta(hours=11)),
    ]


def test_roll_ups_stay_within_their_brand(world, other_brand):
    brand, gig, a1, _ = world
    other_gig = GigFactory(brand=other_brand)
    task_with_history(gig, T0, (0, K.CREATED), (30, K.CLAIMED, a1), (300, K.RESOLVED, a1))
    task_with_history(other_gig, T0, (0, K.CREATED))
    rolled_up(brand)
    rolled_up(other_brand)
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=1)
    assert figures(metric_hours(brand_ids=[brand.pk], start=start, end=end)).created == 1
    assert figures(metric_hours(brand_ids=[other_brand.pk], start=start, end=end)).closed == 0


def test_new_sla_targets_recompute_past_figures(world, django_capture_on_commit_callbacks):
    from gigs.services import gig_update

    brand, gig, a1, _ = world
    task_with_history(
        gig,
        T0,
        (0, K.CREATED),
        (30, K.CLAIMED, a1),
        (200, K.AGENT_MESSAGE, a1),
        (600, K.RESOLVED, a1),
    )
    gig.sla_business_hours = False
    gig.save()
    rolled_up(brand)
    assert figures(MetricHour.objects.filter(brand=brand)).sla_breaches == 0
    with django_capture_on_commit_callbacks(execute=True):
        gig_update(gig=gig, actor=None, sla_first_response_seconds=60)
    assert figures(MetricHour.objects.filter(brand=brand)).sla_breaches == 1
