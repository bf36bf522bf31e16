import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from assessments.models import Answer, Attempt, AttemptStatus, Certification, Question
from assessments.selectors import (
    attempt_questions_for_agent,
    attempt_result_for_agent,
    certification_satisfies,
    grading_queue,
)
from assessments.services import (
    answer_grade,
    answer_save,
    attempt_questions,
    attempt_start,
    attempt_submit,
    normalise_text,
)
from brands.models import BrandRole
from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.models import AgentLanguage
from tests.assessments.factories import answer_everything, knowledge_doc, language_doc, published
from tests.brands.factories import MembershipFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _question(attempt, qtype):
    return next(q for q in attempt_questions(attempt) if q.type == qtype)


def _save(agent, attempt, question, response):
    return answer_save(
        agent=agent, attempt_id=attempt.pk, question_id=question.pk, response=response
    )


def _graded(attempt, question):
    return Answer.objects.get(attempt=attempt, question=question).auto_score


@pytest.fixture
def attempt(agent, spanish):
    return attempt_start(agent=agent, assessment=spanish.assessment)


def test_single_choice_scores_the_correct_choice_only(agent, attempt):
    question = _question(attempt, "single_choice")
    _save(agent, attempt, question, question.choices.get(correct=False).pk)
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    assert _graded(attempt, question) == 0


def test_multiple_choice_is_all_or_nothing(agent, spanish):
    attempt = attempt_start(agent=agent, assessment=spanish.assessment)
    question = _question(attempt, "multiple_choice")
    right = list(question.choices.filter(correct=True).values_list("pk", flat=True))
    _save(agent, attempt, question, right[:1])
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    assert _graded(attempt, question) == 0


def test_multiple_choice_with_every_correct_choice_scores_full(agent, attempt):
    question = _question(attempt, "multiple_choice")
    right = list(question.choices.filter(correct=True).values_list("pk", flat=True))
    _save(agent, attempt, question, list(reversed(right)))
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    assert _graded(attempt, question) == 2


def test_multiple_choice_with_an_extra_wrong_choice_scores_nothing(agent, attempt):
    question = _question(attempt, "multiple_choice")
    _save(agent, attempt, question, list(question.choices.values_list("pk", flat=True)))
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    assert _graded(attempt, question) == 0


@pytest.mark.parametrize("given", ["canción", "  CANCION ", "Canci\u0301on", "cancio\u0301n"])
def test_short_answer_ignores_case_spacing_and_accents(agent, attempt, given):
    question = _question(attempt, "short_answer")
    _save(agent, attempt, question, given)
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    assert _graded(attempt, question) == 1


def test_short_answer_with_other_words_scores_nothing(agent, attempt):
    question = _question(attempt, "short_answer")
    _save(agent, attempt, question, "canciones")
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    assert _graded(attempt, question) == 0


def test_normalise_text_folds_inner_spacing():
    assert normalise_text(" Buenos   DÍAS\t") == "buenos dias"


def test_reading_children_score_into_the_reading_section(agent, attempt, staff):
    answer_everything(agent, attempt)
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    (pending,) = grading_queue(staff)
    answer_grade(grader=staff, answer_id=pending.pk, score={"Task": 0, "Tone": 0})
    done = attempt.__class__.objects.get(pk=attempt.pk)
    reading = next(s for s in done.section_scores if s["title"] == "Reading")
    assert (reading["points"], reading["max_points"]) == (2, 2)


def test_written_answers_wait_for_a_grader(agent, attempt, staff):
    answer_everything(agent, attempt)
    done = attempt_submit(agent=agent, attempt_id=attempt.pk)
    assert done.status == AttemptStatus.GRADING
    assert done.score is None
    assert list(grading_queue(staff)) == list(Answer.objects.filter(needs_grading=True))
    result = attempt_result_for_agent(done)
    assert result["final"] is False and "score" not in result


