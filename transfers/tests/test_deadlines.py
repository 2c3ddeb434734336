"""The national time limits in working days: 转出 within 10 of acceptance, 转入 within 5 of the form."""

import datetime

import pytest
from django.utils import timezone

from conftest import set_policy
from review.models import Holiday
from transfers import services
from transfers.models import TransferApplication

from .conftest import refreshed

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_day(monkeypatch):
    """Make `timezone.localdate()` answer the given day."""

    def set_day(day):
        monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: day)

    return set_day


def test_transfer_out_is_due_ten_working_days_after_acceptance(submitted, nb_clerk, on_day):
    on_day(datetime.date(2026, 9, 29))  # a Tuesday
    services.accept_transfer(application=submitted, actor=nb_clerk)
    # 30 Sep is a working day, 1-7 October are off, Saturday 10 October is a make-up working day.
    assert refreshed(submitted).transfer_out_due == datetime.date(2026, 10, 19)


def test_transfer_in_is_due_five_working_days_after_the_form(accepted, dg_clerk, on_day):
    on_day(datetime.date(2026, 11, 26))  # a Thursday
    services.transfer_out(application=accepted, actor=dg_clerk)
    assert refreshed(accepted).transfer_in_due == datetime.date(2026, 12, 3)


def test_each_regions_own_time_limit_in_force_on_the_day_counts(submitted, nb_clerk, dg_clerk, on_day):
    # The old region (东莞) has 8 working days to transfer out from 23 November, the new one (宁波) 3 to
    # transfer in from 30 November; each is read on the day its clock starts.
    assert (submitted.old_region.code, submitted.new_region.code) == ("441900", "330200")
    set_policy("441900", since=datetime.date(2026, 11, 23), transfer_out_days=8)
    set_policy("330200", since=datetime.date(2026, 11, 30), transfer_in_days=3)
    on_day(datetime.date(2026, 11, 23))  # a Monday
    services.accept_transfer(application=submitted, actor=nb_clerk)
    assert refreshed(submitted).transfer_out_due == datetime.date(2026, 12, 3)
    on_day(datetime.date(2026, 11, 27))  # the Friday before 宁波's new limit: still 5 days
    services.transfer_out(application=refreshed(submitted), actor=dg_clerk)
    assert refreshed(submitted).transfer_in_due == datetime.date(2026, 12, 4)


def test_staff_entered_holidays_count_in_years_the_library_lacks(submitted, nb_clerk, on_day):
    Holiday.objects.create(date=datetime.date(2030, 1, 1), kind=Holiday.Kind.HOLIDAY, name="元旦")
    on_day(datetime.date(2029, 12, 28))  # a Friday
    services.accept_transfer(application=submitted, actor=nb_clerk)
    assert refreshed(submitted).transfer_out_due == datetime.date(2030, 1, 14)


def test_an_accepted_transfer_past_its_transfer_out_deadline_is_overdue(submitted, nb_clerk, on_day):
    on_day(datetime.date(2026, 11, 23))
    services.accept_transfer(application=submitted, actor=nb_clerk)
    due = refreshed(submitted).transfer_out_due
    assert due == datetime.date(2026, 12, 7)
    on_day(due)
    assert not refreshed(submitted).is_overdue
    assert not TransferApplication.objects.overdue().exists()
    on_day(due + datetime.timedelta(days=1))
    assert refreshed(submitted).is_overdue
    assert list(TransferApplication.objects.overdue()) == [submitted]


def test_after_transfer_out_the_transfer_in_deadline_counts(accepted, dg_clerk, on_day):
    on_day(datetime.date(2026, 11, 23))
    services.transfer_out(application=accepted, actor=dg_clerk)
    row = refreshed(accepted)
    due = datetime.date(2026, 11, 30)
    assert (row.next_due, row.pending_deadlines) == (due, [("转入期限", due)])
    on_day(datetime.date(2026, 12, 1))
    assert refreshed(accepted).is_overdue
    assert TransferApplication.objects.overdue().count() == 1


def test_submitted_and_returned_transfers_run_no_deadline(on_day, submitted, nb_clerk):
    on_day(datetime.date(2027, 6, 1))
    assert refreshed(submitted).next_due is None
    services.return_transfer(application=submitted, actor=nb_clerk, note="请补正")
    assert refreshed(submitted).next_due is None
    assert not TransferApplication.objects.overdue().exists()


def test_completed_transfers_are_never_overdue(completed, on_day):
    on_day(datetime.date(2030, 1, 1))
    assert not refreshed(completed).is_overdue
    assert not TransferApplication.objects.overdue().exists()


def test_the_timeline_lists_the_running_deadline(client, accepted):
    client.force_login(accepted.applicant.user)
    html = client.get(f"/transfers/{accepted.pk}/").content.decode()
    due = refreshed(accepted).transfer_out_due
    assert "转出期限" in html and f"{due.year}年{due.month}月{due.day}日" in html
    assert "全程一般不超过15个工作日" in html
