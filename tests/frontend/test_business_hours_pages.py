"""The brand's business hours page: admins edit the week and holidays, members read them."""

from datetime import date, time

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from brands.models import BrandHoliday, BusinessHours
from marketplace.models import AuditEvent

pytestmark = pytest.mark.django_db


def url(name, brand, *args):
    return reverse(f"frontend:{name}", args=[brand.slug, *args])


@pytest.fixture
def viewer_client(brand_viewer) -> Client:
    client = Client()
    client.force_login(brand_viewer)
    return client


@pytest.fixture
def other_client(other_admin) -> Client:
    client = Client()
    client.force_login(other_admin)
    return client


@pytest.fixture
def office_hours(brand):
    for weekday in range(5):
        BusinessHours.objects.create(brand=brand, weekday=weekday, opens=time(8), closes=time(20))
    BusinessHours.objects.create(brand=brand, weekday=5, opens=time(9), closes=time(14))


@pytest.fixture
def christmas(brand):
    return BrandHoliday.objects.create(brand=brand, date=date(2099, 12, 25), name="Christmas Day")


def week(brand):
    return list(
        BusinessHours.objects.filter(brand=brand)
        .order_by("weekday", "opens")
        .values_list("weekday", "opens", "closes")
    )


def test_a_brand_without_hours_reads_as_open_24_7(admin_client, brand):
    response = admin_client.get(url("brand_business_hours", brand))
    page = response.content.decode()
    assert response.status_code == 200
    assert "counts as open 24/7" in page
    assert "Europe/Berlin" in page
    assert "No upcoming holidays." in page


def test_the_settings_menu_links_to_the_page(admin_client, brand):
    page = admin_client.get(url("brand_home", brand)).content.decode()
    assert url("brand_business_hours", brand) in page


def test_admin_sees_the_week_prefilled(admin_client, brand, office_hours, christmas):
    page = admin_client.get(url("brand_business_hours", brand)).content.decode()
    assert "counts as open 24/7" not in page
    assert 'name="d0_opens_1" value="08:00"' in page
    assert 'name="d5_closes_1" value="14:00"' in page
    assert "Christmas Day" in page and "Fri 25 Dec 2099" in page
    assert "Save weekly hours" in page and "Add holiday" in page


def test_admin_saves_the_week(admin_client, brand):
    response = admin_client.post(
        url("brand_business_hours", brand),
        {
            "d0_opens_1": "08:00",
            "d0_closes_1": "12:00",
            "d0_opens_2": "13:00",
            "d0_closes_2": "18:00",
            "d6_opens_1": "18:00",
            "d6_closes_1": "00:00",
        },
    )
    assert response.status_code == 302
    assert week(brand) == [
        (0, time(8), time(12)),
        (0, time(13), time(18)),
        (6, time(18), time(0)),
    ]
    assert AuditEvent.objects.filter(brand=brand, action="business_hours.set").count() == 1
    page = admin_client.get(response.url).content.decode()
    assert "08:00–12:00, 13:00–18:00" in page
    assert "18:00–24:00" in page


