"""Settling a bill: who pays in which order, what is skipped, refunds, notices and replays."""

import dataclasses
import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import ledger
from accounts.models import Account, Enrolment, JournalTransaction, LedgerEntry, Notice, Person
from accounts.services import (
    ServiceError,
    change_account_status,
    freeze_account,
    personal_account_of,
    record_enrolment,
    stop_enrolment,
)
from conftest import make_employee, make_resident, region
from sharing import settlement as services
from sharing.models import Binding, Relation, Settlement

from .conftest import balance, id_number_of, make_binding, make_institution

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture(autouse=True)
def exact_ledger(db):
    yield
    assert ledger.audit() == []


_keys = iter(range(1, 10_000))


def settle(institution, patient, amount, *, key=None, card_number=None, category="pharmacy", reference="R-1"):
    return services.settle(
        institution=institution,
        idempotency_key=key or f"key-{next(_keys)}",
        patient_id_number=patient.id_number,
        card_number=card_number or patient.card_number,
        amount=D(amount),
        category=category,
        reference=reference,
    )


def paid(outcome):
    return [(payment.holder.name, payment.relation, payment.amount) for payment in outcome.payments]


@pytest.fixture
def family(db):
    """张小雨 (a resident, no account) with two payers: her father directly and her grandmother by quota."""
    father = make_employee(balance="30.00", name="张伟", id_number=id_number_of(male=True))
    grandmother = make_employee(
        balance="100.00", retired=True, name="李秀英", id_number=id_number_of(male=False, birth="19580315")
    )
    child = make_resident(name="张小雨", birth="20150601")
    direct = make_binding(father, child, relation=Relation.CHILD, priority=1)
    quota = make_binding(
        grandmother, child, relation=Relation.GRANDCHILD, way=Binding.Way.QUOTA, quota="15.00", priority=2
    )
    return {"father": father, "grandmother": grandmother, "child": child, "direct": direct, "quota": quota}


# Order of payment ---------------------------------------------------------------------------------


def test_two_payers_pay_in_order_and_the_rest_is_cash(pharmacy, family):
    outcome = settle(pharmacy, family["child"], "100.00")

    assert outcome.created
    assert paid(outcome) == [("张伟", "father", D("30.00")), ("李秀英", "grandparent", D("15.00"))]
    settlement = Settlement.objects.get()
    assert (settlement.amount, settlement.paid, settlement.cash_due) == (D("100.00"), D("45.00"), D("55.00"))
    assert balance(family["father"]) == 0
    assert balance(family["quota"].quota_account) == 0
    # The quota was set aside earlier; the grandmother's own account is not touched by the bill.
    assert balance(family["grandmother"]) == D("85.00")
    entries = dict(settlement.journal.entries.values_list("account__kind", "amount").filter(amount__gt=0))
    assert entries == {Account.Kind.INSTITUTIONS_PAYABLE: D("45.00")}


def test_the_first_payer_alone_covers_a_small_bill(pharmacy, family):
    outcome = settle(pharmacy, family["child"], "12.50")
    assert paid(outcome) == [("张伟", "father", D("12.50"))]
    assert outcome.settlement.cash_due == 0
    assert balance(family["quota"].quota_account) == D("15.00")


def test_the_quota_pays_after_the_father_is_used_up(pharmacy, family):
    outcome = settle(pharmacy, family["child"], "40.00")
    assert paid(outcome) == [("张伟", "father", D("30.00")), ("李秀英", "grandparent", D("10.00"))]
    assert balance(family["quota"].quota_account) == D("5.00")


def test_the_patients_order_decides_who_pays_first(pharmacy, family):
    Binding.objects.filter(pk=family["quota"].pk).update(priority=0)
    outcome = settle(pharmacy, family["child"], "20.00")
    assert paid(outcome) == [("李秀英", "grandparent", D("15.00")), ("张伟", "father", D("5.00"))]


def test_equal_priorities_go_oldest_first(pharmacy, family):
    earlier = timezone.now() - datetime.timedelta(days=30)
    Binding.objects.filter(pk=family["quota"].pk).update(priority=1, started_at=earlier)
    outcome = settle(pharmacy, family["child"], "20.00")
    assert [name for name, _relation, _amount in paid(outcome)] == ["李秀英", "张伟"]


def test_the_patients_own_account_pays_first(pharmacy):
    patient = make_employee(balance="8.00", name="王芳", birth="19870214")
    husband = make_employee(balance="500.00", name="张伟")
    make_binding(husband, patient, relation=Relation.SPOUSE)

    outcome = settle(pharmacy, patient, "20.00")

    assert paid(outcome) == [("王芳", "self", D("8.00")), ("张伟", "spouse", D("12.00"))]
    assert balance(patient) == 0 and balance(husband) == D("488.00")


