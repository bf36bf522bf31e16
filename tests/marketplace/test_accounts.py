"""Sign-up, email verification, log-in and password reset as a person goes through them."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.urls import reverse

from marketplace.models import AccountType, AgentProfile, User
from tests.marketplace.factories import PASSWORD, AgentProfileFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "lantern-orbit-97-quietly"
LAYOUT_MARKER = "Gigdesk · crowd support, paid fairly."


def _signup(client: Client, *, next_url: str | None = None, **overrides):
    data = {
        "full_name": "Ana García",
        "email": "ana@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "account_type": AccountType.AGENT,
    }
    data.update(overrides)
    data = {key: value for key, value in data.items() if value is not None}
    url = reverse("account_signup")
    if next_url:
        data["next"] = next_url
    return client.post(url, data)


def _log_in(client: Client, email: str, password: str = PASSWORD, next_url: str | None = None):
    data = {"login": email, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post(reverse("account_login"), data)


def _link(message, path_prefix: str) -> str:
    match = re.search(rf"https?://[^/\s]+({re.escape(path_prefix)}\S+)", message.body)
    assert match, message.body
    return match.group(1)


def _is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- Sign-up -------------------------------------------------------------------


def test_signup_page_asks_for_name_email_passwords_and_account_type(client):
    response = client.get(reverse("account_signup"))

    html = response.content.decode()
    assert response.status_code == 200
    assert LAYOUT_MARKER in html
    for field in ('name="full_name"', 'name="email"', 'name="password1"', 'name="password2"'):
        assert field in html
    assert "How will you use Gigdesk?" in html
    assert "I want to work as an agent" in html
    assert "I represent a brand" in html
    assert html.count('type="radio" name="account_type"') == 2


def test_signup_fields_are_in_the_order_people_fill_them_in(client):
    html = client.get(reverse("account_signup")).content.decode()

    positions = [
        html.index(f'name="{name}"')
        for name in ("full_name", "email", "password1", "password2", "account_type")
    ]
    assert positions == sorted(positions)


def test_signup_as_agent_creates_agent_account_with_profile(client):
    _signup(client)

    user = User.objects.get(email="ana@example.com")
    assert user.account_type == AccountType.AGENT
    assert user.full_name == "Ana García"
    assert AgentProfile.objects.get(user=user).display_name == "Ana García"


def test_signup_as_brand_creates_brand_account_without_agent_profile(client):
    _signup(client, email="bob@brand.test", account_type=AccountType.BRAND)

    user = User.objects.get(email="bob@brand.test")
    assert user.account_type == AccountType.BRAND
    assert not AgentProfile.objects.filter(user=user).exists()


def test_signup_without_account_type_shows_error_and_creates_nothing(client):
    response = _signup(client, account_type=None)

    assert response.status_code == 200
    assert "Choose how you will use Gigdesk" in response.content.decode()
    assert not User.objects.filter(email="ana@example.com").exists()


def test_signup_with_mismatched_passwords_shows_error_in_page(client):
    response = _signup(client, password2="something-else-entirely")

    assert response.status_code == 200
    assert 'class="errorlist"' in response.content.decode()
    assert not User.objects.exists()


# --- Email verification ----------------------------------------------------------


def test_signup_sends_confirmation_email_and_shows_check_inbox_page(client):
    response = _signup(client)

    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "Check your inbox" in page.content.decode()
    assert LAYOUT_MARKER in page.content.decode()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ana@example.com"]
    assert "/accounts/confirm-email/" in mail.outbox[0].body


def test_new_signup_is_not_logged_in_and_cannot_log_in_before_confirming(client):
    _signup(client)
    assert not _is_logged_in(client)

    response = _log_in(client, "ana@example.com")

    assert not _is_logged_in(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert not EmailAddress.objects.get(email="ana@example.com").verified


def test_following_confirmation_link_lets_agent_log_in_and_land_on_agent_home(client):
    _signup(client)
    confirm_path = _link(mail.outbox[0], "/accounts/confirm-email/")

    page = client.get(confirm_path)
    assert "Confirm my email address" in page.content.decode()
    confirmed = client.post(confirm_path)
    assert confirmed.status_code == 302
    assert EmailAddress.objects.get(email="ana@example.com").verified

    response = _log_in(client, "ana@example.com")
    assert _is_logged_in(client)
    home = client.get(response["Location"])
    assert home.status_code == 302
    assert home["Location"] == reverse("frontend:agent_home")


def test_expired_or_unknown_confirmation_link_explains_what_to_do(client):
    response = client.get(reverse("account_confirm_email", args=["not-a-real-key"]))

    html = response.content.decode()
    assert "expired or was already used" in html
    assert LAYOUT_MARKER in html


def test_next_is_kept_through_signup_and_email_confirmation(client):
    target = "/invitations/abc123/"
    _signup(client, next_url=target)
    confirm_path = _link(mail.outbox[0], "/accounts/confirm-email/")

    confirmed = client.post(confirm_path)

    # Confirming leads to log-in, and the log-in form carries the invitation on.
    assert confirmed.status_code == 302
    assert confirmed["Location"] == f"{reverse('account_login')}?next=%2Finvitations%2Fabc123%2F"
    login_page = client.get(confirmed["Location"]).content.decode()
    assert f'name="next" value="{target}"' in login_page
    response = _log_in(client, "ana@example.com", next_url=target)
    assert response["Location"] == target


def test_confirmation_link_does_not_carry_an_offsite_next(client):
    _signup(client, next_url="https://evil.example/steal")

    assert "evil.example" not in mail.outbox[0].body


# --- Log in, log out ---------------------------------------------------------------


def test_login_by_email_redirects_to_home_which_sends_agent_to_agent_home(client):
    profile = AgentProfileFactory(user__email="agent@example.com")

    response = _log_in(client, "agent@example.com")

    assert response.status_code == 302
    assert response["Location"] == reverse("frontend:home")
    assert int(client.session["_auth_user_id"]) == profile.user.pk
    assert client.get(response["Location"])["Location"] == reverse("frontend:agent_home")


def test_login_is_case_insensitive_on_the_email(client):
    AgentProfileFactory(user__email="agent@example.com")

    _log_in(client, "Agent@Example.com")

    assert _is_logged_in(client)


def test_login_respects_next(client):
    AgentProfileFactory(user__email="agent@example.com")

    response = _log_in(client, "agent@example.com", next_url="/agent/profile/")

    assert response["Location"] == "/agent/profile/"


def test_login_ignores_offsite_next(client):
    AgentProfileFactory(user__email="agent@example.com")

    response = _log_in(client, "agent@example.com", next_url="https://evil.example/")

    assert response["Location"] == reverse("frontend:home")


def test_wrong_password_shows_error_and_does_not_log_in(client):
    AgentProfileFactory(user__email="agent@example.com")

    response = _log_in(client, "agent@example.com", password="not-my-password")

    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()
    assert not _is_logged_in(client)


def test_brand_user_without_brand_lands_on_brand_create_after_login(client):
    UserFactory(email="owner@brand.test", account_type=AccountType.BRAND)

    response = _log_in(client, "owner@brand.test")

    assert client.get(response["Location"])["Location"] == reverse("frontend:brand_create")


def test_login_and_logout_pages_render_inside_gigdesk_layout(client):
    login = client.get(reverse("account_login"))
    assert LAYOUT_MARKER in login.content.decode()
    assert "Log in to Gigdesk" in login.content.decode()

    client.force_login(UserFactory())
    logout = client.get(reverse("account_logout"))
    assert LAYOUT_MARKER in logout.content.decode()
    client.post(reverse("account_logout"))
    assert not _is_logged_in(client)


def test_user_menu_links_to_two_factor_settings(client):
    client.force_login(AgentProfileFactory().user)

    html = client.get(reverse("account_email")).content.decode()

    assert f'href="{reverse("mfa_index")}"' in html
    assert "Two-factor" in html


# --- Password reset ------------------------------------------------------------------


def test_password_reset_pages_render_inside_gigdesk_layout(client):
    for name in ("account_reset_password", "account_reset_password_done"):
        response = client.get(reverse(name))
        assert response.status_code == 200
        assert LAYOUT_MARKER in response.content.decode()


def test_password_reset_sends_email_with_key_link(client):
    UserFactory(email="forgetful@example.com")

    response = client.post(reverse("account_reset_password"), {"email": "forgetful@example.com"})

    assert response["Location"] == reverse("account_reset_password_done")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["forgetful@example.com"]
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


def test_password_reset_key_link_changes_the_password(client):
    user = UserFactory(email="forgetful@example.com")
    client.post(reverse("account_reset_password"), {"email": "forgetful@example.com"})
    key_path = _link(mail.outbox[0], "/accounts/password/reset/key/")

    # allauth moves the key into the session and redirects to a key-less URL.
    form_page = client.get(key_path, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    form_url = form_page.redirect_chain[-1][0]
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_from_key_done")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not user.check_password(PASSWORD)


def test_used_password_reset_link_no_longer_works(client):
    UserFactory(email="forgetful@example.com")
    client.post(reverse("account_reset_password"), {"email": "forgetful@example.com"})
    key_path = _link(mail.outbox[0], "/accounts/password/reset/key/")
    form_url = client.get(key_path, follow=True).redirect_chain[-1][0]
    client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    again = Client().get(key_path, follow=True)

    assert "This link no longer works" in again.content.decode()


def test_password_reset_for_unknown_email_sends_no_reset_link(client):
    client.post(reverse("account_reset_password"), {"email": "nobody@example.com"})

    assert all("/accounts/password/reset/key/" not in m.body for m in mail.outbox)
