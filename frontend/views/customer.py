"""The customer's page: one task's conversation behind a signed link, no login.

The link (``gigs.work.customer_link_token``) names the task and its brand; a
bad, tampered or expired one answers 404 and shows nothing. The page never
shows internal notes, nor which agent answered: replies come from the brand.
It works with plain form posts; htmx swaps its parts in place, and
``customer.js`` opens ``/ws/customer/<token>/`` to show new messages live.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from frontend.forms.workspace import CSAT_CHOICES, CsatForm, CustomerReplyForm
from gigs.models import Message, MessageKind, Task, TaskStatus
from gigs.work import customer_reply as customer_reply_service
from gigs.work import task_for_customer_token, task_rate
from marketplace.errors import Conflict, NotFound, ValidationFailed

CUSTOMER_VISIBLE_KINDS = (MessageKind.CUSTOMER, MessageKind.AGENT)
OPEN_STATUSES = (TaskStatus.QUEUED, TaskStatus.OFFERED, TaskStatus.CLAIMED)
# Tells the conversation (hx-trigger="messages-changed from:body") to reload.
MESSAGES_CHANGED = "messages-changed"


def _is_partial(request: HttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


def customer_page(view: Callable) -> Callable:
    """Decorate a customer page: the view gets the link's ``task``; a bad link is a 404.

    The link is the only key to the conversation, so the page is never cached,
    never indexed, and sends no Referer that would carry the link elsewhere.
    """

    @wraps(view)
    @never_cache
    def wrapper(request: HttpRequest, token: str, *args, **kwargs) -> HttpResponse:
        try:
            task = task_for_customer_token(token)
        except NotFound as exc:
            response = render(
                request, "customer/link_invalid.html", {"message": exc.message}, status=404
            )
        else:
            response = view(request, *args, task=task, token=token, **kwargs)
        response["Referrer-Policy"] = "no-referrer"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return wrapper


def _context(task: Task, token: str, **extra) -> dict:
    context = {
        "task": task,
        "brand": task.brand,
        "token": token,
        "conversation": list(
            Message.objects.filter(task=task, kind__in=CUSTOMER_VISIBLE_KINDS).order_by(
                "created_at", "pk"
            )
        ),
        "is_open": task.status in OPEN_STATUSES,
        "is_resolved": task.status == TaskStatus.RESOLVED,
        "is_escalated": task.status == TaskStatus.ESCALATED,
        "csat_choices": CSAT_CHOICES,
        "reply_form": CustomerReplyForm(),
        "csat_form": CsatForm(),
    }
    context.update(extra)
    return context


def _render_state(request: HttpRequest, task: Task, token: str, **extra) -> HttpResponse:
    """The part of the page below the conversation: reply form, rating or thanks."""
    task.refresh_from_db()
    template = (
        "customer/conversation_state.html" if _is_partial(request) else "customer/conversation.html"
    )
    return render(request, template, _context(task, token, **extra))


def _page_url(token: str, anchor: str = "") -> str:
    return reverse("frontend:customer_conversation", args=[token]) + anchor


@customer_page
@require_GET
def customer_conversation(request: HttpRequest, *, task: Task, token: str) -> HttpResponse:
    part = request.GET.get("part") if _is_partial(request) else None
    if part == "messages":
        return render(request, "customer/conversation_messages.html", _context(task, token))
    if part == "state":
        return render(request, "customer/conversation_state.html", _context(task, token))
    return render(request, "customer/conversation.html", _context(task, token))


@customer_page
@require_POST
def customer_reply(request: HttpRequest, *, task: Task, token: str) -> HttpResponse:
    form = CustomerReplyForm(request.POST)
    if form.is_valid():
        try:
            customer_reply_service(task=task, body=form.cleaned_data["body"])
        except Conflict as exc:
            # Closed meanwhile: the page now offers what fits (a rating, or nothing).
            return _render_state(request, task, token, notice=exc.message)
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            if not _is_partial(request):
                return redirect(_page_url(token, "#messages"))
            response = _render_state(request, task, token)
            response["HX-Trigger"] = MESSAGES_CHANGED
            return response
    return _render_state(request, task, token, reply_form=form)


@customer_page
@require_POST
def customer_rate(request: HttpRequest, *, task: Task, token: str) -> HttpResponse:
    form = CsatForm(request.POST)
    if form.is_valid():
        try:
            task_rate(
                task=task, score=form.cleaned_data["score"], comment=form.cleaned_data["comment"]
            )
        except Conflict as exc:
            return _render_state(request, task, token, notice=exc.message)
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            if not _is_partial(request):
                return redirect(_page_url(token, "#customer-state"))
            return _render_state(request, task, token)
    return _render_state(request, task, token, csat_form=form)
