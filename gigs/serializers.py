"""Shapes of the brand REST API: what a request may hold and what a response shows.

Serializers check shape only: known fields, types, choices, lengths. Whether
the request makes sense (a closed gig, an unknown language code, a priority
out of range) is for ``gigs.services``, which every entry point shares and
which raises ``ValidationFailed`` with the same ``fields`` layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gigs.models import (
    DispatchMode,
    Gig,
    Message,
    MessageKind,
    PayModel,
    Task,
    TaskPriority,
)
from marketplace.languages import LANGUAGE_CHOICES, CEFRLevel
from marketplace.models import Skill

PRIORITY_NAMES = [label.lower() for label in TaskPriority.labels]
PRIORITY_NAME_CHOICES = [(name, name.title()) for name in PRIORITY_NAMES]
# What a brand may post through the API; agents reply from their workspace.
BRAND_MESSAGE_KIND_CHOICES = [
    (MessageKind.CUSTOMER.value, MessageKind.CUSTOMER.label),
    (MessageKind.NOTE.value, MessageKind.NOTE.label),
]


def priority_name(value: int) -> str:
    return TaskPriority(value).label.lower()


# --- Errors -----------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """The body of every error response (see ``marketplace.api.exception_handler``)."""

    code = serializers.CharField(help_text="Machine-readable reason, e.g. `invalid`, `not_found`.")
    message = serializers.CharField(help_text="A sentence to show to a person.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages for each field that was refused, by field name.",
    )


# --- Input ------------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare.

    DRF ignores unknown keys; for an integration that would turn a typo
    (``extrenal_id``) into silently lost data, so each one is an error.
    """

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            unknown = {str(name): ["Unknown field."] for name in data if name not in self.fields}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


def _gig_timing_field(name: str, unit: str, what: str) -> serializers.IntegerField:
    """An optional gig setting with the model's own bounds and default, stated in
    the schema and in the error a client gets for a value outside them."""
    field = Gig._meta.get_field(name)
    low = next(v.limit_value for v in field.validators if isinstance(v, MinValueValidator))
    high = next(v.limit_value for v in field.validators if isinstance(v, MaxValueValidator))

    def amount(n: int) -> str:
        return f"{n} {unit.removesuffix('s') if n == 1 else unit}"

    return serializers.IntegerField(
        required=False,
        min_value=low,
        max_value=high,
        help_text=f"{what} {low} to {amount(high)} (default {field.default}).",
        error_messages={
            "invalid": f"Send a whole number of {unit}.",
            "min_value": f"Use at least {amount(low)}.",
            "max_value": f"Use at most {amount(high)}.",
        },
    )