def test_a_zero_balance_is_passed_over(pharmacy, family):
    settle(pharmacy, family["child"], "30.00")
    outcome = settle(pharmacy, family["child"], "5.00")
    assert paid(outcome) == [("李秀英", "grandparent", D("5.00"))]


def test_nothing_to_pay_with_is_still_a_settlement_in_cash(pharmacy):
    patient = make_resident(name="赵六")
    outcome = settle(pharmacy, patient, "9.99")
    assert outcome.payments == [] and outcome.settlement.cash_due == D("9.99")
    assert outcome.settlement.journal is None


@pytest.mark.parametrize(
    ("relation", "payer_birth_and_sex", "word"),
    [
        (Relation.CHILD, "male", "father"),
        (Relation.CHILD, "female", "mother"),
        (Relation.PARENT, "male", "child"),
        (Relation.SPOUSE, "female", "spouse"),
        (Relation.SIBLING, "male", "sibling"),
        (Relation.GRANDPARENT, "male", "grandchild"),
        (Relation.GRANDCHILD, "female", "grandparent"),
    ],
)
def test_the_relation_is_the_payers_relation_to_the_patient(pharmacy, relation, payer_birth_and_sex, word):
    payer = make_employee(
        balance="10.00", name="某人", id_number=id_number_of(male=payer_birth_and_sex == "male")
    )
    patient = make_resident(name="某亲属")
    make_binding(payer, patient, relation=relation)
    assert settle(pharmacy, patient, "1.00").payments[0].relation == word


# What is skipped ----------------------------------------------------------------------------------


def test_a_frozen_payer_is_skipped(pharmacy, family, reviewer):
    freeze_account(account=personal_account_of(family["father"]), actor=reviewer, reason="司法冻结")
    outcome = settle(pharmacy, family["child"], "20.00")
    assert paid(outcome) == [("李秀英", "grandparent", D("15.00"))]
    assert balance(family["father"]) == D("30.00")


def test_a_frozen_own_account_is_skipped(pharmacy, reviewer):
    patient = make_employee(balance="50.00", name="王芳", birth="19870214")
    freeze_account(account=personal_account_of(patient), actor=reviewer, reason="司法冻结")
    outcome = settle(pharmacy, patient, "20.00")
    assert outcome.payments == [] and outcome.settlement.cash_due == D("20.00")


def test_a_binding_that_is_no_longer_active_is_not_drawn_on(pharmacy, family):
    Binding.objects.filter(pk=family["direct"].pk).update(status=Binding.Status.ENDED)
    assert [name for name, _r, _a in paid(settle(pharmacy, family["child"], "20.00"))] == ["李秀英"]


def test_a_direct_binding_across_provinces_is_skipped_but_a_quota_is_used(pharmacy):
    payer = make_employee(
        balance="100.00", region_code="441900", name="陈明", id_number=id_number_of(male=True)
    )
    child = make_resident(name="陈小")
    make_binding(payer, child, relation=Relation.CHILD)
    assert settle(pharmacy, child, "10.00").payments == []

    other = make_resident(name="陈二")
    make_binding(payer, other, relation=Relation.CHILD, way=Binding.Way.QUOTA, quota="20.00")
    assert paid(settle(pharmacy, other, "10.00")) == [("陈明", "father", D("10.00"))]


def test_a_payer_whose_enrolment_stopped_unnoticed_is_skipped(pharmacy, family):
    # A bulk update sends no signal, so the binding is still active: settling must not trust it.
    Enrolment.objects.filter(person=family["father"]).update(status=Enrolment.Status.STOPPED)
    Enrolment.objects.filter(person=family["grandmother"]).update(status=Enrolment.Status.STOPPED)
    assert settle(pharmacy, family["child"], "20.00").payments == []


def test_a_deceased_payer_is_skipped(pharmacy, family):
    # Recorded without the save signal that ends his bindings (a bulk registry update, say), so that the
    # binding is still active and only the settlement's own guard on the death date stands in the way.
    Person.objects.filter(pk=family["father"].pk).update(died_on=datetime.date(2026, 1, 1))
    assert Binding.objects.filter(payer=family["father"], status=Binding.Status.ACTIVE).exists()

    assert [name for name, _r, _a in paid(settle(pharmacy, family["child"], "20.00"))] == ["李秀英"]
    assert balance(family["father"]) == D("30.00")


# Replays and the key's race -----------------------------------------------------------------------


def test_a_replay_returns_the_stored_outcome(pharmacy, family):
    first = settle(pharmacy, family["child"], "20.00", key="same")
    again = settle(pharmacy, family["child"], "20.00", key="same")
    assert not again.created and again.settlement.pk == first.settlement.pk
    assert paid(again) == paid(first)
    assert balance(family["father"]) == D("10.00")


