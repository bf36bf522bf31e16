"""Background jobs for gigs and tasks; each one calls a service and nothing more."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from gigs.dispatch import expire_overdue, reservation_expire
from gigs.imports import task_import_run, task_imports_fail_stale


@db_task()
def task_import_job(task_import_id: int) -> None:
    task_import_run(task_import_id=task_import_id)


@db_periodic_task(crontab(minute="*/10"))
def task_imports_fail_stale_job() -> None:
    task_imports_fail_stale()


@db_task()
def reservation_expire_job(task_id: int) -> None:
    # Scheduled for the moment a directed reservation runs out.
    reservation_expire(task_id=task_id)


@db_periodic_task(crontab())
def expire_overdue_job() -> None:
    # Every minute: leases of agents who went silent, and any reservation whose
    # scheduled check was lost. Reads enforce expiry too; this keeps it prompt.
    expire_overdue()
