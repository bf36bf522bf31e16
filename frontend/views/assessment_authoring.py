"""Authoring assessments: the list, create and import pages, and a version's
detail page with the draft's editor (sections and questions, htmx forms).

The same views serve two owners: platform staff (platform assessments, under
staff/assessments/) and a brand (its own, under brands/<slug>/assessments/).
``Owner`` says which; every lookup starts from it, so a brand never reaches
another brand's assessment (404). Staff may read brands' assessments; only
their owners write (``assessments.permissions``). Brand admins write, QA
reviewers read (they grade against the rubrics); viewers get the 403 page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from assessments.authoring import (
    assessment_create,
    draft_problems,
    draft_publish,
    draft_settings_update,
    question_create,
    question_delete,
    question_move,
    question_update,
    section_create,
    section_delete,
    section_move,
    section_update,
)
from assessments.content import CHILD_TYPES, assessment_export, assessment_import
from assessments.models import (
    Assessment,
    AssessmentVersion,
    Question,
    QuestionType,
    Section,
    VersionStatus,
)
from assessments.permissions import can_author
from assessments.services import version_draft_from
from brands.models import Brand, BrandRole
from frontend.forms.assessments_authoring import (
    AssessmentCreateForm,
    ImportForm,
    QuestionForm,
    SectionForm,
    SettingsForm,
)
from frontend.views.access import brand_view, forbidden, staff_view
from marketplace.errors import Conflict, GigdeskError, NotFound, PermissionDenied, ValidationFailed

PER_PAGE = 25
READER_ROLES = (BrandRole.ADMIN, BrandRole.QA_REVIEWER)
BADGE_BY_VERSION_STATUS = {
    VersionStatus.DRAFT: "paused",
    VersionStatus.PUBLISHED: "active",
    VersionStatus.RETIRED: "closed",
}


@dataclass(frozen=True)
class Owner:
    """Whose assessments a page shows: a brand's, or (brand None) the platform's."""

    brand: Brand | None

    @property
    def prefix(self) -> str:
        return "brand" if self.brand else "staff"

    def url(self, name: str, *args) -> str:
        scope = [self.brand.slug] if self.brand else []
        return reverse(f"frontend:{self.prefix}_{name}", args=[*scope, *args])

    def assessments(self):
        if self.brand is None:
            # Staff read every assessment; the list shows the platform's by default.
            return Assessment.objects.all()
        return Assessment.objects.for_brand(self.brand)


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

    @brand_view(roles=READER_ROLES)
    @wraps(view)
    def brand_page(request: HttpRequest, *args, brand: Brand, role: str, **kwargs) -> HttpResponse:
        return guarded(request, Owner(brand=brand), *args, **kwargs)

    return staff_page, brand_page


def _assessment(owner: Owner, slug: str) -> Assessment:
    assessment = owner.assessments().select_related("brand").filter(slug=slug).first()
    if assessment is None:
        raise NotFound("No such assessment.")
    return assessment


def _draft(assessment: Assessment) -> AssessmentVersion:
    draft = assessment.versions.filter(status=VersionStatus.DRAFT).first()
    if draft is None:
        raise Conflict(
            "Published versions are frozen: make a new draft to edit.", code="version_frozen"
        )
    return draft


def _require_author(request: HttpRequest, assessment: Assessment) -> None:
    if not can_author(request.user, assessment.brand):
        if assessment.brand is None:
            raise PermissionDenied("Only platform staff can change platform assessments.")
        raise PermissionDenied(f"Only admins of {assessment.brand} can change its assessments.")


def _is_partial(request: HttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


def _results_url(owner: Owner, assessment: Assessment) -> str:
    """The stats page's address if that page exists (it is built separately)."""
    try:
        return owner.url("assessment_results", assessment.slug)
    except NoReverseMatch:
        return ""


# --- list, create, import ------------------------------------------------------------


