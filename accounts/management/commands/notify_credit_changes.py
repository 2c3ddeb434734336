"""Tell each citizen whose monthly credit a policy version changes, on the day it takes effect; run daily."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from accounts.credits import notify_credit_changes


class Command(BaseCommand):
    help = _(
        "政策参数版本生效当天，通知每一位每月划入金额因此改变的参保人（原金额、新金额、生效日期和文件依据）。"
        "每天运行一次；同一版本只通知一次。"
    )

    def handle(self, *args, **options):
        records = notify_credit_changes()
        for record in records:
            self.stdout.write(
                _("%(version)s：通知 %(count)d 人。") % {"version": record.version, "count": record.recipients}
            )
        if not records:
            self.stdout.write(_("没有新生效的政策参数版本。"))
