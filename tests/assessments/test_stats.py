"""Results of an assessment: attempts by state, pass rate, score buckets,
levels, time taken, and per-question statistics with suspicious questions."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from assessments.models import QuestionType
from assessments.services import (
    answer_grade,
    answer_save,
    attempt_questions,
    attempt_start,
    attempt_submit,
    version_draft_from,
    version_publish,
)
from assessments.stats import SUSPICIOUS_MIN_ANSWERS, assessment_results, question_stats
from tests.assessments.factories import answer_everything, knowledge_doc, published
from tests.marketplace.factories import AgentProfileFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def new_agent():
    return AgentProfileFactory().user


def every_question_drawn(**overrides) -> dict:
    doc = knowledge_doc(**overrides)
    doc["sections"][0]["draw"] = len(doc["sections"][0]["questions"])
    return doc


@pytest.fixture
def quiz(staff):
    """Six one-point questions, all drawn; pass mark 70."""
    return published(every_question_drawn(), actor=staff).assessment


def take(assessment, *, right: int, agent=None):
    """A submitted attempt with the first ``right`` questions (by bank order) right."""
    agent = agent or new_agent()
    attempt = attempt_start(agent=agent, assessment=assessment)
    answer_everything(agent, attempt, correct=False)
    for question in sorted(attempt_questions(attempt), key=lambda q: q.order)[:right]:
        answer_save(
            agent=agent,
            attempt_id=attempt.pk,
            question_id=question.pk,
            response=question.choices.get(correct=True).pk,
        )
    return attempt_submit(agent=agent, attempt_id=attempt.pk)


# --- the summary --------------------------------------------------------------------------


def test_no_attempts_gives_empty_results(quiz):
    results = assessment_results(assessment=quiz)
    assert (results.attempts, results.finished, results.pass_rate) == (0, 0, None)
    assert results.average_time is None
    assert [b.count for b in results.score_buckets] == [0] * 10


def test_attempts_are_counted_by_state(quiz, spanish, staff):
    take(quiz, right=6)
    attempt_start(agent=new_agent(), assessment=quiz)
    results = assessment_results(assessment=quiz)
    assert (results.attempts, results.finished, results.in_progress, results.grading) == (
        2,
        1,
        1,
        0,
    )
    # Spanish has a written answer: submitted, it waits for a grader.
    agent = new_agent()
    attempt = attempt_start(agent=agent, assessment=spanish.assessment)
    answer_everything(agent, attempt)
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    results = assessment_results(assessment=spanish.assessment)
    assert (results.finished, results.grading, results.pass_rate) == (0, 1, None)


def test_pass_rate_and_score_buckets(quiz):
    take(quiz, right=6)  # 100: passed, in the 90-100 bucket
    take(quiz, right=5)  # 83: passed
    take(quiz, right=3)  # 50: failed
    take(quiz, right=0)  # 0: failed
    results = assessment_results(assessment=quiz)
    assert (results.finished, results.passed, results.pass_rate) == (4, 2, 50)
    counts = {b.label: b.count for b in results.score_buckets}
    assert counts == {
        "0–9": 1,
        "10–19": 0,
        "20–29": 0,
        "30–39": 0,
        "40–49": 0,
        "50–59": 1,
        "60–69": 0,
        "70–79": 0,
        "80–89": 1,
        "90–100": 1,
    }
    assert results.average_score == 58  # (100 + 83 + 50 + 0) / 4


def test_levels_reached_on_a_language_assessment(spanish, staff):
    for correct, grade in ((True, {"Task": 4, "Tone": 2}), (False, {"Task": 0, "Tone": 0})):
        agent = new_agent()
        attempt = attempt_start(agent=agent, assessment=spanish.assessment)
        answer_everything(agent, attempt, correct=correct)
        attempt = attempt_submit(agent=agent, attempt_id=attempt.pk)
        answer_grade(
            grader=staff, answer_id=attempt.answers.get(needs_grading=True).pk, score=grade
        )
    results = assessment_results(assessment=spanish.assessment)
    reached = dict(results.levels)
    assert reached.pop("C1") == 1  # everything right: 100
    assert sum(reached.values()) == 1  # everything wrong: the lowest band or none
    assert assessment_results(assessment=spanish.assessment).finished == 2


def test_average_time_is_over_graded_attempts(quiz):
    with time_machine.travel(START, tick=False) as clock:
        first, second = new_agent(), new_agent()
        a = attempt_start(agent=first, assessment=quiz)
        b = attempt_start(agent=second, assessment=quiz)
        answer_everything(first, a)
        answer_everything(second, b)
        clock.shift(timedelta(minutes=10))
        attempt_submit(agent=first, attempt_id=a.pk)
        clock.shift(timedelta(minutes=10))
        attempt_submit(agent=second, attempt_id=b.pk)
        assert assessment_results(assessment=quiz).average_time == timedelta(minutes=15)


def test_an_open_attempt_past_its_deadline_is_closed_when_read(quiz):
    with time_machine.travel(START, tick=False) as clock:
        agent = new_agent()
        attempt = attempt_start(agent=agent, assessment=quiz)
        answer_everything(agent, attempt)
        assert assessment_results(assessment=quiz).in_progress == 1
        clock.shift(timedelta(hours=2))
        results = assessment_results(assessment=quiz)
    assert (results.in_progress, results.finished, results.passed) == (0, 1, 1)


def test_a_version_filter_counts_only_that_versions_attempts(quiz, staff):
    v1 = quiz.published_version()
    take(quiz, right=6)
    v2 = version_publish(version_draft_from(v1, staff), staff)
    take(quiz, right=0)
    take(quiz, right=0)
    assert assessment_results(assessment=quiz, version=v1).attempts == 1
    assert assessment_results(assessment=quiz, version=v2).attempts == 2
    assert assessment_results(assessment=quiz).attempts == 3
    assert assessment_results(assessment=quiz).versions == [2, 1]
    assert {s.version_number for s in question_stats(assessment=quiz, version=v2)} == {2}


# --- per question ---------------------------------------------------------------------------


def test_per_question_counts_drawn_answered_and_right(quiz):
    take(quiz, right=2)
    take(quiz, right=1)
    take(quiz, right=0)
    stats = question_stats(assessment=quiz)
    assert [(s.drawn, s.answered, s.right, s.percent_right) for s in stats[:3]] == [
        (3, 3, 2.0, 67),
        (3, 3, 1.0, 33),
        (3, 3, 0.0, 0),
    ]
    assert not any(s.suspicious for s in stats)


def test_a_question_drawn_but_not_answered_counts_as_drawn_only(quiz):
    agent = new_agent()
    attempt = attempt_start(agent=agent, assessment=quiz)
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    stats = question_stats(assessment=quiz)
    assert {(s.drawn, s.answered, s.percent_right) for s in stats} == {(1, 0, None)}


def test_written_questions_count_the_average_grader_score(spanish, staff):
    for points in ({"Task": 4, "Tone": 2}, {"Task": 1, "Tone": 1}):
        agent = new_agent()
        attempt = attempt_start(agent=agent, assessment=spanish.assessment)
        answer_everything(agent, attempt)
        attempt = attempt_submit(agent=agent, attempt_id=attempt.pk)
        answer_grade(
            grader=staff, answer_id=attempt.answers.get(needs_grading=True).pk, score=points
        )
    written = next(
        s for s in question_stats(assessment=spanish.assessment) if s.question.type == "written"
    )
    # (6 + 2) / 6 points = 1.33 "right" of 2 graded: 67 %.
    assert (written.answered, round(written.right, 2), written.percent_right) == (2, 1.33, 67)


def test_reading_questions_are_drawn_with_their_passage(spanish):
    agent = new_agent()
    attempt = attempt_start(agent=agent, assessment=spanish.assessment)
    attempt_submit(agent=agent, attempt_id=attempt.pk)
    children = [s for s in question_stats(assessment=spanish.assessment) if s.question.parent_id]
    assert len(children) == 2
    assert {s.drawn for s in children} == {1}
    assert all(
        s.question.type != QuestionType.READING
        for s in question_stats(assessment=spanish.assessment)
    )


def test_questions_almost_nobody_or_everybody_gets_right_are_flagged(quiz):
    for _ in range(SUSPICIOUS_MIN_ANSWERS):
        take(quiz, right=1)  # the first always right, the others always wrong
    stats = question_stats(assessment=quiz)
    assert [s.suspicious for s in stats] == [True] * 6
    assert (stats[0].percent_right, stats[1].percent_right) == (100, 0)


def test_too_few_answers_are_not_flagged(quiz):
    for _ in range(SUSPICIOUS_MIN_ANSWERS - 1):
        take(quiz, right=1)
    assert not any(s.suspicious for s in question_stats(assessment=quiz))


def test_queries_do_not_grow_with_the_number_of_attempts(quiz):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assessment_results(assessment=quiz)
            question_stats(assessment=quiz)
        return len(captured)

    take(quiz, right=3)
    few = queries()
    for right in range(6):
        take(quiz, right=right)
    assert queries() == few
