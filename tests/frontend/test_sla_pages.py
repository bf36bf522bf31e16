"""The SLA report, its CSV, the live view's at-risk list and the gig's SLA settings."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from brands.selectors import calendar_for
from gigs.models import Gig, Task, TaskEvent, TaskStatus
from gigs.models import TaskEventKind as K
from gigs.sla_selectors import sla_checks, sla_tasks
from tests.gigs.factories import GigFactory, TaskFactory
from tests.marketplace.factories import AgentProfileFactory

NOW = timezone.now()
BASE = NOW - timedelta(days=2)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def report_url(brand, **params) -> str:
    url = reverse("frontend:brand_sla_report", args=[brand.slug])
    if params:
        url += "?" + "&".join(f"{key}={value}" for key, value in params.items())
    return url


def export_url(brand, **params) -> str:
    return report_url(brand, **params).replace("/sla/", "/sla/export.csv", 1)


def make_task(gig, created_at, steps=(), *, status=TaskStatus.QUEUED, subject=None) -> Task:
    """A task of ``gig`` created at ``created_at``, with a "created" event and
    ``(seconds after creation, kind[, agent])`` events."""
    task = TaskFactory(gig=gig, status=status, **({"subject": subject} if subject else {}))
    closed_at = None
    events = [
        TaskEvent(task=task, brand=gig.brand, gig=gig, kind=K.CREATED, occurred_at=created_at)
    ]
    for seconds, kind, *agent in steps:
        moment = created_at + timedelta(seconds=seconds)
        events.append(
            TaskEvent(
                task=task,
                brand=gig.brand,
                gig=gig,
                kind=kind,
                occurred_at=moment,
                agent=agent[0] if agent else None,
            )
        )
        if kind in (K.RESOLVED, K.ESCALATED, K.CANCELLED):
            closed_at = moment
    TaskEvent.objects.bulk_create(events)
    Task.objects.filter(pk=task.pk).update(created_at=created_at, closed_at=closed_at)
    return task


@pytest.fixture
def agents(db):
    return (
        AgentProfileFactory(display_name="Ana").user,
        AgentProfileFactory(display_name="Ben").user,
    )


@pytest.fixture
def sla_gig(brand):
    return GigFactory(
        brand=brand,
        title="Returns (EN)",
        sla_first_response_seconds=300,
        sla_resolution_seconds=3600,
        sla_business_hours=False,
    )


@pytest.fixture
def chat_gig(brand):
    return GigFactory(
        brand=brand, title="Chat (EN)", sla_first_response_seconds=300, sla_business_hours=False
    )


@pytest.fixture
def world(brand, sla_gig, chat_gig, agents, other_gig):
    """Within the last 7 days: Ana meets both targets of one task; Ben misses
    both of another (reply 100 s late, resolution 1400 s late); a chat task
    waits unanswered in the queue past its target. Older and other-brand
    breaches must not show."""
    ana, ben = agents
    met = make_task(
        sla_gig,
        BASE,
        [(10, K.CLAIMED, ana), (100, K.AGENT_MESSAGE, ana), (1000, K.RESOLVED, ana)],
        status=TaskStatus.RESOLVED,
        subject="Refund for order 1",
    )
    late = make_task(
        sla_gig,
        BASE + timedelta(hours=1),
        [(60, K.CLAIMED, ben), (400, K.AGENT_MESSAGE, ben), (5000, K.RESOLVED, ben)],
        status=TaskStatus.RESOLVED,
        subject="Refund for order 2",
    )
    waiting = make_task(chat_gig, NOW - timedelta(days=3), subject="Where is my parcel?")
    make_task(sla_gig, NOW - timedelta(days=30), subject="An old breach")
    other_gig.sla_business_hours = False
    other_gig.save()
    make_task(other_gig, BASE, subject="Borealis secret")
    return {"met": met, "late": late, "waiting": waiting}


def figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert match, f"no {name} figure"
    return match.group(1).strip()


def table_row(html: str, attribute: str, key) -> list[str]:
    match = re.search(rf'<tr data-{attribute}="{key}">(.*?)</tr>', html, re.S)
    assert match, f"no row {attribute}={key}"
    return cells(match.group(1))


def cells(row_html: str) -> list[str]:
    return [
        unescape(re.sub(r"<[^>]+>", "", cell)).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row_html, re.S)
    ]


def breach_rows(html: str) -> list[list[str]]:
    return [cells(row) for row in re.findall(r'<tr data-breach="\d+">(.*?)</tr>', html, re.S)]


# --- The report ---------------------------------------------------------------------------


def test_report_shows_totals_per_gig_and_per_agent(admin_client, world, sla_gig, chat_gig, agents):
    response = admin_client.get(report_url(sla_gig.brand))
    assert response.status_code == 200
    html = response.content.decode()
    # 4 checks on the refund gig (2 met, 2 breached), 1 breach on the chat gig.
    assert figure(html, "decided") == "5"
    assert figure(html, "breached") == "3"
    assert figure(html, "breach_rate") == "60.0%"
    assert table_row(html, "gig", sla_gig.pk) == ["Returns (EN)", "4", "2", "2", "50.0%", "0"]
    assert table_row(html, "gig", chat_gig.pk) == ["Chat (EN)", "1", "0", "1", "100.0%", "0"]
    ana, ben = agents
    assert table_row(html, "agent", ana.pk) == ["Ana", "2", "2", "0", "0.0%"]
    assert table_row(html, "agent", ben.pk) == ["Ben", "2", "0", "2", "100.0%"]
    assert table_row(html, "agent", "queue") == [
        "Nobody (waiting in the queue)",
        "1",
        "0",
        "1",
        "100.0%",
    ]


def test_breaches_list_the_task_target_due_done_lateness_and_agent(admin_client, world):
    brand = world["late"].brand
    html = admin_client.get(report_url(brand)).content.decode()
    rows = breach_rows(html)
    late, waiting = world["late"], world["waiting"]
    local = late.brand.time_zone
    created = BASE + timedelta(hours=1)

    def fmt(moment):
        return timezone.localtime(moment, timezone=ZoneInfo(local)).strftime("%Y-%m-%d %H:%M")

    # Latest due first: Ben's resolution, Ben's first response, then the chat task.
    assert [row[0] for row in rows] == [f"#{late.pk}", f"#{late.pk}", f"#{waiting.pk}"]
    assert rows[0] == [
        f"#{late.pk}",
        "Refund for order 2",
        "Returns (EN)",
        "Resolution",
        fmt(created + timedelta(seconds=3600)),
        fmt(created + timedelta(seconds=5000)),
        "23 min 20 s",
        "Ben",
    ]
    assert rows[1][3:] == [
        "First response",
        fmt(created + timedelta(seconds=300)),
        fmt(created + timedelta(seconds=400)),
        "1 min 40 s",
        "Ben",
    ]
    assert rows[2][3] == "First response"
    assert rows[2][5] == "Not yet"
    assert rows[2][7] == "Nobody (waiting in the queue)"
    assert f'href="/brands/{brand.slug}/tasks/{late.pk}/"' in html
    assert "An old breach" not in html
    assert "Borealis secret" not in html


def test_gig_filter_keeps_only_that_gigs_checks(admin_client, world, chat_gig):
    html = admin_client.get(report_url(chat_gig.brand, gig=chat_gig.pk)).content.decode()
    assert figure(html, "breached") == "1"
    assert [row[1] for row in breach_rows(html)] == ["Where is my parcel?"]


def test_a_wider_range_takes_in_older_tasks(admin_client, world, brand):
    today = timezone.localtime(NOW, timezone=ZoneInfo(brand.time_zone))
    start = (today - timedelta(days=40)).date().isoformat()
    html = admin_client.get(report_url(brand, start=start)).content.decode()
    assert figure(html, "breached") == "5"  # the old task's first response and resolution
    assert "An old breach" in html


@pytest.mark.parametrize(
    ("params", "field_error"),
    [
        ({"start": "2026-03-10", "end": "2026-03-01"}, "The end date is before the start date."),
        ({"start": "2024-01-01", "end": "2026-01-01"}, "Choose a range of at most two years."),
        ({"start": "yesterday"}, "Enter a date like 2026-03-01."),
    ],
)
def test_bad_ranges_are_form_errors(admin_client, world, brand, params, field_error):
    response = admin_client.get(report_url(brand, **params))
    assert response.status_code == 400
    html = response.content.decode()
    assert field_error in html
    assert "data-breach" not in html
    export = admin_client.get(export_url(brand, **params))
    assert export.status_code == 400
    assert field_error in export.content.decode()


def test_two_years_less_a_day_is_allowed(admin_client, brand):
    response = admin_client.get(report_url(brand, start="2024-01-01", end="2025-12-31"))
    assert response.status_code == 200


def test_a_gig_of_another_brand_is_a_form_error(admin_client, world, brand, other_gig):
    response = admin_client.get(report_url(brand, gig=other_gig.pk))
    assert response.status_code == 400
    assert "Choose one of your gigs, or all gigs." in response.content.decode()
    assert "Borealis" not in response.content.decode()
    export = admin_client.get(export_url(brand, gig=other_gig.pk))
    assert export.status_code == 400
    assert export.content.decode().splitlines()[1].startswith("gig: ")


def test_csv_has_the_breaches_tables_rows(admin_client, world, brand, chat_gig):
    for params in ({}, {"gig": chat_gig.pk}):
        html = admin_client.get(report_url(brand, **params)).content.decode()
        response = admin_client.get(export_url(brand, **params))
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert rows[0] == [
            "Task",
            "Subject",
            "Gig",
            "Target",
            "Due",
            "Done",
            "Late by",
            "Responsible",
        ]
        assert rows[1:] == breach_rows(html)
        assert rows[1:]


def test_csv_cells_never_start_a_formula(admin_client, brand, chat_gig):
    make_task(chat_gig, NOW - timedelta(days=1), subject="=HYPERLINK(1)")
    response = admin_client.get(export_url(brand))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1][1] == "'=HYPERLINK(1)"


def test_breaches_are_paginated_with_the_filters_kept(admin_client, brand, chat_gig):
    for hours in range(30):
        make_task(chat_gig, NOW - timedelta(days=1, hours=hours))
    html = admin_client.get(report_url(brand, gig=chat_gig.pk)).content.decode()
    assert len(breach_rows(html)) == 25
    match = re.search(r'href="\?([^"]*page=2)#breaches"', html)
    assert match
    page_two = admin_client.get(report_url(brand) + "?" + unescape(match.group(1)))
    page_two_html = page_two.content.decode()
    assert len(breach_rows(page_two_html)) == 5
    assert f"gig={chat_gig.pk}" in unescape(match.group(1))


def test_query_count_does_not_grow_with_tasks(admin_client, brand, sla_gig, agents):
    ana, _ = agents

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert admin_client.get(report_url(brand)).status_code == 200
        return len(context.captured_queries)

    def add_tasks(count):
        for index in range(count):
            make_task(
                sla_gig,
                BASE + timedelta(minutes=index),
                [(10, K.CLAIMED, ana), (900, K.AGENT_MESSAGE, ana)],
            )

    add_tasks(2)
    few = queries()
    add_tasks(20)
    assert queries() == few


def test_checks_are_read_in_pages_of_tasks(brand, sla_gig, agents):
    ana, _ = agents
    for index in range(5):
        make_task(sla_gig, BASE + timedelta(minutes=index), [(10, K.CLAIMED, ana)])
    tasks = sla_tasks(brand, start=NOW - timedelta(days=7), end=NOW)
    calendar = calendar_for(brand)
    whole = list(sla_checks(tasks, calendar=calendar, as_of=NOW))
    with CaptureQueriesContext(connection) as context:
        paged = list(sla_checks(tasks, calendar=calendar, as_of=NOW, page_size=2))
    assert paged == whole
    assert len(whole) == 10  # first response and resolution of each task, both breached
    # Pages of 2, 2 and 1 task: a query for each page's tasks and one for its events.
    assert len(context.captured_queries) == 6


def test_an_empty_range_says_so(admin_client, brand, gig):
    html = admin_client.get(report_url(brand)).content.decode()
    assert "No SLA checks in this range." in html
    assert figure(html, "breach_rate") == "–"


def test_every_member_may_read_it(brand, brand_viewer, world):
    response = client_for(brand_viewer).get(report_url(brand))
    assert response.status_code == 200


@pytest.mark.parametrize("url", [report_url, export_url])
def test_another_brands_report_is_404(brand, other_admin, world, url):
    assert client_for(other_admin).get(url(brand)).status_code == 404


def test_anonymous_users_are_asked_to_log_in(client, brand):
    response = client.get(report_url(brand))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_quality_menu_links_to_the_report(admin_client, brand):
    html = admin_client.get(reverse("frontend:brand_home", args=[brand.slug])).content.decode()
    assert f'href="{report_url(brand)}"' in html


# --- The live view ------------------------------------------------------------------------


LIVE_NOW = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)


def test_live_view_lists_open_tasks_at_risk_and_overdue(admin_client, brand, chat_gig, agents):
    ana, _ = agents
    # Target 300 s: 60 s left is at risk (≤ 20 %); 200 s left is not; one is overdue.
    with time_machine.travel(LIVE_NOW, tick=False):
        at_risk = make_task(chat_gig, LIVE_NOW - timedelta(seconds=240), subject="Nearly due")
        make_task(chat_gig, LIVE_NOW - timedelta(seconds=100), subject="Plenty of time")
        overdue = make_task(
            chat_gig,
            LIVE_NOW - timedelta(seconds=900),
            [(10, K.CLAIMED, ana)],
            status=TaskStatus.CLAIMED,
            subject="Way overdue",
        )
        html = admin_client.get(reverse("frontend:brand_live", args=[brand.slug])).content.decode()
    assert "Plenty of time" not in html
    risky = table_row(html, "at-risk", at_risk.pk)
    assert risky[0] == f"#{at_risk.pk} Nearly due"
    assert "due in 1 min 00 s" in risky[3]
    assert risky[4] == "Waiting in the queue"
    late = table_row(html, "at-risk", overdue.pk)
    assert "overdue by 10 min 00 s" in late[3]
    assert late[4] == "Ana"
    # Most urgent first.
    assert html.index(f'data-at-risk="{overdue.pk}"') < html.index(f'data-at-risk="{at_risk.pk}"')


def test_live_view_without_risk_says_so(admin_client, brand, chat_gig):
    make_task(chat_gig, timezone.now(), subject="Just in")
    html = admin_client.get(reverse("frontend:brand_live", args=[brand.slug])).content.decode()
    assert "No open task is close to an SLA target." in html


# --- The gig's SLA settings ---------------------------------------------------------------


def gig_form_data(**changes) -> dict:
    data = {
        "title": "Billing (EN)",
        "description": "",
        "language": "en",
        "min_language_level": "B2",
        "pay_model": "per_resolution",
        "rate": "2.50",
        "currency": "EUR",
        "max_tasks_per_agent": "1",
        "sla_first_response_minutes": "15",
        "sla_next_response_minutes": "30",
        "sla_resolution_hours": "8",
        "sla_business_hours": "on",
        "dispatch_mode": "open",
    }
    data.update(changes)
    return data


def test_gig_form_saves_the_sla_targets(admin_client, brand):
    response = admin_client.post(reverse("frontend:gig_create", args=[brand.slug]), gig_form_data())
    assert response.status_code == 302, response.content.decode()[:2000]
    gig = Gig.objects.get(brand=brand, title="Billing (EN)")
    assert gig.sla_next_response_seconds == 30 * 60
    assert gig.sla_resolution_seconds == 8 * 3600
    assert gig.sla_business_hours is True
    html = admin_client.get(response["Location"]).content.decode()
    assert re.search(r"Next response target</th><td>30 minutes<", html)
    assert re.search(r"Resolution target</th><td>8 hours<", html)
    assert "Business hours only" in html


def test_empty_targets_mean_none_and_the_clock_may_count_every_hour(admin_client, brand):
    data = gig_form_data(sla_next_response_minutes="", sla_resolution_hours="")
    del data["sla_business_hours"]
    admin_client.post(reverse("frontend:gig_create", args=[brand.slug]), data)
    gig = Gig.objects.get(brand=brand, title="Billing (EN)")
    assert gig.sla_next_response_seconds is None
    assert gig.sla_resolution_seconds is None
    assert gig.sla_business_hours is False


def test_an_unchanged_target_keeps_its_exact_seconds(admin_client, brand):
    gig = GigFactory(brand=brand, sla_resolution_seconds=5000)  # 1.39 hours, set by the API
    url = reverse("frontend:gig_edit", args=[brand.slug, gig.pk])
    form_html = admin_client.get(url).content.decode()
    assert re.search(r'name="sla_resolution_hours"[^>]*value="1"', form_html)
    admin_client.post(url, gig_form_data(sla_resolution_hours="1", title=gig.title))
    gig.refresh_from_db()
    assert gig.sla_resolution_seconds == 5000


def test_a_target_out_of_range_is_a_form_error(admin_client, brand):
    response = admin_client.post(
        reverse("frontend:gig_create", args=[brand.slug]),
        gig_form_data(sla_resolution_hours="5000"),
    )
    assert response.status_code == 200
    assert "Ensure this value is less than or equal to 2160." in response.content.decode()
    assert not Gig.objects.filter(brand=brand, title="Billing (EN)").exists()


def test_api_reads_and_writes_the_targets(api_client):
    created = api_client.post(
        "/api/v1/gigs",
        {
            "title": "API gig",
            "language": "en",
            "pay_model": "per_resolution",
            "rate_minor": 250,
            "sla_resolution_seconds": 7200,
            "sla_business_hours": False,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["sla_resolution_seconds"] == 7200
    assert body["sla_next_response_seconds"] is None
    assert body["sla_business_hours"] is False
    assert body["sla_first_response_seconds"] == 900
