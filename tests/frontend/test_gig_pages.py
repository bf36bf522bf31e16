"""Brand console gig pages: list, post, edit, pause/resume/close, roles and tenant isolation."""

import pytest
from django.test import Client
from django.urls import reverse

from gigs.models import Gig, GigStatus, PayModel
from marketplace.models import AuditEvent
from tests.gigs.factories import GigFactory, TaskFactory
from tests.marketplace.factories import SkillFactory


def _url(name, brand, *args):
    return reverse(f"frontend:{name}", args=[brand.slug, *args])


def _gig_post(**overrides):
    data = {
        "title": "Returns desk (DE)",
        "description": "Handle return requests.",
        "language": "de",
        "min_language_level": "C1",
        "pay_model": PayModel.PER_RESOLUTION,
        "rate": "2.50",
        "currency": "EUR",
        "budget_cap": "",
        "max_tasks_per_agent": "2",
        "sla_first_response_minutes": "30",
        "dispatch_mode": "open",
    }
    data.update(overrides)
    return data


@pytest.fixture
def viewer_client(brand_viewer):
    client = Client()
    client.force_login(brand_viewer)
    return client


# --- List -------------------------------------------------------------------------


def test_gig_list_shows_rate_in_major_units_with_currency(admin_client, brand):
    GigFactory(brand=brand, title="Billing", rate_minor=250, currency="EUR")
    response = admin_client.get(_url("gig_list", brand))
    assert response.status_code == 200
    assert "€2.50 per resolution" in response.content.decode()


def test_gig_list_counts_open_tasks(admin_client, brand, gig):
    TaskFactory.create_batch(3, gig=gig)
    TaskFactory(gig=gig, status="resolved")
    response = admin_client.get(_url("gig_list", brand))
    assert response.context["page"].object_list[0].open_tasks == 3


def test_gig_list_filters_by_status(admin_client, brand):
    GigFactory(brand=brand, title="Live one")
    GigFactory(brand=brand, title="Sleeping one", status=GigStatus.PAUSED)
    response = admin_client.get(_url("gig_list", brand), {"status": "paused"})
    titles = [gig.title for gig in response.context["page"].object_list]
    assert titles == ["Sleeping one"]


def test_gig_list_paginates_by_25(admin_client, brand):
    GigFactory.create_batch(26, brand=brand)
    first = admin_client.get(_url("gig_list", brand))
    second = admin_client.get(_url("gig_list", brand), {"page": 2})
    assert len(first.context["page"].object_list) == 25
    assert len(second.context["page"].object_list) == 1


def test_empty_gig_list_offers_admin_to_post_a_gig(admin_client, brand):
    response = admin_client.get(_url("gig_list", brand))
    assert "No gigs yet" in response.content.decode()
    assert _url("gig_create", brand) in response.content.decode()


def test_viewer_sees_gig_list_without_post_button(viewer_client, brand, gig):
    response = viewer_client.get(_url("gig_list", brand))
    assert response.status_code == 200
    assert gig.title in response.content.decode()
    assert _url("gig_create", brand) not in response.content.decode()


def test_gig_list_never_shows_other_brands_gigs(admin_client, brand, gig, other_gig):
    response = admin_client.get(_url("gig_list", brand))
    assert other_gig.title not in response.content.decode()


def test_non_member_gets_404_for_brand_gig_list(other_admin, brand):
    client = Client()
    client.force_login(other_admin)
    assert client.get(_url("gig_list", brand)).status_code == 404


# --- Create and edit ----------------------------------------------------------------


def test_admin_posts_gig_with_exact_minor_units(admin_client, brand):
    skill = SkillFactory(slug="refunds", name="Refunds")
    response = admin_client.post(
        _url("gig_create", brand),
        _gig_post(rate="2.50", budget_cap="1200.05", required_skills=[skill.pk]),
    )
    gig = Gig.objects.get(brand=brand, title="Returns desk (DE)")
    assert response.status_code == 302
    assert response.url == _url("gig_detail", brand, gig.pk)
    assert (gig.rate_minor, gig.budget_cap_minor) == (250, 120005)
    assert gig.sla_first_response_seconds == 30 * 60
    assert list(gig.required_skills.all()) == [skill]


