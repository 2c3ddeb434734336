"""Premiums paid for a relative (代缴): resident insurance and long-term care, once per relative, kind and year."""

import datetime
from decimal import Decimal

import pytest

from accounts import ledger
from accounts.models import Account, JournalTransaction, Notice, PremiumRate, Region
from accounts.services import ServiceError, personal_account_of, system_account
from conftest import make_citizen_user
from sharing import bindings
from sharing.models import Binding, PremiumPayment

from .family import *  # noqa: F403

RESIDENT, LTC = PremiumPayment.Kind.RESIDENT, PremiumPayment.Kind.LONG_TERM_CARE


def pay(binding, kind, actor=None):
    return bindings.pay_premium(binding=binding, kind=kind, actor=actor or binding.payer.user, now=NOW)


def refused(code, binding, kind, actor=None):
    with pytest.raises(ServiceError) as caught:
        pay(binding, kind, actor)
    assert caught.value.code == code, caught.value.message
    return caught.value.message


@pytest.fixture(autouse=True)
def _ledger_stays_exact(db):
    yield
    assert ledger.audit() == []


def test_the_resident_premium_is_paid_from_the_payers_account_to_the_relatives_region(direct_binding, payer, child):
    payment = pay(direct_binding, RESIDENT)
    assert (payment.kind, payment.year, payment.amount) == (RESIDENT, 2026, Decimal("400.00"))
    assert payment.relative == child and payment.binding == direct_binding
    assert balance_of(payer) == Decimal("1600.00")
    collected = system_account(Region.objects.get(code="330200"), Account.Kind.PREMIUMS_COLLECTED)
    assert collected.balance == Decimal("400.00")
    assert payment.journal.kind == JournalTransaction.Kind.PREMIUM
    assert Notice.objects.filter(person=child, title="您的保费已由亲属代缴").exists()
    assert Notice.objects.filter(person=payer, title="代缴保费成功").exists()


def test_the_resident_premium_is_paid_once_a_year(direct_binding, payer):
    pay(direct_binding, RESIDENT)
    message = refused("premium_already_paid", direct_binding, RESIDENT)
    assert "2026年的居民医保个人缴费已经缴纳" in message
    assert balance_of(payer) == Decimal("1600.00")


def test_another_payer_cannot_pay_the_same_premium_again(direct_binding, mother, child):
    pay(direct_binding, RESIDENT)
    make_citizen_user(mother)
    grandmother = bind(mother, child, relation="grandchild")
    refused("premium_already_paid", grandmother, RESIDENT)
    assert PremiumPayment.objects.count() == 1


def publish(code, year, resident, ltc="0.00"):
    return PremiumRate.objects.create(
        region=Region.objects.get(code=code), year=year, resident_premium=Decimal(resident),
        ltc_premium=Decimal(ltc), document="测试文件",
    )


NEXT_JANUARY = datetime.datetime(2027, 1, 6, 10, 0, tzinfo=NOW.tzinfo)


def test_a_new_premium_year_is_paid_at_its_own_rate(direct_binding):
    publish("330200", 2027, "420.00", "95.00")
    pay(direct_binding, RESIDENT)

    payment = bindings.pay_premium(binding=direct_binding, kind=RESIDENT, actor=direct_binding.payer.user, now=NEXT_JANUARY)

    assert (payment.year, payment.amount) == (2027, Decimal("420.00"))


def test_a_premium_year_not_published_yet_is_not_due(direct_binding):
    due = bindings.premium_due(direct_binding, RESIDENT, day=NEXT_JANUARY.date())
    assert not due.payable and "宁波市尚未公布本年度的个人缴费标准" in due.refusal


def test_long_term_care_is_paid_once_a_year_where_the_region_has_it(direct_binding, payer):
    assert pay(direct_binding, LTC).amount == Decimal("90.00")
    refused("premium_already_paid", direct_binding, LTC)
    # The other kind is separate.
    assert pay(direct_binding, RESIDENT).amount == Decimal("400.00")
    assert balance_of(payer) == Decimal("1510.00")


def test_a_region_without_long_term_care_refuses_with_the_reason(far_quota):
    message = refused("premium_not_due", far_quota, LTC)
    assert "东莞市尚未开展长期护理保险" in message
    assert not PremiumPayment.objects.exists()


@pytest.fixture
def far_quota(payer, far_relative):
    """张伟 (宁波, 浙江) sharing a quota of ¥500.00 with his brother insured in 东莞 (广东)."""
    binding = bind(payer, far_relative, relation="sibling", way="quota")
    bindings.top_up_quota(binding=binding, amount=Decimal("500.00"), actor=payer.user, now=NOW)
    return refreshed(binding)


