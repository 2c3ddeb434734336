"""Suspected 冒名就医: the record a refused card leaves, the clerk's decision, the suspension it may bring."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from accounts.models import Notice
from accounts.services import ServiceError
from conftest import make_employee, make_resident, make_staff
from sharing import settlement as services
from sharing.models import MisuseCase, Settlement, Suspension

from .conftest import make_binding, make_institution, post_settlement, settlement_body

pytestmark = pytest.mark.django_db

D = Decimal


def grant(user, *codenames):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="sharing", codename__in=codenames)
    )
    return type(user).objects.get(pk=user.pk)  # a fresh object: permissions are cached per instance


@pytest.fixture
def clerk(reviewer):
    return grant(reviewer, "decide_misuse", "view_misusecase")


@pytest.fixture
def lender(db):
    """张伟, who lent his card."""
    return make_employee(balance="2000.00", name="张伟")


@pytest.fixture
def patient(db):
    return make_resident(name="张小雨", birth="20150601")


@pytest.fixture
def case(pharmacy, lender, patient):
    services.record_misuse(
        institution=pharmacy,
        patient=patient,
        enrolment=patient.enrolments.get(),
        card_number=lender.card_number,
        amount=D("50.00"),
        reference="RX-9",
        idempotency_key="k-9",
    )
    return MisuseCase.objects.get()


def refused(code, call, **kwargs):
    with pytest.raises(ServiceError) as caught:
        call(**kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value.message


# The record ---------------------------------------------------------------------------------------


def test_the_record_names_the_institution_card_holder_patient_time_and_amount(
    case, pharmacy, lender, patient
):
    assert (case.institution, case.card_holder, case.patient) == (pharmacy, lender, patient)
    assert case.card_number == lender.card_number and case.amount == D("50.00") and case.reference == "RX-9"
    assert case.region.code == "330200" and case.created_at and case.status == MisuseCase.Status.OPEN


def test_the_case_belongs_to_the_patients_region_not_the_institutions(client, lender):
    dongguan_patient = make_resident(name="陈小", region_code="441900")
    ningbo_pharmacy = make_institution(region_code="330200")
    body = settlement_body(dongguan_patient, card_number=lender.card_number)
    assert post_settlement(client, ningbo_pharmacy, body).status_code == 403
    assert MisuseCase.objects.get().region.code == "441900"


def test_a_patient_without_an_active_enrolment_is_recorded_in_their_last_region(client, pharmacy, lender):
    from accounts.services import stop_enrolment

    stopped = make_resident(name="陈小", region_code="441900")
    stop_enrolment(enrolment=stopped.enrolments.get())
    body = settlement_body(stopped, card_number=lender.card_number)
    assert post_settlement(client, pharmacy, body).status_code == 403
    assert MisuseCase.objects.get().region.code == "441900"


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_the_record_is_committed_although_the_answer_is_an_error(client, lender, patient):
    pharmacy = make_institution()
    make_binding(lender, patient)
    response = post_settlement(client, pharmacy, settlement_body(patient, card_number=lender.card_number))
    assert response.status_code == 403
    # Another connection sees it: the record was committed, not left in a transaction the error rolled back.
    connection.close()
    assert MisuseCase.objects.filter(patient=patient, card_holder=lender).count() == 1
    assert not Settlement.objects.exists()


# Deciding -----------------------------------------------------------------------------------------


def test_confirming_suspends_the_card_holder_and_tells_them(case, clerk, lender):
    today = services.today()
    decided, suspension = services.confirm_misuse(
        case=case, actor=clerk, note="与机构核实属实", suspend=lender, months=6
    )

    assert decided.status == MisuseCase.Status.CONFIRMED and decided.decided_by == clerk
    assert decided.decision_note == "与机构核实属实" and decided.decided_at
    assert suspension.person == lender and suspension.months == 6 and suspension.created_by == clerk
    assert suspension.starts_on == today and suspension.ends_on == services.add_months(today, 6)
    notice = Notice.objects.get(person=lender)
    assert notice.title == "您的医保联网结算已暂停"
    assert "6个月" in notice.body and "医疗保障基金使用监督管理条例" in notice.body


def test_the_suspended_card_holder_cannot_settle_until_it_ends(client, case, clerk, lender):
    _case, suspension = services.confirm_misuse(case=case, actor=clerk, note="属实", suspend=lender, months=3)
    pharmacy = make_institution()
    response = post_settlement(client, pharmacy, settlement_body(lender))
    assert response.status_code == 403 and response.json()["error"]["code"] == "settlement_suspended"

    Suspension.objects.filter(pk=suspension.pk).update(
        starts_on=services.today() - datetime.timedelta(days=100), ends_on=services.today()
    )
    assert post_settlement(client, pharmacy, settlement_body(lender), key="later").status_code == 201


def test_confirming_may_suspend_nobody(case, clerk):
    decided, suspension = services.confirm_misuse(case=case, actor=clerk, note="属实，首次，予以警告")
    assert decided.status == MisuseCase.Status.CONFIRMED and suspension is None
    assert not Suspension.objects.exists() and not Notice.objects.exists()


def test_the_patient_may_be_suspended_instead(case, clerk, patient):
    _case, suspension = services.confirm_misuse(
        case=case, actor=clerk, note="属实", suspend=patient, months=12
    )
    assert suspension.person == patient


def test_only_the_card_holder_or_the_patient_may_be_suspended(case, clerk):
    stranger = make_employee(name="路人")
    refused(
        "bad_person", services.confirm_misuse, case=case, actor=clerk, note="属实", suspend=stranger, months=3
    )
    assert MisuseCase.objects.get().status == MisuseCase.Status.OPEN


@pytest.mark.parametrize("months", [0, 2, 13, None])
def test_a_suspension_lasts_three_to_twelve_months(case, clerk, lender, months):
    refused(
        "bad_months",
        services.confirm_misuse,
        case=case,
        actor=clerk,
        note="属实",
        suspend=lender,
        months=months,
    )
    assert not Suspension.objects.exists()


def test_dismissing_records_the_note_and_suspends_nobody(case, clerk):
    decided = services.dismiss_misuse(case=case, actor=clerk, note="收银员录错卡号")
    assert decided.status == MisuseCase.Status.DISMISSED and decided.decision_note == "收银员录错卡号"
    assert not Suspension.objects.exists()


def test_a_decided_case_cannot_be_decided_again(case, clerk, lender):
    services.dismiss_misuse(case=case, actor=clerk, note="录错")
    message = refused(
        "already_decided",
        services.confirm_misuse,
        case=case,
        actor=clerk,
        note="属实",
        suspend=lender,
        months=3,
    )
    assert "已排除" in message
    assert not Suspension.objects.exists()


def test_a_note_is_required(case, clerk):
    refused("note_required", services.dismiss_misuse, case=case, actor=clerk, note="  ")


def test_deciding_needs_the_permission(case, reviewer):
    refused("no_permission", services.dismiss_misuse, case=case, actor=reviewer, note="录错")


def test_a_clerk_of_another_region_cannot_decide(case, other_region_clerk):
    clerk = grant(other_region_clerk, "decide_misuse")
    refused("not_in_region", services.dismiss_misuse, case=case, actor=clerk, note="录错")
    assert MisuseCase.objects.get().status == MisuseCase.Status.OPEN


def test_a_superuser_decides_anywhere(case):
    boss = make_staff("boss", superuser=True)
    assert services.dismiss_misuse(case=case, actor=boss, note="录错").status == MisuseCase.Status.DISMISSED


# Dates --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (datetime.date(2026, 1, 31), 1, datetime.date(2026, 2, 28)),
        (datetime.date(2026, 3, 15), 3, datetime.date(2026, 6, 15)),
        (datetime.date(2026, 11, 30), 3, datetime.date(2027, 2, 28)),
        (datetime.date(2027, 8, 31), 6, datetime.date(2028, 2, 29)),
        (datetime.date(2026, 5, 1), 12, datetime.date(2027, 5, 1)),
    ],
)
def test_months_are_counted_on_the_calendar(day, months, expected):
    assert services.add_months(day, months) == expected


def test_a_suspension_is_in_force_from_its_first_day_until_the_day_before_its_end(case, clerk, lender):
    _case, suspension = services.confirm_misuse(case=case, actor=clerk, note="属实", suspend=lender, months=3)
    start, end = suspension.starts_on, suspension.ends_on
    assert suspension.is_in_force(start) and suspension.is_in_force(end - datetime.timedelta(days=1))
    assert not suspension.is_in_force(end) and not suspension.is_in_force(start - datetime.timedelta(days=1))
    assert list(Suspension.objects.in_force(start)) == [suspension]
    assert not Suspension.objects.in_force(end).exists()


def at(monkeypatch, moment):
    """Make "now" `moment` (UTC) for everything that asks django.utils.timezone for the date."""
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: moment)


def test_a_suspension_starts_on_the_day_in_beijing_not_in_utc(case, clerk, lender, monkeypatch):
    # 2026-03-31 16:30 UTC is 2026-04-01 00:30 in Beijing.
    at(monkeypatch, datetime.datetime(2026, 3, 31, 16, 30, tzinfo=datetime.UTC))
    _case, suspension = services.confirm_misuse(case=case, actor=clerk, note="属实", suspend=lender, months=3)
    assert suspension.starts_on == datetime.date(2026, 4, 1)
    assert suspension.ends_on == datetime.date(2026, 7, 1)


def test_settlement_resumes_at_midnight_in_beijing_on_the_end_day(client, case, clerk, lender, monkeypatch):
    at(monkeypatch, datetime.datetime(2026, 3, 31, 16, 30, tzinfo=datetime.UTC))
    services.confirm_misuse(case=case, actor=clerk, note="属实", suspend=lender, months=3)
    pharmacy = make_institution()

    # 2026-06-30 23:30 in Beijing: the last day of the suspension.
    at(monkeypatch, datetime.datetime(2026, 6, 30, 15, 30, tzinfo=datetime.UTC))
    refused = post_settlement(client, pharmacy, settlement_body(lender), key="before")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "settlement_suspended"
    assert "2026年7月1日" in refused.json()["error"]["message"]
    # 2026-07-01 00:30 in Beijing, still 2026-06-30 in UTC.
    at(monkeypatch, datetime.datetime(2026, 6, 30, 16, 30, tzinfo=datetime.UTC))
    assert post_settlement(client, pharmacy, settlement_body(lender), key="after").status_code == 201
