"""Calibration pages: staff list and open sessions, invited reviewers score
blind, staff close the session, read the spread and record the gold review;
a reviewer page shows each reviewer's alignment history and flag.

The session page serves staff and invited reviewers (brand QA reviewers
included); anyone else gets 404. What each of them may see of the scores is
decided by ``qa.calibration.visible_reviews``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from frontend.forms.qa_calibration import InviteForm, TaskSearchForm
from frontend.forms.qa_reviews import category_rows, rating_text, scorecard_input
from frontend.views.access import staff_view
from gigs.models import Task
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from qa.calibration import (
    MIN_REVIEWERS,
    access_calibration_session,
    calibration_review_save,
    calibration_review_submit,
    calibration_sessions,
    eligible_reviewers,
    gold_record,
    own_calibration_review,
    reviewer_alignment,
    session_alignments,
    session_close,
    session_create,
    session_progress,
    session_stats,
    visible_reviews,
)
from qa.models import CalibrationStatus, Review, ReviewStatus

PER_PAGE = 25
TASK_RESULTS = 20


def _detail_url(session) -> str:
    return reverse("frontend:staff_qa_calibration_detail", args=[session.pk])


def _session_url(request: HttpRequest, session) -> str:
    name = "staff_qa_calibration_detail" if request.user.is_staff else "qa_calibration_session"
    return reverse(f"frontend:{name}", args=[session.pk])


# --- list and create -------------------------------------------------------------------


@staff_view
@require_GET
def staff_qa_calibration_list(request: HttpRequest) -> HttpResponse:
    sessions = calibration_sessions(user=request.user).prefetch_related("invites")
    page = Paginator(sessions, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "qa/calibration/list.html", {"page": page})


def _closed_tasks(query: str):
    tasks = Task.objects.filter(closed_at__isnull=False, holder__isnull=False)
    query = query.strip().lstrip("#")
    if query.isdigit():
        tasks = tasks.filter(Q(pk=int(query)) | Q(subject__icontains=query))
    elif query:
        tasks = tasks.filter(subject__icontains=query)
    return tasks.select_related("brand", "gig").order_by("-closed_at", "-id")[:TASK_RESULTS]


@staff_view
@require_http_methods(["GET", "POST"])
def staff_qa_calibration_create(request: HttpRequest) -> HttpResponse:
    search = TaskSearchForm(request.GET or None)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    task = None
    task_id = request.POST.get("task") or request.GET.get("task")
    if task_id and str(task_id).isdigit():
        task = (
            Task.objects.filter(pk=int(task_id), closed_at__isnull=False, holder__isnull=False)
            .select_related("brand", "gig", "holder")
            .first()
        )
    invite_form = None
    error_message = ""
    status = 200
    if task is not None:
        invite_form = InviteForm(
            request.POST if request.method == "POST" else None, eligible=eligible_reviewers(task)
        )
        if request.method == "POST":
            if invite_form.is_valid():
                try:
                    session = session_create(
                        actor=request.user,
                        task=task,
                        reviewers=invite_form.cleaned_data["reviewers"],
                    )
                except (ValidationFailed, PermissionDenied) as exc:
                    error_message, status = exc.message, 400
                else:
                    messages.success(request, f"Calibration session on task #{task.pk} opened.")
                    return redirect(_detail_url(session))
            else:
                status = 400
    elif request.method == "POST":
        error_message, status = "Choose a closed task first.", 400
    context = {
        "search": search,
        "query": query,
        "tasks": _closed_tasks(query) if task is None else [],
        "task": task,
        "invite_form": invite_form,
        "error_message": error_message,
        "min_reviewers": MIN_REVIEWERS,
    }
    return render(request, "qa/calibration/create.html", context, status=status)


# --- the session page ------------------------------------------------------------------


def _scored_rows(categories, review) -> list[dict]:
    return [
        {
            "category": category,
            "rating": rating_text(category, review.ratings.get(category.key))
            if category.key in review.ratings
            else "—",
        }
        for category in categories
    ]


def _session_page(
    request: HttpRequest,
    session,
    *,
    posted=None,
    errors=None,
    error_message: str = "",
    gold_posted=None,
    gold_errors=None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    categories = list(session.scorecard_version.categories.all())
    own = own_calibration_review(reviewer=user, session=session)
    invited = session.invites.filter(reviewer=user).exists()
    is_open = session.status == CalibrationStatus.OPEN
    reviews = visible_reviews(viewer=user, session=session)
    alignments = session_alignments(session)
    context = {
        "session": session,
        "task": session.task,
        "categories": categories,
        "is_open": is_open,
        "invited": invited,
        "own": own,
        "own_submitted": own is not None and own.status == ReviewStatus.SUBMITTED,
        "error_message": error_message,
        "session_url": _session_url(request, session),
        "scorings": [
            {
                "review": review,
                "rows": _scored_rows(categories, review),
                "alignment": alignments.get(review.reviewer_id),
                "has_alignment": review.reviewer_id in alignments,
            }
            for review in reviews
        ],
        "min_reviewers": MIN_REVIEWERS,
    }
    if is_open and invited and not context["own_submitted"]:
        if posted is not None:
            ratings, comments, overall = posted.ratings, posted.comments, posted.overall_comment
        elif own is not None:
            ratings, comments, overall = own.ratings, own.comments, own.overall_comment
        else:
            ratings, comments, overall = {}, {}, ""
        context["rows"] = category_rows(
            categories, ratings=ratings, comments=comments, errors=errors
        )
        context["overall_comment"] = overall
    if user.is_staff:
        context["progress"] = session_progress(session)
        context["submitted_count"] = sum(row.submitted for row in context["progress"])
        if not is_open:
            context["stats"] = session_stats(session)
            if session.gold_review_id is None and not invited:
                ratings = gold_posted.ratings if gold_posted is not None else {}
                context["gold_rows"] = category_rows(
                    categories, ratings=ratings, errors=gold_errors
                )
    if session.gold_review_id is not None and (user.is_staff or context["own_submitted"]):
        context["gold"] = session.gold_review
        context["gold_scored"] = _scored_rows(categories, session.gold_review)
        if own is not None and context["own_submitted"]:
            context["own_alignment"] = alignments.get(user.pk)
    return render(request, "qa/calibration/session.html", context, status=status)


def _session_or_404(request: HttpRequest, session_id: int):
    try:
        return access_calibration_session(request.user, session_id)
    except NotFound:
        raise Http404("No such calibration session.") from None


@login_required
@require_http_methods(["GET", "POST"])
def qa_calibration_session(request: HttpRequest, session_id: int) -> HttpResponse:
    """Staff and invited reviewers; a POST saves or submits the user's own scoring."""
    session = _session_or_404(request, session_id)
    if request.method == "GET":
        return _session_page(request, session)
    categories = list(session.scorecard_version.categories.all())
    posted = scorecard_input(request.POST, categories)
    action = request.POST.get("action", "submit")
    write = calibration_review_save if action == "save" else calibration_review_submit
    try:
        write(
            reviewer=request.user,
            session=session,
            ratings=posted.ratings,
            comments=posted.comments,
            overall_comment=posted.overall_comment,
        )
    except ValidationFailed as exc:
        return _session_page(
            request,
            session,
            posted=posted,
            errors=exc.fields,
            error_message=exc.message,
            status=400,
        )
    except (Conflict, NotFound, PermissionDenied) as exc:
        return _session_page(request, session, error_message=exc.message, status=403)
    if action == "save":
        messages.success(request, "Draft saved. Nobody sees it until you submit.")
    else:
        messages.success(request, "Scoring submitted: the others' submitted scores are shown.")
    return redirect(_session_url(request, session))


