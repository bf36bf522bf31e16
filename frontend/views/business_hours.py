"""Brand settings: business hours and holidays, the clock SLA targets count in.

Every member reads them; only admins change them
(``brands.business_hours_services``, audited).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from brands.business_hours_services import business_hours_set, holiday_add, holiday_remove
from brands.models import Brand, BrandRole
from brands.selectors import business_hours_for, holidays_for
from frontend.forms.business_hours import HolidayForm, WeeklyHoursForm
from frontend.views.access import brand_view
from marketplace.errors import GigdeskError, PermissionDenied
from marketplace.models import Weekday

ADMIN_ONLY = (BrandRole.ADMIN,)


def _day(value: date) -> str:
    """``2026-12-25`` → ``"Friday 25 December 2026"``."""
    return f"{value:%A} {value.day} {value:%B %Y}"


def _render(
    request: HttpRequest,
    *,
    brand: Brand,
    role: str,
    hours_form: WeeklyHoursForm | None = None,
    holiday_form: HolidayForm | None = None,
    status: int = 200,
) -> HttpResponse:
    is_admin = role == BrandRole.ADMIN
    rows_by_weekday = business_hours_for(brand)
    if is_admin and hours_form is None:
        hours_form = WeeklyHoursForm(initial=WeeklyHoursForm.initial_for(rows_by_weekday))
    if is_admin and holiday_form is None:
        holiday_form = HolidayForm()
    local_now: datetime = timezone.localtime(timezone.now(), ZoneInfo(brand.time_zone))
    today = local_now.date()
    holidays = list(holidays_for(brand))
    context = {
        "brand": brand,
        "is_admin": is_admin,
        "always_open": not rows_by_weekday,
        "week": [
            {"label": day.label, "rows": rows_by_weekday.get(day.value, [])} for day in Weekday
        ],
        "hours_form": hours_form,
        "holiday_form": holiday_form,
        "upcoming_holidays": [holiday for holiday in holidays if holiday.date >= today],
        "past_holidays": [holiday for holiday in holidays if holiday.date < today][::-1],
        # Formatted here: the template's date filter would convert it back to
        # the viewer's active time zone.
        "local_now_label": local_now.strftime("%A %H:%M"),
    }
    return render(request, "brands/business_hours.html", context, status=status)


@brand_view()
@require_http_methods(["GET", "POST"])
def business_hours(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    if request.method == "GET":
        return _render(request, brand=brand, role=role)
    if role != BrandRole.ADMIN:
        raise PermissionDenied(
            f"Only admins of {brand} can change its business hours. Ask one of them."
        )
    form = WeeklyHoursForm(request.POST)
    if form.is_valid():
        try:
            saved = business_hours_set(
                brand=brand, actor=request.user, hours=form.hours(), request=request
            )
        except GigdeskError as exc:
            form.add_service_error(exc)
        else:
            if saved:
                messages.success(request, f"Business hours of {brand} saved.")
            else:
                messages.success(
                    request,
                    f"No business hours set: {brand} counts as open 24/7, holidays aside.",
                )
            return redirect("frontend:brand_business_hours", slug=brand.slug)
    return _render(request, brand=brand, role=role, hours_form=form, status=400)


@brand_view(roles=ADMIN_ONLY)
@require_POST
def holiday_create(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    form = HolidayForm(request.POST)
    if form.is_valid():
        try:
            holiday = holiday_add(
                brand=brand,
                actor=request.user,
                date=form.cleaned_data["date"],
                name=form.cleaned_data["name"],
                request=request,
            )
        except GigdeskError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"{holiday.name} on {_day(holiday.date)} added as a holiday.")
            return redirect("frontend:brand_business_hours", slug=brand.slug)
    return _render(request, brand=brand, role=role, holiday_form=form, status=400)


@brand_view(roles=ADMIN_ONLY)
@require_POST
def holiday_delete(
    request: HttpRequest, *, brand: Brand, role: str, holiday_id: int
) -> HttpResponse:
    holiday = holidays_for(brand).filter(pk=holiday_id).first()
    if holiday is None:
        raise Http404("No such holiday.")
    holiday_remove(holiday=holiday, actor=request.user, request=request)
    messages.success(request, f"{holiday.name} on {_day(holiday.date)} removed: a usual day again.")
    return redirect("frontend:brand_business_hours", slug=brand.slug)
