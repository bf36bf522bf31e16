"""Background jobs for money; each one calls a service and nothing more."""

from __future__ import annotations

from datetime import timedelta

from django.db import close_old_connections
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_startup

from payouts.earnings import earnings_release_due
from payouts.models import PayRun, PayRunStatus
from payouts.payrun_transfers import payrun_process, payruns_stalled
from payouts.stripe_events import stripe_event_process, stripe_events_sweep

# A failed handler is retried after 10 s, then three times longer each time:
# seven retries span about three hours, within the three days Stripe itself
# keeps redelivering, and well past a database restart or a deploy.
STRIPE_EVENT_RETRIES = 7
STRIPE_EVENT_FIRST_RETRY_SECONDS = 10
STRIPE_EVENT_RETRY_BACKOFF = 3


@db_task(
    retries=STRIPE_EVENT_RETRIES,
    retry_delay=STRIPE_EVENT_FIRST_RETRY_SECONDS,
    retry_backoff=STRIPE_EVENT_RETRY_BACKOFF,
)
def stripe_event_process_job(stripe_event_id: int) -> None:
    # Queued once the event is stored; raises (and so is retried) only when
    # the handler failed in a way a retry may fix. Running twice is harmless.
    stripe_event_process(stripe_event_id=stripe_event_id)


@db_periodic_task(crontab())
def stripe_events_sweep_job() -> None:
    # Every minute: events whose job was lost.
    stripe_events_sweep()


@db_periodic_task(crontab(minute="*/5"))
def earnings_release_job() -> None:
    # Every five minutes: earnings whose hold has ended become available.
    # The earnings page also releases an agent's own when read, so this only
    # keeps balances current for agents who are not looking (and pay runs).
    earnings_release_due()


# --- Pay runs ----------------------------------------------------------------------------

# A pay run's job resumes from where any earlier one stopped; when Stripe
# keeps failing it raises and is retried, and the sweep below queues any
# executing run nobody is working on (a killed worker's, or a lost job's).
PAYRUN_RETRIES = 5
PAYRUN_RETRY_SECONDS = 30


@db_task(retries=PAYRUN_RETRIES, retry_delay=PAYRUN_RETRY_SECONDS, retry_backoff=2)
def payrun_execute_job(run_id: int) -> None:
    payrun_process(run_id=run_id)


@db_periodic_task(crontab())
def payruns_sweep_job() -> None:
    # Every minute: executing runs whose worker died or whose job was lost.
    for run_id in payruns_stalled():
        payrun_execute_job(run_id)


@on_startup()
def payruns_resume_on_startup() -> None:
    # A restarted worker picks up runs at once rather than at the next sweep:
    # each job waits for a dead worker's lease to lapse (LEASE_SECONDS).
    try:
        for run_id, lease_expires_at in PayRun.objects.filter(
            status=PayRunStatus.EXECUTING
        ).values_list("pk", "lease_expires_at"):
            if lease_expires_at is None:
                payrun_execute_job(run_id)
            else:
                payrun_execute_job.schedule(
                    args=(run_id,), eta=lease_expires_at + timedelta(seconds=1)
                )
    finally:
        close_old_connections()
