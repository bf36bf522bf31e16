"""Gigs (bodies of work a brand posts) and tasks (one customer's ticket each)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from marketplace.languages import LANGUAGE_CHOICES, CEFRLevel

currency_validator = RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code, like EUR.")


class BrandScopedQuerySet(models.QuerySet):
    def for_brand(self, brand):
        return self.filter(brand=brand)


class PayModel(models.TextChoices):
    PER_MINUTE = "per_minute", "Per minute"
    PER_RESOLUTION = "per_resolution", "Per resolution"


class DispatchMode(models.TextChoices):
    OPEN = "open", "Open claim: first eligible agent wins"
    DIRECTED = "directed", "Directed offer: best-matched agent gets a reservation"


class GigStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    CLOSED = "closed", "Closed"


class Gig(models.Model):
    brand = models.ForeignKey("brands.Brand", on_delete=models.CASCADE, related_name="gigs")
    title = models.CharField(max_length=140)
    description = models.TextField(blank=True, max_length=10000)
    language = models.CharField(max_length=8, choices=LANGUAGE_CHOICES)
    min_language_level = models.CharField(
        max_length=2, choices=CEFRLevel.choices, default=CEFRLevel.B2
    )
    required_skills = models.ManyToManyField("marketplace.Skill", blank=True, related_name="gigs")
    pay_model = models.CharField(max_length=20, choices=PayModel.choices)
    rate_minor = models.PositiveIntegerField(
        help_text="Pay per minute or per resolution, in the currency's minor unit (cents).",
        validators=[MinValueValidator(1)],
    )
    currency = models.CharField(max_length=3, default="EUR", validators=[currency_validator])
    max_tasks_per_agent = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    sla_first_response_seconds = models.PositiveIntegerField(
        default=15 * 60, validators=[MinValueValidator(10)]
    )
    budget_cap_minor = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Most the gig may spend, in minor units; empty = no cap."
    )
    dispatch_mode = models.CharField(
        max_length=10, choices=DispatchMode.choices, default=DispatchMode.OPEN
    )
    status = models.CharField(max_length=10, choices=GigStatus.choices, default=GigStatus.ACTIVE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BrandScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["brand", "status"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(rate_minor__gt=0), name="gig_rate_positive"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def accepts_tasks(self) -> bool:
        return self.status != GigStatus.CLOSED


class TaskStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    OFFERED = "offered", "Offered"
    CLAIMED = "claimed", "Claimed"
    RESOLVED = "resolved", "Resolved"
    ESCALATED = "escalated", "Escalated"
    CANCELLED = "cancelled", "Cancelled"


class TaskPriority(models.IntegerChoices):
    LOW = 10, "Low"
    NORMAL = 20, "Normal"
    HIGH = 30, "High"
    URGENT = 40, "Urgent"


class Task(models.Model):
    # brand is the gig's brand, repeated so that tenant filters, the
    # external_id uniqueness rule and the hot list index need no join.
    brand = models.ForeignKey("brands.Brand", on_delete=models.CASCADE, related_name="tasks")
    gig = models.ForeignKey(Gig, on_delete=models.PROTECT, related_name="tasks")
    subject = models.CharField(max_length=200)
    customer_reference = models.CharField(max_length=120, blank=True)
    language = models.CharField(max_length=8, choices=LANGUAGE_CHOICES)
    priority = models.PositiveSmallIntegerField(
        choices=TaskPriority.choices, default=TaskPriority.NORMAL
    )
    # NULL, not "", means "none given": the partial unique constraint skips it.
    external_id = models.CharField(max_length=120, null=True, blank=True)  # noqa: DJ001
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The agent working the task now. Cleared on release; the audit log keeps
    # who held it before.
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="held_tasks",
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    objects = BrandScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            # Lists are newest first by id (ids grow with creation time) so that
            # cursor pagination and the filtered brand lists walk an index.
            models.Index(fields=["brand", "-id"], name="task_brand_recent"),
            models.Index(fields=["brand", "status", "-id"], name="task_brand_status"),
            models.Index(fields=["brand", "gig", "status", "-id"], name="task_brand_gig_status"),
            models.Index(fields=["gig", "status", "priority"], name="task_gig_queue"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="task_external_id_unique_per_brand",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"


class MessageKind(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    AGENT = "agent", "Agent"
    NOTE = "note", "Internal note"


class Message(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="messages")
    brand = models.ForeignKey("brands.Brand", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=MessageKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    author_name = models.CharField(max_length=120, blank=True)
    body = models.TextField(max_length=20000)
    # NULL, not "", means "none given": the partial unique constraint skips it.
    external_id = models.CharField(max_length=120, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BrandScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="message_external_id_unique_per_task",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on task {self.task_id}"


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a worker"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Imported"
    FAILED = "failed", "Rejected"


class TaskImport(models.Model):
    """A CSV upload of tasks, processed by a background job, all or nothing."""

    brand = models.ForeignKey("brands.Brand", on_delete=models.CASCADE, related_name="task_imports")
    gig = models.ForeignKey(Gig, on_delete=models.CASCADE, related_name="imports")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(max_length=255)
    content = models.TextField(help_text="The uploaded file, decoded as UTF-8.")
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(
        default=0, help_text="Rows whose external_id the brand had already used."
    )
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = BrandScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in {ImportStatus.SUCCEEDED, ImportStatus.FAILED}

    @property
    def percent_done(self) -> int:
        if self.is_finished:
            return 100
        if not self.total_rows:
            return 0
        return min(99, self.processed_rows * 100 // self.total_rows)


# --- Live dispatch ----------------------------------------------------------------


class PresenceStatus(models.TextChoices):
    ONLINE = "online", "Online"
    PAUSED = "paused", "Paused"
    OFFLINE = "offline", "Offline"


class AgentPresence(models.Model):
    """Whether an agent takes work right now: one row per agent user.

    The row is also the lock that serialises one agent's claims, so that two
    concurrent claims cannot both pass the hold-limit check.
    """

    agent = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presence"
    )
    status = models.CharField(
        max_length=10, choices=PresenceStatus.choices, default=PresenceStatus.OFFLINE
    )
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status"], name="presence_status")]

    def __str__(self) -> str:
        return f"{self.agent} ({self.get_status_display()})"
