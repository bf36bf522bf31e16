"""QA review pages: the review queue, the review page with its live score, the
agent's own QA page with disputes, and the dispute decision pages.

Brand pages (brands/<slug>/qa/...) are for the brand's admins and QA
reviewers; the staff pages (staff/qa/...) cover every brand. Everything the
pages change goes through ``qa.services``, which refuses reviewing a task not
assigned to you or your own, late or repeated disputes and decisions by the
original reviewer; those refusals are shown on the page and change nothing.
An object of another brand (or another agent's review) is 404.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from brands.models import Brand, PoolStatus
from frontend.forms.qa_reviews import category_rows, rating_text, scorecard_input
from frontend.views.access import brand_view, forbidden
from frontend.views.access import staff_view as staff_only
from frontend.views.assessments import agent_view
from gigs.models import Gig, Message
from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from qa.feeds import agent_gig_eligibility
from qa.models import (
    AutoQAFinding,
    Dispute,
    DisputeDecision,
    GigQASettings,
    Review,
    ReviewAssignment,
    ReviewStatus,
)
from qa.permissions import REVIEWER_ROLES
from qa.selectors import (
    REVIEWER_HIDDEN_LABEL,
    access_assignment,
    access_dispute,
    access_review,
    agent_qa_score,
    agent_qa_scores,
    brand_qa_settings,
    gig_qa_settings,
    gig_scorecard_version,
    review_queue,
    review_revisions,
    reviewer_display,
    reviewer_labels,
    reviews_of_agent,
    undecided_disputes,
)
from qa.services import (
    DISPUTE_WINDOW,
    assignment_assign,
    dispute_decide,
    dispute_open,
    review_draft_save,
    review_preview,
    review_submit,
)

PER_PAGE = 25
AUTOQA_LABEL = "automatic check, may be wrong"
# What a gig without saved QA settings reviews by CSAT.
DEFAULT_CSAT_MAX = GigQASettings._meta.get_field("csat_max").default


# --- scope: staff (every brand) or one brand -----------------------------------------------


@dataclass(frozen=True)
class QAScope:
    """Whose QA a page shows: one brand's, or (brand None) every brand's for staff."""

    brand: Brand | None

    @property
    def prefix(self) -> str:
        return "brand" if self.brand else "staff"

    def url(self, name: str, *args) -> str:
        scope = [self.brand.slug] if self.brand else []
        return reverse(f"frontend:{self.prefix}_qa_{name}", args=[*scope, *args])

    def check(self, brand_id: int) -> None:
        """Another brand's object on this brand's pages is 404, like one that does not exist."""
        if self.brand is not None and brand_id != self.brand.pk:
            raise NotFound("No such review.")


def _for_both(view: Callable) -> tuple[Callable, Callable]:
    def guarded(request, scope, *args, **kwargs):
        try:
            return view(request, scope, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from None
        except PermissionDenied as exc:
            return forbidden(request, exc.message)

    @staff_only
    @wraps(view)
    def staff_page(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return guarded(request, QAScope(brand=None), *args, **kwargs)

    @brand_view(roles=REVIEWER_ROLES)
    @wraps(view)
    def brand_page(request: HttpRequest, *args, brand: Brand, role: str, **kwargs) -> HttpResponse:
        return guarded(request, QAScope(brand=brand), *args, **kwargs)

    return staff_page, brand_page


# --- small presentation helpers ------------------------------------------------------------


def span_text(delta: timedelta) -> str:
    """A duration the way the queue shows it: "45 min", "3 h", "2 d 4 h"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 24:
        return f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _reason_chips(assignment: ReviewAssignment, csat_max: int | None) -> list[str]:
    chips = {
        "random": "Random sample",
        "low_csat": f"CSAT ≤ {csat_max}" if csat_max else "Low CSAT",
        "escalation": "Escalation",
        "new_agent": "New agent",
        "weekly_topup": "Weekly minimum",
        "autoqa_leak": "Possible data leak",
        "manual": "Picked by hand",
    }
    return [chips.get(reason, reason) for reason in assignment.reasons]


def _due_text(due_at, now) -> str:
    if due_at < now:
        return f"overdue by {span_text(now - due_at)}"
    return f"due in {span_text(due_at - now)}"


def score_line(agent_score) -> str:
    """ "QA 84.1 · 6 reviews in 30 days" (or "No QA score yet · ...")."""
    shown = "No QA score yet" if agent_score.score is None else f"QA {agent_score.score}"
    plural = "" if agent_score.count == 1 else "s"
    return f"{shown} · {agent_score.count} review{plural} in {agent_score.window_days} days"


