"""gigs.services for tasks: validation, idempotent create, bulk create and messages."""

import pytest

from gigs.models import GigStatus, Message, MessageKind, Task, TaskPriority, TaskStatus
from gigs.services import (
    TaskInput,
    message_add,
    task_create,
    task_input_errors,
    tasks_bulk_create,
)
from marketplace.errors import ValidationFailed
from tests.gigs.factories import GigFactory, TaskFactory


def test_task_create_uses_gig_language_and_normal_priority(brand, gig):
    task, created = task_create(brand=brand, data=TaskInput(gig=gig, subject="  Hello  "))
    assert created
    assert (task.subject, task.language, task.priority) == ("Hello", "en", TaskPriority.NORMAL)
    assert task.status == TaskStatus.QUEUED


def test_task_create_adds_first_customer_message(brand, gig):
    data = TaskInput(gig=gig, subject="Hi", body="Where is it?", customer_name="Ana")
    task, _ = task_create(brand=brand, data=data)
    message = task.messages.get()
    assert (message.kind, message.author_name, message.brand_id) == (
        MessageKind.CUSTOMER,
        "Ana",
        brand.pk,
    )


def test_task_create_with_known_external_id_returns_existing(brand, gig):
    first, _ = task_create(brand=brand, data=TaskInput(gig=gig, subject="A", external_id="x"))
    again, created = task_create(
        brand=brand, data=TaskInput(gig=gig, subject="B", body="dup", external_id="x")
    )
    assert (again.pk, created) == (first.pk, False)
    assert Task.objects.count() == 1
    assert not Message.objects.exists()


def test_same_external_id_in_two_brands_is_two_tasks(brand, gig, other_brand, other_gig):
    task_create(brand=brand, data=TaskInput(gig=gig, subject="A", external_id="x"))
    _, created = task_create(
        brand=other_brand, data=TaskInput(gig=other_gig, subject="A", external_id="x")
    )
    assert created


def test_task_for_other_brands_gig_is_refused(brand, other_gig):
    with pytest.raises(ValidationFailed) as caught:
        task_create(brand=brand, data=TaskInput(gig=other_gig, subject="Sneaky"))
    assert caught.value.fields == {"gig": ["No such gig."]}
    assert not Task.objects.exists()


def test_closed_gig_takes_no_tasks(brand):
    gig = GigFactory(brand=brand, status=GigStatus.CLOSED)
    errors = task_input_errors(brand=brand, data=TaskInput(gig=gig, subject="Hi"))
    assert errors == {"gig": ["This gig is closed and takes no new tasks."]}


def test_paused_gig_still_takes_tasks(brand):
    gig = GigFactory(brand=brand, status=GigStatus.PAUSED)
    assert task_input_errors(brand=brand, data=TaskInput(gig=gig, subject="Hi")) == {}


def test_input_errors_lists_every_bad_field(brand, gig):
    data = TaskInput(gig=gig, subject="", language="xx", priority="soonish", external_id="e" * 121)
    errors = task_input_errors(brand=brand, data=data)
    assert set(errors) == {"subject", "language", "priority", "external_id"}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("urgent", TaskPriority.URGENT),
        ("High", TaskPriority.HIGH),
        ("10", TaskPriority.LOW),
        ("", TaskPriority.NORMAL),
    ],
)
def test_priority_by_name_or_number(brand, gig, given, expected):
    task, _ = task_create(brand=brand, data=TaskInput(gig=gig, subject="Hi", priority=given))
    assert task.priority == expected


def test_bulk_create_makes_tasks_and_first_messages(brand, gig):
    rows = [
        TaskInput(gig=gig, subject="One", body="First message"),
        TaskInput(gig=gig, subject="Two"),
    ]
    tasks = tasks_bulk_create(brand=brand, rows=rows)
    assert [task.subject for task in tasks] == ["One", "Two"]
    assert Message.objects.get().task == tasks[0]


def test_message_add_is_idempotent_on_external_id(gig):
    task = TaskFactory(gig=gig)
    first, created = message_add(task=task, kind="customer", body="Hi", external_id="m-1")
    again, created_again = message_add(task=task, kind="customer", body="Hi", external_id="m-1")
    assert (created, created_again, again.pk) == (True, False, first.pk)


def test_message_add_refuses_cancelled_task(gig):
    task = TaskFactory(gig=gig, status=TaskStatus.CANCELLED)
    with pytest.raises(ValidationFailed) as caught:
        message_add(task=task, kind="note", body="Hello")
    assert "task" in caught.value.fields
    assert not Message.objects.exists()


def test_message_add_refuses_blank_body(gig):
    task = TaskFactory(gig=gig)
    with pytest.raises(ValidationFailed) as caught:
        message_add(task=task, kind="note", body="   ")
    assert caught.value.fields == {"body": ["A message needs a body."]}
