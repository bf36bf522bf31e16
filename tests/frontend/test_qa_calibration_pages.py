"""Calibration pages: opening a session, blind scoring by invited reviewers,
closing with the spread table, the gold form and alignment per reviewer."""

import pytest
from django.urls import reverse

from brands.models import BrandRole
from qa.calibration import calibration_review_submit, gold_record, session_close, session_create
from qa.models import CalibrationSession, CalibrationStatus, Review
from qa.scorecards import gig_qa_settings_update
from tests.brands.factories import MembershipFactory
from tests.frontend.money_helpers import client_for, staff_with_two_factor
from tests.marketplace.factories import AgentProfileFactory
from tests.qa.factories import EXAMPLE_RATINGS, closed_task, published_scorecard

pytestmark = pytest.mark.django_db

R2 = {"greeting": 1, "understanding": 5, "solution": 4, "tone": 3, "data_protection": 1}
R2 = {**R2, "upsell": 3}
R3 = {**EXAMPLE_RATINGS, "greeting": 0, "understanding": 3}
GOLD_POST = {
    "rating-greeting": "1",
    "rating-understanding": "4",
    "rating-solution": "4",
    "rating-tone": "2",
    "rating-data_protection": "1",
    "rating-upsell": "na",
}
EXAMPLE_POST = {**GOLD_POST, "rating-solution": "3"}


@pytest.fixture
def agent(db):
    return AgentProfileFactory(user__email="agent@example.com", user__full_name="Ana Agent").user


def _reviewer(brand, email, name):
    return MembershipFactory(
        brand=brand, role=BrandRole.QA_REVIEWER, user__email=email, user__full_name=name
    ).user


@pytest.fixture
def rita(brand):
    return _reviewer(brand, "rita@acme.test", "Rita Reviewer")


@pytest.fixture
def sam(brand):
    return _reviewer(brand, "sam@acme.test", "Sam Second")


@pytest.fixture
def tom(brand):
    return _reviewer(brand, "tom@acme.test", "Tom Third")


@pytest.fixture
def staff(db):
    return staff_with_two_factor("lead@gigdesk.test")


@pytest.fixture
def task(brand, brand_admin, gig, agent):
    version = published_scorecard(actor=brand_admin, brand=brand)
    gig_qa_settings_update(actor=brand_admin, gig=gig, scorecard=version.scorecard)
    return closed_task(gig=gig, agent=agent, subject="Refund for order 1042")


@pytest.fixture
def session(task, staff, rita, sam, tom):
    return session_create(actor=staff, task=task, reviewers=[rita, sam, tom])


def _session_url(session):
    return reverse("frontend:qa_calibration_session", args=[session.pk])


def _staff_url(name, session):
    return reverse(f"frontend:staff_qa_calibration_{name}", args=[session.pk])


def _closed(session, rita, sam, tom, staff):
    calibration_review_submit(reviewer=rita, session=session, ratings=EXAMPLE_RATINGS)
    calibration_review_submit(reviewer=sam, session=session, ratings=R2)
    calibration_review_submit(reviewer=tom, session=session, ratings=R3)
    session_close(actor=staff, session=session)
    session.refresh_from_db()
    return session


def test_empty_list_and_nav_link(staff):
    response = client_for(staff).get(reverse("frontend:staff_qa_calibration_list"))
    assert response.status_code == 200
    assert "No calibration sessions yet" in response.text
    assert "QA calibration</a>" in response.text


def test_create_finds_a_closed_task_and_invites_three(task, staff, rita, sam, tom, agent):
    client = client_for(staff)
    url = reverse("frontend:staff_qa_calibration_create")
    found = client.get(url, {"q": "order 1042"})
    assert f"#{task.pk} Refund for order 1042" in found.text

    chosen = client.get(url, {"task": task.pk})
    assert "Rita Reviewer" in chosen.text
    assert "agent@example.com" not in chosen.text  # the task's agent is not offered

    too_few = client.post(url, {"task": task.pk, "reviewers": [rita.pk, sam.pk]})
    assert too_few.status_code == 400
    assert "Invite at least 3 reviewers." in too_few.text
    assert not CalibrationSession.objects.exists()

    created = client.post(url, {"task": task.pk, "reviewers": [rita.pk, sam.pk, tom.pk]})
    session = CalibrationSession.objects.get()
    assert created.status_code == 302
    assert created["Location"] == _staff_url("detail", session)
    assert session.invites.count() == 3


