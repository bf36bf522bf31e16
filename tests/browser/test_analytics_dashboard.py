"""The brand dashboard in a real browser: a brand admin opens it for a week,
filters by language, and reads figures that equal what the raw event history
in the database says; then drills from the CSAT figure to the tasks behind it."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from analytics.rollup import rollup_pending
from gigs.models import Task, TaskEvent
from gigs.models import TaskEventKind as K
from tests.analytics.test_drilldown import END, START, build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    page.context.clear_cookies()
    page.context.add_cookies(
        [{"name": name, "value": client.cookies[name].value, "url": live_server.url}]
    )


def _from_the_database(brand, language: str) -> dict[str, str]:
    """The figures of the week, from raw events (not the roll-ups): tasks
    created, and CSAT of the tasks closed in the week (latest rating each)."""
    zone = ZoneInfo(brand.time_zone)
    start = datetime.combine(datetime.fromisoformat(START).date(), time.min, zone)
    end = datetime.combine(datetime.fromisoformat(END).date() + timedelta(days=1), time.min, zone)
    tasks = Task.objects.filter(brand=brand, language=language)
    created = TaskEvent.objects.filter(
        task__in=tasks, kind=K.CREATED, occurred_at__gte=start, occurred_at__lt=end
    ).count()
    closed_in_week = TaskEvent.objects.filter(
        task__in=tasks,
        kind__in=[K.RESOLVED, K.ESCALATED, K.CANCELLED],
        occurred_at__gte=start,
        occurred_at__lt=end,
    ).values("task_id")
    scores = []
    for task_id in set(closed_in_week.values_list("task_id", flat=True)):
        rating = (
            TaskEvent.objects.filter(task_id=task_id, kind=K.RATED).order_by("-occurred_at").first()
        )
        if rating is not None:
            scores.append(rating.data["score"])
    satisfied = sum(1 for score in scores if score >= 4)
    return {
        "created": str(created),
        "csat_rate": f"{100 * satisfied / len(scores):.1f}%" if scores else "–",
        "ratings": len(scores),
    }


def _tile(page, metric: str):
    return page.locator(f'[data-metric="{metric}"] [data-value]')


def test_filter_by_language_and_drill_into_csat(page, live_server, brand, brand_admin, screenshot):
    build_world(brand)
    rollup_pending()
    _log_in(page, live_server, brand_admin)

    page.goto(f"/brands/{brand.slug}/analytics/?start={START}&end={END}")
    expect(page.locator("#analytics-filters")).to_be_visible()
    everything = _from_the_database(brand, "en")
    everything_de = _from_the_database(brand, "de")
    total = int(everything["created"]) + int(everything_de["created"])
    expect(_tile(page, "created")).to_have_text(str(total))

    # Filter by language through the form, as a person would.
    page.select_option("#analytics-filters select[name=language]", "de")
    page.click("#analytics-filters button[type=submit]")
    page.wait_for_url("**language=de**")
    expected = _from_the_database(brand, "de")
    expect(_tile(page, "created")).to_have_text(expected["created"])
    expect(_tile(page, "csat_rate")).to_have_text(expected["csat_rate"])
    screenshot("analytics-dashboard-de")

    # The CSAT figure links to the rated tasks behind it, filters kept.
    page.locator('[data-metric="csat_rate"] small a').click()
    page.wait_for_url("**metric=rated**")
    assert "language=de" in page.url
    expect(page.locator("table tbody tr")).to_have_count(expected["ratings"])
    screenshot("analytics-drilldown-rated")