@require_GET
def assessment_list(request: HttpRequest, owner: Owner) -> HttpResponse:
    assessments = owner.assessments()
    showing_brands = owner.brand is None and request.GET.get("owner") == "brands"
    if owner.brand is None:
        assessments = (
            assessments.filter(brand__isnull=False) if showing_brands else assessments.platform()
        )
    assessments = (
        assessments.select_related("brand")
        .annotate(
            version_count=Count("versions", distinct=True),
            draft_count=Count("versions", filter=Q(versions__status="draft"), distinct=True),
            published_count=Count(
                "versions", filter=Q(versions__status="published"), distinct=True
            ),
        )
        .order_by("title", "pk")
    )
    page = Paginator(assessments, PER_PAGE).get_page(request.GET.get("page"))
    can_write = can_author(request.user, owner.brand)
    return render(
        request,
        "assessments/authoring/assessment_list.html",
        {
            "owner": owner,
            "brand": owner.brand,
            "page": page,
            "can_write": can_write,
            "showing_brands": showing_brands,
            "query": "owner=brands" if showing_brands else "",
        },
    )


@require_http_methods(["GET", "POST"])
def assessment_new(request: HttpRequest, owner: Owner) -> HttpResponse:
    if not can_author(request.user, owner.brand):
        raise PermissionDenied(
            f"Only admins of {owner.brand} can create assessments."
            if owner.brand
            else "Only platform staff can create platform assessments."
        )
    form = AssessmentCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            draft = assessment_create(actor=request.user, brand=owner.brand, **form.cleaned_data)
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            messages.success(
                request, f"“{draft.assessment.title}” created. Add sections and questions."
            )
            return redirect(owner.url("assessment_detail", draft.assessment.slug))
    status = 400 if form.errors else 200
    return render(
        request,
        "assessments/authoring/assessment_create.html",
        {"owner": owner, "brand": owner.brand, "form": form},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def assessment_upload(request: HttpRequest, owner: Owner) -> HttpResponse:
    if not can_author(request.user, owner.brand):
        raise PermissionDenied(
            f"Only admins of {owner.brand} can import assessments."
            if owner.brand
            else "Only platform staff can import platform assessments."
        )
    form = ImportForm(request.POST or None, request.FILES or None)
    problems: list[tuple[str, str]] = []
    summary = ""
    if request.method == "POST" and form.is_valid():
        try:
            draft = assessment_import(
                form.cleaned_data["document"], actor=request.user, brand=owner.brand
            )
        except ValidationFailed as exc:
            summary = exc.message
            problems = [(path or "(document)", message) for path, message in exc.fields.items()]
        except (Conflict, PermissionDenied) as exc:
            summary = exc.message
        else:
            messages.success(
                request,
                f"Imported “{draft.assessment.title}” as draft version {draft.number}. "
                "Check it, then publish it.",
            )
            return redirect(owner.url("assessment_detail", draft.assessment.slug))
    status = 400 if (form.errors or summary) else 200
    return render(
        request,
        "assessments/authoring/assessment_import.html",
        {
            "owner": owner,
            "brand": owner.brand,
            "form": form,
            "summary": summary,
            "problems": problems,
        },
        status=status,
    )


# --- detail and the draft's editor ---------------------------------------------------


def _editor_context(owner: Owner, assessment: Assessment, draft, can_write: bool) -> dict:
    """The sections of the draft (or, without one, of the latest version, read
    only) with their questions, reading passages with theirs, in order."""
    shown = draft or assessment.versions.order_by("-number").first()
    context = {
        "owner": owner,
        "assessment": assessment,
        "draft": draft,
        "shown": shown,
        "editable": draft is not None and can_write,
        "can_write": can_write,
        "sections": [],
    }
    if shown is None:
        return context
    questions = (
        Question.objects.filter(section__version=shown)
        .prefetch_related("choices")
        .order_by("order", "pk")
    )
    sections = list(
        shown.sections.order_by("order").prefetch_related(Prefetch("questions", queryset=questions))
    )
    for section in sections:
        everything = list(section.questions.all())
        children: dict[int, list[Question]] = {}
        for question in everything:
            if question.parent_id:
                children.setdefault(question.parent_id, []).append(question)
        section.bank = [q for q in everything if q.parent_id is None]
        for question in section.bank:
            question.child_questions = children.get(question.pk, [])
        section.short_of_draw = section.draw > len(section.bank)
    context.update(
        sections=sections,
        question_types=QuestionType.choices,
        child_types=[(t.value, t.label) for t in CHILD_TYPES],
    )
    return context


def _editor(
    request: HttpRequest, owner: Owner, assessment: Assessment, error: str = ""
) -> HttpResponse:
    """The editor partial, swapped in place of the whole editor."""
    draft = assessment.versions.filter(status=VersionStatus.DRAFT).first()
    can_write = can_author(request.user, assessment.brand)
    context = _editor_context(owner, assessment, draft, can_write)
    response = render(
        request,
        "assessments/authoring/assessment_detail_editor.html",
        {**context, "editor_error": error},
    )
    return reswap(retarget(response, "#editor"), "outerHTML")


def _back_to_editor(
    request: HttpRequest, owner: Owner, assessment: Assessment, anchor: str = ""
) -> HttpResponse:
    if _is_partial(request):
        return _editor(request, owner, assessment)
    return redirect(owner.url("assessment_detail", assessment.slug) + anchor)


@require_GET
def assessment_detail(request: HttpRequest, owner: Owner, assessment_slug: str) -> HttpResponse:
    assessment = _assessment(owner, assessment_slug)
    if _is_partial(request) and request.GET.get("part") == "editor":
        return _editor(request, owner, assessment)
    versions = list(
        assessment.versions.select_related("published_by")
        .annotate(attempt_count=Count("attempts"))
        .order_by("-number")
    )
    for version in versions:
        version.badge = BADGE_BY_VERSION_STATUS.get(version.status, "closed")
    draft = next((v for v in versions if v.status == VersionStatus.DRAFT), None)
    can_write = can_author(request.user, assessment.brand)
    context = _editor_context(owner, assessment, draft, can_write)
    context.update(
        brand=owner.brand,
        versions=versions,
        problems=draft_problems(draft) if draft is not None else {},
        results_url=_results_url(owner, assessment),
    )
    return render(request, "assessments/authoring/assessment_detail.html", context)


@require_GET
def version_export(
    request: HttpRequest, owner: Owner, assessment_slug: str, number: int
) -> HttpResponse:
    assessment = _assessment(owner, assessment_slug)
    version = assessment.versions.filter(number=number).first()
    if version is None:
        raise NotFound("No such version.")
    body = json.dumps(assessment_export(version), indent=2, ensure_ascii=False)
    response = HttpResponse(body + "\n", content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{assessment.slug}-v{version.number}.json"'
    )
    return response


@require_POST
def version_new_draft(
    request: HttpRequest, owner: Owner, assessment_slug: str, number: int
) -> HttpResponse:
    assessment = _assessment(owner, assessment_slug)
    _require_author(request, assessment)
    version = assessment.versions.filter(number=number).first()
    if version is None:
        raise NotFound("No such version.")
    draft = version_draft_from(version, request.user)
    messages.success(
        request, f"Draft version {draft.number} holds a copy of version {version.number}: edit it."
    )
    return redirect(owner.url("assessment_detail", assessment.slug) + "#editor")


@require_POST
def version_publish_page(request: HttpRequest, owner: Owner, assessment_slug: str) -> HttpResponse:
    assessment = _assessment(owner, assessment_slug)
    _require_author(request, assessment)
    try:
        published = draft_publish(actor=request.user, version=_draft(assessment))
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Version {published.number} is published: new attempts are taken on it. "
            "Earlier attempts keep the version they were taken on.",
        )
    return redirect(owner.url("assessment_detail", assessment.slug))


