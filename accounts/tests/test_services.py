import datetime
from decimal import Decimal

import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError

from accounts.models import Account, AccountStatusChange, Enrolment, Notice, User
from accounts.services import (
    REGISTRATION_MISMATCH,
    ServiceError,
    freeze_account,
    mark_notice_read,
    notify,
    personal_account_of,
    place_hold,
    record_enrolment,
    register_citizen,
    release_hold,
    stop_enrolment,
    system_account,
    unfreeze_account,
)
from conftest import make_citizen_user, make_employee, make_person, make_resident, region

pytestmark = pytest.mark.django_db


def employee_enrolment(person, **overrides):
    fields = {
        "person": person,
        "region": region(),
        "insurance_type": Enrolment.InsuranceType.EMPLOYEE,
        "employment": Enrolment.Employment.IN_SERVICE,
        "contribution_base": Decimal("8000.00"),
    }
    return record_enrolment(**(fields | overrides))


# Enrolments ---------------------------------------------------------------------------------------


def test_employee_enrolment_opens_an_empty_personal_account():
    enrolment = employee_enrolment(make_person())

    account = Account.objects.get(enrolment=enrolment)
    assert (account.kind, account.region, account.status) == (
        Account.Kind.PERSONAL, region(), Account.Status.ACTIVE,
    )
    assert account.balance == Decimal("0.00")
    assert enrolment.status == Enrolment.Status.ACTIVE


def test_retired_employee_enrolment_needs_no_base_and_opens_an_account():
    enrolment = employee_enrolment(
        make_person(), employment=Enrolment.Employment.RETIRED, contribution_base=None
    )
    assert Account.objects.filter(enrolment=enrolment).exists()


def test_resident_enrolment_has_no_personal_account():
    person = make_resident()
    assert person.enrolments.get().insurance_type == Enrolment.InsuranceType.RESIDENT
    assert not Account.objects.filter(enrolment__person=person).exists()
    assert personal_account_of(person) is None


def test_second_active_enrolment_is_refused():
    person = make_person()
    employee_enrolment(person)

    with pytest.raises(ServiceError) as refused:
        record_enrolment(
            person=person, region=region("441900"), insurance_type=Enrolment.InsuranceType.RESIDENT
        )

    assert refused.value.code == "already_enrolled"
    assert person.enrolments.count() == 1


def test_in_service_employee_without_base_is_refused():
    person = make_person()
    with pytest.raises(ValidationError):
        employee_enrolment(person, contribution_base=None)
    assert not person.enrolments.exists()


def test_resident_enrolment_with_employment_is_refused():
    with pytest.raises(ValidationError):
        record_enrolment(
            person=make_person(),
            region=region(),
            insurance_type=Enrolment.InsuranceType.RESIDENT,
            employment=Enrolment.Employment.RETIRED,
        )


def test_stop_enrolment_records_the_end_and_keeps_the_balance():
    person = make_employee(balance="300.00")
    enrolment = person.enrolments.get()

    stop_enrolment(enrolment=enrolment, ended_on=datetime.date(2026, 11, 1))

    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.ended_on) == (Enrolment.Status.STOPPED, datetime.date(2026, 11, 1))
    assert enrolment.account.balance == Decimal("300.00")


def test_stopping_a_stopped_enrolment_is_refused():
    enrolment = make_employee().enrolments.get()
    stop_enrolment(enrolment=enrolment)

    with pytest.raises(ServiceError) as refused:
        stop_enrolment(enrolment=enrolment, status=Enrolment.Status.CLOSED)

    assert refused.value.code == "not_active"
    enrolment.refresh_from_db()
    assert enrolment.status == Enrolment.Status.STOPPED


def test_after_stopping_a_new_region_can_enrol_the_person():
    person = make_employee()
    stop_enrolment(enrolment=person.enrolments.get(), status=Enrolment.Status.TRANSFERRED_OUT)

    new = employee_enrolment(person, region=region("441900"))

    assert new.is_active
    assert personal_account_of(person).region.code == "441900"


# Account status -----------------------------------------------------------------------------------


def test_freeze_and_unfreeze_are_recorded_with_actor_and_reason(reviewer, approver):
    account = personal_account_of(make_employee())

    freeze_account(account=account, actor=reviewer, reason="疑似冒名就医，核查中")
    assert Account.objects.get(pk=account.pk).status == Account.Status.FROZEN
    unfreeze_account(account=account, actor=approver, reason="核查无误")

    assert Account.objects.get(pk=account.pk).status == Account.Status.ACTIVE
    changes = list(AccountStatusChange.objects.filter(account=account).order_by("id"))
    assert [(c.from_status, c.to_status, c.actor, c.reason) for c in changes] == [
        (Account.Status.ACTIVE, Account.Status.FROZEN, reviewer, "疑似冒名就医，核查中"),
        (Account.Status.FROZEN, Account.Status.ACTIVE, approver, "核查无误"),
    ]


def test_freeze_without_a_reason_is_refused(reviewer):
    account = personal_account_of(make_employee())

    with pytest.raises(ServiceError) as refused:
        freeze_account(account=account, actor=reviewer, reason="  ")

    assert refused.value.code == "reason_required"
    assert Account.objects.get(pk=account.pk).status == Account.Status.ACTIVE
    assert not AccountStatusChange.objects.exists()


def test_freezing_a_frozen_account_is_refused(reviewer):
    account = personal_account_of(make_employee())
    freeze_account(account=account, actor=reviewer, reason="核查")

    with pytest.raises(ServiceError) as refused:
        freeze_account(account=account, actor=reviewer, reason="再次核查")

    assert refused.value.code == "bad_status"
    assert AccountStatusChange.objects.count() == 1


