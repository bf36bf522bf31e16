"""``manage.py payrun_execute <run id>``: send an executing pay run's transfers in this process.

For demos and load tests: the same work as the background job
(``payouts.payrun_transfers.payrun_process``), in the foreground, resumed
until the run completes. The run must already be executing (approved and
executed by staff in the console); a run another worker holds is left to it.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from payouts.models import PayRun, PayRunStatus
from payouts.payrun_transfers import StripeUnavailable, payrun_process


class Command(BaseCommand):
    help = "Send an executing pay run's Stripe transfers now, in this process."

    def add_arguments(self, parser):
        parser.add_argument("run_id", type=int)
        parser.add_argument(
            "--attempts",
            type=int,
            default=5,
            help="How many times to resume after Stripe kept failing (default 5).",
        )

    def handle(self, *args, run_id: int, attempts: int, **options):
        run = PayRun.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"No pay run #{run_id}.")
        if run.status != PayRunStatus.EXECUTING:
            raise CommandError(f"Pay run #{run_id} is {run.status}; execute it first.")
        started = time.monotonic()
        for attempt in range(1, attempts + 1):
            try:
                progress = payrun_process(run_id=run_id)
            except StripeUnavailable as exc:
                self.stderr.write(f"Attempt {attempt}: {exc}")
                continue
            if progress is None:
                raise CommandError(f"Another worker is executing pay run #{run_id}.")
            elapsed = time.monotonic() - started
            self.stdout.write(
                f"Pay run #{run_id}: {progress.paid} paid, {progress.refused} refused "
                f"in {elapsed:.1f}s ({'completed' if progress.completed else 'not completed'})."
            )
            if progress.completed:
                return
        raise CommandError(f"Pay run #{run_id} did not complete; a later job will resume it.")