@require_http_methods(["GET", "POST"])
def draft_settings(request: HttpRequest, owner: Owner, assessment_slug: str) -> HttpResponse:
    assessment = _assessment(owner, assessment_slug)
    _require_author(request, assessment)
    try:
        draft = _draft(assessment)
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect(owner.url("assessment_detail", assessment.slug))
    form = SettingsForm(
        request.POST or None, assessment=assessment, initial=SettingsForm.initial_for(draft)
    )
    if request.method == "POST" and form.is_valid():
        try:
            draft_settings_update(actor=request.user, version=draft, **form.service_kwargs())
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Settings of draft version {draft.number} saved.")
            return redirect(owner.url("assessment_detail", assessment.slug))
    return render(
        request,
        "assessments/authoring/draft_settings.html",
        {
            "owner": owner,
            "brand": owner.brand,
            "assessment": assessment,
            "draft": draft,
            "form": form,
        },
        status=400 if form.errors else 200,
    )


def _form_page(
    request: HttpRequest,
    owner: Owner,
    assessment: Assessment,
    *,
    template: str,
    context: dict,
    status: int = 200,
) -> HttpResponse:
    """A form as a partial (htmx, in place) or as a page of its own."""
    context = {"owner": owner, "brand": owner.brand, "assessment": assessment, **context}
    if _is_partial(request):
        return render(request, template, context)
    return render(
        request,
        "assessments/authoring/editor_form_page.html",
        {**context, "form_template": template},
        status=status,
    )


