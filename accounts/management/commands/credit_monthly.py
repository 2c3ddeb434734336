"""Credit every active employee's personal account for one month; a second run credits nothing more."""

import datetime
import re

from django.core.management.base import BaseCommand, CommandError

from accounts.services import credit_monthly

MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(value):
    """Return the first day of the month written YYYY-MM, or raise CommandError."""
    match = MONTH.match(value.strip())
    if match is None:
        raise CommandError(f"--month must look like 2026-10 (YYYY-MM), not {value!r}.")
    try:
        return datetime.date(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise CommandError(f"--month {value!r} is not a real month.") from None


class Command(BaseCommand):
    help = "Credit the month's amount to every active employee account (2% of base, or the retiree amount)."

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="The month to credit, YYYY-MM.")

    def handle(self, *args, month, **options):
        summary = credit_monthly(month=parse_month(month))
        self.stdout.write(str(summary))
