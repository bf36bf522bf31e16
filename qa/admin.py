from django.contrib import admin

from qa.models import (
    AutoQAFinding,
    BrandQASettings,
    CalibrationInvite,
    CalibrationSession,
    Dispute,
    GigQASettings,
    Review,
    ReviewAssignment,
    ReviewRevision,
    Scorecard,
    ScorecardCategory,
    ScorecardVersion,
    TierChange,
)


class ReadOnlyAdmin:
    """QA rows change only through ``qa.services`` and ``qa.scorecards``, which
    freeze published versions and submitted reviews and write the audit log;
    the admin shows them and never edits them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ScorecardCategoryInline(ReadOnlyAdmin, admin.TabularInline):
    model = ScorecardCategory
    extra = 0


@admin.register(Scorecard)
class ScorecardAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["name", "brand", "is_default", "created_at"]
    list_filter = ["is_default"]
    search_fields = ["name"]


@admin.register(ScorecardVersion)
class ScorecardVersionAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["scorecard", "number", "status", "pass_mark", "published_at"]
    list_filter = ["status"]
    inlines = [ScorecardCategoryInline]


@admin.register(GigQASettings)
class GigQASettingsAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["gig", "scorecard", "random_pct", "min_qa_score", "bonus_kind"]
    raw_id_fields = ["gig"]


@admin.register(BrandQASettings)
class BrandQASettingsAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["brand", "hide_reviewer_identity"]


@admin.register(ReviewAssignment)
class ReviewAssignmentAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["task", "brand", "agent", "reviewer", "status", "due_at"]
    list_filter = ["status"]
    raw_id_fields = ["task", "gig", "agent", "reviewer"]


class ReviewRevisionInline(ReadOnlyAdmin, admin.TabularInline):
    model = ReviewRevision
    extra = 0
    can_delete = False
    readonly_fields = ["number", "score", "passed", "critical_fail", "created_by", "reason"]
    fields = readonly_fields


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["task", "brand", "agent", "reviewer", "status", "score", "submitted_at"]
    list_filter = ["status", "is_calibration"]
    raw_id_fields = ["assignment", "task", "gig", "agent", "reviewer", "calibration_session"]
    inlines = [ReviewRevisionInline]


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["review", "agent", "decision", "created_at", "due_at", "decided_at"]
    raw_id_fields = ["review", "agent", "decided_by"]


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["agent", "brand", "from_tier", "to_tier", "is_override", "created_at"]
    raw_id_fields = ["agent", "membership", "actor"]


@admin.register(AutoQAFinding)
class AutoQAFindingAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["task", "kind", "category_hint", "leak", "created_at"]
    list_filter = ["kind", "leak"]
    raw_id_fields = ["task"]


class CalibrationInviteInline(ReadOnlyAdmin, admin.TabularInline):
    model = CalibrationInvite
    extra = 0
    raw_id_fields = ["reviewer"]


@admin.register(CalibrationSession)
class CalibrationSessionAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["task", "brand", "status", "created_at", "closed_at"]
    raw_id_fields = ["task", "gold_review"]
    inlines = [CalibrationInviteInline]