def _message_rows(task) -> list[Message]:
    return list(
        Message.objects.filter(task=task).select_related("author").order_by("created_at", "id")
    )


def _findings_by_category(task, category_keys) -> tuple[dict[str, list], list]:
    """AutoQA findings beside their category; those whose hint names no category
    of this scorecard (or none at all) are listed apart, never dropped."""
    # Hints are snake_case, like new keys; a version published before keys were
    # normalised is frozen and may still spell one "data-protection".
    key_of_hint = {key.replace("-", "_"): key for key in category_keys}
    by_category: dict[str, list] = {}
    unplaced = []
    for finding in AutoQAFinding.objects.filter(task=task).order_by("id"):
        key = key_of_hint.get(finding.category_hint)
        if key is not None:
            by_category.setdefault(key, []).append(finding)
        else:
            unplaced.append(finding)
    return by_category, unplaced


def _revision_rows(review: Review, *, viewer_is_agent: bool, hidden: bool) -> list[dict]:
    """Each revision with its score, who made it, why, and the ratings it changed."""
    categories = list(review.scorecard_version.categories.all())
    rows, previous = [], None
    for revision in review_revisions(review=review):
        changes = []
        if previous is not None:
            for category in categories:
                before = previous.ratings.get(category.key, "missing")
                after = revision.ratings.get(category.key, "missing")
                if before != after:
                    changes.append(
                        f"{category.name}: {rating_text(category, before)} → "
                        f"{rating_text(category, after)}"
                    )
        if revision.created_by is None:
            by = ""
        elif viewer_is_agent and hidden:
            by = REVIEWER_HIDDEN_LABEL
        else:
            by = revision.created_by.get_full_name()
        rows.append({"revision": revision, "by": by, "changes": changes})
        previous = revision
    return rows


def _rated_rows(review: Review) -> list[dict]:
    return [
        {
            "category": category,
            "rating": rating_text(category, review.ratings.get(category.key)),
            "comment": review.comments.get(category.key, ""),
        }
        for category in review.scorecard_version.categories.all()
    ]


# --- the review queue ----------------------------------------------------------------------


@require_GET
def queue_page(request: HttpRequest, scope: QAScope) -> HttpResponse:
    now = timezone.now()
    queue = review_queue(user=request.user, brand=scope.brand, now=now).select_related("brand")
    page = Paginator(queue, PER_PAGE).get_page(request.GET.get("page"))
    gig_ids = {assignment.gig_id for assignment in page}
    csat_max = dict(
        GigQASettings.objects.filter(gig_id__in=gig_ids).values_list("gig_id", "csat_max")
    )
    rows = []
    for assignment in page:
        overdue = assignment.due_at < now
        rows.append(
            {
                "assignment": assignment,
                "chips": _reason_chips(
                    assignment, csat_max.get(assignment.gig_id, DEFAULT_CSAT_MAX)
                ),
                "overdue": overdue,
                "due_text": _due_text(assignment.due_at, now),
            }
        )
    return render(
        request,
        "qa/reviews/queue.html",
        {"scope": scope, "brand": scope.brand, "page": page, "rows": rows},
    )


@require_POST
def take_assignment(request: HttpRequest, scope: QAScope, assignment_id: int) -> HttpResponse:
    assignment = access_assignment(request.user, assignment_id)
    scope.check(assignment.brand_id)
    try:
        assignment_assign(actor=request.user, assignment=assignment, reviewer=request.user)
    except (ValidationFailed, Conflict) as exc:
        messages.error(request, exc.message)
        return redirect(scope.url("queue"))
    except PermissionDenied as exc:
        messages.error(request, exc.message)
        return redirect(scope.url("queue"))
    messages.success(request, f"You took task #{assignment.task_id}.")
    return redirect(scope.url("review", assignment.pk))


# --- the review page -----------------------------------------------------------------------