def looked_before_the_first_committed(monkeypatch):
    """Make the next settlement miss the stored one in its first look, as a concurrent request would."""
    real = services._facts

    def not_seen_yet(*args):
        monkeypatch.setattr(services, "_facts", real)
        return dataclasses.replace(real(*args), stored=False)

    monkeypatch.setattr(services, "_facts", not_seen_yet)


def test_a_concurrent_request_with_the_same_key_gets_the_first_ones_result(pharmacy, family, monkeypatch):
    first = settle(pharmacy, family["child"], "20.00", key="race")
    looked_before_the_first_committed(monkeypatch)

    again = settle(pharmacy, family["child"], "20.00", key="race")

    # Its insert hit the unique key, everything it did was rolled back, and it answers the stored result.
    assert not again.created and again.settlement.pk == first.settlement.pk
    assert paid(again) == paid(first)
    assert Settlement.objects.count() == 1
    assert balance(family["father"]) == D("10.00")


def test_a_concurrent_request_with_the_same_key_and_another_body_is_refused(pharmacy, family, monkeypatch):
    settle(pharmacy, family["child"], "20.00", key="race")
    looked_before_the_first_committed(monkeypatch)
    with pytest.raises(ServiceError) as refused:
        settle(pharmacy, family["child"], "21.00", key="race")
    assert refused.value.code == "idempotency_key_reused"
    assert balance(family["father"]) == D("10.00")


def test_an_error_after_the_money_moved_leaves_nothing(pharmacy, family, monkeypatch):
    def broken(settlement, payment):
        raise RuntimeError("the notice could not be written")

    monkeypatch.setattr(services, "_notify_paid", broken)
    with pytest.raises(RuntimeError):
        settle(pharmacy, family["child"], "20.00")
    assert not Settlement.objects.exists()
    assert balance(family["father"]) == D("30.00")
    assert not JournalTransaction.objects.filter(kind=JournalTransaction.Kind.SETTLEMENT).exists()


def test_amounts_the_service_refuses(pharmacy, family):
    for amount in (D("0"), D("-1"), D("1.234"), D("NaN")):
        with pytest.raises(ServiceError) as refused:
            settle(pharmacy, family["child"], amount)
        assert refused.value.code == "invalid_amount"


# Notices ------------------------------------------------------------------------------------------


def test_each_payer_is_told_what_was_paid_for_the_relative(pharmacy, family):
    settle(pharmacy, family["child"], "40.00")

    father = Notice.objects.get(person=family["father"])
    assert father.title == "已为亲属支付医药费" and father.link == "/sharing/"
    assert "张**（您的子女）" in father.body and "¥30.00" in father.body and pharmacy.name in father.body
    assert "个人账户" in father.body
    grandmother = Notice.objects.get(person=family["grandmother"])
    assert "¥10.00" in grandmother.body and "共济额度" in grandmother.body
    assert not Notice.objects.filter(person=family["child"]).exists()


def test_the_patient_is_not_told_about_their_own_account(pharmacy):
    patient = make_employee(balance="50.00", name="王芳")
    settle(pharmacy, patient, "10.00")
    assert not Notice.objects.exists()


# Refunds ------------------------------------------------------------------------------------------


def refund(outcome, **kwargs):
    return services.refund_settlement(settlement=outcome.settlement, **kwargs)


def test_a_refund_goes_back_to_the_personal_accounts_and_quotas_that_paid(pharmacy, family):
    outcome = settle(pharmacy, family["child"], "40.00")

    settlement, refunded_now = refund(outcome)

    assert refunded_now and settlement.status == Settlement.Status.REFUNDED
    assert balance(family["father"]) == D("30.00")
    assert balance(family["quota"].quota_account) == D("15.00")
    payable = Account.objects.get(kind=Account.Kind.INSTITUTIONS_PAYABLE, region=pharmacy.region)
    assert payable.balance == 0
    journal = settlement.refund_journal
    assert journal.kind == JournalTransaction.Kind.REFUND
    assert journal.idempotency_key == f"settlement-refund:{settlement.pk}"
    titles = set(Notice.objects.filter(title="亲属的医药费已退款").values_list("person__name", flat=True))
    assert titles == {"张伟", "李秀英"}


def test_a_second_refund_changes_nothing(pharmacy, family):
    outcome = settle(pharmacy, family["child"], "40.00")
    refund(outcome)
    settlement, refunded_now = refund(outcome)
    assert not refunded_now and settlement.status == Settlement.Status.REFUNDED
    assert JournalTransaction.objects.filter(kind=JournalTransaction.Kind.REFUND).count() == 1
    assert balance(family["father"]) == D("30.00")


def test_an_all_cash_settlement_is_refunded_without_a_posting(pharmacy):
    outcome = settle(pharmacy, make_resident(name="赵六"), "5.00")
    settlement, refunded_now = refund(outcome)
    assert (
        refunded_now and settlement.refund_journal is None and settlement.status == Settlement.Status.REFUNDED
    )


