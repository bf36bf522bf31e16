"""Writes for gigs and tasks: every entry point (web, CSV, API) comes through here."""

from __future__ import annotations

import functools
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, models, router, transaction
from django.utils import timezone

from brands.models import Brand
from gigs import live
from gigs.dispatch import task_offer, tasks_offer
from gigs.events import message_event_kind, task_event_new, task_event_record, task_events_record
from gigs.models import (
    CannedReply,
    Gig,
    GigStatus,
    Message,
    MessageKind,
    ResolutionCode,
    Task,
    TaskEventKind,
    TaskPriority,
    TaskStatus,
)
from gigs.payloads import message_payload
from marketplace.audit import audit_record, changed_fields
from marketplace.errors import Conflict, ValidationFailed
from marketplace.languages import LANGUAGE_NAMES

TASK_EXTERNAL_ID_CONSTRAINT = "task_external_id_unique_per_brand"

DEFAULT_RESOLUTION_CODES = (
    ("answered", "Question answered"),
    ("refund_issued", "Refund issued"),
    ("replacement_sent", "Replacement sent"),
    ("order_updated", "Order updated"),
    ("no_customer_reply", "No reply from the customer"),
    ("duplicate", "Duplicate"),
)

GIG_EDITABLE_FIELDS = (
    "title",
    "description",
    "language",
    "min_language_level",
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
)
# Settings that change what one claim costs, and so whether the brand's
# balance covers it (payouts.reservations).
GIG_PRICE_FIELDS = frozenset({"pay_model", "rate_minor", "currency", "reserve_minutes"})
GIG_SLA_FIELDS = frozenset(
    {
        "sla_first_response_seconds",
        "sla_next_response_seconds",
        "sla_resolution_seconds",
        "sla_business_hours",
    }
)


def _raise_validation(exc: ValidationError) -> None:
    fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    first = next(iter(fields.values()))[0]
    raise ValidationFailed(first, fields=fields) from exc


def _gig_snapshot(gig: Gig) -> dict[str, Any]:
    return {name: getattr(gig, name) for name in GIG_EDITABLE_FIELDS}