def test_posting_a_gig_is_audited(admin_client, brand, brand_admin):
    admin_client.post(_url("gig_create", brand), _gig_post())
    event = AuditEvent.objects.get(action="gig.created")
    assert event.actor == brand_admin
    assert event.brand == brand


def test_zero_decimal_currency_takes_whole_amounts(admin_client, brand):
    admin_client.post(_url("gig_create", brand), _gig_post(rate="300", currency="jpy"))
    gig = Gig.objects.get(brand=brand)
    assert (gig.rate_minor, gig.currency) == (300, "JPY")


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        ("abc", "Enter an amount like 2.50."),
        ("2.555", "EUR amounts have at most 2 decimals."),
        ("-1", "Must be more than zero."),
        ("0", "Must be more than zero."),
    ],
)
def test_bad_rate_is_shown_and_nothing_is_created(admin_client, brand, rate, message):
    response = admin_client.post(_url("gig_create", brand), _gig_post(rate=rate))
    assert response.status_code == 200
    assert response.context["form"].errors["rate"] == [message]
    assert message in response.content.decode()
    assert not Gig.objects.filter(brand=brand).exists()


def test_decimals_in_zero_decimal_currency_are_refused(admin_client, brand):
    response = admin_client.post(_url("gig_create", brand), _gig_post(rate="2.50", currency="JPY"))
    assert "JPY has no minor unit" in response.context["form"].errors["rate"][0]
    assert not Gig.objects.exists()


def test_bad_budget_cap_is_shown(admin_client, brand):
    response = admin_client.post(_url("gig_create", brand), _gig_post(budget_cap="10.001"))
    assert response.context["form"].errors["budget_cap"] == ["EUR amounts have at most 2 decimals."]


def test_bad_currency_code_is_shown(admin_client, brand):
    response = admin_client.post(_url("gig_create", brand), _gig_post(currency="EURO"))
    assert "currency" in response.context["form"].errors
    assert not Gig.objects.exists()


def test_edit_form_shows_rate_in_major_units(admin_client, brand):
    gig = GigFactory(brand=brand, rate_minor=1005, budget_cap_minor=500000)
    response = admin_client.get(_url("gig_edit", brand, gig.pk))
    form = response.context["form"]
    assert form["rate"].value() == "10.05"
    assert form["budget_cap"].value() == "5000.00"


def test_admin_edits_gig_and_change_is_audited(admin_client, brand, gig):
    response = admin_client.post(
        _url("gig_edit", brand, gig.pk),
        _gig_post(title=gig.title, rate="3.10", language=gig.language),
    )
    gig.refresh_from_db()
    assert response.status_code == 302
    assert gig.rate_minor == 310
    event = AuditEvent.objects.get(action="gig.updated", target_id=str(gig.pk))
    assert event.changes["rate_minor"] == [250, 310]


def test_edit_keeps_sla_seconds_that_are_not_whole_minutes(admin_client, brand):
    gig = GigFactory(brand=brand, sla_first_response_seconds=90)
    admin_client.post(
        _url("gig_edit", brand, gig.pk),
        _gig_post(title=gig.title, sla_first_response_minutes="2"),
    )
    gig.refresh_from_db()
    assert gig.sla_first_response_seconds == 90


def test_invalid_edit_changes_nothing(admin_client, brand, gig):
    response = admin_client.post(_url("gig_edit", brand, gig.pk), _gig_post(title="", rate="abc"))
    gig.refresh_from_db()
    assert response.status_code == 200
    assert set(response.context["form"].errors) >= {"title", "rate"}
    assert (gig.title, gig.rate_minor) == ("Order support (EN)", 250)


def test_viewer_cannot_open_gig_create(viewer_client, brand):
    assert viewer_client.get(_url("gig_create", brand)).status_code == 403


def test_viewer_cannot_post_gig(viewer_client, brand):
    response = viewer_client.post(_url("gig_create", brand), _gig_post())
    assert response.status_code == 403
    assert not Gig.objects.exists()


def test_viewer_cannot_edit_gig(viewer_client, brand, gig):
    response = viewer_client.post(_url("gig_edit", brand, gig.pk), _gig_post(rate="9.99"))
    gig.refresh_from_db()
    assert response.status_code == 403
    assert gig.rate_minor == 250