def test_a_reviewer_scores_blind_then_sees_the_others(session, rita, sam):
    calibration_review_submit(reviewer=rita, session=session, ratings=EXAMPLE_RATINGS)
    sam_client = client_for(sam)
    page = sam_client.get(_session_url(session))
    assert page.status_code == 200
    assert "Your scoring" in page.text
    assert "Rita Reviewer" not in page.text
    assert "72.0" not in page.text

    submitted = sam_client.post(
        _session_url(session), {**GOLD_POST, "rating-solution": "4", "action": "submit"}
    )
    assert submitted.status_code == 302
    after = sam_client.get(_session_url(session))
    assert "Rita Reviewer" in after.text
    assert "72.0" in after.text
    assert "Your scoring" not in after.text


def test_a_missing_rating_is_refused_on_the_page(session, rita):
    incomplete = {key: value for key, value in EXAMPLE_POST.items() if key != "rating-tone"}
    response = client_for(rita).post(_session_url(session), {**incomplete, "action": "submit"})
    assert response.status_code == 400
    assert "Choose a rating." in response.text
    assert not Review.objects.filter(status="submitted").exists()


def test_staff_see_progress_not_scores_while_open(session, rita, staff):
    calibration_review_submit(reviewer=rita, session=session, ratings=EXAMPLE_RATINGS)
    page = client_for(staff).get(_staff_url("detail", session))
    assert "1 of 3 reviewers submitted" in page.text
    assert "72.0" not in page.text
    assert "disabled" in page.text  # closing waits for three


def test_outsiders_get_404(session, brand_admin, agent):
    assert client_for(brand_admin).get(_session_url(session)).status_code == 404
    assert client_for(agent).get(_session_url(session)).status_code == 404


def test_close_shows_the_spread_table(session, rita, sam, tom, staff):
    for reviewer, ratings in ((rita, EXAMPLE_RATINGS), (sam, R2), (tom, R3)):
        calibration_review_submit(reviewer=reviewer, session=session, ratings=ratings)
    client = client_for(staff)
    response = client.post(_staff_url("close", session))
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.status == CalibrationStatus.CLOSED
    page = client.get(_staff_url("detail", session))
    assert "Spread" in page.text
    # Overall: 72.0, 100.0 and R3's 56.1 → spread 43.9, SD 18.1.
    assert "<th>43.9</th><th>18.1</th>" in page.text
    assert "Record the gold review" in page.text


def test_gold_form_records_and_shows_alignment(session, rita, sam, tom, staff):
    session = _closed(session, rita, sam, tom, staff)
    client = client_for(staff)
    response = client.post(_staff_url("gold", session), GOLD_POST)
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.gold_review is not None
    page = client.get(_staff_url("detail", session))
    assert "Alignment <strong>87.9</strong>" in page.text  # Rita
    assert "Alignment <strong>71.2</strong>" in page.text  # Sam
    rita_page = client_for(rita).get(_session_url(session))
    assert "your alignment <strong>87.9</strong>" in rita_page.text


def test_an_incomplete_gold_is_refused(session, rita, sam, tom, staff):
    session = _closed(session, rita, sam, tom, staff)
    partial = {key: value for key, value in GOLD_POST.items() if key != "rating-greeting"}
    response = client_for(staff).post(_staff_url("gold", session), partial)
    assert response.status_code == 400
    session.refresh_from_db()
    assert session.gold_review is None


def test_reviewer_page_shows_alignment_history_and_flag(session, rita, sam, tom, staff):
    session = _closed(session, rita, sam, tom, staff)
    gold_record(
        actor=staff,
        session=session,
        ratings={**EXAMPLE_RATINGS, "solution": 4},
    )
    client = client_for(staff)
    sam_page = client.get(reverse("frontend:staff_qa_reviewer", args=[sam.pk]))
    assert sam_page.status_code == 200
    assert "71.2" in sam_page.text
    assert "Below 85" in sam_page.text
    rita_page = client.get(reverse("frontend:staff_qa_reviewer", args=[rita.pk]))
    assert "87.9" in rita_page.text
    assert "Aligned" in rita_page.text


def test_reviewer_page_empty_state(staff, rita):
    page = client_for(staff).get(reverse("frontend:staff_qa_reviewer", args=[rita.pk]))
    assert "No calibration with a gold review yet" in page.text


def test_staff_pages_refuse_brand_members(session, rita):
    response = client_for(rita).get(_staff_url("detail", session))
    assert response.status_code == 403
    invites = client_for(rita).get(reverse("frontend:qa_calibration_invites"))
    assert "Refund for order 1042" in invites.text
