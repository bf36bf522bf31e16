"""Background jobs for QA; each one calls a service and nothing more."""

from __future__ import annotations

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from qa.feeds import bonus_run, last_payable_week
from qa.intake import qa_task_closed, qa_task_rated, weekly_topup
from qa.standing import standing_refresh, standing_refresh_all
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


@db_periodic_task(crontab(day_of_week="1", hour="3", minute="0"))
def qa_bonus_weekly_job() -> None:
    # Mondays 03:00 UTC: the QA bonus of the week that ended 7 days before
    # (disputes of that week have settled). A rerun posts nothing.
    bonus_run(last_payable_week(timezone.now()))


@db_periodic_task(crontab(hour="2", minute="30"))
def qa_tier_job() -> None:
    # Nightly: promote or demote approved pool members on their QA score.
    tier_job()


@db_task(retries=INTAKE_RETRIES, retry_delay=INTAKE_RETRY_SECONDS)
def qa_standing_refresh_job(agent_id: int) -> None:
    # Queued when one of the agent's reviews is submitted or amended, or they
    # join a pool: their score per gig and the minimums that keep them off.
    from marketplace.models import User

    agent = User.objects.filter(pk=agent_id).first()
    if agent is not None:
        standing_refresh(agent)


@db_task(retries=INTAKE_RETRIES, retry_delay=INTAKE_RETRY_SECONDS)
def qa_standing_gig_job(gig_id: int) -> None:
    # Queued when a gig's minimum QA score changes: every member of its pool.
    from gigs.models import Gig

    gig = Gig.objects.filter(pk=gig_id).first()
    if gig is not None:
        standing_refresh_all(gig=gig)


@db_periodic_task(crontab(hour="2", minute="10"))
def qa_standing_nightly_job() -> None:
    # Nightly: reviews leave the 30-day window without any event saying so.
    standing_refresh_all()
