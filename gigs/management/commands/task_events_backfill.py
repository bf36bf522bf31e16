"""Give tasks written before the task event history existed their history."""

from django.core.management.base import BaseCommand, CommandError

from brands.models import Brand
from gigs.events import task_events_backfill
from gigs.models import Task


class Command(BaseCommand):
    help = (
        "Write the event history (created, offers, claims, releases, messages, close, "
        "rating) of every task that has none, from its stored rows. Tasks with any "
        "event are skipped, so it is safe to run again. Best run while no agent works."
    )

    def add_arguments(self, parser):
        parser.add_argument("--brand", help="Only this brand's tasks (its slug).")

    def handle(self, *args, brand: str | None = None, **options):
        tasks = Task.objects.all()
        if brand is not None:
            found = Brand.objects.filter(slug=brand).first()
            if found is None:
                raise CommandError(f"There is no brand with the slug “{brand}”.")
            tasks = tasks.filter(brand=found)
        # Events are written whole tasks at a time, each batch atomic, so an
        # interrupted run resumes where it stopped: written tasks are skipped.
        done = task_events_backfill(tasks)
        self.stdout.write(f"Wrote the event history of {done} task(s).")