def _review_page(
    request: HttpRequest,
    scope: QAScope,
    assignment: ReviewAssignment,
    *,
    posted=None,
    errors: dict | None = None,
    error_message: str = "",
    status: int = 200,
) -> HttpResponse:
    submitted = (
        Review.objects.filter(assignment=assignment, status=ReviewStatus.SUBMITTED)
        .select_related("reviewer", "scorecard_version")
        .first()
    )
    draft = None
    if submitted is None:
        draft = (
            Review.objects.filter(assignment=assignment, reviewer=request.user)
            .select_related("scorecard_version")
            .first()
        )
    pinned = submitted or draft
    version = pinned.scorecard_version if pinned else gig_scorecard_version(assignment.gig)
    categories = list(version.categories.all()) if version else []
    findings, unplaced_findings = _findings_by_category(
        assignment.task,
        {category.key for category in categories},
    )
    context = {
        "scope": scope,
        "brand": scope.brand,
        "assignment": assignment,
        "task": assignment.task,
        "conversation": _message_rows(assignment.task),
        "unplaced_findings": unplaced_findings,
        "findings": findings,
        "autoqa_label": AUTOQA_LABEL,
        "version": version,
        "submitted": submitted,
        "own_task": assignment.agent_id == request.user.pk,
        "assigned_to_me": assignment.reviewer_id == request.user.pk,
        "error_message": error_message,
        "chips": _reason_chips(assignment, gig_qa_settings(assignment.gig).csat_max),
        "due_text": _due_text(assignment.due_at, timezone.now()),
        "queue_url": scope.url("queue"),
        "review_url": scope.url("review", assignment.pk),
        "preview_url": scope.url("review_preview", assignment.pk),
        "take_url": scope.url("take", assignment.pk),
    }
    if submitted is not None:
        context["rated"] = _rated_rows(submitted)
        context["revisions"] = _revision_rows(submitted, viewer_is_agent=False, hidden=False)
        context["dispute"] = Dispute.objects.filter(review=submitted).first()
    else:
        if posted is not None:
            ratings, comments, overall = posted.ratings, posted.comments, posted.overall_comment
        elif draft is not None:
            ratings, comments, overall = draft.ratings, draft.comments, draft.overall_comment
        else:
            ratings, comments, overall = {}, {}, ""
        context["rows"] = category_rows(
            categories, ratings=ratings, comments=comments, errors=errors, findings=findings
        )
        context["overall_comment"] = overall
        context["has_draft"] = draft is not None
        context["preview"] = _safe_preview(request.user, assignment, ratings)
    return render(request, "qa/reviews/review.html", context, status=status)


def _safe_preview(user, assignment: ReviewAssignment, ratings):
    """The live score for the page's first render; None when the user may not score."""
    try:
        return review_preview(reviewer=user, assignment=assignment, ratings=ratings)
    except (PermissionDenied, NotFound, ValidationFailed):
        return None


def _assignment_in_scope(request: HttpRequest, scope: QAScope, assignment_id: int):
    assignment = access_assignment(request.user, assignment_id)
    scope.check(assignment.brand_id)
    return assignment


def _version_categories(request: HttpRequest, assignment: ReviewAssignment) -> list:
    draft = (
        Review.objects.filter(assignment=assignment, reviewer=request.user)
        .select_related("scorecard_version")
        .first()
    )
    version = draft.scorecard_version if draft else gig_scorecard_version(assignment.gig)
    return list(version.categories.all()) if version else []


@require_http_methods(["GET", "POST"])
def review_page(request: HttpRequest, scope: QAScope, assignment_id: int) -> HttpResponse:
    assignment = _assignment_in_scope(request, scope, assignment_id)
    if request.method == "GET":
        return _review_page(request, scope, assignment)
    posted = scorecard_input(request.POST, _version_categories(request, assignment))
    try:
        review = review_submit(
            reviewer=request.user,
            assignment=assignment,
            ratings=posted.ratings,
            comments=posted.comments,
            overall_comment=posted.overall_comment,
        )
    except ValidationFailed as exc:
        return _review_page(
            request,
            scope,
            assignment,
            posted=posted,
            errors=exc.fields,
            error_message=exc.message,
            status=400,
        )
    except (PermissionDenied, Conflict) as exc:
        return _review_page(
            request, scope, assignment, posted=posted, error_message=exc.message, status=403
        )
    verdict = "pass" if review.passed else "fail"
    shown = "no score (all N/A)" if review.score is None else f"{review.score}, {verdict}"
    messages.success(request, f"Review submitted: {shown}.")
    return redirect(scope.url("review", assignment.pk))