def test_grading_the_last_written_answer_finalises_and_certifies(agent, staff, spanish):
    with time_machine.travel(START, tick=False) as clock:
        attempt = attempt_start(agent=agent, assessment=spanish.assessment)
        answer_everything(agent, attempt)
        attempt_submit(agent=agent, attempt_id=attempt.pk)
        clock.shift(timedelta(days=2))
        (pending,) = grading_queue(staff)
        answer_grade(
            grader=staff, answer_id=pending.pk, score={"Task": 3, "Tone": 2}, comment="Clear."
        )
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.GRADED
    # 1 + 2 + 1 grammar, 2 reading, 5 of 6 written: 11 of 12 = 92%
    assert (attempt.score_points, attempt.max_points, attempt.score) == (11, 12, 92)
    assert attempt.level == "C1" and attempt.passed
    cert = Certification.objects.get(agent=agent)
    assert cert.level == "C1" and cert.version == spanish
    assert cert.issued_at == START + timedelta(days=2)
    assert cert.expires_at == datetime(2027, 3, 4, 9, 0, tzinfo=UTC)
    result = attempt_result_for_agent(attempt)
    assert result["level"] == "C1" and result["score"] == 92
    assert [s["score"] for s in result["sections"]] == [100, 100, 83]
    assert result["comments"][0]["comment"] == "Clear."


def test_the_level_comes_from_the_bands(agent, staff, spanish):
    attempt = attempt_start(agent=agent, assessment=spanish.assessment)
    answer_everything(agent, attempt)
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    (pending,) = grading_queue(staff)
    answer_grade(grader=staff, answer_id=pending.pk, score={"Task": 0, "Tone": 0})
    attempt.refresh_from_db()
    assert attempt.score == 50  # 6 of 12
    assert attempt.level == "B1"


def test_grades_outside_the_rubric_are_refused(agent, attempt, staff):
    answer_everything(agent, attempt)
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    (pending,) = grading_queue(staff)
    for bad in ({"Task": 5, "Tone": 0}, {"Task": 1}, {"Task": 1, "Tone": 1, "Style": 1}, 3):
        with pytest.raises(ValidationFailed):
            answer_grade(grader=staff, answer_id=pending.pk, score=bad)
    pending.refresh_from_db()
    assert pending.needs_grading and pending.grader_score is None


def test_an_answer_is_graded_once(agent, attempt, staff):
    answer_everything(agent, attempt)
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    (pending,) = grading_queue(staff)
    answer_grade(grader=staff, answer_id=pending.pk, score={"Task": 1, "Tone": 1})
    with pytest.raises((NotFound, Conflict)):
        answer_grade(grader=staff, answer_id=pending.pk, score={"Task": 4, "Tone": 2})


def test_an_empty_written_answer_scores_zero_without_a_grader(agent, attempt):
    for question in attempt_questions(attempt):
        if question.type == "single_choice":
            _save(agent, attempt, question, question.choices.get(correct=True).pk)
    done = attempt_submit(agent=agent, attempt_id=attempt.pk)
    assert done.status == AttemptStatus.GRADED
    assert not Answer.objects.filter(needs_grading=True).exists()


def test_a_knowledge_fail_has_no_certification_and_says_when_to_retry(agent, staff):
    version = published(knowledge_doc(), actor=staff)
    with time_machine.travel(START, tick=False):
        attempt = attempt_start(agent=agent, assessment=version.assessment)
        answer_everything(agent, attempt, correct=False)
        done = attempt_submit(agent=agent, attempt_id=attempt.pk)
        result = attempt_result_for_agent(done)
    assert result["passed"] is False and result["level"] is None
    assert result["retake_opens_at"] == START + timedelta(days=7)
    assert not Certification.objects.exists()


def test_a_knowledge_pass_certifies_without_a_level(agent, staff):
    version = published(knowledge_doc(), actor=staff)
    attempt = attempt_start(agent=agent, assessment=version.assessment)
    answer_everything(agent, attempt)
    done = attempt_submit(agent=agent, attempt_id=attempt.pk)
    assert done.passed and done.level == ""
    assert certification_satisfies(agent, version.assessment, None)


def _key_strings(version):
    """Every accepted answer of the version that only the key reveals (a
    reading answer may also appear in its passage, which the agent reads)."""
    questions = list(Question.objects.filter(section__version=version))
    passages = " ".join(q.passage for q in questions)
    return [
        a for q in questions for a in q.accepted_answers if a not in passages and a not in q.prompt
    ]