staff_qa_calibration_detail = staff_view(qa_calibration_session)


@staff_view
@require_POST
def staff_qa_calibration_close(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _session_or_404(request, session_id)
    try:
        session_close(actor=request.user, session=session)
    except (ValidationFailed, Conflict, PermissionDenied) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Session closed: the scores and their spread are shown.")
    return redirect(_detail_url(session))


@staff_view
@require_POST
def staff_qa_calibration_gold(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _session_or_404(request, session_id)
    categories = list(session.scorecard_version.categories.all())
    posted = scorecard_input(request.POST, categories)
    try:
        gold_record(
            actor=request.user,
            session=session,
            ratings=posted.ratings,
            comments=posted.comments,
            overall_comment=posted.overall_comment,
        )
    except ValidationFailed as exc:
        return _session_page(
            request,
            session,
            gold_posted=posted,
            gold_errors=exc.fields,
            error_message=exc.message,
            status=400,
        )
    except (Conflict, PermissionDenied) as exc:
        messages.error(request, exc.message)
        return redirect(_detail_url(session))
    messages.success(request, "Gold review recorded: each reviewer's alignment is shown.")
    return redirect(_detail_url(session))


@login_required
@require_GET
def qa_calibration_invites(request: HttpRequest) -> HttpResponse:
    """The sessions the user is invited to, for reviewers without the staff console."""
    sessions = calibration_sessions(user=request.user).filter(invites__reviewer=request.user)
    page = Paginator(sessions, PER_PAGE).get_page(request.GET.get("page"))
    submitted = set(
        Review.objects.filter(
            calibration_session__in=[session.pk for session in page],
            reviewer=request.user,
            status=ReviewStatus.SUBMITTED,
        ).values_list("calibration_session_id", flat=True)
    )
    return render(request, "qa/calibration/invites.html", {"page": page, "submitted": submitted})


# --- reviewer page ---------------------------------------------------------------------


@staff_view
@require_GET
def staff_qa_reviewer(request: HttpRequest, user_id: int) -> HttpResponse:
    reviewer = get_user_model().objects.filter(pk=user_id).first()
    if reviewer is None:
        raise Http404("No such reviewer.")
    summary = reviewer_alignment(reviewer)
    page = Paginator(summary.history, PER_PAGE).get_page(request.GET.get("page"))
    memberships = reviewer.brand_memberships.select_related("brand").order_by("brand__name")
    context = {"reviewer": reviewer, "summary": summary, "page": page, "memberships": memberships}
    return render(request, "qa/calibration/reviewer.html", context)