class GigCreateSerializer(StrictSerializer):
    title = serializers.CharField(max_length=140)
    description = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    language = serializers.ChoiceField(
        choices=LANGUAGE_CHOICES, help_text="ISO 639-1 code of the language the gig is in."
    )
    min_language_level = serializers.ChoiceField(
        choices=CEFRLevel.choices,
        required=False,
        help_text="Lowest CEFR level an agent needs in the gig's language (default B2).",
    )
    pay_model = serializers.ChoiceField(choices=PayModel.choices)
    rate_minor = serializers.IntegerField(
        help_text="Pay per minute or per resolution, in the currency's minor unit (cents)."
    )
    currency = serializers.CharField(
        max_length=3, required=False, help_text="ISO 4217 code (default EUR)."
    )
    max_tasks_per_agent = serializers.IntegerField(
        required=False, help_text="Tasks one agent may hold at once, 1 to 20 (default 1)."
    )
    sla_first_response_seconds = serializers.IntegerField(
        required=False, help_text="Target time to the first agent reply (default 900)."
    )
    sla_next_response_seconds = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Target from each later customer message to the agent's reply, in seconds; "
        "null for none (default).",
    )
    sla_resolution_seconds = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Target from the task's arrival to its resolution, in seconds; null for none "
        "(default).",
    )
    sla_business_hours = serializers.BooleanField(
        required=False,
        help_text="Count SLA targets in the brand's business hours and holidays (default true); "
        "false counts every hour.",
    )
    budget_cap_minor = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Most the gig may spend, in minor units; null for no cap.",
    )
    dispatch_mode = serializers.ChoiceField(
        choices=DispatchMode.choices,
        required=False,
        help_text="`open`: every qualified online agent sees each task and the first claim "
        "wins (default). `directed`: the best-matched online agent gets a reservation for "
        "`reservation_timeout_seconds`, then the next one.",
    )
    reservation_timeout_seconds = _gig_timing_field(
        "reservation_timeout_seconds",
        "seconds",
        "Directed dispatch: how long an agent has to accept a reserved task.",
    )
    heartbeat_grace_seconds = _gig_timing_field(
        "heartbeat_grace_seconds",
        "seconds",
        "Billing stops at an agent's last heartbeat once none has come for this long.",
    )
    lease_seconds = _gig_timing_field(
        "lease_seconds",
        "seconds",
        "A task whose agent has been silent this long goes back to the queue.",
    )
    max_billable_minutes = _gig_timing_field(
        "max_billable_minutes",
        "minutes",
        "Per-minute gigs: the most time one task may bill.",
    )
    reserve_minutes = _gig_timing_field(
        "reserve_minutes",
        "minutes",
        "Per-minute gigs: minutes of work set aside from the brand's balance for each claim, "
        "at most `max_billable_minutes`; settled against the real cost when the work ends.",
    )
    required_skills = serializers.ListField(
        child=serializers.SlugField(max_length=60),
        required=False,
        help_text="Slugs of the skills an agent needs.",
    )

    def validate_required_skills(self, slugs: list[str]) -> list[Skill]:
        wanted = list(dict.fromkeys(slugs))
        skills = {skill.slug: skill for skill in Skill.objects.filter(slug__in=wanted)}
        unknown = [slug for slug in wanted if slug not in skills]
        if unknown:
            raise serializers.ValidationError(f"Unknown skills: {', '.join(unknown)}.")
        return [skills[slug] for slug in wanted]


class BrandGigField(serializers.PrimaryKeyRelatedField):
    """A gig id, looked up among the calling brand's gigs only.

    Another brand's gig answers exactly like a gig that does not exist, so
    ids cannot be probed across tenants.
    """

    default_error_messages = {
        "does_not_exist": "No such gig.",
        "incorrect_type": "Send the gig's id as an integer.",
    }

    def get_queryset(self):
        # What creating a task reads of its gig (see gigs.services.task_create);
        # the rest of the row would be fetched and decoded for nothing.
        return Gig.objects.for_brand(self.context["brand"]).only(
            "id", "brand_id", "status", "language"
        )


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "enum": PRIORITY_NAMES},
            {"type": "integer", "enum": list(TaskPriority.values)},
        ],
        "description": "A name (low, normal, high, urgent) or its number (10, 20, 30, 40). "
        "Default normal.",
    }
)
class PriorityField(serializers.Field):
    """A priority by name or number; ``gigs.services.parse_priority`` decides if it exists."""

    default_error_messages = {
        "invalid": "Send a priority name (low, normal, high, urgent) or its number.",
    }

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        return data

    def to_representation(self, value: int) -> str:
        return priority_name(value)


class TaskCreateSerializer(StrictSerializer):
    gig = BrandGigField(queryset=Gig.objects.all(), help_text="Id of one of your gigs.")
    subject = serializers.CharField(max_length=200)
    body = serializers.CharField(
        max_length=20000,
        required=False,
        allow_blank=True,
        default="",
        help_text="The customer's first message, if any.",
    )
    customer_name = serializers.CharField(
        max_length=120,
        required=False,
        allow_blank=True,
        default="",
        help_text="Shown as the author of the first message.",
    )
    customer_reference = serializers.CharField(
        max_length=120,
        required=False,
        allow_blank=True,
        default="",
        help_text="Your own reference for the customer.",
    )
    language = serializers.CharField(
        max_length=8,
        required=False,
        allow_blank=True,
        default="",
        help_text="ISO 639-1 code; defaults to the gig's language.",
    )
    priority = PriorityField(required=False, allow_null=True, default=None)
    external_id = serializers.CharField(
        max_length=120,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="Your ticket id. Sending one the brand already used returns that task "
        "(200) and creates nothing.",
    )


