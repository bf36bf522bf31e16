from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from assessments.models import Answer, Attempt, AttemptStatus, Question
from assessments.selectors import attempt_for_agent, attempt_questions_for_agent
from assessments.services import (
    answer_save,
    attempt_opens_at,
    attempt_questions,
    attempt_start,
    attempt_submit,
    version_draft_from,
    version_publish,
)
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.assessments.factories import answer_everything, knowledge_doc, published

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def quiz(staff):
    """Six questions, two drawn: enough for the draw to differ between seeds."""
    return published(knowledge_doc(), actor=staff)


def test_start_draws_from_each_section_and_sets_the_deadline(agent, spanish):
    with time_machine.travel(START, tick=False):
        attempt = attempt_start(agent=agent, assessment=spanish.assessment)
    assert attempt.status == AttemptStatus.OPEN
    assert attempt.version == spanish
    assert attempt.deadline_at == START + timedelta(minutes=45)
    assert [len(block["questions"]) for block in attempt.drawn] == [3, 1, 1]


def test_starting_again_returns_the_open_attempt(agent, spanish):
    first = attempt_start(agent=agent, assessment=spanish.assessment)
    assert attempt_start(agent=agent, assessment=spanish.assessment) == first
    assert Attempt.objects.count() == 1


def test_brand_users_cannot_take_assessments(brand_admin, spanish):
    with pytest.raises(PermissionDenied):
        attempt_start(agent=brand_admin, assessment=spanish.assessment)


def test_draw_is_stored_and_stable_across_reloads(agent, quiz):
    attempt = attempt_start(agent=agent, assessment=quiz.assessment)
    shown = attempt_questions_for_agent(attempt)
    again = attempt_questions_for_agent(Attempt.objects.get(pk=attempt.pk))
    ids = [q["id"] for q in shown["sections"][0]["questions"]]
    assert ids == attempt.drawn[0]["questions"]
    assert [q["id"] for q in again["sections"][0]["questions"]] == ids


def test_draw_comes_from_the_seed(agent, other_agent, quiz):
    from assessments.services import _draw

    attempt = attempt_start(agent=agent, assessment=quiz.assessment)
    assert _draw(quiz, attempt.seed) == attempt.drawn
    draws = {tuple(_draw(quiz, seed)[0]["questions"]) for seed in range(20)}
    assert len(draws) > 1  # different seeds, different questions or orders


def test_attempt_keeps_its_version_when_a_new_one_is_published(agent, staff, spanish):
    attempt = attempt_start(agent=agent, assessment=spanish.assessment)
    v2 = version_publish(version_draft_from(spanish, staff), staff)
    attempt.refresh_from_db()
    assert attempt.version == spanish
    assert spanish.assessment.published_version() == v2
    ids = {q.pk for q in attempt_questions(attempt)}
    assert ids <= set(
        Question.objects.filter(section__version=spanish).values_list("pk", flat=True)
    )


def test_answer_saves_and_replaces(agent, spanish):
    attempt = attempt_start(agent=agent, assessment=spanish.assessment)
    question = next(q for q in attempt_questions(attempt) if q.type == "short_answer")
    answer_save(agent=agent, attempt_id=attempt.pk, question_id=question.pk, response="x")
    answer_save(agent=agent, attempt_id=attempt.pk, question_id=question.pk, response="canción")
    assert Answer.objects.get(attempt=attempt, question=question).response == "canción"


def test_answer_to_a_question_not_in_the_attempt_is_refused(agent, quiz):
    attempt = attempt_start(agent=agent, assessment=quiz.assessment)
    drawn = set(attempt.drawn_question_ids())
    outside = Question.objects.filter(section__version=quiz).exclude(pk__in=drawn).first()
    with pytest.raises(ValidationFailed):
        answer_save(agent=agent, attempt_id=attempt.pk, question_id=outside.pk, response=1)
    assert not Answer.objects.exists()


