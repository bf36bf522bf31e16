"""Staff console: who may open it, the platform counts, and the audit log with its filters."""

from datetime import timedelta

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from brands.models import BrandRole
from marketplace.audit import audit_record
from marketplace.models import AuditEvent
from tests.brands.factories import MembershipFactory
from tests.gigs.factories import GigFactory, TaskFactory
from tests.marketplace.factories import AgentUserFactory, StaffUserFactory

STAFF_HOME = reverse("frontend:staff_home")
AUDIT_LOG = reverse("frontend:audit_log")


@pytest.fixture
def staff_user(db):
    user = StaffUserFactory(email="ops@gigdesk.test")
    # Staff pages require TOTP (StaffTwoFactorMiddleware); set it up as allauth would.
    TOTP.activate(user, generate_totp_secret())
    return user


@pytest.fixture
def staff_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def record(action: str, *, brand=None, actor=None, target=None) -> AuditEvent:
    return audit_record(actor=actor, action=action, brand=brand, target=target)


def record_at(action: str, when) -> AuditEvent:
    # audit_record always stamps "now"; an older event is written with its own time.
    return AuditEvent.objects.create(created_at=when, actor_label="system", action=action)


# --- access ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", [STAFF_HOME, AUDIT_LOG])
def test_anonymous_users_are_asked_to_log_in(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


@pytest.mark.parametrize("path", [STAFF_HOME, AUDIT_LOG])
def test_brand_admins_are_refused(admin_client, path):
    response = admin_client.get(path)
    assert response.status_code == 403
    assert "platform staff only" in response.content.decode()


@pytest.mark.parametrize("path", [STAFF_HOME, AUDIT_LOG])
def test_agents_are_refused(db, path):
    client = Client()
    client.force_login(AgentUserFactory())
    assert client.get(path).status_code == 403


def test_staff_without_two_factor_are_sent_to_set_it_up(db):
    client = Client()
    client.force_login(StaffUserFactory())
    response = client.get(STAFF_HOME)
    assert response.status_code == 302
    assert response.url.startswith(reverse("mfa_activate_totp"))


# --- staff_home -------------------------------------------------------------------------


def test_staff_home_renders_with_links_to_audit_log_and_admin(staff_client):
    content = staff_client.get(STAFF_HOME).content.decode()
    assert AUDIT_LOG in content
    assert reverse("admin:index") in content


def test_staff_home_counts_users_brands_gigs_and_tasks(staff_client, brand_admin, other_admin, gig):
    AgentUserFactory.create_batch(3)
    TaskFactory.create_batch(2, gig=gig)
    response = staff_client.get(STAFF_HOME)
    users = {row["value"]: row["count"] for row in response.context["users_by_type"]}
    # Brand users: the two admins and the staff member (a brand-type account).
    assert users == {"agent": 3, "brand": 3}
    assert response.context["brand_total"] == 2
    assert response.context["gig_total"] == 1
    assert response.context["task_total"] == 2


# --- audit_log --------------------------------------------------------------------------


def test_audit_log_lists_events_with_actor_target_changes_and_ip(staff_client, brand, brand_admin):
    membership = MembershipFactory(brand=brand, role=BrandRole.VIEWER)
    AuditEvent.objects.create(
        actor=brand_admin,
        actor_label=brand_admin.email,
        action="member.role_changed",
        target_type="brands.BrandMembership",
        target_id=str(membership.pk),
        target_label=str(membership),
        brand=brand,
        changes={"role": ["viewer", "admin"]},
        ip_address="203.0.113.7",
    )
    content = staff_client.get(AUDIT_LOG).content.decode()
    assert "member.role_changed" in content
    assert brand_admin.email in content
    assert f"brands.BrandMembership #{membership.pk}" in content
    assert "Acme Outdoors" in content
    assert "{&quot;role&quot;:[&quot;viewer&quot;,&quot;admin&quot;]}" in content
    assert "203.0.113.7" in content


def test_audit_log_shows_an_empty_state(staff_client):
    assert "No events match" in staff_client.get(AUDIT_LOG).content.decode()


def test_audit_log_filters_by_action(staff_client, brand):
    record("api_key.created", brand=brand)
    record("member.invited", brand=brand)
    response = staff_client.get(AUDIT_LOG, {"action": "api_key.created"})
    assert [e.action for e in response.context["page"]] == ["api_key.created"]


def test_audit_log_filters_by_brand(staff_client, brand, other_brand):
    record("api_key.created", brand=brand)
    record("api_key.created", brand=other_brand)
    response = staff_client.get(AUDIT_LOG, {"brand": other_brand.pk})
    assert [e.brand for e in response.context["page"]] == [other_brand]


def test_audit_log_filters_by_actor_email_fragment(staff_client, brand_admin, other_admin):
    record("api_key.created", actor=brand_admin)
    record("api_key.created", actor=other_admin)
    response = staff_client.get(AUDIT_LOG, {"actor": "BOREALIS"})
    assert [e.actor for e in response.context["page"]] == [other_admin]


def test_audit_log_filters_by_target_type(staff_client, brand, brand_admin):
    record("brand.updated", brand=brand, target=brand)
    record("system.tick")
    response = staff_client.get(AUDIT_LOG, {"target_type": "brands.Brand"})
    assert [e.action for e in response.context["page"]] == ["brand.updated"]


def test_audit_log_filters_by_date_range(staff_client):
    now = timezone.now()
    record_at("old", now - timedelta(days=10))
    record_at("recent", now - timedelta(days=2))
    record_at("today", now)
    response = staff_client.get(
        AUDIT_LOG,
        {
            "since": (now - timedelta(days=3)).date().isoformat(),
            "until": (now - timedelta(days=1)).date().isoformat(),
        },
    )
    assert [e.action for e in response.context["page"]] == ["recent"]


def test_audit_log_shows_a_bad_date_as_a_form_error(staff_client):
    response = staff_client.get(AUDIT_LOG, {"since": "yesterday"})
    assert response.status_code == 200
    assert b"errorlist" in response.content


def test_audit_log_paginates_fifty_per_page_and_keeps_filters(staff_client, brand):
    for _ in range(51):
        record("api_key.created", brand=brand)
    record("member.invited", brand=brand)
    response = staff_client.get(AUDIT_LOG, {"action": "api_key.created"})
    assert len(response.context["page"].object_list) == 50
    assert "?action=api_key.created&amp;page=2" in response.content.decode()
    second = staff_client.get(AUDIT_LOG, {"action": "api_key.created", "page": 2})
    assert [e.action for e in second.context["page"]] == ["api_key.created"]


def test_audit_log_over_htmx_returns_only_the_table(staff_client, brand):
    record("api_key.created", brand=brand)
    response = staff_client.get(AUDIT_LOG, HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="audit-table">')
    assert "api_key.created" in content


def test_staff_pages_show_gig_counts_across_brands(staff_client, brand, other_brand):
    GigFactory(brand=brand)
    GigFactory(brand=other_brand)
    response = staff_client.get(STAFF_HOME)
    assert response.context["gig_total"] == 2
