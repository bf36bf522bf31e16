"""The agent home and the profile editor: what saves, what is refused, who may open them."""

from __future__ import annotations

from datetime import time

import pytest
from django.test import Client
from django.urls import reverse

from marketplace.errors import PermissionDenied, ValidationFailed
from marketplace.models import AgentLanguage, AgentProfile, AvailabilitySlot, Skill
from marketplace.services import (
    AGENT_MAX_SKILLS,
    AvailabilityInput,
    LanguageInput,
    agent_profile_update,
)
from tests.marketplace.factories import (
    AgentLanguageFactory,
    AgentProfileFactory,
    AgentUserFactory,
    SkillFactory,
    StaffUserFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

PROFILE_URL = reverse("frontend:agent_profile")
HOME_URL = reverse("frontend:agent_home")


@pytest.fixture
def profile():
    return AgentProfileFactory(
        display_name="Ana", country="ES", time_zone="Europe/Madrid", user__email="ana@example.com"
    )


@pytest.fixture
def agent_client(profile) -> Client:
    client = Client()
    client.force_login(profile.user)
    return client


def _form_data(**overrides) -> dict:
    """A valid POST of the whole profile page; override keys to break one thing."""
    data = {
        "display_name": "Ana G.",
        "country": "PT",
        "time_zone": "Europe/Lisbon",
        "bio": "Five years of e-commerce support.",
        "new_skills": "",
        "languages-TOTAL_FORMS": "3",
        "languages-INITIAL_FORMS": "0",
        "languages-MIN_NUM_FORMS": "0",
        "languages-MAX_NUM_FORMS": "20",
        "languages-0-language": "es",
        "languages-0-level": "C2",
        "languages-1-language": "en",
        "languages-1-level": "B2",
        "languages-2-language": "",
        "languages-2-level": "",
        "availability-TOTAL_FORMS": "3",
        "availability-INITIAL_FORMS": "0",
        "availability-MIN_NUM_FORMS": "0",
        "availability-MAX_NUM_FORMS": "42",
        "availability-0-weekday": "0",
        "availability-0-starts_at": "09:00",
        "availability-0-ends_at": "13:00",
        "availability-1-weekday": "0",
        "availability-1-starts_at": "13:00",
        "availability-1-ends_at": "17:00",
        "availability-2-weekday": "",
        "availability-2-starts_at": "",
        "availability-2-ends_at": "",
    }
    data.update(overrides)
    return data


def _snapshot(profile: AgentProfile) -> tuple:
    profile.refresh_from_db()
    return (
        profile.display_name,
        profile.country.code,
        profile.time_zone,
        profile.bio,
        sorted(profile.skills.values_list("slug", flat=True)),
        sorted(profile.languages.values_list("language", "level")),
        sorted(profile.availability.values_list("weekday", "starts_at", "ends_at")),
    )


# --- Agent home ----------------------------------------------------------------------


def test_agent_home_greets_agent_and_lists_checklist(agent_client):
    response = agent_client.get(HOME_URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert ", Ana</h1>" in html
    for item in ("Display name", "At least one language", "At least one skill", "Time zone"):
        assert item in html
    assert "Weekly availability" in html


def test_agent_home_links_unfinished_items_to_the_profile_section(agent_client):
    html = agent_client.get(HOME_URL).content.decode()

    assert f'href="{PROFILE_URL}#languages">Add<' in html
    assert f'href="{PROFILE_URL}#skills">Add<' in html
    assert f'href="{PROFILE_URL}#availability">Add<' in html
    assert "2 of 5 done" in html


def test_agent_home_ticks_everything_for_a_complete_profile(agent_client, profile):
    AgentLanguageFactory(profile=profile, language="es", level="C2")
    profile.skills.add(SkillFactory(slug="refunds", name="Refunds"))
    AvailabilitySlot.objects.create(profile=profile, weekday=0, starts_at=time(9), ends_at=time(13))

    html = agent_client.get(HOME_URL).content.decode()

    assert "5 of 5 done" in html
    assert "Your profile is complete" in html
    assert "Spanish · C2" in html
    assert "Refunds" in html
    assert "Monday 09:00–13:00" in html


def test_agent_home_says_where_live_work_will_appear(agent_client):
    html = agent_client.get(HOME_URL).content.decode()

    assert "agent pool" in html
    assert "TODO" not in html


def test_default_utc_time_zone_is_not_ticked_until_chosen(client):
    profile = AgentProfileFactory(time_zone="UTC")
    client.force_login(profile.user)

    html = client.get(HOME_URL).content.decode()

    assert "Still the default (UTC)" in html


def test_brand_user_gets_403_on_agent_home(client, brand_admin):
    client.force_login(brand_admin)

    response = client.get(HOME_URL)

    assert response.status_code == 403


def test_brand_user_gets_403_on_agent_profile(client, brand_admin):
    client.force_login(brand_admin)

    assert client.get(PROFILE_URL).status_code == 403
    assert client.post(PROFILE_URL, _form_data()).status_code == 403
    assert not AgentProfile.objects.filter(user=brand_admin).exists()


def test_staff_may_view_agent_home(client):
    client.force_login(StaffUserFactory())

    response = client.get(HOME_URL)

    assert response.status_code == 200
    assert "as platform staff" in response.content.decode()


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get(PROFILE_URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# --- Profile page: rendering and saving ---------------------------------------------------


def test_profile_page_renders_current_values(agent_client, profile):
    AgentLanguageFactory(profile=profile, language="fr", level="B1")
    SkillFactory(slug="zendesk", name="Zendesk")

    response = agent_client.get(PROFILE_URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="Ana"' in html
    assert '<option value="Europe/Madrid" selected>' in html
    assert '<option value="ES" selected>' in html
    assert '<option value="fr" selected>French</option>' in html
    assert "Zendesk" in html
    assert "Add new skills, comma separated" in html


def test_time_zone_choices_are_sorted_iana_zones(agent_client):
    html = agent_client.get(PROFILE_URL).content.decode()

    assert html.index('value="Africa/Abidjan"') < html.index('value="Europe/Madrid"')
    assert 'value="localtime"' not in html


def test_saving_profile_stores_details_languages_and_availability(agent_client, profile):
    response = agent_client.post(PROFILE_URL, _form_data())

    assert response.status_code == 302
    assert response["Location"] == PROFILE_URL
    assert _snapshot(profile) == (
        "Ana G.",
        "PT",
        "Europe/Lisbon",
        "Five years of e-commerce support.",
        [],
        [("en", "B2"), ("es", "C2")],
        [(0, time(9), time(13)), (0, time(13), time(17))],
    )


def test_saving_profile_shows_confirmation(agent_client):
    response = agent_client.post(PROFILE_URL, _form_data(), follow=True)

    assert "Profile saved." in response.content.decode()


def test_saving_profile_selects_existing_skills_and_creates_new_ones(agent_client, profile):
    zendesk = SkillFactory(slug="zendesk", name="Zendesk")

    agent_client.post(
        PROFILE_URL,
        _form_data(skills=[str(zendesk.pk)], new_skills="Live chat, refunds , ZENDESK, live-chat"),
    )

    assert sorted(profile.skills.values_list("slug", flat=True)) == [
        "live-chat",
        "refunds",
        "zendesk",
    ]
    assert Skill.objects.get(slug="live-chat").name == "Live chat"
    assert Skill.objects.count() == 3


def test_saving_replaces_previous_languages_and_slots(agent_client, profile):
    AgentLanguageFactory(profile=profile, language="de", level="A2")
    AvailabilitySlot.objects.create(profile=profile, weekday=6, starts_at=time(8), ends_at=time(9))

    agent_client.post(PROFILE_URL, _form_data())

    assert not profile.languages.filter(language="de").exists()
    assert not profile.availability.filter(weekday=6).exists()


def test_language_row_marked_for_removal_is_not_saved(agent_client, profile):
    agent_client.post(PROFILE_URL, _form_data(**{"languages-1-DELETE": "on"}))

    assert list(profile.languages.values_list("language", flat=True)) == ["es"]


def test_unchecking_skills_removes_them(agent_client, profile):
    profile.skills.add(SkillFactory(slug="refunds", name="Refunds"))

    agent_client.post(PROFILE_URL, _form_data())

    assert profile.skills.count() == 0
    assert Skill.objects.filter(slug="refunds").exists()


def test_agent_without_profile_row_gets_one_on_first_save(client):
    user = AgentUserFactory(full_name="Noor Haddad")
    client.force_login(user)

    page = client.get(PROFILE_URL)
    client.post(PROFILE_URL, _form_data(display_name="Noor"))

    assert 'value="Noor Haddad"' in page.content.decode()
    assert AgentProfile.objects.get(user=user).display_name == "Noor"


# --- Profile page: refusals (message shown, nothing saved) ------------------------------------


def _assert_refused(client: Client, profile: AgentProfile, data: dict, message: str) -> None:
    before = _snapshot(profile)
    skills_before = Skill.objects.count()

    response = client.post(PROFILE_URL, data)

    html = response.content.decode()
    assert response.status_code == 200
    assert message in html, html
    assert "Nothing was saved" in html
    assert _snapshot(profile) == before
    assert Skill.objects.count() == skills_before


def test_duplicate_language_is_refused(agent_client, profile):
    data = _form_data(**{"languages-1-language": "es", "languages-1-level": "B1"})

    _assert_refused(
        agent_client, profile, data, "Spanish is already listed; keep one row per language."
    )


def test_language_without_level_is_refused(agent_client, profile):
    data = _form_data(**{"languages-1-level": ""})

    _assert_refused(agent_client, profile, data, "Choose your level in English.")


def test_availability_ending_before_it_starts_is_refused(agent_client, profile):
    data = _form_data(**{"availability-0-starts_at": "14:00", "availability-0-ends_at": "13:00"})

    _assert_refused(agent_client, profile, data, "The end (13:00) must be after the start (14:00).")


def test_availability_ending_when_it_starts_is_refused(agent_client, profile):
    data = _form_data(**{"availability-0-starts_at": "09:00", "availability-0-ends_at": "09:00"})

    _assert_refused(agent_client, profile, data, "must be after the start")


def test_overlapping_availability_on_same_day_is_refused(agent_client, profile):
    data = _form_data(**{"availability-1-starts_at": "12:00"})

    _assert_refused(agent_client, profile, data, "Monday 12:00–17:00 overlaps Monday 09:00–13:00.")


def test_same_hours_on_different_days_do_not_overlap(agent_client, profile):
    data = _form_data(**{"availability-1-weekday": "1", "availability-1-starts_at": "09:00"})

    response = agent_client.post(PROFILE_URL, data)

    assert response.status_code == 302
    assert profile.availability.count() == 2


def test_slot_with_day_but_no_times_is_refused(agent_client, profile):
    data = _form_data(**{"availability-2-weekday": "3"})

    _assert_refused(agent_client, profile, data, "Enter when this slot starts.")


def test_invalid_time_zone_is_refused(agent_client, profile):
    data = _form_data(time_zone="Mars/Olympus_Mons")

    _assert_refused(agent_client, profile, data, "is not a time zone we know")


def test_unknown_country_is_refused(agent_client, profile):
    _assert_refused(agent_client, profile, _form_data(country="XX"), "Select a valid choice")


def test_blank_display_name_is_refused(agent_client, profile):
    _assert_refused(agent_client, profile, _form_data(display_name="  "), "This field is required")


def test_new_skill_longer_than_40_characters_is_refused(agent_client, profile):
    data = _form_data(new_skills="Refunds, " + "x" * 41)

    _assert_refused(agent_client, profile, data, "is longer than 40 characters")


def test_new_skill_without_letters_is_refused(agent_client, profile):
    _assert_refused(
        agent_client, profile, _form_data(new_skills="!!!"), "needs at least one letter or digit"
    )


def test_more_than_30_skills_is_refused(agent_client, profile):
    names = ", ".join(f"Skill {n}" for n in range(AGENT_MAX_SKILLS + 1))

    _assert_refused(
        agent_client, profile, _form_data(new_skills=names), f"Pick at most {AGENT_MAX_SKILLS}"
    )


def test_exactly_30_skills_is_accepted(agent_client, profile):
    names = ", ".join(f"Skill {n}" for n in range(AGENT_MAX_SKILLS))

    response = agent_client.post(PROFILE_URL, _form_data(new_skills=names))

    assert response.status_code == 302
    assert profile.skills.count() == AGENT_MAX_SKILLS


def test_unknown_skill_id_is_refused(agent_client, profile):
    _assert_refused(agent_client, profile, _form_data(skills=["999999"]), "no longer exists")


# --- htmx: one more row --------------------------------------------------------------------------


def test_htmx_add_language_row_returns_next_row_and_bumps_counter(agent_client):
    response = agent_client.get(
        PROFILE_URL,
        {"add": "languages", "languages-TOTAL_FORMS": "3"},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="languages-3-language"' in html
    assert 'name="languages-TOTAL_FORMS" value="4"' in html
    assert 'hx-swap-oob="true"' in html
    assert "<html" not in html


def test_htmx_add_availability_row_returns_next_row(agent_client):
    response = agent_client.get(
        PROFILE_URL,
        {"add": "availability", "availability-TOTAL_FORMS": "1"},
        HTTP_HX_REQUEST="true",
    )

    assert 'name="availability-1-starts_at"' in response.content.decode()


def test_htmx_add_row_beyond_the_limit_adds_nothing(agent_client):
    response = agent_client.get(
        PROFILE_URL,
        {"add": "languages", "languages-TOTAL_FORMS": "20"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 204


def test_htmx_add_row_with_bad_counter_is_a_bad_request(agent_client):
    response = agent_client.get(
        PROFILE_URL, {"add": "languages", "languages-TOTAL_FORMS": "x"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 400


# --- The service on its own ------------------------------------------------------------------


def _update(user, **overrides):
    arguments = {
        "user": user,
        "display_name": "Ana",
        "country": "ES",
        "time_zone": "Europe/Madrid",
        "bio": "",
        "skill_ids": [],
        "new_skill_names": [],
        "languages": [LanguageInput("es", "C2")],
        "availability": [AvailabilityInput(0, time(9), time(13))],
    }
    arguments.update(overrides)
    return agent_profile_update(**arguments)


def test_service_refuses_overlapping_slots_and_changes_nothing(profile):
    before = _snapshot(profile)

    with pytest.raises(ValidationFailed) as excinfo:
        _update(
            profile.user,
            display_name="Changed",
            availability=[
                AvailabilityInput(2, time(9), time(13)),
                AvailabilityInput(2, time(12, 30), time(15)),
            ],
        )

    assert "Wednesday 12:30–15:00 overlaps Wednesday 09:00–13:00" in excinfo.value.message
    assert _snapshot(profile) == before


def test_service_refuses_duplicate_languages(profile):
    with pytest.raises(ValidationFailed) as excinfo:
        _update(profile.user, languages=[LanguageInput("es", "C2"), LanguageInput("es", "A1")])

    assert "Spanish is listed twice" in excinfo.value.message
    assert not AgentLanguage.objects.filter(profile=profile).exists()


def test_service_refuses_unknown_time_zone(profile):
    with pytest.raises(ValidationFailed) as excinfo:
        _update(profile.user, time_zone="Europe/Atlantis")

    assert "time_zone" in excinfo.value.fields


def test_service_refuses_non_agents(db):
    with pytest.raises(PermissionDenied):
        _update(UserFactory())
