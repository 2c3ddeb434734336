"""Check the ledger since the last clean audit (or all of it); exit non-zero naming each difference."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import ledger
from accounts.models import CITIZENS_TIME_ZONE


class Command(BaseCommand):
    help = _(
        "核对账务：每笔交易的分录合计为零，每条明细的记账后余额连续，每个账户的余额与其明细一致，参保人的余额不为负数。"
        "默认只核对上次核对无误以来新记的账；--full 核对全部。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--full", action="store_true", help=_("核对全部账务，而不只是上次核对无误以来新记的账。")
        )

    def handle(self, *args, full=False, **options):
        run = ledger.run_audit(full=full)
        where = self.starting_point(run)
        if run.discrepancies:
            for discrepancy in run.discrepancies:
                self.stderr.write(str(discrepancy))
            raise CommandError(
                _("账务核对未通过：发现 %(count)d 处不一致%(where)s。")
                % {"count": len(run.discrepancies), "where": f"（{where}）" if where else ""}
            )
        if run.checkpoint is None:
            self.stdout.write(
                _("账务核对无误：%(transactions)d 笔交易，%(accounts)d 个账户。")
                % {"transactions": run.transactions, "accounts": run.accounts}
            )
        else:
            self.stdout.write(
                _("账务核对无误：%(where)s新记 %(transactions)d 笔交易、%(entries)d 条明细，涉及 %(accounts)d 个账户。")
                % {
                    "where": where, "transactions": run.transactions, "entries": run.entries,
                    "accounts": run.accounts,
                }
            )

    def starting_point(self, run):
        checkpoint = run.checkpoint
        if checkpoint is None:
            return ""
        moment = timezone.localtime(checkpoint.finished_at, CITIZENS_TIME_ZONE)
        return _(
            "自核对点 #%(pk)d（%(moment)s%(kind)s，核对至交易 #%(transaction)d、明细 #%(entry)d）起，"
            "从交易 #%(since_transaction)d、明细 #%(since_entry)d 之后"
        ) % {
            "pk": checkpoint.pk,
            "moment": f"{moment:%Y-%m-%d %H:%M}",
            "kind": _("全量核对") if checkpoint.full else _("增量核对"),
            "transaction": checkpoint.last_transaction_id,
            "entry": checkpoint.last_entry_id,
            "since_transaction": run.since_transaction,
            "since_entry": run.since_entry,
        }
