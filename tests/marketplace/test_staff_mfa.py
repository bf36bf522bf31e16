"""Platform staff must turn on an authenticator app (TOTP); everyone else may."""

from __future__ import annotations

import time

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.test import Client
from django.urls import reverse

from tests.marketplace.factories import (
    PASSWORD,
    AgentProfileFactory,
    StaffUserFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ACTIVATE_URL = reverse("mfa_activate_totp")
LAYOUT_MARKER = "Gigdesk · crowd support, paid fairly."


def _current_code(secret: str) -> str:
    counter = int(time.time()) // mfa_settings.TOTP_PERIOD
    return format_hotp_value(hotp_value(secret, counter))


def _log_in(client: Client, email: str):
    return client.post(reverse("account_login"), {"login": email, "password": PASSWORD})


def _log_in_and_confirm_password(client: Client, email: str) -> None:
    """Log in, then confirm the password again as allauth asks before changing two-factor."""
    _log_in(client, email)
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302, response.content.decode()


def _activate_totp(user) -> str:
    """What allauth's activation view stores once the code checks out."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


@pytest.fixture
def staff(db):
    return StaffUserFactory(email="staff@gigdesk.test")


@pytest.fixture
def staff_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.mark.parametrize("path", ["/staff/", "/admin/", "/staff/audit/"])
def test_staff_without_totp_is_sent_to_totp_activation(staff_client, path):
    response = staff_client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith(ACTIVATE_URL)
    assert f"next={path.replace('/', '%2F')}" in response["Location"]


def test_staff_redirect_explains_why_two_factor_is_needed(staff_client):
    response = staff_client.get("/staff/", follow=True)

    assert "must turn on two-factor authentication" in response.content.decode()


def test_staff_without_totp_may_still_use_account_pages(staff_client):
    response = staff_client.get(reverse("mfa_index"))

    assert response.status_code == 200


def test_staff_with_totp_reaches_admin(staff, staff_client):
    _activate_totp(staff)

    response = staff_client.get("/admin/")

    assert response.status_code == 200


def test_staff_with_totp_reaches_staff_console(staff, staff_client):
    _activate_totp(staff)

    response = staff_client.get("/staff/")

    assert response.status_code == 200


def test_recovery_codes_alone_do_not_count_as_totp(staff, staff_client):
    Authenticator.objects.create(
        user=staff, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "x"}
    )

    response = staff_client.get("/admin/")

    assert response["Location"].startswith(ACTIVATE_URL)


def test_agent_without_totp_is_never_forced(client):
    client.force_login(AgentProfileFactory().user)

    response = client.get(reverse("frontend:agent_home"))

    assert response.status_code == 200


def test_brand_user_opening_admin_is_not_sent_to_totp_activation(client):
    client.force_login(UserFactory())

    response = client.get("/admin/")

    # The admin turns non-staff away to its own log-in; two-factor is not forced on them.
    assert response.status_code == 302
    assert not response["Location"].startswith(ACTIVATE_URL)


def test_totp_activation_first_asks_to_confirm_password_inside_layout(client, staff):
    _log_in(client, staff.email)

    response = client.get(ACTIVATE_URL, follow=True)

    html = response.content.decode()
    assert response.redirect_chain[-1][0].startswith(reverse("account_reauthenticate"))
    assert 'name="password"' in html
    assert LAYOUT_MARKER in html


def test_totp_activation_page_shows_qr_code_and_secret_in_layout(client, staff):
    _log_in_and_confirm_password(client, staff.email)

    response = client.get(ACTIVATE_URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert LAYOUT_MARKER in html
    assert 'src="data:image/svg+xml;base64,' in html
    assert client.session[SECRET_SESSION_KEY] in html
    assert "Platform staff need two-factor authentication" in html


def test_staff_activating_totp_with_a_valid_code_then_reaches_staff_pages(client, staff):
    _log_in(client, staff.email)
    assert client.get("/admin/")["Location"].startswith(ACTIVATE_URL)
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    client.get(ACTIVATE_URL)
    secret = client.session[SECRET_SESSION_KEY]

    response = client.post(ACTIVATE_URL, {"code": _current_code(secret)})

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    assert Authenticator.objects.filter(user=staff, type=Authenticator.Type.TOTP).exists()
    codes_page = client.get(response["Location"]).content.decode()
    assert "Recovery codes" in codes_page
    assert "continue to the staff console" in codes_page
    assert client.get("/admin/").status_code == 200


def test_wrong_totp_code_shows_error_and_activates_nothing(client, staff):
    _log_in_and_confirm_password(client, staff.email)
    client.get(ACTIVATE_URL)

    response = client.post(ACTIVATE_URL, {"code": "000000"})

    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()
    assert not Authenticator.objects.filter(user=staff).exists()


def test_login_with_totp_asks_for_code_inside_layout_then_logs_in(client, staff):
    secret = _activate_totp(staff)

    response = _log_in(client, staff.email)
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    page = client.get(response["Location"]).content.decode()
    assert "Two-factor authentication" in page
    assert LAYOUT_MARKER in page

    done = client.post(reverse("mfa_authenticate"), {"code": _current_code(secret)})

    assert done.status_code == 302
    assert int(client.session["_auth_user_id"]) == staff.pk


def test_agent_can_open_two_factor_settings_and_activation(client):
    profile = AgentProfileFactory(user__email="agent@example.com")
    _log_in_and_confirm_password(client, profile.user.email)

    index = client.get(reverse("mfa_index"))
    activate = client.get(ACTIVATE_URL)

    assert index.status_code == 200
    assert "Set up an authenticator app" in index.content.decode()
    assert LAYOUT_MARKER in index.content.decode()
    assert activate.status_code == 200
    assert "Platform staff need" not in activate.content.decode()


def test_two_factor_page_shows_app_on_and_recovery_codes_after_activation(client, staff):
    _log_in_and_confirm_password(client, staff.email)
    client.get(ACTIVATE_URL)
    client.post(ACTIVATE_URL, {"code": _current_code(client.session[SECRET_SESSION_KEY])})

    html = client.get(reverse("mfa_index")).content.decode()

    assert "Turn off" in html
    assert "10 of 10 one-time codes left" in html
