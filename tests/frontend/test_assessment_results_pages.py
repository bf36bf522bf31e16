"""Assessment results pages: staff see any assessment's, a brand's members
only their brand's own (another brand's and platform ones are 404)."""

import json
import re

import pytest
from django.urls import reverse

from assessments.services import (
    answer_save,
    attempt_questions,
    attempt_start,
    attempt_submit,
    version_draft_from,
    version_publish,
)
from assessments.stats import SUSPICIOUS_MIN_ANSWERS
from tests.assessments.factories import answer_everything, knowledge_doc, published
from tests.frontend.money_helpers import client_for, staff_with_two_factor
from tests.marketplace.factories import AgentProfileFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


def all_drawn(slug, **overrides):
    doc = knowledge_doc(slug, **overrides)
    doc["sections"][0]["draw"] = len(doc["sections"][0]["questions"])
    return doc


@pytest.fixture
def author(db):
    return StaffUserFactory(email="author@gigdesk.test")


@pytest.fixture
def staff_client(db):
    return client_for(staff_with_two_factor("ops@gigdesk.test"))


@pytest.fixture
def platform_quiz(author):
    return published(all_drawn("support-basics"), actor=author).assessment


@pytest.fixture
def brand_quiz(brand, brand_admin):
    doc = all_drawn("acme-product", title="Acme products", brand=brand.slug)
    return published(doc, actor=brand_admin, brand=brand).assessment


@pytest.fixture
def rival_quiz(other_brand, other_admin):
    doc = all_drawn("borealis-plans", title="Borealis plans", brand=other_brand.slug)
    return published(doc, actor=other_admin, brand=other_brand).assessment


def take(assessment, *, right: int):
    """A finished attempt with the first ``right`` questions (bank order) right."""
    agent = AgentProfileFactory().user
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


def staff_url(assessment):
    return reverse("frontend:staff_assessment_results", args=[assessment.slug])


def brand_url(brand, assessment):
    return reverse("frontend:brand_assessment_results", args=[brand.slug, assessment.slug])


# --- access ---------------------------------------------------------------------------------


def test_staff_see_results_of_platform_and_brand_assessments(
    staff_client, platform_quiz, brand_quiz
):
    for assessment in (platform_quiz, brand_quiz):
        assert staff_client.get(staff_url(assessment)).status_code == 200


def test_the_staff_page_is_refused_to_brand_admins(admin_client, platform_quiz):
    response = admin_client.get(staff_url(platform_quiz))
    assert response.status_code == 403


def test_brand_members_see_their_own_assessments_results(
    admin_client, brand_viewer, brand, brand_quiz
):
    take(brand_quiz, right=6)
    assert admin_client.get(brand_url(brand, brand_quiz)).status_code == 200
    assert client_for(brand_viewer).get(brand_url(brand, brand_quiz)).status_code == 200


def test_another_brands_assessment_is_404(admin_client, brand, rival_quiz):
    take(rival_quiz, right=6)
    assert admin_client.get(brand_url(brand, rival_quiz)).status_code == 404


def test_platform_results_are_staff_only_even_through_a_brand(admin_client, brand, platform_quiz):
    assert admin_client.get(brand_url(brand, platform_quiz)).status_code == 404


def test_a_non_member_gets_404(other_admin, brand, brand_quiz):
    assert client_for(other_admin).get(brand_url(brand, brand_quiz)).status_code == 404


# --- numbers ----------------------------------------------------------------------------------


def test_no_attempts_shows_an_empty_state(admin_client, brand, brand_quiz):
    response = admin_client.get(brand_url(brand, brand_quiz))
    assert "No attempts yet" in response.content.decode()
    assert b"score-distribution-data" not in response.content


def test_the_summary_and_distribution_show_the_numbers(staff_client, platform_quiz):
    take(platform_quiz, right=6)  # 100, passed
    take(platform_quiz, right=3)  # 50, failed
    attempt_start(agent=AgentProfileFactory().user, assessment=platform_quiz)  # in progress
    response = staff_client.get(staff_url(platform_quiz))
    results = response.context["results"]
    assert (results.attempts, results.finished, results.in_progress) == (3, 2, 1)
    page = response.content.decode()
    assert "50%" in page and "1 of 2" in page
    # The chart's data, and the same numbers as a table for readers without JS.
    data = re.search(r'<script id="score-distribution-data"[^>]*>(.*?)</script>', page)
    chart = json.loads(data.group(1))
    assert chart["counts"] == [0, 0, 0, 0, 0, 1, 0, 0, 0, 1]
    assert chart["labels"][-1] == "90–100"
    assert '<td>50–59</td><td class="number">1</td>' in page
    assert "vendor/chartjs/chart.umd.min.js" in page


def test_questions_sort_by_percent_right(staff_client, platform_quiz):
    take(platform_quiz, right=2)
    take(platform_quiz, right=1)
    response = staff_client.get(staff_url(platform_quiz), {"sort": "percent"})
    percents = [row.percent_right for row in response.context["questions_page"]]
    assert percents == sorted(percents)
    response = staff_client.get(staff_url(platform_quiz), {"sort": "-percent"})
    percents = [row.percent_right for row in response.context["questions_page"]]
    assert percents == sorted(percents, reverse=True)
    assert percents[0] == 100


def test_suspicious_questions_are_highlighted(staff_client, platform_quiz):
    for _ in range(SUSPICIOUS_MIN_ANSWERS):
        take(platform_quiz, right=1)
    response = staff_client.get(staff_url(platform_quiz))
    assert response.context["suspicious_count"] == 6
    assert response.content.decode().count('class="suspicious"') == 6


def test_the_version_filter_narrows_the_results(staff_client, platform_quiz, author):
    take(platform_quiz, right=6)
    version_publish(version_draft_from(platform_quiz.published_version(), author), author)
    take(platform_quiz, right=0)
    assert staff_client.get(staff_url(platform_quiz)).context["results"].attempts == 2
    response = staff_client.get(staff_url(platform_quiz), {"version": "1"})
    assert response.context["results"].attempts == 1
    assert response.context["results"].pass_rate == 100
    response = staff_client.get(staff_url(platform_quiz), {"version": "9"})
    assert response.context["version"] is None  # unknown: every version