class MessageCreateSerializer(StrictSerializer):
    kind = serializers.ChoiceField(
        choices=BRAND_MESSAGE_KIND_CHOICES,
        default=MessageKind.CUSTOMER.value,
        error_messages={
            "invalid_choice": '"{input}" is not a kind the API accepts: use customer or note '
            "(agents reply from their workspace)."
        },
    )
    body = serializers.CharField(max_length=20000)
    author_name = serializers.CharField(
        max_length=120, required=False, allow_blank=True, default=""
    )
    external_id = serializers.CharField(
        max_length=120,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="Your message id. Sending one already on the task returns that message "
        "(200) and adds nothing.",
    )


# --- Output -----------------------------------------------------------------


class GigSerializer(serializers.ModelSerializer):
    required_skills = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")

    class Meta:
        model = Gig
        fields = [
            "id",
            "title",
            "description",
            "language",
            "min_language_level",
            "required_skills",
            "pay_model",
            "rate_minor",
            "currency",
            "max_tasks_per_agent",
            "sla_first_response_seconds",
            "sla_next_response_seconds",
            "sla_resolution_seconds",
            "sla_business_hours",
            "budget_cap_minor",
            "dispatch_mode",
            "reservation_timeout_seconds",
            "heartbeat_grace_seconds",
            "lease_seconds",
            "max_billable_minutes",
            "reserve_minutes",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "kind", "author_name", "body", "external_id", "created_at"]
        read_only_fields = fields


class TaskSerializer(serializers.ModelSerializer):
    """A task without its conversation: lists stay one query however long the threads."""

    priority = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id",
            "gig",
            "subject",
            "status",
            "language",
            "priority",
            "customer_reference",
            "external_id",
            "created_at",
            "updated_at",
            "claimed_at",
            "resolved_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=PRIORITY_NAME_CHOICES))
    def get_priority(self, task: Task) -> str:
        return priority_name(task.priority)


_DATETIME = serializers.DateTimeField(read_only=True)


def task_representation(task: Task) -> dict[str, Any]:
    """``TaskSerializer(task).data``, built directly.

    A ModelSerializer builds its fields anew for every instance it is
    created for, which costs more than the rest of a task POST's response;
    this is the same output (the tests compare the two) for the one task a
    POST returns.
    """

    def moment(value):
        return None if value is None else _DATETIME.to_representation(value)

    return {
        "id": task.pk,
        "gig": task.gig_id,
        "subject": task.subject,
        "status": task.status,
        "language": task.language,
        "priority": priority_name(task.priority),
        "customer_reference": task.customer_reference,
        "external_id": task.external_id,
        "created_at": moment(task.created_at),
        "updated_at": moment(task.updated_at),
        "claimed_at": moment(task.claimed_at),
        "resolved_at": moment(task.resolved_at),
    }


class TaskDetailSerializer(TaskSerializer):
    messages = MessageSerializer(many=True, read_only=True)

    class Meta(TaskSerializer.Meta):
        fields = [*TaskSerializer.Meta.fields, "messages"]
        read_only_fields = fields


# --- Customer satisfaction --------------------------------------------------


class CsatCreateSerializer(StrictSerializer):
    score = serializers.IntegerField(
        min_value=1, max_value=5, help_text="The customer's rating: 1 (poor) to 5 (excellent)."
    )
    comment = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="What the customer said about the help, if anything.",
    )


class TaskCsatSerializer(serializers.ModelSerializer):
    """A task's customer satisfaction rating."""

    task_id = serializers.IntegerField(source="pk", read_only=True)
    score = serializers.IntegerField(source="csat_score", read_only=True)
    comment = serializers.CharField(source="csat_comment", read_only=True)
    rated_at = serializers.DateTimeField(source="csat_at", read_only=True)

    class Meta:
        model = Task
        fields = ["task_id", "score", "comment", "rated_at"]
        read_only_fields = fields
