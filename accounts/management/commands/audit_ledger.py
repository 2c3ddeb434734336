"""Check the ledger against itself; exit non-zero naming every discrepancy."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from accounts import ledger
from accounts.models import Account, JournalTransaction


class Command(BaseCommand):
    help = _("核对账务：每笔交易的分录合计为零，每个账户的余额等于其分录之和，参保人的余额不为负数。")

    def handle(self, *args, **options):
        discrepancies = ledger.audit()
        if discrepancies:
            for discrepancy in discrepancies:
                self.stderr.write(str(discrepancy))
            raise CommandError(_("账务核对未通过：发现 %(count)d 处不一致。") % {"count": len(discrepancies)})
        transactions, accounts = JournalTransaction.objects.count(), Account.objects.count()
        self.stdout.write(
            _("账务核对无误：%(transactions)d 笔交易，%(accounts)d 个账户。")
            % {"transactions": transactions, "accounts": accounts}
        )
