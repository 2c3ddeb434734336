import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from django.utils import timezone

from accounts import ledger
from accounts.credits import current_month
from accounts.management.commands.audit_ledger import Command as AuditLedger
from accounts.models import (
    Account,
    Enrolment,
    JournalTransaction,
    LedgerAudit,
    LedgerEntry,
    MonthlyCredit,
    Notice,
    Person,
    PolicyVersion,
    StaffProfile,
    User,
)
from conftest import fund, make_employee

pytestmark = pytest.mark.django_db

DEMO_BALANCES = {
    "330203198501011238": Decimal("2000.00"),  # 张伟
    "330203195803150045": Decimal("800.00"),  # 李秀英
    "330203198702140028": Decimal("1200.00"),  # 王芳
    "441900199008083318": Decimal("1500.00"),  # 陈明
}
DAUGHTER = "330203201506011020"  # 张小雨
# DESIGN.md's demo people; seed_demo adds further citizens of its own for the review desks (no logins).
DESIGN_PEOPLE = [*DEMO_BALANCES, DAUGHTER]


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def balance_of(id_number):
    return Account.objects.get(kind=Account.Kind.PERSONAL, enrolment__person__id_number=id_number).balance


def snapshot():
    """Everything seed_demo writes, as comparable values."""
    return {
        "persons": list(Person.objects.values_list("id_number", "name", "phone", "card_number")),
        "enrolments": Enrolment.objects.count(),
        "accounts": list(Account.objects.values_list("pk", "balance")),
        "transactions": JournalTransaction.objects.count(),
        "entries": LedgerEntry.objects.count(),
        "users": list(User.objects.values_list("username", "password", "is_staff", "is_superuser")),
        "staff_regions": list(StaffProfile.objects.values_list("user__username", "regions__code")),
        "group_permissions": list(Group.objects.values_list("name", "permissions__codename")),
        "user_permissions": list(User.objects.values_list("username", "user_permissions__codename")),
    }


def test_seed_demo_creates_the_demo_people_with_their_balances(debug):
    run("seed_demo")

    assert dict(Person.objects.filter(id_number__in=DESIGN_PEOPLE).values_list("id_number", "name")) == {
        "330203198501011238": "张伟",
        DAUGHTER: "张小雨",
        "330203195803150045": "李秀英",
        "330203198702140028": "王芳",
        "441900199008083318": "陈明",
    }
    for person in Person.objects.all():
        person.full_clean()  # valid ID number and phone
        assert person.card_number == f"C{person.id_number}"
    assert {id_number: balance_of(id_number) for id_number in DEMO_BALANCES} == DEMO_BALANCES
    openings = JournalTransaction.objects.filter(
        kind=JournalTransaction.Kind.OPENING, idempotency_key__startswith="demo-opening:"
    )
    assert sorted(openings.values_list("idempotency_key", flat=True)) == sorted(
        f"demo-opening:{id_number}" for id_number in DEMO_BALANCES
    )
    # The demo people's year: 4 openings, 12 monthly credits (one transaction a month), 12 pharmacy bills.
    assert openings.count() + 12 + 12 == 28
    assert run("audit_ledger").startswith("账务核对无误：")


def test_seed_demo_credits_the_twelve_months_before_this_one(debug):
    run("seed_demo")

    this_month = current_month()
    months = sorted(set(MonthlyCredit.objects.values_list("month", flat=True)))
    assert len(months) == 12 and months[-1] < this_month
    assert (months[-1].year * 12 + months[-1].month) - (months[0].year * 12 + months[0].month) == 11
    assert MonthlyCredit.objects.count() == 48
    for credit in MonthlyCredit.objects.select_related("entry__transaction"):
        # Each credit is dated in its own month, like a real statement.
        assert timezone.localtime(credit.entry.transaction.created_at).date().replace(day=1) == credit.month
    zhang_wei = MonthlyCredit.objects.filter(person__id_number="330203198501011238")
    assert set(zhang_wei.values_list("amount", flat=True)) == {Decimal("160.00")}
    # The pharmacy bills, each paid in full from the patient's own account.
    assert JournalTransaction.objects.filter(kind=JournalTransaction.Kind.SETTLEMENT).count() == 12


def test_seed_demo_gives_ningbo_two_demo_versions_and_tells_li_xiuying_of_the_july_change(debug):
    run("seed_demo")

    versions = PolicyVersion.objects.filter(region__code="330200", document__startswith="演示")
    assert list(versions.order_by("effective_from").values_list("effective_from", "retiree_monthly_credit")) == [
        (datetime.date(2025, 1, 1), Decimal("110.00")),
        (datetime.date(2026, 7, 1), Decimal("120.00")),
    ]
    notice = Notice.objects.get(person__id_number="330203195803150045", title="每月划入金额调整")
    assert "由 ¥110.00 调整为 ¥120.00" in notice.body
    assert not Notice.objects.filter(title="每月划入金额调整").exclude(pk=notice.pk).exists()


