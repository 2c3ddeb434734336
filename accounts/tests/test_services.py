import datetime
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.db import connection

from accounts.models import Account, AccountStatusChange, Enrolment, Notice, Person, User
from accounts.services import (
    REGISTRATION_MISMATCH,
    ServiceError,
    change_account_status,
    freeze_account,
    mark_notice_read,
    notify,
    personal_account_of,
    place_hold,
    record_enrolment,
    find_registrant,
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


def test_new_employee_enrolment_in_the_same_region_keeps_the_account_and_its_money():
    person = make_employee(balance="1200.00", name="王芳", base="6000.00")
    old = person.enrolments.get()
    account = old.account
    stop_enrolment(enrolment=old, ended_on=datetime.date(2026, 6, 30))

    new = employee_enrolment(person, contribution_base=Decimal("7500.00"), started_on=datetime.date(2026, 7, 1))

    assert new.kept_account is True
    assert Account.objects.filter(enrolment__person=person).count() == 1
    assert Account.objects.get(pk=account.pk).enrolment == new
    assert personal_account_of(person).pk == account.pk
    assert personal_account_of(person).balance == Decimal("1200.00")
    assert account.entries.count() == 1


def test_a_frozen_account_is_kept_and_stays_frozen(reviewer):
    person = make_employee(balance="300.00")
    account = personal_account_of(person)
    freeze_account(account=account, actor=reviewer, reason="司法冻结")
    stop_enrolment(enrolment=person.enrolments.get())

    new = employee_enrolment(person)

    stored = Account.objects.get(pk=account.pk)
    assert (stored.enrolment, stored.status, stored.balance) == (new, Account.Status.FROZEN, Decimal("300.00"))


@pytest.mark.parametrize("status", [Account.Status.CLOSED, Account.Status.TRANSFERRED_OUT])
def test_a_closed_or_transferred_account_is_left_behind_and_a_new_one_opened(reviewer, status):
    person = make_employee()
    old_account = personal_account_of(person)
    stop_enrolment(enrolment=person.enrolments.get())
    change_account_status(account=old_account, to_status=status, actor=reviewer, reason="测试")

    new = employee_enrolment(person)

    assert new.kept_account is False
    assert new.account.pk != old_account.pk
    assert Account.objects.get(pk=old_account.pk).enrolment.status == Enrolment.Status.STOPPED


def test_an_account_in_another_region_is_not_taken_along():
    person = make_employee(balance="100.00")
    old_account = personal_account_of(person)
    stop_enrolment(enrolment=person.enrolments.get())

    new = employee_enrolment(person, region=region("441900"))

    assert new.kept_account is False
    assert new.account.region.code == "441900"
    assert Account.objects.get(pk=old_account.pk).enrolment.region.code == "330200"


def test_a_resident_enrolment_leaves_the_employee_account_where_it_was():
    person = make_employee(balance="100.00")
    old = person.enrolments.get()
    stop_enrolment(enrolment=old)

    new = record_enrolment(person=person, region=region(), insurance_type=Enrolment.InsuranceType.RESIDENT)

    assert new.kept_account is False
    assert Account.objects.get(enrolment__person=person).enrolment == old


def test_a_second_clerk_racing_the_first_gets_a_refusal_not_a_database_error(monkeypatch):
    # On PostgreSQL the person's row lock makes the second clerk wait and then see the first's enrolment.
    # Here both checks are skipped, as if the two transactions had passed them at the same moment: the
    # database constraint must still turn into the same refusal.
    person = make_person()
    employee_enrolment(person)
    monkeypatch.setattr("accounts.services._check_not_enrolled", lambda person: None)
    monkeypatch.setattr(Enrolment, "validate_constraints", lambda self, exclude=None: None)

    with pytest.raises(ServiceError) as refused:
        employee_enrolment(person)

    assert refused.value.code == "already_enrolled"
    assert person.enrolments.count() == 1
    assert Account.objects.filter(enrolment__person=person).count() == 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_clerks_recording_at_once_make_one_enrolment_and_get_one_refusal():
    person = make_person()
    start = threading.Barrier(2)

    def record(_number):
        start.wait()
        try:
            employee_enrolment(Person.objects.get(pk=person.pk))
            return "recorded"
        except ServiceError as refused:
            return refused.code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(record, range(2)))

    assert outcomes == ["already_enrolled", "recorded"]
    assert person.enrolments.count() == 1
    assert Account.objects.filter(enrolment__person=person).count() == 1


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


@pytest.mark.parametrize("status", [Account.Status.CLOSED, Account.Status.TRANSFERRED_OUT])
def test_unfreezing_never_reopens_a_closed_or_transferred_account(reviewer, status):
    account = personal_account_of(make_employee())
    change_account_status(account=account, to_status=status, actor=reviewer, reason="提取审批通过")

    with pytest.raises(ServiceError) as refused:
        unfreeze_account(account=account, actor=reviewer, reason="误操作")

    assert refused.value.code == "bad_status"
    assert "不是“冻结”状态" in refused.value.message
    assert Account.objects.get(pk=account.pk).status == status
    assert AccountStatusChange.objects.count() == 1


def test_a_closed_account_is_reopened_by_the_generic_move(reviewer):
    # What withdrawals does when the bank returns a payout.
    account = personal_account_of(make_employee())
    change_account_status(account=account, to_status=Account.Status.CLOSED, actor=reviewer, reason="提取")

    change_account_status(account=account, to_status=Account.Status.ACTIVE, actor=reviewer, reason="银行退回")

    assert Account.objects.get(pk=account.pk).status == Account.Status.ACTIVE


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
        "password_hash": make_password("Demo@2026"),
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


def test_find_registrant_finds_only_a_full_match_without_a_login():
    person = make_employee(name="王芳", phone="13905740028")
    assert find_registrant(name="王芳", id_number=person.id_number.lower(), phone="13905740028") == person
    assert find_registrant(name="王芳", id_number=person.id_number, phone="13905740029") is None
    make_citizen_user(person)
    assert find_registrant(name="王芳", id_number=person.id_number, phone="13905740028") is None


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
