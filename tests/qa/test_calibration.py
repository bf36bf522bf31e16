"""Calibration sessions: invitations, blind scoring, spread figures, the gold
review and reviewer alignment, worked by hand on the issue's example scorecard.

Three reviewers score the same task (v = (r − min)/(max − min)):
  R1 = the example ratings → 72.0
  R2 = top marks everywhere, upsell rated 3 → 100.0
  R3 = greeting No, understanding 3, solution 3, tone 2, data 1, upsell N/A
       → (0 + 3·½ + 4·⅔ + 2·½ + 1)/11 = 37/66 → 56.1
Gold: greeting 1, understanding 4, solution 4, tone 2, data 1, upsell N/A.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from marketplace.models import AuditEvent
from qa.calibration import (
    access_calibration_session,
    calibration_review_save,
    calibration_review_submit,
    eligible_reviewers,
    gold_record,
    reviewer_alignment,
    session_close,
    session_create,
    session_progress,
    session_stats,
    visible_reviews,
)
from qa.models import CalibrationSession, CalibrationStatus, Review
from qa.selectors import agent_qa_score
from tests.marketplace.factories import StaffUserFactory
from tests.qa.factories import EXAMPLE_RATINGS, closed_task

pytestmark = pytest.mark.django_db

R1 = dict(EXAMPLE_RATINGS)
R2 = {
    "greeting": 1,
    "understanding": 5,
    "solution": 4,
    "tone": 3,
    "data_protection": 1,
    "upsell": 3,
}
R3 = {
    "greeting": 0,
    "understanding": 3,
    "solution": 3,
    "tone": 2,
    "data_protection": 1,
    "upsell": None,
}
GOLD = {
    "greeting": 1,
    "understanding": 4,
    "solution": 4,
    "tone": 2,
    "data_protection": 1,
    "upsell": None,
}


@pytest.fixture
def gold_staff(db):
    return StaffUserFactory(email="gold@gigdesk.test", full_name="Gale Gold")


@pytest.fixture
def reviewers(reviewer, second_reviewer, staff):
    return [reviewer, second_reviewer, staff]


@pytest.fixture
def session(version, task, reviewers, gold_staff):
    return session_create(actor=gold_staff, task=task, reviewers=reviewers)


def _score_all(session, reviewers, ratings_list=(R1, R2, R3)):
    for reviewer, ratings in zip(reviewers, ratings_list, strict=True):
        calibration_review_submit(reviewer=reviewer, session=session, ratings=ratings)


# --- creating ---------------------------------------------------------------------------


def test_create_invites_reviewers_and_pins_the_gig_version(session, reviewers, version):
    assert session.status == CalibrationStatus.OPEN
    assert session.scorecard_version == version
    assert {invite.reviewer for invite in session.invites.all()} == set(reviewers)
    assert AuditEvent.objects.filter(action="qa.calibration_created").count() == 1


def test_create_needs_three_distinct_reviewers(version, task, reviewer, second_reviewer, staff):
    with pytest.raises(ValidationFailed) as error:
        session_create(actor=staff, task=task, reviewers=[reviewer, second_reviewer, reviewer])
    assert error.value.code == "too_few_reviewers"
    assert not CalibrationSession.objects.exists()


def test_create_refuses_the_tasks_agent(version, task, agent, reviewer, second_reviewer, staff):
    with pytest.raises(ValidationFailed) as error:
        session_create(actor=staff, task=task, reviewers=[reviewer, second_reviewer, agent])
    assert error.value.code == "agent_invited"
    assert not CalibrationSession.objects.exists()


def test_create_refuses_another_brands_reviewer(
    version, task, reviewer, second_reviewer, other_reviewer, staff
):
    with pytest.raises(ValidationFailed) as error:
        session_create(
            actor=staff, task=task, reviewers=[reviewer, second_reviewer, other_reviewer]
        )
    assert error.value.code == "not_a_reviewer"


def test_only_staff_create(version, task, reviewers, brand_admin):
    with pytest.raises(PermissionDenied):
        session_create(actor=brand_admin, task=task, reviewers=reviewers)


def test_open_tasks_cannot_be_calibrated(version, gig, agent, reviewers, staff):
    open_task = closed_task(gig=gig, agent=agent, closed_at=None)
    with pytest.raises(ValidationFailed):
        session_create(actor=staff, task=open_task, reviewers=reviewers)


def test_eligible_reviewers_are_staff_and_brand_reviewers_never_the_agent(
    task, reviewer, second_reviewer, staff, brand_admin, brand_viewer, other_reviewer, agent
):
    eligible = set(eligible_reviewers(task))
    assert {reviewer, second_reviewer, staff, brand_admin} <= eligible
    assert brand_viewer not in eligible
    assert other_reviewer not in eligible
    assert agent not in eligible


# --- scoring blind ----------------------------------------------------------------------


def test_a_reviewer_sees_others_only_after_submitting(session, reviewers):
    first, second, third = reviewers
    calibration_review_submit(reviewer=first, session=session, ratings=R1)
    assert visible_reviews(viewer=second, session=session) == []
    calibration_review_save(reviewer=second, session=session, ratings={"greeting": 1})
    assert visible_reviews(viewer=second, session=session) == []

    calibration_review_submit(reviewer=second, session=session, ratings=R2)
    seen = visible_reviews(viewer=second, session=session)
    assert [review.reviewer for review in seen] == [first, second]
    assert visible_reviews(viewer=third, session=session) == []


def test_staff_see_progress_but_no_scores_until_close(session, reviewers, gold_staff):
    _score_all(session, reviewers[:2], (R1, R2))
    assert visible_reviews(viewer=gold_staff, session=session) == []
    progress = session_progress(session)
    assert [row.submitted for row in progress] == [True, True, False]

    calibration_review_submit(reviewer=reviewers[2], session=session, ratings=R3)
    session_close(actor=gold_staff, session=session)
    session.refresh_from_db()
    assert len(visible_reviews(viewer=gold_staff, session=session)) == 3


def test_uninvited_users_cannot_open_or_score(session, brand_admin, agent):
    with pytest.raises(NotFound):
        access_calibration_session(brand_admin, session.pk)
    with pytest.raises(NotFound):
        access_calibration_session(agent, session.pk)
    with pytest.raises(NotFound):
        calibration_review_submit(reviewer=brand_admin, session=session, ratings=R1)


def test_submitted_scoring_cannot_change(session, reviewer):
    calibration_review_submit(reviewer=reviewer, session=session, ratings=R1)
    with pytest.raises(Conflict):
        calibration_review_submit(reviewer=reviewer, session=session, ratings=R2)
    assert Review.objects.get(reviewer=reviewer).ratings == R1


def test_incomplete_ratings_are_refused_and_nothing_is_submitted(session, reviewer):
    with pytest.raises(ValidationFailed) as error:
        calibration_review_submit(reviewer=reviewer, session=session, ratings={"greeting": 1})
    assert "understanding" in error.value.fields
    assert not Review.objects.filter(status="submitted").exists()


def test_calibration_scoring_never_counts_toward_the_agent(session, reviewers, agent, gig):
    _score_all(session, reviewers)
    assert Review.objects.filter(is_calibration=True, status="submitted").count() == 3
    overall = agent_qa_score(agent=agent)
    assert (overall.score, overall.count) == (None, 0)
    assert agent_qa_score(agent=agent, gig=gig).count == 0
    assert not Review.objects.for_user(agent).exists()


# --- closing and statistics -------------------------------------------------------------


def test_close_needs_three_submitted(session, reviewers, gold_staff):
    _score_all(session, reviewers[:2], (R1, R2))
    with pytest.raises(ValidationFailed) as error:
        session_close(actor=gold_staff, session=session)
    assert error.value.code == "too_few_submitted"
    session.refresh_from_db()
    assert session.status == CalibrationStatus.OPEN


def test_close_returns_hand_worked_spread(session, reviewers, gold_staff):
    _score_all(session, reviewers)
    stats = session_close(actor=gold_staff, session=session)

    scores = sorted(Review.objects.filter(is_calibration=True).values_list("score", flat=True))
    assert scores == [Decimal("56.1"), Decimal("72.0"), Decimal("100.0")]
    # Overall: mean 228.1/3; deviations −4.03, 23.97, −19.93 → variance 329.34 → SD 18.1.
    overall = stats.overall
    assert (overall.min, overall.max, overall.spread, overall.sd) == (
        Decimal("56.1"),
        Decimal("100.0"),
        Decimal("43.9"),
        Decimal("18.1"),
    )
    rows = {row.key: row for row in stats.categories}
    # Understanding: 75, 100, 50 → spread 50, SD √(1250/3) = 20.41.
    understanding = rows["understanding"]
    assert (understanding.min, understanding.max, understanding.spread, understanding.sd) == (
        Decimal("50.0"),
        Decimal("100.0"),
        Decimal("50.0"),
        Decimal("20.4"),
    )
    # Greeting: 100, 100, 0 → SD √(20000/9) = 47.14.
    assert rows["greeting"].sd == Decimal("47.1")
    # Upsell: N/A twice, so only R2's 100 counts.
    assert (rows["upsell"].count, rows["upsell"].spread, rows["upsell"].sd) == (
        1,
        Decimal("0.0"),
        Decimal("0.0"),
    )
    session.refresh_from_db()
    assert session.status == CalibrationStatus.CLOSED
    assert session_stats(session) == stats


def test_a_closed_session_takes_no_more_scoring(session, reviewers, gold_staff, brand_admin):
    _score_all(session, reviewers)
    session_close(actor=gold_staff, session=session)
    with pytest.raises(Conflict):
        calibration_review_save(reviewer=reviewers[0], session=session, ratings={})


def test_only_staff_close(session, reviewers, brand_admin):
    _score_all(session, reviewers)
    with pytest.raises(PermissionDenied):
        session_close(actor=brand_admin, session=session)


# --- gold and alignment -----------------------------------------------------------------


def test_gold_alignment_hand_worked(session, reviewers, gold_staff):
    _score_all(session, reviewers)
    session_close(actor=gold_staff, session=session)
    alignments = gold_record(actor=gold_staff, session=session, ratings=GOLD)
    first, second, third = reviewers
    # R1: only solution differs, ⅓·4 over weight 11 → 100·(1 − 4/33) = 87.9.
    # R2: understanding ¼·3, tone ½·2, upsell N/A on one side 1·2 → 100·(1 − 3.75/13) = 71.2.
    # R3: greeting 1, understanding ¼·3, solution ⅓·4 → 100·(1 − 37/132) = 72.0.
    assert alignments == {
        first.pk: Decimal("87.9"),
        second.pk: Decimal("71.2"),
        third.pk: Decimal("72.0"),
    }
    session.refresh_from_db()
    assert session.gold_review.reviewer == gold_staff
    assert session.gold_review.is_calibration
    event = AuditEvent.objects.get(action="qa.calibration_gold_recorded")
    assert event.changes["alignment"][str(second.pk)] == "71.2"
    # The gold review stays out of the spread figures.
    assert session_stats(session).count == 3


def test_gold_needs_a_closed_session_and_is_recorded_once(session, reviewers, gold_staff):
    _score_all(session, reviewers)
    with pytest.raises(Conflict):
        gold_record(actor=gold_staff, session=session, ratings=GOLD)
    session_close(actor=gold_staff, session=session)
    gold_record(actor=gold_staff, session=session, ratings=GOLD)
    with pytest.raises(Conflict):
        gold_record(actor=gold_staff, session=session, ratings=R1)


def test_an_invited_reviewer_does_not_record_gold(session, reviewers, gold_staff, staff):
    _score_all(session, reviewers)
    session_close(actor=gold_staff, session=session)
    with pytest.raises(PermissionDenied):
        gold_record(actor=staff, session=session, ratings=GOLD)
    session.refresh_from_db()
    assert session.gold_review is None


def _calibrated(*, task, reviewers, gold_staff, first_ratings, at):
    """One finished session at ``at`` in which reviewers[0] scored ``first_ratings``."""
    with time_machine.travel(at, tick=False):
        session = session_create(actor=gold_staff, task=task, reviewers=reviewers)
        _score_all(session, reviewers, (first_ratings, R2, R3))
        session_close(actor=gold_staff, session=session)
        gold_record(actor=gold_staff, session=session, ratings=GOLD)
    return session


def test_flag_when_the_last_three_sessions_average_below_85(version, task, reviewers, gold_staff):
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    # Oldest: identical to the gold (100.0); then 87.9, 71.2, 87.9.
    for days, ratings in enumerate((GOLD, R1, R2, R1)):
        _calibrated(
            task=task,
            reviewers=reviewers,
            gold_staff=gold_staff,
            first_ratings=ratings,
            at=start + timedelta(days=days),
        )
    summary = reviewer_alignment(reviewers[0])
    assert [entry.alignment for entry in summary.history] == [
        Decimal("87.9"),
        Decimal("71.2"),
        Decimal("87.9"),
        Decimal("100.0"),
    ]
    # (87.9 + 71.2 + 87.9)/3 = 82.3; with the oldest 100.0 it would be 86.8.
    assert (summary.recent_mean, summary.recent_count, summary.flagged) == (
        Decimal("82.3"),
        3,
        True,
    )


def test_no_flag_at_85_or_more(version, task, reviewers, gold_staff):
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    for days, ratings in enumerate((R1, GOLD, R1)):
        _calibrated(
            task=task,
            reviewers=reviewers,
            gold_staff=gold_staff,
            first_ratings=ratings,
            at=start + timedelta(days=days),
        )
    summary = reviewer_alignment(reviewers[0])
    # (87.9 + 100 + 87.9)/3 = 91.9
    assert (summary.recent_mean, summary.flagged) == (Decimal("91.9"), False)
    # R3's alignment was 72.0 in every session.
    assert reviewer_alignment(reviewers[2]).flagged


def test_no_history_no_flag(reviewer):
    summary = reviewer_alignment(reviewer)
    assert (summary.history, summary.recent_mean, summary.flagged) == ([], None, False)
