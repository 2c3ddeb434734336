from decimal import Decimal

import pytest

from accounts.models import Account
from accounts.services import ServiceError, freeze_account, personal_account_of, place_hold
from conftest import make_citizen_user, make_employee
from review.models import Event
from withdrawals import services
from withdrawals.models import AUTHORISATION_KIND, WithdrawalApplication, WithdrawalReason

from .conftest import reason, record_death, start, stop


def refused_code(call):
    with pytest.raises(ServiceError) as caught:
        call()
    return caught.value.code


def test_a_stopped_employee_starts_a_draft_and_the_account_is_held(stopped_applicant):
    application = start(stopped_applicant)
    assert application.status == WithdrawalApplication.Status.DRAFT
    assert application.number.startswith("W")
    assert application.holder == application.applicant == stopped_applicant
    assert application.region.code == "330200"
    account = personal_account_of(stopped_applicant)
    assert (account.hold, account.hold_reference) == (Account.Hold.WITHDRAWAL, application.number)
    (event,) = Event.objects.for_object(application)
    assert (event.from_status, event.to_status, event.actor) == ("", "draft", stopped_applicant.user)


def test_an_active_enrolment_is_refused(applicant):
    assert refused_code(lambda: start(applicant)) == "enrolment_active"
    assert not WithdrawalApplication.objects.exists()


def test_a_zero_balance_is_refused(db):
    person = make_employee(name="李四")
    make_citizen_user(person)
    stop(person)
    assert refused_code(lambda: start(person)) == "zero_balance"


def test_a_frozen_account_is_refused(stopped_applicant, reviewer):
    freeze_account(account=personal_account_of(stopped_applicant), actor=reviewer, reason="涉嫌违规")
    assert refused_code(lambda: start(stopped_applicant)) == "account_frozen"


def test_a_second_withdrawal_is_refused_while_one_is_open(stopped_applicant):
    start(stopped_applicant)
    assert refused_code(lambda: start(stopped_applicant)) == "account_on_hold"
    assert WithdrawalApplication.objects.count() == 1


def test_an_open_transfer_is_refused(stopped_applicant):
    account = personal_account_of(stopped_applicant)
    place_hold(account=account, hold=Account.Hold.TRANSFER, reference="T20261124ABCDEF12")
    with pytest.raises(ServiceError) as caught:
        start(stopped_applicant)
    assert caught.value.code == "account_on_hold"
    assert "转移" in caught.value.message
    assert not WithdrawalApplication.objects.exists()
    account.refresh_from_db()
    assert account.hold_reference == "T20261124ABCDEF12"


def test_the_bank_account_must_be_in_the_applicants_name(stopped_applicant):
    code = refused_code(lambda: start(stopped_applicant, bank_account_holder="王芳"))
    assert code == "bank_holder_mismatch"
    assert personal_account_of(stopped_applicant).hold == ""


def test_a_disabled_reason_is_refused(stopped_applicant):
    assert refused_code(lambda: start(stopped_applicant, code="long_term_offsite")) == "reason_disabled"


def test_a_holders_reason_cannot_be_used_for_someone_else(stopped_applicant, outsider):
    assert refused_code(lambda: start(stopped_applicant, holder=outsider)) == "not_holder"


def test_the_holder_cannot_apply_for_his_own_death(applicant):
    code = refused_code(lambda: start(applicant, code="holder_death", heir_relation="child"))
    assert code == "heir_is_holder"


def test_an_heir_must_state_the_relation(applicant, outsider):
    code = refused_code(lambda: start(outsider, code="holder_death", holder=applicant))
    assert code == "relation_required"


def test_an_heir_applies_for_a_deceased_holder_whose_enrolment_is_still_active(applicant, outsider):
    # DOMAIN: for death the enrolment need not be stopped, but the death must be recorded in the registry.
    record_death(applicant)
    assert applicant.enrolments.get().status == "active"
    application = start(outsider, code="holder_death", holder=applicant, heir_relation="child")
    assert application.holder == applicant
    assert application.applicant == outsider
    assert application.account == personal_account_of(applicant)
    assert application.region.code == "330200"
    assert application.heir_relation == "child"


def test_a_person_without_a_personal_account_is_refused(db):
    from conftest import make_resident

    person = make_resident(name="赵六")
    make_citizen_user(person)
    assert refused_code(lambda: start(person)) == "no_account"


def test_the_six_reasons_are_seeded_with_their_materials(db):
    reasons = {r.code: r for r in WithdrawalReason.objects.prefetch_related("requirements")}
    assert set(reasons) == {
        "settle_abroad", "foreigner_leaving", "holder_death", "give_up_employee",
        "cross_province_refused", "long_term_offsite",
    }
    assert [r.code for r in WithdrawalReason.objects.filter(enabled=False)] == ["long_term_offsite"]
    assert reasons["holder_death"].is_for_heirs
    assert [m.label for m in reasons["holder_death"].requirements.all()] == ["继承人身份证", "死亡证明", "继承关系证明"]
    assert [m.code for m in reasons["settle_abroad"].requirements.all()] == ["id_card", "settlement_proof"]
    assert not any("重大疾病" in r.name for r in reasons.values())


def test_the_whole_balance_is_what_the_draft_is_for(stopped_applicant):
    application = start(stopped_applicant)
    assert application.amount is None
    assert application.account.balance == Decimal("2000.00")


def test_reasons_match_the_domain_table(db):
    assert reason("settle_abroad").name == "出国（境）定居"


def test_an_open_withdrawal_blocks_a_transfer(stopped_applicant):
    application = start(stopped_applicant)
    account = personal_account_of(stopped_applicant)
    with pytest.raises(ServiceError) as caught:
        place_hold(account=account, hold=Account.Hold.TRANSFER, reference="T20261124ABCDEF12")
    assert caught.value.code == "account_on_hold"
    assert "提取申请" in caught.value.message
    account.refresh_from_db()
    assert (account.hold, account.hold_reference) == (Account.Hold.WITHDRAWAL, application.number)


def test_a_proxy_is_recorded_only_at_the_counter(stopped_applicant):
    code = refused_code(lambda: start(stopped_applicant, proxy_name="王芳", proxy_id_number="330203198702140028"))
    assert code == "proxy_online"
    assert personal_account_of(stopped_applicant).hold == ""


def test_a_proxy_at_the_counter_makes_the_authorisation_required(stopped_applicant, desk_reviewer):
    application = start(
        stopped_applicant, actor=desk_reviewer, counter_clerk=desk_reviewer,
        proxy_name="王芳", proxy_id_number="330203198702140028",
    )
    # The proxy's own ID card and the authorisation (DOMAIN: a proxy brings one, kept as a material).
    assert list(services.missing_kinds(application)) == [
        "id_card", "settlement_proof", "proxy_id_card", AUTHORISATION_KIND
    ]
    assert "代办人：王*" in Event.objects.for_object(application).get().note
