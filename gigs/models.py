"""Gigs (bodies of work a brand posts) and tasks (one customer's ticket each)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
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


# Longest SLA target a gig may set: 90 days.
SLA_TARGET_MAX_SECONDS = 90 * 24 * 3600


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
    # Further SLA targets (gigs/sla.py); empty = no target. Counted in the
    # brand's business hours unless ``sla_business_hours`` is off.
    sla_next_response_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(10), MaxValueValidator(SLA_TARGET_MAX_SECONDS)],
        help_text="Target from each later customer message to the agent's reply; empty = none.",
    )
    sla_resolution_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(10), MaxValueValidator(SLA_TARGET_MAX_SECONDS)],
        help_text="Target from the task's arrival to its resolution; empty = none.",
    )
    sla_business_hours = models.BooleanField(
        default=True,
        help_text="Count SLA targets in the brand's business hours (on) or around the clock (off).",
    )
    budget_cap_minor = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Most the gig may spend, in minor units; empty = no cap."
    )
    dispatch_mode = models.CharField(
        max_length=10, choices=DispatchMode.choices, default=DispatchMode.OPEN
    )
    reservation_timeout_seconds = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(5), MaxValueValidator(600)],
        help_text="Directed dispatch: how long an agent has to accept a reserved task.",
    )
    heartbeat_grace_seconds = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(15), MaxValueValidator(900)],
        help_text="Billing stops at the last heartbeat once none has come for this long.",
    )
    lease_seconds = models.PositiveIntegerField(
        default=300,
        validators=[MinValueValidator(60), MaxValueValidator(3600)],
        help_text="A task whose agent has been silent this long goes back to the queue.",
    )
    max_billable_minutes = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text="Per-minute gigs: the most time one task may bill.",
    )
    # What a claim sets aside from the brand's balance on a per-minute gig:
    # this many minutes at the rate (plus the fee), settled against the real
    # cost when the work record is final. At most ``max_billable_minutes``.
    reserve_minutes = models.PositiveIntegerField(
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text="Per-minute gigs: minutes of work set aside from the balance for each claim.",
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

    def clean(self) -> None:
        super().clean()
        if (
            self.reserve_minutes is not None
            and self.max_billable_minutes is not None
            and self.reserve_minutes > self.max_billable_minutes
        ):
            raise ValidationError(
                {
                    "reserve_minutes": [
                        f"Reserve at most the most billable minutes per task "
                        f"({self.max_billable_minutes}): a claim never needs more."
                    ]
                }
            )

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
    # Directed dispatch: the one agent who may claim the task until the
    # reservation expires (status "offered").
    reserved_for = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reserved_tasks",
    )
    reservation_expires_at = models.DateTimeField(null=True, blank=True)
    resolution_code = models.CharField(max_length=40, blank=True)
    escalation_reason = models.TextField(blank=True, max_length=2000)
    csat_score = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    csat_comment = models.TextField(blank=True, max_length=2000)
    csat_at = models.DateTimeField(null=True, blank=True)

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
            # The claim's walk: the queue's head in claim order, and a gig's
            # queue in claim order (the planner picks by how many gigs are open
            # to the agent). Partial, so claimed and closed tasks cost nothing.
            models.Index(
                fields=["-priority", "id"],
                condition=models.Q(status="queued", holder__isnull=True),
                name="task_claim_order",
            ),
            models.Index(
                fields=["gig", "-priority", "id"],
                condition=models.Q(status="queued", holder__isnull=True),
                name="task_gig_claim_order",
            ),
            # The expiry sweeps: claimed tasks past their lease, offers past their time.
            # Partial on the one status each sweep reads, so that no other
            # query on that status is tempted to walk them.
            models.Index(
                fields=["lease_expires_at"],
                condition=models.Q(status="claimed"),
                name="task_lease_due",
            ),
            models.Index(
                fields=["reservation_expires_at"],
                condition=models.Q(status="offered"),
                name="task_reservation_due",
            ),
            # The hold limit: how many tasks of a gig an agent holds.
            models.Index(
                fields=["holder", "gig"],
                condition=models.Q(status="claimed"),
                name="task_held_by_agent",
            ),
            models.Index(fields=["holder", "status"], name="task_holder_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="task_external_id_unique_per_brand",
            ),
            models.CheckConstraint(
                condition=models.Q(csat_score__isnull=True)
                | models.Q(csat_score__gte=1, csat_score__lte=5),
                name="task_csat_one_to_five",
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
    # Set by dispatch, not the agent: several reservations in a row lapsed.
    AWAY = "away", "Away (missed offers)"
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
    # Directed dispatch offers to the agent idle longest: the last claim or
    # reservation, NULL for never.
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    lapsed_in_a_row = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status"], name="presence_status")]

    def __str__(self) -> str:
        return f"{self.agent} ({self.get_status_display()})"


class ReservationOutcome(models.TextChoices):
    PENDING = "pending", "Waiting for the agent"
    ACCEPTED = "accepted", "Claimed"
    REJECTED = "rejected", "Rejected"
    LAPSED = "lapsed", "Lapsed"
    WITHDRAWN = "withdrawn", "Withdrawn"


class TaskReservation(models.Model):
    """One directed offer of a task to one agent, or an agent passing on an open task.

    Dispatch reads these to move a task to the next agent and never back to
    one who already let it go.
    """

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="reservations")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="task_reservations"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=10, choices=ReservationOutcome.choices, default=ReservationOutcome.PENDING
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["task", "agent"], name="reservation_task_agent")]
        constraints = [
            models.UniqueConstraint(
                fields=["task"],
                condition=models.Q(outcome="pending"),
                name="reservation_one_pending_per_task",
            ),
        ]

    def __str__(self) -> str:
        return f"Task {self.task_id} → {self.agent} ({self.get_outcome_display()})"


class SessionOutcome(models.TextChoices):
    RESOLVED = "resolved", "Resolved"
    ESCALATED = "escalated", "Escalated"
    RELEASED = "released", "Released by the agent"
    LEASE_EXPIRED = "lease_expired", "Returned to the queue (agent silent)"
    CANCELLED = "cancelled", "Task cancelled"


class WorkSession(models.Model):
    """An agent's hold on a task, from claim to resolve, escalate or release.

    Billable time is the sum of active intervals. An interval runs while
    heartbeats keep coming; once none has come for the grace period it ends
    at the last one, and the next heartbeat opens a new interval.
    ``closed_ms`` holds the finished intervals; the open one runs from
    ``active_since`` to the last heartbeat (or to now, within the grace).
    """

    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="work_sessions")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="work_sessions"
    )
    brand = models.ForeignKey("brands.Brand", on_delete=models.PROTECT, related_name="+")
    gig = models.ForeignKey(Gig, on_delete=models.PROTECT, related_name="work_sessions")
    # The gig's terms when the task was claimed: later edits to the gig do not
    # change the price of work already under way.
    pay_model = models.CharField(max_length=20, choices=PayModel.choices)
    rate_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    grace_seconds = models.PositiveIntegerField()
    lease_seconds = models.PositiveIntegerField()
    max_billable_seconds = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    active_since = models.DateTimeField()
    last_heartbeat_at = models.DateTimeField()
    closed_ms = models.PositiveBigIntegerField(default=0)
    # What the claim set aside from the brand's balance (payouts.reservations),
    # released when the work record settles. 0 for sessions opened before
    # reservations existed: their settlement releases nothing.
    reserved_minor = models.BigIntegerField(default=0)
    ended_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=SessionOutcome.choices, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["agent", "ended_at"], name="session_agent_open")]
        constraints = [
            # The database's own guarantee that a task is worked by one agent at a time.
            models.UniqueConstraint(
                fields=["task"],
                condition=models.Q(ended_at__isnull=True),
                name="session_one_open_per_task",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent} on task {self.task_id}"


class WorkRecordQuerySet(models.QuerySet["WorkRecord"]):
    def update(self, **kwargs):  # noqa: ARG002
        raise TypeError("Work records are immutable.")

    def delete(self):
        raise TypeError("Work records are immutable.")


class WorkRecord(models.Model):
    """What one finished work session earned the right to be paid for. Never changes.

    The payouts app turns these into earnings: per-minute gigs pay
    ``billable_seconds`` at ``rate_minor`` per minute, per-resolution gigs pay
    ``rate_minor`` for a record whose outcome is "resolved".
    """

    session = models.OneToOneField(WorkSession, on_delete=models.PROTECT, related_name="record")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="work_records"
    )
    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="work_records")
    gig = models.ForeignKey(Gig, on_delete=models.PROTECT, related_name="work_records")
    brand = models.ForeignKey("brands.Brand", on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    billable_seconds = models.PositiveIntegerField()
    outcome = models.CharField(max_length=20, choices=SessionOutcome.choices)
    resolution_code = models.CharField(max_length=40, blank=True)
    pay_model = models.CharField(max_length=20, choices=PayModel.choices)
    rate_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WorkRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["agent", "-id"], name="workrecord_agent_recent"),
            models.Index(fields=["brand", "-id"], name="workrecord_brand_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.agent} · task {self.task_id} · {self.billable_seconds}s {self.outcome}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("Work records are immutable.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Work records are immutable.")


class ResolutionCode(models.Model):
    """A brand's codes for how a task ended (the agent picks one to resolve)."""

    brand = models.ForeignKey(
        "brands.Brand", on_delete=models.CASCADE, related_name="resolution_codes"
    )
    code = models.SlugField(max_length=40)
    label = models.CharField(max_length=120)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "code"], name="resolutioncode_unique_per_brand"
            )
        ]

    def __str__(self) -> str:
        return self.label


