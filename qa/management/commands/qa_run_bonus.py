"""Pay the weekly QA bonus of one ISO week and say what was posted."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from marketplace.errors import ValidationFailed
from qa.feeds import BONUS_SETTLE_DAYS, bonus_run, last_payable_week


def _money(amount_minor: int, currency: str) -> str:
    return f"{amount_minor / 100:.2f} {currency}"


class Command(BaseCommand):
    help = (
        "Pay the QA bonus to top-tier agents at or above each gig's threshold for one ISO "
        f"week (default: the latest week over for {BONUS_SETTLE_DAYS} days). Safe to rerun: "
        "a week already paid posts nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--week", help="ISO week, e.g. 2026-W48")

    def handle(self, *args, **options):
        now = timezone.now()
        week = options["week"] or last_payable_week(now)
        try:
            run = bonus_run(week, now)
        except ValidationFailed as exc:
            raise CommandError(exc.message) from exc
        for bonus in run.paid:
            state = "posted" if bonus.created else "already paid"
            self.stdout.write(
                f"gig {bonus.gig_id}, agent {bonus.agent_id}: "
                f"{_money(bonus.amount_minor, bonus.currency)} {state} ({bonus.idempotency_key})"
            )
        for gig_id, agent_id, why in run.skipped:
            self.stdout.write(f"gig {gig_id}, agent {agent_id}: no bonus, {why}")
        self.stdout.write(
            f"Week {run.week}: {len(run.posted)} bonus posting"
            f"{'s' if len(run.posted) != 1 else ''} made, "
            f"{len(run.paid) - len(run.posted)} already paid, {len(run.skipped)} not eligible."
        )