@transaction.atomic
def gig_create(*, brand: Brand, created_by, skills=(), request=None, **fields: Any) -> Gig:
    unknown = set(fields) - set(GIG_EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(
            "Unknown gig fields.", fields={name: ["Unknown field."] for name in sorted(unknown)}
        )
    if fields.get("currency"):
        fields["currency"] = fields["currency"].upper()
    if fields.get("reserve_minutes") is None:
        # Not chosen: the default, but never more than a task may bill.
        fields.pop("reserve_minutes", None)
        max_billable = fields.get("max_billable_minutes")
        if isinstance(max_billable, int) and max_billable >= 1:
            default = Gig._meta.get_field("reserve_minutes").default
            fields["reserve_minutes"] = min(default, max_billable)
    gig = Gig(
        brand=brand, created_by=created_by if getattr(created_by, "pk", None) else None, **fields
    )
    try:
        gig.full_clean(exclude=["brand", "created_by"])
    except ValidationError as exc:
        _raise_validation(exc)
    gig.save()
    gig.required_skills.set(skills)
    audit_record(
        actor=created_by,
        action="gig.created",
        target=gig,
        brand=brand,
        changes={k: v for k, v in _gig_snapshot(gig).items()},
        request=request,
    )
    return gig


@transaction.atomic
def gig_update(*, gig: Gig, actor, skills=None, request=None, **fields: Any) -> Gig:
    unknown = set(fields) - set(GIG_EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(
            "Unknown gig fields.", fields={name: ["Unknown field."] for name in sorted(unknown)}
        )
    gig = Gig.objects.select_for_update().get(pk=gig.pk)
    before = _gig_snapshot(gig)
    if fields.get("currency"):
        fields["currency"] = fields["currency"].upper()
    if fields.get("reserve_minutes") is None:
        fields.pop("reserve_minutes", None)
        max_billable = fields.get("max_billable_minutes")
        if isinstance(max_billable, int) and 1 <= max_billable < gig.reserve_minutes:
            # A lower cap on billable time, with no reserve chosen: reserve the cap.
            fields["reserve_minutes"] = max_billable
    for name, value in fields.items():
        setattr(gig, name, value)
    try:
        gig.full_clean(exclude=["brand", "created_by"])
    except ValidationError as exc:
        _raise_validation(exc)
    gig.save()
    changes = changed_fields(before, _gig_snapshot(gig))
    if skills is not None:
        old = sorted(gig.required_skills.values_list("slug", flat=True))
        gig.required_skills.set(skills)
        new = sorted(s.slug for s in skills)
        if old != new:
            changes["required_skills"] = [old, new]
    if changes:
        audit_record(
            actor=actor,
            action="gig.updated",
            target=gig,
            brand=gig.brand,
            changes=changes,
            request=request,
        )
        # A new price may hide or show the queue (the balance covers a claim
        # or not): then the agents' whole queue is read again.
        live.pool_scope_changed(gig.brand_id, resync=bool(GIG_PRICE_FIELDS & set(changes)))
        if GIG_SLA_FIELDS & set(changes):
            # Past SLA figures follow the current targets (docs/metrics.md).
            from analytics.tasks import rollup_brand_later

            rollup_brand_later(gig.brand_id)
    return gig


_STATUS_TRANSITIONS = {
    GigStatus.ACTIVE: {GigStatus.PAUSED, GigStatus.CLOSED},
    GigStatus.PAUSED: {GigStatus.ACTIVE, GigStatus.CLOSED},
    GigStatus.CLOSED: set(),
}
_STATUS_ACTIONS = {
    GigStatus.ACTIVE: "gig.resumed",
    GigStatus.PAUSED: "gig.paused",
    GigStatus.CLOSED: "gig.closed",
}


@transaction.atomic
def gig_set_status(*, gig: Gig, status: str, actor, request=None) -> Gig:
    """Pause, resume or close a gig. A closed gig stays closed."""
    gig = Gig.objects.select_for_update().get(pk=gig.pk)
    if status == gig.status:
        return gig
    if status not in _STATUS_TRANSITIONS.get(gig.status, set()):
        raise Conflict(
            f"A {gig.get_status_display().lower()} gig cannot become {status}.",
            code="invalid_transition",
        )
    old = gig.status
    gig.status = status
    gig.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action=_STATUS_ACTIONS[status],
        target=gig,
        brand=gig.brand,
        changes={"status": [old, status]},
        request=request,
    )
    live.pool_scope_changed(gig.brand_id)
    return gig


# --- Tasks --------------------------------------------------------------------


@dataclass
class TaskInput:
    """One task as received from any entry point, before validation."""

    gig: Gig
    subject: str
    body: str = ""
    customer_reference: str = ""
    language: str = ""
    priority: int | str | None = None
    external_id: str | None = None
    customer_name: str = ""


_PRIORITY_BY_NAME = {label.lower(): value for value, label in TaskPriority.choices}


def parse_priority(value: int | str | None) -> int:
    """Accept a priority by name (``high``) or value (``30``); blank means normal."""
    if value is None or value == "":
        return TaskPriority.NORMAL
    if isinstance(value, int) and not isinstance(value, bool) and value in TaskPriority.values:
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _PRIORITY_BY_NAME:
            return _PRIORITY_BY_NAME[text]
        if text.isdigit() and int(text) in TaskPriority.values:
            return int(text)
    names = ", ".join(_PRIORITY_BY_NAME)
    raise ValidationError(f"Unknown priority {value!r}: use one of {names}.")


def task_input_errors(*, brand: Brand, data: TaskInput) -> dict[str, list[str]]:
    """Every problem with ``data``, by field; empty when it can be created."""
    errors: dict[str, list[str]] = {}
    if data.gig.brand_id != brand.pk:
        errors["gig"] = ["No such gig."]
    elif not data.gig.accepts_tasks:
        errors["gig"] = ["This gig is closed and takes no new tasks."]
    subject = (data.subject or "").strip()
    if not subject:
        errors["subject"] = ["A task needs a subject."]
    elif len(subject) > 200:
        errors["subject"] = ["At most 200 characters."]
    if len(data.body or "") > 20000:
        errors["body"] = ["At most 20,000 characters."]
    if len(data.customer_reference or "") > 120:
        errors["customer_reference"] = ["At most 120 characters."]
    if data.language and data.language not in LANGUAGE_NAMES:
        errors["language"] = [
            f"Unknown language code {data.language!r} (use ISO 639-1, like 'en')."
        ]
    try:
        parse_priority(data.priority)
    except ValidationError as exc:
        errors["priority"] = exc.messages
    if data.external_id is not None and len(data.external_id) > 120:
        errors["external_id"] = ["At most 120 characters."]
    return errors


def _new_task(*, brand: Brand, data: TaskInput) -> Task:
    return Task(
        brand=brand,
        gig=data.gig,
        subject=data.subject.strip(),
        customer_reference=(data.customer_reference or "").strip(),
        language=data.language or data.gig.language,
        priority=parse_priority(data.priority),
        external_id=(data.external_id or "").strip() or None,
        status=TaskStatus.QUEUED,
    )


def _first_message(task: Task, data: TaskInput) -> Message | None:
    if not (data.body or "").strip():
        return None
    return Message(
        task=task,
        brand_id=task.brand_id,
        kind=MessageKind.CUSTOMER,
        author_name=(data.customer_name or data.customer_reference or "Customer")[:120],
        body=data.body.strip(),
    )


def _insert_fields(model) -> list:
    """The columns an INSERT of ``model`` writes: every concrete field but the primary key."""
    return [field for field in model._meta.local_concrete_fields if not field.primary_key]


def _insert_params(obj, fields, connection) -> list[Any]:
    # What Django's own INSERT sends: pre_save fills auto_now(_add) on ``obj``.
    return [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]


@functools.cache
def _task_insert_sql(alias: str) -> str:
    """``INSERT`` of one task that does nothing when its ``external_id`` is taken.

    The conflict target is the partial unique constraint
    ``task_external_id_unique_per_brand`` (``external_id IS NOT NULL``); naming
    its columns and predicate is how PostgreSQL and SQLite (3.35+, for
    RETURNING) pick it as the arbiter. Tasks without an external_id never
    conflict.
    """
    quote = connections[alias].ops.quote_name
    (constraint,) = (c for c in Task._meta.constraints if c.name == TASK_EXTERNAL_ID_CONSTRAINT)
    target = ", ".join(quote(Task._meta.get_field(name).column) for name in constraint.fields)
    external_id = quote(Task._meta.get_field("external_id").column)
    fields = _insert_fields(Task)
    return (
        f"INSERT INTO {quote(Task._meta.db_table)} "
        f"({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({target}) WHERE {external_id} IS NOT NULL DO NOTHING "
        f"RETURNING {quote(Task._meta.pk.column)}"
    )


@functools.cache
def _task_with_message_insert_sql(alias: str) -> str:
    """PostgreSQL: the task and its first message in one statement (a writing CTE).

    When the task's INSERT does nothing (its external_id is taken), the CTE is
    empty and so is the message's INSERT: no row comes back. Casts, because
    values in a SELECT list have no column to take their type from.
    """
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = [field for field in _insert_fields(Message) if field.name != "task"]
    columns = [Message._meta.get_field("task").column, *(field.column for field in fields)]
    values = [f"CAST(%s AS {_cast_type(field, connection)})" for field in fields]
    task_pk = quote(Task._meta.pk.column)
    return (
        f"WITH new_task AS ({_task_insert_sql(alias)}) "
        f"INSERT INTO {quote(Message._meta.db_table)} "
        f"({', '.join(quote(column) for column in columns)}) "
        f"SELECT new_task.{task_pk}, {', '.join(values)} FROM new_task "
        f"RETURNING {quote(columns[0])}, {quote(Message._meta.pk.column)}"
    )


def _cast_type(field, connection) -> str:
    # varchar without a length: a cast to varchar(n) would truncate an
    # over-long value silently, where the INSERT itself refuses it.
    if isinstance(field, models.CharField):
        return connection.ops.cast_char_field_without_max_length
    return field.cast_db_type(connection)


def _task_insert(task: Task, message: Message | None) -> bool:
    """Insert ``task`` (and ``message``, its first); False when its external_id is taken.

    Insert first, look up only on conflict: a fresh task costs one statement
    and no explicit transaction on PostgreSQL, and concurrent duplicates are
    settled by the unique constraint, not by a SELECT that both could pass.
    """
    alias = router.db_for_write(Task)
    connection = connections[alias]
    task_params = _insert_params(task, _insert_fields(Task), connection)
    if message is not None and connection.vendor == "postgresql":
        message_fields = [field for field in _insert_fields(Message) if field.name != "task"]
        params = task_params + _insert_params(message, message_fields, connection)
        with connection.cursor() as cursor:
            cursor.execute(_task_with_message_insert_sql(alias), params)
            row = cursor.fetchone()
        if row is None:
            return False
        task.pk, message.pk = row
        _mark_saved(task, alias)
        message.task = task
        _mark_saved(message, alias)
        return True
    # Elsewhere (SQLite: no writing CTEs) the message needs a transaction of
    # its own with the task; a task alone is one statement, atomic by itself.
    with transaction.atomic(using=alias) if message is not None else nullcontext():
        with connection.cursor() as cursor:
            cursor.execute(_task_insert_sql(alias), task_params)
            row = cursor.fetchone()
        if row is None:
            return False
        task.pk = row[0]
        _mark_saved(task, alias)
        if message is not None:
            message.task = task
            message.save(using=alias)
    return True


def _mark_saved(obj, alias: str) -> None:
    obj._state.adding = False
    obj._state.db = alias


def task_create(*, brand: Brand, data: TaskInput, actor=None) -> tuple[Task, bool]:
    """Create a task, or return the brand's existing one with the same ``external_id``.

    Returns ``(task, created)``. Safe to retry and to race: the INSERT does
    nothing when the external_id is taken (``ON CONFLICT … DO NOTHING``, the
    loser waiting for the winner to commit), and only then is the existing
    task read.
    """
    errors = task_input_errors(brand=brand, data=data)
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], fields=errors)
    task = _new_task(brand=brand, data=data)
    message = _first_message(task, data)
    # Twice at most: the task that won the conflict may be deleted before we
    # read it, and then this one can be inserted after all.
    for _attempt in range(2):
        # The task and its first events commit together, or a task would be
        # missing from every figure: a transaction (a savepoint in the
        # caller's) and one more INSERT, the price of the history.
        with transaction.atomic():
            inserted = _task_insert(task, message)
            if inserted:
                task_events_record(_created_events(task, message))
        if inserted:
            # Agents hear of it only once it is committed and claimable.
            transaction.on_commit(lambda: task_offer(task))
            return task, True
        existing = Task.objects.for_brand(brand).filter(external_id=task.external_id).first()
        if existing is not None:
            return existing, False
    raise Conflict(
        f"The task with external ID {task.external_id!r} changed while this one was being "
        "created. Send it again.",
        code="external_id_conflict",
    )


