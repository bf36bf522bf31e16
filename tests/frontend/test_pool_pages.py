"""Agent pool pages: the brand's pool console and the agent's brands page.

Role rules (admins decide, QA reviewers and viewers read) and tenant
isolation (another brand's admin gets 404 and changes nothing).
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from brands.models import BrandRole, PoolMembership, PoolStatus
from brands.pool_services import pool_apply, pool_decide, pool_invite
from gigs.models import GigStatus, PayModel
from marketplace.models import AuditEvent
from tests.brands.factories import BrandFactory, MembershipFactory
from tests.gigs.factories import GigFactory
from tests.marketplace.factories import AgentUserFactory


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name, *args):
    return reverse(f"frontend:{name}", args=args)


@pytest.fixture
def agent(db):
    return AgentUserFactory(email="ana@agents.test", full_name="Ana Agent")


@pytest.fixture
def agent_client(agent) -> Client:
    return client_for(agent)


@pytest.fixture
def application(agent, brand):
    return pool_apply(agent=agent, brand=brand, note="I know outdoor gear.")


@pytest.fixture
def brand_qa(brand):
    return MembershipFactory(
        brand=brand, role=BrandRole.QA_REVIEWER, user__email="qa@acme.test"
    ).user


def decide(client, brand, membership, **data):
    return client.post(url("pool_member_update", brand.slug, membership.pk), data)


# --- Brand console: the pool page ---------------------------------------------------------


def test_the_pool_page_lists_applications_with_the_agents_note(admin_client, brand, application):
    response = admin_client.get(url("brand_pool", brand.slug), {"status": "applied"})
    assert response.status_code == 200
    assert b"ana@agents.test" in response.content
    assert b"I know outdoor gear." in response.content
    assert b'value="approve"' in response.content


def test_the_pool_page_counts_members_per_status(admin_client, brand, application, brand_admin):
    pool_decide(
        membership=pool_apply(agent=AgentUserFactory(), brand=brand),
        actor=brand_admin,
        decision="approve",
    )
    response = admin_client.get(url("brand_pool", brand.slug))
    tabs = {tab["value"]: tab["count"] for tab in response.context["tabs"]}
    assert tabs[PoolStatus.APPLIED] == 1
    assert tabs[PoolStatus.APPROVED] == 1
    assert tabs[""] == 2


def test_the_status_tab_filters_the_list(admin_client, brand, application):
    response = admin_client.get(url("brand_pool", brand.slug), {"status": "approved"})
    assert b"ana@agents.test" not in response.content
    assert b"No approved agents." in response.content


def test_the_pool_page_says_when_nobody_is_in_the_pool(admin_client, brand):
    response = admin_client.get(url("brand_pool", brand.slug))
    assert b"Nobody in your pool yet." in response.content


def test_an_admin_approves_an_application(admin_client, brand, application):
    response = decide(admin_client, brand, application, action="approve", tab="applied")

    assert response.status_code == 302
    assert response.url == url("brand_pool", brand.slug) + "?status=applied"
    application.refresh_from_db()
    assert application.status == PoolStatus.APPROVED
    listed = admin_client.get(url("brand_pool", brand.slug), {"status": "approved"})
    assert b"ana@agents.test" in listed.content


def test_an_htmx_decision_returns_the_list_only(admin_client, brand, application):
    response = admin_client.post(
        url("pool_member_update", brand.slug, application.pk),
        {"action": "approve", "tab": ""},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response.content.lstrip().startswith(b'<div id="pool-list">')
    assert b"is approved" in response.content


def test_an_admin_sets_a_tier(admin_client, brand, application, brand_admin):
    pool_decide(membership=application, actor=brand_admin, decision="approve")

    decide(admin_client, brand, application, action="set_tier", tier="3")

    application.refresh_from_db()
    assert application.tier == 3
    assert AuditEvent.objects.filter(action="pool.tier_changed").count() == 1


def test_setting_a_tier_without_one_changes_nothing(admin_client, brand, application, brand_admin):
    pool_decide(membership=application, actor=brand_admin, decision="approve")

    response = decide(admin_client, brand, application, action="set_tier", tier="")

    assert response.status_code == 302
    application.refresh_from_db()
    assert application.tier == 1
    assert not AuditEvent.objects.filter(action="pool.tier_changed").exists()


def test_a_refused_decision_shows_the_reason_and_changes_nothing(
    admin_client, brand, application, brand_admin
):
    pool_decide(membership=application, actor=brand_admin, decision="block")

    response = decide(admin_client, brand, application, action="approve")

    follow = admin_client.get(response.url)
    assert b"Nothing changed" in follow.content
    application.refresh_from_db()
    assert application.status == PoolStatus.BLOCKED


def test_an_admin_invites_an_agent_by_email(
    admin_client, brand, agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url("brand_pool", brand.slug), {"email": agent.email})

    assert response.status_code == 302
    assert PoolMembership.objects.get(brand=brand, agent=agent).status == PoolStatus.INVITED
    assert mail.outbox[0].to == [agent.email]


def test_inviting_an_unknown_address_shows_a_field_error(admin_client, brand):
    response = admin_client.post(url("brand_pool", brand.slug), {"email": "nobody@example.com"})
    assert response.status_code == 200
    assert b"No agent account uses this address." in response.content
    assert not PoolMembership.objects.exists()


@pytest.mark.parametrize("reader", ["brand_viewer", "brand_qa"])
def test_viewers_and_qa_reviewers_read_the_pool_without_actions(
    request, reader, brand, application
):
    client = client_for(request.getfixturevalue(reader))
    response = client.get(url("brand_pool", brand.slug))
    assert response.status_code == 200
    assert b"ana@agents.test" in response.content
    assert b'value="approve"' not in response.content
    assert b"Send invitation" not in response.content


@pytest.mark.parametrize("reader", ["brand_viewer", "brand_qa"])
def test_viewers_and_qa_reviewers_cannot_decide(request, reader, brand, application):
    client = client_for(request.getfixturevalue(reader))

    response = decide(client, brand, application, action="approve")

    assert response.status_code == 403
    application.refresh_from_db()
    assert application.status == PoolStatus.APPLIED
    assert not AuditEvent.objects.filter(action="pool.approved").exists()


def test_a_viewer_cannot_invite(brand, brand_viewer, agent):
    response = client_for(brand_viewer).post(url("brand_pool", brand.slug), {"email": agent.email})
    assert response.status_code == 403
    assert not PoolMembership.objects.exists()


def test_another_brands_admin_cannot_see_this_pool(other_admin, brand, application):
    response = client_for(other_admin).get(url("brand_pool", brand.slug))
    assert response.status_code == 404


@pytest.mark.parametrize("slug", ["acme", "borealis"])
def test_another_brands_admin_cannot_decide_on_this_pool(
    other_admin, other_brand, brand, application, slug
):
    # Through this brand's URL (not a member) or their own (not their member): 404 both.
    response = client_for(other_admin).post(
        reverse("frontend:pool_member_update", args=[slug, application.pk]),
        {"action": "block", "reason": "Mine now"},
    )

    assert response.status_code == 404
    application.refresh_from_db()
    assert application.status == PoolStatus.APPLIED
    assert application.reason == ""
    assert not AuditEvent.objects.filter(action="pool.blocked").exists()


def test_another_brands_pool_page_does_not_list_this_pools_members(
    other_admin, other_brand, application
):
    response = client_for(other_admin).get(url("brand_pool", other_brand.slug))
    assert response.status_code == 200
    assert b"ana@agents.test" not in response.content


def test_the_brand_subnav_links_the_pool(admin_client, brand):
    response = admin_client.get(url("brand_home", brand.slug))
    assert url("brand_pool", brand.slug).encode() in response.content
    assert b"Agent pool" in response.content


# --- Agent pages ---------------------------------------------------------------------------


def test_the_agent_nav_links_the_brands_page(agent_client):
    response = agent_client.get(url("agent_home"))
    assert url("agent_brands").encode() in response.content


def test_the_brands_page_summarises_open_gigs(agent_client, brand):
    GigFactory(brand=brand, language="en", pay_model=PayModel.PER_RESOLUTION, rate_minor=250)
    GigFactory(brand=brand, language="de", pay_model=PayModel.PER_RESOLUTION, rate_minor=400)
    GigFactory(brand=brand, language="es", pay_model=PayModel.PER_MINUTE, rate_minor=12)

    response = agent_client.get(url("agent_brands"))

    assert response.status_code == 200
    (row,) = response.context["rows"]
    assert row["brand"] == brand
    assert row["gig_count"] == 3
    assert row["languages"] == ["German", "English", "Spanish"]
    assert row["pay_lines"] == ["€0.12 per minute", "€2.50–€4.00 per resolution"]
    assert url("pool_apply", brand.slug).encode() in response.content


def test_the_brands_page_leaves_out_brands_without_open_gigs(agent_client, brand):
    GigFactory(brand=brand, status=GigStatus.CLOSED)
    BrandFactory(name="Quiet Co")
    response = agent_client.get(url("agent_brands"))
    assert response.context["rows"] == []
    assert b"No brand has open gigs right now." in response.content


def test_an_agent_applies_with_a_note(agent_client, agent, brand):
    response = agent_client.post(url("pool_apply", brand.slug), {"note": "Fluent in German."})

    assert response.status_code == 302
    membership = PoolMembership.objects.get(brand=brand, agent=agent)
    assert membership.status == PoolStatus.APPLIED
    assert membership.note == "Fluent in German."
    page = agent_client.get(url("agent_brands"))
    assert b"waiting for Acme Outdoors to decide" in page.content


def test_a_note_over_1000_characters_shows_an_error(agent_client, brand):
    response = agent_client.post(url("pool_apply", brand.slug), {"note": "x" * 1001})
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not PoolMembership.objects.exists()


def test_a_rejected_agent_sees_the_reason(agent_client, application, brand, brand_admin):
    decide(
        client_for(brand_admin),
        brand,
        application,
        action="reject",
        reason="We only hire German speakers.",
    )

    response = agent_client.get(url("agent_brands"))

    assert b"Reason: We only hire German speakers." in response.content
    assert b"You can apply again from" in response.content


def test_reapplying_during_the_cooldown_shows_when(agent_client, application, brand, brand_admin):
    pool_decide(membership=application, actor=brand_admin, decision="reject")

    response = agent_client.post(url("pool_apply", brand.slug), {"note": "Please"})

    assert response.status_code == 200
    assert b"You can apply again from" in response.content
    assert PoolMembership.objects.get().status == PoolStatus.REJECTED


def test_reapplying_after_the_cooldown_works(agent_client, application, brand, brand_admin):
    pool_decide(membership=application, actor=brand_admin, decision="reject")
    PoolMembership.objects.update(reapply_after=timezone.now() - timedelta(seconds=1))

    response = agent_client.post(url("pool_apply", brand.slug), {"note": "Now with German"})

    assert response.status_code == 302
    assert PoolMembership.objects.get().status == PoolStatus.APPLIED


def test_a_blocked_agent_is_refused_neutrally(agent_client, application, brand, brand_admin):
    pool_decide(membership=application, actor=brand_admin, decision="block", reason="Spam")

    response = agent_client.post(url("pool_apply", brand.slug), {"note": "Hello again"})

    assert b"You cannot apply to Acme Outdoors" in response.content
    assert PoolMembership.objects.get().status == PoolStatus.BLOCKED
    assert AuditEvent.objects.filter(action="pool.applied").count() == 1


def test_an_agent_accepts_an_invitation(agent_client, agent, brand, brand_admin):
    invited = pool_invite(brand=brand, actor=brand_admin, agent_email=agent.email)
    page = agent_client.get(url("agent_brands"))
    assert url("pool_invitation_accept", invited.pk).encode() in page.content

    response = agent_client.post(url("pool_invitation_accept", invited.pk))

    assert response.status_code == 302
    invited.refresh_from_db()
    assert invited.status == PoolStatus.APPROVED


def test_an_agent_declines_an_invitation(agent_client, agent, brand, brand_admin):
    invited = pool_invite(brand=brand, actor=brand_admin, agent_email=agent.email)

    agent_client.post(url("pool_invitation_decline", invited.pk))

    assert not PoolMembership.objects.exists()
    assert AuditEvent.objects.filter(action="pool.invitation_declined").count() == 1


def test_an_agent_cannot_answer_another_agents_invitation(agent, brand, brand_admin):
    invited = pool_invite(brand=brand, actor=brand_admin, agent_email=agent.email)

    response = client_for(AgentUserFactory()).post(url("pool_invitation_accept", invited.pk))

    assert response.status_code == 404
    invited.refresh_from_db()
    assert invited.status == PoolStatus.INVITED


def test_brand_accounts_cannot_use_the_agent_brands_page(admin_client, brand):
    assert admin_client.get(url("agent_brands")).status_code == 403
    response = admin_client.post(url("pool_apply", brand.slug), {"note": "hi"})
    assert response.status_code == 403
    assert not PoolMembership.objects.exists()


def test_applying_to_an_unknown_brand_is_404(agent_client):
    assert agent_client.get(url("pool_apply", "no-such-brand")).status_code == 404


def test_the_agent_brands_page_asks_anonymous_users_to_log_in(client):
    response = client.get(url("agent_brands"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