def test_clearing_every_day_makes_the_brand_open_24_7(admin_client, brand, office_hours):
    response = admin_client.post(url("brand_business_hours", brand), {}, follow=True)
    assert week(brand) == []
    assert "counts as open 24/7" in response.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"d1_opens_1": "18:00", "d1_closes_1": "09:00"}, "Tuesday: closing time 09:00"),
        (
            {
                "d2_opens_1": "08:00",
                "d2_closes_1": "13:00",
                "d2_opens_2": "12:00",
                "d2_closes_2": "18:00",
            },
            "Wednesday: 08:00–13:00 overlaps 12:00–18:00",
        ),
        ({"d3_opens_1": "08:00"}, "Thursday: give both the opening and the closing time"),
        ({"d4_opens_1": "25:00", "d4_closes_1": "26:00"}, "Enter a valid time"),
    ],
    ids=["closes-before-opens", "overlap", "half", "not-a-time"],
)
def test_bad_hours_show_an_error_and_change_nothing(
    admin_client, brand, office_hours, data, message
):
    before = week(brand)
    response = admin_client.post(url("brand_business_hours", brand), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert week(brand) == before
    assert not AuditEvent.objects.filter(brand=brand).exists()


def test_viewer_reads_but_cannot_change(viewer_client, brand, office_hours, christmas):
    page = viewer_client.get(url("brand_business_hours", brand)).content.decode()
    assert "08:00–20:00" in page and "Christmas Day" in page
    assert "Save weekly hours" not in page and "Add holiday" not in page
    assert "Remove" not in page
    assert "Only brand admins can change" in page
    before = week(brand)
    attempts = [
        (url("brand_business_hours", brand), {}),
        (url("brand_holiday_add", brand), {"date": "2099-12-26", "name": "Boxing Day"}),
        (url("brand_holiday_remove", brand, christmas.pk), {}),
    ]
    for target, data in attempts:
        assert viewer_client.post(target, data).status_code == 403
    assert week(brand) == before
    assert list(BrandHoliday.objects.values_list("name", flat=True)) == ["Christmas Day"]
    assert not AuditEvent.objects.filter(brand=brand).exists()


def test_another_brand_gets_404(other_client, brand, office_hours, christmas):
    assert other_client.get(url("brand_business_hours", brand)).status_code == 404
    assert other_client.post(url("brand_business_hours", brand), {}).status_code == 404
    assert (
        other_client.post(
            url("brand_holiday_add", brand), {"date": "2099-12-26", "name": "Boxing Day"}
        ).status_code
        == 404
    )
    assert other_client.post(url("brand_holiday_remove", brand, christmas.pk)).status_code == 404
    assert len(week(brand)) == 6
    assert BrandHoliday.objects.count() == 1


def test_admin_cannot_remove_another_brands_holiday(admin_client, brand, other_brand):
    theirs = BrandHoliday.objects.create(brand=other_brand, date=date(2099, 5, 1), name="May Day")
    response = admin_client.post(url("brand_holiday_remove", brand, theirs.pk))
    assert response.status_code == 404
    assert BrandHoliday.objects.filter(pk=theirs.pk).exists()


def test_admin_adds_and_removes_a_holiday(admin_client, brand):
    response = admin_client.post(
        url("brand_holiday_add", brand), {"date": "2099-12-25", "name": "Christmas Day"}
    )
    assert response.status_code == 302
    holiday = BrandHoliday.objects.get(brand=brand)
    assert (holiday.date, holiday.name) == (date(2099, 12, 25), "Christmas Day")
    page = admin_client.get(response.url).content.decode()
    assert "Christmas Day on Friday 25 December 2099 added as a holiday." in page
    response = admin_client.post(url("brand_holiday_remove", brand, holiday.pk))
    assert response.status_code == 302
    assert not BrandHoliday.objects.exists()
    actions = list(
        AuditEvent.objects.filter(brand=brand).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["holiday.added", "holiday.removed"]


def test_past_holidays_are_listed_apart(admin_client, brand, christmas):
    BrandHoliday.objects.create(brand=brand, date=date(2020, 1, 1), name="New Year 2020")
    page = admin_client.get(url("brand_business_hours", brand)).content.decode()
    assert "Past holidays (1)" in page
    assert page.index("Christmas Day") < page.index("Past holidays")
    assert page.index("New Year 2020") > page.index("Past holidays")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"date": "", "name": "Christmas Day"}, "Choose the date of the holiday."),
        ({"date": "2099-12-25", "name": ""}, "Give the holiday a name"),
        ({"date": "not a date", "name": "Christmas Day"}, "Enter a valid date."),
        ({"date": "2099-12-25", "name": "x" * 81}, "at most 80 characters"),
        ({"date": "2099-12-25", "name": "Xmas again"}, "Already a holiday: Christmas Day."),
    ],
    ids=["no-date", "no-name", "bad-date", "long-name", "duplicate"],
)
def test_bad_holidays_show_an_error_and_change_nothing(
    admin_client, brand, christmas, data, message
):
    response = admin_client.post(url("brand_holiday_add", brand), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert list(BrandHoliday.objects.values_list("name", flat=True)) == ["Christmas Day"]
    assert not AuditEvent.objects.filter(brand=brand).exists()


def test_the_page_gives_the_time_now_in_the_brands_zone(admin_client, brand):
    brand.time_zone = "America/New_York"
    brand.save(update_fields=["time_zone"])
    # 14:30 UTC on a Monday in December is 09:30 in New York (UTC-5).
    with time_machine.travel("2026-12-07T14:30:00Z", tick=False):
        page = admin_client.get(url("brand_business_hours", brand)).content.decode()

    assert "it is Monday 09:30 there now" in page
