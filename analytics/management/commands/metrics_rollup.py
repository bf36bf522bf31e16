"""Recompute the hourly roll-ups: everything new (the periodic job's pass),
or a brand's whole history or a range of it."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError

from analytics.rollup import rollup_pending, rollup_recompute, rollup_recompute_all
from brands.models import Brand


class Command(BaseCommand):
    help = "Roll task events up into hourly metrics (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--brand", help="A brand's slug: recompute its roll-ups.")
        parser.add_argument("--all", action="store_true", help="Recompute every brand's history.")
        parser.add_argument("--from", dest="first", help="First local day (YYYY-MM-DD).")
        parser.add_argument("--to", dest="last", help="Last local day, included (YYYY-MM-DD).")

    def handle(self, *args, brand=None, all=False, first=None, last=None, **options):
        if brand is None and not all:
            run = rollup_pending()
            self.stdout.write(f"Recomputed {run.hours} hours of {run.tasks} tasks.")
            return
        brands = Brand.objects.all() if all else Brand.objects.filter(slug=brand)
        if not brands.exists():
            raise CommandError(f"No brand with the slug {brand!r}.")
        for item in brands:
            if first or last:
                if not (first and last):
                    raise CommandError("Give both --from and --to, or neither.")
                zone = ZoneInfo(item.time_zone)
                try:
                    start = datetime.combine(datetime.fromisoformat(first).date(), time.min, zone)
                    end = datetime.combine(
                        datetime.fromisoformat(last).date() + timedelta(days=1), time.min, zone
                    )
                except ValueError as error:
                    raise CommandError(f"Dates are YYYY-MM-DD: {error}") from error
                if end <= start:
                    raise CommandError("--to must not be before --from.")
                result = rollup_recompute(item, start, end)
            else:
                result = rollup_recompute_all(item)
            self.stdout.write(f"{item.slug}: {result.tasks} tasks, {result.rows} hourly rows.")