def test_seed_demo_enrols_each_person_as_the_design_says(debug):
    run("seed_demo")

    enrolments = {
        e.person.id_number: (e.region.code, e.insurance_type, e.employment, e.contribution_base, e.status)
        for e in Enrolment.objects.filter(person__id_number__in=DESIGN_PEOPLE).select_related("person", "region")
    }
    assert enrolments == {
        "330203198501011238": ("330200", "employee", "in_service", Decimal("8000.00"), "active"),
        DAUGHTER: ("330200", "resident", "", None, "active"),
        "330203195803150045": ("330200", "employee", "retired", None, "active"),
        "330203198702140028": ("330200", "employee", "in_service", Decimal("6000.00"), "active"),
        "441900199008083318": ("441900", "employee", "in_service", Decimal("7000.00"), "active"),
    }
    assert not Account.objects.filter(enrolment__person__id_number=DAUGHTER).exists()


def test_seed_demo_logins_authenticate_with_the_demo_password(debug, rf):
    run("seed_demo")

    for username in [*DEMO_BALANCES, "reviewer_nb", "approver_nb", "reviewer_dg", "admin"]:
        user = authenticate(rf.post("/accounts/login/"), username=username, password="Demo@2026")
        assert user is not None, username
    assert not User.objects.filter(username=DAUGHTER).exists()
    assert not User.objects.filter(person__id_number=DAUGHTER).exists()
    assert User.objects.get(username="330203198501011238").person.name == "张伟"


def test_seed_demo_staff_serve_their_regions_with_clerk_permissions(debug):
    run("seed_demo")

    assert sorted(StaffProfile.objects.values_list("user__username", "regions__code")) == [
        ("approver_nb", "330200"),
        ("reviewer_dg", "441900"),
        ("reviewer_nb", "330200"),
    ]
    for username in ["reviewer_nb", "approver_nb", "reviewer_dg"]:
        clerk = User.objects.get(username=username)
        assert clerk.is_staff and not clerk.is_superuser
        assert [g.name for g in clerk.groups.all()] == ["经办人员"]
        assert clerk.has_perms(
            ["accounts.view_person", "accounts.change_enrolment", "accounts.freeze_account"]
        )
        assert not clerk.has_perm("accounts.change_ledgerentry")
        assert not clerk.has_perm("accounts.change_user")
        assert not clerk.has_perm("accounts.change_province")
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff


def test_seed_demo_takes_back_the_province_permission_an_earlier_version_granted(debug):
    run("seed_demo")
    clerks = Group.objects.get(name="经办人员")
    clerks.permissions.add(Permission.objects.get(codename="change_province"))

    run("seed_demo")

    assert not clerks.permissions.filter(codename="change_province").exists()
    assert not User.objects.get(username="reviewer_nb").has_perm("accounts.change_province")


def test_seed_demo_does_not_book_the_opening_balance_again_after_spending(debug):
    run("seed_demo")
    account = Account.objects.get(enrolment__person__id_number="441900199008083318")
    payable = Account.objects.create(kind=Account.Kind.INSTITUTIONS_PAYABLE, region=account.region)
    ledger.post(
        kind=JournalTransaction.Kind.SETTLEMENT,
        lines=[ledger.Line(account, Decimal("-1500.00")), ledger.Line(payable, Decimal("1500.00"))],
        description="药店结算",
    )

    run("seed_demo")

    assert balance_of("441900199008083318") == Decimal("0.00")


def test_seed_demo_twice_changes_nothing(debug):
    run("seed_demo")
    first = snapshot()

    output = run("seed_demo")

    assert snapshot() == first
    assert "本次新建 0 个" in output


def test_seed_demo_refuses_with_debug_off(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        run("seed_demo")

    assert not Person.objects.exists()
    assert not User.objects.exists()


def test_seed_demo_runs_with_debug_off_when_forced(settings):
    settings.DEBUG = False
    run("seed_demo", "--force")
    assert Person.objects.filter(id_number__in=DESIGN_PEOPLE).count() == 5


def test_credit_monthly_of_this_month_credits_zhang_wei_160_once(debug):
    run("seed_demo")
    month = current_month()

    first = run("credit_monthly")
    second = run("credit_monthly", "--month", f"{month:%Y-%m}")

    assert balance_of("330203198501011238") == Decimal("2160.00")
    assert balance_of("330203195803150045") == Decimal("920.00")
    assert MonthlyCredit.objects.filter(month=month, person__id_number__in=DESIGN_PEOPLE).count() == 4
    # The demo desk's citizens who moved to a new employer are credited too.
    credited = MonthlyCredit.objects.filter(month=month).count()
    assert first.strip().startswith(f"{month.year}年{month.month}月：划入 {credited} 个账户，")
    assert "此前已划入 0 个" in first
    assert f"划入 0 个账户，合计 0.00 元；此前已划入 {credited} 个" in second


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "2026/10", "10-2026", "2026-1", "", "next month"])
def test_credit_monthly_refuses_a_bad_month(month):
    with pytest.raises(CommandError, match="month"):
        run("credit_monthly", "--month", month)
    assert not JournalTransaction.objects.exists()


