"""Staff console: pay runs (create, approve, execute, cancel), their lines and reconciliation.

Every write is one call into ``payouts.payruns``, which checks who may do
what (staff only; never the creator approving their own run), the state a
run or line must be in, and audits the action. A refusal comes back onto the
page with its reason and the HTTP status of the error; nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from frontend.forms.gigs import add_service_errors, major_units, money_format
from frontend.forms.staff_payouts import LineReverseForm, PayRunCancelForm, PayRunCreateForm
from frontend.views.access import staff_view
from frontend.views.staff_earnings import signed_money
from marketplace.errors import GigdeskError, NotFound, ValidationFailed
from payouts import payruns
from payouts.models import PayRun, PayRunLine, PayRunLineStatus, PayRunStatus

RUNS_PER_PAGE = 25
LINES_PER_PAGE = 50
SKIPS_PER_PAGE = 50
# How often an executing run's page asks for its lines' states.
PROGRESS_POLL_SECONDS = 2
# Badge colours from gigdesk.css, by meaning.
BADGE_BY_RUN_STATUS = {
    PayRunStatus.DRAFT: "queued",
    PayRunStatus.APPROVED: "claimed",
    PayRunStatus.EXECUTING: "running",
    PayRunStatus.COMPLETED: "succeeded",
    PayRunStatus.CANCELLED: "cancelled",
}
BADGE_BY_LINE_STATUS = {
    PayRunLineStatus.QUEUED: "queued",
    PayRunLineStatus.IN_TRANSIT: "pending",
    PayRunLineStatus.PAID: "succeeded",
    PayRunLineStatus.FAILED: "failed",
    PayRunLineStatus.CANCELLED: "cancelled",
}
CREATOR_CANNOT_APPROVE = "You created this pay run: another staff member must approve it."


def _run_or_404(run_id: int) -> PayRun:
    try:
        return payruns.payrun_get(run_id=run_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _line_or_404(run: PayRun, line_id: int) -> PayRunLine:
    try:
        return payruns.payrun_line_get(line_id=line_id, run=run)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@dataclass(frozen=True)
class StatusTotal:
    value: str
    label: str
    badge: str
    count: int
    amount: str


def _line_totals(run: PayRun) -> list[StatusTotal]:
    """Per line status: how many lines and how much, from ``payrun_list``'s annotations."""
    return [
        StatusTotal(
            value=value,
            label=label,
            badge=BADGE_BY_LINE_STATUS[value],
            count=getattr(run, f"{value}_count"),
            amount=money_format(getattr(run, f"{value}_minor"), run.currency),
        )
        for value, label in PayRunLineStatus.choices
    ]


def _with_display(run: PayRun) -> PayRun:
    run.badge = BADGE_BY_RUN_STATUS.get(run.status, "closed")
    run.minimum_display = money_format(run.minimum_minor, run.currency)
    if hasattr(run, "line_count"):
        run.amount_display = money_format(run.amount_minor, run.currency)
        run.totals = [total for total in _line_totals(run) if total.count]
    return run


# --- The runs list and "New pay run" --------------------------------------------------


@never_cache
@staff_view
@require_http_methods(["GET", "POST"])
def staff_payrun_list(request: HttpRequest) -> HttpResponse:
    form = PayRunCreateForm(request.POST or None)
    if form.is_bound and form.is_valid():
        try:
            run = payruns.payrun_create(
                actor=request.user,
                currency=form.cleaned_data["currency"],
                cutoff_at=form.cleaned_data["cutoff_at"],
                minimum_minor=form.cleaned_data["minimum_minor"],
                request=request,
            )
        except ValidationFailed as exc:
            add_service_errors(form, exc, field_map={"minimum_minor": "minimum"})
        except GigdeskError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                f"Pay run #{run.pk} created as a draft. Another staff member must approve it.",
            )
            return redirect("frontend:staff_payrun_detail", run_id=run.pk)
    runs = payruns.payrun_list()
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    for run in page:
        _with_display(run)
    by_status = dict.fromkeys(PayRunStatus.values, 0)
    for status in PayRun.objects.order_by().values_list("status", flat=True):
        by_status[status] += 1
    context = {
        "form": form,
        "page": page,
        "runs_by_status": [
            {"value": value, "label": label, "badge": BADGE_BY_RUN_STATUS[value], "count": count}
            for (value, label), count in zip(PayRunStatus.choices, by_status.values(), strict=True)
        ],
    }
    status = 400 if form.errors else 200
    return render(request, "staff/payouts/payrun_list.html", context, status=status)


