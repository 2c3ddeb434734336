import datetime
from decimal import Decimal

import pytest

from accounts import ledger
from accounts.models import Account, Enrolment, JournalTransaction, MonthlyCredit, Region
from accounts.services import (
    ServiceError,
    change_account_status,
    credit_for,
    credit_monthly,
    stop_enrolment,
    system_account,
)
from conftest import make_employee, make_resident, region

pytestmark = pytest.mark.django_db

OCTOBER = datetime.date(2026, 10, 1)


def account_of(person):
    return Account.objects.get(kind=Account.Kind.PERSONAL, enrolment__person=person)


def test_in_service_employee_gets_two_percent_of_the_base():
    person = make_employee(base="8000.00")

    summary = credit_monthly(month=OCTOBER)

    account = account_of(person)
    assert account.balance == Decimal("160.00")
    credit = MonthlyCredit.objects.get(account=account)
    assert (credit.month, credit.amount) == (OCTOBER, Decimal("160.00"))
    assert (credit.contribution_base, credit.rate) == (Decimal("8000.00"), Decimal("2.00"))
    assert credit.computation == "2026年10月 划入 ¥160.00 = 缴费基数 ¥8,000.00 × 2%"
    assert credit.transaction.kind == JournalTransaction.Kind.CREDIT
    assert credit.transaction.description == credit.computation
    assert system_account(region(), Account.Kind.CREDIT_SOURCE).balance == Decimal("-160.00")
    assert (summary.credited, summary.total) == (1, Decimal("160.00"))
    assert ledger.audit() == []


@pytest.mark.parametrize(
    "base, amount",
    [
        ("7333.33", "146.67"),  # 146.6666
        ("7333.25", "146.67"),  # 146.665: half-up, where banker's rounding would give 146.66
        ("7333.00", "146.66"),
        ("0.24", "0.00"),
    ],
)
def test_credit_rounds_half_up_to_the_cent(base, amount):
    enrolment = make_employee(base=base).enrolments.get()
    assert credit_for(enrolment, OCTOBER)[0] == Decimal(amount)


@pytest.mark.parametrize("region_code, amount", [("330200", "110.00"), ("441900", "100.00")])
def test_retiree_gets_the_region_fixed_amount(region_code, amount):
    person = make_employee(retired=True, region_code=region_code)

    credit_monthly(month=OCTOBER)

    assert account_of(person).balance == Decimal(amount)
    credit = MonthlyCredit.objects.get(account__enrolment__person=person)
    assert credit.computation == f"2026年10月 划入 ¥{amount} = 退休人员定额"
    assert credit.contribution_base is None and credit.rate is None


def test_region_rate_parameter_changes_the_credit():
    ningbo = region()
    ningbo.employee_credit_rate = Decimal("1.50")
    ningbo.save()
    person = make_employee(base="8000.00")

    credit_monthly(month=OCTOBER)

    credit = MonthlyCredit.objects.get(account__enrolment__person=person)
    assert credit.amount == Decimal("120.00")
    assert credit.computation == "2026年10月 划入 ¥120.00 = 缴费基数 ¥8,000.00 × 1.5%"


def test_region_retiree_amount_parameter_changes_the_credit():
    Region.objects.filter(code="441900").update(retiree_monthly_credit=Decimal("95.50"))
    person = make_employee(retired=True, region_code="441900")

    credit_monthly(month=OCTOBER)

    assert account_of(person).balance == Decimal("95.50")


@pytest.mark.parametrize(
    "status", [Account.Status.FROZEN, Account.Status.CLOSED, Account.Status.TRANSFERRED_OUT]
)
def test_unavailable_account_gets_nothing(reviewer, status):
    person = make_employee(balance="50.00")
    change_account_status(account=account_of(person), to_status=status, actor=reviewer, reason="测试")

    summary = credit_monthly(month=OCTOBER)

    assert account_of(person).balance == Decimal("50.00")
    assert not MonthlyCredit.objects.exists()
    assert (summary.credited, summary.skipped_unavailable) == (0, 1)


def test_stopped_enrolment_gets_nothing():
    person = make_employee(balance="50.00")
    stop_enrolment(enrolment=person.enrolments.get())

    summary = credit_monthly(month=OCTOBER)

    assert account_of(person).balance == Decimal("50.00")
    assert not MonthlyCredit.objects.exists()
    assert summary.credited == 0


