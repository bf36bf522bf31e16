"""Platform-wide models: the user, the agent profile, skills and the audit log."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django_countries.fields import CountryField

from marketplace.languages import LANGUAGE_CHOICES, CEFRLevel


class AccountType(models.TextChoices):
    AGENT = "agent", "I want to work as an agent"
    BRAND = "brand", "I represent a brand"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address.

    ``account_type`` is what they chose at sign-up; brand roles live on
    ``brands.BrandMembership`` and platform staff are ``is_staff`` users.
    """

    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    account_type = models.CharField(
        max_length=10, choices=AccountType.choices, default=AccountType.AGENT
    )
    is_staff = models.BooleanField(
        default=False, help_text="Platform staff: can use the staff console and the admin."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    @property
    def public_name(self) -> str:
        """The name customers and brands see for an agent: never the email."""
        profile = getattr(self, "agent_profile", None) if self.is_agent else None
        if profile is not None and profile.display_name:
            return profile.display_name
        return self.get_short_name() if self.full_name else "Agent"

    @property
    def is_agent(self) -> bool:
        return self.account_type == AccountType.AGENT

    @property
    def is_brand_user(self) -> bool:
        return self.account_type == AccountType.BRAND


class Skill(models.Model):
    """A tag describing what an agent can do and what a gig requires."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=80)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (for example Europe/Madrid).")


class AgentProfile(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="agent_profile")
    display_name = models.CharField(max_length=80)
    country = CountryField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    skills = models.ManyToManyField(Skill, blank=True, related_name="agents")
    bio = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.display_name


class AgentLanguage(models.Model):
    profile = models.ForeignKey(AgentProfile, on_delete=models.CASCADE, related_name="languages")
    language = models.CharField(max_length=8, choices=LANGUAGE_CHOICES)
    level = models.CharField(max_length=2, choices=CEFRLevel.choices)

    class Meta:
        ordering = ["language"]
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "language"], name="agentlanguage_one_level_per_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_language_display()} {self.level}"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class AvailabilitySlot(models.Model):
    """A weekly window, in the agent's own time zone, when they expect to work."""

    profile = models.ForeignKey(AgentProfile, on_delete=models.CASCADE, related_name="availability")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts_at = models.TimeField()
    ends_at = models.TimeField()

    class Meta:
        ordering = ["weekday", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="availabilityslot_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts_at:%H:%M}–{self.ends_at:%H:%M}"


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs):  # noqa: ARG002
        raise TypeError("The audit log is append-only.")

    def delete(self):
        raise TypeError("The audit log is append-only.")


class AuditEvent(models.Model):
    """One sensitive action. Rows are written once and never changed."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(
        max_length=254, help_text="Who acted, kept even if the user is later deleted."
    )
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    brand = models.ForeignKey(
        "brands.Brand", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changes = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["brand", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("The audit log is append-only.")


class IdempotencyRecord(models.Model):
    """One API POST sent with an ``Idempotency-Key``, and once finished, its response.

    Keys are scoped to the API key that sent them, so two integrations (or two
    brands) may pick the same key without seeing each other's responses.
    ``response_status`` is NULL while the first request is still running: a
    duplicate arriving then is told to retry rather than run twice. Records
    only need to outlive a client's retry window; ``purge_idempotency_records``
    deletes those older than 24 hours.
    """

    api_key = models.ForeignKey("brands.ApiKey", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    # SHA-256 of method, path and the canonical JSON body: a key reused for
    # another request is refused instead of silently replaying the wrong answer.
    request_hash = models.CharField(max_length=64)
    # Set while the first request runs; a duplicate seeing it gets 409.
    locked_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The rendered JSON, kept as text so that a replay is byte for byte the original.
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "key"], name="idempotencyrecord_key_unique_per_api_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"

    @property
    def in_flight(self) -> bool:
        return self.response_status is None
