"""Invitations end to end: the email, the accept page, and every way it refuses."""

import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from brands.models import BrandInvitation, BrandMembership, BrandRole
from brands.services import invitation_create, invitation_revoke
from marketplace.models import AuditEvent
from tests.marketplace.factories import PASSWORD, UserFactory

INVITED = "pat@acme.test"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def invite_link(admin_client, brand, django_capture_on_commit_callbacks) -> str:
    """Invite through the team page and return the link's path from the email."""
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("frontend:brand_team", args=[brand.slug]),
            {"email": INVITED, "role": BrandRole.QA_REVIEWER},
        )
    (message,) = mail.outbox
    match = re.search(r"https?://[^/\s]+(/invitations/\S+/)", message.body)
    assert match, message.body
    return match.group(1)


@pytest.fixture
def invited_user(db):
    return UserFactory(email=INVITED)


def test_invitation_email_goes_to_the_invited_address(invite_link):
    assert mail.outbox[0].to == [INVITED]
    assert "Acme Outdoors" in mail.outbox[0].subject


def test_anonymous_visitor_sees_brand_and_role_and_how_to_sign_in(client, invite_link):
    response = client.get(invite_link)
    content = response.content.decode()
    assert response.status_code == 200
    assert "Acme Outdoors" in content
    assert "QA reviewer" in content
    next_param = f"?next={quote(invite_link, safe='')}"
    assert reverse("account_signup") + next_param in content
    assert reverse("account_login") + next_param in content


def test_logging_in_from_the_invitation_returns_to_it(client, invite_link, invited_user):
    response = client.post(
        reverse("account_login"), {"login": INVITED, "password": PASSWORD, "next": invite_link}
    )
    assert response.status_code == 302
    assert response.url == invite_link


def test_invited_user_sees_an_accept_button(invite_link, invited_user):
    content = client_for(invited_user).get(invite_link).content.decode()
    assert "Accept and join Acme Outdoors" in content


def test_accepting_makes_the_invited_user_a_member(brand, invite_link, invited_user):
    response = client_for(invited_user).post(invite_link)
    assert response.status_code == 302
    assert response.url == reverse("frontend:brand_home", args=[brand.slug])
    membership = BrandMembership.objects.get(brand=brand, user=invited_user)
    assert membership.role == BrandRole.QA_REVIEWER


def test_new_member_can_open_the_brand(brand, invite_link, invited_user):
    client = client_for(invited_user)
    client.post(invite_link)
    assert client.get(reverse("frontend:brand_home", args=[brand.slug])).status_code == 200


def test_acceptance_is_audited(brand, invite_link, invited_user):
    client_for(invited_user).post(invite_link)
    event = AuditEvent.objects.get(action="member.joined")
    assert (event.actor, event.brand) == (invited_user, brand)
    assert event.changes["role"] == BrandRole.QA_REVIEWER


def test_accepting_marks_the_invitation_used(invite_link, invited_user):
    client_for(invited_user).post(invite_link)
    invitation = BrandInvitation.objects.get()
    assert invitation.status == "accepted"
    assert invitation.accepted_by == invited_user


def test_wrong_account_is_told_which_address_was_invited(invite_link):
    content = client_for(UserFactory(email="someone@else.test")).get(invite_link).content.decode()
    assert f"This invitation was sent to {INVITED}" in content
    assert "Accept and join" not in content


def test_wrong_account_cannot_accept(brand, invite_link):
    stranger = UserFactory(email="someone@else.test")
    response = client_for(stranger).post(invite_link)
    assert response.status_code == 403
    assert not BrandMembership.objects.filter(brand=brand, user=stranger).exists()
    assert BrandInvitation.objects.get().status == "pending"


def test_revoked_invitation_is_refused(brand, brand_admin, invite_link, invited_user):
    invitation_revoke(invitation=BrandInvitation.objects.get(), actor=brand_admin)
    client = client_for(invited_user)
    assert "withdrawn by the brand" in client.get(invite_link).content.decode()
    response = client.post(invite_link)
    assert response.status_code == 400
    assert "it is revoked" in response.content.decode()
    assert not BrandMembership.objects.filter(brand=brand, user=invited_user).exists()


def test_expired_invitation_is_refused(brand, invite_link, invited_user):
    BrandInvitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    client = client_for(invited_user)
    assert "has expired" in client.get(invite_link).content.decode()
    response = client.post(invite_link)
    assert response.status_code == 400
    assert not BrandMembership.objects.filter(brand=brand, user=invited_user).exists()


def test_used_invitation_cannot_be_used_twice(brand, invite_link, invited_user):
    client_for(invited_user).post(invite_link)
    second = UserFactory(email="second@acme.test")
    response = client_for(second).post(invite_link)
    assert response.status_code == 400
    assert not BrandMembership.objects.filter(brand=brand, user=second).exists()


def test_unknown_token_shows_a_friendly_page(client, db):
    response = client.get(reverse("frontend:invitation_accept", args=["not-a-real-token"]))
    assert response.status_code == 404
    assert "This invitation link is not valid" in response.content.decode()


def test_anonymous_post_is_sent_to_log_in(client, brand, invite_link):
    response = client.post(invite_link)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert not BrandMembership.objects.filter(brand=brand, user__email=INVITED).exists()


def test_new_invitation_replaces_the_pending_one(brand, brand_admin, invite_link, invited_user):
    invitation_create(brand=brand, invited_by=brand_admin, email=INVITED, role=BrandRole.ADMIN)
    response = client_for(invited_user).post(invite_link)
    assert response.status_code == 400
    assert not BrandMembership.objects.filter(brand=brand, user=invited_user).exists()


def test_revocation_is_audited(brand, brand_admin, invite_link):
    invitation_revoke(invitation=BrandInvitation.objects.get(), actor=brand_admin)
    event = AuditEvent.objects.get(action="member.invitation_revoked")
    assert (event.actor, event.brand) == (brand_admin, brand)
