"""Release earnings whose hold has ended; ``--days-ahead`` moves the clock for demos."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from payouts.earnings import earnings_release_due


class Command(BaseCommand):
    help = (
        "Move every pending earning whose hold has ended to the agent's available balance. "
        "The periodic job does this on its own; --days-ahead N releases what would be due "
        "N days from now (to play a demo through without waiting a week)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days-ahead",
            type=int,
            default=0,
            help="Treat holds ending within the next N days as ended (default 0).",
        )

    def handle(self, *args, days_ahead: int, **options):
        if days_ahead < 0 or days_ahead > 365:
            raise CommandError("--days-ahead takes a number of days from 0 to 365.")
        as_of = timezone.now() + timedelta(days=days_ahead)
        released = earnings_release_due(now=as_of)
        self.stdout.write(
            f"Released {released} earning{'s' if released != 1 else ''} "
            f"with holds ending by {as_of:%Y-%m-%d %H:%M} UTC."
        )