def _section(assessment: Assessment, section_id: int) -> Section:
    section = (
        Section.objects.select_related("version__assessment")
        .filter(pk=section_id, version__assessment=assessment)
        .first()
    )
    if section is None:
        raise NotFound("No such section.")
    return section


def _question(assessment: Assessment, question_id: int) -> Question:
    question = (
        Question.objects.select_related("section__version__assessment", "parent")
        .filter(pk=question_id, section__version__assessment=assessment)
        .first()
    )
    if question is None:
        raise NotFound("No such question.")
    return question


@require_http_methods(["GET", "POST"])
def section_new(request: HttpRequest, owner: Owner, assessment_slug: str) -> HttpResponse:
    assessment = _assessment(owner, assessment_slug)
    _require_author(request, assessment)
    form = SectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            section_create(actor=request.user, version=_draft(assessment), **form.cleaned_data)
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            return _back_to_editor(request, owner, assessment, "#editor")
    return _form_page(
        request,
        owner,
        assessment,
        template="assessments/authoring/section_form.html",
        context={
            "form": form,
            "section": None,
            "action": owner.url("assessment_section_create", assessment.slug),
        },
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def section_edit(
    request: HttpRequest, owner: Owner, assessment_slug: str, section_id: int
) -> HttpResponse:
    assessment = _assessment(owner, assessment_slug)
    _require_author(request, assessment)
    section = _section(assessment, section_id)
    initial = {"title": section.title, "instructions": section.instructions, "draw": section.draw}
    form = SectionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            section_update(actor=request.user, section=section, **form.cleaned_data)
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            return _back_to_editor(request, owner, assessment, f"#section-{section.pk}")
    return _form_page(
        request,
        owner,
        assessment,
        template="assessments/authoring/section_form.html",
        context={
            "form": form,
            "section": section,
            "action": owner.url("assessment_section_edit", assessment.slug, section.pk),
        },
        status=400 if form.errors else 200,
    )


def _editor_refusal(request, owner, assessment, exc: GigdeskError) -> HttpResponse:
    if _is_partial(request):
        return _editor(request, owner, assessment, error=exc.message)
    messages.error(request, exc.message)
    return redirect(owner.url("assessment_detail", assessment.slug) + "#editor")


@require_POST
def section_remove(
    request: HttpRequest, owner: Owner, assessment_slug: str, section_id: int
) -> HttpResponse:
    assessment = _assessment(owner, assessment_slug)
    _require_author(request, assessment)
    section = _section(assessment, section_id)
    try:
        section_delete(actor=request.user, section=section)
    except Conflict as exc:
        return _editor_refusal(request, owner, assessment, exc)
    return _back_to_editor(request, owner, assessment, "#editor")


@require_POST
def section_reorder(
    request: HttpRequest, owner: Owner, assessment_slug: str, section_id: int
) -> HttpResponse:
    assessment = _assessment(owner, assessment_slug)
    _require_author(request, assessment)
    section = _section(assessment, section_id)
    offset = -1 if request.POST.get("direction") == "up" else 1
    try:
        section_move(actor=request.user, section=section, offset=offset)
    except Conflict as exc:
        return _editor_refusal(request, owner, assessment, exc)
    return _back_to_editor(request, owner, assessment, f"#section-{section.pk}")


@require_http_methods(["GET", "POST"])
def question_new(
    request: HttpRequest, owner: Owner, assessment_slug: str, section_id: int
) -> HttpResponse:
    assessment = _assessment(owner, assessment_slug)
    _require_author(request, assessment)
    section = _section(assessment, section_id)
    parent = None
    parent_id = request.GET.get("parent") or request.POST.get("parent") or ""
    if parent_id:
        if not parent_id.isdigit():
            raise NotFound("No such reading passage.")
        parent = _question(assessment, int(parent_id))
        if parent.section_id != section.pk or parent.type != QuestionType.READING:
            raise NotFound("No such reading passage.")
    question_type = request.GET.get("type") or request.POST.get("type") or ""
    allowed = CHILD_TYPES if parent else QuestionType.values
    if question_type not in allowed:
        raise NotFound("No such question type.")
    form = QuestionForm(request.POST or None, question_type=question_type)
    if request.method == "POST" and form.is_valid():
        try:
            created = question_create(
                actor=request.user, section=section, item=form.item(), parent=parent
            )
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            return _back_to_editor(request, owner, assessment, f"#question-{created.pk}")
    return _form_page(
        request,
        owner,
        assessment,
        template="assessments/authoring/question_form.html",
        context={
            "form": form,
            "section": section,
            "parent": parent,
            "question": None,
            "question_type": question_type,
            "action": owner.url("assessment_question_create", assessment.slug, section.pk),
        },
        status=400
        if form.errors or form.group_errors["choices"] or form.group_errors["rubric"]
        else 200,
    )


@require_http_methods(["GET", "POST"])
def question_edit(
    request: HttpRequest, owner: Owner, assessment_slug: str, question_id: int
) -> HttpResponse:
    assessment = _assessment(owner, assessment_slug)
    _require_author(request, assessment)
    question = _question(assessment, question_id)
    form = QuestionForm(
        request.POST or None,
        question_type=question.type,
        initial=QuestionForm.initial_for(question),
    )
    if request.method == "POST" and form.is_valid():
        try:
            question_update(actor=request.user, question=question, item=form.item())
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            return _back_to_editor(request, owner, assessment, f"#question-{question.pk}")
    return _form_page(
        request,
        owner,
        assessment,
        template="assessments/authoring/question_form.html",
        context={
            "form": form,
            "section": question.section,
            "parent": question.parent,
            "question": question,
            "question_type": question.type,
            "action": owner.url("assessment_question_edit", assessment.slug, question.pk),
        },
        status=400
        if form.errors or form.group_errors["choices"] or form.group_errors["rubric"]
        else 200,
    )


@require_POST
def question_remove(
    request: HttpRequest, owner: Owner, assessment_slug: str, question_id: int
) -> HttpResponse:
    assessment = _assessment(owner, assessment_slug)
    _require_author(request, assessment)
    question = _question(assessment, question_id)
    try:
        question_delete(actor=request.user, question=question)
    except Conflict as exc:
        return _editor_refusal(request, owner, assessment, exc)
    return _back_to_editor(request, owner, assessment, f"#section-{question.section_id}")


@require_POST
def question_reorder(
    request: HttpRequest, owner: Owner, assessment_slug: str, question_id: int
) -> HttpResponse:
    assessment = _assessment(owner, assessment_slug)
    _require_author(request, assessment)
    question = _question(assessment, question_id)
    offset = -1 if request.POST.get("direction") == "up" else 1
    try:
        question_move(actor=request.user, question=question, offset=offset)
    except Conflict as exc:
        return _editor_refusal(request, owner, assessment, exc)
    return _back_to_editor(request, owner, assessment, f"#question-{question.pk}")


staff_assessment_list, brand_assessment_list = _for_both(assessment_list)
staff_assessment_create, brand_assessment_create = _for_both(assessment_new)
staff_assessment_import, brand_assessment_import = _for_both(assessment_upload)
staff_assessment_detail, brand_assessment_detail = _for_both(assessment_detail)
staff_assessment_export, brand_assessment_export = _for_both(version_export)
staff_assessment_new_draft, brand_assessment_new_draft = _for_both(version_new_draft)
staff_assessment_publish, brand_assessment_publish = _for_both(version_publish_page)
staff_assessment_settings, brand_assessment_settings = _for_both(draft_settings)
staff_assessment_section_create, brand_assessment_section_create = _for_both(section_new)
staff_assessment_section_edit, brand_assessment_section_edit = _for_both(section_edit)
staff_assessment_section_delete, brand_assessment_section_delete = _for_both(section_remove)
staff_assessment_section_move, brand_assessment_section_move = _for_both(section_reorder)
staff_assessment_question_create, brand_assessment_question_create = _for_both(question_new)
staff_assessment_question_edit, brand_assessment_question_edit = _for_both(question_edit)
staff_assessment_question_delete, brand_assessment_question_delete = _for_both(question_remove)
staff_assessment_question_move, brand_assessment_question_move = _for_both(question_reorder)
