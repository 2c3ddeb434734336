"""Notices of a version that changes monthly credits: who gets one, what it says, and only once."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.credits import notify_credit_changes
from accounts.models import CreditChangeNotification, Notice
from accounts.services import stop_enrolment
from conftest import make_employee, set_policy

pytestmark = pytest.mark.django_db

JULY = datetime.date(2026, 7, 1)


def notices_of(person):
    return list(Notice.objects.filter(person=person, title="每月划入金额调整"))


def test_retirees_are_told_the_old_and_new_amount_the_date_and_the_document():
    set_policy(since=datetime.date(2026, 1, 1), document="甬医保发〔2025〕1号")
    set_policy(since=JULY, retiree_monthly_credit=Decimal("120.00"), document="甬医保发〔2026〕15号")
    retiree = make_employee(retired=True, name="李秀英")
    employee = make_employee(base="8000.00")
    elsewhere = make_employee(retired=True, region_code="441900")

    notify_credit_changes(today=JULY)

    (notice,) = notices_of(retiree)
    assert notice.body == (
        "根据甬医保发〔2026〕15号，宁波市自2026年7月1日起调整个人账户每月划入标准。您的每月划入金额自2026年7月起"
        "由 ¥110.00 调整为 ¥120.00（退休人员定额）。每月划入明细和调整原因可以在“我的账户”中查看。"
    )
    assert notice.link == "/account/"
    assert notices_of(employee) == [] and notices_of(elsewhere) == []


def test_a_new_rate_tells_each_employee_their_own_amounts():
    set_policy(since=JULY, employee_credit_rate=Decimal("2.50"), document="甬医保发〔2026〕16号")
    employee = make_employee(base="8000.00")
    tiny = make_employee(base="0.10")  # 0.002 and 0.0025: both round to nothing, so nothing changes
    retiree = make_employee(retired=True)

    (record,) = notify_credit_changes(today=JULY)

    (notice,) = notices_of(employee)
    assert "由 ¥160.00 调整为 ¥200.00（缴费基数 ¥8,000.00 × 2.5%）" in notice.body
    assert notices_of(tiny) == [] and notices_of(retiree) == []
    assert record.recipients == 1


def test_a_version_taking_effect_mid_month_changes_credits_from_the_next_month():
    set_policy(since=datetime.date(2026, 7, 15), retiree_monthly_credit=Decimal("125.00"))
    retiree = make_employee(retired=True)

    notify_credit_changes(today=datetime.date(2026, 7, 15))

    assert "您的每月划入金额自2026年8月起由 ¥110.00 调整为 ¥125.00" in notices_of(retiree)[0].body


def test_nobody_is_told_before_the_day_and_nobody_twice():
    set_policy(since=JULY, retiree_monthly_credit=Decimal("120.00"))
    retiree = make_employee(retired=True)

    assert notify_credit_changes(today=JULY - datetime.timedelta(days=1)) == []
    assert notices_of(retiree) == []
    notify_credit_changes(today=JULY)
    assert notify_credit_changes(today=JULY + datetime.timedelta(days=1)) == []

    assert len(notices_of(retiree)) == 1
    assert CreditChangeNotification.objects.get(version__effective_from=JULY).recipients == 1


def test_a_version_that_changes_no_credit_tells_nobody():
    set_policy(since=JULY, max_sharing_relatives=8)
    make_employee(retired=True)

    (record,) = notify_credit_changes(today=JULY)

    assert record.recipients == 0
    assert not Notice.objects.exists()


def test_people_no_longer_insured_in_the_region_are_not_told():
    set_policy(since=JULY, retiree_monthly_credit=Decimal("120.00"))
    gone = make_employee(retired=True)
    stop_enrolment(enrolment=gone.enrolments.get(), ended_on=datetime.date(2026, 6, 30))

    notify_credit_changes(today=JULY)

    assert notices_of(gone) == []


def test_the_daily_command_says_what_it_sent(monkeypatch):
    version = set_policy(since=JULY, retiree_monthly_credit=Decimal("120.00"), document="甬医保发〔2026〕15号")
    make_employee(retired=True)
    out = StringIO()

    call_command("notify_credit_changes", stdout=out)
    call_command("notify_credit_changes", stdout=out)

    assert out.getvalue().splitlines() == [f"{version}：通知 1 人。", "没有新生效的政策参数版本。"]
