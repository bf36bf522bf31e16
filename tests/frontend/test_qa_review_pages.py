"""QA review pages: the queue, the review page with its live score, the agent's
QA page and disputes, and the dispute decision page, played through the
issue's worked example (72.0, amended to 84.1)."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from brands.models import BrandRole, PoolMembership, PoolStatus
from gigs.models import Message, MessageKind
from qa.models import AssignmentStatus, AutoQAFinding, Dispute, Review, ReviewStatus
from qa.scorecards import brand_qa_settings_update, gig_qa_settings_update
from qa.selectors import REVIEWER_HIDDEN_LABEL
from qa.services import (
    assignment_assign,
    assignment_create_for_task,
    dispute_open,
    review_submit,
)
from tests.brands.factories import MembershipFactory
from tests.frontend.money_helpers import client_for, staff_with_two_factor
from tests.gigs.factories import GigFactory
from tests.marketplace.factories import AgentProfileFactory
from tests.qa.factories import EXAMPLE_RATINGS, closed_task, published_scorecard

pytestmark = pytest.mark.django_db

REASON = "The refund was processed in the back office, see the note."
EXAMPLE_POST = {
    "rating-greeting": "1",
    "rating-understanding": "4",
    "rating-solution": "3",
    "rating-tone": "2",
    "rating-data_protection": "1",
    "rating-upsell": "na",
}


def brand_url(brand, name, *args):
    return reverse(f"frontend:brand_qa_{name}", args=[brand.slug, *args])


@pytest.fixture
def agent(db):
    return AgentProfileFactory(
        display_name="Ana", user__email="agent@example.com", user__full_name="Ana Agent"
    ).user


@pytest.fixture
def reviewer(brand):
    return MembershipFactory(
        brand=brand,
        role=BrandRole.QA_REVIEWER,
        user__email="rita@acme.test",
        user__full_name="Rita Reviewer",
    ).user


@pytest.fixture
def second_reviewer(brand):
    return MembershipFactory(
        brand=brand,
        role=BrandRole.QA_REVIEWER,
        user__email="sam@acme.test",
        user__full_name="Sam Second",
    ).user


@pytest.fixture
def version(brand, brand_admin, gig):
    version = published_scorecard(actor=brand_admin, brand=brand)
    gig_qa_settings_update(actor=brand_admin, gig=gig, scorecard=version.scorecard)
    return version


@pytest.fixture
def task(gig, agent):
    task = closed_task(gig=gig, agent=agent, subject="Refund for order 1042", csat_score=2)
    Message.objects.create(
        task=task, brand=task.brand, kind=MessageKind.CUSTOMER, author_name="Cleo", body="Hi!"
    )
    Message.objects.create(
        task=task, brand=task.brand, kind=MessageKind.AGENT, author=agent, body="Refund done."
    )
    return task


@pytest.fixture
def open_assignment(version, task):
    return assignment_create_for_task(task=task, reasons=["random", "low_csat"])


@pytest.fixture
def assignment(open_assignment, reviewer):
    return assignment_assign(actor=reviewer, assignment=open_assignment, reviewer=reviewer)


@pytest.fixture
def review(assignment, reviewer):
    return review_submit(reviewer=reviewer, assignment=assignment, ratings=EXAMPLE_RATINGS)


@pytest.fixture
def dispute(review, agent):
    return dispute_open(agent=agent, review=review, reason=REASON)


# --- the queue -----------------------------------------------------------------------------


def test_the_queue_lists_open_tasks_with_reasons_and_a_take_button(open_assignment, reviewer):
    response = client_for(reviewer).get(brand_url(open_assignment.brand, "queue"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Refund for order 1042" in page
    assert "Random sample" in page and "CSAT ≤ 2" in page
    assert brand_url(open_assignment.brand, "take", open_assignment.pk) in page


def test_take_assigns_the_task_to_me_and_opens_the_review(open_assignment, reviewer, brand):
    response = client_for(reviewer).post(brand_url(brand, "take", open_assignment.pk))

    assert response.status_code == 302
    assert response.url == brand_url(brand, "review", open_assignment.pk)
    open_assignment.refresh_from_db()
    assert open_assignment.reviewer == reviewer


def test_an_overdue_row_is_red_with_how_late_it_is(open_assignment, reviewer, brand):
    with time_machine.travel(open_assignment.due_at + timedelta(hours=3, minutes=5), tick=False):
        page = client_for(reviewer).get(brand_url(brand, "queue")).content.decode()

    assert 'class="overdue"' in page
    assert "overdue by 3 h" in page


def test_an_empty_queue_says_so(brand, reviewer):
    page = client_for(reviewer).get(brand_url(brand, "queue")).content.decode()

    assert "the queue is empty" in page


def test_staff_see_every_brands_queue(open_assignment, other_brand, other_admin):
    staff = staff_with_two_factor("qa-staff@gigdesk.test")

    page = client_for(staff).get(reverse("frontend:staff_qa_queue")).content.decode()

    assert "Refund for order 1042" in page and "Acme Outdoors" in page


# --- the review page -----------------------------------------------------------------------


def test_the_review_page_shows_the_conversation_csat_and_autoqa_chips(assignment, reviewer):
    AutoQAFinding.objects.create(
        task=assignment.task,
        brand=assignment.brand,
        kind="greeting_missing",
        category_hint="greeting",
        detail="No greeting in the first reply",
    )

    response = client_for(reviewer).get(brand_url(assignment.brand, "review", assignment.pk))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Refund done." in page and "Cleo" in page
    assert "CSAT 2 / 5" in page
    assert "No greeting in the first reply" in page
    assert "automatic check, may be wrong" in page
    assert 'name="rating-upsell" value="na"' in page
    assert 'name="rating-greeting" value="na"' not in page


def test_the_live_preview_scores_72_and_autosaves_a_draft(assignment, reviewer, brand):
    response = client_for(reviewer).post(
        brand_url(brand, "review_preview", assignment.pk), EXAMPLE_POST
    )

    page = response.content.decode()
    assert "Score 72.0" in page and "Fail" in page and "pass mark 80" in page
    assert "Draft saved" in page
    draft = Review.objects.get(assignment=assignment)
    assert draft.status == ReviewStatus.DRAFT
    assert draft.ratings == EXAMPLE_RATINGS


def test_a_critical_no_previews_zero_with_a_notice(assignment, reviewer, brand):
    posted = {**EXAMPLE_POST, "rating-data_protection": "0"}

    page = (
        client_for(reviewer)
        .post(brand_url(brand, "review_preview", assignment.pk), posted)
        .content.decode()
    )

    assert "Score 0.0" in page and "Critical fail" in page


def test_submit_with_a_missing_rating_lists_the_error_and_saves_nothing(
    assignment, reviewer, brand
):
    posted = {key: value for key, value in EXAMPLE_POST.items() if key != "rating-tone"}

    response = client_for(reviewer).post(brand_url(brand, "review", assignment.pk), posted)

    assert response.status_code == 400
    assert "Choose a rating." in response.content.decode()
    assert not Review.objects.filter(status=ReviewStatus.SUBMITTED).exists()


def test_submit_scores_the_review_and_shows_it_read_only(assignment, reviewer, brand):
    client = client_for(reviewer)

    response = client.post(
        brand_url(brand, "review", assignment.pk), {**EXAMPLE_POST, "overall_comment": "Good."}
    )

    assert response.status_code == 302
    review = Review.objects.get(assignment=assignment)
    assert (review.status, str(review.score), review.passed) == ("submitted", "72.0", False)
    page = client.get(response.url).content.decode()
    assert "Score 72.0" in page and "Revisions" in page and "Submit review" not in page


def test_a_reviewer_it_is_not_assigned_to_is_refused(assignment, second_reviewer, brand):
    client = client_for(second_reviewer)

    page = client.get(brand_url(brand, "review", assignment.pk)).content.decode()
    response = client.post(brand_url(brand, "review", assignment.pk), EXAMPLE_POST)

    assert "Rita Reviewer is reviewing this task" in page
    assert response.status_code == 403
    assert "not assigned to you" in response.content.decode()
    assert not Review.objects.exists()


def test_an_agent_who_also_reviews_cannot_review_their_own_task(open_assignment, agent, brand):
    MembershipFactory(brand=brand, role=BrandRole.QA_REVIEWER, user=agent)
    client = client_for(agent)

    page = client.get(brand_url(brand, "review", open_assignment.pk)).content.decode()
    client.post(brand_url(brand, "take", open_assignment.pk))
    refused = client.post(brand_url(brand, "review", open_assignment.pk), EXAMPLE_POST)

    assert "This is your own task" in page
    open_assignment.refresh_from_db()
    assert open_assignment.reviewer is None
    assert refused.status_code == 403
    assert not Review.objects.exists()


# --- the agent's QA and disputes -----------------------------------------------------------


def test_the_agent_sees_their_score_and_no_reviewer_name_when_hidden(review, agent, brand_admin):
    brand_qa_settings_update(actor=brand_admin, brand=review.brand, hide_reviewer_identity=True)
    client = client_for(agent)

    listing = client.get(reverse("frontend:agent_qa")).content.decode()
    detail = client.get(reverse("frontend:agent_qa_review", args=[review.pk])).content.decode()

    assert "QA 72.0 · 1 review in 30 days" in listing and "provisional" in listing
    assert "QA reviewer" in listing and "QA reviewer" in detail
    assert "Rita" not in listing and "Rita" not in detail


def test_the_agent_sees_the_reviewer_name_when_not_hidden(review, agent):
    page = client_for(agent).get(reverse("frontend:agent_qa")).content.decode()

    assert "Rita Reviewer" in page


def test_the_agent_disputes_a_review_once(review, agent):
    client = client_for(agent)
    url = reverse("frontend:agent_qa_review", args=[review.pk])

    response = client.post(url, {"reason": REASON, "rating-solution": "4"})
    again = client.post(url, {"reason": "Another long enough reason for this."})

    assert response.status_code == 302
    dispute = Dispute.objects.get(review=review)
    assert dispute.proposed_ratings == {"solution": 4}
    assert again.status_code == 400
    assert "already been disputed" in again.content.decode()
    assert Dispute.objects.count() == 1


def test_a_short_dispute_reason_is_refused(review, agent):
    response = client_for(agent).post(
        reverse("frontend:agent_qa_review", args=[review.pk]), {"reason": "Too short"}
    )

    assert response.status_code == 400
    assert "at least 20 characters" in response.content.decode()
    assert not Dispute.objects.exists()


def test_a_dispute_after_7_days_is_refused(review, agent):
    url = reverse("frontend:agent_qa_review", args=[review.pk])
    with time_machine.travel(review.submitted_at + timedelta(days=7, seconds=1), tick=False):
        client = client_for(agent)
        page = client.get(url).content.decode()
        response = client.post(url, {"reason": REASON})

    assert "this one closed on" in page
    assert response.status_code == 400
    assert "Disputes are open for 7 days" in response.content.decode()
    assert not Dispute.objects.exists()


# --- dispute decisions ---------------------------------------------------------------------


def test_a_second_reviewer_amends_to_84_1_and_both_revisions_show(
    dispute, review, agent, second_reviewer, brand
):
    client = client_for(second_reviewer)
    listing = client.get(brand_url(brand, "disputes")).content.decode()
    assert brand_url(brand, "dispute", dispute.pk) in listing

    response = client.post(
        brand_url(brand, "dispute", dispute.pk),
        {
            **EXAMPLE_POST,
            "rating-solution": "4",
            "decision": "amend",
            "reason": "The refund was done.",
        },
    )

    assert response.status_code == 302
    review.refresh_from_db()
    assert str(review.score) == "84.1"
    page = client.get(response.url).content.decode()
    assert "72.0" in page and "84.1" in page
    assert "Solution: 3 of 4 → 4 of 4" in page
    agent_page = (
        client_for(agent)
        .get(reverse("frontend:agent_qa_review", args=[review.pk]))
        .content.decode()
    )
    assert "72.0" in agent_page and "84.1" in agent_page and "The refund was done." in agent_page


def test_an_uphold_keeps_the_score(dispute, review, second_reviewer, brand):
    response = client_for(second_reviewer).post(
        brand_url(brand, "dispute", dispute.pk), {"decision": "uphold", "reason": "Stands."}
    )

    assert response.status_code == 302
    review.refresh_from_db()
    dispute.refresh_from_db()
    assert (str(review.score), dispute.decision) == ("72.0", "uphold")


def test_the_original_reviewer_cannot_decide(dispute, review, reviewer, brand):
    client = client_for(reviewer)

    listing = client.get(brand_url(brand, "disputes")).content.decode()
    page = client.get(brand_url(brand, "dispute", dispute.pk)).content.decode()
    response = client.post(
        brand_url(brand, "dispute", dispute.pk), {"decision": "uphold", "reason": "Mine."}
    )

    assert "No disputes waiting for you" in listing
    assert "another reviewer decides its dispute" in page
    assert response.status_code == 403
    dispute.refresh_from_db()
    assert not dispute.is_decided


def test_an_amend_without_a_reason_is_refused(dispute, second_reviewer, brand, review):
    response = client_for(second_reviewer).post(
        brand_url(brand, "dispute", dispute.pk),
        {**EXAMPLE_POST, "rating-solution": "4", "decision": "amend", "reason": ""},
    )

    assert response.status_code == 400
    review.refresh_from_db()
    assert str(review.score) == "72.0"


# --- tenancy -------------------------------------------------------------------------------


def test_another_brand_gets_404(dispute, assignment, other_brand, other_admin):
    client = client_for(other_admin)

    for url in [
        brand_url(other_brand, "review", assignment.pk),
        brand_url(other_brand, "dispute", dispute.pk),
    ]:
        assert client.get(url).status_code == 404
    assert client.post(brand_url(other_brand, "take", assignment.pk)).status_code == 404
    assert client.get(brand_url(other_brand, "queue")).content.decode().count("Refund") == 0
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED


def test_another_agent_gets_404_on_my_review(review):
    other = AgentProfileFactory(user__email="other-agent@example.com").user

    client = client_for(other)

    assert client.get(reverse("frontend:agent_qa_review", args=[review.pk])).status_code == 404
    assert (
        client.post(
            reverse("frontend:agent_qa_review", args=[review.pk]), {"reason": REASON}
        ).status_code
        == 404
    )
    assert not Dispute.objects.exists()


def test_a_brand_viewer_may_not_open_the_queue(brand, brand_viewer):
    assert client_for(brand_viewer).get(brand_url(brand, "queue")).status_code == 403


def test_staff_open_any_brands_review_and_dispute(dispute, review):
    client = client_for(staff_with_two_factor("qa-staff@gigdesk.test"))

    review_page = client.get(reverse("frontend:staff_qa_review", args=[review.assignment_id]))
    disputes = client.get(reverse("frontend:staff_qa_disputes")).content.decode()
    dispute_page = client.get(reverse("frontend:staff_qa_dispute", args=[dispute.pk]))

    assert review_page.status_code == 200 and "Score 72.0" in review_page.content.decode()
    assert reverse("frontend:staff_qa_dispute", args=[dispute.pk]) in disputes
    assert dispute_page.status_code == 200 and REASON in dispute_page.content.decode()


def test_the_agent_sees_which_gigs_their_qa_score_keeps_them_off(
    version, agent, reviewer, brand, brand_admin, gig
):
    PoolMembership.objects.create(brand=brand, agent=agent, status=PoolStatus.APPROVED)
    gig_qa_settings_update(actor=brand_admin, gig=gig, min_qa_score=75)
    for number in range(5):  # five reviews: no longer provisional
        task = closed_task(gig=gig, agent=agent, subject=f"Order {number}")
        assignment = assignment_create_for_task(task=task, reasons=["random"])
        assignment_assign(actor=reviewer, assignment=assignment, reviewer=reviewer)
        review_submit(reviewer=reviewer, assignment=assignment, ratings=EXAMPLE_RATINGS)

    page = client_for(agent).get(reverse("frontend:agent_qa")).content.decode()

    assert "Gigs with a minimum QA score" in page
    assert gig.title in page
    assert "QA 72.0 &lt; 75 (5 reviews, 30 d)" in page


def test_a_provisional_score_meets_the_minimum(review, agent, brand, brand_admin, gig):
    PoolMembership.objects.create(brand=brand, agent=agent, status=PoolStatus.APPROVED)
    gig_qa_settings_update(actor=brand_admin, gig=gig, min_qa_score=75)

    page = client_for(agent).get(reverse("frontend:agent_qa")).content.decode()

    assert "Meets it" in page and "&lt; 75" not in page


def test_the_agents_qa_page_costs_the_same_queries_for_2_or_6_reviews_and_gigs(
    agent, brand, brand_admin, reviewer, other_brand, other_admin, django_assert_num_queries
):
    otto = MembershipFactory(
        brand=other_brand,
        role=BrandRole.QA_REVIEWER,
        user__email="otto@borealis.test",
        user__full_name="Otto Other",
    ).user
    # Two brands, one hiding its reviewers: labels are resolved per brand.
    brand_qa_settings_update(actor=brand_admin, brand=brand, hide_reviewer_identity=True)
    brands = [
        (brand, brand_admin, reviewer, published_scorecard(actor=brand_admin, brand=brand)),
        (other_brand, other_admin, otto, published_scorecard(actor=other_admin, brand=other_brand)),
    ]
    for pool_brand, *_ in brands:
        PoolMembership.objects.create(brand=pool_brand, agent=agent, status=PoolStatus.APPROVED)

    def review_on_new_gigs(numbers):
        # One gig per review, each with a minimum QA score: every list on the page grows.
        for number in numbers:
            gig_brand, admin, by, version = brands[number % 2]
            gig = GigFactory(brand=gig_brand, title=f"Gig number {number}")
            gig_qa_settings_update(
                actor=admin, gig=gig, scorecard=version.scorecard, min_qa_score=75
            )
            task = closed_task(gig=gig, agent=agent, subject=f"Order {number}")
            assignment = assignment_create_for_task(task=task, reasons=["random"])
            assignment_assign(actor=by, assignment=assignment, reviewer=by)
            review_submit(reviewer=by, assignment=assignment, ratings=EXAMPLE_RATINGS)

    client = client_for(agent)
    url = reverse("frontend:agent_qa")
    review_on_new_gigs(range(2))
    client.get(url)  # the first request after login writes the session
    with CaptureQueriesContext(connection) as with_two:
        two = client.get(url).content.decode()
    review_on_new_gigs(range(2, 6))

    with django_assert_num_queries(len(with_two.captured_queries)):
        six = client.get(url).content.decode()

    assert two.count("QA 72.0 · 1 review in 30 days") == 2
    assert six.count("QA 72.0 · 1 review in 30 days") == 6
    # Provisional on each gig, so the overall score decides: provisional at 2, not at 6.
    assert two.count("Meets it") == 2
    assert six.count("Overall QA 72.0 &lt; 75 (6 reviews, 30 d)") == 6 and "Gig number 5" in six
    assert "Otto Other" in six and "Rita Reviewer" not in six
    assert six.count(REVIEWER_HIDDEN_LABEL) == 3
