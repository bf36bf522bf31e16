from django.contrib import admin

from brands.models import (
    ApiKey,
    Brand,
    BrandHoliday,
    BrandInvitation,
    BrandMembership,
    BusinessHours,
    PoolMembership,
    WebhookDelivery,
    WebhookEndpoint,
)


class BrandMembershipInline(admin.TabularInline):
    model = BrandMembership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "time_zone", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [BrandMembershipInline]


@admin.register(BrandMembership)
class BrandMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "brand", "role", "created_at"]
    list_filter = ["role", "brand"]
    search_fields = ["user__email", "brand__name"]
    raw_id_fields = ["user"]


@admin.register(BrandInvitation)
class BrandInvitationAdmin(admin.ModelAdmin):
    list_display = [
        "email",
        "brand",
        "role",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    ]
    list_filter = ["role", "brand"]
    search_fields = ["email"]
    readonly_fields = ["token_hash"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "brand", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["brand"]
    search_fields = ["name", "prefix"]
    # Keys are created and revoked in the brand console, where it is audited.
    readonly_fields = [
        "prefix",
        "key_hash",
        "created_at",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]

    def has_add_permission(self, request):
        return False


@admin.register(PoolMembership)
class PoolMembershipAdmin(admin.ModelAdmin):
    list_display = ["agent", "brand", "status", "tier", "decided_at", "updated_at"]
    list_filter = ["status", "tier", "brand"]
    search_fields = ["agent__email", "brand__name"]
    list_select_related = ["agent", "brand"]
    # Applications, invitations and decisions go through the brand console and
    # the agent pages, where they are audited; here they can only be read.
    readonly_fields = [
        "brand",
        "agent",
        "status",
        "tier",
        "note",
        "invited_by",
        "decided_by",
        "decided_at",
        "reason",
        "reapply_after",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "brand", "is_active", "consecutive_failures", "failing_since"]
    list_filter = ["is_active", "brand"]
    search_fields = ["url", "description", "brand__name"]
    list_select_related = ["brand"]
    # Endpoints are managed in the brand console, where changes are audited
    # and the webhook cache is told; the signing secret is never shown here.
    exclude = ["secret", "previous_secret"]
    readonly_fields = [
        "brand",
        "url",
        "description",
        "events",
        "is_active",
        "consecutive_failures",
        "failing_since",
        "previous_secret_expires_at",
        "created_by",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "event_type",
        "event_id",
        "brand",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
    ]
    list_filter = ["status", "event_type", "brand"]
    search_fields = ["event_id", "endpoint__url"]
    list_select_related = ["brand", "endpoint"]
    # The delivery log is a record of what was sent: read it, never edit it.
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(BusinessHours)
class BusinessHoursAdmin(admin.ModelAdmin):
    list_display = ["brand", "weekday", "opens", "closes"]
    list_filter = ["brand"]


@admin.register(BrandHoliday)
class BrandHolidayAdmin(admin.ModelAdmin):
    list_display = ["brand", "date", "name"]
    list_filter = ["brand"]
