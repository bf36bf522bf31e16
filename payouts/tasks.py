"""Background jobs for money; each one calls a service and nothing more."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from payouts.earnings import earnings_release_due
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