def test_answer_to_a_reading_passage_itself_is_refused(agent, spanish):
    attempt = attempt_start(agent=agent, assessment=spanish.assessment)
    reading = Question.objects.get(section__version=spanish, type="reading")
    with pytest.raises(ValidationFailed):
        answer_save(agent=agent, attempt_id=attempt.pk, question_id=reading.pk, response="x")


def test_answer_with_a_choice_of_another_question_is_refused(agent, spanish):
    attempt = attempt_start(agent=agent, assessment=spanish.assessment)
    single = next(q for q in attempt_questions(attempt) if q.type == "single_choice")
    foreign = Question.objects.filter(type="multiple_choice").first().choices.first()
    with pytest.raises(ValidationFailed):
        answer_save(agent=agent, attempt_id=attempt.pk, question_id=single.pk, response=foreign.pk)
    assert not Answer.objects.exists()


def test_answer_to_another_agents_attempt_is_refused(agent, other_agent, spanish):
    attempt = attempt_start(agent=agent, assessment=spanish.assessment)
    question = attempt_questions(attempt)[0]
    with pytest.raises(NotFound):
        answer_save(agent=other_agent, attempt_id=attempt.pk, question_id=question.pk, response=1)
    with pytest.raises(NotFound):
        attempt_for_agent(agent=other_agent, attempt_id=attempt.pk)
    assert not Answer.objects.exists()


def test_answer_after_the_deadline_is_refused_and_the_attempt_closes(agent, spanish):
    with time_machine.travel(START, tick=False) as clock:
        attempt = attempt_start(agent=agent, assessment=spanish.assessment)
        single = next(q for q in attempt_questions(attempt) if q.type == "single_choice")
        right = single.choices.get(correct=True).pk
        answer_save(agent=agent, attempt_id=attempt.pk, question_id=single.pk, response=right)
        clock.shift(timedelta(minutes=45))
        short = next(q for q in attempt_questions(attempt) if q.type == "short_answer")
        with pytest.raises(Conflict) as caught:
            answer_save(agent=agent, attempt_id=attempt.pk, question_id=short.pk, response="x")
    assert caught.value.code == "attempt_deadline_passed"
    assert not Answer.objects.filter(question=short).exists()
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.GRADED
    assert attempt.closed_by_deadline and attempt.submitted_at == attempt.deadline_at
    assert attempt.score_points == 1


def test_answer_one_second_before_the_deadline_is_saved(agent, spanish):
    with time_machine.travel(START, tick=False) as clock:
        attempt = attempt_start(agent=agent, assessment=spanish.assessment)
        question = next(q for q in attempt_questions(attempt) if q.type == "short_answer")
        clock.shift(timedelta(minutes=45) - timedelta(seconds=1))
        answer_save(agent=agent, attempt_id=attempt.pk, question_id=question.pk, response="x")
    assert Answer.objects.filter(question=question).exists()


def test_an_attempt_past_its_deadline_is_closed_and_graded_when_read(agent, quiz):
    with time_machine.travel(START, tick=False) as clock:
        attempt = attempt_start(agent=agent, assessment=quiz.assessment)
        answer_everything(agent, attempt)
        clock.shift(timedelta(hours=1))
        read = attempt_for_agent(agent=agent, attempt_id=attempt.pk)
    assert read.status == AttemptStatus.GRADED
    assert read.score == 100 and read.passed
    assert read.certification.issued_at == START + timedelta(hours=1)


def test_an_attempt_expired_without_answers_is_a_fail(agent, quiz):
    with time_machine.travel(START, tick=False) as clock:
        attempt = attempt_start(agent=agent, assessment=quiz.assessment)
        clock.shift(timedelta(hours=1))
        read = attempt_for_agent(agent=agent, attempt_id=attempt.pk)
    assert read.status == AttemptStatus.EXPIRED
    assert read.passed is False and read.score == 0


