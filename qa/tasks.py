"""Background jobs for QA; each one calls a service and nothing more."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from qa.intake import qa_task_closed, qa_task_rated, weekly_topup
from qa.tiers import tier_job

# Sampling reads the task's other closed tasks; a retry after a lost
# connection or a deadlock decides the same way, since every pick is seeded.
INTAKE_RETRIES = 3
INTAKE_RETRY_SECONDS = 30


@db_task(retries=INTAKE_RETRIES, retry_delay=INTAKE_RETRY_SECONDS)
def qa_task_closed_job(task_id: int) -> None:
    # Queued when a task is resolved or escalated, once its transaction commits.
    qa_task_closed(task_id)


@db_task(retries=INTAKE_RETRIES, retry_delay=INTAKE_RETRY_SECONDS)
def qa_task_rated_job(task_id: int) -> None:
    # Queued when the customer's rating is stored: a low CSAT adds its reason.
    qa_task_rated(task_id)


@db_periodic_task(crontab(day_of_week="1", hour="1", minute="15"))
def qa_weekly_topup_job() -> None:
    # Mondays 01:15 UTC: fill last ISO week's per-agent review minimum.
    weekly_topup()


@db_periodic_task(crontab(hour="2", minute="30"))
def qa_tier_job() -> None:
    # Nightly: promote or demote approved pool members on their QA score.
    tier_job()
