"""Audit the ledger: cached balances against their entries, and every posting's balance."""

from django.core.management.base import BaseCommand, CommandError

from payouts.models import LedgerAccount, Posting
from payouts.selectors import (
    balance_mismatches,
    entries_in_foreign_currency,
    unbalanced_postings,
)


class Command(BaseCommand):
    help = (
        "Check that every account's cached balance equals the sum of its entries and "
        "that every posting sums to zero per currency. Prints each problem and exits 1 "
        "if there is any; exits 0 when the ledger is balanced."
    )

    def handle(self, *args, **options):
        mismatches = balance_mismatches()
        for mismatch in mismatches:
            account = mismatch.account
            self.stdout.write(
                f"Balance mismatch: account #{account.pk} owner {account.owner_label} "
                f"purpose {account.purpose} currency {account.currency}: "
                f"cached {mismatch.cached}, from entries {mismatch.from_entries} "
                f"(off by {mismatch.cached - mismatch.from_entries:+d})"
            )
        unbalanced = unbalanced_postings()
        for row in unbalanced:
            self.stdout.write(
                f"Unbalanced posting #{row.posting_id}: its {row.currency} entries "
                f"sum to {row.total:+d}, not 0"
            )
        foreign = list(entries_in_foreign_currency().select_related("account"))
        for entry in foreign:
            self.stdout.write(
                f"Currency mismatch: entry #{entry.pk} of posting #{entry.posting_id} is in "
                f"{entry.currency} but account #{entry.account_id} holds {entry.account.currency}"
            )
        if mismatches or unbalanced or foreign:
            raise CommandError(
                f"Ledger check failed: {len(mismatches)} balance mismatch(es), "
                f"{len(unbalanced)} unbalanced posting(s), "
                f"{len(foreign)} entry(ies) in another currency than their account."
            )
        self.stdout.write(
            f"Ledger balanced: {LedgerAccount.objects.count()} accounts, "
            f"{Posting.objects.count()} postings."
        )