def _created_events(task: Task, message: Message | None) -> list:
    events = [task_event_new(task, TaskEventKind.CREATED, task.created_at)]
    if message is not None:
        events.append(
            task_event_new(
                task, TaskEventKind.CUSTOMER_MESSAGE, message.created_at, message=message.pk
            )
        )
    return events


def tasks_bulk_create(*, brand: Brand, rows: list[TaskInput]) -> list[Task]:
    """Create already-validated tasks in one transaction (the CSV import's last step)."""
    with transaction.atomic():
        tasks = [_new_task(brand=brand, data=row) for row in rows]
        Task.objects.bulk_create(tasks, batch_size=500)
        messages = []
        for task, row in zip(tasks, rows, strict=True):
            message = _first_message(task, row)
            if message is not None:
                messages.append(message)
        Message.objects.bulk_create(messages, batch_size=500)
        by_task = {message.task_id: message for message in messages}
        task_events_record(
            event for task in tasks for event in _created_events(task, by_task.get(task.pk))
        )
        transaction.on_commit(lambda: tasks_offer(tasks))
    return tasks


BRAND_MESSAGE_KINDS = (MessageKind.CUSTOMER, MessageKind.NOTE)


def _publish_message(message: Message) -> None:
    """Show the message live in the holder's workspace and, unless it is an
    internal note, on the customer's page."""
    topics = [live.task_topic(message.task_id)]
    if message.kind != MessageKind.NOTE:
        topics.append(live.customer_topic(message.task_id))
    live.publish(
        {"type": "message", "task_id": message.task_id, "message": message_payload(message)},
        topics=topics,
    )


