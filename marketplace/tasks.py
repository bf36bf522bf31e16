"""Platform-wide background jobs; each one calls a service and nothing more."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from marketplace.idempotency import idempotency_records_purge


@db_periodic_task(crontab(minute="17"))
def idempotency_records_purge_job() -> None:
    # Hourly keeps each run small; records live at least the documented 24 h.
    idempotency_records_purge()
