"""Brand console pages: create, overview, team, API keys; role rules and tenant isolation."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from brands.models import ApiKey, Brand, BrandInvitation, BrandMembership, BrandRole
from brands.services import api_key_create, invitation_create
from gigs.models import GigStatus, TaskStatus
from marketplace.models import AuditEvent
from tests.brands.factories import MembershipFactory
from tests.gigs.factories import GigFactory, TaskFactory
from tests.marketplace.factories import AgentUserFactory, UserFactory


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def brand_qa(brand):
    return MembershipFactory(
        brand=brand, role=BrandRole.QA_REVIEWER, user__email="qa@acme.test"
    ).user


@pytest.fixture
def viewer_client(brand_viewer) -> Client:
    return client_for(brand_viewer)


@pytest.fixture
def qa_client(brand_qa) -> Client:
    return client_for(brand_qa)


def url(name, *args):
    return reverse(f"frontend:{name}", args=args)


# --- brand_create -------------------------------------------------------------------


def test_brand_create_page_asks_anonymous_users_to_log_in(client):
    response = client.get(url("brand_create"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_brand_create_page_renders_for_any_signed_in_user(db):
    response = client_for(AgentUserFactory()).get(url("brand_create"))
    assert response.status_code == 200
    assert b'name="time_zone"' in response.content


def test_creating_a_brand_makes_the_creator_its_admin(db):
    user = UserFactory()
    response = client_for(user).post(
        url("brand_create"), {"name": "Northwind Coffee", "time_zone": "Europe/Madrid"}
    )
    brand = Brand.objects.get(name="Northwind Coffee")
    assert response.status_code == 302
    assert response.url == url("brand_home", brand.slug)
    assert brand.time_zone == "Europe/Madrid"
    assert BrandMembership.objects.get(brand=brand, user=user).role == BrandRole.ADMIN


def test_brand_create_refuses_an_unknown_time_zone(db):
    response = client_for(UserFactory()).post(
        url("brand_create"), {"name": "Northwind Coffee", "time_zone": "Mars/Olympus"}
    )
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not Brand.objects.filter(name="Northwind Coffee").exists()


def test_brand_create_refuses_a_blank_name(db):
    response = client_for(UserFactory()).post(
        url("brand_create"), {"name": "   ", "time_zone": "UTC"}
    )
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not Brand.objects.exists()


# --- brand_home -----------------------------------------------------------------------


@pytest.mark.parametrize("client_fixture", ["admin_client", "viewer_client", "qa_client"])
def test_brand_home_renders_for_every_role(request, brand, client_fixture):
    client = request.getfixturevalue(client_fixture)
    response = client.get(url("brand_home", brand.slug))
    assert response.status_code == 200
    assert brand.name in response.content.decode()


def test_brand_home_of_another_brand_is_not_found(admin_client, other_brand):
    assert admin_client.get(url("brand_home", other_brand.slug)).status_code == 404


def test_not_found_page_is_the_friendly_one(admin_client, other_brand):
    response = admin_client.get(url("brand_home", other_brand.slug))
    assert "couldn’t find that page" in response.content.decode()


def test_brand_home_of_a_new_brand_says_to_post_a_gig_first(admin_client, brand):
    content = admin_client.get(url("brand_home", brand.slug)).content.decode()
    assert "Post your first gig" in content
    assert url("gig_create", brand.slug) in content


def test_brand_home_counts_gigs_by_status(admin_client, brand):
    GigFactory.create_batch(2, brand=brand, status=GigStatus.ACTIVE)
    GigFactory(brand=brand, status=GigStatus.PAUSED)
    response = admin_client.get(url("brand_home", brand.slug))
    counts = {row["value"]: row["count"] for row in response.context["gig_counts"]}
    assert counts == {"active": 2, "paused": 1, "closed": 0}


def test_brand_home_counts_only_open_tasks_of_this_brand(admin_client, gig, other_gig):
    TaskFactory.create_batch(3, gig=gig, status=TaskStatus.QUEUED)
    # Several tasks per gig must not multiply the gig count.
    TaskFactory(gig=gig, status=TaskStatus.CLAIMED)
    TaskFactory(gig=gig, status=TaskStatus.RESOLVED)
    TaskFactory(gig=other_gig, status=TaskStatus.QUEUED)
    response = admin_client.get(url("brand_home", gig.brand.slug))
    counts = {row["value"]: row["count"] for row in response.context["open_task_counts"]}
    assert counts == {"queued": 3, "offered": 0, "claimed": 1}
    assert response.context["gig_total"] == 1


def test_brand_home_lists_recent_tasks_of_this_brand_only(admin_client, gig, other_gig):
    TaskFactory(gig=gig, subject="Parcel never arrived")
    TaskFactory(gig=other_gig, subject="Borealis invoice question")
    content = admin_client.get(url("brand_home", gig.brand.slug)).content.decode()
    assert "Parcel never arrived" in content
    assert "Borealis invoice question" not in content


def test_brand_home_shows_at_most_ten_recent_tasks(admin_client, gig):
    TaskFactory.create_batch(12, gig=gig)
    response = admin_client.get(url("brand_home", gig.brand.slug))
    assert len(response.context["recent_tasks"]) == 10


# --- brand_team -------------------------------------------------------------------------


@pytest.mark.parametrize("client_fixture", ["admin_client", "viewer_client", "qa_client"])
def test_team_page_lists_members_for_every_role(request, brand, brand_admin, client_fixture):
    client = request.getfixturevalue(client_fixture)
    response = client.get(url("brand_team", brand.slug))
    assert response.status_code == 200
    assert brand_admin.email in response.content.decode()


def test_team_page_of_another_brand_is_not_found(admin_client, other_brand):
    assert admin_client.get(url("brand_team", other_brand.slug)).status_code == 404


def test_admin_sees_invite_form_and_role_controls(admin_client, brand):
    content = admin_client.get(url("brand_team", brand.slug)).content.decode()
    assert 'name="email"' in content
    assert 'name="role"' in content
    assert "Remove" in content


def test_viewer_sees_team_read_only(viewer_client, brand):
    content = viewer_client.get(url("brand_team", brand.slug)).content.decode()
    assert 'name="email"' not in content
    assert 'name="role"' not in content
    assert "Only admins can invite" in content


def test_admin_invites_a_teammate_by_email(admin_client, brand, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url("brand_team", brand.slug),
            {"email": "New.Person@acme.test", "role": "qa_reviewer"},
        )
    assert response.status_code == 302
    invitation = BrandInvitation.objects.get(brand=brand)
    assert (invitation.email, invitation.role) == ("new.person@acme.test", "qa_reviewer")
    assert mail.outbox[0].to == ["new.person@acme.test"]


def test_pending_invitation_is_listed_with_its_status(admin_client, brand, brand_admin):
    invitation_create(brand=brand, invited_by=brand_admin, email="pat@acme.test", role="viewer")
    content = admin_client.get(url("brand_team", brand.slug)).content.decode()
    assert "pat@acme.test" in content
    assert "badge-pending" in content


@pytest.mark.parametrize("client_fixture", ["viewer_client", "qa_client"])
def test_non_admins_may_not_invite(request, brand, client_fixture):
    client = request.getfixturevalue(client_fixture)
    response = client.post(url("brand_team", brand.slug), {"email": "x@acme.test", "role": "admin"})
    assert response.status_code == 403
    assert not BrandInvitation.objects.exists()


def test_forbidden_page_explains_the_role_rule(viewer_client, brand):
    response = viewer_client.post(url("brand_team", brand.slug), {"email": "x@acme.test"})
    assert "Only admins of Acme Outdoors" in response.content.decode()


def test_inviting_an_existing_member_shows_the_reason(admin_client, brand, brand_viewer):
    response = admin_client.post(
        url("brand_team", brand.slug), {"email": brand_viewer.email, "role": "viewer"}
    )
    assert response.status_code == 200
    assert "Already a member of this brand." in response.content.decode()
    assert not BrandInvitation.objects.exists()


def test_inviting_an_invalid_address_changes_nothing(
    admin_client, brand, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url("brand_team", brand.slug), {"email": "not-an-address", "role": "viewer"}
        )
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not BrandInvitation.objects.exists()
    assert mail.outbox == []


# --- member_update ----------------------------------------------------------------------


def membership_of(user, brand):
    return BrandMembership.objects.get(user=user, brand=brand)


def test_admin_changes_a_members_role(admin_client, brand, brand_viewer):
    membership = membership_of(brand_viewer, brand)
    response = admin_client.post(
        url("member_update", brand.slug, membership.pk), {"action": "set_role", "role": "admin"}
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == BrandRole.ADMIN
    assert AuditEvent.objects.filter(action="member.role_changed", brand=brand).exists()


def test_role_change_over_htmx_returns_the_team_lists(admin_client, brand, brand_viewer):
    membership = membership_of(brand_viewer, brand)
    response = admin_client.post(
        url("member_update", brand.slug, membership.pk),
        {"action": "set_role", "role": "qa_reviewer"},
        HTTP_HX_REQUEST="true",
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert content.lstrip().startswith('<div id="team-lists">')
    assert "is now QA reviewer" in content


def test_last_admin_cannot_be_demoted(admin_client, brand, brand_admin):
    membership = membership_of(brand_admin, brand)
    response = admin_client.post(
        url("member_update", brand.slug, membership.pk),
        {"action": "set_role", "role": "viewer"},
        follow=True,
    )
    membership.refresh_from_db()
    assert membership.role == BrandRole.ADMIN
    assert "must keep at least one admin" in response.content.decode()


def test_last_admin_cannot_be_removed(admin_client, brand, brand_admin):
    membership = membership_of(brand_admin, brand)
    response = admin_client.post(
        url("member_update", brand.slug, membership.pk), {"action": "remove"}, follow=True
    )
    assert BrandMembership.objects.filter(pk=membership.pk).exists()
    assert "must keep at least one admin" in response.content.decode()


def test_admin_removes_a_member(admin_client, brand, brand_viewer):
    membership = membership_of(brand_viewer, brand)
    admin_client.post(url("member_update", brand.slug, membership.pk), {"action": "remove"})
    assert not BrandMembership.objects.filter(pk=membership.pk).exists()
    assert AuditEvent.objects.filter(action="member.removed", brand=brand).exists()


def test_admin_who_removes_themselves_is_sent_home(admin_client, brand, brand_admin):
    MembershipFactory(brand=brand, role=BrandRole.ADMIN)
    membership = membership_of(brand_admin, brand)
    response = admin_client.post(
        url("member_update", brand.slug, membership.pk), {"action": "remove"}
    )
    assert response.url == url("home")
    assert not BrandMembership.objects.filter(pk=membership.pk).exists()


def test_member_update_with_an_unknown_role_changes_nothing(admin_client, brand, brand_viewer):
    membership = membership_of(brand_viewer, brand)
    admin_client.post(
        url("member_update", brand.slug, membership.pk), {"action": "set_role", "role": "owner"}
    )
    membership.refresh_from_db()
    assert membership.role == BrandRole.VIEWER


@pytest.mark.parametrize("client_fixture", ["viewer_client", "qa_client"])
def test_non_admins_may_not_change_roles(request, brand, brand_admin, client_fixture):
    client = request.getfixturevalue(client_fixture)
    membership = membership_of(brand_admin, brand)
    response = client.post(
        url("member_update", brand.slug, membership.pk), {"action": "set_role", "role": "viewer"}
    )
    assert response.status_code == 403
    membership.refresh_from_db()
    assert membership.role == BrandRole.ADMIN


def test_member_of_another_brand_is_not_found(admin_client, brand, other_admin, other_brand):
    other_membership = membership_of(other_admin, other_brand)
    response = admin_client.post(
        url("member_update", brand.slug, other_membership.pk), {"action": "remove"}
    )
    assert response.status_code == 404
    assert BrandMembership.objects.filter(pk=other_membership.pk).exists()


def test_member_update_refuses_get(admin_client, brand, brand_viewer):
    membership = membership_of(brand_viewer, brand)
    assert admin_client.get(url("member_update", brand.slug, membership.pk)).status_code == 405


# --- invitation_revoke --------------------------------------------------------------------


@pytest.fixture
def invitation(brand, brand_admin):
    return invitation_create(
        brand=brand, invited_by=brand_admin, email="pat@acme.test", role="viewer"
    ).invitation


def test_admin_revokes_a_pending_invitation(admin_client, brand, invitation):
    response = admin_client.post(url("invitation_revoke", brand.slug, invitation.pk))
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == "revoked"


def test_revoking_twice_shows_why_nothing_changed(admin_client, brand, invitation):
    admin_client.post(url("invitation_revoke", brand.slug, invitation.pk))
    response = admin_client.post(url("invitation_revoke", brand.slug, invitation.pk), follow=True)
    assert "already revoked" in response.content.decode()


def test_viewer_may_not_revoke_invitations(viewer_client, brand, invitation):
    response = viewer_client.post(url("invitation_revoke", brand.slug, invitation.pk))
    assert response.status_code == 403
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_invitation_of_another_brand_is_not_found(admin_client, brand, other_brand, other_admin):
    foreign = invitation_create(
        brand=other_brand, invited_by=other_admin, email="x@borealis.test", role="viewer"
    ).invitation
    response = admin_client.post(url("invitation_revoke", brand.slug, foreign.pk))
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == "pending"


# --- API keys -------------------------------------------------------------------------------


def test_api_key_page_renders_for_admins(admin_client, brand, api_secret):
    key = ApiKey.objects.get(brand=brand)
    content = admin_client.get(url("api_key_list", brand.slug)).content.decode()
    assert "Helpdesk sync" in content
    assert f"gdk_{key.prefix}_…" in content
    assert "never" in content
    assert api_secret not in content


@pytest.mark.parametrize("client_fixture", ["viewer_client", "qa_client"])
def test_non_admins_may_not_see_api_keys(request, brand, api_secret, client_fixture):
    client = request.getfixturevalue(client_fixture)
    response = client.get(url("api_key_list", brand.slug))
    assert response.status_code == 403
    assert "Helpdesk sync" not in response.content.decode()


def test_api_keys_of_another_brand_are_not_found(admin_client, other_brand):
    assert admin_client.get(url("api_key_list", other_brand.slug)).status_code == 404


def test_new_key_secret_is_shown_once(admin_client, brand):
    response = admin_client.post(url("api_key_list", brand.slug), {"name": "Zendesk"})
    secret = response.context["issued"].secret
    assert response.status_code == 200
    assert f'<code class="secret" id="new-secret">{secret}</code>' in response.content.decode()
    assert "will not be shown again" in response.content.decode()
    assert secret not in admin_client.get(url("api_key_list", brand.slug)).content.decode()


def test_new_key_page_is_not_cached(admin_client, brand):
    response = admin_client.post(url("api_key_list", brand.slug), {"name": "Zendesk"})
    assert "no-store" in response["Cache-Control"]


def test_new_key_secret_is_not_kept_in_the_session(admin_client, brand):
    response = admin_client.post(url("api_key_list", brand.slug), {"name": "Zendesk"})
    secret = response.context["issued"].secret
    assert secret not in str(dict(admin_client.session.items()))


def test_api_key_needs_a_name(admin_client, brand):
    response = admin_client.post(url("api_key_list", brand.slug), {"name": ""})
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not ApiKey.objects.exists()


def test_viewer_may_not_create_api_keys(viewer_client, brand):
    response = viewer_client.post(url("api_key_list", brand.slug), {"name": "Sneaky"})
    assert response.status_code == 403
    assert not ApiKey.objects.exists()


def test_admin_revokes_a_key_and_it_is_audited(admin_client, brand, api_secret):
    key = ApiKey.objects.get(brand=brand)
    response = admin_client.post(url("api_key_revoke", brand.slug, key.pk))
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    event = AuditEvent.objects.get(action="api_key.revoked")
    assert (event.brand, event.target_id) == (brand, str(key.pk))


def test_revoked_key_is_listed_as_revoked(admin_client, brand, api_secret):
    key = ApiKey.objects.get(brand=brand)
    admin_client.post(url("api_key_revoke", brand.slug, key.pk))
    content = admin_client.get(url("api_key_list", brand.slug)).content.decode()
    assert "badge-revoked" in content
    assert url("api_key_revoke", brand.slug, key.pk) not in content


def test_revoke_button_asks_for_confirmation(admin_client, brand, api_secret):
    content = admin_client.get(url("api_key_list", brand.slug)).content.decode()
    assert 'onclick="return confirm(' in content


def test_viewer_may_not_revoke_keys(viewer_client, brand, api_secret):
    key = ApiKey.objects.get(brand=brand)
    assert viewer_client.post(url("api_key_revoke", brand.slug, key.pk)).status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None


def test_key_of_another_brand_is_not_found(admin_client, brand, other_brand, other_api_secret):
    foreign = ApiKey.objects.get(brand=other_brand)
    response = admin_client.post(url("api_key_revoke", brand.slug, foreign.pk))
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


def test_api_key_revoke_refuses_get(admin_client, brand, api_secret):
    key = ApiKey.objects.get(brand=brand)
    assert admin_client.get(url("api_key_revoke", brand.slug, key.pk)).status_code == 405


def test_api_key_list_paginates(admin_client, brand, brand_admin):
    for n in range(51):
        api_key_create(brand=brand, name=f"Key {n}", created_by=brand_admin)
    response = admin_client.get(url("api_key_list", brand.slug))
    assert len(response.context["keys_page"].object_list) == 50
    assert "?page=2" in response.content.decode()
