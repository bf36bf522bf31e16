"""The agent profile page: details and skills, plus language and availability formsets."""

from __future__ import annotations

from django import forms
from django.utils.text import slugify
from django_countries import countries

from marketplace.errors import ValidationFailed
from marketplace.languages import LANGUAGE_CHOICES, LANGUAGE_NAMES, CEFRLevel
from marketplace.models import Skill, Weekday
from marketplace.services import (
    AGENT_MAX_AVAILABILITY_SLOTS,
    AGENT_MAX_LANGUAGES,
    AGENT_MAX_SKILLS,
    BIO_MAX_LENGTH,
    DISPLAY_NAME_MAX_LENGTH,
    SKILL_NAME_MAX_LENGTH,
    AvailabilityInput,
    LanguageInput,
    agent_time_zones,
    availability_overlaps,
    skill_names_parse,
)


class AgentProfileForm(forms.Form):
    display_name = forms.CharField(
        max_length=DISPLAY_NAME_MAX_LENGTH,
        label="Display name",
        help_text="Shown to brands and, with your replies, to their customers.",
    )
    country = forms.ChoiceField(label="Country", required=False)
    time_zone = forms.ChoiceField(
        label="Time zone",
        help_text="Your availability below is in this time zone.",
        error_messages={
            "invalid_choice": "“%(value)s” is not a time zone we know; pick one from the list "
            "(for example Europe/Madrid)."
        },
    )
    bio = forms.CharField(
        label="About you",
        required=False,
        max_length=BIO_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="A few lines on your support experience: products, channels, industries.",
    )
    skills = forms.ModelMultipleChoiceField(
        label="Skills",
        queryset=Skill.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "One of the chosen skills no longer exists."},
    )
    new_skills = forms.CharField(
        label="Add new skills, comma separated",
        required=False,
        help_text=f"For example: Zendesk, refunds, live chat. Each at most "
        f"{SKILL_NAME_MAX_LENGTH} characters; {AGENT_MAX_SKILLS} skills in all.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "Choose your country"), *countries]
        self.fields["time_zone"].choices = [(tz, tz) for tz in agent_time_zones()]

    def clean_new_skills(self) -> list[str]:
        try:
            return skill_names_parse(self.cleaned_data.get("new_skills", ""))
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.fields.get("new_skills") or exc.message) from exc

    def clean(self):
        cleaned = super().clean()
        chosen = {skill.slug for skill in cleaned.get("skills") or []}
        chosen |= {slugify(name) for name in cleaned.get("new_skills") or []}
        if len(chosen) > AGENT_MAX_SKILLS:
            self.add_error(
                "skills",
                f"Pick at most {AGENT_MAX_SKILLS} skills; you have {len(chosen)} "
                "counting the new ones.",
            )
        return cleaned


def _blank(label: str, choices) -> list[tuple[str, str]]:
    return [("", label), *choices]


class AgentLanguageForm(forms.Form):
    """One language and its CEFR level. A row left blank is ignored."""

    language = forms.ChoiceField(
        label="Language", required=False, choices=_blank("Choose a language", LANGUAGE_CHOICES)
    )
    level = forms.ChoiceField(
        label="Level", required=False, choices=_blank("Choose a level", CEFRLevel.choices)
    )

    def clean(self):
        cleaned = super().clean()
        language, level = cleaned.get("language"), cleaned.get("level")
        if language and not level:
            self.add_error("level", f"Choose your level in {LANGUAGE_NAMES[language]}.")
        elif level and not language:
            self.add_error("language", "Choose the language this level is for.")
        return cleaned

    def is_blank(self) -> bool:
        return not (self.cleaned_data.get("language") or self.cleaned_data.get("level"))


