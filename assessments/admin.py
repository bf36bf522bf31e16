from django.contrib import admin

from assessments.models import (
    Assessment,
    AssessmentVersion,
    Attempt,
    BrandCertificationRequirement,
    Certification,
    GigCertificationRequirement,
)


@admin.register(Assessment)
class AssessmentAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "kind", "language", "brand"]
    list_filter = ["kind", "brand"]
    search_fields = ["title", "slug"]


@admin.register(AssessmentVersion)
class AssessmentVersionAdmin(admin.ModelAdmin):
    list_display = ["assessment", "number", "status", "published_at"]
    list_filter = ["status"]


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = ["agent", "assessment", "status", "started_at", "score", "level", "passed"]
    list_filter = ["status"]
    raw_id_fields = ["agent"]


@admin.register(Certification)
class CertificationAdmin(admin.ModelAdmin):
    list_display = ["agent", "assessment", "level", "score", "issued_at", "expires_at"]
    raw_id_fields = ["agent", "attempt"]


admin.site.register(GigCertificationRequirement)
admin.site.register(BrandCertificationRequirement)
