"""The SLA report's filters: a date range in the brand's time zone and a gig."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms

from brands.models import Brand
from gigs.models import Gig

DEFAULT_DAYS = 7
MAX_YEARS = 2


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February: the next 1 March
        return date(day.year + years, 3, 1)


class SLAReportForm(forms.Form):
    start = forms.DateField(
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date like 2026-03-01."},
    )
    end = forms.DateField(
        label="To (inclusive)",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date like 2026-03-31."},
    )
    gig = forms.ModelChoiceField(
        queryset=Gig.objects.none(),
        required=False,
        empty_label="All gigs",
        error_messages={"invalid_choice": "Choose one of your gigs, or all gigs."},
    )

    def __init__(self, query, *, brand: Brand, today: date):
        """``query``: the request's GET; missing dates default to the last
        ``DEFAULT_DAYS`` days up to ``today`` (the brand's today)."""
        data = {
            "start": query.get("start") or (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
            "end": query.get("end") or today.isoformat(),
            "gig": query.get("gig", ""),
        }
        super().__init__(data)
        self.brand = brand
        self.fields["gig"].queryset = Gig.objects.for_brand(brand).order_by("title", "pk")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "The end date is before the start date.")
            elif end >= _years_later(start, MAX_YEARS):
                self.add_error("end", "Choose a range of at most two years.")
        return cleaned

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) as instants: local midnight of the first day to local
        midnight after the last, in the brand's time zone."""
        zone = ZoneInfo(self.brand.time_zone)
        start = datetime.combine(self.cleaned_data["start"], time(0), tzinfo=zone)
        end = datetime.combine(self.cleaned_data["end"] + timedelta(days=1), time(0), tzinfo=zone)
        return start, end

    def query(self) -> dict[str, str]:
        """The filters as query parameters, for links that keep them."""
        gig = self.cleaned_data.get("gig")
        params = {
            "start": self.cleaned_data["start"].isoformat(),
            "end": self.cleaned_data["end"].isoformat(),
        }
        if gig is not None:
            params["gig"] = str(gig.pk)
        return params

    def error_lines(self) -> list[str]:
        """``"end: The end date is before the start date."``, for the CSV's 400."""
        return [
            f"{name}: {message}" for name, messages in self.errors.items() for message in messages
        ]