class AgentAvailabilityForm(forms.Form):
    """One weekly slot. A row left blank is ignored."""

    weekday = forms.TypedChoiceField(
        label="Day",
        required=False,
        coerce=int,
        empty_value=None,
        choices=_blank("Choose a day", Weekday.choices),
    )
    starts_at = forms.TimeField(
        label="From",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    ends_at = forms.TimeField(
        label="Until",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        weekday, starts_at, ends_at = (
            cleaned.get("weekday"),
            cleaned.get("starts_at"),
            cleaned.get("ends_at"),
        )
        if weekday is None and starts_at is None and ends_at is None:
            return cleaned
        if weekday is None:
            self.add_error("weekday", "Choose the day of this slot.")
        if starts_at is None:
            self.add_error("starts_at", "Enter when this slot starts.")
        if ends_at is None:
            self.add_error("ends_at", "Enter when this slot ends.")
        if starts_at is not None and ends_at is not None and ends_at <= starts_at:
            self.add_error(
                "ends_at",
                f"The end ({ends_at:%H:%M}) must be after the start ({starts_at:%H:%M}). "
                "For a shift past midnight, add two slots: one until 23:59 and one from "
                "00:00 the next day.",
            )
        return cleaned

    def is_blank(self) -> bool:
        return all(self.cleaned_data.get(name) is None for name in self.fields if name != "DELETE")


class _RowsFormSet(forms.BaseFormSet):
    """Rows that are deleted or left blank are skipped, not saved and not checked."""

    def kept_forms(self) -> list[forms.Form]:
        return [
            form
            for form in self.forms
            if form.is_valid() and not self._should_delete_form(form) and not form.is_blank()
        ]


class AgentLanguageFormSet(_RowsFormSet):
    default_error_messages = {
        "too_many_forms": f"List at most {AGENT_MAX_LANGUAGES} languages.",
    }

    def clean(self):
        if any(self.errors):
            return
        seen: set[str] = set()
        for form in self.kept_forms():
            language = form.cleaned_data["language"]
            if language in seen:
                form.add_error(
                    "language",
                    f"{LANGUAGE_NAMES[language]} is already listed; keep one row per language.",
                )
            seen.add(language)

    def rows(self) -> list[LanguageInput]:
        return [
            LanguageInput(language=f.cleaned_data["language"], level=f.cleaned_data["level"])
            for f in self.kept_forms()
        ]


class AgentAvailabilityFormSet(_RowsFormSet):
    default_error_messages = {
        "too_many_forms": f"List at most {AGENT_MAX_AVAILABILITY_SLOTS} availability slots.",
    }

    def clean(self):
        if any(self.errors):
            return
        forms_kept = self.kept_forms()
        slots = [_slot(form) for form in forms_kept]
        for earlier, later in availability_overlaps(slots):
            forms_kept[later].add_error(
                None,
                f"{slots[later].label} overlaps {slots[earlier].label}. "
                "Merge them into one slot or change the times.",
            )

    def rows(self) -> list[AvailabilityInput]:
        return [_slot(form) for form in self.kept_forms()]


def _slot(form: forms.Form) -> AvailabilityInput:
    return AvailabilityInput(
        weekday=form.cleaned_data["weekday"],
        starts_at=form.cleaned_data["starts_at"],
        ends_at=form.cleaned_data["ends_at"],
    )


LanguageFormSet = forms.formset_factory(
    AgentLanguageForm,
    formset=AgentLanguageFormSet,
    extra=1,
    can_delete=True,
    max_num=AGENT_MAX_LANGUAGES,
    validate_max=True,
    absolute_max=AGENT_MAX_LANGUAGES,
)
AvailabilityFormSet = forms.formset_factory(
    AgentAvailabilityForm,
    formset=AgentAvailabilityFormSet,
    extra=1,
    can_delete=True,
    max_num=AGENT_MAX_AVAILABILITY_SLOTS,
    validate_max=True,
    absolute_max=AGENT_MAX_AVAILABILITY_SLOTS,
)

LANGUAGES_PREFIX = "languages"
AVAILABILITY_PREFIX = "availability"
