"""Reads for gigs and tasks. Every one starts from a brand: nothing crosses tenants."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404

from brands.models import Brand
from gigs.models import Gig, Message, Task, TaskImport, TaskStatus

OPEN_STATUSES = (TaskStatus.QUEUED, TaskStatus.OFFERED, TaskStatus.CLAIMED)


def gig_list(*, brand: Brand) -> QuerySet[Gig]:
    return (
        Gig.objects.for_brand(brand)
        .prefetch_related("required_skills")
        .annotate(open_tasks=Count("tasks", filter=Q(tasks__status__in=OPEN_STATUSES)))
    )


def task_list(*, brand: Brand) -> QuerySet[Task]:
    return Task.objects.for_brand(brand).select_related("gig")


def access_gig(*, brand: Brand, gig_id: int, lock: bool = False) -> Gig:
    """The brand's gig ``gig_id``, or 404: another brand's gig does not exist for this one."""
    queryset = Gig.objects.for_brand(brand)
    if lock:
        queryset = queryset.select_for_update()
    gig = queryset.filter(pk=gig_id).first()
    if gig is None:
        raise Http404("No such gig.")
    return gig


def access_task(*, brand: Brand, task_id: int, with_messages: bool = False) -> Task:
    queryset = Task.objects.for_brand(brand).select_related("gig")
    if with_messages:
        queryset = queryset.prefetch_related(
            Prefetch("messages", queryset=Message.objects.select_related("author"))
        )
    task = queryset.filter(pk=task_id).first()
    if task is None:
        raise Http404("No such task.")
    return task


def access_task_import(*, brand: Brand, import_id: int) -> TaskImport:
    task_import = (
        TaskImport.objects.for_brand(brand).select_related("gig").filter(pk=import_id).first()
    )
    if task_import is None:
        raise Http404("No such import.")
    return task_import
