"""Background jobs for gigs and tasks; each one calls a service and nothing more."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from gigs.imports import task_import_run, task_imports_fail_stale


@db_task()
def task_import_job(task_import_id: int) -> None:
    task_import_run(task_import_id=task_import_id)


@db_periodic_task(crontab(minute="*/10"))
def task_imports_fail_stale_job() -> None:
    task_imports_fail_stale()
