"""Tenancy: every QA queryset through ``for_user``; other brands and other agents see nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from brands.models import BrandMembership
from marketplace.errors import NotFound
from qa.calibration import session_create
from qa.models import (
    CalibrationSession,
    Dispute,
    GigQASettings,
    Review,
    ReviewAssignment,
    Scorecard,
    ScorecardVersion,
    TierChange,
)
from qa.scorecards import brand_qa_settings_update, gig_qa_settings_update
from qa.selectors import (
    REVIEWER_HIDDEN_LABEL,
    access_assignment,
    access_dispute,
    access_review,
    access_scorecard,
    access_scorecard_version,
    reviewer_display,
    reviewer_labels,
    reviews_of_agent,
    scorecards_for_brand,
)
from qa.services import (
    assignment_assign,
    assignment_create_for_task,
    dispute_open,
    review_draft_save,
    review_submit,
)
from tests.qa.factories import EXAMPLE_RATINGS, closed_task, published_scorecard

pytestmark = pytest.mark.django_db

REASON = "The refund was processed in the back office, see the note."


@pytest.fixture
def review(assignment, reviewer):
    return review_submit(reviewer=reviewer, assignment=assignment, ratings=EXAMPLE_RATINGS)


@pytest.fixture
def other_review(other_brand, other_admin, other_gig, other_agent, other_reviewer):
    """Borealis's own reviewed task, of another agent."""
    version = published_scorecard(actor=other_admin, brand=other_brand, name="Borealis QA")
    gig_qa_settings_update(actor=other_admin, gig=other_gig, scorecard=version.scorecard)
    assignment = assignment_create_for_task(
        task=closed_task(gig=other_gig, agent=other_agent), reasons=["random"]
    )
    assignment_assign(actor=other_reviewer, assignment=assignment, reviewer=other_reviewer)
    return review_submit(reviewer=other_reviewer, assignment=assignment, ratings=EXAMPLE_RATINGS)


def test_brand_members_see_only_their_brands_reviews(review, other_review, brand_viewer, staff):
    assert list(Review.objects.for_user(brand_viewer)) == [review]
    assert set(Review.objects.for_user(staff)) == {review, other_review}


def test_another_brands_review_is_not_found(review, other_admin, other_reviewer):
    for outsider in (other_admin, other_reviewer):
        with pytest.raises(NotFound):
            access_review(outsider, review.pk)
        with pytest.raises(NotFound):
            access_assignment(outsider, review.assignment_id)


def test_an_agent_sees_only_their_own_submitted_reviews(
    review, other_review, agent, other_agent, version, gig, reviewer
):
    # A draft on another of the agent's tasks stays out of sight.
    assignment = assignment_create_for_task(
        task=closed_task(gig=gig, agent=agent), reasons=["random"]
    )
    assignment_assign(actor=reviewer, assignment=assignment, reviewer=reviewer)
    review_draft_save(reviewer=reviewer, assignment=assignment, ratings={"greeting": 1})

    assert list(Review.objects.for_user(agent)) == [review]
    assert list(Review.objects.for_user(other_agent)) == [other_review]
    with pytest.raises(NotFound):
        access_review(other_agent, review.pk)
    assert list(reviews_of_agent(viewer=other_agent, agent=agent)) == []


def test_agents_see_no_assignments_or_scorecards(review, agent):
    assert not ReviewAssignment.objects.for_user(agent).exists()
    assert not Scorecard.objects.for_user(agent).exists()
    with pytest.raises(NotFound):
        access_assignment(agent, review.assignment_id)


def test_anonymous_users_see_nothing(review):
    nobody = AnonymousUser()
    assert not Review.objects.for_user(nobody).exists()
    assert not ReviewAssignment.objects.for_user(nobody).exists()
    assert not Dispute.objects.for_user(nobody).exists()


def test_disputes_are_seen_by_their_agent_and_brand_only(
    review, agent, other_agent, brand_viewer, other_admin
):
    dispute = dispute_open(agent=agent, review=review, reason=REASON)

    assert list(Dispute.objects.for_user(agent)) == [dispute]
    assert list(Dispute.objects.for_user(brand_viewer)) == [dispute]
    assert not Dispute.objects.for_user(other_agent).exists()
    with pytest.raises(NotFound):
        access_dispute(other_admin, dispute.pk)


