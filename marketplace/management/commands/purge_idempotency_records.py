"""Delete stored Idempotency-Key responses once clients can no longer need them."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from marketplace.idempotency import RECORD_RETENTION, idempotency_records_purge


class Command(BaseCommand):
    help = (
        "Delete Idempotency-Key records older than --hours (default 24). A retry "
        "after that runs the request again, so run this daily, not more eagerly."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--hours",
            type=int,
            default=int(RECORD_RETENTION.total_seconds() // 3600),
            help="Keep records younger than this many hours (at least 1).",
        )

    def handle(self, *args, hours: int, **options):
        if hours < 1:
            raise CommandError("--hours must be at least 1.")
        deleted = idempotency_records_purge(older_than=timedelta(hours=hours))
        self.stdout.write(f"Deleted {deleted} idempotency record(s) older than {hours} h.")
