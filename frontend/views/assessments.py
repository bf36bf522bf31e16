"""The agent's assessment pages: the catalogue, an assessment's rules, taking an
attempt (answers autosave through htmx) and its result.

What the agent sees of an attempt comes from ``attempt_questions_for_agent`` and
``attempt_result_for_agent`` only: those whitelist fields, so the answer key
never reaches a template. The deadline is the server's: every read and write
goes through a selector or service that closes an attempt past it first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from assessments.models import AttemptStatus
from assessments.selectors import (
    agent_assessment_statuses,
    agent_attempts_for_assessment,
    assessments_for_agent_catalogue,
    attempt_for_agent,
    attempt_questions_for_agent,
    attempt_result_for_agent,
    certifications_for_agent,
)
from assessments.services import (
    answer_save,
    attempt_questions,
    attempt_start,
    attempt_submit,
)
from frontend.forms.assessments_agent import response_from_post
from frontend.views.access import forbidden
from marketplace.errors import Conflict, GigdeskError, NotFound, ValidationFailed

ASSESSMENTS_PER_PAGE = 20
ATTEMPTS_PER_PAGE = 10
NOT_AN_AGENT = (
    "Assessments are taken by agent accounts. Your account is set up for a brand or for "
    "Gigdesk staff; to certify as an agent, sign up with a separate email address."
)
# The htmx event the take page's script listens for: the deadline passed.
TIME_UP_EVENT = "assessment-time-up"


def agent_view(view: Callable) -> Callable:
    """Agents only (others get the 403 page); a NotFound from a selector or
    service (another agent's attempt included) becomes a 404."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_agent:
            return forbidden(request, NOT_AN_AGENT)
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from None

    return wrapper


def _assessment_or_404(slug: str):
    assessment = assessments_for_agent_catalogue().filter(slug=slug).first()
    if assessment is None:
        raise Http404("No such assessment.")
    return assessment


def _rules(assessment) -> dict:
    version = assessment.published[0]
    return {
        "version": version,
        "time_limit_minutes": -(-version.time_limit_seconds // 60),
        "sections": list(version.sections.all()),
        "question_count": sum(section.draw for section in version.sections.all()),
    }


@agent_view
@require_GET
def agent_assessments(request: HttpRequest) -> HttpResponse:
    page = Paginator(assessments_for_agent_catalogue(), ASSESSMENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    statuses = agent_assessment_statuses(agent=request.user, assessments=page.object_list)
    rows = [
        {
            "assessment": assessment,
            "owner": assessment.brand.name if assessment.brand else "Gigdesk",
            "rules": _rules(assessment),
            "status": statuses[assessment.pk],
        }
        for assessment in page.object_list
    ]
    return render(request, "assessments/agent/catalogue.html", {"page": page, "rows": rows})


@agent_view
@require_GET
def agent_assessment_detail(request: HttpRequest, slug: str) -> HttpResponse:
    assessment = _assessment_or_404(slug)
    status = agent_assessment_statuses(agent=request.user, assessments=[assessment])[assessment.pk]
    attempts = Paginator(
        agent_attempts_for_assessment(agent=request.user, assessment=assessment),
        ATTEMPTS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "assessments/agent/detail.html",
        {
            "assessment": assessment,
            "rules": _rules(assessment),
            "status": status,
            "attempts": attempts,
        },
    )


@agent_view
@require_POST
def agent_assessment_start(request: HttpRequest, slug: str) -> HttpResponse:
    assessment = _assessment_or_404(slug)
    try:
        attempt = attempt_start(agent=request.user, assessment=assessment)
    except NotFound as exc:
        messages.error(request, exc.message)
        return redirect("frontend:agent_assessment_detail", slug=assessment.slug)
    except GigdeskError as exc:
        messages.error(request, f"Not started: {exc.message}")
        return redirect("frontend:agent_assessment_detail", slug=assessment.slug)
    return redirect("frontend:agent_attempt", attempt_id=attempt.pk)


def _numbered(sections: list[dict]) -> list[dict]:
    """Number the questions down the page: 1, 2, 3 and a reading item's 3.1, 3.2."""
    number = 0
    for section in sections:
        for question in section["questions"]:
            number += 1
            question["number"] = str(number)
            for index, child in enumerate(question.get("questions", []), start=1):
                child["number"] = f"{number}.{index}"
    return sections


@agent_view
@require_GET
def agent_attempt(request: HttpRequest, attempt_id: int) -> HttpResponse:
    attempt = attempt_for_agent(agent=request.user, attempt_id=attempt_id)
    if attempt.status != AttemptStatus.OPEN:
        return redirect("frontend:agent_attempt_result", attempt_id=attempt.pk)
    paper = attempt_questions_for_agent(attempt)
    if paper["status"] != AttemptStatus.OPEN:
        return redirect("frontend:agent_attempt_result", attempt_id=attempt.pk)
    _numbered(paper["sections"])
    return render(
        request,
        "assessments/agent/attempt.html",
        {"attempt": attempt, "paper": paper},
    )


def _save_status(
    request: HttpRequest,
    attempt_id: int,
    *,
    saved_at=None,
    error: str = "",
    time_up: bool = False,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "assessments/agent/attempt_save_status.html",
        {"attempt_id": attempt_id, "saved_at": saved_at, "error": error, "time_up": time_up},
        status=status,
    )


@agent_view
@require_POST
def agent_answer_save(request: HttpRequest, attempt_id: int, question_id: int) -> HttpResponse:
    attempt = attempt_for_agent(agent=request.user, attempt_id=attempt_id)
    take_page = reverse("frontend:agent_attempt", args=[attempt.pk])
    question = next((q for q in attempt_questions(attempt) if q.pk == question_id), None)
    try:
        if question is None:
            raise NotFound("That question is not part of this attempt.")
        answer = answer_save(
            agent=request.user,
            attempt_id=attempt.pk,
            question_id=question.pk,
            response=response_from_post(question.type, request.POST),
        )
    except (Conflict, ValidationFailed) as exc:
        closed = exc.code in ("attempt_deadline_passed", "attempt_closed")
        if not request.htmx:
            messages.error(request, exc.message)
            return redirect(take_page)
        response = _save_status(
            request, attempt.pk, error=exc.message, time_up=closed, status=409 if closed else 400
        )
        if closed:
            result_url = reverse("frontend:agent_attempt_result", args=[attempt.pk])
            response["HX-Trigger"] = json.dumps({TIME_UP_EVENT: {"resultUrl": result_url}})
        return response
    if not request.htmx:
        messages.success(request, "Answer saved.")
        return redirect(f"{take_page}#question-{question.pk}")
    return _save_status(request, attempt.pk, saved_at=answer.saved_at)


@agent_view
@require_POST
def agent_attempt_submit(request: HttpRequest, attempt_id: int) -> HttpResponse:
    try:
        attempt = attempt_submit(agent=request.user, attempt_id=attempt_id)
    except Conflict as exc:
        messages.info(request, exc.message)
    else:
        if attempt.closed_by_deadline:
            messages.warning(
                request,
                "Time was up before you handed the attempt in: the answers saved by the "
                "deadline were graded.",
            )
        else:
            messages.success(request, "Your attempt is handed in.")
    return redirect("frontend:agent_attempt_result", attempt_id=attempt_id)


@agent_view
@require_GET
def agent_attempt_result(request: HttpRequest, attempt_id: int) -> HttpResponse:
    attempt = attempt_for_agent(agent=request.user, attempt_id=attempt_id)
    if attempt.status == AttemptStatus.OPEN:
        return redirect("frontend:agent_attempt", attempt_id=attempt.pk)
    result = attempt_result_for_agent(attempt)
    certification = (
        certifications_for_agent(agent=request.user).filter(attempt=attempt).first()
        if result["final"] and result["passed"]
        else None
    )
    return render(
        request,
        "assessments/agent/result.html",
        {
            "attempt": attempt,
            "assessment": attempt.assessment,
            "result": result,
            "certification": certification,
        },
    )
