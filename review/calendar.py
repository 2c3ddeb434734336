"""Working days in mainland China: weekends and statutory holidays off, make-up days (调休) on.

The State Council publishes each year's arrangement late in the previous year. chinese_calendar ships
the years published when it was released; for later years staff enter Holiday rows in the admin, and
until they do, a deadline in such a year is counted Monday to Friday and the admin warns.
"""

import datetime

import chinese_calendar
from chinese_calendar.constants import holidays as _library_holidays
from django.utils.translation import gettext as _

from .models import Holiday

LIBRARY_YEARS = range(min(_library_holidays).year, max(_library_holidays).year + 1)

ONE_DAY = datetime.timedelta(days=1)


def library_covers(year):
    """Return whether chinese_calendar knows the holidays of `year`."""
    return year in LIBRARY_YEARS


def year_is_known(year, entered=None):
    """Return whether holidays of `year` are known, from the library or from staff's Holiday rows.

    `entered`, where given, is {date: kind} of the Holiday rows of a span that holds the year (as
    holiday_overrides returns), read already; else the rows are looked up.
    """
    if library_covers(year):
        return True
    if entered is not None:
        return any(day.year == year for day in entered)
    return Holiday.objects.filter(date__year=year).exists()


def deadline_warning(day, entered=None):
    """Return a warning for staff when `day` falls in a year whose holidays nobody has entered, else "".

    `entered`: see year_is_known.
    """
    if day is None or year_is_known(day.year, entered):
        return ""
    return _(
        "%(year)d年的法定节假日和调休安排尚未录入，期限%(day)s暂按周一至周五计算，可能不准确。"
        "请在“节假日与调休”中录入%(year)d年的安排。"
    ) % {"year": day.year, "day": f"{day:%Y-%m-%d}"}


def is_working_day(day):
    """Return whether `day` is a working day."""
    return _is_working(day, _overrides(day, day))


def add_working_days(start, n):
    """Return the n-th working day after `start`; `start` itself is not counted.

    A deadline of "5 working days from submission" is add_working_days(submitted_on, 5).
    """
    if n < 0:
        raise ValueError("n must not be negative")
    return _walk(start, n, step=ONE_DAY)


def overdue_cutoff(n, *, today):
    """Return the earliest start day whose n-working-day deadline has not passed on `today`.

    For every start day s: add_working_days(s, n) < today exactly when s < overdue_cutoff(n, today=today),
    so an admin filter can select overdue rows in the database with `clock_started_on__lt=cutoff`.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    # The n-th working day counting back from yesterday (inclusive) is that cutoff.
    return _walk(today, n, step=-ONE_DAY)


def working_days_between(start, end, overrides=None):
    """Return the working days after `start` up to and including `end`; negative when `end` is earlier.

    Today and a deadline tomorrow give 1; a deadline today gives 0; one that passed yesterday, -1 when today
    is a working day. `overrides` ({date: kind}, as from holiday_overrides) spares a query per call.
    """
    first, last, sign = (start, end, 1) if end >= start else (end, start, -1)
    if overrides is None:
        overrides = holiday_overrides(first, last)
    days = (first + ONE_DAY * i for i in range(1, (last - first).days + 1))
    return sign * sum(1 for day in days if _is_working(day, overrides))


def holiday_overrides(first, last):
    """Return {date: kind} of staff's holiday entries between `first` and `last`, in one query."""
    return _overrides(first, last)


def _walk(start, n, *, step):
    """Return the n-th working day from `start` in the direction of `step`, start excluded."""
    day, counted = start, 0
    while counted < n:
        # Five working days in seven, plus a Spring Festival week: this window nearly always holds the
        # answer, so one query per call; only staff-entered runs of holidays need another window.
        span = 2 * (n - counted) + 31
        window = [day + step * i for i in range(1, span + 1)]
        overrides = _overrides(min(window), max(window))
        for day in window:
            if _is_working(day, overrides):
                counted += 1
                if counted == n:
                    break
    return day


def _overrides(first, last):
    """Return {date: kind} of the Holiday rows between `first` and `last`, in one query."""
    return dict(Holiday.objects.filter(date__range=(first, last)).values_list("date", "kind"))


def _is_working(day, overrides):
    kind = overrides.get(day)
    if kind is not None:
        # Staff's entry decides, even in a year the library knows: the State Council can amend a year.
        return kind == Holiday.Kind.WORKDAY
    if library_covers(day.year):
        return chinese_calendar.is_workday(day)
    return day.weekday() < 5