@require_POST
def review_preview_part(request: HttpRequest, scope: QAScope, assignment_id: int) -> HttpResponse:
    """The htmx live preview: re-render the score block and autosave the draft."""
    assignment = _assignment_in_scope(request, scope, assignment_id)
    posted = scorecard_input(request.POST, _version_categories(request, assignment))
    context = {"scope": scope, "assignment": assignment, "oob": True}
    try:
        context["preview"] = review_preview(
            reviewer=request.user, assignment=assignment, ratings=posted.ratings
        )
    except (PermissionDenied, ValidationFailed) as exc:
        context["preview_error"] = exc.message
        return render(request, "qa/reviews/_score.html", context)
    try:
        review_draft_save(
            reviewer=request.user,
            assignment=assignment,
            ratings={
                key: value
                for key, value in posted.ratings.items()
                if key not in context["preview"].problems
            },
            comments=posted.comments,
            overall_comment=posted.overall_comment,
        )
    except (ValidationFailed, Conflict, PermissionDenied) as exc:
        context["draft_status"] = f"Draft not saved: {exc.message}"
    else:
        context["draft_status"] = f"Draft saved {timezone.localtime():%H:%M:%S}"
    return render(request, "qa/reviews/_score.html", context)


# --- dispute decisions ---------------------------------------------------------------------


@require_GET
def disputes_page(request: HttpRequest, scope: QAScope) -> HttpResponse:
    now = timezone.now()
    page = Paginator(undecided_disputes(user=request.user, brand=scope.brand), PER_PAGE).get_page(
        request.GET.get("page")
    )
    rows = [
        {
            "dispute": dispute,
            "overdue": dispute.due_at < now,
            "due_text": _due_text(dispute.due_at, now),
            "url": scope.url("dispute", dispute.pk),
        }
        for dispute in page
    ]
    return render(
        request,
        "qa/reviews/disputes.html",
        {
            "scope": scope,
            "brand": scope.brand,
            "page": page,
            "rows": rows,
            "queue_url": scope.url("queue"),
        },
    )


def _dispute_page(
    request, scope, dispute, *, posted=None, errors=None, error_message="", status=200
):
    review = (
        Review.objects.select_related("task", "gig", "agent", "reviewer", "scorecard_version")
        .prefetch_related("scorecard_version__categories")
        .get(pk=dispute.review_id)
    )
    categories = list(review.scorecard_version.categories.all())
    # Proposals are read against the ratings the agent disputed, which an amend replaces.
    disputed = review.revisions.exclude(dispute=dispute).order_by("-number").first() or review
    proposed = [
        {
            "category": category,
            "rating": rating_text(category, dispute.proposed_ratings[category.key]),
            "current": rating_text(category, disputed.ratings.get(category.key)),
        }
        for category in categories
        if category.key in dispute.proposed_ratings
    ]
    ratings = posted.ratings if posted is not None else review.ratings
    context = {
        "scope": scope,
        "brand": scope.brand,
        "dispute": dispute,
        "review": review,
        "rated": _rated_rows(review),
        "proposed": proposed,
        "revisions": _revision_rows(review, viewer_is_agent=False, hidden=False),
        "rows": category_rows(categories, ratings=ratings, errors=errors),
        "decision": request.POST.get("decision", "") if posted is not None else "",
        "reason": request.POST.get("reason", "") if posted is not None else "",
        "own_review": review.reviewer_id == request.user.pk,
        "error_message": error_message,
        "decisions": DisputeDecision.choices,
        "disputes_url": scope.url("disputes"),
        "dispute_url": scope.url("dispute", dispute.pk),
    }
    return render(request, "qa/reviews/dispute.html", context, status=status)


@require_http_methods(["GET", "POST"])
def dispute_page(request: HttpRequest, scope: QAScope, dispute_id: int) -> HttpResponse:
    dispute = access_dispute(request.user, dispute_id)
    scope.check(dispute.brand_id)
    if request.method == "GET":
        return _dispute_page(request, scope, dispute)
    categories = list(dispute.review.scorecard_version.categories.all())
    posted = scorecard_input(request.POST, categories)
    decision = request.POST.get("decision", "")
    try:
        dispute_decide(
            decider=request.user,
            dispute=dispute,
            decision=decision,
            reason=request.POST.get("reason", ""),
            ratings=posted.ratings if decision == DisputeDecision.AMEND else None,
        )
    except ValidationFailed as exc:
        return _dispute_page(
            request,
            scope,
            dispute,
            posted=posted,
            errors=exc.fields,
            error_message=exc.message,
            status=400,
        )
    except (PermissionDenied, Conflict) as exc:
        return _dispute_page(
            request, scope, dispute, posted=posted, error_message=exc.message, status=403
        )
    dispute.refresh_from_db()
    messages.success(request, f"Dispute decided: {dispute.get_decision_display().lower()}.")
    return redirect(scope.url("dispute", dispute.pk))


