"""Live pages: the brand console's live view and the staff console's, refreshed by htmx."""

import re
from datetime import timedelta

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from brands.models import BrandRole
from gigs.models import GigStatus, PresenceStatus, TaskStatus
from tests.brands.factories import MembershipFactory
from tests.gigs.factories import GigFactory
from tests.gigs.test_eligibility import make_agent
from tests.gigs.test_live_stats import claimed_by, task_in
from tests.marketplace.factories import AgentUserFactory, StaffUserFactory

STAFF_LIVE = reverse("frontend:staff_live")
HTMX = {"HTTP_HX_REQUEST": "true"}


def _url(name, brand):
    return reverse(f"frontend:{name}", args=[brand.slug])


def figure(html: str, name: str) -> str:
    """The text of the figure marked ``data-figure="name"``."""
    match = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert match, f"no {name} figure on the page"
    return match.group(1).strip()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(brand_viewer):
    return client_for(brand_viewer)


@pytest.fixture
def staff_client(db):
    user = StaffUserFactory(email="ops@gigdesk.test")
    # Staff pages require TOTP (StaffTwoFactorMiddleware); set it up as allauth would.
    TOTP.activate(user, generate_totp_secret())
    return client_for(user)


@pytest.fixture
def busy_brand(brand, gig):
    """Two tasks waiting (the older 7 minutes), one in progress, two agents online,
    one paused, one resolved today."""
    task_in(gig, age=timedelta(minutes=7, seconds=10))
    task_in(gig, age=timedelta(minutes=1))
    claimed_by(gig, make_agent(brand))
    make_agent(brand)
    make_agent(brand, presence=PresenceStatus.PAUSED)
    task_in(gig, TaskStatus.RESOLVED, resolved_at=timezone.now())
    return brand


# --- Brand live page ----------------------------------------------------------------------


def test_brand_live_page_shows_the_figures(viewer_client, busy_brand):
    response = viewer_client.get(_url("brand_live", busy_brand))

    html = response.content.decode()
    assert response.status_code == 200
    assert figure(html, "queue_depth") == "2"
    assert figure(html, "oldest_wait").startswith("7 min")
    assert figure(html, "agents_online") == "2"
    assert figure(html, "in_progress") == "1"
    assert "1 paused" in html
    assert "1 resolved today" in html


def test_brand_live_page_lists_each_gig(viewer_client, busy_brand, gig):
    GigFactory(brand=busy_brand, title="Refunds (EN)", status=GigStatus.PAUSED)

    response = viewer_client.get(_url("brand_live", busy_brand))

    rows = response.context["stats"]["gigs"]
    assert [(row["gig"].title, row["queue_depth"], row["in_progress"]) for row in rows] == [
        ("Order support (EN)", 2, 1),
        ("Refunds (EN)", 0, 0),
    ]
    assert "Refunds (EN)" in response.content.decode()


def test_brand_live_figures_refresh_every_two_seconds(viewer_client, busy_brand):
    html = viewer_client.get(_url("brand_live", busy_brand)).content.decode()

    assert 'hx-trigger="every 2s"' in html
    assert f'hx-get="{_url("brand_live", busy_brand)}"' in html
    assert re.search(r"Updated <time [^>]*>\d\d:\d\d:\d\d</time>", html)


def test_htmx_refresh_returns_only_the_figures(viewer_client, busy_brand):
    response = viewer_client.get(_url("brand_live", busy_brand), **HTMX)

    html = response.content.decode()
    assert html.lstrip().startswith('<section id="live-figures"')
    assert "<html" not in html
    assert figure(html, "queue_depth") == "2"
    assert "no-store" in response["Cache-Control"]


def test_refresh_shows_new_work_without_a_reload(viewer_client, brand, gig):
    before = viewer_client.get(_url("brand_live", brand), **HTMX).content.decode()
    task_in(gig)
    after = viewer_client.get(_url("brand_live", brand), **HTMX).content.decode()

    assert (figure(before, "queue_depth"), figure(after, "queue_depth")) == ("0", "1")


def test_brand_without_gigs_sees_an_empty_state(viewer_client, brand):
    html = viewer_client.get(_url("brand_live", brand)).content.decode()

    assert "No gigs yet" in html
    assert figure(html, "queue_depth") == "0"
    assert figure(html, "oldest_wait") == "–"


def test_wait_over_the_gigs_first_response_target_is_flagged(viewer_client, brand):
    gig = GigFactory(brand=brand, sla_first_response_seconds=5 * 60)
    task_in(gig, age=timedelta(minutes=6))

    html = viewer_client.get(_url("brand_live", brand)).content.decode()

    assert "over target" in html


# --- Brand overview summary ---------------------------------------------------------------


def test_brand_overview_loads_the_live_summary(viewer_client, busy_brand):
    html = viewer_client.get(_url("brand_home", busy_brand)).content.decode()

    assert f'hx-get="{_url("brand_live_summary", busy_brand)}"' in html
    assert _url("brand_live", busy_brand) in html


