"""QA in a real browser, the issue's steps 3 to 5: a reviewer scores the worked
example and sees the live 72.0 (with an AutoQA chip); the agent sees no
reviewer name and disputes; a second reviewer amends Solution to 4 and both
revisions show, 72.0 then 84.1."""

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from brands.models import BrandRole
from gigs.models import Message, MessageKind
from qa.intake import qa_task_closed
from qa.models import AutoQAFinding, Dispute, Review, ReviewAssignment
from qa.scorecards import brand_qa_settings_update, gig_qa_settings_update
from tests.brands.factories import MembershipFactory
from tests.marketplace.factories import AgentProfileFactory
from tests.qa.factories import closed_task, published_scorecard

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXAMPLE = {
    "greeting": "1",
    "understanding": "4",
    "solution": "3",
    "tone": "2",
    "data_protection": "1",
    "upsell": "na",
}


def _log_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    page.context.clear_cookies()
    page.context.add_cookies(
        [{"name": name, "value": client.cookies[name].value, "url": live_server.url}]
    )


def _reviewer(brand, email, full_name):
    return MembershipFactory(
        brand=brand, role=BrandRole.QA_REVIEWER, user__email=email, user__full_name=full_name
    ).user


def test_score_the_example_dispute_it_and_amend_it(page, live_server, brand, brand_admin, gig):
    version = published_scorecard(actor=brand_admin, brand=brand)
    gig_qa_settings_update(actor=brand_admin, gig=gig, scorecard=version.scorecard, random_pct=0)
    brand_qa_settings_update(actor=brand_admin, brand=brand, hide_reviewer_identity=True)
    agent = AgentProfileFactory(display_name="Ana", user__email="ana@example.com").user
    rita = _reviewer(brand, "rita@acme.test", "Rita Reviewer")
    sam = _reviewer(brand, "sam@acme.test", "Sam Second")
    task = closed_task(gig=gig, agent=agent, subject="Double charge on order 58213", csat_score=2)
    Message.objects.create(
        task=task, brand=brand, kind=MessageKind.CUSTOMER, author_name="Cleo", body="Charged twice!"
    )
    Message.objects.create(
        task=task,
        brand=brand,
        kind=MessageKind.AGENT,
        author=agent,
        body="Hello Cleo, I refunded the card 4111 1111 1111 1111 today.",
    )
    # The real intake: the low CSAT queues it, AutoQA flags the card number.
    qa_task_closed(task.pk)
    assignment = ReviewAssignment.objects.get(task=task)
    assert AutoQAFinding.objects.filter(task=task, leak=True).exists()

    # Step 3: Rita takes it from the queue and scores the worked example.
    _log_in(page, live_server, rita)
    page.goto(f"/brands/{brand.slug}/qa/queue/")
    row = page.locator("tr", has_text="Double charge on order 58213")
    expect(row).to_contain_text("CSAT")
    row.locator("button", has_text="Take").click()
    expect(page.locator("main")).to_contain_text("automatic check, may be wrong")
    for key, value in EXAMPLE.items():
        page.locator(f"input[name='rating-{key}'][value='{value}']").check()
    expect(page.locator(".figure").first).to_contain_text("72.0")
    page.locator("button", has_text="Submit review").click()
    expect(page.locator("main")).to_contain_text("Submitted by")
    review = Review.objects.get(assignment=assignment, status="submitted")
    assert str(review.score) == "72.0"

    # Step 4: the agent sees "QA reviewer", never Rita's name, and disputes.
    _log_in(page, live_server, agent)
    page.goto(f"/agent/qa/reviews/{review.pk}/")
    expect(page.locator("main")).to_contain_text("QA reviewer")
    expect(page.locator("main")).not_to_contain_text("Rita")
    page.fill(
        "textarea[name=reason]", "The refund went out the same day: the solution was complete."
    )
    page.locator("button", has_text="Dispute this review").click()
    expect(page.locator("main")).to_contain_text("You disputed this review")
    dispute = Dispute.objects.get(review=review)

    # Step 5: Sam, a second reviewer, amends Solution to 4.
    _log_in(page, live_server, sam)
    page.goto(f"/brands/{brand.slug}/qa/disputes/{dispute.pk}/")
    page.locator("input[name=decision][value=amend]").check()
    page.locator("input[name='rating-solution'][value='4']").check()
    page.fill("textarea[name=reason]", "Refund issued the same day; the solution was complete.")
    page.locator("button", has_text="Decide").click()
    revisions = page.locator("main")
    expect(revisions).to_contain_text("84.1")
    expect(revisions).to_contain_text("72.0")
    review.refresh_from_db()
    assert str(review.score) == "84.1"
    scores = review.revisions.order_by("number").values_list("score", flat=True)
    assert [str(score) for score in scores] == ["72.0", "84.1"]
