"""Background jobs for brand webhooks; each one calls a service and nothing more."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from brands.webhooks import (
    webhook_deliveries_purge,
    webhook_deliveries_sweep,
    webhook_delivery_attempt,
)


@db_task()
def webhook_delivery_job(delivery_id: int) -> None:
    # Queued after the event commits, and scheduled again by the attempt
    # itself for each retry; running it twice for one attempt sends once.
    webhook_delivery_attempt(delivery_id=delivery_id)


@db_periodic_task(crontab())
def webhook_deliveries_sweep_job() -> None:
    # Every minute: attempts that are overdue because their job was lost.
    webhook_deliveries_sweep()


@db_periodic_task(crontab(minute="17", hour="3"))
def webhook_deliveries_purge_job() -> None:
    webhook_deliveries_purge()
