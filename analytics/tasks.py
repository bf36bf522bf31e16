"""Background jobs for analytics; each one calls a service and nothing more."""

from __future__ import annotations

from django.db import transaction
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from analytics.rollup import rollup_pending, rollup_recompute_all


@db_periodic_task(crontab(minute="*/5"))
@lock_task("analytics-rollup")
def rollup_job() -> None:
    # Every five minutes: the hours of every task that changed since the last
    # pass. One pass at a time; a recompute is idempotent, so a pass that dies
    # half-way is simply redone by the next.
    rollup_pending()


@db_task(retries=2, retry_delay=60)
@lock_task("analytics-rollup")
def rollup_brand_job(brand_id: int) -> None:
    # Queued when a change moves past figures without any event: a gig's SLA
    # targets, the brand's business hours or holidays.
    from brands.models import Brand

    brand = Brand.objects.filter(pk=brand_id).first()
    if brand is not None:
        rollup_recompute_all(brand)


def rollup_brand_later(brand_id: int) -> None:
    """Recompute ``brand_id``'s roll-ups in the background once the caller's transaction commits."""
    transaction.on_commit(lambda: rollup_brand_job(brand_id))


from analytics.digest import digests_send  # noqa: E402


@db_periodic_task(crontab(day_of_week="1,2", minute="0"))
@lock_task("analytics-weekly-digest")
def weekly_digest_job() -> None:
    # Hourly on Mondays and Tuesdays (UTC): each brand's digest goes out at the
    # first run after Monday 06:00 in its own zone (analytics.digest). A rerun
    # sends nothing twice: every digest sent is recorded.
    digests_send()
