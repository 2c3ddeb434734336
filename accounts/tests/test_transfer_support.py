"""What accounts offers transfers: accounts used province-wide, 已转出 enrolments, years carried over."""

from decimal import Decimal

import pytest

from accounts.models import Account, Enrolment, Province
from accounts.services import (
    ServiceError,
    add_contribution_months,
    change_account_region,
    freeze_account,
    personal_account_of,
    record_enrolment,
    record_transfer_out,
    stop_enrolment,
    system_account,
)
from conftest import make_employee, region

pytestmark = pytest.mark.django_db

NINGBO, HANGZHOU, DONGGUAN = "330200", "330100", "441900"


def enrol_employee(person, code):
    return record_enrolment(
        person=person, region=region(code), insurance_type=Enrolment.InsuranceType.EMPLOYEE,
        employment=Enrolment.Employment.IN_SERVICE, contribution_base=Decimal("8000.00"),
    )


def test_in_a_province_wide_province_the_account_follows_its_holder_to_another_region():
    person = make_employee(balance="2000.00")
    account = personal_account_of(person)
    stop_enrolment(enrolment=person.enrolments.get())

    new = enrol_employee(person, HANGZHOU)

    assert new.kept_account is True
    stored = Account.objects.get(pk=account.pk)
    # The money and its statement go on; the region of record changes only with the transfer.
    assert (stored.enrolment, stored.region.code, stored.balance) == (new, NINGBO, Decimal("2000.00"))
    assert Account.objects.filter(kind=Account.Kind.PERSONAL, enrolment__person=person).count() == 1


def test_without_province_wide_accounts_the_new_region_opens_its_own():
    Province.objects.filter(code="33").update(accounts_province_wide=False)
    person = make_employee(balance="2000.00")
    stop_enrolment(enrolment=person.enrolments.get())

    new = enrol_employee(person, HANGZHOU)

    assert new.kept_account is False
    assert new.account.region.code == HANGZHOU and new.account.balance == Decimal("0.00")


def test_a_province_wide_account_never_crosses_into_another_province():
    person = make_employee(balance="100.00")
    stop_enrolment(enrolment=person.enrolments.get())
    assert enrol_employee(person, DONGGUAN).kept_account is False


def test_a_stopped_enrolment_is_recorded_as_transferred_out_and_nothing_else():
    person = make_employee()
    enrolment = person.enrolments.get()
    with pytest.raises(ServiceError) as refused:
        record_transfer_out(enrolment=enrolment)
    assert refused.value.code == "not_stopped"
    stop_enrolment(enrolment=enrolment)
    record_transfer_out(enrolment=enrolment)
    assert Enrolment.objects.get(pk=enrolment.pk).status == Enrolment.Status.TRANSFERRED_OUT
    with pytest.raises(ServiceError):
        record_transfer_out(enrolment=enrolment)


def test_contribution_months_add_up():
    enrolment = make_employee().enrolments.get()
    add_contribution_months(enrolment=enrolment, months=37)
    assert enrolment.contribution_months == 157
    assert Enrolment.objects.get(pk=enrolment.pk).contribution_months == 157
    with pytest.raises(ValueError):
        add_contribution_months(enrolment=enrolment, months=-1)


def test_an_account_changes_its_region_of_record_within_its_province_only():
    account = personal_account_of(make_employee(balance="10.00"))
    change_account_region(account=account, region=region(HANGZHOU))
    assert Account.objects.get(pk=account.pk).region.code == HANGZHOU
    with pytest.raises(ServiceError) as refused:
        change_account_region(account=account, region=region(DONGGUAN))
    assert refused.value.code == "other_province"
    transit = system_account(region(NINGBO), Account.Kind.TRANSIT)
    with pytest.raises(ServiceError) as refused:
        change_account_region(account=transit, region=region(HANGZHOU))
    assert refused.value.code == "not_personal"


def test_a_frozen_account_keeps_its_region_of_record(reviewer):
    account = personal_account_of(make_employee(balance="10.00"))
    freeze_account(account=account, actor=reviewer, reason="司法冻结")
    with pytest.raises(ServiceError) as refused:
        change_account_region(account=account, region=region(HANGZHOU))
    assert refused.value.code == "account_unavailable"
    assert Account.objects.get(pk=account.pk).region.code == NINGBO