def message_add(
    *,
    task: Task,
    kind: str,
    body: str,
    author=None,
    author_name: str = "",
    external_id: str | None = None,
) -> tuple[Message, bool]:
    """Append a message to a task's conversation; ``(message, created)``.

    A message with an ``external_id`` already on the task is returned as is,
    so a brand's helpdesk can retry safely.
    """
    body = (body or "").strip()
    errors: dict[str, list[str]] = {}
    if kind not in MessageKind.values:
        errors["kind"] = [f"Unknown kind {kind!r}: use one of {', '.join(MessageKind.values)}."]
    if not body:
        errors["body"] = ["A message needs a body."]
    elif len(body) > 20000:
        errors["body"] = ["At most 20,000 characters."]
    if external_id is not None and len(external_id) > 120:
        errors["external_id"] = ["At most 120 characters."]
    if task.status == TaskStatus.CANCELLED:
        errors["task"] = ["This task was cancelled; it takes no new messages."]
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], fields=errors)
    external_id = (external_id or "").strip() or None
    if external_id:
        existing = task.messages.filter(external_id=external_id).first()
        if existing is not None:
            return existing, False
    message = Message(
        task=task,
        brand_id=task.brand_id,
        kind=kind,
        author=author if getattr(author, "pk", None) else None,
        author_name=(author_name or (author.public_name if getattr(author, "pk", None) else ""))[
            :120
        ],
        body=body,
        external_id=external_id,
    )
    try:
        with transaction.atomic():
            message.save()
            Task.objects.filter(pk=task.pk).update(updated_at=timezone.now())
            event_kind = message_event_kind(kind)
            if event_kind is not None:
                task_event_record(
                    task,
                    event_kind,
                    message.created_at,
                    agent_id=message.author_id
                    if event_kind == TaskEventKind.AGENT_MESSAGE
                    else None,
                    message=message.pk,
                )
            _publish_message(message)
    except IntegrityError:
        existing = task.messages.filter(external_id=external_id).first() if external_id else None
        if existing is None:
            raise
        return existing, False
    return message, True