def test_a_new_start_after_the_deadline_closes_the_old_attempt(agent, spanish):
    with time_machine.travel(START, tick=False) as clock:
        old = attempt_start(agent=agent, assessment=spanish.assessment)
        clock.shift(timedelta(hours=1))
        with pytest.raises(ValidationFailed) as caught:  # the expired one is a fail
            attempt_start(agent=agent, assessment=spanish.assessment)
    old.refresh_from_db()
    assert old.status == AttemptStatus.EXPIRED
    assert caught.value.code == "attempt_not_yet"


def test_submit_after_closing_is_refused(agent, quiz):
    attempt = attempt_start(agent=agent, assessment=quiz.assessment)
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    with pytest.raises(Conflict):
        attempt_submit(agent=agent, attempt_id=attempt.pk)
    with pytest.raises(Conflict):
        answer_save(
            agent=agent,
            attempt_id=attempt.pk,
            question_id=attempt.drawn_question_ids()[0],
            response=1,
        )


def test_a_fail_starts_the_cooldown_with_the_date_it_opens(agent, quiz):
    with time_machine.travel(START, tick=False) as clock:
        attempt = attempt_start(agent=agent, assessment=quiz.assessment)
        answer_everything(agent, attempt, correct=False)
        attempt = attempt_submit(agent=agent, attempt_id=attempt.pk)
        assert attempt.passed is False
        clock.shift(timedelta(days=7) - timedelta(seconds=1))
        with pytest.raises(ValidationFailed) as caught:
            attempt_start(agent=agent, assessment=quiz.assessment)
        assert "9 March 2026 at 09:00 UTC" in caught.value.message
        clock.shift(timedelta(seconds=1))
        again = attempt_start(agent=agent, assessment=quiz.assessment)
    assert again.pk != attempt.pk


def test_past_the_attempt_cap_the_refusal_names_the_date(agent, staff):
    version = published(knowledge_doc(cooldown_days=0, max_attempts=2), actor=staff)
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(2):
            attempt = attempt_start(agent=agent, assessment=version.assessment)
            attempt_submit(agent=agent, attempt_id=attempt.pk)
            clock.shift(timedelta(days=1))
        with pytest.raises(ValidationFailed) as caught:
            attempt_start(agent=agent, assessment=version.assessment)
        assert "2 March 2027" in caught.value.message
        clock.move_to(START + timedelta(days=366))
        assert attempt_start(agent=agent, assessment=version.assessment).status == "open"


def test_a_draft_only_assessment_cannot_be_started(agent, staff):
    from assessments.content import assessment_import

    draft = assessment_import(knowledge_doc(slug="draft-only"), actor=staff)
    with pytest.raises(NotFound):
        attempt_start(agent=agent, assessment=draft.assessment)


def test_a_language_level_waits_the_cooldown_before_a_retake(agent, staff, spanish):
    # Even a pass: retaking at once to raise the level would let the bank be learnt.
    with time_machine.travel(START, tick=False) as clock:
        attempt = attempt_start(agent=agent, assessment=spanish.assessment)
        answer_everything(agent, attempt, written="")
        attempt = attempt_submit(agent=agent, attempt_id=attempt.pk)
        assert attempt.passed is True and attempt.level
        cooldown = timedelta(days=spanish.cooldown_days)
        assert attempt_opens_at(agent=agent, assessment=spanish.assessment) == START + cooldown
        clock.shift(cooldown)
        assert attempt_opens_at(agent=agent, assessment=spanish.assessment) is None


def test_a_knowledge_pass_has_no_cooldown(agent, quiz):
    with time_machine.travel(START, tick=False):
        attempt = attempt_start(agent=agent, assessment=quiz.assessment)
        answer_everything(agent, attempt)
        attempt = attempt_submit(agent=agent, attempt_id=attempt.pk)
        assert attempt.passed is True
        assert attempt_opens_at(agent=agent, assessment=quiz.assessment) is None
