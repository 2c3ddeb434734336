"""Deadlines in Chinese working days, counted from the day the clock (re)started."""

import datetime

import pytest
from django.utils import timezone

from conftest import set_policy
from review.models import Holiday
from withdrawals import services
from withdrawals.models import WithdrawalApplication

from .conftest import refreshed, start, submitted, upload_all


@pytest.fixture
def on_day(monkeypatch):
    """Make `timezone.localdate()` answer the given day."""

    def set_day(day):
        monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: day)

    return set_day


def test_submitted_before_national_day_first_review_is_due_after_the_holiday_week(stopped_applicant, on_day):
    on_day(datetime.date(2026, 9, 30))
    application = refreshed(submitted(stopped_applicant))
    assert application.clock_started_on == datetime.date(2026, 9, 30)
    # 1-7 October are off and Saturday 10 October is a make-up working day.
    assert application.first_review_due == datetime.date(2026, 10, 13)
    assert application.payment_due == datetime.date(2026, 10, 20)


def test_deadlines_are_those_of_the_version_in_force_on_the_day_of_submission(stopped_applicant, on_day):
    code = stopped_applicant.enrolments.get().region.code
    set_policy(code, since=datetime.date(2026, 11, 23), withdrawal_review_days=3, withdrawal_payment_days=6)
    on_day(datetime.date(2026, 11, 23))  # a Monday, the day the new version takes effect
    application = refreshed(submitted(stopped_applicant))
    assert application.first_review_due == datetime.date(2026, 11, 26)
    assert application.payment_due == datetime.date(2026, 12, 1)


def test_a_submission_the_day_before_a_new_version_keeps_the_old_deadlines(stopped_applicant, on_day):
    code = stopped_applicant.enrolments.get().region.code
    set_policy(code, since=datetime.date(2026, 11, 24), withdrawal_review_days=3, withdrawal_payment_days=6)
    on_day(datetime.date(2026, 11, 23))
    application = refreshed(submitted(stopped_applicant))
    assert application.first_review_due == datetime.date(2026, 11, 30)  # 5 working days


def test_staff_entered_holidays_count_in_years_the_library_lacks(stopped_applicant, on_day):
    Holiday.objects.create(date=datetime.date(2030, 1, 1), kind=Holiday.Kind.HOLIDAY, name="元旦")
    on_day(datetime.date(2029, 12, 31))  # a Monday
    application = refreshed(submitted(stopped_applicant))
    assert application.first_review_due == datetime.date(2030, 1, 8)


def test_an_application_past_its_first_review_deadline_is_overdue(stopped_applicant, on_day):
    on_day(datetime.date(2026, 9, 30))
    application = submitted(stopped_applicant)
    on_day(datetime.date(2026, 10, 13))
    assert not refreshed(application).is_overdue
    assert not WithdrawalApplication.objects.overdue().exists()
    on_day(datetime.date(2026, 10, 14))
    assert refreshed(application).is_overdue
    assert list(WithdrawalApplication.objects.overdue()) == [application]


def test_after_first_review_the_payment_deadline_counts(stopped_applicant, desk_reviewer, on_day):
    on_day(datetime.date(2026, 9, 30))
    application = submitted(stopped_applicant)
    services.first_review_withdrawal(application=application, actor=desk_reviewer)
    on_day(datetime.date(2026, 10, 14))
    row = refreshed(application)
    assert (row.next_due, row.is_overdue) == (datetime.date(2026, 10, 20), False)
    on_day(datetime.date(2026, 10, 21))
    assert refreshed(application).is_overdue
    assert WithdrawalApplication.objects.overdue().count() == 1


def test_drafts_and_closed_applications_are_never_overdue(stopped_applicant, on_day):
    on_day(datetime.date(2026, 9, 30))
    application = upload_all(start(stopped_applicant))
    on_day(datetime.date(2027, 1, 1))
    assert refreshed(application).next_due is None
    assert not refreshed(application).is_overdue
    assert not WithdrawalApplication.objects.overdue().exists()
