import datetime

import chinese_calendar.constants
import pytest

from review.calendar import (
    LIBRARY_YEARS,
    add_working_days,
    deadline_warning,
    holiday_overrides,
    is_working_day,
    library_covers,
    overdue_cutoff,
    working_days_between,
    year_is_known,
)
from review.models import Holiday

pytestmark = pytest.mark.django_db

D = datetime.date


# Far beyond any release of chinese_calendar, and with the weekdays of 2028 (a 28-year cycle): the
# tests of years staff must enter hold whatever version is installed.
UNKNOWN_YEAR = 2084


def test_library_covers_the_years_the_installed_package_ships():
    last = max(chinese_calendar.constants.holidays).year
    assert library_covers(2026) and library_covers(last)
    assert not library_covers(last + 1)
    assert not library_covers(2100)
    assert LIBRARY_YEARS.start <= 2004


def test_national_day_week_is_off_and_the_make_up_saturday_is_on():
    assert not is_working_day(D(2026, 10, 1))
    assert not is_working_day(D(2026, 10, 7))
    assert is_working_day(D(2026, 10, 10))  # a Saturday worked in lieu
    assert not is_working_day(D(2026, 10, 11))  # an ordinary Sunday


def test_fifth_working_day_after_30_september_2026_is_13_october():
    # 1-7 Oct off; 8, 9, 10 (make-up Saturday), 12, 13.
    assert add_working_days(D(2026, 9, 30), 5) == D(2026, 10, 13)


def test_tenth_working_day_after_30_september_2026_is_20_october():
    assert add_working_days(D(2026, 9, 30), 10) == D(2026, 10, 20)


def test_the_start_day_itself_is_not_counted():
    assert add_working_days(D(2026, 11, 23), 1) == D(2026, 11, 24)  # Monday -> Tuesday


def test_weekends_are_skipped():
    assert add_working_days(D(2026, 11, 20), 1) == D(2026, 11, 23)  # Friday -> Monday
    assert add_working_days(D(2026, 11, 21), 5) == D(2026, 11, 27)  # Saturday -> Friday


def test_zero_working_days_is_the_start_day_and_negative_is_an_error():
    assert add_working_days(D(2026, 11, 21), 0) == D(2026, 11, 21)
    with pytest.raises(ValueError):
        add_working_days(D(2026, 11, 21), -1)


def test_a_holiday_row_overrides_the_library():
    Holiday.objects.create(date=D(2026, 11, 24), kind=Holiday.Kind.HOLIDAY, name="临时调整")
    Holiday.objects.create(date=D(2026, 11, 28), kind=Holiday.Kind.WORKDAY, name="临时调整")
    assert not is_working_day(D(2026, 11, 24))
    assert is_working_day(D(2026, 11, 28))
    # Mon 23 -> 25, 26, 27, Sat 28 (worked), 30.
    assert add_working_days(D(2026, 11, 23), 5) == D(2026, 11, 30)


def test_a_year_beyond_the_library_counts_monday_to_friday_until_staff_enter_it():
    # 2 October is a Monday that year; without rows it is an ordinary working day.
    assert not year_is_known(UNKNOWN_YEAR)
    assert is_working_day(D(UNKNOWN_YEAR, 10, 2))
    assert add_working_days(D(UNKNOWN_YEAR, 9, 29), 5) == D(UNKNOWN_YEAR, 10, 6)


def test_a_year_beyond_the_library_follows_the_holidays_staff_entered():
    for day in range(1, 8):
        Holiday.objects.create(date=D(UNKNOWN_YEAR, 10, day), kind=Holiday.Kind.HOLIDAY, name="国庆节")
    Holiday.objects.create(date=D(UNKNOWN_YEAR, 10, 8), kind=Holiday.Kind.WORKDAY, name="国庆节")
    assert year_is_known(UNKNOWN_YEAR)
    assert not is_working_day(D(UNKNOWN_YEAR, 10, 2))
    assert is_working_day(D(UNKNOWN_YEAR, 10, 8))  # a Sunday worked in lieu
    # Fri 29 Sep -> Sun 8 Oct, 9, 10, 11, 12.
    assert add_working_days(D(UNKNOWN_YEAR, 9, 29), 5) == D(UNKNOWN_YEAR, 10, 12)


