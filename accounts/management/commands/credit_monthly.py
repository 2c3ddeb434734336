"""Credit one month to every person due it; a second run credits nothing more. Safe to stop and run again."""

import datetime
import re
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from accounts.credits import CHUNK_SIZE, credit_monthly
from accounts.models import Region
from accounts.services import ServiceError

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
        "为每位应划入的参保人划入一个月的金额（在职按缴费基数的比例，退休按定额，按该月1日生效的政策参数）；"
        "每人每月只划入一次。分批提交，中断后重新运行即可接着划入。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--month",
            help=_("要划入的月份，格式 YYYY-MM；不填则为北京时间的本月。不能晚于本月。"),
        )
        parser.add_argument("--region", help=_("只划入这个统筹区（6位行政区划代码）的参保人。"))
        parser.add_argument(
            "--chunk-size", type=int, default=CHUNK_SIZE, help=_("每批处理的账户数（默认 %(default)s）。")
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help=_("同时处理的批数（PostgreSQL，每批一个数据库连接；默认 1，可设为数据库服务器的CPU核数）。"),
        )

    def handle(self, *args, month=None, region=None, chunk_size=CHUNK_SIZE, workers=1, **options):
        if chunk_size < 1 or workers < 1:
            raise CommandError(_("--chunk-size 和 --workers 须为正整数。"))
        progress = Progress(self.stdout) if self.stdout.isatty() else None
        try:
            summary = credit_monthly(
                month=parse_month(month) if month is not None else None,
                region=self.region(region) if region is not None else None,
                chunk_size=chunk_size,
                workers=workers,
                progress=progress,
            )
        except ServiceError as error:
            raise CommandError(error.message) from None
        finally:
            if progress is not None:
                progress.end()
        self.stdout.write(str(summary))

    def region(self, code):
        found = Region.objects.filter(code=code.strip()).first()
        if found is None:
            raise CommandError(_("没有行政区划代码为 %(code)r 的统筹区。") % {"code": code})
        return found


class Progress:
    """One line on a terminal, rewritten after each chunk: accounts gone through, credited, rate."""

    def __init__(self, out):
        self.out, self.started, self.shown = out, time.monotonic(), False

    def __call__(self, done, total, summary):
        elapsed = time.monotonic() - self.started
        share = done / total if total else 1
        bar = "#" * int(share * 30)
        # "\r" outside gettext, which turns it into a newline: the line is rewritten in place.
        self.out.write(
            "\r"
            + _("[%(bar)-30s] %(done)s/%(total)s 个账户，已划入 %(credited)s，%(seconds).0f 秒")
            % {
                "bar": bar,
                "done": f"{done:,}",
                "total": f"{total:,}",
                "credited": f"{summary.credited:,}",
                "seconds": elapsed,
            },
            ending="",
        )
        self.out.flush()
        self.shown = True

    def end(self):
        if self.shown:
            self.out.write("")