class CannedReply(models.Model):
    """A brand's ready-made answer that agents insert into a reply and adapt."""

    brand = models.ForeignKey(
        "brands.Brand", on_delete=models.CASCADE, related_name="canned_replies"
    )
    title = models.CharField(max_length=120)
    body = models.TextField(max_length=5000)
    language = models.CharField(max_length=8, choices=LANGUAGE_CHOICES, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BrandScopedQuerySet.as_manager()

    class Meta:
        ordering = ["title", "id"]
        verbose_name_plural = "canned replies"

    def __str__(self) -> str:
        return self.title


# --- Task event history (analytics) ------------------------------------------------


class TaskEventKind(models.TextChoices):
    CREATED = "created", "Created"
    # Back in the queue after a release, a lapsed or declined reservation, or a reopen.
    QUEUED = "queued", "Back in the queue"
    OFFERED = "offered", "Offered to one agent (directed)"
    RESERVATION_LAPSED = "reservation_lapsed", "Offer lapsed unanswered"
    RESERVATION_DECLINED = "reservation_declined", "Offer declined"
    CLAIMED = "claimed", "Claimed"
    # The agent let go, or their lease expired: ``data["reason"]`` says which.
    RELEASED = "released", "Released"
    CUSTOMER_MESSAGE = "customer_message", "Customer message"
    AGENT_MESSAGE = "agent_message", "Agent reply"
    RESOLVED = "resolved", "Resolved"
    ESCALATED = "escalated", "Escalated"
    # No service cancels or reopens a task yet (the demo seed cancels some):
    # the kinds exist so that histories and metrics need no change when one does.
    CANCELLED = "cancelled", "Cancelled"
    REOPENED = "reopened", "Reopened"
    # The customer's CSAT rating: ``data["score"]`` is 1–5.
    RATED = "rated", "Rated"


class TaskEventQuerySet(models.QuerySet["TaskEvent"]):
    def update(self, **kwargs):  # noqa: ARG002
        raise TypeError("Task events are append-only.")

    def delete(self):
        raise TypeError("Task events are append-only.")


class TaskEvent(models.Model):
    """One thing that happened to a task, written when it happened. Never changes.

    Analytics reads these, never the task's current state, so that a figure for
    a past hour stays what it was. Brand and gig repeat the task's so that
    roll-ups per brand, gig and hour need no join.
    """

    # No single-column indexes on task and brand: the composite indexes below
    # start with them, and every index is one more write on the claim path.
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="events", db_index=False)
    brand = models.ForeignKey(
        "brands.Brand", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    gig = models.ForeignKey(Gig, on_delete=models.CASCADE, related_name="+")
    # Who did it, when an agent did; the event outlives the account.
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=24, choices=TaskEventKind.choices)
    # The business moment (a backfill writes the historical time), not the insert time.
    occurred_at = models.DateTimeField()
    # Small extras only: a rating's score, a work session or message id, a release reason.
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TaskEventQuerySet.as_manager()

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["brand", "occurred_at"], name="taskevent_brand_time"),
            models.Index(fields=["task", "occurred_at"], name="taskevent_task_time"),
            # The metrics roll-up's pass: events written since its previous pass.
            models.Index(fields=["created_at"], name="taskevent_written"),
        ]

    def __str__(self) -> str:
        return f"Task {self.task_id}: {self.kind} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Task events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Task events are append-only.")