def test_brands_see_platform_scorecards_and_their_own_only(
    brand, brand_admin, version, other_brand, other_admin, staff
):
    theirs = published_scorecard(actor=other_admin, brand=other_brand, name="Borealis QA")
    platform = published_scorecard(actor=staff, brand=None, name="Platform")

    visible = set(scorecards_for_brand(user=brand_admin, brand=brand))

    assert visible == {version.scorecard, platform.scorecard}
    with pytest.raises(NotFound):
        access_scorecard(brand_admin, theirs.scorecard_id)
    with pytest.raises(NotFound):
        access_scorecard_version(brand_admin, theirs.pk)
    assert access_scorecard_version(brand_admin, platform.pk) == platform
    assert ScorecardVersion.objects.for_user(other_admin).filter(pk=version.pk).count() == 0


def test_gig_settings_are_scoped_to_the_brand(version, gig, brand_viewer, other_admin):
    assert GigQASettings.objects.for_user(brand_viewer).filter(gig=gig).exists()
    assert not GigQASettings.objects.for_user(other_admin).exists()


def test_the_agent_sees_qa_reviewer_when_the_brand_hides_identity(
    review, agent, brand, brand_admin, brand_viewer
):
    assert reviewer_display(review=review, viewer=agent) == "Rita Reviewer"

    brand_qa_settings_update(actor=brand_admin, brand=brand, hide_reviewer_identity=True)

    assert reviewer_display(review=review, viewer=agent) == REVIEWER_HIDDEN_LABEL
    assert reviewer_display(review=review, viewer=brand_viewer) == "Rita Reviewer"


def test_tier_changes_are_seen_by_their_agent_and_brand_only(
    brand, agent, other_agent, brand_viewer, other_admin, staff
):
    change = TierChange.objects.create(
        brand=brand, agent=agent, from_tier=3, to_tier=4, reason="Promoted: QA 92.0"
    )

    assert list(TierChange.objects.for_user(agent)) == [change]
    assert list(TierChange.objects.for_user(brand_viewer)) == [change]
    assert list(TierChange.objects.for_user(staff)) == [change]
    assert not TierChange.objects.for_user(other_agent).exists()
    assert not TierChange.objects.for_user(other_admin).exists()
    assert not TierChange.objects.for_user(AnonymousUser()).exists()


def test_calibration_sessions_are_seen_once_by_the_brand_and_by_invited_reviewers(
    version, task, reviewer, second_reviewer, staff, brand_viewer, other_admin, agent
):
    session = session_create(actor=staff, task=task, reviewers=[reviewer, second_reviewer, staff])
    # An invited reviewer who has since left the brand still sees the session.
    BrandMembership.objects.filter(user=reviewer).delete()

    # Three invites, one session: a member must not get it once per invite.
    assert list(CalibrationSession.objects.for_user(brand_viewer)) == [session]
    assert list(CalibrationSession.objects.for_user(reviewer)) == [session]
    assert not CalibrationSession.objects.for_user(other_admin).exists()
    assert not CalibrationSession.objects.for_user(agent).exists()


def test_reviewer_labels_read_each_brands_setting_once(
    review, other_review, agent, brand, brand_admin, brand_viewer, staff, django_assert_num_queries
):
    brand_qa_settings_update(actor=brand_admin, brand=brand, hide_reviewer_identity=True)
    reviews = list(Review.objects.select_related("reviewer").order_by("id")) * 3
    named = [r.reviewer.get_full_name() for r in reviews]
    hidden_where_brand_hides = [
        REVIEWER_HIDDEN_LABEL if r.brand_id == brand.pk else r.reviewer.get_full_name()
        for r in reviews
    ]

    with django_assert_num_queries(2):
        for_the_agent = reviewer_labels(reviews=reviews, viewer=agent)

    assert for_the_agent == hidden_where_brand_hides
    assert REVIEWER_HIDDEN_LABEL in for_the_agent and "Rita Reviewer" not in for_the_agent
    assert reviewer_labels(reviews=reviews, viewer=brand_viewer) == named
    assert reviewer_labels(reviews=reviews, viewer=staff) == named
    assert reviewer_labels(reviews=[], viewer=agent) == []