def test_the_premium_follows_the_relatives_region(far_quota):
    publish("441900", 2027, "380.00")
    publish("330200", 2027, "420.00")
    payment = bindings.pay_premium(binding=far_quota, kind=RESIDENT, actor=far_quota.payer.user, now=NEXT_JANUARY)
    assert payment.amount == Decimal("380.00")
    collected = system_account(Region.objects.get(code="441900"), Account.Kind.PREMIUMS_COLLECTED)
    assert collected.balance == Decimal("380.00")


def test_a_premium_across_provinces_is_paid_from_the_quota_never_the_personal_account(
    far_quota, payer, far_relative
):
    # Across provinces money reaches a relative only through a quota (国家医保钱包): premiums as much as bills.
    payment = pay(far_quota, RESIDENT)
    assert balance_of(payer) == Decimal("1500.00")  # the top-up only
    assert refreshed(far_quota).quota_account.balance == Decimal("100.00")
    assert set(payment.journal.entries.values_list("account_id", "amount")) == {
        (far_quota.quota_account_id, Decimal("-400.00")),
        (system_account(Region.objects.get(code="441900"), Account.Kind.PREMIUMS_COLLECTED).pk, Decimal("400.00")),
    }
    assert "共济额度中缴纳" in Notice.objects.get(person=payer, title="代缴保费成功").body
    assert "共济额度" in Notice.objects.get(person=far_relative, title="您的保费已由亲属代缴").body


def test_a_premium_across_provinces_needs_enough_quota_and_says_so(payer, far_relative):
    binding = bind(payer, far_relative, relation="sibling", way="quota")
    bindings.top_up_quota(binding=binding, amount=Decimal("100.00"), actor=payer.user, now=NOW)
    message = refused("premium_not_due", binding, RESIDENT)
    assert "只能从共济额度中缴纳" in message and "¥100.00" in message and "请先划拨共济额度" in message
    assert not PremiumPayment.objects.exists()
    assert balance_of(payer) == Decimal("1900.00")
    assert refreshed(binding).quota_account.balance == Decimal("100.00")


def test_an_employee_relative_has_no_resident_premium(payer, spouse):
    binding = bind(payer, spouse, relation="spouse")
    bindings.confirm_binding(binding=binding, actor=spouse.user, now=NOW)
    assert "职工医保" in refused("premium_not_due", binding, RESIDENT)


def test_only_an_active_binding_pays(payer, spouse):
    pending = bind(payer, spouse, relation="spouse")
    refused("not_active", pending, LTC)


def test_only_the_payer_pays(direct_binding, outsider):
    refused("not_payer", direct_binding, RESIDENT, actor=outsider.user)


def test_the_payer_needs_the_money(direct_binding, payer):
    account = personal_account_of(payer)
    payable = system_account(account.region, Account.Kind.INSTITUTIONS_PAYABLE)
    ledger.post(
        kind=JournalTransaction.Kind.SETTLEMENT, description="药店购药",
        lines=[ledger.Line(account, Decimal("-1700.00")), ledger.Line(payable, Decimal("1700.00"))],
    )
    refused("insufficient_funds", direct_binding, RESIDENT)
    assert not PremiumPayment.objects.exists()
    assert balance_of(payer) == Decimal("300.00")


def test_a_premium_can_be_paid_through_a_quota_binding_from_the_personal_account(funded_quota, payer):
    pay(funded_quota, RESIDENT)
    assert balance_of(payer) == Decimal("1100.00")
    assert refreshed(funded_quota).quota_account.balance == Decimal("500.00")


def test_what_is_due_is_listed_with_reasons(direct_binding):
    publish("330200", 2027, "400.00", ltc="0.00")
    dues = {due.kind: due for due in bindings.premiums_due(direct_binding, day=NEXT_JANUARY.date())}
    assert dues[RESIDENT].payable and dues[RESIDENT].amount == Decimal("400.00")
    assert not dues[LTC].payable and "尚未开展长期护理保险" in dues[LTC].refusal
    bindings.pay_premium(binding=direct_binding, kind=RESIDENT, actor=direct_binding.payer.user, now=NEXT_JANUARY)
    assert bindings.premium_due(direct_binding, RESIDENT, day=NEXT_JANUARY.date()).paid


def test_an_unknown_kind_is_refused(direct_binding):
    refused("unknown_premium", direct_binding, "fitness")


def test_binding_status_is_checked_before_anything_moves(direct_binding, payer):
    bindings.end_binding(binding=direct_binding, actor=payer.user, reason=Binding.EndReason.PAYER)
    refused("not_active", direct_binding, RESIDENT)
    assert balance_of(payer) == Decimal("2000.00")
