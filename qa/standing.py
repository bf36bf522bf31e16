"""Keep ``QAStanding`` true: each agent's QA score per gig, and the reason a
gig's minimum QA score keeps them off it, stored where dispatch reads them.

The scores are ``qa.selectors.agent_qa_scores``' (every per-gig score of
an agent from one query); this module decides and writes the rows. The decision is ``qa.scoring.eligibility_reason``, the same one
``qa.feeds.eligibility`` gives, so the claim refusal and the agent's QA page
say the same thing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from brands.models import PoolMembership
from gigs import live
from qa import scoring
from qa.models import GigQASettings, QAStanding, Review
from qa.selectors import agent_qa_scores


def _minimums_for(agent) -> dict[int, object]:
    """{gig id: minimum QA score} of the gigs in the agent's approved pools that set one."""
    brands = PoolMembership.objects.approved().filter(agent=agent).values("brand_id")
    return dict(
        GigQASettings.objects.filter(
            min_qa_score__isnull=False, gig__brand_id__in=brands
        ).values_list("gig_id", "min_qa_score")
    )


def standing_refresh(agent, *, now: datetime | None = None) -> list[QAStanding]:
    """Rewrite the agent's standing on every gig it concerns. Four queries
    and two writes, whatever the number of gigs and reviews."""
    now = now or timezone.now()
    scores = agent_qa_scores(agent=agent, now=now)
    minimums = _minimums_for(agent)

    standings = []
    for gig_id in sorted(set(scores.by_gig) | set(minimums)):
        on_gig = scores.on_gig(gig_id)
        reason = scoring.eligibility_reason(
            gig_score=on_gig, overall=scores.overall, minimum=minimums.get(gig_id)
        )
        if on_gig.score is None and reason is None:
            continue  # nothing to rank by and nothing keeping the agent off
        standings.append(
            QAStanding(
                agent=agent,
                gig_id=gig_id,
                score=on_gig.score,
                review_count=on_gig.count,
                provisional=on_gig.provisional,
                blocked_reason=reason or "",
                computed_at=now,
            )
        )
    blocked_before = set(
        QAStanding.objects.blocked().filter(agent=agent).values_list("gig_id", flat=True)
    )
    with transaction.atomic():
        QAStanding.objects.filter(agent=agent).exclude(
            gig_id__in=[standing.gig_id for standing in standings]
        ).delete()
        QAStanding.objects.bulk_create(
            standings,
            update_conflicts=True,
            unique_fields=["agent", "gig"],
            update_fields=["score", "review_count", "provisional", "blocked_reason", "computed_at"],
        )
        blocked_now = {standing.gig_id for standing in standings if standing.blocked_reason}
        if blocked_now != blocked_before:
            # Gigs opened or closed to the agent: their live queue reads its scope again.
            live.agent_scope_changed(agent.pk)
    return standings


def agents_to_refresh(*, gig=None, now: datetime | None = None):
    """The agents whose standing may be stale: on ``gig`` (its brand's approved
    members and whoever has a row on it), or everywhere (anyone with a row, a
    counting review in the window, or a pool membership under a minimum)."""
    from marketplace.models import User

    now = now or timezone.now()
    if gig is not None:
        members = PoolMembership.objects.approved().filter(brand_id=gig.brand_id)
        return User.objects.filter(
            Q(pk__in=members.values("agent_id"))
            | Q(pk__in=QAStanding.objects.filter(gig=gig).values("agent_id"))
        )
    reviewed = Review.objects.counting().filter(
        submitted_at__gte=now - timedelta(days=scoring.WINDOW_DAYS)
    )
    under_minimum = PoolMembership.objects.approved().filter(
        brand_id__in=GigQASettings.objects.filter(min_qa_score__isnull=False).values(
            "gig__brand_id"
        )
    )
    return User.objects.filter(
        Q(pk__in=reviewed.values("agent_id"))
        | Q(pk__in=QAStanding.objects.values("agent_id"))
        | Q(pk__in=under_minimum.values("agent_id"))
    )


def standing_refresh_all(*, gig=None, now: datetime | None = None) -> int:
    """Refresh every agent ``agents_to_refresh`` names; how many were refreshed."""
    now = now or timezone.now()
    agents = list(agents_to_refresh(gig=gig, now=now).order_by("pk"))
    for agent in agents:
        standing_refresh(agent, now=now)
    return len(agents)


def blocked_reason(agent, gig) -> str:
    """Why the gig's minimum QA score keeps the agent off it, as last computed ("" if it does not)."""
    return (
        QAStanding.objects.filter(agent=agent, gig=gig)
        .values_list("blocked_reason", flat=True)
        .first()
        or ""
    )


def kept_off_gig(gig, *, limit: int = 50):
    """The agents ``gig``'s minimum QA score keeps off it now, lowest score
    first, with their reasons (as last refreshed)."""
    return (
        QAStanding.objects.blocked()
        .filter(
            gig=gig,
            agent__in=PoolMembership.objects.approved()
            .filter(brand_id=gig.brand_id)
            .values("agent_id"),
        )
        .select_related("agent")
        .order_by("score", "agent_id")[:limit]
    )
