"""The agent's assessment pages: catalogue, rules, taking an attempt with
autosave, the server's deadline, results, certifications on the profile and
the certifications a brand's pool requires.

The answer key never reaches the agent: every page and fragment the agent can
fetch is scanned for it.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from assessments.models import Answer, Attempt, AttemptStatus, Choice, Question, QuestionType
from assessments.requirements import brand_certification_require
from assessments.services import answer_grade, attempt_questions, attempt_start, attempt_submit
from tests.assessments.factories import answer_everything, knowledge_doc, language_doc, published
from tests.brands.factories import BrandFactory
from tests.marketplace.factories import AgentProfileFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Accepted short answers no page text contains by chance.
SONG_KEY = "cancionzeta"
SHOP_KEY = "bicizeta"


def url(name, *args):
    return reverse(f"frontend:{name}", args=args)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def htmx(client: Client, path: str, data) -> object:
    return client.post(path, data, HTTP_HX_REQUEST="true")


@pytest.fixture
def staff(db):
    return StaffUserFactory(email="grader@gigdesk.test")


@pytest.fixture
def agent(db):
    return AgentProfileFactory(user__email="ana@agents.test").user


@pytest.fixture
def agent_client(agent) -> Client:
    return client_for(agent)


@pytest.fixture
def spanish(staff):
    doc = language_doc()
    grammar, reading = doc["sections"][0], doc["sections"][1]
    grammar["questions"][2]["accepted_answers"] = [SONG_KEY]
    reading["questions"][0]["questions"][1]["accepted_answers"] = [SHOP_KEY]
    return published(doc, actor=staff)


@pytest.fixture
def knowledge(staff):
    return published(knowledge_doc(), actor=staff)


def question_ids_on_page(html: str) -> list[int]:
    return [int(qid) for qid in re.findall(r'id="question-(\d+)"', html)]


def answerable(attempt, type_):
    return next(q for q in attempt_questions(attempt) if q.type == type_)


def start(client, assessment) -> Attempt:
    response = client.post(url("agent_assessment_start", assessment.slug))
    attempt = Attempt.objects.get(assessment=assessment, status=AttemptStatus.OPEN)
    assert response.status_code == 302
    assert response["Location"] == url("agent_attempt", attempt.pk)
    return attempt


def assert_no_answer_key(html: str) -> None:
    lowered = html.lower()
    assert "correct" not in lowered
    assert SONG_KEY not in lowered
    assert SHOP_KEY not in lowered
    assert "accepted" not in lowered


# --- Catalogue and rules -------------------------------------------------------------


def test_the_catalogue_says_when_nothing_is_open(agent_client):
    response = agent_client.get(url("agent_assessments"))
    assert response.status_code == 200
    assert b"No assessments are open yet" in response.content


def test_the_catalogue_lists_platform_assessments_before_brands(agent_client, staff, knowledge):
    brand = BrandFactory(name="Acme Outdoors", slug="acme-cat")
    from brands.models import BrandRole
    from tests.brands.factories import MembershipFactory

    brand_admin = MembershipFactory(brand=brand, role=BrandRole.ADMIN).user
    published(
        knowledge_doc(slug="acme-products", title="Acme products", brand="acme-cat"),
        actor=brand_admin,
        brand=brand,
    )
    html = agent_client.get(url("agent_assessments")).content.decode()
    assert html.index("Customer-support fundamentals") < html.index("Acme products")
    assert "Gigdesk assessments" in html
    assert "Not certified yet" in html


def test_the_catalogue_shows_an_open_attempt_to_continue(agent, agent_client, knowledge):
    attempt = attempt_start(agent=agent, assessment=knowledge.assessment)
    html = agent_client.get(url("agent_assessments")).content.decode()
    assert "In progress" in html
    assert url("agent_attempt", attempt.pk) in html


def test_the_detail_page_states_the_rules(agent_client, spanish):
    html = agent_client.get(url("agent_assessment_detail", "spanish-written")).content.decode()
    assert "45 minutes" in html
    assert "Grammar: 3 items" in html
    assert "wait 14 days" in html
    assert "At most 3 attempts" in html
    assert "Valid for 12 months" in html
    assert "B1 from 45%" in html
    assert "Start the assessment" in html
    assert "You have not taken this assessment yet." in html


def test_a_brand_account_gets_the_403_page_with_a_reason(admin_client, knowledge):
    response = admin_client.get(url("agent_assessments"))
    assert response.status_code == 403
    assert b"Assessments are taken by agent accounts" in response.content
    assert admin_client.post(url("agent_assessment_start", "support-basics")).status_code == 403
    assert not Attempt.objects.exists()


def test_an_unpublished_assessment_is_not_found(agent_client):
    assert agent_client.get(url("agent_assessment_detail", "nothing-here")).status_code == 404


# --- Taking an attempt ----------------------------------------------------------------


def test_starting_opens_the_take_page_with_the_same_draw_on_every_reload(agent_client, spanish):
    attempt = start(agent_client, spanish.assessment)
    first = agent_client.get(url("agent_attempt", attempt.pk)).content.decode()
    again = agent_client.get(url("agent_attempt", attempt.pk)).content.decode()
    drawn = [qid for block in attempt.drawn for qid in block["questions"]]
    shown_top_level = [qid for qid in question_ids_on_page(first) if qid in drawn]
    assert shown_top_level == drawn
    assert question_ids_on_page(first) == question_ids_on_page(again)
    assert "Reply to a customer whose parcel is late." in first
    # The rubric's criteria are guidance for the agent.
    assert "Polite." in first


def test_starting_twice_continues_the_one_open_attempt(agent_client, knowledge):
    attempt = start(agent_client, knowledge.assessment)
    response = agent_client.post(url("agent_assessment_start", "support-basics"))
    assert response["Location"] == url("agent_attempt", attempt.pk)
    assert Attempt.objects.count() == 1


def test_an_answer_saves_as_it_is_given_and_survives_a_reload(agent, agent_client, spanish):
    attempt = start(agent_client, spanish.assessment)
    single = answerable(attempt, QuestionType.SINGLE_CHOICE)
    choice = single.choices.get(text="estoy")
    response = htmx(
        agent_client, url("agent_answer_save", attempt.pk, single.pk), {"response": choice.pk}
    )
    assert response.status_code == 200
    assert b"Saved at" in response.content
    assert Answer.objects.get(attempt=attempt, question=single).response == choice.pk

    html = agent_client.get(url("agent_attempt", attempt.pk)).content.decode()
    assert re.search(rf'value="{choice.pk}"\s+checked', html)


def test_text_and_multiple_answers_show_again_after_a_reload(agent_client, spanish):
    attempt = start(agent_client, spanish.assessment)
    multiple = answerable(attempt, QuestionType.MULTIPLE_CHOICE)
    picked = list(multiple.choices.order_by("order").values_list("pk", flat=True)[:2])
    written = answerable(attempt, QuestionType.WRITTEN)
    htmx(agent_client, url("agent_answer_save", attempt.pk, multiple.pk), {"response": picked})
    htmx(
        agent_client,
        url("agent_answer_save", attempt.pk, written.pk),
        {"response": "Estimado cliente, lo siento."},
    )
    html = agent_client.get(url("agent_attempt", attempt.pk)).content.decode()
    for pk in picked:
        assert re.search(rf'value="{pk}"\s+checked', html)
    assert "Estimado cliente, lo siento.</textarea>" in html


def test_a_refused_answer_returns_its_reason_and_saves_nothing(agent_client, knowledge, spanish):
    attempt = start(agent_client, spanish.assessment)
    single = answerable(attempt, QuestionType.SINGLE_CHOICE)
    foreign_choice = Choice.objects.exclude(question=single).first()
    response = htmx(
        agent_client,
        url("agent_answer_save", attempt.pk, single.pk),
        {"response": foreign_choice.pk},
    )
    assert response.status_code == 400
    assert b"not part of this question" in response.content
    assert not Answer.objects.filter(attempt=attempt).exists()


def test_without_htmx_a_saved_answer_returns_to_the_take_page(agent_client, knowledge):
    attempt = start(agent_client, knowledge.assessment)
    question = Question.objects.get(pk=attempt.drawn[0]["questions"][0])
    response = agent_client.post(
        url("agent_answer_save", attempt.pk, question.pk),
        {"response": question.choices.first().pk},
    )
    assert response.status_code == 302
    assert response["Location"].startswith(url("agent_attempt", attempt.pk))
    assert Answer.objects.filter(attempt=attempt, question=question).exists()


def test_handing_in_grades_and_shows_the_result_per_section(agent, agent_client, knowledge):
    attempt = start(agent_client, knowledge.assessment)
    answer_everything(agent, attempt)
    response = agent_client.post(url("agent_attempt_submit", attempt.pk))
    assert response["Location"] == url("agent_attempt_result", attempt.pk)
    html = agent_client.get(response["Location"]).content.decode()
    assert "100%" in html
    assert "Basics" in html
    assert "2 of 2" in html
    assert "You passed." in html
    assert "Certification issued" in html
    assert url("agent_profile") + "#certifications" in html
    # A closed attempt's take page sends the agent to the result.
    closed = agent_client.get(url("agent_attempt", attempt.pk))
    assert closed["Location"] == url("agent_attempt_result", attempt.pk)


def test_written_answers_wait_for_a_grader_then_show_the_comment_and_level(
    agent, agent_client, spanish, staff
):
    attempt = start(agent_client, spanish.assessment)
    answer_everything(agent, attempt)
    agent_client.post(url("agent_attempt_submit", attempt.pk))
    html = agent_client.get(url("agent_attempt_result", attempt.pk)).content.decode()
    assert "Being graded" in html
    assert "You cannot start this assessment again until the grading is done." in html

    written = Answer.objects.get(attempt=attempt, needs_grading=True)
    answer_grade(
        grader=staff,
        answer_id=written.pk,
        score={"Task": 3, "Tone": 2},
        comment="Clear apology; give a delivery date.",
    )
    html = agent_client.get(url("agent_attempt_result", attempt.pk)).content.decode()
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.GRADED
    assert "Clear apology; give a delivery date." in html
    assert "5 of 6 points" in html
    assert f"Level {attempt.level}" in html


# --- The answer key stays on the server ------------------------------------------------------


def test_no_page_or_fragment_carries_the_answer_key(agent, agent_client, spanish, staff):
    attempt = start(agent_client, spanish.assessment)
    pages = [agent_client.get(url("agent_attempt", attempt.pk)).content.decode()]
    short = answerable(attempt, QuestionType.SHORT_ANSWER)
    pages.append(
        htmx(
            agent_client, url("agent_answer_save", attempt.pk, short.pk), {"response": "no idea"}
        ).content.decode()
    )
    for question in Question.objects.filter(
        pk__in=[q.pk for q in attempt_questions(attempt)],
        type=QuestionType.SINGLE_CHOICE,
    ):
        wrong = question.choices.filter(correct=False).first()
        pages.append(
            htmx(
                agent_client,
                url("agent_answer_save", attempt.pk, question.pk),
                {"response": wrong.pk},
            ).content.decode()
        )
    written = answerable(attempt, QuestionType.WRITTEN)
    pages.append(
        htmx(
            agent_client,
            url("agent_answer_save", attempt.pk, written.pk),
            {"response": "Lo siento mucho."},
        ).content.decode()
    )
    pages.append(agent_client.get(url("agent_attempt", attempt.pk)).content.decode())
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    pages.append(agent_client.get(url("agent_attempt_result", attempt.pk)).content.decode())
    written = Answer.objects.get(attempt=attempt, needs_grading=True)
    answer_grade(grader=staff, answer_id=written.pk, score={"Task": 1, "Tone": 1})
    pages.append(agent_client.get(url("agent_attempt_result", attempt.pk)).content.decode())
    pages.append(
        agent_client.get(url("agent_assessment_detail", "spanish-written")).content.decode()
    )
    for html in pages:
        assert_no_answer_key(html)


def test_a_typed_accepted_answer_shows_because_the_agent_typed_it(agent_client, spanish):
    attempt = start(agent_client, spanish.assessment)
    short = next(q for q in attempt_questions(attempt) if q.accepted_answers == [SONG_KEY])
    htmx(agent_client, url("agent_answer_save", attempt.pk, short.pk), {"response": SONG_KEY})
    html = agent_client.get(url("agent_attempt", attempt.pk)).content.decode()
    assert f'value="{SONG_KEY}"' in html
    assert SHOP_KEY not in html


# --- The server's deadline ---------------------------------------------------------------


def test_an_answer_after_the_deadline_is_refused_and_says_time_is_up(agent_client, knowledge):
    with time_machine.travel(START, tick=False) as clock:
        attempt = start(agent_client, knowledge.assessment)
        question = Question.objects.get(pk=attempt.drawn[0]["questions"][0])
        clock.move_to(attempt.deadline_at + timedelta(seconds=1))
        response = htmx(
            agent_client,
            url("agent_answer_save", attempt.pk, question.pk),
            {"response": question.choices.first().pk},
        )
    assert response.status_code == 409
    assert b"Time is up" in response.content
    assert "assessment-time-up" in response["HX-Trigger"]
    assert url("agent_attempt_result", attempt.pk) in response["HX-Trigger"]
    assert not Answer.objects.filter(attempt=attempt).exists()


def test_a_take_page_read_after_the_deadline_closes_grades_and_shows_time_up(
    agent, agent_client, knowledge
):
    with time_machine.travel(START, tick=False) as clock:
        attempt = start(agent_client, knowledge.assessment)
        answer_everything(agent, attempt)
        clock.move_to(attempt.deadline_at + timedelta(minutes=5))
        take = agent_client.get(url("agent_attempt", attempt.pk))
        result = agent_client.get(url("agent_attempt_result", attempt.pk)).content.decode()
    assert take["Location"] == url("agent_attempt_result", attempt.pk)
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.GRADED
    assert attempt.closed_by_deadline
    assert "Time ran out" in result
    assert "100%" in result


def test_the_take_page_counts_down_from_the_servers_seconds_left(agent_client, knowledge):
    with time_machine.travel(START, tick=False) as clock:
        attempt = start(agent_client, knowledge.assessment)
        clock.move_to(START + timedelta(minutes=5))
        html = agent_client.get(url("agent_attempt", attempt.pk)).content.decode()
    assert 'data-seconds-left="900"' in html
    assert "js/assessment-attempt.js" in html


# --- Retakes ---------------------------------------------------------------------------


def test_after_a_fail_the_detail_page_and_a_start_show_when_a_retake_opens(
    agent, agent_client, knowledge
):
    with time_machine.travel(START, tick=False):
        attempt = start(agent_client, knowledge.assessment)
        answer_everything(agent, attempt, correct=False)
        agent_client.post(url("agent_attempt_submit", attempt.pk))
        result = agent_client.get(url("agent_attempt_result", attempt.pk)).content.decode()
        detail = agent_client.get(url("agent_assessment_detail", "support-basics")).content.decode()
        refused = agent_client.post(url("agent_assessment_start", "support-basics"), follow=True)
    assert "9 March 2026, 09:00 UTC" in result
    assert "9 March 2026, 09:00 UTC" in detail
    assert "Start the assessment" not in detail
    assert refused.redirect_chain[-1][0] == url("agent_assessment_detail", "support-basics")
    assert "Not started: You can take Customer-support fundamentals again from 9 March 2026" in (
        refused.content.decode()
    )
    assert Attempt.objects.filter(agent=agent).count() == 1


# --- Tenant of one: another agent's attempt ----------------------------------------------------


def test_another_agents_attempt_is_not_found(agent, knowledge):
    attempt = attempt_start(agent=agent, assessment=knowledge.assessment)
    question = Question.objects.get(pk=attempt.drawn[0]["questions"][0])
    intruder = client_for(AgentProfileFactory(user__email="eve@agents.test").user)
    assert intruder.get(url("agent_attempt", attempt.pk)).status_code == 404
    assert intruder.get(url("agent_attempt_result", attempt.pk)).status_code == 404
    assert intruder.post(url("agent_attempt_submit", attempt.pk)).status_code == 404
    saved = htmx(
        intruder,
        url("agent_answer_save", attempt.pk, question.pk),
        {"response": question.choices.first().pk},
    )
    assert saved.status_code == 404
    assert not Answer.objects.exists()
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.OPEN


# --- Certifications on the profile and home ------------------------------------------------


def certified(agent, version) -> None:
    with time_machine.travel(START, tick=False):
        attempt = attempt_start(agent=agent, assessment=version.assessment)
        answer_everything(agent, attempt)
        attempt_submit(agent=agent, attempt_id=attempt.pk)


def pages_at(user, moment, *names) -> list[str]:
    """The pages as they read at ``moment`` (logged in then: sessions expire)."""
    with time_machine.travel(moment, tick=False):
        client = client_for(user)
        return [client.get(url(name)).content.decode() for name in names]


def test_the_profile_lists_certifications_and_warns_before_one_expires(agent, knowledge):
    certified(agent, knowledge)
    calm, calm_home = pages_at(agent, START + timedelta(days=30), "agent_profile", "agent_home")
    assert "Customer-support fundamentals" in calm
    assert "2 Mar 2027" in calm
    assert "Expires in" not in calm
    assert "Retake before then" not in calm_home

    warned, home = pages_at(
        agent, datetime(2027, 2, 20, 9, 0, tzinfo=UTC), "agent_profile", "agent_home"
    )
    assert "⚠ Expires in" in warned
    assert "Customer-support fundamentals expires on 2 Mar 2027" in home

    expired, expired_home = pages_at(
        agent, datetime(2027, 3, 3, 9, 0, tzinfo=UTC), "agent_profile", "agent_home"
    )
    assert "Expired" in expired
    assert "Retake before then" not in expired_home


def test_the_profile_without_certifications_links_to_the_catalogue(agent_client):
    html = agent_client.get(url("agent_profile")).content.decode()
    assert "No certifications yet." in html
    assert url("agent_assessments") in html


# --- The pool apply page ------------------------------------------------------------------


def test_the_pool_apply_page_lists_missing_certifications_with_a_link(
    agent, agent_client, brand, brand_admin, knowledge
):
    brand_certification_require(actor=brand_admin, brand=brand, assessment=knowledge.assessment)
    html = agent_client.get(url("pool_apply", brand.slug)).content.decode()
    assert "Required certifications" in html
    assert "Customer-support fundamentals (pass)" in html
    assert "Missing" in html
    assert url("agent_assessment_detail", "support-basics") in html

    certified(agent, knowledge)
    with time_machine.travel(START + timedelta(days=1), tick=False):
        html = agent_client.get(url("pool_apply", brand.slug)).content.decode()
    assert "You hold it" in html
    assert "Missing" not in html


def test_a_pool_without_requirements_shows_no_certification_list(agent_client, brand):
    html = agent_client.get(url("pool_apply", brand.slug)).content.decode()
    assert "Required certifications" not in html