def resolution_codes_seed(brand) -> None:
    """Give a brand the default resolution codes (idempotent)."""
    ResolutionCode.objects.bulk_create(
        [
            ResolutionCode(brand=brand, code=code, label=label)
            for code, label in DEFAULT_RESOLUTION_CODES
        ],
        ignore_conflicts=True,
    )


# --- Canned replies and resolution codes ----------------------------------------------

CANNED_REPLY_FIELDS = ("title", "body", "language")
# What a slug allows (ResolutionCode.code is a SlugField), lowercased.
_RESOLUTION_CODE_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


def _canned_reply_clean(*, title: str, body: str, language: str) -> dict[str, str]:
    title = (title or "").strip()
    body = (body or "").strip()
    language = (language or "").strip()
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = ["A canned reply needs a title."]
    elif len(title) > 120:
        errors["title"] = ["At most 120 characters."]
    if not body:
        errors["body"] = ["A canned reply needs a text."]
    elif len(body) > 5000:
        errors["body"] = ["At most 5,000 characters."]
    if language and language not in LANGUAGE_NAMES:
        errors["language"] = [f"Unknown language code {language!r} (use ISO 639-1, like 'en')."]
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], fields=errors)
    return {"title": title, "body": body, "language": language}


@transaction.atomic
def canned_reply_create(
    *, brand: Brand, actor, title: str, body: str, language: str = "", request=None
) -> CannedReply:
    """Add a ready-made answer agents can insert into replies on the brand's tasks.

    ``language`` empty: offered on every task; otherwise only on tasks in that language.
    """
    fields = _canned_reply_clean(title=title, body=body, language=language)
    canned_reply = CannedReply.objects.create(brand=brand, **fields)
    audit_record(
        actor=actor,
        action="canned_reply.created",
        target=canned_reply,
        brand=brand,
        changes={"title": fields["title"], "language": fields["language"]},
        request=request,
    )
    return canned_reply