def test_agent_facing_data_never_holds_the_answer_key(agent, staff, spanish):
    attempt = attempt_start(agent=agent, assessment=spanish.assessment)
    shown = json.dumps(attempt_questions_for_agent(attempt), default=str)
    assert _key_strings(spanish) == ["canción"]
    assert "correct" not in shown
    assert "accepted" not in shown
    for accepted in _key_strings(spanish):
        assert accepted not in shown
    answer_everything(agent, attempt, correct=False)
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    (pending,) = grading_queue(staff)
    answer_grade(grader=staff, answer_id=pending.pk, score={"Task": 1, "Tone": 1}, comment="Ok")
    attempt.refresh_from_db()
    for data in (attempt_result_for_agent(attempt), attempt_questions_for_agent(attempt)):
        shown = json.dumps(data, default=str)
        assert "correct" not in shown and "accepted" not in shown
        for accepted in _key_strings(spanish):
            assert accepted not in shown


# --- tenant rules for brand assessments ------------------------------------


@pytest.fixture
def brand_quiz(brand, brand_admin):
    doc = language_doc(slug="acme-spanish", brand="acme")
    return published(doc, actor=brand_admin, brand=brand)


@pytest.fixture
def brand_pending(agent, brand_quiz):
    attempt = attempt_start(agent=agent, assessment=brand_quiz.assessment)
    answer_everything(agent, attempt)
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    return Answer.objects.get(attempt=attempt, needs_grading=True)


def test_a_brands_qa_reviewer_grades_its_assessments(brand, brand_pending):
    reviewer = MembershipFactory(brand=brand, role=BrandRole.QA_REVIEWER).user
    assert list(grading_queue(reviewer)) == [brand_pending]
    answer_grade(grader=reviewer, answer_id=brand_pending.pk, score={"Task": 4, "Tone": 2})
    brand_pending.refresh_from_db()
    assert brand_pending.graded_by == reviewer


def test_other_brands_viewers_and_staff_cannot_grade_a_brands_answers(
    brand_pending, other_admin, brand_viewer, staff
):
    for outsider in (other_admin, brand_viewer, staff):
        assert list(grading_queue(outsider)) == []
        with pytest.raises(NotFound):
            answer_grade(grader=outsider, answer_id=brand_pending.pk, score={"Task": 1, "Tone": 1})
    brand_pending.refresh_from_db()
    assert brand_pending.needs_grading


def test_a_brand_admin_cannot_grade_platform_answers(agent, attempt, brand_admin):
    answer_everything(agent, attempt)
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    pending = Answer.objects.get(needs_grading=True)
    assert list(grading_queue(brand_admin)) == []
    with pytest.raises(NotFound):
        answer_grade(grader=brand_admin, answer_id=pending.pk, score={"Task": 1, "Tone": 1})


def test_another_brand_cannot_see_a_brands_assessment(
    brand_quiz, brand, brand_admin, other_admin, other_brand
):
    from assessments.selectors import access_assessment, assessments_for_author

    slug = brand_quiz.assessment.slug
    assert access_assessment(brand_admin, slug, brand=brand) == brand_quiz.assessment
    assert list(assessments_for_author(user=other_admin, brand=other_brand)) == []
    with pytest.raises(NotFound):
        access_assessment(other_admin, slug, brand=other_brand)
    assert list(assessments_for_author(user=other_admin, brand=brand)) == []


def _certify(agent, staff, spanish, *, task: int, tone: int):
    attempt = attempt_start(agent=agent, assessment=spanish.assessment)
    answer_everything(agent, attempt)
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    (pending,) = grading_queue(staff)
    answer_grade(grader=staff, answer_id=pending.pk, score={"Task": task, "Tone": tone})
    attempt.refresh_from_db()
    return attempt


def test_a_language_certification_adds_the_language_to_the_profile(agent, staff, spanish):
    attempt = _certify(agent, staff, spanish, task=3, tone=2)
    declared = AgentLanguage.objects.get(profile__user=agent, language=spanish.assessment.language)
    assert declared.level == attempt.level == "C1"


def test_a_certified_level_raises_a_lower_declared_one_but_never_lowers(agent, staff, spanish):
    language = spanish.assessment.language
    profile = agent.agent_profile
    AgentLanguage.objects.create(profile=profile, language=language, level="A2")
    _certify(agent, staff, spanish, task=0, tone=0)  # B1
    assert AgentLanguage.objects.get(profile=profile, language=language).level == "B1"
    AgentLanguage.objects.filter(profile=profile, language=language).update(level="C2")
    Attempt.objects.filter(agent=agent).update(submitted_at=START)  # the cooldown is over
    Certification.objects.filter(agent=agent).delete()
    _certify(agent, staff, spanish, task=3, tone=2)  # C1
    assert AgentLanguage.objects.get(profile=profile, language=language).level == "C2"
