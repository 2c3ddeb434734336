import datetime
from decimal import Decimal

import pytest

from accounts import ledger
from accounts.credits import credit_monthly, monthly_amount
from accounts.models import Account, Enrolment, JournalTransaction, LedgerEntry, MonthlyCredit
from accounts.services import (
    ServiceError,
    change_account_status,
    personal_account_of,
    record_enrolment,
    stop_enrolment,
    system_account,
)
from conftest import make_employee, make_resident, region, set_policy

pytestmark = pytest.mark.django_db

OCTOBER = datetime.date(2026, 10, 1)


def account_of(person):
    return Account.objects.get(kind=Account.Kind.PERSONAL, enrolment__person=person)


def credits_of(person):
    return list(MonthlyCredit.objects.filter(person=person).order_by("month").values_list("month", "amount"))


def test_in_service_employee_gets_two_percent_of_the_base():
    person = make_employee(base="8000.00")

    summary = credit_monthly(month=OCTOBER)

    account = account_of(person)
    assert account.balance == Decimal("160.00")
    credit = MonthlyCredit.objects.get(account=account)
    assert (credit.month, credit.amount, credit.person) == (OCTOBER, Decimal("160.00"), person)
    assert (credit.contribution_base, credit.rate) == (Decimal("8000.00"), Decimal("2.00"))
    assert credit.computation == "2026年10月 划入 ¥160.00 = 缴费基数 ¥8,000.00 × 2%（统筹区原有参数（启用政策版本前））"
    assert (credit.entry.account, credit.entry.amount, credit.entry.balance_after) == (
        account, Decimal("160.00"), Decimal("160.00")
    )
    assert credit.entry.transaction.kind == JournalTransaction.Kind.CREDIT
    assert credit.entry.transaction.description == "2026年10月 每月划入"
    assert credit.entry.statement_words == credit.computation
    assert system_account(region(), Account.Kind.CREDIT_SOURCE).balance == Decimal("-160.00")
    assert (summary.credited, summary.total) == (1, Decimal("160.00"))
    assert ledger.audit() == []


def test_the_statement_names_month_computation_and_the_versions_document():
    set_policy(since=datetime.date(2026, 1, 1), document="甬医保发〔2025〕1号")
    person = make_employee(base="8000.00")

    credit_monthly(month=OCTOBER)

    entry = LedgerEntry.objects.get(account=account_of(person))
    assert entry.statement_words == "2026年10月 划入 ¥160.00 = 缴费基数 ¥8,000.00 × 2%（甬医保发〔2025〕1号）"
    assert entry.balance_after == Decimal("160.00")


@pytest.mark.parametrize(
    "base, amount",
    [
        ("7333.33", "146.67"),  # 146.6666
        ("7333.25", "146.67"),  # 146.665: half-up, where banker's rounding would give 146.66
        ("7333.00", "146.66"),
        ("12345.67", "246.91"),  # 246.9134
        ("0.25", "0.01"),  # 0.005 rounds up
    ],
)
def test_credit_rounds_half_up_to_the_cent(base, amount):
    person = make_employee(base=base)

    credit_monthly(month=OCTOBER)

    assert account_of(person).balance == Decimal(amount)
    enrolment = person.enrolments.get()
    rule = monthly_amount(employment=enrolment.employment, base=enrolment.contribution_base, version=set_policy())
    assert rule == Decimal(amount)


def test_a_base_whose_credit_rounds_to_nothing_is_not_credited():
    person = make_employee(base="0.24")

    summary = credit_monthly(month=OCTOBER)

    assert summary.credited == 0
    assert not MonthlyCredit.objects.filter(person=person).exists()


@pytest.mark.parametrize("region_code, amount", [("330200", "110.00"), ("441900", "100.00")])
def test_retiree_gets_the_region_fixed_amount(region_code, amount):
    person = make_employee(retired=True, region_code=region_code)

    credit_monthly(month=OCTOBER)

    assert account_of(person).balance == Decimal(amount)
    credit = MonthlyCredit.objects.get(person=person)
    assert credit.computation.startswith(f"2026年10月 划入 ¥{amount} = 退休人员定额（")
    assert credit.contribution_base is None and credit.rate is None


def test_a_version_with_another_rate_changes_the_credit():
    set_policy(employee_credit_rate=Decimal("1.50"), document="甬医保发〔2026〕3号")
    person = make_employee(base="8000.00")

    credit_monthly(month=OCTOBER)

    credit = MonthlyCredit.objects.get(person=person)
    assert credit.amount == Decimal("120.00")
    assert credit.computation == "2026年10月 划入 ¥120.00 = 缴费基数 ¥8,000.00 × 1.5%（甬医保发〔2026〕3号）"


def test_a_backdated_month_is_credited_at_its_own_rate():
    set_policy(since=datetime.date(2026, 1, 1), document="旧文件")
    set_policy(since=datetime.date(2026, 7, 1), employee_credit_rate=Decimal("2.50"), document="新文件")
    person = make_employee(base="8000.00")

    credit_monthly(month=datetime.date(2026, 8, 1))
    credit_monthly(month=datetime.date(2026, 3, 1))  # run late, after the new version took effect

    assert credits_of(person) == [
        (datetime.date(2026, 3, 1), Decimal("160.00")),
        (datetime.date(2026, 8, 1), Decimal("200.00")),
    ]
    assert MonthlyCredit.objects.get(person=person, month=datetime.date(2026, 3, 1)).version.document == "旧文件"