def test_other_brands_gig_is_404_and_unchanged(admin_client, brand, other_gig):
    response = admin_client.post(_url("gig_edit", brand, other_gig.pk), _gig_post(rate="9.99"))
    other_gig.refresh_from_db()
    assert response.status_code == 404
    assert other_gig.rate_minor == 250


def test_other_brands_gig_detail_is_404(admin_client, brand, other_gig):
    assert admin_client.get(_url("gig_detail", brand, other_gig.pk)).status_code == 404


# --- Detail and status ----------------------------------------------------------


def test_gig_detail_shows_settings_and_recent_tasks(admin_client, brand, gig):
    task = TaskFactory(gig=gig, subject="Lost parcel")
    response = admin_client.get(_url("gig_detail", brand, gig.pk))
    body = response.content.decode()
    assert "€2.50 per resolution" in body
    assert task.subject in body
    assert f"{_url('task_create', brand)}?gig={gig.pk}" in body
    assert f"{_url('task_import', brand)}?gig={gig.pk}" in body


def test_viewer_sees_gig_detail_without_actions(viewer_client, brand, gig):
    response = viewer_client.get(_url("gig_detail", brand, gig.pk))
    assert response.status_code == 200
    assert _url("gig_status", brand, gig.pk) not in response.content.decode()


def test_admin_pauses_gig_and_it_is_audited(admin_client, brand, gig, brand_admin):
    response = admin_client.post(_url("gig_status", brand, gig.pk), {"status": "paused"})
    gig.refresh_from_db()
    assert response.status_code == 302
    assert gig.status == GigStatus.PAUSED
    event = AuditEvent.objects.get(action="gig.paused")
    assert (event.actor, event.changes) == (brand_admin, {"status": ["active", "paused"]})


def test_admin_resumes_paused_gig(admin_client, brand):
    gig = GigFactory(brand=brand, status=GigStatus.PAUSED)
    admin_client.post(_url("gig_status", brand, gig.pk), {"status": "active"})
    gig.refresh_from_db()
    assert gig.status == GigStatus.ACTIVE
    assert AuditEvent.objects.filter(action="gig.resumed", target_id=str(gig.pk)).exists()


def test_admin_closes_gig(admin_client, brand, gig):
    admin_client.post(_url("gig_status", brand, gig.pk), {"status": "closed"})
    gig.refresh_from_db()
    assert gig.status == GigStatus.CLOSED
    assert AuditEvent.objects.filter(action="gig.closed").count() == 1


def test_closed_gig_cannot_be_resumed(admin_client, brand):
    gig = GigFactory(brand=brand, status=GigStatus.CLOSED)
    response = admin_client.post(
        _url("gig_status", brand, gig.pk), {"status": "active"}, follow=True
    )
    gig.refresh_from_db()
    assert gig.status == GigStatus.CLOSED
    assert "A closed gig cannot become active." in response.content.decode()
    assert not AuditEvent.objects.filter(action="gig.resumed").exists()


def test_unknown_status_is_refused(admin_client, brand, gig):
    response = admin_client.post(
        _url("gig_status", brand, gig.pk), {"status": "deleted"}, follow=True
    )
    gig.refresh_from_db()
    assert gig.status == GigStatus.ACTIVE
    assert "Choose pause, resume or close." in response.content.decode()


def test_viewer_cannot_change_gig_status(viewer_client, brand, gig):
    response = viewer_client.post(_url("gig_status", brand, gig.pk), {"status": "paused"})
    gig.refresh_from_db()
    assert response.status_code == 403
    assert gig.status == GigStatus.ACTIVE


def test_other_brands_gig_status_is_404_and_unchanged(admin_client, brand, other_gig):
    response = admin_client.post(_url("gig_status", brand, other_gig.pk), {"status": "closed"})
    other_gig.refresh_from_db()
    assert response.status_code == 404
    assert other_gig.status == GigStatus.ACTIVE


def test_gig_status_refuses_get(admin_client, brand, gig):
    assert admin_client.get(_url("gig_status", brand, gig.pk)).status_code == 405
