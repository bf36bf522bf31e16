"""Read-only admin for the ledger: money moves through payouts.services, never a form."""

from django.contrib import admin

from payouts.models import (
    BrandTerms,
    Earning,
    Entry,
    LedgerAccount,
    PayoutAccount,
    PayRun,
    PayRunLine,
    PayRunSkip,
    Posting,
    StripeEvent,
    TopUp,
)
from payouts.selectors import account_balance


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
    list_display = ["id", "owner_label", "purpose", "currency", "balance", "created_at"]
    list_filter = ["purpose", "currency"]
    search_fields = ["brand__name", "agent__email"]
    list_select_related = ["brand", "agent"]

    @admin.display(description="Balance (minor units)")
    def balance(self, account: LedgerAccount) -> int:
        # The platform's accounts keep no cached balance: summed from entries.
        return account_balance(account)


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


# --- Funding and Stripe events: written by payouts.funding and payouts.stripe_events ---


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["event_id", "type", "account", "status", "attempts", "received_at"]
    list_filter = ["status", "type", "livemode"]
    search_fields = ["event_id", "account"]
    show_full_result_count = False


@admin.register(TopUp)
class TopUpAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "brand", "amount_minor", "currency", "status", "created_at", "paid_at"]
    list_filter = ["status", "currency"]
    search_fields = ["brand__name", "checkout_session_id", "created_by__email"]
    list_select_related = ["brand"]
    raw_id_fields = ["brand", "created_by", "posting"]


@admin.register(BrandTerms)
class BrandTermsAdmin(admin.ModelAdmin):
    """The one money form in the admin: staff set a brand's fee and hold.
    New work is priced on the terms of its day; posted earnings keep theirs."""

    list_display = ["brand", "platform_fee_bps", "hold_days", "updated_at"]
    search_fields = ["brand__name"]
    autocomplete_fields = ["brand"]


@admin.register(Earning)
class EarningAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "agent", "brand", "amount_minor", "fee_minor", "currency", "status"]
    list_filter = ["status", "currency", "pay_model"]
    search_fields = ["agent__email", "brand__name"]
    list_select_related = ["agent", "brand"]


@admin.register(PayoutAccount)
class PayoutAccountAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "agent",
        "stripe_account_id",
        "payouts_enabled",
        "details_submitted",
        "synced_at",
    ]
    search_fields = ["agent__email", "stripe_account_id"]
    list_select_related = ["agent"]


# --- Pay runs: staff work them through the console (payouts.payruns), never here. ---------


class PayRunLineInline(ReadOnlyMixin, admin.TabularInline):
    model = PayRunLine
    extra = 0
    fields = ["agent", "amount_minor", "currency", "status", "attempt", "stripe_transfer_id"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(PayRun)
class PayRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "currency", "cutoff_at", "status", "created_by", "approved_by"]
    list_filter = ["status", "currency"]
    list_select_related = ["created_by", "approved_by"]
    inlines = [PayRunLineInline]


@admin.register(PayRunLine)
class PayRunLineAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "run",
        "agent",
        "amount_minor",
        "currency",
        "status",
        "attempt",
        "stripe_transfer_id",
        "reversed_minor",
    ]
    list_filter = ["status", "currency"]
    search_fields = ["agent__email", "stripe_transfer_id", "destination"]
    list_select_related = ["run", "agent"]


@admin.register(PayRunSkip)
class PayRunSkipAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "run", "agent", "amount_minor", "reason_code"]
    list_filter = ["reason_code"]
    list_select_related = ["run", "agent"]
