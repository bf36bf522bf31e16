from django.contrib import admin

from gigs.models import Gig, Message, Task, TaskImport


@admin.register(Gig)
class GigAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "brand",
        "language",
        "pay_model",
        "rate_minor",
        "currency",
        "dispatch_mode",
        "status",
    ]
    list_filter = ["status", "pay_model", "dispatch_mode", "language", "brand"]
    search_fields = ["title"]
    filter_horizontal = ["required_skills"]


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["kind", "author_name", "body", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["id", "subject", "brand", "gig", "language", "priority", "status", "created_at"]
    list_filter = ["status", "priority", "language", "brand"]
    search_fields = ["subject", "external_id", "customer_reference"]
    raw_id_fields = ["gig"]
    inlines = [MessageInline]
    show_full_result_count = False  # counting a million rows on every page is slow


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["task", "kind", "author_name", "created_at"]
    list_filter = ["kind"]
    raw_id_fields = ["task", "author"]


@admin.register(TaskImport)
class TaskImportAdmin(admin.ModelAdmin):
    list_display = [
        "file_name",
        "brand",
        "gig",
        "status",
        "total_rows",
        "created_count",
        "created_at",
    ]
    list_filter = ["status", "brand"]
    readonly_fields = ["content", "errors"]
