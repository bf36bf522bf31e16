"""Read-only admin for the ledger: money moves through payouts.services, never a form."""

from django.contrib import admin

from payouts.models import Entry, LedgerAccount, Posting


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EntryInline(ReadOnlyMixin, admin.TabularInline):
    model = Entry
    extra = 0
    fields = ["account", "amount_minor", "currency"]
    readonly_fields = fields
    can_delete = False


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "owner_label", "purpose", "currency", "balance_minor", "created_at"]
    list_filter = ["purpose", "currency"]
    search_fields = ["brand__name", "agent__email"]
    list_select_related = ["brand", "agent"]


@admin.register(Posting)
class PostingAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "kind", "idempotency_key", "reference", "reverses", "created_at"]
    list_filter = ["kind"]
    search_fields = ["idempotency_key", "reference", "memo"]
    inlines = [EntryInline]
    show_full_result_count = False


@admin.register(Entry)
class EntryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "posting", "account", "amount_minor", "currency"]
    list_filter = ["currency"]
    list_select_related = ["posting", "account__brand", "account__agent"]
    raw_id_fields = ["posting", "account"]
    show_full_result_count = False