def test_resident_has_no_account_and_gets_nothing():
    person = make_resident()

    summary = credit_monthly(month=OCTOBER)

    assert person.enrolments.get().insurance_type == Enrolment.InsuranceType.RESIDENT
    assert not Account.objects.filter(enrolment__person=person).exists()
    assert summary.credited == 0
    assert not JournalTransaction.objects.exists()


def test_running_twice_credits_once():
    person = make_employee(base="8000.00")

    credit_monthly(month=OCTOBER)
    second = credit_monthly(month=datetime.date(2026, 10, 15))

    assert account_of(person).balance == Decimal("160.00")
    assert MonthlyCredit.objects.count() == 1
    assert JournalTransaction.objects.filter(kind=JournalTransaction.Kind.CREDIT).count() == 1
    assert (second.credited, second.already_credited, second.total) == (0, 1, Decimal("0.00"))


def test_each_month_is_credited_separately():
    person = make_employee(base="8000.00")

    credit_monthly(month=datetime.date(2026, 9, 1))
    credit_monthly(month=OCTOBER)

    assert account_of(person).balance == Decimal("320.00")
    assert list(MonthlyCredit.objects.values_list("computation", flat=True)) == [
        "2026年10月 划入 ¥160.00 = 缴费基数 ¥8,000.00 × 2%",
        "2026年9月 划入 ¥160.00 = 缴费基数 ¥8,000.00 × 2%",
    ]


def test_unfrozen_account_is_credited_by_a_later_run(reviewer):
    person = make_employee()
    account = account_of(person)
    change_account_status(account=account, to_status=Account.Status.FROZEN, actor=reviewer, reason="核查")
    credit_monthly(month=OCTOBER)
    change_account_status(account=account, to_status=Account.Status.ACTIVE, actor=reviewer, reason="核查完毕")

    summary = credit_monthly(month=OCTOBER)

    assert summary.credited == 1
    assert account_of(person).balance == Decimal("160.00")


def test_summary_counts_and_totals_every_account():
    make_employee(base="8000.00")
    make_employee(base="6000.00")
    make_employee(retired=True)
    make_employee(base="7000.00", region_code="441900")

    summary = credit_monthly(month=OCTOBER)

    assert (summary.credited, summary.total) == (4, Decimal("530.00"))
    assert str(summary).startswith("2026年10月：划入 4 个账户，合计 530.00 元")


def test_an_enrolment_that_began_after_the_month_gets_nothing_for_it():
    before = make_employee(started_on=datetime.date(2026, 10, 31))
    after = make_employee(started_on=datetime.date(2026, 11, 1))

    summary = credit_monthly(month=OCTOBER)

    assert account_of(before).balance == Decimal("160.00")
    assert account_of(after).balance == Decimal("0.00")
    assert summary.credited == 1
    assert list(MonthlyCredit.objects.values_list("account", flat=True)) == [account_of(before).pk]


def test_a_month_long_past_credits_nobody_enrolled_later():
    make_employee()
    make_employee(retired=True)

    summary = credit_monthly(month=datetime.date(1999, 1, 1))

    assert (summary.credited, summary.already_credited, summary.skipped_unavailable) == (0, 0, 0)
    assert not MonthlyCredit.objects.exists()
    assert not JournalTransaction.objects.filter(kind=JournalTransaction.Kind.CREDIT).exists()


def test_a_month_still_to_come_is_refused(monkeypatch):
    person = make_employee()
    # 16:00 UTC on 31 October is already 1 November in 宁波, so November is this month, December is not.
    monkeypatch.setattr(
        "django.utils.timezone.now", lambda: datetime.datetime(2026, 10, 31, 16, 0, tzinfo=datetime.UTC)
    )

    with pytest.raises(ServiceError) as refused:
        credit_monthly(month=datetime.date(2026, 12, 1))

    assert refused.value.code == "future_month"
    assert "2026年12月还没有到" in refused.value.message
    assert not MonthlyCredit.objects.exists()
    assert credit_monthly(month=datetime.date(2026, 11, 1)).credited == 1
    assert account_of(person).balance == Decimal("160.00")


def test_without_a_month_the_current_shanghai_month_is_credited(monkeypatch):
    make_employee()
    monkeypatch.setattr(
        "django.utils.timezone.now", lambda: datetime.datetime(2026, 10, 31, 16, 0, tzinfo=datetime.UTC)
    )

    summary = credit_monthly()

    assert summary.month == datetime.date(2026, 11, 1)
    assert MonthlyCredit.objects.get().month == datetime.date(2026, 11, 1)
