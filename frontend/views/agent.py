"""Agent pages: the home dashboard and the profile editor."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from assessments.selectors import (
    EXPIRY_WARNING,
    certifications_expiring_soon,
    certifications_for_agent,
)
from frontend.forms.agent import (
    AVAILABILITY_PREFIX,
    LANGUAGES_PREFIX,
    AgentProfileForm,
    AvailabilityFormSet,
    LanguageFormSet,
)
from frontend.views.access import forbidden
from marketplace.errors import GigdeskError
from marketplace.models import AgentProfile, User
from marketplace.services import agent_profile_update

NOT_AN_AGENT = (
    "Agent pages are for agent accounts. Your account is set up for a brand; "
    "to work as an agent, sign up with a separate email address."
)


def _agent_profile(user: User) -> AgentProfile | None:
    return (
        AgentProfile.objects.filter(user=user)
        .prefetch_related("skills", "languages", "availability")
        .first()
    )


@dataclass(frozen=True)
class ChecklistItem:
    label: str
    done: bool
    detail: str
    fix_anchor: str


def _time_zone_confirmed(profile: AgentProfile) -> bool:
    # Every profile starts on UTC. A different zone was chosen on purpose;
    # UTC itself counts once the agent has saved the profile form (which
    # requires picking a zone), i.e. the row changed after it was created.
    return profile.time_zone != "UTC" or (
        profile.updated_at - profile.created_at > timedelta(seconds=1)
    )


def _checklist(profile: AgentProfile | None) -> list[ChecklistItem]:
    if profile is None:
        languages, skills, slots = [], [], []
    else:
        languages = list(profile.languages.all())
        skills = list(profile.skills.all())
        slots = list(profile.availability.all())
    return [
        ChecklistItem(
            "Display name",
            bool(profile and profile.display_name),
            profile.display_name if profile and profile.display_name else "Not set yet",
            "details",
        ),
        ChecklistItem(
            "At least one language with your level",
            bool(languages),
            ", ".join(str(language) for language in languages) or "No languages yet",
            "languages",
        ),
        ChecklistItem(
            "At least one skill",
            bool(skills),
            f"{len(skills)} skill{'s' if len(skills) != 1 else ''}" if skills else "No skills yet",
            "skills",
        ),
        ChecklistItem(
            "Time zone",
            bool(profile and _time_zone_confirmed(profile)),
            profile.time_zone
            if profile and _time_zone_confirmed(profile)
            else "Still the default (UTC); set yours",
            "details",
        ),
        ChecklistItem(
            "Weekly availability",
            bool(slots),
            f"{len(slots)} slot{'s' if len(slots) != 1 else ''} a week"
            if slots
            else "No hours yet",
            "availability",
        ),
    ]


def _certification_rows(user: User) -> list[dict]:
    """The agent's certifications, newest first, each marked expired or expiring
    within ``EXPIRY_WARNING``."""
    now = timezone.now()
    return [
        {
            "certification": certification,
            "expired": certification.expires_at <= now,
            "expiring_soon": now < certification.expires_at <= now + EXPIRY_WARNING,
        }
        for certification in certifications_for_agent(agent=user).order_by("-issued_at", "-pk")
    ]


def _greeting(profile: AgentProfile | None) -> tuple[str, object]:
    """ "Good morning" in the agent's own time zone, and their local time."""
    tz_name = profile.time_zone if profile else "UTC"
    try:
        local_now = timezone.now().astimezone(zoneinfo.ZoneInfo(tz_name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        local_now = timezone.now()
    if 5 <= local_now.hour < 12:
        part = "Good morning"
    elif 12 <= local_now.hour < 18:
        part = "Good afternoon"
    else:
        part = "Good evening"
    return part, local_now


@login_required
@require_http_methods(["GET"])
def agent_home(request: HttpRequest) -> HttpResponse:
    user = request.user
    # Staff may look at the agent home (to support agents); brand users may not.
    if not (user.is_agent or user.is_staff):
        return forbidden(request, NOT_AN_AGENT)
    profile = _agent_profile(user)
    checklist = _checklist(profile)
    greeting, local_now = _greeting(profile)
    return render(
        request,
        "agent/home.html",
        {
            "profile": profile,
            "checklist": checklist,
            "checklist_done": sum(item.done for item in checklist),
            "profile_complete": all(item.done for item in checklist),
            "greeting": greeting,
            "local_now": local_now,
            "name": profile.display_name if profile else user.get_short_name(),
            "languages": list(profile.languages.all()) if profile else [],
            "skills": list(profile.skills.all()) if profile else [],
            "availability": list(profile.availability.all()) if profile else [],
            "expiring_certifications": list(
                certifications_expiring_soon(agent=user).order_by("expires_at")
            )
            if user.is_agent
            else [],
        },
    )


def _initial(user: User, profile: AgentProfile | None) -> tuple[dict, list[dict], list[dict]]:
    if profile is None:
        return {"display_name": user.full_name, "time_zone": "UTC"}, [], []
    details = {
        "display_name": profile.display_name,
        "country": profile.country.code or "",
        "time_zone": profile.time_zone,
        "bio": profile.bio,
        "skills": list(profile.skills.all()),
    }
    languages = [{"language": row.language, "level": row.level} for row in profile.languages.all()]
    slots = [
        {"weekday": row.weekday, "starts_at": row.starts_at, "ends_at": row.ends_at}
        for row in profile.availability.all()
    ]
    return details, languages, slots


def _add_row(request: HttpRequest) -> HttpResponse:
    """One more empty formset row (htmx), plus the bumped TOTAL_FORMS counter out of band."""
    kind = request.GET.get("add")
    formset_class, prefix, template = {
        LANGUAGES_PREFIX: (LanguageFormSet, LANGUAGES_PREFIX, "agent/profile_language_row.html"),
        AVAILABILITY_PREFIX: (
            AvailabilityFormSet,
            AVAILABILITY_PREFIX,
            "agent/profile_availability_row.html",
        ),
    }.get(kind, (None, None, None))
    if formset_class is None:
        return HttpResponse(status=400)
    try:
        index = int(request.GET.get(f"{prefix}-TOTAL_FORMS", ""))
    except ValueError:
        return HttpResponse(status=400)
    if not 0 <= index < formset_class.max_num:
        # Full: nothing to add; the button explains the limit.
        return HttpResponse(status=204)
    formset = formset_class(prefix=prefix)
    form = formset.form(
        prefix=formset.add_prefix(index), empty_permitted=True, use_required_attribute=False
    )
    formset.add_fields(form, index)
    return render(
        request,
        template,
        {"form": form, "prefix": prefix, "total_forms": index + 1, "oob": True},
    )


def _apply_service_errors(exc: GigdeskError, form: Form, languages, availability) -> None:
    """Show a refusal from the service next to what it is about."""
    targets = {"languages": languages, "availability": availability}
    placed = False
    for field, problems in exc.fields.items():
        for problem in problems if isinstance(problems, list) else [problems]:
            if field in form.fields:
                form.add_error(field, problem)
                placed = True
            elif field in targets:
                targets[field]._non_form_errors.append(problem)
                placed = True
    if not placed:
        form.add_error(None, exc.message)


@login_required
@require_http_methods(["GET", "POST"])
def agent_profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_agent:
        return forbidden(request, NOT_AN_AGENT)
    if request.htmx and request.method == "GET" and "add" in request.GET:
        return _add_row(request)

    profile = _agent_profile(user)
    details, language_rows, slot_rows = _initial(user, profile)
    if request.method == "POST":
        form = AgentProfileForm(request.POST)
        languages = LanguageFormSet(request.POST, prefix=LANGUAGES_PREFIX)
        availability = AvailabilityFormSet(request.POST, prefix=AVAILABILITY_PREFIX)
        # Evaluate all three so every mistake shows at once.
        valid = [form.is_valid(), languages.is_valid(), availability.is_valid()]
        if all(valid):
            try:
                agent_profile_update(
                    user=user,
                    display_name=form.cleaned_data["display_name"],
                    country=form.cleaned_data["country"],
                    time_zone=form.cleaned_data["time_zone"],
                    bio=form.cleaned_data["bio"],
                    skill_ids=[skill.pk for skill in form.cleaned_data["skills"]],
                    new_skill_names=form.cleaned_data["new_skills"],
                    languages=languages.rows(),
                    availability=availability.rows(),
                )
            except GigdeskError as exc:
                _apply_service_errors(exc, form, languages, availability)
            else:
                messages.success(request, "Profile saved.")
                return redirect(reverse("frontend:agent_profile"))
        messages.error(request, "Nothing was saved: please fix the problems marked below.")
    else:
        form = AgentProfileForm(initial=details)
        languages = LanguageFormSet(initial=language_rows, prefix=LANGUAGES_PREFIX)
        availability = AvailabilityFormSet(initial=slot_rows, prefix=AVAILABILITY_PREFIX)

    return render(
        request,
        "agent/profile.html",
        {
            "form": form,
            "languages": languages,
            "availability": availability,
            "profile": profile,
            "certifications": _certification_rows(user),
        },
    )