def test_credit_monthly_without_a_month_credits_the_current_shanghai_month(monkeypatch):
    make_employee()
    # 23:30 UTC on 31 October is already 1 November in 宁波: the month is the citizens' one.
    monkeypatch.setattr(
        "django.utils.timezone.now", lambda: datetime.datetime(2026, 10, 31, 23, 30, tzinfo=datetime.UTC)
    )

    output = run("credit_monthly")

    assert output.startswith("2026年11月：划入 1 个账户")
    assert set(MonthlyCredit.objects.values_list("month", flat=True)) == {datetime.date(2026, 11, 1)}


def test_credit_monthly_refuses_a_month_still_to_come(monkeypatch):
    make_employee()
    monkeypatch.setattr(
        "django.utils.timezone.now", lambda: datetime.datetime(2026, 10, 31, 15, 59, tzinfo=datetime.UTC)
    )

    with pytest.raises(CommandError, match="2026年11月还没有到"):
        run("credit_monthly", "--month", "2026-11")

    assert not MonthlyCredit.objects.exists()
    assert not JournalTransaction.objects.filter(kind=JournalTransaction.Kind.CREDIT).exists()


def test_credit_monthly_of_1999_credits_nobody_enrolled_later(debug):
    run("seed_demo")

    output = run("credit_monthly", "--month", "1999-01")

    # Only 李秀英 (enrolled since 1978) was insured then; 张伟, 王芳 and 陈明 joined after 2000.
    assert output.startswith("1999年1月：划入 1 个账户，合计 110.00 元")
    january = MonthlyCredit.objects.filter(month=datetime.date(1999, 1, 1))
    assert [credit.person.name for credit in january] == ["李秀英"]
    assert balance_of("330203195803150045") == Decimal("910.00")
    for id_number in ["330203198501011238", "330203198702140028", "441900199008083318"]:
        assert balance_of(id_number) == DEMO_BALANCES[id_number]


def test_credit_monthly_takes_one_region(debug):
    make_employee(base="8000.00")
    make_employee(base="7000.00", region_code="441900")

    output = run("credit_monthly", "--month", "2026-10", "--region", "441900")

    assert output.startswith("2026年10月：划入 1 个账户，合计 140.00 元")
    assert list(MonthlyCredit.objects.values_list("account__region__code", flat=True)) == ["441900"]


def test_credit_monthly_refuses_an_unknown_region():
    with pytest.raises(CommandError, match="没有行政区划代码为 '999999' 的统筹区"):
        run("credit_monthly", "--month", "2026-10", "--region", "999999")


class Terminal(StringIO):
    def isatty(self):
        return True


def test_credit_monthly_shows_its_progress_on_a_terminal_and_ends_with_the_summary():
    for _n in range(5):
        make_employee()
    out = Terminal()

    call_command("credit_monthly", "--month", "2026-10", "--chunk-size", "2", stdout=out)

    lines = out.getvalue().split("\r")
    assert "2/5 个账户，已划入 2" in lines[1]
    assert "5/5 个账户，已划入 5" in lines[-1]
    assert lines[-1].rstrip().endswith("2026年10月：划入 5 个账户，合计 800.00 元；此前已划入 0 个；冻结、关闭或转出而未划入 0 个。")


def test_credit_monthly_shows_no_progress_in_a_log():
    make_employee()

    output = run("credit_monthly", "--month", "2026-10")

    assert "\r" not in output and output.count("\n") == 1


# The ledger audit ---------------------------------------------------------------------------------


def test_audit_ledger_passes_after_seed_and_credits(debug):
    run("seed_demo")
    run("credit_monthly")

    transactions, accounts = JournalTransaction.objects.count(), Account.objects.count()
    assert run("audit_ledger").strip() == f"账务核对无误：{transactions} 笔交易，{accounts} 个账户。"


def test_audit_ledger_fails_naming_a_tampered_account(debug, capsys):
    run("seed_demo")
    account = Account.objects.get(enrolment__person__id_number="441900199008083318")
    tamper(account, "1600")

    # Run it as the command line does, to see the exit status cron and CI see.
    with pytest.raises(SystemExit) as exited:
        AuditLedger().run_from_argv(["manage.py", "audit_ledger"])

    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert f"账户 #{account.pk}（个人账户）余额为 1600.00，但其分录合计为 1500.00" in err
    assert "账务核对未通过：发现 1 处不一致。" in err