staff_qa_queue, brand_qa_queue = _for_both(queue_page)
staff_qa_take, brand_qa_take = _for_both(take_assignment)
staff_qa_review, brand_qa_review = _for_both(review_page)
staff_qa_review_preview, brand_qa_review_preview = _for_both(review_preview_part)
staff_qa_disputes, brand_qa_disputes = _for_both(disputes_page)
staff_qa_dispute, brand_qa_dispute = _for_both(dispute_page)


# --- the agent's own QA --------------------------------------------------------------------


@agent_view
@require_GET
def agent_qa(request: HttpRequest) -> HttpResponse:
    agent = request.user
    now = timezone.now()
    reviews = reviews_of_agent(viewer=agent, agent=agent)
    gigs = (
        Gig.objects.filter(pk__in=reviews.values("gig")).select_related("brand").order_by("title")
    )
    # One read for every score on the page, so its queries do not grow with the gigs listed.
    scores = agent_qa_scores(agent=agent, now=now)
    overall = scores.overall
    per_gig = [{"gig": gig, "score": scores.on_gig(gig.pk)} for gig in gigs]
    page = Paginator(reviews, PER_PAGE).get_page(request.GET.get("page"))
    on_page = list(page)
    rows = [
        {"review": review, "reviewer": label}
        for review, label in zip(
            on_page, reviewer_labels(reviews=on_page, viewer=agent), strict=True
        )
    ]
    # Gigs of the agent's pools that set a minimum QA score, and where they stand.
    gated = (
        Gig.objects.filter(
            brand__pool_memberships__agent=agent,
            brand__pool_memberships__status=PoolStatus.APPROVED,
            qa_settings__min_qa_score__isnull=False,
        )
        .select_related("brand", "qa_settings")
        .order_by("brand__name", "title")
    )
    return render(
        request,
        "qa/reviews/agent_qa.html",
        {
            "overall": overall,
            "overall_line": score_line(overall),
            "per_gig": [{**row, "line": score_line(row["score"])} for row in per_gig],
            "page": page,
            "rows": rows,
            "minimums": agent_gig_eligibility(agent, list(gated), now=now, scores=scores),
        },
    )


def _agent_review(request: HttpRequest, review_id: int) -> Review:
    review = access_review(request.user, review_id)
    # A brand member who also works as an agent reads other agents' reviews on
    # the brand pages, not here.
    if review.agent_id != request.user.pk or review.status != ReviewStatus.SUBMITTED:
        raise NotFound("No such review.")
    return review


def _agent_review_page(
    request, review, *, posted=None, errors=None, error_message="", status=200
) -> HttpResponse:
    hidden = brand_qa_settings(review.brand).hide_reviewer_identity
    dispute = Dispute.objects.filter(review=review).first()
    closes = review.submitted_at + DISPUTE_WINDOW
    categories = list(review.scorecard_version.categories.all())
    proposed = posted.ratings if posted is not None else {}
    context = {
        "review": review,
        "reviewer": reviewer_display(review=review, viewer=request.user),
        "rated": _rated_rows(review),
        "revisions": _revision_rows(review, viewer_is_agent=True, hidden=hidden),
        "dispute": dispute,
        "dispute_closes": closes,
        "window_open": timezone.now() <= closes,
        "rows": category_rows(categories, ratings=proposed, errors=errors),
        "reason": request.POST.get("reason", "") if posted is not None else "",
        "error_message": error_message,
        "overall_line": score_line(agent_qa_score(agent=request.user)),
    }
    return render(request, "qa/reviews/agent_review.html", context, status=status)


@agent_view
@require_http_methods(["GET", "POST"])
def agent_qa_review(request: HttpRequest, review_id: int) -> HttpResponse:
    review = _agent_review(request, review_id)
    if request.method == "GET":
        return _agent_review_page(request, review)
    posted = scorecard_input(request.POST, review.scorecard_version.categories.all())
    try:
        dispute_open(
            agent=request.user,
            review=review,
            reason=request.POST.get("reason", ""),
            proposed_ratings=posted.ratings or None,
        )
    except (ValidationFailed, Conflict) as exc:
        return _agent_review_page(
            request,
            review,
            posted=posted,
            errors=exc.fields,
            error_message=exc.message,
            status=400,
        )
    messages.success(request, "Dispute sent. Another reviewer will decide it within 72 hours.")
    return redirect("frontend:agent_qa_review", review.pk)
