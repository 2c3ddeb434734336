"""A settlement splits the bill by balances read before its transaction; the ledger checks them under its
lock, and when one was spent or frozen in between, the settlement is made again from balances read under a
lock. These tests put the change between the read and the lock by hand, so they run on SQLite too."""

from decimal import Decimal

import pytest

from accounts import ledger
from accounts.models import Account, JournalTransaction, Notice
from accounts.services import change_account_status, personal_account_of, system_account
from conftest import make_employee, make_resident
from sharing import settlement as services
from sharing.models import Binding, Relation, Settlement, SettlementPayment

from .conftest import balance, id_number_of, make_binding, make_institution

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def family(db):
    father = make_employee(balance="30.00", name="张伟", id_number=id_number_of(male=True))
    grandmother = make_employee(
        balance="100.00", retired=True, name="李秀英", id_number=id_number_of(male=False, birth="19580315")
    )
    child = make_resident(name="张小雨", birth="20150601")
    make_binding(father, child, relation=Relation.CHILD, priority=1)
    quota = make_binding(
        grandmother, child, relation=Relation.GRANDCHILD, way=Binding.Way.QUOTA, quota="15.00", priority=2
    )
    return {"father": father, "child": child, "quota": quota}


def settle(patient, amount):
    return services.settle(
        institution=make_institution(),
        idempotency_key="read-then-lock",
        patient_id_number=patient.id_number,
        card_number=patient.card_number,
        amount=D(amount),
        category="pharmacy",
        reference="R-1",
    )


def split(outcome):
    return [(payment.relation, payment.amount) for payment in outcome.payments]


def after_the_read(monkeypatch, change):
    """Run `change` right after the settlement's first (unlocked) read of the paying accounts."""
    real = services._accounts
    reads = []

    def read(sources, *, lock=False):
        accounts = real(sources, lock=lock)
        reads.append(lock)
        if len(reads) == 1:
            change()
        return accounts

    monkeypatch.setattr(services, "_accounts", read)
    return reads


def spend(person, amount):
    account = personal_account_of(person)
    payable = system_account(account.region, Account.Kind.INSTITUTIONS_PAYABLE)
    ledger.post(
        kind=JournalTransaction.Kind.SETTLEMENT,
        lines=[ledger.Line(account, -D(amount)), ledger.Line(payable, D(amount))],
        description="另一笔结算",
    )


def test_a_balance_spent_since_it_was_read_is_split_again_under_the_lock(family, monkeypatch):
    reads = after_the_read(monkeypatch, lambda: spend(family["father"], "25.00"))

    outcome = settle(family["child"], "20.00")

    # Read 30.00 and meant to take 20.00; the ledger found 5.00 and refused; the second split, under the
    # lock, takes the 5.00 and then the quota.
    assert reads == [False, True]
    assert split(outcome) == [("father", D("5.00")), ("grandparent", D("15.00"))]
    settlement = Settlement.objects.get()
    assert (settlement.paid, settlement.cash_due) == (D("20.00"), D("0.00"))
    # Nothing of the refused attempt is left: one settlement, its two payments, one notice per payer.
    assert SettlementPayment.objects.count() == 2 and Notice.objects.count() == 2
    assert balance(family["father"]) == D("0.00") and balance(family["quota"].quota_account) == D("0.00")
    assert ledger.audit() == []


def test_an_account_frozen_since_it_was_read_is_passed_over_under_the_lock(family, monkeypatch, reviewer):
    father_account = personal_account_of(family["father"])
    after_the_read(
        monkeypatch,
        lambda: change_account_status(
            account=father_account, to_status=Account.Status.FROZEN, actor=reviewer, reason="核查"
        ),
    )

    outcome = settle(family["child"], "20.00")

    assert split(outcome) == [("grandparent", D("15.00"))]
    assert Settlement.objects.get().cash_due == D("5.00")
    assert balance(family["father"]) == D("30.00")
    assert ledger.audit() == []


def test_money_that_arrived_since_the_read_is_left_for_the_next_bill(family, monkeypatch):
    # As if the credit had landed just after the settlement: the split stands as it was read.
    def credit():
        account = personal_account_of(family["father"])
        source = system_account(account.region, Account.Kind.CREDIT_SOURCE)
        ledger.post(
            kind=JournalTransaction.Kind.CREDIT,
            lines=[ledger.Line(source, D("-50.00")), ledger.Line(account, D("50.00"))],
            description="每月划入",
        )

    reads = after_the_read(monkeypatch, credit)

    outcome = settle(family["child"], "40.00")

    assert reads == [False]
    assert split(outcome) == [("father", D("30.00")), ("grandparent", D("10.00"))]
    assert balance(family["father"]) == D("50.00")
    assert ledger.audit() == []
