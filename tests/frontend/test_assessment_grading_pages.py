"""Grading queues and the grading page: staff grade platform assessments, a
brand's admins and QA reviewers grade the brand's; nobody grades their own
attempt; another brand's answers are 404."""

import pytest
import time_machine
from django.urls import reverse

from assessments.models import Answer, AttemptStatus, QuestionType
from assessments.services import attempt_start, attempt_submit
from brands.models import BrandRole
from tests.assessments.factories import answer_everything, language_doc, published
from tests.brands.factories import MembershipFactory
from tests.frontend.money_helpers import client_for, staff_with_two_factor
from tests.marketplace.factories import AgentProfileFactory

pytestmark = pytest.mark.django_db


def staff_url(name, *args):
    return reverse(f"frontend:staff_{name}", args=args)


def brand_url(brand, name, *args):
    return reverse(f"frontend:brand_{name}", args=[brand.slug, *args])


def written_answer(agent, assessment) -> Answer:
    """``agent`` takes ``assessment`` and hands it in: its written answer waits."""
    attempt = attempt_start(agent=agent, assessment=assessment)
    answer_everything(agent, attempt, written="Dear customer, your parcel is on its way.")
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    return Answer.objects.get(attempt=attempt, question__type=QuestionType.WRITTEN)


def new_agent(name: str):
    return AgentProfileFactory(display_name=name, user__email=f"{name.lower()}@agents.test").user


@pytest.fixture
def staff_user(db):
    return staff_with_two_factor("grader@gigdesk.test")


@pytest.fixture
def staff_client(staff_user):
    return client_for(staff_user)


@pytest.fixture
def platform_spanish(staff_user):
    return published(language_doc(), actor=staff_user).assessment


@pytest.fixture
def acme_spanish(brand, brand_admin):
    doc = language_doc("acme-spanish", title="Acme Spanish", brand="acme")
    return published(doc, actor=brand_admin, brand=brand).assessment


@pytest.fixture
def borealis_spanish(other_brand, other_admin):
    doc = language_doc("borealis-spanish", title="Borealis Spanish", brand="borealis")
    return published(doc, actor=other_admin, brand=other_brand).assessment


@pytest.fixture
def brand_qa(brand):
    return MembershipFactory(brand=brand, role=BrandRole.QA_REVIEWER).user


def grade(client, url, **scores):
    data = {"score_0": scores.get("task", 3), "score_1": scores.get("tone", 2)}
    data["comment"] = scores.get("comment", "Clear and polite.")
    return client.post(url, data)


# --- queues ------------------------------------------------------------------------


def test_the_staff_queue_lists_platform_answers_oldest_first(
    staff_client, platform_spanish, acme_spanish
):
    with time_machine.travel("2026-03-02 09:00Z", tick=False):
        older = written_answer(new_agent("Lucia"), platform_spanish)
    with time_machine.travel("2026-03-03 09:00Z", tick=False):
        newer = written_answer(new_agent("Marco"), platform_spanish)
        brand_answer = written_answer(new_agent("Nora"), acme_spanish)
    with time_machine.travel("2026-03-04 09:00Z", tick=False):
        response = staff_client.get(staff_url("grading_queue"))
    assert response.status_code == 200
    assert [a.pk for a in response.context["page"]] == [older.pk, newer.pk]
    assert brand_answer.pk not in [a.pk for a in response.context["page"]]
    assert b"2\xc2\xa0days" in response.content  # the oldest has waited two days


def test_the_brand_queue_shows_its_own_answers_to_admins_and_qa(
    brand, admin_client, brand_qa, acme_spanish, borealis_spanish, platform_spanish
):
    own = written_answer(new_agent("Lucia"), acme_spanish)
    written_answer(new_agent("Marco"), borealis_spanish)
    written_answer(new_agent("Nora"), platform_spanish)
    for client in (admin_client, client_for(brand_qa)):
        response = client.get(brand_url(brand, "grading_queue"))
        assert response.status_code == 200
        assert [a.pk for a in response.context["page"]] == [own.pk]
        assert b"Lucia" in response.content
        assert b"lucia@agents.test" not in response.content