def tamper(account, balance):
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Account._meta.db_table} SET balance = %s WHERE id = %s", [balance, account.pk])


def backdated(person, amount, *, days_ago):
    """Post a credit-source opening `days_ago` days back: older than the audit's in-flight margin."""
    account = Account.objects.get(enrolment__person=person)
    return fund_at(account, Decimal(amount), timezone.now() - datetime.timedelta(days=days_ago))


def fund_at(account, amount, at):
    source = Account.objects.get_or_create(region=account.region, kind=Account.Kind.CREDIT_SOURCE)[0]
    return ledger.post(
        kind=JournalTransaction.Kind.OPENING,
        lines=[ledger.Line(source, -amount), ledger.Line(account, amount)],
        description="期初余额",
        booked_at=at,
    )


def test_audit_ledger_checks_from_its_last_clean_run_and_says_from_where():
    first, second = make_employee(), make_employee()
    backdated(first, "100.00", days_ago=3)
    run("audit_ledger")
    checkpoint = LedgerAudit.objects.get()
    fund(Account.objects.get(enrolment__person=second), Decimal("50.00"))

    output = run("audit_ledger")

    assert checkpoint.full and (checkpoint.transactions, checkpoint.entries) == (1, 2)
    assert output.startswith(f"账务核对无误：自核对点 #{checkpoint.pk}（")
    assert f"核对至交易 #{checkpoint.last_transaction_id}、明细 #{checkpoint.last_entry_id}" in output
    assert output.strip().endswith("新记 1 笔交易、2 条明细，涉及 2 个账户。")
    latest = LedgerAudit.objects.order_by("-pk").first()
    assert not latest.full and latest.since_entry_id == checkpoint.last_entry_id


def test_a_tampered_row_before_the_checkpoint_is_found_by_full_not_by_the_default_run():
    quiet, busy = make_employee(), make_employee()
    backdated(quiet, "100.00", days_ago=3)
    backdated(busy, "100.00", days_ago=3)
    run("audit_ledger")
    tamper(Account.objects.get(enrolment__person=quiet), "999.00")
    fund(Account.objects.get(enrolment__person=busy), Decimal("5.00"))

    assert run("audit_ledger").startswith("账务核对无误：自核对点")
    with pytest.raises(CommandError, match="发现 1 处不一致"):
        run("audit_ledger", "--full")


def test_the_default_run_finds_a_tampered_balance_among_what_it_checks():
    person = make_employee()
    backdated(person, "100.00", days_ago=3)
    run("audit_ledger")
    account = Account.objects.get(enrolment__person=person)
    fund(account, Decimal("5.00"))
    tamper(account, "90.00")
    err = StringIO()

    with pytest.raises(CommandError, match=r"账务核对未通过：发现 1 处不一致（自核对点 #\d+"):
        call_command("audit_ledger", stdout=StringIO(), stderr=err)

    assert f"账户 #{account.pk}（个人账户）余额为 90.00，但其最后一笔明细的记账后余额为 105.00" in err.getvalue()
    assert LedgerAudit.objects.count() == 1  # a failed run moves no checkpoint


def test_transactions_posted_just_before_a_checkpoint_are_checked_again():
    # One that began before the checkpoint may commit after it with lower ids; the next run looks again.
    person = make_employee()
    fund(Account.objects.get(enrolment__person=person), Decimal("100.00"))
    run("audit_ledger")

    output = run("audit_ledger")

    assert output.strip().endswith("新记 1 笔交易、2 条明细，涉及 2 个账户。")


def test_the_audit_finds_an_entry_whose_balance_after_breaks_the_running_balance():
    person = make_employee()
    account = Account.objects.get(enrolment__person=person)
    journal = fund(account, Decimal("100.00"))
    source = Account.objects.get(region=account.region, kind=Account.Kind.CREDIT_SOURCE)
    # Inserted behind the ledger's back (inserts are not refused): it sums to zero, the balances were
    # moved too, but the citizen's entry claims a wrong balance after it.
    later = JournalTransaction.objects.create(kind=JournalTransaction.Kind.OPENING, description="篡改")
    LedgerEntry.objects.bulk_create([
        LedgerEntry(transaction=later, account=account, amount=Decimal("10.00"), balance_after=Decimal("999.00")),
        LedgerEntry(transaction=later, account=source, amount=Decimal("-10.00"), balance_after=Decimal("-110.00")),
    ])
    tamper(account, "999.00")
    tamper(source, "-110.00")

    found = [str(d) for d in ledger.audit()]

    assert journal.pk != later.pk
    assert any("记账后余额为 999.00，按上一笔应为 110.00" in d for d in found)
