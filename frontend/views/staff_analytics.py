"""Staff console: the brand dashboard's figures across brands, and the
platform's own figures (money moved, active agents, payouts, overdue QA
work, SLA breaches) for a date range.

Days are whole days in the site time zone (``settings.TIME_ZONE``), the same
days the staff earnings list filters by, so a figure's link shows its rows.
The page reads a constant number of queries whatever the number of brands.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from analytics.filters import PeriodForm
from analytics.platform import brand_dashboard_path, platform_figures
from analytics.selectors import Figures, Period, figures_by, metric_days
from brands.models import Brand
from frontend.views.access import staff_view
from marketplace.money import money_format


class StaffAnalyticsForm(PeriodForm):
    """A range of days (checked as the brand dashboard's) and a brand."""

    brand = forms.ModelChoiceField(
        queryset=Brand.objects.order_by("name", "pk"),
        required=False,
        empty_label="All brands",
        error_messages={"invalid_choice": "Choose a brand from the list, or all brands."},
    )


@dataclass
class BrandRow:
    brand: Brand
    figures: Figures
    dashboard_url: str

    @property
    def spend(self) -> list[str]:
        return [
            money_format(self.figures.money[currency]["spend_minor"], currency)
            for currency in self.figures.currencies
        ]


def _money_list(amounts: dict[str, int]) -> list[str]:
    return [money_format(amount, currency) for currency, amount in amounts.items()]


@staff_view
@require_GET
def staff_analytics(request: HttpRequest) -> HttpResponse:
    zone = ZoneInfo(settings.TIME_ZONE)
    now = timezone.now()
    form = StaffAnalyticsForm(request.GET, today=now.astimezone(zone).date())
    context: dict = {"form": form, "time_zone": settings.TIME_ZONE}
    if not form.is_valid():
        return render(request, "staff/analytics.html", context, status=400)

    period = Period(form.cleaned_data["start"], form.cleaned_data["end"], zone)
    brand = form.cleaned_data["brand"]
    # Each brand's figures count its own local days (the daily roll-ups).
    rows = metric_days(
        first=period.first, last=period.last, brand_ids=[brand.pk] if brand else None
    )
    per_brand = figures_by(rows, "brand_id")
    brands = Brand.objects.filter(pk__in=list(per_brand)).order_by("name", "pk")
    platform = platform_figures(start=period.start, end=period.end, now=now, brand=brand)

    earnings_query = {"since": period.first.isoformat(), "until": period.last.isoformat()}
    if brand is not None:
        earnings_query["brand"] = brand.pk
    context.update(
        period=period,
        brand=brand,
        brand_rows=[
            BrandRow(item, per_brand[item.pk], brand_dashboard_path(item)) for item in brands
        ],
        platform=platform,
        gross_volume=_money_list(platform.gross_volume),
        fees=_money_list(platform.fees),
        payouts_pending=[
            f"{money_format(total.amount_minor, total.currency)} ({total.count})"
            for total in platform.payouts_pending
        ],
        payouts_failed=[
            f"{money_format(total.amount_minor, total.currency)} ({total.count})"
            for total in platform.payouts_failed
        ],
        links={
            "earnings": reverse("frontend:staff_earning_list") + "?" + urlencode(earnings_query),
            "payouts": reverse("frontend:staff_payrun_list"),
            "disputes": reverse("frontend:staff_qa_disputes"),
            "reviews": reverse("frontend:staff_qa_queue"),
        },
    )
    return render(request, "staff/analytics.html", context)