def test_unfreezing_an_active_account_is_refused(reviewer):
    account = personal_account_of(make_employee())
    with pytest.raises(ServiceError):
        unfreeze_account(account=account, actor=reviewer, reason="误操作")
    assert not AccountStatusChange.objects.exists()


def test_a_system_account_cannot_be_frozen(reviewer):
    source = system_account(region(), Account.Kind.CREDIT_SOURCE)
    with pytest.raises(ServiceError) as refused:
        freeze_account(account=source, actor=reviewer, reason="误操作")
    assert refused.value.code == "system_account"
    source.refresh_from_db()
    assert source.status == Account.Status.ACTIVE
    assert not AccountStatusChange.objects.exists()


# Holds --------------------------------------------------------------------------------------------


def test_place_hold_marks_the_account():
    account = personal_account_of(make_employee())

    place_hold(account=account, hold=Account.Hold.WITHDRAWAL, reference="TQ2026110001")

    stored = Account.objects.get(pk=account.pk)
    assert (stored.hold, stored.hold_reference) == (Account.Hold.WITHDRAWAL, "TQ2026110001")


def test_second_hold_is_refused_naming_the_first():
    account = personal_account_of(make_employee())
    place_hold(account=account, hold=Account.Hold.WITHDRAWAL, reference="TQ2026110001")

    with pytest.raises(ServiceError) as refused:
        place_hold(account=account, hold=Account.Hold.TRANSFER, reference="ZY2026110001")

    assert refused.value.code == "account_on_hold"
    assert "TQ2026110001" in refused.value.message
    assert Account.objects.get(pk=account.pk).hold_reference == "TQ2026110001"


def test_release_hold_needs_the_reference_that_placed_it():
    account = personal_account_of(make_employee())
    place_hold(account=account, hold=Account.Hold.WITHDRAWAL, reference="TQ2026110001")

    assert release_hold(account=account, reference="ZY2026110001") is False
    assert Account.objects.get(pk=account.pk).hold == Account.Hold.WITHDRAWAL
    assert release_hold(account=account, reference="TQ2026110001") is True

    stored = Account.objects.get(pk=account.pk)
    assert (stored.hold, stored.hold_reference) == (Account.Hold.NONE, "")
    place_hold(account=account, hold=Account.Hold.TRANSFER, reference="ZY2026110001")


# Registration -------------------------------------------------------------------------------------


def registration(person, **overrides):
    fields = {
        "name": person.name,
        "id_number": person.id_number,
        "phone": person.phone,
        "password": "Demo@2026",
    }
    return fields | overrides


def test_registration_with_matching_details_creates_one_login_and_a_notice(rf):
    person = make_employee(name="王芳", phone="13905740028")

    user = register_citizen(**registration(person, id_number=person.id_number.lower() + " "))

    assert (user.username, user.person, user.first_name) == (person.id_number, person, "王芳")
    assert authenticate(rf.post("/accounts/login/"), username=person.id_number, password="Demo@2026") == user
    assert Notice.objects.filter(person=person).count() == 1


@pytest.mark.parametrize(
    "field, wrong", [("name", "王方"), ("phone", "13905740029"), ("id_number", "330203198702140036")]
)
def test_registration_mismatch_gives_the_same_message_whatever_is_wrong(field, wrong):
    person = make_employee(name="王芳", phone="13905740028")

    with pytest.raises(ServiceError) as refused:
        register_citizen(**registration(person, **{field: wrong}))

    assert refused.value.message == REGISTRATION_MISMATCH
    assert not User.objects.exists()


def test_second_registration_of_a_person_is_refused_with_the_same_message():
    person = make_employee()
    make_citizen_user(person)

    with pytest.raises(ServiceError) as refused:
        register_citizen(**registration(person))

    assert refused.value.message == REGISTRATION_MISMATCH
    assert User.objects.filter(person=person).count() == 1


def test_registration_needs_an_active_enrolment():
    person = make_employee()
    stop_enrolment(enrolment=person.enrolments.get())

    with pytest.raises(ServiceError):
        register_citizen(**registration(person))


def test_registration_refuses_a_weak_password():
    person = make_employee()
    with pytest.raises(ValidationError):
        register_citizen(**registration(person, password="12345678"))
    assert not User.objects.exists()


# Notices and system accounts ----------------------------------------------------------------------


def test_notify_leaves_an_unread_notice_and_reading_marks_it_once():
    person = make_person()

    notice = notify(person=person, title="提取申请已受理", body="请留意审核进度。", link="/withdrawals/")

    stored = Notice.objects.get(person=person)
    assert (stored.title, stored.body, stored.link, stored.is_unread) == (
        "提取申请已受理", "请留意审核进度。", "/withdrawals/", True,
    )
    mark_notice_read(notice=notice)
    first_read = Notice.objects.get(pk=notice.pk).read_at
    assert first_read is not None
    mark_notice_read(notice=Notice.objects.get(pk=notice.pk))
    assert Notice.objects.get(pk=notice.pk).read_at == first_read


def test_system_account_is_opened_once_per_region_and_kind():
    first = system_account(region(), Account.Kind.WITHDRAWALS_PAYABLE)
    again = system_account(region(), Account.Kind.WITHDRAWALS_PAYABLE)
    other = system_account(region("441900"), Account.Kind.WITHDRAWALS_PAYABLE)
    assert first.pk == again.pk != other.pk
