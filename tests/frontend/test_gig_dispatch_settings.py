"""Brand console gig form and detail page: dispatch mode help and the timing settings
(reservation timeout, lease, heartbeat grace, billable cap)."""

import pytest
from django.urls import reverse

from gigs.models import Gig
from marketplace.models import AuditEvent
from tests.frontend.test_gig_pages import _gig_post
from tests.gigs.factories import GigFactory

TIMING_POST = {
    "reservation_timeout_seconds": "45",
    "lease_seconds": "600",
    "heartbeat_grace_seconds": "90",
    "max_billable_minutes": "30",
}
DEFAULTS = {
    "reservation_timeout_seconds": 30,
    "lease_seconds": 300,
    "heartbeat_grace_seconds": 60,
    "max_billable_minutes": 60,
}


def _url(name, brand, *args):
    return reverse(f"frontend:{name}", args=[brand.slug, *args])


def _timing(gig) -> dict:
    return {name: getattr(gig, name) for name in DEFAULTS}


def test_form_explains_open_and_directed_dispatch(admin_client, brand):
    page = admin_client.get(_url("gig_create", brand)).content.decode()
    assert "Open claim: every qualified agent who is online sees each task" in page
    assert "Directed offer: the best-matched online agent gets the task reserved" in page


def test_form_states_each_settings_bounds(admin_client, brand):
    page = admin_client.get(_url("gig_create", brand)).content.decode()
    assert "From 5 seconds to 600 seconds (10 minutes)." in page
    assert "From 1 minute to 1440 minutes (24 hours)." in page


def test_new_gig_form_starts_from_the_defaults(admin_client, brand):
    form = admin_client.get(_url("gig_create", brand)).context["form"]
    assert {name: form[name].value() for name in DEFAULTS} == DEFAULTS


def test_admin_posts_a_gig_with_timing_settings(admin_client, brand):
    response = admin_client.post(_url("gig_create", brand), _gig_post(**TIMING_POST))

    assert response.status_code == 302
    gig = Gig.objects.get(brand=brand)
    assert _timing(gig) == {name: int(value) for name, value in TIMING_POST.items()}


def test_timing_left_empty_takes_the_defaults(admin_client, brand):
    admin_client.post(_url("gig_create", brand), _gig_post(**dict.fromkeys(TIMING_POST, "")))

    assert _timing(Gig.objects.get(brand=brand)) == DEFAULTS


def test_edit_form_shows_the_current_timing(admin_client, brand):
    gig = GigFactory(brand=brand, lease_seconds=900, reservation_timeout_seconds=20)

    form = admin_client.get(_url("gig_edit", brand, gig.pk)).context["form"]

    assert (form["lease_seconds"].value(), form["reservation_timeout_seconds"].value()) == (
        900,
        20,
    )


def test_admin_edits_the_timing_and_the_change_is_audited(admin_client, brand, gig):
    response = admin_client.post(
        _url("gig_edit", brand, gig.pk),
        _gig_post(title=gig.title, language=gig.language, lease_seconds="1200"),
    )

    gig.refresh_from_db()
    assert response.status_code == 302
    assert gig.lease_seconds == 1200
    event = AuditEvent.objects.get(action="gig.updated", target_id=str(gig.pk))
    assert event.changes["lease_seconds"] == [300, 1200]


def test_edit_with_a_setting_left_empty_keeps_its_value(admin_client, brand):
    gig = GigFactory(brand=brand, heartbeat_grace_seconds=120)

    admin_client.post(
        _url("gig_edit", brand, gig.pk),
        _gig_post(title=gig.title, heartbeat_grace_seconds="", lease_seconds="600"),
    )

    gig.refresh_from_db()
    assert (gig.heartbeat_grace_seconds, gig.lease_seconds) == (120, 600)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("reservation_timeout_seconds", "4", "Use at least 5 seconds."),
        ("reservation_timeout_seconds", "601", "Use at most 600 seconds (10 minutes)."),
        ("heartbeat_grace_seconds", "10", "Use at least 15 seconds."),
        ("lease_seconds", "30", "Use at least 60 seconds (1 minute)."),
        ("lease_seconds", "3601", "Use at most 3600 seconds (1 hour)."),
        ("lease_seconds", "five", "Enter a whole number of seconds."),
        ("max_billable_minutes", "0", "Use at least 1 minute."),
        ("max_billable_minutes", "1441", "Use at most 1440 minutes (24 hours)."),
        ("max_billable_minutes", "2.5", "Enter a whole number of minutes."),
    ],
)
def test_bad_timing_is_shown_and_nothing_is_created(admin_client, brand, field, value, message):
    response = admin_client.post(_url("gig_create", brand), _gig_post(**{field: value}))

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert message in response.content.decode()
    assert not Gig.objects.filter(brand=brand).exists()


def test_bad_timing_on_edit_changes_nothing(admin_client, brand, gig):
    response = admin_client.post(
        _url("gig_edit", brand, gig.pk),
        _gig_post(title="Renamed", lease_seconds="5", reservation_timeout_seconds="9999"),
    )

    gig.refresh_from_db()
    assert set(response.context["form"].errors) == {"lease_seconds", "reservation_timeout_seconds"}
    assert (gig.title, gig.lease_seconds, gig.reservation_timeout_seconds) == (
        "Order support (EN)",
        300,
        30,
    )


def test_gig_detail_shows_the_timing(admin_client, brand):
    gig = GigFactory(brand=brand, lease_seconds=900, max_billable_minutes=15)

    page = admin_client.get(_url("gig_detail", brand, gig.pk)).content.decode()

    assert "900 seconds" in page
    assert "15 minutes" in page
    assert "Reservation timeout" in page


def test_other_brands_gig_timing_cannot_be_edited(admin_client, brand, other_gig):
    response = admin_client.post(
        _url("gig_edit", brand, other_gig.pk), _gig_post(lease_seconds="1200")
    )

    other_gig.refresh_from_db()
    assert response.status_code == 404
    assert other_gig.lease_seconds == 300