def test_the_quota_of_an_ended_binding_goes_back_to_the_payers_account(pharmacy, family):
    outcome = settle(pharmacy, family["child"], "40.00")
    # The binding ended and its remaining ¥5.00 went back to the grandmother, as ending does.
    quota = family["quota"]
    Binding.objects.filter(pk=quota.pk).update(status=Binding.Status.ENDED, ended_at=timezone.now())
    ledger.post(
        kind=JournalTransaction.Kind.QUOTA_RELEASE,
        lines=[
            ledger.Line(quota.quota_account, D("-5.00")),
            ledger.Line(personal_account_of(family["grandmother"]), D("5.00")),
        ],
        description="共济额度退回",
    )

    refund(outcome)

    assert balance(quota.quota_account) == 0
    assert balance(family["grandmother"]) == D("85.00") + D("5.00") + D("10.00")
    assert balance(family["father"]) == D("30.00")


def test_an_ended_quota_whose_payer_cannot_take_it_holds_the_money_for_the_payer(pharmacy, family, reviewer):
    outcome = settle(pharmacy, family["child"], "40.00")
    Binding.objects.filter(pk=family["quota"].pk).update(status=Binding.Status.ENDED, ended_at=timezone.now())
    freeze_account(account=personal_account_of(family["grandmother"]), actor=reviewer, reason="司法冻结")

    refund(outcome)

    # Still the grandmother's money, waiting in the quota account for the binding's return of held quotas.
    assert balance(family["quota"].quota_account) == D("15.00")
    assert balance(family["grandmother"]) == D("85.00")


def test_a_frozen_account_that_paid_blocks_the_whole_refund(pharmacy, family, reviewer):
    outcome = settle(pharmacy, family["child"], "40.00")
    freeze_account(account=personal_account_of(family["father"]), actor=reviewer, reason="司法冻结")

    with pytest.raises(ServiceError) as refused:
        refund(outcome)

    assert refused.value.code == "refund_account_unavailable"
    assert "冻结" in refused.value.message
    assert Settlement.objects.get().status == Settlement.Status.SETTLED
    assert balance(family["quota"].quota_account) == D("5.00")
    payable = Account.objects.get(kind=Account.Kind.INSTITUTIONS_PAYABLE, region=pharmacy.region)
    assert payable.balance == D("40.00")


def test_a_closed_account_is_refunded_to_the_holders_current_account(pharmacy, reviewer):
    patient = make_employee(balance="50.00", name="王芳", birth="19870214")
    outcome = settle(pharmacy, patient, "20.00")
    old = personal_account_of(patient)
    stop_enrolment(enrolment=patient.enrolments.get())
    change_account_status(account=old, to_status=Account.Status.CLOSED, actor=reviewer, reason="提取后关闭")
    enrolment = record_enrolment(
        person=patient,
        region=region("330200"),
        insurance_type=Enrolment.InsuranceType.EMPLOYEE,
        employment=Enrolment.Employment.IN_SERVICE,
        contribution_base=D("6000.00"),
    )

    refund(outcome)

    assert enrolment.account.pk != old.pk
    assert balance(enrolment.account) == D("20.00") and balance(old) == D("30.00")


def test_a_refund_by_staff_needs_the_permission(pharmacy, family, reviewer):
    outcome = settle(pharmacy, family["child"], "10.00")
    with pytest.raises(ServiceError) as refused:
        refund(outcome, actor=reviewer)
    assert refused.value.code == "no_permission"


def test_the_refund_credits_the_same_institutions_account_the_settlement_did(pharmacy, family):
    outcome = settle(pharmacy, family["child"], "10.00")
    credited = LedgerEntry.objects.get(transaction=outcome.settlement.journal, amount__gt=0).account
    settlement, _now = refund(outcome)
    debited = LedgerEntry.objects.get(transaction=settlement.refund_journal, amount__lt=0).account
    assert credited == debited


# Cost ---------------------------------------------------------------------------------------------


def test_a_settlement_costs_the_same_number_of_queries_however_many_came_before(pharmacy, family):
    def one():
        with CaptureQueriesContext(connection) as queries:
            settle(pharmacy, family["child"], "0.01")
        return len(queries)

    settle(pharmacy, family["child"], "0.01")  # opens the region's institutions account
    first = one()
    for _ in range(5):
        settle(pharmacy, family["child"], "0.01")
    assert one() == first


def test_an_institution_elsewhere_credits_its_own_regions_account(family):
    dongguan = make_institution(region_code="441900")
    settle(dongguan, family["child"], "10.00")
    payable = Account.objects.get(kind=Account.Kind.INSTITUTIONS_PAYABLE)
    assert payable.region.code == "441900" and payable.balance == D("10.00")
    assert Settlement.objects.get().region.code == "330200"
