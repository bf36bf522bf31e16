"""The pool console page: who may read and act, bulk actions with their
report, filters, figures from the roll-ups, and a constant number of queries."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from analytics.rollup import rollup_recompute
from brands.models import PoolMembership, PoolStatus
from gigs.models import PayModel
from gigs.models import TaskEventKind as K
from marketplace.models import AuditEvent
from tests.analytics.histories import task_with_history
from tests.gigs.factories import GigFactory
from tests.marketplace.factories import AgentLanguageFactory, AgentProfileFactory, AgentUserFactory

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def console(brand):
    return reverse("frontend:pool_console", args=[brand.slug])


def bulk(brand):
    return reverse("frontend:pool_console_bulk", args=[brand.slug])


def member(brand, status=PoolStatus.APPROVED, tier=1, **agent):
    return PoolMembership.objects.create(
        brand=brand, agent=AgentUserFactory(**agent), status=status, tier=tier
    )


def flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Access -----------------------------------------------------------------------------


def test_a_viewer_reads_the_console_without_bulk_controls(brand, brand_viewer):
    member(brand, email="ana@agents.test")
    response = client_for(brand_viewer).get(console(brand))
    assert response.status_code == 200
    assert b"ana@agents.test" in response.content
    assert b'id="bulk-form"' not in response.content
    assert b'name="selected"' not in response.content


def test_a_viewer_cannot_act(brand, brand_viewer):
    applied = member(brand, PoolStatus.APPLIED)
    response = client_for(brand_viewer).post(
        bulk(brand), {"action": "approve", "selected": [applied.pk]}
    )
    assert response.status_code == 403
    applied.refresh_from_db()
    assert applied.status == PoolStatus.APPLIED


def test_another_brands_admin_gets_404(brand, other_admin):
    applied = member(brand, PoolStatus.APPLIED)
    client = client_for(other_admin)
    assert client.get(console(brand)).status_code == 404
    response = client.post(bulk(brand), {"action": "approve", "selected": [applied.pk]})
    assert response.status_code == 404
    applied.refresh_from_db()
    assert applied.status == PoolStatus.APPLIED


def test_the_console_lists_only_this_brands_pool(admin_client, brand, other_brand):
    member(brand, email="ours@agents.test")
    member(other_brand, email="theirs@agents.test")
    response = admin_client.get(console(brand))
    assert b"ours@agents.test" in response.content
    assert b"theirs@agents.test" not in response.content


# --- Bulk actions ------------------------------------------------------------------------


def test_bulk_approve_reports_approved_and_skipped(admin_client, brand):
    first = member(brand, PoolStatus.APPLIED, email="a@agents.test")
    second = member(brand, PoolStatus.APPLIED, email="b@agents.test")
    done = member(brand, PoolStatus.APPROVED, email="c@agents.test")
    response = admin_client.post(
        bulk(brand),
        {
            "action": "approve",
            "selected": [first.pk, second.pk, done.pk],
            "query": "status=applied",
        },
    )
    assert response.status_code == 302
    assert response.url == console(brand) + "?status=applied"
    assert flashes(response) == [
        "2 approved (a@agents.test, b@agents.test), 1 skipped: c@agents.test (already approved)."
    ]
    assert AuditEvent.objects.filter(action="pool.approved").count() == 2


def test_bulk_block_and_set_tier_are_audited_per_agent(admin_client, brand):
    one, two = member(brand), member(brand)
    admin_client.post(
        bulk(brand), {"action": "set_tier", "tier": "3", "selected": [one.pk, two.pk]}
    )
    assert AuditEvent.objects.filter(action="pool.tier_changed").count() == 2
    admin_client.post(bulk(brand), {"action": "block", "selected": [one.pk], "reason": "Rude"})
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.status, one.reason, two.tier) == (PoolStatus.BLOCKED, "Rude", 3)
    assert AuditEvent.objects.filter(action="pool.blocked").count() == 1


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"action": "approve"}, "Select at least one agent."),
        ({"action": "promote", "selected": ["{pk}"]}, "Choose approve, block or set tier."),
        ({"action": "set_tier", "tier": "9", "selected": ["{pk}"]}, "Choose a tier from 1 to 5."),
        ({"action": "set_tier", "selected": ["{pk}"]}, "Choose the tier to set."),
    ],
)
def test_a_bad_bulk_request_says_why_and_changes_nothing(admin_client, brand, data, says):
    approved = member(brand)
    data = {
        k: [v.format(pk=approved.pk) for v in vs] if isinstance(vs, list) else vs
        for k, vs in data.items()
    }
    response = admin_client.post(bulk(brand), data)
    [message] = flashes(response)
    assert message.startswith("Nothing changed:") and says in message
    approved.refresh_from_db()
    assert (approved.status, approved.tier) == (PoolStatus.APPROVED, 1)
    assert not AuditEvent.objects.filter(action__startswith="pool.").exists()


def test_bulk_invite_from_the_console(admin_client, brand):
    AgentUserFactory(email="new@agents.test")
    response = admin_client.post(
        reverse("frontend:pool_console_invite", args=[brand.slug]),
        {"emails": "new@agents.test, ghost@agents.test"},
    )
    [message] = flashes(response)
    assert message.startswith("1 invited (new@agents.test), 1 skipped: ghost@agents.test")
    assert PoolMembership.objects.get(agent__email="new@agents.test").status == PoolStatus.INVITED


def test_bulk_invite_refuses_a_malformed_address(admin_client, brand):
    response = admin_client.post(
        reverse("frontend:pool_console_invite", args=[brand.slug]), {"emails": "not-an-email"}
    )
    [message] = flashes(response)
    assert "Not email addresses: not-an-email." in message
    assert not PoolMembership.objects.exists()


# --- Filters and figures -------------------------------------------------------------------


def test_filters_narrow_the_list(admin_client, brand):
    profile = AgentProfileFactory(user__email="sol@agents.test")
    AgentLanguageFactory(profile=profile, language="es")
    PoolMembership.objects.create(brand=brand, agent=profile.user, status=PoolStatus.APPROVED)
    member(brand, PoolStatus.APPLIED, email="max@agents.test")
    by_language = admin_client.get(console(brand), {"language": "es"})
    assert b"sol@agents.test" in by_language.content
    assert b"max@agents.test" not in by_language.content
    by_status = admin_client.get(console(brand), {"status": "applied", "q": "max"})
    assert b"max@agents.test" in by_status.content
    assert b"sol@agents.test" not in by_status.content


@pytest.mark.parametrize(
    "query", [{"status": "zombie"}, {"tier": "7"}, {"language": "xx"}, {"certification": "nope"}]
)
def test_an_unknown_filter_value_is_a_form_error(admin_client, brand, query):
    response = admin_client.get(console(brand), query)
    assert response.status_code == 400
    assert b"Nothing listed: fix the filters above." in response.content


def test_the_figures_shown_are_the_roll_ups(admin_client, brand):
    gig = GigFactory(brand=brand, pay_model=PayModel.PER_RESOLUTION, rate_minor=250)
    agent = member(brand, email="ana@agents.test").agent
    now = timezone.now()
    t0 = now - timedelta(days=2)
    for score, offset in ((5, 0), (4, 7200), (1, 14400)):
        task_with_history(
            gig,
            t0 + timedelta(seconds=offset),
            (0, K.CREATED),
            (60, K.CLAIMED, agent),
            (360, K.RESOLVED, agent),
            (400, K.RATED, None, {"score": score}),
        )
    rollup_recompute(brand, t0 - timedelta(days=1), now + timedelta(hours=1))
    response = admin_client.get(console(brand))
    [row] = response.context["rows"]
    assert row.figures.csat_rate == 66.7
    assert row.figures.rated == 3
    assert row.earning_lines == ["€7.50"]
    assert b"66.7%" in response.content
    assert b"\xe2\x82\xac7.50" in response.content


def test_the_console_costs_the_same_queries_for_a_bigger_pool(
    admin_client, brand, django_assert_max_num_queries
):
    def add_members(count):
        for _ in range(count):
            profile = AgentProfileFactory()
            AgentLanguageFactory(profile=profile, language="en")
            PoolMembership.objects.create(
                brand=brand, agent=profile.user, status=PoolStatus.APPROVED
            )

    add_members(2)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        admin_client.get(console(brand))
    add_members(20)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = admin_client.get(console(brand))
    assert len(response.context["rows"]) == 22
