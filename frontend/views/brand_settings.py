"""Brand console: canned replies and resolution codes, what agents work with.

Every member reads them; only admins change them (``gigs.services``, audited).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from brands.models import Brand, BrandRole
from frontend.forms.workspace import CannedReplyForm, ResolutionCodeForm
from frontend.views.access import brand_view
from gigs.models import CannedReply, ResolutionCode
from gigs.services import (
    canned_reply_create,
    canned_reply_delete,
    canned_reply_update,
    resolution_code_create,
    resolution_code_set_active,
)
from marketplace.errors import GigdeskError, PermissionDenied
from marketplace.languages import LANGUAGE_NAMES

ADMIN_ONLY = (BrandRole.ADMIN,)
PER_PAGE = 50


def _require_admin(role: str, brand: Brand) -> None:
    if role != BrandRole.ADMIN:
        raise PermissionDenied(
            f"Only admins of {brand} can change this. Ask one of them to do it for you."
        )


# --- Canned replies ---------------------------------------------------------------------


def _canned_reply(brand: Brand, canned_reply_id: int) -> CannedReply:
    canned_reply = brand.canned_replies.filter(pk=canned_reply_id).first()
    if canned_reply is None:
        raise Http404("No such canned reply.")
    return canned_reply


@brand_view()
@require_http_methods(["GET", "POST"])
def canned_reply_list(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    is_admin = role == BrandRole.ADMIN
    form = CannedReplyForm() if is_admin else None
    if request.method == "POST":
        _require_admin(role, brand)
        form = CannedReplyForm(request.POST)
        if form.is_valid():
            try:
                created = canned_reply_create(
                    brand=brand, actor=request.user, request=request, **form.cleaned_data
                )
            except GigdeskError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, f"Canned reply “{created.title}” added.")
                return redirect("frontend:canned_reply_list", slug=brand.slug)
    replies = brand.canned_replies.all()
    language = request.GET.get("language", "")
    if language in LANGUAGE_NAMES:
        replies = replies.filter(language=language)
    elif language == "any":
        replies = replies.filter(language="")
    else:
        language = ""
    page = Paginator(replies, PER_PAGE).get_page(request.GET.get("page"))
    used_languages = sorted(
        {code for code in brand.canned_replies.values_list("language", flat=True) if code}
    )
    context = {
        "brand": brand,
        "is_admin": is_admin,
        "form": form,
        "replies_page": page,
        "language": language,
        "language_filters": [(code, LANGUAGE_NAMES.get(code, code)) for code in used_languages],
        "query": f"language={language}" if language else "",
    }
    return render(request, "brands/canned_replies.html", context)


@brand_view(roles=ADMIN_ONLY)
@require_http_methods(["GET", "POST"])
def canned_reply_edit(
    request: HttpRequest, *, brand: Brand, role: str, canned_reply_id: int
) -> HttpResponse:
    canned_reply = _canned_reply(brand, canned_reply_id)
    initial = {name: getattr(canned_reply, name) for name in ("title", "body", "language")}
    form = CannedReplyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            canned_reply_update(
                canned_reply=canned_reply, actor=request.user, request=request, **form.cleaned_data
            )
        except GigdeskError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Canned reply “{form.cleaned_data['title']}” saved.")
            return redirect("frontend:canned_reply_list", slug=brand.slug)
    return render(
        request,
        "brands/canned_reply_form.html",
        {"brand": brand, "canned_reply": canned_reply, "form": form},
    )


@brand_view(roles=ADMIN_ONLY)
@require_POST
def canned_reply_remove(
    request: HttpRequest, *, brand: Brand, role: str, canned_reply_id: int
) -> HttpResponse:
    canned_reply = _canned_reply(brand, canned_reply_id)
    canned_reply_delete(canned_reply=canned_reply, actor=request.user, request=request)
    messages.success(request, f"Canned reply “{canned_reply.title}” deleted.")
    return redirect("frontend:canned_reply_list", slug=brand.slug)


# --- Resolution codes ---------------------------------------------------------------------


@brand_view()
@require_http_methods(["GET", "POST"])
def resolution_code_list(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    is_admin = role == BrandRole.ADMIN
    form = ResolutionCodeForm() if is_admin else None
    if request.method == "POST":
        _require_admin(role, brand)
        form = ResolutionCodeForm(request.POST)
        if form.is_valid():
            try:
                created = resolution_code_create(
                    brand=brand, actor=request.user, request=request, **form.cleaned_data
                )
            except GigdeskError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(
                    request, f"Agents can now resolve tasks as “{created.label}” ({created.code})."
                )
                return redirect("frontend:resolution_code_list", slug=brand.slug)
    # Active first; a brand has a handful of codes, not pages of them.
    codes = brand.resolution_codes.order_by("-is_active", "label", "pk")
    context = {"brand": brand, "is_admin": is_admin, "form": form, "codes": codes}
    return render(request, "brands/resolution_codes.html", context)


@brand_view(roles=ADMIN_ONLY)
@require_POST
def resolution_code_activation(
    request: HttpRequest, *, brand: Brand, role: str, code_id: int
) -> HttpResponse:
    resolution_code: ResolutionCode | None = brand.resolution_codes.filter(pk=code_id).first()
    if resolution_code is None:
        raise Http404("No such resolution code.")
    wanted = request.POST.get("is_active")
    if wanted not in ("true", "false"):
        messages.error(request, "Nothing changed: say whether the code should be active.")
        return redirect("frontend:resolution_code_list", slug=brand.slug)
    resolution_code = resolution_code_set_active(
        resolution_code=resolution_code,
        actor=request.user,
        is_active=wanted == "true",
        request=request,
    )
    if resolution_code.is_active:
        messages.success(request, f"“{resolution_code.label}” is active again.")
    else:
        messages.success(
            request,
            f"“{resolution_code.label}” is deactivated: agents can no longer pick it. "
            "Tasks already resolved with it keep it.",
        )
    return redirect("frontend:resolution_code_list", slug=brand.slug)