def test_a_month_is_credited_under_the_version_in_force_on_its_first_day():
    set_policy(since=datetime.date(2026, 7, 15), retiree_monthly_credit=Decimal("125.00"))
    person = make_employee(retired=True)

    for month in (6, 7, 8):
        credit_monthly(month=datetime.date(2026, month, 1))

    assert [amount for _month, amount in credits_of(person)] == [
        Decimal("110.00"), Decimal("110.00"), Decimal("125.00")
    ]


def test_a_region_without_a_version_for_the_month_credits_nobody_and_says_so():
    make_employee(started_on=datetime.date(1990, 1, 1))

    summary = credit_monthly(month=datetime.date(1998, 11, 1))

    assert summary.credited == 0 and summary.skipped_no_policy == 1
    assert "1 人所在统筹区该月没有生效的政策参数" in str(summary)


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


def test_an_enrolment_stopped_before_the_month_gets_nothing_for_it():
    person = make_employee(balance="50.00")
    stop_enrolment(enrolment=person.enrolments.get(), ended_on=datetime.date(2026, 9, 30))

    summary = credit_monthly(month=OCTOBER)

    assert account_of(person).balance == Decimal("50.00")
    assert summary.credited == 0


def test_an_enrolment_stopped_after_the_month_is_credited_for_it():
    person = make_employee(base="8000.00")
    stop_enrolment(enrolment=person.enrolments.get(), ended_on=datetime.date(2026, 11, 15))

    credit_monthly(month=OCTOBER)

    assert credits_of(person) == [(OCTOBER, Decimal("160.00"))]


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
    assert credits_of(person) == [(datetime.date(2026, 9, 1), Decimal("160.00")), (OCTOBER, Decimal("160.00"))]


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
    assert ledger.audit() == []


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


def test_region_limits_the_run_to_people_insured_there():
    ningbo = make_employee(base="8000.00")
    dongguan = make_employee(base="7000.00", region_code="441900")

    summary = credit_monthly(month=OCTOBER, region=region("441900"))

    assert summary.credited == 1
    assert credits_of(ningbo) == []
    assert credits_of(dongguan) == [(OCTOBER, Decimal("140.00"))]


# One credit per person and month ------------------------------------------------------------------


def move(person, *, ended_on, to_region, started_on, base="7000.00"):
    """Stop the person's active enrolment and enrol them as an in-service employee in `to_region`."""
    stop_enrolment(enrolment=person.enrolments.get(status=Enrolment.Status.ACTIVE), ended_on=ended_on)
    return record_enrolment(
        person=person,
        region=region(to_region),
        insurance_type=Enrolment.InsuranceType.EMPLOYEE,
        employment=Enrolment.Employment.IN_SERVICE,
        contribution_base=Decimal(base),
        started_on=started_on,
    )


def test_a_move_within_the_month_is_credited_once_to_the_account_of_the_months_last_day():
    person = make_employee(base="8000.00")
    ningbo_account = account_of(person)
    move(person, ended_on=datetime.date(2026, 10, 10), to_region="441900", started_on=datetime.date(2026, 10, 12))

    credit_monthly(month=OCTOBER)
    credit_monthly(month=OCTOBER)

    credit = MonthlyCredit.objects.get(person=person)
    assert (credit.account.region.code, credit.amount) == ("441900", Decimal("140.00"))
    assert ningbo_account.monthly_credits.count() == 0
    assert ledger.audit() == []


def test_a_person_credited_before_moving_is_not_credited_again_by_the_new_account(monkeypatch):
    person = make_employee(base="8000.00")
    monkeypatch.setattr(
        "django.utils.timezone.now", lambda: datetime.datetime(2026, 10, 5, 2, 0, tzinfo=datetime.UTC)
    )
    credit_monthly()  # on 5 October: the 宁波 enrolment is the one active on the day of the run
    move(person, ended_on=datetime.date(2026, 10, 10), to_region="441900", started_on=datetime.date(2026, 10, 12))
    monkeypatch.setattr(
        "django.utils.timezone.now", lambda: datetime.datetime(2026, 10, 31, 2, 0, tzinfo=datetime.UTC)
    )

    summary = credit_monthly()

    assert (summary.credited, summary.already_credited) == (0, 1)
    assert MonthlyCredit.objects.get(person=person).account.region.code == "330200"


def test_leaving_and_coming_back_within_the_month_is_credited_once():
    person = make_employee(base="8000.00")
    ningbo_account = account_of(person)
    move(person, ended_on=datetime.date(2026, 10, 5), to_region="441900", started_on=datetime.date(2026, 10, 6))
    move(person, ended_on=datetime.date(2026, 10, 20), to_region="330200", started_on=datetime.date(2026, 10, 21),
         base="8000.00")

    credit_monthly(month=OCTOBER)

    credit = MonthlyCredit.objects.get(person=person)
    # Back in 宁波 the person's account there carries on: the one credit goes to it.
    assert (credit.account, credit.amount) == (ningbo_account, Decimal("160.00"))


