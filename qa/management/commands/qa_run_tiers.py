"""Run the nightly tier job now and say what it changed."""

from django.core.management.base import BaseCommand

from qa.tiers import tier_job


class Command(BaseCommand):
    help = (
        "Promote or demote every approved pool member on their QA score in the brand, "
        "as the nightly job does, and print each change with its reason."
    )

    def handle(self, *args, **options):
        result = tier_job()
        for change in result.changes:
            self.stdout.write(
                f"{change.agent} in {change.brand}: tier {change.from_tier} → "
                f"{change.to_tier}. {change.reason}"
            )
        moved = len(result.changes)
        self.stdout.write(
            f"Checked {result.checked} pool member{'s' if result.checked != 1 else ''}; "
            f"{moved} tier change{'s' if moved != 1 else ''}."
        )
