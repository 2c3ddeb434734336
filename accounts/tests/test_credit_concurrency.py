"""The monthly credit beside other work on the same accounts, on PostgreSQL (row locks exist only there)."""

import datetime
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection

from accounts import ledger
from accounts.credits import credit_monthly
from accounts.models import Account, JournalTransaction, LedgerEntry, MonthlyCredit
from accounts.services import system_account
from conftest import make_employee, region

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

OCTOBER = datetime.date(2026, 10, 1)


def in_thread(work):
    def run(*args):
        try:
            return work(*args)
        finally:
            connection.close()

    return run


def test_a_run_with_two_workers_credits_everyone_once_and_keeps_the_ledger_exact():
    people = [make_employee(base=f"{6000 + n}.00", region_code=("330200", "441900")[n % 2]) for n in range(23)]

    summary = credit_monthly(month=OCTOBER, chunk_size=3, workers=2)

    assert summary.credited == 23
    assert sorted(MonthlyCredit.objects.values_list("person", flat=True)) == sorted(p.pk for p in people)
    assert summary.total == sum(credit.amount for credit in MonthlyCredit.objects.all())
    assert ledger.audit() == []


def test_two_runs_at_once_credit_each_person_once():
    people = [make_employee(base=f"{6000 + n}.00") for n in range(30)]
    start = threading.Barrier(2)

    @in_thread
    def run(_number):
        start.wait()
        return credit_monthly(month=OCTOBER, chunk_size=4).credited

    with ThreadPoolExecutor(max_workers=2) as pool:
        credited = list(pool.map(run, range(2)))

    assert sum(credited) == 30
    assert sorted(MonthlyCredit.objects.values_list("person", flat=True)) == sorted(p.pk for p in people)
    assert LedgerEntry.objects.filter(transaction__kind=JournalTransaction.Kind.CREDIT).count() == 30 + sum(
        1 for _chunk in JournalTransaction.objects.filter(kind=JournalTransaction.Kind.CREDIT)
    )
    assert ledger.audit() == []


def test_settlements_during_a_run_neither_deadlock_nor_disturb_the_ledger():
    """Settlements debit two accounts each, in both orders, while the run credits the same accounts.

    A chunk locks its accounts in id order in one statement and the source account last; every posting
    locks citizens' accounts in id order and system accounts last. So they queue, and no deadlock can form:
    every settlement and every credit must go through, and each entry's balance_after must continue its
    account's running balance.
    """
    accounts = [make_employee(balance="500.00", base="8000.00").enrolments.get().account for _n in range(40)]
    payable = system_account(region(), Account.Kind.INSTITUTIONS_PAYABLE)
    start = threading.Barrier(4)

    @in_thread
    def settle(number):
        start.wait()
        done = 0
        for round_ in range(25):
            first, second = accounts[(number * 7 + round_) % 40], accounts[(number * 13 + round_ * 3 + 1) % 40]
            if first.pk == second.pk:
                continue
            pair = [first, second] if round_ % 2 else [second, first]
            ledger.post(
                kind=JournalTransaction.Kind.SETTLEMENT,
                lines=[ledger.Line(Account(pk=a.pk), Decimal("-1.00")) for a in pair]
                + [ledger.Line(Account(pk=payable.pk), Decimal("2.00"))],
                description="药店结算",
            )
            done += 1
        return done

    @in_thread
    def credit(_number):
        start.wait()
        return credit_monthly(month=OCTOBER, chunk_size=5).credited

    with ThreadPoolExecutor(max_workers=4) as pool:
        settling = [pool.submit(settle, n) for n in range(3)]
        crediting = pool.submit(credit, 3)
        settled = sum(future.result() for future in settling)

    assert crediting.result() == 40
    spent = Decimal(settled * 2)
    total = sum(Account.objects.get(pk=a.pk).balance for a in accounts)
    assert total == Decimal("500.00") * 40 + Decimal("160.00") * 40 - spent
    assert Account.objects.get(pk=payable.pk).balance == spent
    assert ledger.audit() == []
