"""Brand console: tasks, their conversations, and CSV imports.

Every member reads; only admins create tasks, add messages or upload files.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from brands.models import Brand, BrandRole
from frontend.forms.gigs import MessageForm, TaskCreateForm, TaskImportForm, money_format
from frontend.views.access import brand_view
from gigs.dispatch import session_billable_ms
from gigs.filters import TaskFilter
from gigs.imports import (
    REQUIRED_COLUMNS,
    STALE_AFTER,
    TASK_IMPORT_COLUMNS,
    TEMPLATE_CSV,
    task_import_create,
    task_imports_fail_stale,
)
from gigs.models import (
    ImportStatus,
    MessageKind,
    PayModel,
    ResolutionCode,
    Task,
    TaskImport,
    TaskPriority,
    TaskStatus,
    WorkRecord,
)
from gigs.selectors import access_task
from gigs.selectors import task_list as task_list_query
from gigs.services import TaskInput, message_add
from gigs.services import task_create as task_create_service
from gigs.work import customer_link_token
from marketplace.errors import PermissionDenied, ValidationFailed

ADMIN_ONLY = (BrandRole.ADMIN,)
TASKS_PER_PAGE = 50
RECENT_IMPORTS = 20
_CURSOR_PARAMS = ("before", "after")


def _is_partial(request: HttpRequest) -> bool:
    # A history restore (back button after hx-push-url) needs the whole page.
    return bool(request.htmx) and not request.htmx.history_restore_request


# --- Task list ----------------------------------------------------------------


@dataclass
class KeysetPage:
    """One page of a newest-first list, found by id instead of OFFSET and COUNT.

    A brand may have millions of tasks: counting them or skipping thousands of
    rows on every page view is what makes such lists slow, while "the next 50
    below id N" walks the (brand, -id) index.
    """

    items: list
    newer: int | None  # pass as ?after= to get the page before this one
    older: int | None  # pass as ?before= to get the page after this one


def _cursor(params: QueryDict, name: str) -> int | None:
    value = params.get(name, "")
    return int(value) if value.isdigit() else None


def keyset_page(queryset: QuerySet, params: QueryDict, size: int) -> KeysetPage:
    after = _cursor(params, "after")
    before = _cursor(params, "before")
    if after is not None:
        rows = list(queryset.filter(pk__gt=after).order_by("pk")[: size + 1])
        if rows:
            has_newer = len(rows) > size
            rows = rows[:size][::-1]
            has_older = queryset.filter(pk__lt=rows[-1].pk).exists()
            return KeysetPage(
                rows, rows[0].pk if has_newer else None, rows[-1].pk if has_older else None
            )
        before = None  # nothing newer any more: show the newest page
    narrowed = queryset.filter(pk__lt=before) if before is not None else queryset
    rows = list(narrowed.order_by("-pk")[: size + 1])
    has_older = len(rows) > size
    rows = rows[:size]
    has_newer = bool(rows) and before is not None and queryset.filter(pk__gt=rows[0].pk).exists()
    return KeysetPage(rows, rows[0].pk if has_newer else None, rows[-1].pk if has_older else None)


@brand_view()
def task_list(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    task_filter = TaskFilter(
        request.GET or None, queryset=task_list_query(brand=brand), brand=brand
    )
    # An invalid filter (say, another brand's gig id) shows its error and no
    # rows, rather than silently listing everything.
    valid = not task_filter.is_bound or task_filter.is_valid()
    queryset = task_filter.qs if valid else Task.objects.none()
    page = keyset_page(queryset, request.GET, TASKS_PER_PAGE)
    query = request.GET.copy()
    for name in _CURSOR_PARAMS:
        query.pop(name, None)
    context = {
        "brand": brand,
        "is_admin": role == BrandRole.ADMIN,
        "filter": task_filter,
        "page": page,
        "query": query.urlencode(),
        "filtered": any(request.GET.get(name) for name in task_filter.filters),
    }
    template = "tasks/task_list_table.html" if _is_partial(request) else "tasks/task_list.html"
    return render(request, template, context)


# --- Creating a task ----------------------------------------------------------------


@brand_view(roles=ADMIN_ONLY)
@require_http_methods(["GET", "POST"])
def task_create(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    gig_id = request.GET.get("gig", "")
    initial = {"gig": int(gig_id)} if gig_id.isdigit() else None
    form = TaskCreateForm(request.POST or None, brand=brand, initial=initial)
    if request.method == "POST" and form.is_valid():
        cleaned = form.cleaned_data
        data = TaskInput(
            gig=cleaned["gig"],
            subject=cleaned["subject"],
            body=cleaned["body"],
            customer_name=cleaned["customer_name"],
            customer_reference=cleaned["customer_reference"],
            language=cleaned["language"],
            priority=cleaned["priority"],
            external_id=cleaned["external_id"] or None,
        )
        try:
            task, created = task_create_service(brand=brand, data=data, actor=request.user)
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            if created:
                messages.success(request, f"Task #{task.pk} is in the queue of “{task.gig}”.")
            else:
                messages.info(
                    request,
                    f"A task with external ID “{task.external_id}” already exists; "
                    "nothing new was created. Here it is.",
                )
            return redirect("frontend:task_detail", slug=brand.slug, task_id=task.pk)
    has_gigs = form.fields["gig"].queryset.exists()
    return render(
        request, "tasks/task_create.html", {"brand": brand, "form": form, "has_gigs": has_gigs}
    )


# --- One task -----------------------------------------------------------------------


def _customer_name(task: Task) -> str:
    for message in task.messages.all():
        if message.kind == MessageKind.CUSTOMER and message.author_name:
            return message.author_name
    return task.customer_reference or "Customer"


def _duration(seconds: int) -> str:
    minutes, seconds = divmod(max(0, seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _terms(record: WorkRecord) -> str:
    unit = "minute" if record.pay_model == PayModel.PER_MINUTE else "resolution"
    return f"{money_format(record.rate_minor, record.currency)} per {unit}"


def _task_work(task: Task) -> dict:
    """Who works the task, what each work session billed, and the customer's link and rating."""
    records = list(task.work_records.select_related("agent").order_by("pk"))
    open_session = task.work_sessions.filter(ended_at__isnull=True).select_related("agent").first()
    resolution_label = ""
    if task.resolution_code:
        resolution_label = (
            ResolutionCode.objects.filter(brand_id=task.brand_id, code=task.resolution_code)
            .values_list("label", flat=True)
            .first()
            or ""
        )
    customer_link = ""
    if task.status != TaskStatus.CANCELLED:
        path = reverse("frontend:customer_conversation", args=[customer_link_token(task)])
        customer_link = settings.SITE_URL + path
    return {
        "customer_link": customer_link,
        "work_rows": [
            (record, _duration(record.billable_seconds), _terms(record)) for record in records
        ],
        "open_session": open_session,
        "open_session_billed": (
            _duration(session_billable_ms(open_session, timezone.now()) // 1000)
            if open_session
            else ""
        ),
        "resolution_label": resolution_label,
    }


@brand_view()
@require_http_methods(["GET", "POST"])
def task_detail(request: HttpRequest, *, brand: Brand, role: str, task_id: int) -> HttpResponse:
    task = access_task(brand=brand, task_id=task_id, with_messages=True)
    is_admin = role == BrandRole.ADMIN
    form = MessageForm() if is_admin else None
    if request.method == "POST":
        if not is_admin:
            raise PermissionDenied("Only brand admins can add messages to a task.")
        form = MessageForm(request.POST)
        if form.is_valid():
            kind = form.cleaned_data["kind"]
            try:
                message_add(
                    task=task,
                    kind=kind,
                    body=form.cleaned_data["body"],
                    # A customer message typed in by an admin is the customer's words.
                    author=request.user if kind == MessageKind.NOTE else None,
                    author_name="" if kind == MessageKind.NOTE else _customer_name(task),
                )
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            else:
                if not _is_partial(request):
                    messages.success(request, "Message added.")
                    return redirect("frontend:task_detail", slug=brand.slug, task_id=task.pk)
                form = MessageForm(initial={"kind": kind})
                task = access_task(brand=brand, task_id=task_id, with_messages=True)
    context = {
        "brand": brand,
        "task": task,
        "is_admin": is_admin,
        "form": form,
        "priorities": TaskPriority,
    }
    if _is_partial(request):
        return render(request, "tasks/task_detail_conversation.html", context)
    context.update(_task_work(task))
    return render(request, "tasks/task_detail.html", context)


# --- CSV import ---------------------------------------------------------------------


def _brand_import(brand: Brand, import_id: int) -> TaskImport:
    # Like gigs.selectors.access_task_import, without the stored file: this page
    # polls every second and the file may be megabytes.
    task_import = (
        TaskImport.objects.for_brand(brand)
        .select_related("gig", "uploaded_by")
        .defer("content")
        .filter(pk=import_id)
        .first()
    )
    if task_import is None:
        raise Http404("No such import.")
    return task_import


@brand_view()
@require_http_methods(["GET", "POST"])
def task_import(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    is_admin = role == BrandRole.ADMIN
    gig_id = request.GET.get("gig", "")
    form = None
    if is_admin:
        initial = {"gig": int(gig_id)} if gig_id.isdigit() else None
        form = TaskImportForm(brand=brand, initial=initial)
    if request.method == "POST":
        if not is_admin:
            raise PermissionDenied("Only brand admins can import tasks.")
        form = TaskImportForm(request.POST, request.FILES, brand=brand)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            # One byte past the limit is enough to know the file is too large.
            raw = upload.read(settings.GIGDESK_CSV_MAX_BYTES + 1)
            try:
                created = task_import_create(
                    brand=brand,
                    gig=form.cleaned_data["gig"],
                    uploaded_by=request.user,
                    file_name=upload.name,
                    raw=raw,
                )
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            else:
                messages.success(
                    request,
                    f"“{created.file_name}” is uploaded; its {created.total_rows} rows "
                    "are being checked.",
                )
                return redirect(
                    "frontend:task_import_detail", slug=brand.slug, import_id=created.pk
                )
    recent = (
        TaskImport.objects.for_brand(brand)
        .select_related("gig", "uploaded_by")
        .defer("content", "errors")[:RECENT_IMPORTS]
    )
    return render(
        request,
        "tasks/task_import.html",
        {
            "brand": brand,
            "is_admin": is_admin,
            "form": form,
            "has_gigs": form is not None and form.fields["gig"].queryset.exists(),
            "recent": recent,
            "columns": TASK_IMPORT_COLUMNS,
            "required_columns": REQUIRED_COLUMNS,
            "template_csv": TEMPLATE_CSV,
            "max_rows": settings.GIGDESK_CSV_MAX_ROWS,
            "max_mb": settings.GIGDESK_CSV_MAX_BYTES / (1024 * 1024),
            "priorities": [label.lower() for label in TaskPriority.labels],
        },
    )


@brand_view()
def task_import_detail(
    request: HttpRequest, *, brand: Brand, role: str, import_id: int
) -> HttpResponse:
    task_import = _brand_import(brand, import_id)
    if (
        task_import.status == ImportStatus.RUNNING
        and task_import.created_at < timezone.now() - STALE_AFTER
        and task_imports_fail_stale(brand=brand)
    ):
        task_import = _brand_import(brand, import_id)
    errors = sorted(
        task_import.errors if task_import.status == ImportStatus.FAILED else [],
        key=lambda error: error.get("line") or 0,
    )
    context = {"brand": brand, "task_import": task_import, "errors": errors}
    if _is_partial(request):
        return render(request, "tasks/task_import_detail_status.html", context)
    return render(request, "tasks/task_import_detail.html", context)
