"""Brands (the tenants), their members, invitations and API keys."""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.utils import timezone

from marketplace.models import Weekday, validate_time_zone


class Brand(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    support_email = models.EmailField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BrandRole(models.TextChoices):
    ADMIN = "admin", "Admin"
    QA_REVIEWER = "qa_reviewer", "QA reviewer"
    VIEWER = "viewer", "Viewer"


class BrandMembership(models.Model):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="brand_memberships"
    )
    role = models.CharField(max_length=20, choices=BrandRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["brand__name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "user"], name="brandmembership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.brand} ({self.get_role_display()})"


class InvitationQuerySet(models.QuerySet["BrandInvitation"]):
    def pending(self):
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )


class BrandInvitation(models.Model):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=BrandRole.choices)
    # Only the SHA-256 of the token is stored; the token itself is in the email.
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} → {self.brand} ({self.get_role_display()})"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A brand's credential for the REST API.

    The secret is shown once at creation. We keep its public ``prefix`` to
    find the row and the SHA-256 of the whole key to check it: the key has
    256 bits of randomness, so a slow password hash would add nothing but
    latency to every API request.
    """

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# --- Agent pools ------------------------------------------------------------------


class PoolStatus(models.TextChoices):
    INVITED = "invited", "Invited"
    APPLIED = "applied", "Applied"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    BLOCKED = "blocked", "Blocked"


class PoolTier(models.IntegerChoices):
    """How much a brand trusts an approved agent: 1 (new) to 5 (top).

    An integer, not a label, so that dispatch can rank candidates with a plain
    ``ORDER BY tier DESC``; higher is better. Every member starts at 1.
    """

    NEW = 1, "1 · New"
    STANDARD = 2, "2 · Standard"
    TRUSTED = 3, "3 · Trusted"
    PREFERRED = 4, "4 · Preferred"
    TOP = 5, "5 · Top"


class PoolMembershipQuerySet(models.QuerySet["PoolMembership"]):
    def for_brand(self, brand):
        return self.filter(brand=brand)

    def approved(self):
        return self.filter(status=PoolStatus.APPROVED)


class PoolMembership(models.Model):
    """An agent's standing in one brand's pool: only approved members get its work.

    One row per (brand, agent) for the whole relationship: applying again,
    a new invitation or a block change this row, and the audit log keeps the
    history. An invitation the agent declines deletes the row.
    """

    NOTE_MAX_LENGTH = 1000

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="pool_memberships")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pool_memberships"
    )
    status = models.CharField(max_length=10, choices=PoolStatus.choices)
    tier = models.PositiveSmallIntegerField(choices=PoolTier.choices, default=PoolTier.NEW)
    note = models.TextField(
        "application note",
        blank=True,
        max_length=NOTE_MAX_LENGTH,
        help_text="The agent's own words to the brand when applying.",
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(
        blank=True,
        max_length=NOTE_MAX_LENGTH,
        help_text="Why the agent was rejected or blocked; the agent sees it.",
    )
    # Set when an application is rejected: the agent may apply again from then.
    reapply_after = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PoolMembershipQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "agent"], name="poolmembership_unique"),
            models.CheckConstraint(
                condition=models.Q(tier__gte=1, tier__lte=5), name="poolmembership_tier_range"
            ),
        ]
        indexes = [
            # Dispatch and the pool page: a brand's members in one status, best tier first.
            models.Index(fields=["brand", "status", "-tier"], name="pool_brand_status_tier"),
            # The agent's own page and eligibility checks: one agent's pools.
            models.Index(fields=["agent", "status"], name="pool_agent_status"),
        ]

    def __str__(self) -> str:
        return f"{self.agent} in {self.brand} pool ({self.get_status_display()})"


# --- Webhooks ---------------------------------------------------------------------


class WebhookEventType(models.TextChoices):
    """The task events a brand's endpoint can subscribe to."""

    TASK_CLAIMED = "task.claimed", "Task claimed by an agent"
    TASK_MESSAGE_CREATED = "task.message.created", "Message added to a task"
    TASK_RESOLVED = "task.resolved", "Task resolved"
    TASK_ESCALATED = "task.escalated", "Task escalated to your team"
    TASK_RELEASED = "task.released", "Task released back to the queue"


# Sent only by the "send test event" button; no endpoint subscribes to it.
WEBHOOK_PING_EVENT = "ping"


