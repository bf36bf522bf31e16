"""Background jobs for analytics; each one calls a service and nothing more."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from analytics.rollup import rollup_pending


@db_periodic_task(crontab(minute="*/5"))
@lock_task("analytics-rollup")
def rollup_job() -> None:
    # Every five minutes: the hours of every task that changed since the last
    # pass. One pass at a time; a recompute is idempotent, so a pass that dies
    # half-way is simply redone by the next.
    rollup_pending()