def test_a_backdated_month_goes_to_the_account_of_the_job_held_then():
    person = make_employee(base="8000.00")
    account = account_of(person)
    first_job = person.enrolments.get()
    move(person, ended_on=datetime.date(2026, 5, 31), to_region="330200", started_on=datetime.date(2026, 6, 1),
         base="9000.00")

    credit_monthly(month=datetime.date(2026, 3, 1))
    credit_monthly(month=datetime.date(2026, 6, 1))

    # The account carried on into the new job; March is credited on the first job's base, June on the new.
    assert personal_account_of(person) == account
    assert first_job.personal_account == account
    assert credits_of(person) == [
        (datetime.date(2026, 3, 1), Decimal("160.00")),
        (datetime.date(2026, 6, 1), Decimal("180.00")),
    ]


# A run in chunks ------------------------------------------------------------------------------------


class Interrupted(Exception):
    pass


def test_a_run_stopped_between_chunks_is_completed_by_the_next_one_each_person_once():
    people = [make_employee(base=f"{5000 + n * 100}.00") for n in range(7)]
    calls = []

    def stop_after_two_chunks(done, total, summary):
        calls.append((done, total, summary.credited))
        if len(calls) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        credit_monthly(month=OCTOBER, chunk_size=3, progress=stop_after_two_chunks)

    assert calls == [(3, 7, 3), (6, 7, 6)]
    assert MonthlyCredit.objects.count() == 6
    assert ledger.audit() == []

    summary = credit_monthly(month=OCTOBER, chunk_size=3)

    assert (summary.credited, summary.already_credited) == (1, 6)
    assert sorted(MonthlyCredit.objects.values_list("person", flat=True)) == sorted(p.pk for p in people)
    for n, person in enumerate(people):
        assert account_of(person).balance == (Decimal(5000 + n * 100) * 2 / 100).quantize(Decimal("0.01"))
    assert ledger.audit() == []


def test_a_chunk_is_one_balanced_transaction_touching_each_source_account_once():
    for n in range(3):
        make_employee(base=f"{6000 + n}.00")
        make_employee(retired=True, region_code="441900")

    credit_monthly(month=OCTOBER)

    (journal,) = JournalTransaction.objects.filter(kind=JournalTransaction.Kind.CREDIT)
    sides = sorted((entry.account.kind, entry.account.region.code, entry.amount) for entry in journal.entries.all())
    assert sides == [
        ("credit_source", "330200", Decimal("-360.06")),
        ("credit_source", "441900", Decimal("-300.00")),
        *sorted(("personal", "330200", Decimal(f"120.0{2 * n}")) for n in range(3)),
        *[("personal", "441900", Decimal("100.00"))] * 3,
    ]
    assert {credit.entry.transaction_id for credit in MonthlyCredit.objects.all()} == {journal.pk}


def test_chunks_keep_the_source_accounts_running_balance_exact():
    for n in range(5):
        make_employee(base=f"{6000 + n}.00")
        make_employee(retired=True, region_code="441900")

    credit_monthly(month=OCTOBER, chunk_size=2)

    source = system_account(region(), Account.Kind.CREDIT_SOURCE)
    entries = list(LedgerEntry.objects.filter(account=source).order_by("id").values_list("amount", "balance_after"))
    running = Decimal("0.00")
    for amount, balance_after in entries:
        running += amount
        assert balance_after == running
    assert source.balance == running == Decimal("-600.20")
    assert ledger.audit() == []


def test_the_same_data_gives_the_same_credits_on_every_database():
    """The set-based SQL against the Python rule, and against amounts written out: run on SQLite and on
    PostgreSQL, this test holds both databases to the very same credits."""
    set_policy("441900", employee_credit_rate=Decimal("1.75"), retiree_monthly_credit=Decimal("97.35"))
    bases = ["0.29", "0.30", "57.14", "999.99", "3333.33", "4285.71", "7333.25", "8000.00", "12345.67", "35000.01"]
    people = [
        (code, base, make_employee(base=base, region_code=code)) for code in ("330200", "441900") for base in bases
    ] + [(code, None, make_employee(retired=True, region_code=code)) for code in ("330200", "441900")]

    credit_monthly(month=OCTOBER, chunk_size=4)

    credited = dict(MonthlyCredit.objects.values_list("person", "amount"))
    for code, base, person in people:
        enrolment = person.enrolments.get()
        version = MonthlyCredit.objects.get(person=person).version
        expected = monthly_amount(employment=enrolment.employment, base=enrolment.contribution_base, version=version)
        assert credited[person.pk] == expected, (code, base)
    assert [str(credited[person.pk]) for code, _base, person in people if code == "441900"] == [
        "0.01", "0.01", "1.00", "17.50", "58.33", "75.00", "128.33", "140.00", "216.05", "612.50", "97.35"
    ]
    assert sum(credited.values()) == Decimal("2883.20")
    assert ledger.audit() == []