class WebhookEndpointQuerySet(models.QuerySet["WebhookEndpoint"]):
    def for_brand(self, brand):
        return self.filter(brand=brand)

    def active(self):
        return self.filter(is_active=True)


class WebhookEndpoint(models.Model):
    """A URL of the brand's own systems that receives signed task events.

    The signing secret is stored in the clear: unlike an API key, which we
    only need to recognise, we need the secret itself to sign every delivery.
    """

    URL_MAX_LENGTH = 500

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField("URL", max_length=URL_MAX_LENGTH)
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=80)
    # After a rotation the previous secret signs too (a second v1= in the
    # header) until this moment, so receivers can switch without losing events.
    previous_secret = models.CharField(max_length=80, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    events = models.JSONField(default=list, help_text="Subscribed event types.")
    is_active = models.BooleanField(default=True)
    # Failed attempts in a row; a successful delivery resets it.
    consecutive_failures = models.PositiveIntegerField(default=0)
    # Set when a delivery used up all its attempts; cleared by the next success.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url

    @property
    def is_failing(self) -> bool:
        return self.failing_since is not None

    def event_labels(self) -> list[str]:
        labels = dict(WebhookEventType.choices)
        return [labels.get(event, event) for event in self.events]


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDeliveryQuerySet(models.QuerySet["WebhookDelivery"]):
    def for_brand(self, brand):
        return self.filter(brand=brand)

    def open(self):
        return self.filter(
            status__in=[WebhookDeliveryStatus.PENDING, WebhookDeliveryStatus.RETRYING]
        )


class WebhookDelivery(models.Model):
    """One event on its way to one endpoint, with every attempt's outcome.

    ``body`` is the exact JSON text sent, kept as text rather than JSON so
    that every attempt and every redelivery sends the same bytes (a JSON
    column may reorder keys). A redelivery is a new row with the same
    ``event_id`` and body, so receivers can recognise it.
    """

    RESPONSE_EXCERPT_LENGTH = 500

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # Denormalised from the endpoint, so the brand's log is one index range.
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="webhook_deliveries")
    event_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=40)
    body = models.TextField()
    status = models.CharField(
        max_length=10, choices=WebhookDeliveryStatus.choices, default=WebhookDeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=8)
    # When the next attempt is due; while an attempt is in flight, when that
    # attempt's claim runs out (see brands.webhooks.webhook_delivery_attempt).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    last_response_excerpt = models.TextField(blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="redeliveries"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The brand's delivery log, newest first.
            models.Index(fields=["brand", "-id"], name="webhookdelivery_brand_log"),
            # One endpoint's log on its page.
            models.Index(fields=["endpoint", "-id"], name="webhookdelivery_endpoint_log"),
            # The sweep for due attempts whose job was lost.
            models.Index(fields=["status", "next_attempt_at"], name="webhookdelivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → {self.endpoint_id}"

    @property
    def is_open(self) -> bool:
        return self.status in (WebhookDeliveryStatus.PENDING, WebhookDeliveryStatus.RETRYING)


# --- Business hours ---------------------------------------------------------------


class BusinessHours(models.Model):
    """One opening interval of a brand on a weekday, in the brand's ``time_zone``.

    A brand with no rows at all is open 24/7 (holidays aside). A weekday
    without rows, when other weekdays have some, is closed. ``closes`` of
    00:00 means midnight at the end of the day, so "18:00–00:00" is the
    evening and "00:00–00:00" the whole day. ``brands.business_hours_services``
    keeps a weekday's intervals few and apart; the database only checks each
    row on its own.
    """

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="business_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField(help_text="00:00 means midnight at the end of the day.")

    class Meta:
        ordering = ["brand", "weekday", "opens"]
        verbose_name_plural = "business hours"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weekday__gte=0, weekday__lte=6),
                name="businesshours_weekday_range",
            ),
            models.CheckConstraint(
                condition=models.Q(closes__gt=models.F("opens")) | models.Q(closes=time(0)),
                name="businesshours_closes_after_opens",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand} {self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class BrandHoliday(models.Model):
    """A local date on which the brand is closed all day, whatever its weekly hours."""

    NAME_MAX_LENGTH = 80

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["brand", "date"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "date"], name="brandholiday_unique_date")
        ]

    def __str__(self) -> str:
        return f"{self.brand} closed {self.date:%Y-%m-%d} ({self.name})"
