"""Grading queues: written answers waiting for a person, oldest first, and the
page that scores one against its rubric.

Platform staff grade platform assessments (staff/grading/); a brand's admins
and QA reviewers grade the brand's (brands/<slug>/grading/). Scoring is
``services.answer_grade``, which refuses a grader's own attempt and an answer
graded meanwhile; the attempt is final when its last answer is graded.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from assessments.models import Answer, QuestionType
from assessments.permissions import GRADER_ROLES
from assessments.selectors import grading_queue
from assessments.services import answer_grade
from brands.models import Brand
from frontend.forms.assessments_authoring import GradeForm
from frontend.views.access import brand_view, forbidden, staff_view
from frontend.views.assessment_authoring import Owner
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

PER_PAGE = 25


def _for_both(view: Callable) -> tuple[Callable, Callable]:
    def guarded(request, owner, *args, **kwargs):
        try:
            return view(request, owner, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from None
        except PermissionDenied as exc:
            return forbidden(request, exc.message)

    @staff_view
    @wraps(view)
    def staff_page(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return guarded(request, Owner(brand=None), *args, **kwargs)

    @brand_view(roles=GRADER_ROLES)
    @wraps(view)
    def brand_page(request: HttpRequest, *args, brand: Brand, role: str, **kwargs) -> HttpResponse:
        return guarded(request, Owner(brand=brand), *args, **kwargs)

    return staff_page, brand_page


def _scoped(owner: Owner, answers: QuerySet[Answer]) -> QuerySet[Answer]:
    if owner.brand is None:
        return answers.filter(attempt__assessment__brand__isnull=True)
    return answers.filter(attempt__assessment__brand=owner.brand)


def _queue(request: HttpRequest, owner: Owner) -> QuerySet[Answer]:
    return _scoped(owner, grading_queue(request.user)).select_related(
        "attempt__agent__agent_profile"
    )


@require_GET
def queue_page(request: HttpRequest, owner: Owner) -> HttpResponse:
    page = Paginator(_queue(request, owner), PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "assessments/grading/grading_queue.html",
        {"owner": owner, "brand": owner.brand, "page": page},
    )


def _answer(owner: Owner, answer_id: int) -> Answer:
    """A submitted written answer of the owner's assessments, graded or not."""
    answer = (
        _scoped(owner, Answer.objects.all())
        .filter(
            pk=answer_id,
            question__type=QuestionType.WRITTEN,
            attempt__submitted_at__isnull=False,
        )
        .select_related(
            "question", "attempt__assessment", "attempt__agent__agent_profile", "graded_by"
        )
        .first()
    )
    if answer is None:
        raise NotFound("No such answer.")
    return answer


@require_http_methods(["GET", "POST"])
def answer_page(request: HttpRequest, owner: Owner, answer_id: int) -> HttpResponse:
    answer = _answer(owner, answer_id)
    own = answer.attempt.agent_id == request.user.pk
    form = GradeForm(request.POST or None, rubric=answer.question.rubric)
    status = 200
    if request.method == "POST" and answer.needs_grading and not own:
        if form.is_valid():
            try:
                answer_grade(
                    grader=request.user,
                    answer_id=answer.pk,
                    score=form.scores(),
                    comment=form.cleaned_data["comment"],
                )
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            except Conflict as exc:
                messages.warning(request, exc.message)
                return redirect(owner.url("grading_answer", answer.pk))
            else:
                following = _queue(request, owner).first()
                name = answer.attempt.agent.public_name
                if following is None:
                    messages.success(request, f"{name}'s answer graded. The queue is empty.")
                    return redirect(owner.url("grading_queue"))
                messages.success(request, f"{name}'s answer graded. Here is the next one.")
                return redirect(owner.url("grading_answer", following.pk))
        status = 400
    elif request.method == "POST":
        status = 403 if own else 409
    waiting = _queue(request, owner).count()
    return render(
        request,
        "assessments/grading/grading_answer.html",
        {
            "owner": owner,
            "brand": owner.brand,
            "answer": answer,
            "question": answer.question,
            "form": form,
            "own": own,
            "waiting": waiting,
        },
        status=status,
    )


staff_grading_queue, brand_grading_queue = _for_both(queue_page)
staff_grading_answer, brand_grading_answer = _for_both(answer_page)
