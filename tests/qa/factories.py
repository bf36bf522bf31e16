"""QA test data built through the services, so every row is one they could write."""

from __future__ import annotations

from django.utils import timezone

from gigs.models import TaskStatus
from qa.models import ScorecardVersion
from qa.scorecards import scorecard_category_add, scorecard_create, scorecard_publish
from tests.gigs.factories import TaskFactory

# The worked example: rated as EXAMPLE_RATINGS it scores (95/12)/11 = 72.0.
EXAMPLE_CATEGORIES = [
    {"key": "greeting", "name": "Greeting", "scale": "binary", "weight": 1},
    {"key": "understanding", "name": "Understanding", "scale": "5", "weight": 3},
    {"key": "solution", "name": "Solution", "scale": "4", "weight": 4},
    {"key": "tone", "name": "Tone", "scale": "3", "weight": 2},
    {
        "key": "data_protection",
        "name": "Data protection",
        "scale": "binary",
        "weight": 1,
        "critical": True,
    },
    {"key": "upsell", "name": "Upsell", "scale": "3", "weight": 2, "allow_na": True},
]
EXAMPLE_RATINGS = {
    "greeting": 1,
    "understanding": 4,
    "solution": 3,
    "tone": 2,
    "data_protection": 1,
    "upsell": None,
}


def draft_scorecard(*, actor, brand, name="Support quality", categories=None) -> ScorecardVersion:
    """A scorecard with a draft v1 holding ``categories`` (the example by default)."""
    scorecard = scorecard_create(actor=actor, brand=brand, name=name)
    version = scorecard.draft_version()
    for category in EXAMPLE_CATEGORIES if categories is None else categories:
        scorecard_category_add(actor=actor, version=version, **category)
    return ScorecardVersion.objects.select_related("scorecard").get(pk=version.pk)


def published_scorecard(*, actor, brand, name="Support quality", categories=None):
    version = draft_scorecard(actor=actor, brand=brand, name=name, categories=categories)
    return scorecard_publish(actor=actor, version=version)


def closed_task(*, gig, agent, **overrides):
    """A task the agent has resolved: what sampling puts in the review queue."""
    now = timezone.now()
    fields = {
        "status": TaskStatus.RESOLVED,
        "holder": agent,
        "claimed_at": now,
        "resolved_at": now,
        "closed_at": now,
        "resolution_code": "solved",
    }
    fields.update(overrides)
    return TaskFactory(gig=gig, **fields)