def test_live_summary_shows_the_four_headline_figures(viewer_client, busy_brand):
    response = viewer_client.get(_url("brand_live_summary", busy_brand), **HTMX)

    html = response.content.decode()
    assert [figure(html, name) for name in ("queue_depth", "agents_online", "in_progress")] == [
        "2",
        "2",
        "1",
    ]
    assert figure(html, "oldest_wait").startswith("7 min")
    assert _url("brand_live", busy_brand) in html


def test_brand_subnav_links_to_the_live_page(viewer_client, brand):
    html = viewer_client.get(_url("brand_home", brand)).content.decode()
    assert f'<a href="{_url("brand_live", brand)}">Live</a>' in html


# --- Brand access and isolation ----------------------------------------------------------


@pytest.mark.parametrize("page", ["brand_live", "brand_live_summary"])
def test_anonymous_users_are_asked_to_log_in(client, brand, page):
    response = client.get(_url(page, brand))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


@pytest.mark.parametrize("page", ["brand_live", "brand_live_summary"])
def test_another_brands_live_page_is_404(admin_client, other_brand, other_gig, page):
    task_in(other_gig)
    assert admin_client.get(_url(page, other_brand)).status_code == 404


@pytest.mark.parametrize("page", ["brand_live", "brand_live_summary"])
def test_an_agent_in_the_pool_is_not_a_brand_member(brand, page):
    agent = make_agent(brand)
    assert client_for(agent).get(_url(page, brand)).status_code == 404


def test_another_brands_work_never_shows_in_the_figures(viewer_client, brand, other_brand):
    other = GigFactory(brand=other_brand, title="Borealis secret queue")
    task_in(other)
    claimed_by(other, make_agent(other_brand))

    html = viewer_client.get(_url("brand_live", brand)).content.decode()

    assert (figure(html, "queue_depth"), figure(html, "in_progress")) == ("0", "0")
    assert figure(html, "agents_online") == "0"
    assert "Borealis secret queue" not in html


def test_every_brand_role_may_watch(brand, busy_brand):
    qa = MembershipFactory(brand=brand, role=BrandRole.QA_REVIEWER).user
    assert client_for(qa).get(_url("brand_live", brand)).status_code == 200


def test_live_page_refuses_post(viewer_client, brand):
    assert viewer_client.post(_url("brand_live", brand)).status_code == 405


# --- Staff live page ----------------------------------------------------------------------


def test_staff_see_every_brand_with_its_figures(staff_client, busy_brand, other_brand, other_gig):
    task_in(other_gig)

    response = staff_client.get(STAFF_LIVE)

    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-brand="{busy_brand.slug}"' in html
    assert f'data-brand="{other_brand.slug}"' in html
    rows = {row["brand"].slug: row for row in response.context["page"]}
    assert (rows[busy_brand.slug]["queue_depth"], rows[other_brand.slug]["queue_depth"]) == (2, 1)
    assert figure(html, "queue_depth") == "3"
    assert figure(html, "in_progress") == "1"


def test_staff_figures_refresh_every_two_seconds(staff_client, busy_brand):
    html = staff_client.get(STAFF_LIVE).content.decode()
    partial = staff_client.get(STAFF_LIVE, **HTMX).content.decode()

    assert f'hx-get="{STAFF_LIVE}" hx-trigger="every 2s"' in html
    assert partial.lstrip().startswith('<section id="live-figures"')
    assert "<html" not in partial


def test_staff_live_paginates_brands(staff_client, db):
    GigFactory.create_batch(51)

    first = staff_client.get(STAFF_LIVE)
    second = staff_client.get(STAFF_LIVE, {"page": 2}, **HTMX)

    assert len(first.context["page"].object_list) == 50
    assert len(second.context["page"].object_list) == 1
    # The refresh of page 2 asks for page 2 again.
    assert f'hx-get="{STAFF_LIVE}?page=2"' in second.content.decode()


def test_staff_live_with_no_brands_shows_an_empty_state(staff_client):
    html = staff_client.get(STAFF_LIVE).content.decode()
    assert "No brands yet" in html


def test_staff_home_links_to_the_live_page(staff_client):
    html = staff_client.get(reverse("frontend:staff_home")).content.decode()
    assert f'href="{STAFF_LIVE}"' in html


def test_brand_admins_are_refused_the_staff_live_page(admin_client):
    response = admin_client.get(STAFF_LIVE)
    assert response.status_code == 403
    assert "platform staff only" in response.content.decode()


def test_agents_are_refused_the_staff_live_page(db):
    assert client_for(AgentUserFactory()).get(STAFF_LIVE).status_code == 403


def test_anonymous_users_are_asked_to_log_in_to_the_staff_live_page(client, db):
    response = client.get(STAFF_LIVE)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
