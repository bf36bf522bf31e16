"""Staff console: platform numbers at a glance and the audit log."""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from brands.models import Brand
from frontend.views.access import staff_view
from gigs.models import Gig, GigStatus, Task, TaskStatus
from marketplace.models import AccountType, User
from marketplace.selectors import AuditEventFilter, audit_event_list

AUDIT_EVENTS_PER_PAGE = 50


def _counted(queryset, field: str, choices) -> list[dict]:
    counted = dict(queryset.order_by().values_list(field).annotate(n=Count("id")))
    return [
        {"value": value, "label": label, "count": counted.get(value, 0)} for value, label in choices
    ]


@staff_view
@require_GET
def staff_home(request: HttpRequest) -> HttpResponse:
    # Platform-wide on purpose: this is the one page that looks across tenants.
    context = {
        "users_by_type": _counted(
            User.objects.all(),
            "account_type",
            [(AccountType.AGENT.value, "Agents"), (AccountType.BRAND.value, "Brand users")],
        ),
        "user_total": User.objects.count(),
        "staff_total": User.objects.filter(is_staff=True).count(),
        "brand_total": Brand.objects.count(),
        "gigs_by_status": _counted(Gig.objects.all(), "status", GigStatus.choices),
        "tasks_by_status": _counted(Task.objects.all(), "status", TaskStatus.choices),
    }
    context["gig_total"] = sum(row["count"] for row in context["gigs_by_status"])
    context["task_total"] = sum(row["count"] for row in context["tasks_by_status"])
    return render(request, "staff/staff_home.html", context)


@staff_view
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    event_filter = AuditEventFilter(request.GET or None, queryset=audit_event_list())
    page = Paginator(event_filter.qs, AUDIT_EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    for event in page:
        event.changes_json = (
            json.dumps(event.changes, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))
            if event.changes
            else ""
        )
    context = {"filter": event_filter, "page": page}
    template = "staff/audit_log_table.html" if request.htmx else "staff/audit_log.html"
    return render(request, template, context)
