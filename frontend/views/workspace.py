"""The agent workspace: the tasks an agent holds, and working one of them.

Every action is one call into ``gigs.work`` or ``gigs.dispatch``, which check
again, under lock, that the agent still holds the task. The pages work with
plain form posts; htmx swaps the conversation and the reply form in place,
and ``workspace.js`` follows the live events that ``live.js`` dispatches.

Opening the workspace and acting in it are signs of life: each full page and
each action sends a heartbeat first (``agent_heartbeat``). That keeps the lease
of an agent working without the live connection, and it never revives a lease
that has already run out: the heartbeat returns such tasks to the queue first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from brands.models import PoolMembership
from frontend.forms.gigs import money_format
from frontend.forms.workspace import EscalateForm, NoteForm, ReplyForm, ResolveForm
from frontend.views.access import forbidden
from gigs.dispatch import agent_heartbeat, expire_overdue, session_billable_ms, task_release
from gigs.models import (
    Message,
    PayModel,
    SessionOutcome,
    Task,
    TaskStatus,
    WorkRecord,
    WorkSession,
)
from gigs.work import agent_note, agent_reply, task_escalate, task_resolve
from marketplace.errors import NotFound, PermissionDenied, ValidationFailed
from marketplace.models import User

# The live queue page, where agents claim work.
QUEUE_URL = reverse_lazy("frontend:agent_queue")
NOT_AN_AGENT = (
    "The workspace is for agent accounts. Your account is set up for a brand; "
    "to work as an agent, sign up with a separate email address."
)
# Tells the conversation (hx-trigger="conversation-changed from:body") to reload.
CONVERSATION_CHANGED = "conversation-changed"


def _is_partial(request: HttpRequest) -> bool:
    # A history restore (back button) needs the whole page.
    return bool(request.htmx) and not request.htmx.history_restore_request


def agent_view(view: Callable) -> Callable:
    """Decorate a workspace page: agent accounts only, never cached."""

    @wraps(view)
    @never_cache
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not (request.user.is_agent and request.user.is_active):
            return forbidden(request, NOT_AN_AGENT)
        return view(request, *args, **kwargs)

    return wrapper


def clock(seconds: int) -> str:
    """``75`` → ``"1:15"``, ``3725`` → ``"1:02:05"``: the timer's own format."""
    minutes, seconds = divmod(max(0, seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@dataclass(frozen=True)
class HeldTask:
    """A task the agent holds, with what its work session has billed so far."""

    task: Task
    session: WorkSession | None
    billable_seconds: int
    # Billing runs now: a heartbeat within the grace period and under the cap.
    billing: bool

    @property
    def is_per_minute(self) -> bool:
        return self.pay_model == PayModel.PER_MINUTE

    @property
    def pay_model(self) -> str:
        return self.session.pay_model if self.session else self.task.gig.pay_model

    @property
    def pay_label(self) -> str:
        # The session keeps the terms the task was claimed on; the gig may have changed since.
        terms = self.session or self.task.gig
        unit = "minute" if self.pay_model == PayModel.PER_MINUTE else "resolution"
        return f"{money_format(terms.rate_minor, terms.currency)} per {unit}"

    @property
    def clock(self) -> str:
        return clock(self.billable_seconds)

    @property
    def max_billable_minutes(self) -> int:
        return self.session.max_billable_seconds // 60 if self.session else 0


def _held_tasks(agent: User, now: datetime) -> list[HeldTask]:
    tasks = list(
        Task.objects.filter(holder=agent, status=TaskStatus.CLAIMED)
        .select_related("gig", "brand")
        .order_by("claimed_at", "pk")
    )
    sessions = {
        session.task_id: session
        for session in WorkSession.objects.filter(
            agent=agent, ended_at__isnull=True, task__in=[task.pk for task in tasks]
        )
    }
    held = []
    for task in tasks:
        session = sessions.get(task.pk)
        if session is None:
            held.append(HeldTask(task, None, 0, False))
            continue
        seconds = session_billable_ms(session, now) // 1000
        within_grace = now - session.last_heartbeat_at <= timedelta(seconds=session.grace_seconds)
        held.append(
            HeldTask(
                task, session, seconds, within_grace and seconds < session.max_billable_seconds
            )
        )
    return held


def _held_task(agent: User, task_id: int) -> Task | None:
    """The task if the agent holds it, after a heartbeat (which also ends overdue leases)."""
    agent_heartbeat(agent=agent)
    return (
        Task.objects.select_related("gig", "brand")
        .filter(pk=task_id, holder=agent, status=TaskStatus.CLAIMED)
        .first()
    )


# --- Held tasks -----------------------------------------------------------------------


@agent_view
@require_GET
def work_list(request: HttpRequest) -> HttpResponse:
    agent = request.user
    partial = _is_partial(request)
    if partial:
        # htmx refreshes after a live event: no heartbeat, but no stale leases either.
        expire_overdue(holder=agent)
    else:
        agent_heartbeat(agent=agent)
    now = timezone.now()
    context = {"held": _held_tasks(agent, now), "queue_url": QUEUE_URL}
    if partial and request.GET.get("part") == "tabs":
        current = request.GET.get("current", "")
        context["current_id"] = int(current) if current.isdigit() else None
        return render(request, "workspace/work_detail_tabs.html", context)
    if partial:
        return render(request, "workspace/work_list_tasks.html", context)
    return render(request, "workspace/work_list.html", context)


# --- One task ------------------------------------------------------------------------------


def _conversation(task: Task) -> list[Message]:
    return list(Message.objects.filter(task=task).order_by("created_at", "pk"))


def _render_detail(
    request: HttpRequest, agent: User, task: Task, *, status: int = 200, **forms
) -> HttpResponse:
    held = _held_tasks(agent, timezone.now())
    current = next((item for item in held if item.task.pk == task.pk), None)
    if current is None:
        # Lost between the check and now (an expiry sweep): say so.
        return _not_held(request, agent, task.pk)
    context = {
        "held": held,
        "current": current,
        "current_id": task.pk,
        "task": task,
        "conversation": _conversation(task),
        "reply_form": forms.get("reply_form") or ReplyForm(task=task),
        "note_form": forms.get("note_form") or NoteForm(),
        "resolve_form": forms.get("resolve_form") or ResolveForm(task=task),
        "escalate_form": forms.get("escalate_form") or EscalateForm(),
        "queue_url": QUEUE_URL,
    }
    return render(request, "workspace/work_detail.html", context, status=status)


_LOST_REASONS = {
    SessionOutcome.LEASE_EXPIRED: (
        "Your lease on this task ran out: your workspace sent no sign of life for "
        "{lease}, so the task went back to the queue for another agent. Billing "
        "stopped at your last heartbeat."
    ),
    SessionOutcome.RELEASED: "You released this task back to the queue.",
    SessionOutcome.RESOLVED: "You resolved this task.",
    SessionOutcome.ESCALATED: "You escalated this task to the {brand} team.",
    SessionOutcome.CANCELLED: "{brand} cancelled this task.",
}


def _minutes_label(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _not_held(request: HttpRequest, agent: User, task_id: int) -> HttpResponse:
    """The page for a task the agent does not hold (any more): why, and where to go.

    A task of a brand whose pool the agent is not in, and that they never
    worked, does not exist for them (404), like any other brand's data.
    """
    pool_brands = PoolMembership.objects.approved().filter(agent=agent).values("brand_id")
    task = (
        Task.objects.select_related("brand", "gig")
        .filter(Q(brand_id__in=pool_brands) | Q(work_records__agent=agent), pk=task_id)
        .distinct()
        .first()
    )
    if task is None:
        raise Http404("No such task.")
    if request.htmx:
        # A partial cannot show this; the full page for the task can.
        response = HttpResponse(status=403)
        response["HX-Redirect"] = reverse("frontend:work_detail", args=[task.pk])
        return response
    record = WorkRecord.objects.filter(agent=agent, task=task).order_by("-pk").first()
    if record is not None:
        session = record.session
        reason = _LOST_REASONS[record.outcome].format(
            lease=_minutes_label(session.lease_seconds), brand=task.brand.name
        )
    elif task.holder_id is not None:
        reason = "Another agent is working on this task."
    else:
        reason = "You don't hold this task. Claim it from the queue to work on it."
    context = {
        "task": task,
        "record": record,
        "record_clock": clock(record.billable_seconds) if record else "",
        "reason": reason,
        "held": _held_tasks(agent, timezone.now()),
        "queue_url": QUEUE_URL,
    }
    return render(request, "workspace/work_not_held.html", context, status=403)


def _refused(request: HttpRequest, agent: User, task_id: int, exc: Exception) -> HttpResponse:
    """A service refused: the task is not (or no longer) the agent's, or not theirs to see."""
    if isinstance(exc, NotFound):
        raise Http404(exc.message)
    if isinstance(exc, PermissionDenied) and exc.code != "not_holder":
        return forbidden(request, exc.message)
    return _not_held(request, agent, task_id)


@agent_view
@require_GET
def work_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    agent = request.user
    task = _held_task(agent, task_id)
    if task is None:
        return _not_held(request, agent, task_id)
    return _render_detail(request, agent, task)


@agent_view
@require_GET
def work_conversation(request: HttpRequest, task_id: int) -> HttpResponse:
    """The conversation alone, for htmx to refresh after a live message."""
    agent = request.user
    expire_overdue(holder=agent)
    task = Task.objects.filter(pk=task_id, holder=agent, status=TaskStatus.CLAIMED).first()
    if task is None:
        return _not_held(request, agent, task_id)
    return render(
        request,
        "workspace/work_detail_conversation.html",
        {"task": task, "conversation": _conversation(task)},
    )


def _after_message(request: HttpRequest, task: Task, template: str, form) -> HttpResponse:
    if _is_partial(request):
        response = render(request, template, {"task": task, "form": form})
        response["HX-Trigger"] = CONVERSATION_CHANGED
        return response
    return redirect(reverse("frontend:work_detail", args=[task.pk]) + "#conversation")


@agent_view
@require_POST
def work_reply(request: HttpRequest, task_id: int) -> HttpResponse:
    """Send a reply; or, with ``insert``, add a canned reply's text to the draft."""
    agent = request.user
    task = _held_task(agent, task_id)
    if task is None:
        return _not_held(request, agent, task_id)
    form = ReplyForm(request.POST, task=task)
    if "insert" in request.POST:
        body = form.body_with_canned_text()
        if body is not None:
            form = ReplyForm(initial={"body": body}, task=task)
    elif form.require_body():
        try:
            agent_reply(agent=agent, task_id=task.pk, body=form.cleaned_data["body"])
        except (NotFound, PermissionDenied) as exc:
            return _refused(request, agent, task_id, exc)
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            return _after_message(
                request, task, "workspace/work_detail_reply.html", ReplyForm(task=task)
            )
    if _is_partial(request):
        return render(request, "workspace/work_detail_reply.html", {"task": task, "form": form})
    return _render_detail(request, agent, task, reply_form=form)


@agent_view
@require_POST
def work_note(request: HttpRequest, task_id: int) -> HttpResponse:
    agent = request.user
    task = _held_task(agent, task_id)
    if task is None:
        return _not_held(request, agent, task_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            agent_note(agent=agent, task_id=task.pk, body=form.cleaned_data["body"])
        except (NotFound, PermissionDenied) as exc:
            return _refused(request, agent, task_id, exc)
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            return _after_message(request, task, "workspace/work_detail_note.html", NoteForm())
    if _is_partial(request):
        return render(request, "workspace/work_detail_note.html", {"task": task, "form": form})
    return _render_detail(request, agent, task, note_form=form)


@agent_view
@require_POST
def work_resolve(request: HttpRequest, task_id: int) -> HttpResponse:
    agent = request.user
    task = _held_task(agent, task_id)
    if task is None:
        return _not_held(request, agent, task_id)
    form = ResolveForm(request.POST, task=task)
    if form.is_valid():
        try:
            task_resolve(
                agent=agent,
                task_id=task.pk,
                resolution_code=form.cleaned_data["resolution_code"],
                note=form.cleaned_data["note"],
            )
        except (NotFound, PermissionDenied) as exc:
            return _refused(request, agent, task_id, exc)
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Task #{task.pk} “{task.subject}” is resolved. Well done.")
            return redirect("frontend:work_list")
    return _render_detail(request, agent, task, resolve_form=form)


@agent_view
@require_POST
def work_escalate(request: HttpRequest, task_id: int) -> HttpResponse:
    agent = request.user
    task = _held_task(agent, task_id)
    if task is None:
        return _not_held(request, agent, task_id)
    form = EscalateForm(request.POST)
    if form.is_valid():
        try:
            task_escalate(agent=agent, task_id=task.pk, reason=form.cleaned_data["reason"])
        except (NotFound, PermissionDenied) as exc:
            return _refused(request, agent, task_id, exc)
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Task #{task.pk} is with the {task.brand.name} team now.")
            return redirect("frontend:work_list")
    return _render_detail(request, agent, task, escalate_form=form)


@agent_view
@require_POST
def work_release(request: HttpRequest, task_id: int) -> HttpResponse:
    agent = request.user
    agent_heartbeat(agent=agent)
    try:
        task = task_release(agent=agent, task_id=task_id)
    except (NotFound, PermissionDenied) as exc:
        return _refused(request, agent, task_id, exc)
    messages.success(
        request, f"Task #{task.pk} “{task.subject}” is back in the queue for another agent."
    )
    return redirect("frontend:work_list")
