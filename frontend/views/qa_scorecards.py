"""QA scorecards: the list, create and detail pages, the draft's editor
(categories and pass mark, htmx forms), publishing and new drafts; and the
gig and brand QA settings forms.

The same scorecard views serve two owners: platform staff (platform
scorecards, under staff/qa/scorecards/) and a brand (its own, under
brands/<slug>/qa/scorecards/). ``Owner`` says which; every lookup starts from
it, so a brand never reaches another brand's scorecard (404). A brand's pages
also show the platform's scorecards its gigs may use, read-only. Brand admins
write; QA reviewers and viewers read. Writes go through ``qa.scorecards``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from brands.models import Brand, BrandRole
from frontend.forms.qa_scorecards import (
    BrandQASettingsForm,
    CategoryForm,
    DraftSettingsForm,
    GigQASettingsForm,
    ScorecardCreateForm,
)
from frontend.views.access import brand_view, forbidden, staff_view
from gigs.selectors import access_gig
from marketplace.errors import Conflict, GigdeskError, NotFound, PermissionDenied, ValidationFailed
from qa.models import Scorecard, ScorecardCategory, ScorecardVersion
from qa.permissions import can_manage, require_manage
from qa.scorecards import (
    brand_qa_settings_update,
    gig_qa_settings_update,
    scorecard_categories_reorder,
    scorecard_category_add,
    scorecard_category_delete,
    scorecard_category_update,
    scorecard_create,
    scorecard_draft_update,
    scorecard_new_draft_from,
    scorecard_publish,
)
from qa.selectors import brand_qa_settings, gig_qa_settings, platform_default_scorecard

PER_PAGE = 25
ADMIN_ONLY = (BrandRole.ADMIN,)


@dataclass(frozen=True)
class Owner:
    """Whose scorecards a page shows: a brand's, or (brand None) the platform's."""

    brand: Brand | None

    @property
    def prefix(self) -> str:
        return "brand" if self.brand else "staff"

    def url(self, name: str, *args) -> str:
        scope = [self.brand.slug] if self.brand else []
        return reverse(f"frontend:{self.prefix}_{name}", args=[*scope, *args])

    def own(self):
        if self.brand is None:
            return Scorecard.objects.platform()
        return Scorecard.objects.for_brand(self.brand)

    def readable(self):
        """The owner's scorecards and, for a brand, the platform's its gigs may use."""
        if self.brand is None:
            return Scorecard.objects.platform()
        return Scorecard.objects.usable_by(self.brand)

    def owns(self, scorecard: Scorecard) -> bool:
        return scorecard.brand_id == (self.brand.pk if self.brand else None)


def _for_both(view: Callable) -> tuple[Callable, Callable]:
    """The staff page and the brand page of one view. Domain refusals become
    the 404 page or the 403 page with the service's reason."""

    def guarded(request, owner, *args, **kwargs):
        try:
            return view(request, owner, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from None
        except PermissionDenied as exc:
            return forbidden(request, exc.message)

    @staff_view
    @wraps(view)
    def staff_page(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return guarded(request, Owner(brand=None), *args, **kwargs)

    @brand_view()
    @wraps(view)
    def brand_page(request: HttpRequest, *args, brand: Brand, role: str, **kwargs) -> HttpResponse:
        return guarded(request, Owner(brand=brand), *args, **kwargs)

    return staff_page, brand_page


def _is_partial(request: HttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


def _scorecard(owner: Owner, scorecard_id: int) -> Scorecard:
    scorecard = owner.readable().select_related("brand").filter(pk=scorecard_id).first()
    if scorecard is None:
        raise NotFound("No such scorecard.")
    return scorecard


def _can_write(request: HttpRequest, owner: Owner, scorecard: Scorecard | None = None) -> bool:
    if scorecard is not None and not owner.owns(scorecard):
        return False
    return can_manage(request.user, owner.brand)


def _require_write(request: HttpRequest, owner: Owner, scorecard: Scorecard) -> None:
    if not owner.owns(scorecard):
        raise PermissionDenied("Platform scorecards are changed by Gigdesk staff only.")
    require_manage(request.user, scorecard.brand)


def _draft(scorecard: Scorecard) -> ScorecardVersion:
    draft = scorecard.draft_version()
    if draft is None:
        raise Conflict(
            "Published versions are frozen: make a new draft to change the scorecard.",
            code="version_frozen",
        )
    return draft


def _category(scorecard: Scorecard, category_id: int) -> ScorecardCategory:
    category = (
        ScorecardCategory.objects.select_related("version__scorecard")
        .filter(pk=category_id, version__scorecard=scorecard)
        .first()
    )
    if category is None:
        raise NotFound("No such category.")
    return category


# --- list and create -------------------------------------------------------------------


@require_GET
def scorecard_list(request: HttpRequest, owner: Owner) -> HttpResponse:
    scorecards = owner.own().annotate(
        version_count=Count("versions", distinct=True),
        draft_count=Count("versions", filter=Q(versions__status="draft"), distinct=True),
        published_count=Count("versions", filter=Q(versions__status="published"), distinct=True),
    )
    page = Paginator(scorecards.order_by("name", "pk"), PER_PAGE).get_page(request.GET.get("page"))
    default = platform_default_scorecard() if owner.brand else None
    return render(
        request,
        "qa/scorecards/scorecard_list.html",
        {
            "owner": owner,
            "brand": owner.brand,
            "page": page,
            "default": default,
            "default_version": default.published_version() if default else None,
            "can_write": _can_write(request, owner),
        },
    )


@require_http_methods(["GET", "POST"])
def scorecard_new(request: HttpRequest, owner: Owner) -> HttpResponse:
    require_manage(request.user, owner.brand)
    form = ScorecardCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            scorecard = scorecard_create(actor=request.user, brand=owner.brand, **form.cleaned_data)
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"“{scorecard.name}” created. Add its categories.")
            return redirect(owner.url("qa_scorecard_detail", scorecard.pk))
    return render(
        request,
        "qa/scorecards/scorecard_create.html",
        {"owner": owner, "brand": owner.brand, "form": form},
        status=400 if form.errors else 200,
    )


# --- detail and the draft's editor ----------------------------------------------------


def _editor_context(request: HttpRequest, owner: Owner, scorecard: Scorecard) -> dict:
    draft = scorecard.draft_version()
    shown = draft or scorecard.published_version()
    can_write = _can_write(request, owner, scorecard)
    categories = list(shown.categories.all()) if shown else []
    return {
        "owner": owner,
        "brand": owner.brand,
        "scorecard": scorecard,
        "draft": draft,
        "shown": shown,
        "categories": categories,
        "total_weight": sum(c.weight for c in categories),
        "can_write": can_write,
        "editable": draft is not None and can_write,
    }


def _editor(request: HttpRequest, owner: Owner, scorecard: Scorecard, error: str = ""):
    """The editor partial, swapped in place of the whole editor."""
    context = _editor_context(request, owner, scorecard)
    response = render(
        request, "qa/scorecards/scorecard_editor.html", {**context, "editor_error": error}
    )
    return reswap(retarget(response, "#editor"), "outerHTML")


def _back_to_editor(request: HttpRequest, owner: Owner, scorecard: Scorecard) -> HttpResponse:
    if _is_partial(request):
        return _editor(request, owner, scorecard)
    return redirect(owner.url("qa_scorecard_detail", scorecard.pk) + "#editor")


def _editor_refusal(request, owner, scorecard, exc: GigdeskError) -> HttpResponse:
    if _is_partial(request):
        return _editor(request, owner, scorecard, error=exc.message)
    messages.error(request, exc.message)
    return redirect(owner.url("qa_scorecard_detail", scorecard.pk) + "#editor")


@require_GET
def scorecard_detail(request: HttpRequest, owner: Owner, scorecard_id: int) -> HttpResponse:
    scorecard = _scorecard(owner, scorecard_id)
    if _is_partial(request) and request.GET.get("part") == "editor":
        return _editor(request, owner, scorecard)
    versions = list(
        scorecard.versions.select_related("published_by")
        .annotate(category_count=Count("categories"))
        .order_by("-number")
    )
    context = _editor_context(request, owner, scorecard)
    context.update(versions=versions, latest_published=scorecard.published_version())
    return render(request, "qa/scorecards/scorecard_detail.html", context)


def _form_page(
    request: HttpRequest,
    owner: Owner,
    scorecard: Scorecard,
    *,
    template: str,
    context: dict,
    status: int = 200,
) -> HttpResponse:
    """A form as a partial (htmx, in place) or as a page of its own."""
    context = {"owner": owner, "brand": owner.brand, "scorecard": scorecard, **context}
    if _is_partial(request):
        return render(request, template, context)
    return render(
        request,
        "qa/scorecards/editor_form_page.html",
        {**context, "form_template": template},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def draft_settings(request: HttpRequest, owner: Owner, scorecard_id: int) -> HttpResponse:
    scorecard = _scorecard(owner, scorecard_id)
    _require_write(request, owner, scorecard)
    try:
        draft = _draft(scorecard)
    except Conflict as exc:
        return _editor_refusal(request, owner, scorecard, exc)
    form = DraftSettingsForm(
        request.POST or None, initial={"name": scorecard.name, "pass_mark": draft.pass_mark}
    )
    if request.method == "POST" and form.is_valid():
        try:
            scorecard_draft_update(actor=request.user, version=draft, **form.cleaned_data)
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            if _is_partial(request):
                return _editor(request, owner, _scorecard(owner, scorecard.pk))
            messages.success(request, f"Draft version {draft.number} saved.")
            return redirect(owner.url("qa_scorecard_detail", scorecard.pk))
    return _form_page(
        request,
        owner,
        scorecard,
        template="qa/scorecards/draft_settings_form.html",
        context={
            "form": form,
            "draft": draft,
            "action": owner.url("qa_scorecard_settings", scorecard.pk),
        },
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def category_new(request: HttpRequest, owner: Owner, scorecard_id: int) -> HttpResponse:
    scorecard = _scorecard(owner, scorecard_id)
    _require_write(request, owner, scorecard)
    form = CategoryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            scorecard_category_add(
                actor=request.user, version=_draft(scorecard), **form.cleaned_data
            )
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            return _back_to_editor(request, owner, scorecard)
    return _form_page(
        request,
        owner,
        scorecard,
        template="qa/scorecards/category_form.html",
        context={
            "form": form,
            "category": None,
            "action": owner.url("qa_scorecard_category_create", scorecard.pk),
        },
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def category_edit(
    request: HttpRequest, owner: Owner, scorecard_id: int, category_id: int
) -> HttpResponse:
    scorecard = _scorecard(owner, scorecard_id)
    _require_write(request, owner, scorecard)
    category = _category(scorecard, category_id)
    form = CategoryForm(request.POST or None, initial=CategoryForm.initial_for(category))
    if request.method == "POST" and form.is_valid():
        try:
            scorecard_category_update(actor=request.user, category=category, **form.cleaned_data)
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            return _back_to_editor(request, owner, scorecard)
    return _form_page(
        request,
        owner,
        scorecard,
        template="qa/scorecards/category_form.html",
        context={
            "form": form,
            "category": category,
            "action": owner.url("qa_scorecard_category_edit", scorecard.pk, category.pk),
        },
        status=400 if form.errors else 200,
    )


@require_POST
def category_remove(
    request: HttpRequest, owner: Owner, scorecard_id: int, category_id: int
) -> HttpResponse:
    scorecard = _scorecard(owner, scorecard_id)
    _require_write(request, owner, scorecard)
    category = _category(scorecard, category_id)
    try:
        scorecard_category_delete(actor=request.user, category=category)
    except Conflict as exc:
        return _editor_refusal(request, owner, scorecard, exc)
    return _back_to_editor(request, owner, scorecard)


@require_POST
def category_reorder(
    request: HttpRequest, owner: Owner, scorecard_id: int, category_id: int
) -> HttpResponse:
    scorecard = _scorecard(owner, scorecard_id)
    _require_write(request, owner, scorecard)
    category = _category(scorecard, category_id)
    ids = list(category.version.categories.values_list("pk", flat=True))
    position = ids.index(category.pk)
    target = position - 1 if request.POST.get("direction") == "up" else position + 1
    if 0 <= target < len(ids):
        ids[position], ids[target] = ids[target], ids[position]
        try:
            scorecard_categories_reorder(
                actor=request.user, version=category.version, category_ids=ids
            )
        except Conflict as exc:
            return _editor_refusal(request, owner, scorecard, exc)
    return _back_to_editor(request, owner, scorecard)


@require_POST
def version_publish(request: HttpRequest, owner: Owner, scorecard_id: int) -> HttpResponse:
    scorecard = _scorecard(owner, scorecard_id)
    _require_write(request, owner, scorecard)
    try:
        published = scorecard_publish(actor=request.user, version=_draft(scorecard))
    except (ValidationFailed, Conflict) as exc:
        messages.error(request, f"Not published: {exc.message}")
    else:
        messages.success(
            request,
            f"Version {published.number} is published: new reviews are scored on it. "
            "Earlier reviews keep the version they were scored on.",
        )
    return redirect(owner.url("qa_scorecard_detail", scorecard.pk))


@require_POST
def version_new_draft(request: HttpRequest, owner: Owner, scorecard_id: int) -> HttpResponse:
    scorecard = _scorecard(owner, scorecard_id)
    _require_write(request, owner, scorecard)
    published = scorecard.published_version()
    if published is None:
        return redirect(owner.url("qa_scorecard_detail", scorecard.pk) + "#editor")
    draft = scorecard_new_draft_from(actor=request.user, version=published)
    messages.success(
        request,
        f"Draft version {draft.number} holds a copy of version {published.number}: edit it, "
        "then publish it.",
    )
    return redirect(owner.url("qa_scorecard_detail", scorecard.pk) + "#editor")


staff_qa_scorecard_list, brand_qa_scorecard_list = _for_both(scorecard_list)
staff_qa_scorecard_create, brand_qa_scorecard_create = _for_both(scorecard_new)
staff_qa_scorecard_detail, brand_qa_scorecard_detail = _for_both(scorecard_detail)
staff_qa_scorecard_settings, brand_qa_scorecard_settings = _for_both(draft_settings)
staff_qa_scorecard_category_create, brand_qa_scorecard_category_create = _for_both(category_new)
staff_qa_scorecard_category_edit, brand_qa_scorecard_category_edit = _for_both(category_edit)
staff_qa_scorecard_category_delete, brand_qa_scorecard_category_delete = _for_both(category_remove)
staff_qa_scorecard_category_move, brand_qa_scorecard_category_move = _for_both(category_reorder)
staff_qa_scorecard_publish, brand_qa_scorecard_publish = _for_both(version_publish)
staff_qa_scorecard_new_draft, brand_qa_scorecard_new_draft = _for_both(version_new_draft)


# --- QA settings -----------------------------------------------------------------------


@brand_view(roles=ADMIN_ONLY)
@require_http_methods(["GET", "POST"])
def gig_qa_settings_page(
    request: HttpRequest, *, brand: Brand, role: str, gig_id: int
) -> HttpResponse:
    """The gig's QA settings form; the gig page shows it too and posts here."""
    gig = access_gig(brand=brand, gig_id=gig_id)
    settings = gig_qa_settings(gig)
    form = GigQASettingsForm(
        request.POST or None, gig=gig, initial=GigQASettingsForm.initial_for(settings)
    )
    if request.method == "POST" and form.is_valid():
        try:
            gig_qa_settings_update(actor=request.user, gig=gig, **form.service_kwargs())
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        except NotFound as exc:
            form.add_error("scorecard", exc.message)
        else:
            messages.success(request, "QA settings saved.")
            return redirect(reverse("frontend:gig_detail", args=[brand.slug, gig.pk]) + "#qa")
    return render(
        request,
        "qa/scorecards/gig_qa_settings.html",
        {"brand": brand, "gig": gig, "form": form},
        status=400 if form.errors else 200,
    )


@brand_view()
@require_http_methods(["GET", "POST"])
def brand_qa_settings_page(request: HttpRequest, *, brand: Brand, role: str) -> HttpResponse:
    settings = brand_qa_settings(brand)
    can_write = can_manage(request.user, brand)
    form = BrandQASettingsForm(
        request.POST or None, initial=BrandQASettingsForm.initial_for(settings)
    )
    if request.method == "POST":
        require_manage(request.user, brand)
        if form.is_valid():
            try:
                brand_qa_settings_update(actor=request.user, brand=brand, **form.service_kwargs())
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, "QA settings saved.")
                return redirect(reverse("frontend:brand_qa_settings", args=[brand.slug]))
    if not can_write:
        for field in form.fields.values():
            field.disabled = True
    return render(
        request,
        "qa/scorecards/brand_qa_settings.html",
        {"brand": brand, "form": form, "can_write": can_write},
        status=400 if form.errors else 200,
    )
