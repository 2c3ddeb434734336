"""Credit every active employee's personal account for one month; a second run credits nothing more."""

import datetime
import re

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from accounts.services import ServiceError, credit_monthly

MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(value):
    """Return the first day of the month written YYYY-MM, or raise CommandError."""
    match = MONTH.match(value.strip())
    if match is None:
        raise CommandError(_("--month 应写成“年-月”，例如 2026-10，而不是 %(value)r。") % {"value": value})
    try:
        return datetime.date(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise CommandError(_("--month %(value)r 不是真实存在的月份。") % {"value": value}) from None


class Command(BaseCommand):
    help = _(
        "为每个参保中的职工个人账户划入一个月的金额（在职按缴费基数的比例，退休按定额）；同一月份只划入一次。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--month",
            help=_("要划入的月份，格式 YYYY-MM；不填则为北京时间的本月。不能晚于本月。"),
        )

    def handle(self, *args, month=None, **options):
        try:
            summary = credit_monthly(month=parse_month(month) if month is not None else None)
        except ServiceError as error:
            raise CommandError(error.message) from None
        self.stdout.write(str(summary))