def test_an_empty_queue_says_so(staff_client):
    response = staff_client.get(staff_url("grading_queue"))
    assert b"Nothing to grade" in response.content


def test_viewers_and_agents_are_refused_the_queues(brand, brand_viewer):
    assert client_for(brand_viewer).get(brand_url(brand, "grading_queue")).status_code == 403
    agent = client_for(new_agent("Lucia"))
    assert agent.get(staff_url("grading_queue")).status_code == 403
    assert agent.get(brand_url(brand, "grading_queue")).status_code == 404


def test_another_brands_answer_is_not_found(brand, admin_client, borealis_spanish):
    answer = written_answer(new_agent("Marco"), borealis_spanish)
    url = brand_url(brand, "grading_answer", answer.pk)
    assert admin_client.get(url).status_code == 404
    assert grade(admin_client, url).status_code == 404
    answer.refresh_from_db()
    assert answer.needs_grading


def test_staff_cannot_grade_a_brands_answer_on_the_staff_page(staff_client, acme_spanish):
    answer = written_answer(new_agent("Lucia"), acme_spanish)
    assert staff_client.get(staff_url("grading_answer", answer.pk)).status_code == 404


# --- grading ------------------------------------------------------------------------


def test_the_grading_page_shows_prompt_rubric_and_response(brand, brand_qa, acme_spanish):
    answer = written_answer(new_agent("Lucia"), acme_spanish)
    response = client_for(brand_qa).get(brand_url(brand, "grading_answer", answer.pk))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Reply to a customer whose parcel is late." in page
    assert "Answers it." in page and "Polite." in page
    assert "Dear customer, your parcel is on its way." in page
    assert "Lucia" in page
    assert "lucia@agents.test" not in page


def test_grading_the_last_answer_makes_the_result_final_and_opens_the_next(
    brand, brand_qa, acme_spanish
):
    first = written_answer(new_agent("Lucia"), acme_spanish)
    second = written_answer(new_agent("Marco"), acme_spanish)
    client = client_for(brand_qa)
    response = grade(client, brand_url(brand, "grading_answer", first.pk), task=4, tone=1)
    assert response.status_code == 302
    assert response.url == brand_url(brand, "grading_answer", second.pk)
    first.refresh_from_db()
    assert first.grader_score == 5
    assert first.grader_rubric_scores == {"Task": 4, "Tone": 1}
    assert first.grader_comment == "Clear and polite."
    assert first.attempt.status == AttemptStatus.GRADED
    response = grade(client, brand_url(brand, "grading_answer", second.pk))
    assert response.url == brand_url(brand, "grading_queue")


def test_points_above_a_criterions_maximum_grade_nothing(staff_client, platform_spanish):
    answer = written_answer(new_agent("Lucia"), platform_spanish)
    response = grade(staff_client, staff_url("grading_answer", answer.pk), task=9)
    assert response.status_code == 400
    answer.refresh_from_db()
    assert answer.needs_grading
    assert answer.attempt.status == AttemptStatus.GRADING


def test_an_answer_already_graded_says_so(staff_client, staff_user, platform_spanish):
    answer = written_answer(new_agent("Lucia"), platform_spanish)
    url = staff_url("grading_answer", answer.pk)
    grade(staff_client, url, task=2, tone=2)
    response = staff_client.get(url)
    assert b"This answer has already been graded" in response.content
    assert b'name="score_0"' not in response.content
    again = grade(staff_client, url, task=0, tone=0)
    assert again.status_code == 409
    answer.refresh_from_db()
    assert answer.grader_score == 4


def test_a_grader_never_grades_their_own_attempt(brand, acme_spanish):
    reviewer = new_agent("Quinn")
    MembershipFactory(brand=brand, user=reviewer, role=BrandRole.QA_REVIEWER)
    answer = written_answer(reviewer, acme_spanish)
    client = client_for(reviewer)
    queue = client.get(brand_url(brand, "grading_queue"))
    assert answer.pk not in [a.pk for a in queue.context["page"]]
    url = brand_url(brand, "grading_answer", answer.pk)
    assert b"This is your own attempt" in client.get(url).content
    assert grade(client, url).status_code == 403
    answer.refresh_from_db()
    assert answer.needs_grading