# --- One run ----------------------------------------------------------------------------


def _status_filter(request: HttpRequest) -> str:
    status = request.GET.get("status", "")
    return status if status in PayRunLineStatus.values else ""


def _line_display(line: PayRunLine, run: PayRun) -> PayRunLine:
    line.badge = BADGE_BY_LINE_STATUS.get(line.status, "closed")
    line.amount_display = money_format(line.amount_minor, line.currency)
    line.reversed_display = (
        money_format(line.reversed_minor, line.currency) if line.reversed_minor else ""
    )
    line.reversible_display = major_units(line.amount_minor - line.reversed_minor, line.currency)
    line.can_retry = line.status == PayRunLineStatus.FAILED and run.status in (
        PayRunStatus.EXECUTING,
        PayRunStatus.COMPLETED,
    )
    line.can_reverse = (
        line.status == PayRunLineStatus.PAID and line.reversed_minor < line.amount_minor
    )
    return line


def _lines_context(request: HttpRequest, run: PayRun) -> dict:
    """The lines table and the progress above it: what the polling partial re-renders."""
    status = _status_filter(request)
    page = Paginator(payruns.payrun_lines(run, status=status or None), LINES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    for line in page:
        _line_display(line, run)
    summary = payruns.payrun_list().get(pk=run.pk)
    finished = summary.paid_count + summary.failed_count + summary.cancelled_count
    return {
        "run": run,
        "summary": _with_display(summary),
        "lines": page,
        "status_filter": status,
        "line_statuses": PayRunLineStatus.choices,
        "query": urlencode({"status": status}) if status else "",
        "progress": {
            "paid": f"{summary.paid_count:,}",
            "total": f"{summary.line_count:,}",
            "finished": finished,
            "line_count": summary.line_count,
        },
        "polling": run.status == PayRunStatus.EXECUTING,
        "poll_seconds": PROGRESS_POLL_SECONDS,
    }


def _render_detail(
    request: HttpRequest,
    run: PayRun,
    *,
    status: int = 200,
    error: str = "",
    cancel_form: PayRunCancelForm | None = None,
    reverse_form: LineReverseForm | None = None,
    reverse_line_id: int | None = None,
) -> HttpResponse:
    is_creator = run.created_by_id == request.user.pk
    skips = Paginator(payruns.payrun_skips(run), SKIPS_PER_PAGE).get_page(
        request.GET.get("skips_page")
    )
    for skip in skips:
        skip.amount_display = signed_money(skip.amount_minor, run.currency)
    context = {
        **_lines_context(request, run),
        "run": _with_display(run),
        "skips": skips,
        "error": error,
        "is_creator": is_creator,
        "can_approve": run.status == PayRunStatus.DRAFT and not is_creator,
        "creator_cannot_approve": CREATOR_CANNOT_APPROVE
        if run.status == PayRunStatus.DRAFT and is_creator
        else "",
        "can_execute": run.status in (PayRunStatus.APPROVED, PayRunStatus.EXECUTING),
        "can_cancel": run.status in (PayRunStatus.DRAFT, PayRunStatus.APPROVED),
        "cancel_form": cancel_form or PayRunCancelForm(),
        "reverse_form": reverse_form,
        "reverse_line_id": reverse_line_id,
    }
    return render(request, "staff/payouts/payrun_detail.html", context, status=status)


@never_cache
@staff_view
@require_GET
def staff_payrun_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_or_404(run_id)
    if request.htmx and not request.htmx.history_restore_request:
        response = render(
            request, "staff/payouts/payrun_detail_lines.html", _lines_context(request, run)
        )
        if request.GET.get("poll") and run.status != PayRunStatus.EXECUTING:
            # Execution ended: reload the whole page, whose buttons and summary change too.
            response["HX-Refresh"] = "true"
        return response
    return _render_detail(request, run)


def _back_to(run: PayRun) -> HttpResponse:
    return redirect(reverse("frontend:staff_payrun_detail", args=[run.pk]))


@staff_view
@require_POST
def staff_payrun_approve(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_or_404(run_id)
    try:
        payruns.payrun_approve(run=run, actor=request.user, request=request)
    except GigdeskError as exc:
        return _render_detail(request, run, status=exc.http_status, error=exc.message)
    messages.success(request, f"Pay run #{run.pk} approved. Execute it to send the transfers.")
    return _back_to(run)


@staff_view
@require_POST
def staff_payrun_execute(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_or_404(run_id)
    try:
        payruns.payrun_execute(run=run, actor=request.user, request=request)
    except GigdeskError as exc:
        return _render_detail(request, run, status=exc.http_status, error=exc.message)
    messages.success(
        request, f"Pay run #{run.pk} is executing: transfers are being sent in the background."
    )
    return _back_to(run)


@staff_view
@require_POST
def staff_payrun_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_or_404(run_id)
    form = PayRunCancelForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, run, status=400, cancel_form=form)
    try:
        payruns.payrun_cancel(
            run=run, actor=request.user, reason=form.cleaned_data["reason"], request=request
        )
    except ValidationFailed as exc:
        add_service_errors(form, exc)
        return _render_detail(request, run, status=400, cancel_form=form)
    except GigdeskError as exc:
        return _render_detail(request, run, status=exc.http_status, error=exc.message)
    messages.success(request, f"Pay run #{run.pk} cancelled; the held money is available again.")
    return _back_to(run)


@staff_view
@require_POST
def staff_payrun_line_retry(request: HttpRequest, run_id: int, line_id: int) -> HttpResponse:
    run = _run_or_404(run_id)
    line = _line_or_404(run, line_id)
    try:
        line = payruns.payrun_line_retry(line=line, actor=request.user, request=request)
    except GigdeskError as exc:
        return _render_detail(request, run, status=exc.http_status, error=exc.message)
    messages.success(
        request,
        f"Line #{line.pk} ({line.agent.email}) queued again as attempt {line.attempt}.",
    )
    return _back_to(run)


@staff_view
@require_POST
def staff_payrun_line_reverse(request: HttpRequest, run_id: int, line_id: int) -> HttpResponse:
    run = _run_or_404(run_id)
    line = _line_or_404(run, line_id)
    form = LineReverseForm(request.POST, currency=line.currency)

    def refused(status: int) -> HttpResponse:
        return _render_detail(
            request, run, status=status, reverse_form=form, reverse_line_id=line.pk
        )

    if not form.is_valid():
        return refused(400)
    try:
        line = payruns.payrun_line_reverse(
            line=line,
            actor=request.user,
            amount_minor=form.cleaned_data["amount"],
            reason=form.cleaned_data["reason"],
            request=request,
        )
    except ValidationFailed as exc:
        add_service_errors(form, exc, field_map={"amount_minor": "amount"})
        return refused(400)
    except GigdeskError as exc:
        form.add_error(None, exc.message)
        return refused(exc.http_status)
    messages.success(
        request,
        f"Reversed {money_format(form.cleaned_data['amount'], line.currency)} of line "
        f"#{line.pk} ({line.agent.email}); it is back in the agent's available balance.",
    )
    return _back_to(run)


# --- Reconciliation ---------------------------------------------------------------------


@never_cache
@staff_view
@require_GET
def staff_payrun_reconciliation(request: HttpRequest) -> HttpResponse:
    run = None
    run_id = request.GET.get("run", "")
    if run_id:
        run = _run_or_404(run_id) if run_id.isdigit() else None
        if run is None:
            raise Http404("No such pay run.")
    error = ""
    disagreements = []
    try:
        disagreements = payruns.payrun_reconciliation(run)
    except GigdeskError as exc:
        error = exc.message
    context = {
        "run": run,
        "disagreements": disagreements,
        "error": error,
        "checked_at": timezone.now(),
    }
    return render(
        request,
        "staff/payouts/reconciliation.html",
        context,
        status=502 if error else 200,
    )