def test_deadline_warning_names_a_year_nobody_entered_and_is_empty_otherwise():
    assert deadline_warning(D(2026, 10, 13)) == ""
    warning = deadline_warning(D(UNKNOWN_YEAR, 3, 1))
    assert f"{UNKNOWN_YEAR}年" in warning and "节假日" in warning
    Holiday.objects.create(date=D(UNKNOWN_YEAR, 1, 1), kind=Holiday.Kind.HOLIDAY, name="元旦")
    assert deadline_warning(D(UNKNOWN_YEAR, 3, 1)) == ""
    assert deadline_warning(None) == ""


def test_deadline_warning_can_answer_from_holiday_rows_read_already(django_assert_num_queries):
    entered = holiday_overrides(D(UNKNOWN_YEAR - 1, 1, 1), D(UNKNOWN_YEAR + 1, 12, 31))
    with django_assert_num_queries(0):
        assert f"{UNKNOWN_YEAR}年" in deadline_warning(D(UNKNOWN_YEAR, 3, 1), entered)
    Holiday.objects.create(date=D(UNKNOWN_YEAR, 1, 1), kind=Holiday.Kind.HOLIDAY, name="元旦")
    entered = holiday_overrides(D(UNKNOWN_YEAR - 1, 1, 1), D(UNKNOWN_YEAR + 1, 12, 31))
    with django_assert_num_queries(0):
        assert deadline_warning(D(UNKNOWN_YEAR, 3, 1), entered) == ""


def test_a_deadline_loads_holiday_rows_in_one_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        add_working_days(D(UNKNOWN_YEAR, 9, 29), 10)
    with django_assert_num_queries(1):
        add_working_days(D(2026, 9, 30), 10)


def test_a_long_run_of_entered_holidays_still_gives_the_right_day():
    # Staff mark forty days off in a row: the first window runs out and a second is loaded.
    start = D(UNKNOWN_YEAR, 3, 1)
    Holiday.objects.bulk_create(
        Holiday(date=start + datetime.timedelta(days=i), kind=Holiday.Kind.HOLIDAY, name="测试")
        for i in range(1, 41)
    )
    assert add_working_days(start, 1) == D(UNKNOWN_YEAR, 4, 11)  # the 41st day is a Tuesday


@pytest.mark.parametrize("days", [1, 5, 10])
def test_overdue_cutoff_agrees_with_add_working_days(days):
    today = D(2026, 10, 14)
    cutoff = overdue_cutoff(days, today=today)
    for offset in range(40):
        start = today - datetime.timedelta(days=offset)
        assert (add_working_days(start, days) < today) == (start < cutoff), start


def test_working_days_left_count_the_days_after_today_up_to_the_deadline():
    # From 30 September 2026 to 13 October: the fifth working day, so 5 left; the deadline itself is 0.
    assert working_days_between(D(2026, 9, 30), D(2026, 10, 13)) == 5
    assert working_days_between(D(2026, 10, 13), D(2026, 10, 13)) == 0


def test_working_days_past_a_deadline_are_negative():
    assert working_days_between(D(2026, 10, 13), D(2026, 10, 12)) == -1  # Tuesday, due Monday
    assert working_days_between(D(2026, 11, 23), D(2026, 11, 20)) == -1  # Monday, due the Friday before


def test_working_days_between_reads_staff_entries():
    Holiday.objects.create(date=D(UNKNOWN_YEAR, 3, 1), kind=Holiday.Kind.HOLIDAY, name="测试")
    with_entry = working_days_between(D(UNKNOWN_YEAR, 2, 28), D(UNKNOWN_YEAR, 3, 3))
    Holiday.objects.all().delete()
    assert working_days_between(D(UNKNOWN_YEAR, 2, 28), D(UNKNOWN_YEAR, 3, 3)) == with_entry + 1
