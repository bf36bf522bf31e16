"""The pool console: every agent in a brand's pool with certifications, tier,
QA, CSAT, utilisation, last activity and earnings from the brand, with bulk
approve, block, set tier and invite.

A page of its own next to the pool page (``frontend.views.pools``): the pool
page is the per-member workflow (applications with their notes, reasons,
unblocking), the console is the wide read of figures with actions on many
members at once. Every brand member may read it; only admins act. Writes go
through ``brands.pool_services``, which checks, locks and audits each agent.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from brands import pool_services
from brands.models import Brand, BrandRole, PoolMembership, PoolStatus, PoolTier
from brands.pool_console import (
    FIGURES_DAYS,
    ConsoleFilter,
    pool_console_assessments,
    pool_console_languages,
    pool_console_members,
    pool_console_rows,
)
from frontend.views.access import brand_view
from frontend.views.pools import BADGE_BY_STATUS
from marketplace.errors import GigdeskError
from marketplace.languages import LANGUAGE_CHOICES
from marketplace.money import money_format

ADMIN_ONLY = (BrandRole.ADMIN,)
PER_PAGE = 50
BULK_ACTIONS = [("approve", "Approve applicants"), ("block", "Block"), ("set_tier", "Set tier")]
_DONE_VERB = {
    "approve": "approved",
    "block": "blocked",
    "set_tier": "moved to tier",
    "invite": "invited",
}


# --- Forms ---------------------------------------------------------------------------


class ConsoleFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "Every status"), *PoolStatus.choices],
        required=False,
        error_messages={"invalid_choice": "Choose a pool status."},
    )
    tier = forms.TypedChoiceField(
        choices=[("", "Every tier"), *PoolTier.choices],
        coerce=int,
        empty_value=None,
        required=False,
        error_messages={"invalid_choice": "Choose a tier from 1 to 5."},
    )
    language = forms.ChoiceField(
        choices=[("", "Every language")],  # the pool's own languages, set per brand
        required=False,
        error_messages={"invalid_choice": "Choose a language from the list."},
    )
    certification = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="Any or none",
        to_field_name="slug",
        error_messages={"invalid_choice": "Choose an assessment from the list."},
    )
    q = forms.CharField(label="Name or email", required=False, max_length=100, strip=True)

    def __init__(self, data, *, brand: Brand):
        super().__init__(data)
        self.fields["certification"].queryset = pool_console_assessments(brand=brand)
        names = dict(LANGUAGE_CHOICES)
        self.fields["language"].choices = [
            ("", "Every language"),
            *((code, names.get(code, code)) for code in pool_console_languages(brand=brand)),
        ]

    def console_filter(self) -> ConsoleFilter:
        data = self.cleaned_data
        return ConsoleFilter(
            status=data["status"],
            tier=data["tier"],
            language=data["language"],
            assessment=data["certification"],
            search=data["q"],
        )

    def query(self) -> str:
        """The filters as a query string, for links and redirects that keep them."""
        params = {}
        for name in ("status", "tier", "language", "q"):
            value = self.cleaned_data.get(name)
            if value not in (None, ""):
                params[name] = value
        if self.cleaned_data.get("certification") is not None:
            params["certification"] = self.cleaned_data["certification"].slug
        return urlencode(params)

    def error_lines(self) -> list[str]:
        return [
            f"{self.fields[name].label or name.title()}: {e}"
            for name, es in self.errors.items()
            for e in es
        ]


class BulkActionForm(forms.Form):
    action = forms.ChoiceField(
        choices=BULK_ACTIONS,
        error_messages={"invalid_choice": "Choose approve, block or set tier."},
    )
    selected = forms.TypedMultipleChoiceField(
        coerce=int,
        required=True,
        error_messages={"required": "Select at least one agent."},
    )
    tier = forms.TypedChoiceField(
        choices=[("", "—"), *PoolTier.choices],
        coerce=int,
        empty_value=None,
        required=False,
        error_messages={"invalid_choice": "Choose a tier from 1 to 5."},
    )
    reason = forms.CharField(required=False, max_length=PoolMembership.NOTE_MAX_LENGTH, strip=True)

    def __init__(self, data):
        super().__init__(data)
        # Any integers: the service keeps only the brand's own members.
        self.fields["selected"].valid_value = lambda value: str(value).isdigit()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == "set_tier" and cleaned.get("tier") is None:
            self.add_error("tier", "Choose the tier to set.")
        return cleaned


class BulkInviteForm(forms.Form):
    emails = forms.CharField(
        label="Email addresses",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, or separated by commas or spaces. Each must have a Gigdesk agent account.",
        error_messages={"required": "Enter at least one email address."},
    )

    def clean_emails(self) -> list[str]:
        addresses = [a for a in re.split(r"[\s,;]+", self.cleaned_data["emails"]) if a]
        invalid = []
        for address in addresses:
            try:
                validate_email(address)
            except forms.ValidationError:
                invalid.append(address)
        if invalid:
            raise forms.ValidationError(f"Not email addresses: {', '.join(invalid[:10])}.")
        return addresses


def _error_summary(form: forms.Form) -> str:
    return " ".join(error for errors in form.errors.values() for error in errors)


# --- Pages ---------------------------------------------------------------------------


def _money_lines(earnings: list[tuple[str, int]]) -> list[str]:
    return [money_format(amount, currency) for currency, amount in earnings]


@require_GET
@brand_view()
def pool_console(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    form = ConsoleFilterForm(request.GET, brand=brand)
    context = {
        "brand": brand,
        "role": role,
        "is_admin": role == BrandRole.ADMIN,
        "form": form,
        "figures_days": FIGURES_DAYS,
        "bulk_actions": BULK_ACTIONS,
        "tier_choices": PoolTier.choices,
        "invite_form": BulkInviteForm(None),
    }
    if not form.is_valid():
        return render(request, "pools/console.html", context, status=400)
    now = timezone.now()
    members = pool_console_members(brand=brand, filters=form.console_filter(), at=now)
    page = Paginator(members, PER_PAGE).get_page(request.GET.get("page"))
    rows = pool_console_rows(brand=brand, memberships=list(page), at=now)
    for row in rows:
        row.badge = BADGE_BY_STATUS[row.membership.status]
        row.earning_lines = _money_lines(row.earnings)
    query = form.query()
    context.update({"page": page, "rows": rows, "query": query})
    return render(request, "pools/console.html", context)


def _back(brand: Brand, request: HttpRequest) -> HttpResponse:
    """Back to the console with the filters the admin acted from (rebuilt from
    the posted query string, so that it can only ever be this page)."""
    query = QueryDict(request.POST.get("query", "")).urlencode()
    target = reverse("frontend:pool_console", args=[brand.slug])
    return redirect(f"{target}?{query}" if query else target)


def _report(request: HttpRequest, result: pool_services.PoolBulkResult, tier=None) -> None:
    """One message: how many changed (and who), how many were skipped and why,
    e.g. "2 approved (a@x, b@x), 1 skipped: c@x (already approved)."."""
    verb = _DONE_VERB[result.action]
    text = f"{len(result.done)} {verb}" + (f" {tier}" if result.action == "set_tier" else "")
    if result.done:
        text += f" ({', '.join(result.done)})"
    skipped = [f"{email} ({why})" for email, why in result.skipped]
    if result.missing:
        skipped.append(f"{result.missing} no longer in your pool")
    if skipped:
        text += f", {len(result.skipped) + result.missing} skipped: {'; '.join(skipped)}"
    text += "."
    if not result.done:
        messages.error(request, f"Nothing changed: {text}")
    elif skipped:
        messages.warning(request, text)
    else:
        messages.success(request, text)


@require_POST
@brand_view(roles=ADMIN_ONLY)
def pool_console_bulk(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing changed: {_error_summary(form)}")
        return _back(brand, request)
    data = form.cleaned_data
    try:
        result = pool_services.pool_bulk_update(
            brand=brand,
            actor=request.user,
            membership_ids=data["selected"],
            action=data["action"],
            tier=data["tier"],
            reason=data["reason"],
            request=request,
        )
    except GigdeskError as exc:
        messages.error(request, f"Nothing changed: {exc.message}")
    else:
        _report(request, result, tier=data["tier"])
    return _back(brand, request)


@require_POST
@brand_view(roles=ADMIN_ONLY)
def pool_console_invite(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    form = BulkInviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nobody invited: {_error_summary(form)}")
        return _back(brand, request)
    try:
        result = pool_services.pool_bulk_invite(
            brand=brand, actor=request.user, emails=form.cleaned_data["emails"], request=request
        )
    except GigdeskError as exc:
        messages.error(request, f"Nobody invited: {exc.message}")
    else:
        _report(request, result)
    return _back(brand, request)
