"""The weekly digest: who gets it, what it says, once per week, and unsubscribing."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.conf import settings
from django.test import Client
from django.urls import reverse

from analytics.digest import digest_unsubscribe_url, digests_send
from analytics.models import DigestPreference, DigestSent
from analytics.rollup import rollup_recompute
from analytics.tasks import weekly_digest_job
from brands.models import BrandRole
from gigs.models import PayModel
from gigs.models import TaskEventKind as K
from marketplace.models import AuditEvent
from payouts.models import Earning
from tests.analytics.histories import task_with_history
from tests.brands.factories import MembershipFactory
from tests.gigs.factories import GigFactory
from tests.marketplace.factories import AgentUserFactory

pytestmark = pytest.mark.django_db

# Monday 9 March 2026, 09:00 in Berlin (the factories' brand zone): last week
# is 2–8 March, the week before 23 February – 1 March.
NOW = datetime(2026, 3, 9, 8, tzinfo=UTC)
LAST_WEEK = datetime(2026, 3, 3, 9, tzinfo=UTC)
WEEK_BEFORE = datetime(2026, 2, 24, 9, tzinfo=UTC)


def resolved(gig, agent, at, *, rating=None):
    steps = [
        (0, K.CREATED),
        (0, K.CUSTOMER_MESSAGE),
        (60, K.CLAIMED, agent),
        (120, K.AGENT_MESSAGE, agent),
        (600, K.RESOLVED, agent),
    ]
    if rating:
        steps.append((700, K.RATED, None, {"score": rating}))
    return task_with_history(gig, at, *steps)


def escalated(gig, agent, at):
    return task_with_history(
        gig, at, (0, K.CREATED), (180, K.CLAIMED, agent), (300, K.ESCALATED, agent)
    )


def roll_up(*brands):
    for brand in brands:
        rollup_recompute(brand, WEEK_BEFORE - timedelta(days=3), NOW)


@pytest.fixture
def history(brand, other_brand, brand_admin, other_admin):
    agent = AgentUserFactory()
    gig = GigFactory(brand=brand, pay_model=PayModel.PER_RESOLUTION, rate_minor=300)
    resolved(gig, agent, LAST_WEEK, rating=5)
    resolved(gig, agent, LAST_WEEK + timedelta(hours=1), rating=2)
    escalated(gig, agent, LAST_WEEK + timedelta(hours=2))
    resolved(gig, agent, WEEK_BEFORE)
    # Borealis: another currency and another volume, never in Acme's digest.
    other = GigFactory(
        brand=other_brand, pay_model=PayModel.PER_RESOLUTION, rate_minor=900, currency="USD"
    )
    for hour in range(7):
        resolved(other, agent, LAST_WEEK + timedelta(hours=hour))
    roll_up(brand, other_brand)
    return gig


def digest_to(mailoutbox, email):
    found = [message for message in mailoutbox if message.to == [email]]
    assert len(found) == 1, [message.to for message in mailoutbox]
    return found[0]


def line(body, label):
    return re.search(rf"^{re.escape(label)}: (.*)$", body, re.M).group(1)


def spend(brand, start, end):
    earnings = Earning.objects.filter(brand=brand, earned_at__gte=start, earned_at__lt=end)
    return sum(earning.amount_minor + earning.fee_minor for earning in earnings)


# --- content -----------------------------------------------------------------------------


def test_each_admin_gets_last_weeks_figures_against_the_week_before(
    history, brand, brand_admin, mailoutbox
):
    assert digests_send(now=NOW) == 2
    message = digest_to(mailoutbox, brand_admin.email)
    body = message.body
    assert message.subject == "Acme Outdoors: your week of 02 Mar 2026 on Gigdesk"
    assert line(body, "Tasks") == "3 (week before: 1, +200.0%)"
    assert line(body, "Resolution rate") == "66.7% (week before: 100.0%, -33.3%)"
    assert line(body, "CSAT (rated 4–5)") == "50.0% (week before: –)"
    # Waits: 60 s, 60 s and 180 s last week; 60 s the week before.
    assert line(body, "Average wait") == "1 min 40 s (week before: 1 min, +66.7%)"
    assert line(body, "Average first response") == "2 min (week before: 2 min, +0.0%)"
    assert line(body, "SLA breaches").startswith("0 (week before: 0")
    last = spend(brand, LAST_WEEK - timedelta(days=1), NOW)
    before = spend(brand, WEEK_BEFORE - timedelta(days=1), LAST_WEEK - timedelta(days=1))
    assert last == 2 * before > 0
    assert line(body, "Spend (EUR)") == (
        f"€{last / 100:,.2f} (week before: €{before / 100:,.2f}, +100.0%)"
    )
    html = message.alternatives[0][0]
    assert '<tr data-figure="tasks">' in html


def test_the_digest_links_to_the_brands_dashboard_for_that_week(history, brand_admin, mailoutbox):
    digests_send(now=NOW)
    message = digest_to(mailoutbox, brand_admin.email)
    dashboard = f"{settings.SITE_URL}/brands/acme/analytics/?start=2026-03-02&end=2026-03-08"
    assert dashboard in message.body
    assert dashboard.replace("&", "&amp;") in message.alternatives[0][0]


def test_another_brands_figures_are_never_in_an_admins_digest(
    history, brand_admin, other_admin, mailoutbox
):
    digests_send(now=NOW)
    acme = digest_to(mailoutbox, brand_admin.email).body
    borealis = digest_to(mailoutbox, other_admin.email).body
    assert "Borealis" not in acme and "USD" not in acme and "$" not in acme
    assert line(borealis, "Tasks") == "7 (week before: 0)"
    assert "Acme" not in borealis and "EUR" not in borealis


def test_only_admins_with_a_verified_address_get_it(history, brand, brand_viewer, mailoutbox):
    unverified = MembershipFactory(brand=brand, role=BrandRole.ADMIN).user
    EmailAddress.objects.filter(user=unverified).update(verified=False)
    digests_send(now=NOW)
    recipients = sorted(message.to[0] for message in mailoutbox)
    assert recipients == ["admin@acme.test", "admin@borealis.test"]


# --- once a week --------------------------------------------------------------------------


def test_a_rerun_sends_nothing_twice(history, mailoutbox):
    assert digests_send(now=NOW) == 2
    assert digests_send(now=NOW + timedelta(hours=1)) == 0
    assert len(mailoutbox) == 2
    assert DigestSent.objects.count() == 2


def test_the_next_week_sends_again(history, brand_admin, mailoutbox):
    digests_send(now=NOW)
    assert digests_send(now=NOW + timedelta(days=7)) == 2
    assert [m.subject for m in mailoutbox if m.to == [brand_admin.email]][-1].endswith(
        "week of 09 Mar 2026 on Gigdesk"
    )


def test_nothing_goes_before_monday_six_in_the_brands_zone(history, mailoutbox):
    # 04:30 UTC is 05:30 in Berlin.
    assert digests_send(now=datetime(2026, 3, 9, 4, 30, tzinfo=UTC)) == 0
    assert mailoutbox == []


def test_the_weekly_job_sends_through_the_job_queue(history, mailoutbox):
    with time_machine.travel(NOW, tick=False):
        weekly_digest_job()
        weekly_digest_job()
    assert len(mailoutbox) == 2


# --- unsubscribing ------------------------------------------------------------------------


def unsubscribe_path(message) -> str:
    url = re.search(r"Stop it for this brand: (\S+)", message.body).group(1)
    assert url.startswith(settings.SITE_URL)
    return url.removeprefix(settings.SITE_URL)


def test_the_unsubscribe_link_works_without_login_and_stops_the_next_digest(
    history, brand, brand_admin, mailoutbox
):
    digests_send(now=NOW)
    path = unsubscribe_path(digest_to(mailoutbox, brand_admin.email))
    anonymous = Client(enforce_csrf_checks=True)
    # Opening the link only asks: mail scanners follow links.
    page = anonymous.get(path)
    assert page.status_code == 200
    assert b"Unsubscribe" in page.content
    assert not DigestPreference.objects.exists()
    response = anonymous.post(path)
    assert response.status_code == 200
    assert b"gets no more weekly digests of Acme Outdoors" in response.content
    assert not DigestPreference.objects.get(user=brand_admin, brand=brand).weekly_digest
    event = AuditEvent.objects.get(action="digest.unsubscribed")
    assert (event.actor, event.brand, event.changes["via"]) == (brand_admin, brand, "link")

    mailoutbox.clear()
    assert digests_send(now=NOW + timedelta(days=7)) == 1
    assert [message.to for message in mailoutbox] == [["admin@borealis.test"]]


def test_the_email_offers_one_click_unsubscribe(history, brand_admin, mailoutbox):
    digests_send(now=NOW)
    message = digest_to(mailoutbox, brand_admin.email)
    assert (
        message.extra_headers["List-Unsubscribe"]
        == f"<{settings.SITE_URL}{unsubscribe_path(message)}>"
    )
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_forged_unsubscribe_link_is_not_found(brand, brand_admin, client):
    path = digest_unsubscribe_url(user=brand_admin, brand=brand).removeprefix(settings.SITE_URL)
    assert client.post(path.replace("/unsubscribe/", "/unsubscribe/x")).status_code == 404
    assert not DigestPreference.objects.exists()


def test_an_admin_turns_a_brands_digest_off_and_on_in_the_settings(
    history, brand, brand_admin, admin_client, mailoutbox
):
    url = reverse("frontend:digest_settings")
    page = admin_client.get(url)
    assert f'name="brands" value="{brand.pk}" checked' in page.content.decode()
    assert "Borealis" not in page.content.decode()
    admin_client.post(url, {})
    assert not DigestPreference.objects.get(user=brand_admin, brand=brand).weekly_digest
    digests_send(now=NOW)
    assert [message.to for message in mailoutbox] == [["admin@borealis.test"]]

    admin_client.post(url, {"brands": [str(brand.pk)]})
    assert DigestPreference.objects.get(user=brand_admin, brand=brand).weekly_digest
    actions = list(
        AuditEvent.objects.filter(brand=brand, action__startswith="digest.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["digest.unsubscribed", "digest.subscribed"]
    assert digests_send(now=NOW + timedelta(days=7)) == 2


def test_the_settings_page_needs_a_login(client):
    response = client.get(reverse("frontend:digest_settings"))
    assert response.status_code == 302
