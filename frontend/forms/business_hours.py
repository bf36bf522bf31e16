"""Forms of the brand's business hours page: the weekly table and a holiday.

They parse what an admin typed; ``brands.business_hours_services`` checks the
intervals (closing after opening, no overlaps) and may refuse.
"""

from __future__ import annotations

from datetime import time

from django import forms

from brands.business_hours_services import MAX_INTERVALS_PER_DAY
from brands.models import BrandHoliday, BusinessHours
from frontend.forms.brand import ServiceErrorMixin
from marketplace.models import Weekday


def _time_field(label: str) -> forms.TimeField:
    return forms.TimeField(
        label=label,
        required=False,
        widget=forms.TimeInput(attrs={"type": "time", "aria-label": label}, format="%H:%M"),
    )


def field_name(weekday: int, slot: int, end: str) -> str:
    """``field_name(0, 1, "opens")`` → ``"d0_opens_1"``."""
    return f"d{weekday}_{end}_{slot}"


class WeeklyHoursForm(ServiceErrorMixin, forms.Form):
    """Up to two intervals per weekday; a weekday with no times is closed.

    Empty on every day means no business hours: the brand is open 24/7.
    """

    SLOTS = range(1, MAX_INTERVALS_PER_DAY + 1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for day in Weekday:
            for slot in self.SLOTS:
                self.fields[field_name(day.value, slot, "opens")] = _time_field(
                    f"{day.label} opens ({slot})"
                )
                self.fields[field_name(day.value, slot, "closes")] = _time_field(
                    f"{day.label} closes ({slot})"
                )

    @classmethod
    def initial_for(cls, rows_by_weekday: dict[int, list[BusinessHours]]) -> dict[str, time]:
        initial = {}
        for weekday, rows in rows_by_weekday.items():
            for slot, row in zip(cls.SLOTS, rows, strict=False):
                initial[field_name(weekday, slot, "opens")] = row.opens
                initial[field_name(weekday, slot, "closes")] = row.closes
        return initial

    def rows(self) -> list[dict]:
        """Per weekday, for the template: its label and its (opens, closes) bound fields."""
        return [
            {
                "label": day.label,
                "slots": [
                    (
                        self[field_name(day.value, slot, "opens")],
                        self[field_name(day.value, slot, "closes")],
                    )
                    for slot in self.SLOTS
                ],
            }
            for day in Weekday
        ]

    def hours(self) -> dict[int, list[tuple[time | None, time | None]]]:
        """The intervals typed, per weekday; a half-filled one goes on for the service to name."""
        hours: dict[int, list[tuple[time | None, time | None]]] = {}
        for day in Weekday:
            intervals = []
            for slot in self.SLOTS:
                opens = self.cleaned_data.get(field_name(day.value, slot, "opens"))
                closes = self.cleaned_data.get(field_name(day.value, slot, "closes"))
                if opens is not None or closes is not None:
                    intervals.append((opens, closes))
            hours[day.value] = intervals
        return hours


class HolidayForm(ServiceErrorMixin, forms.Form):
    date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="A date in the brand's time zone; closed all day.",
    )
    name = forms.CharField(
        max_length=BrandHoliday.NAME_MAX_LENGTH,
        required=False,
        help_text="For example “Christmas Day”.",
    )
