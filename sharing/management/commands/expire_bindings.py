"""Lapse overdue sharing requests and end bindings whose enrolments no longer support them; run from cron."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from sharing import bindings


class Command(BaseCommand):
    help = _(
        "家庭共济例行处理：超过7天未确认的共济请求置为已过期并通知共济人；参保状态已变化的共济关系自动解除；"
        "解除时因个人账户不能入账而保留的额度，账户恢复后退回。可重复运行。"
    )

    def handle(self, *args, **options):
        expired = bindings.expire_overdue()
        ended = len(bindings.end_unsupported())
        returned = bindings.return_all_held_quotas()
        message = _("共济请求过期 %(expired)d 个；自动解除 %(ended)d 个；退回保留额度 %(returned)d 笔。") % {
            "expired": expired, "ended": ended, "returned": returned,
        }
        self.stdout.write(self.style.SUCCESS(message))
