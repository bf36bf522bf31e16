"""The agent's live queue page.

The page is a shell: offers, held tasks and presence arrive over the
WebSocket (frontend/static/js/agent-queue.js, protocol in
docs/protocols/agent-websocket.md), which always starts with a snapshot. The
view only says why an agent would see no work at all.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from brands.models import PoolMembership
from frontend.views.access import forbidden
from frontend.views.agent import NOT_AN_AGENT
from gigs.models import Task, TaskStatus
from marketplace.models import AgentLanguage


@login_required
@require_GET
def agent_queue(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_agent:
        return forbidden(request, NOT_AN_AGENT)
    pools = list(
        PoolMembership.objects.approved()
        .filter(agent=user)
        .select_related("brand")
        .order_by("brand__name", "brand_id")
    )
    holds_tasks = Task.objects.filter(holder=user, status=TaskStatus.CLAIMED).exists()
    return render(
        request,
        "agent/queue.html",
        {
            "pools": pools,
            # Every task is offered by language: without one, nothing can be.
            "has_languages": AgentLanguage.objects.filter(profile__user=user).exists(),
            # An agent who left every pool may still hold work to finish.
            "live": bool(pools) or holds_tasks,
        },
    )
