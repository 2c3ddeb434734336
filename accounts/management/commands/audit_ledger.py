"""Check the ledger against itself; exit non-zero naming every discrepancy."""

from django.core.management.base import BaseCommand, CommandError

from accounts import ledger
from accounts.models import Account, JournalTransaction


class Command(BaseCommand):
    help = (
        "Check that every transaction sums to zero, every balance equals the sum of its entries and no "
        "citizen balance is negative."
    )

    def handle(self, *args, **options):
        discrepancies = ledger.audit()
        if discrepancies:
            for discrepancy in discrepancies:
                self.stderr.write(str(discrepancy))
            count = len(discrepancies)
            noun = "discrepancy" if count == 1 else "discrepancies"
            raise CommandError(f"ledger audit failed: {count} {noun}")
        transactions, accounts = JournalTransaction.objects.count(), Account.objects.count()
        self.stdout.write(f"ledger OK: {transactions} transactions, {accounts} accounts")