@transaction.atomic
def canned_reply_update(
    *, canned_reply: CannedReply, actor, title: str, body: str, language: str = "", request=None
) -> CannedReply:
    fields = _canned_reply_clean(title=title, body=body, language=language)
    canned_reply = CannedReply.objects.select_for_update().get(pk=canned_reply.pk)
    before = {name: getattr(canned_reply, name) for name in CANNED_REPLY_FIELDS}
    for name, value in fields.items():
        setattr(canned_reply, name, value)
    changes = changed_fields(before, fields)
    if changes:
        canned_reply.save(update_fields=[*changes, "updated_at"])
        audit_record(
            actor=actor,
            action="canned_reply.updated",
            target=canned_reply,
            brand=canned_reply.brand,
            # The audit log keeps that the text changed, not every version of it.
            changes={
                name: "(text changed)" if name == "body" else value
                for name, value in changes.items()
            },
            request=request,
        )
    return canned_reply


@transaction.atomic
def canned_reply_delete(*, canned_reply: CannedReply, actor, request=None) -> None:
    """Remove a canned reply. Replies already sent with its text keep it."""
    audit_record(
        actor=actor,
        action="canned_reply.deleted",
        target=canned_reply,
        brand=canned_reply.brand,
        changes={"title": canned_reply.title},
        request=request,
    )
    CannedReply.objects.filter(pk=canned_reply.pk).delete()


def resolution_code_create(
    *, brand: Brand, actor, code: str, label: str, request=None
) -> ResolutionCode:
    """Add a code agents may resolve the brand's tasks with.

    Codes are never deleted: work records and tasks keep the code they were
    resolved with, so a code that is no longer wanted is deactivated.
    """
    code = (code or "").strip().lower()
    label = (label or "").strip()
    errors: dict[str, list[str]] = {}
    if not code:
        errors["code"] = ["A resolution code needs a code."]
    elif len(code) > 40:
        errors["code"] = ["At most 40 characters."]
    elif not set(code) <= _RESOLUTION_CODE_CHARACTERS:
        errors["code"] = [
            "Use lowercase letters, digits, hyphens and underscores, like refund_issued."
        ]
    if not label:
        errors["label"] = ["A resolution code needs a label agents will read."]
    elif len(label) > 120:
        errors["label"] = ["At most 120 characters."]
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], fields=errors)
    try:
        with transaction.atomic():
            resolution_code = ResolutionCode.objects.create(brand=brand, code=code, label=label)
            audit_record(
                actor=actor,
                action="resolution_code.created",
                target=resolution_code,
                brand=brand,
                changes={"code": code, "label": label},
                request=request,
            )
    except IntegrityError as exc:
        raise Conflict(
            f"{brand} already has the resolution code “{code}”.",
            code="duplicate",
            fields={"code": ["Already one of this brand's codes; reactivate it instead."]},
        ) from exc
    return resolution_code


@transaction.atomic
def resolution_code_set_active(
    *, resolution_code: ResolutionCode, actor, is_active: bool, request=None
) -> ResolutionCode:
    """Deactivate a code (agents can no longer pick it) or bring it back."""
    resolution_code = ResolutionCode.objects.select_for_update().get(pk=resolution_code.pk)
    if resolution_code.is_active == is_active:
        return resolution_code
    resolution_code.is_active = is_active
    resolution_code.save(update_fields=["is_active"])
    audit_record(
        actor=actor,
        action="resolution_code.activated" if is_active else "resolution_code.deactivated",
        target=resolution_code,
        brand=resolution_code.brand,
        changes={"is_active": [not is_active, is_active]},
        request=request,
    )
    return resolution_code
