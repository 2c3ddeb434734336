"""The steps of an application before money moves: submission, cancelling, first review, return, refusal."""

import datetime

import pytest
from django.db import IntegrityError
from django.utils import timezone

from accounts.models import Account, Notice
from accounts.services import ServiceError, personal_account_of
from conftest import make_employee, make_staff
from review.materials import materials_of
from review.models import Event
from review.transitions import AlreadyHandled, NoPermission, NotAllowed
from withdrawals import services
from withdrawals.models import WithdrawalApplication

from .conftest import (
    APPROVER_PERMISSIONS,
    REVIEWER_PERMISSIONS,
    grant,
    png_upload,
    record_death,
    refreshed,
    start,
    stop,
    submitted,
    upload_all,
)

Status = WithdrawalApplication.Status


def notices_of(person):
    return list(Notice.objects.filter(person=person).order_by("id").values_list("title", "body"))


# Submission ---------------------------------------------------------------------------------------


def test_submission_is_refused_listing_every_missing_material(stopped_applicant):
    application = start(stopped_applicant)
    with pytest.raises(ServiceError) as caught:
        services.submit_withdrawal(application=application, actor=stopped_applicant.user, declaration_accepted=True)
    assert caught.value.code == "materials_missing"
    assert "身份证、出国（境）定居证明" in caught.value.message
    assert refreshed(application).status == Status.DRAFT


def test_submission_lists_only_what_is_still_missing(stopped_applicant):
    application = start(stopped_applicant)
    services.add_withdrawal_material(
        application=application, kind="id_card", uploaded_file=png_upload(), actor=stopped_applicant.user
    )
    with pytest.raises(ServiceError) as caught:
        services.submit_withdrawal(application=application, actor=stopped_applicant.user, declaration_accepted=True)
    assert "还缺少：出国（境）定居证明" in caught.value.message
    assert "身份证" not in caught.value.message


def test_submission_needs_the_declaration(stopped_applicant):
    application = upload_all(start(stopped_applicant))
    with pytest.raises(ServiceError) as caught:
        services.submit_withdrawal(application=application, actor=stopped_applicant.user, declaration_accepted=False)
    assert caught.value.code == "declaration_required"


def test_a_complete_draft_is_submitted_with_its_deadlines_and_a_notice(stopped_applicant):
    application = submitted(stopped_applicant)
    row = refreshed(application)
    assert row.status == Status.SUBMITTED
    assert row.clock_started_on == timezone.localdate()
    assert row.declaration_accepted and row.declaration_accepted_at is not None
    assert row.first_review_due > row.clock_started_on
    assert row.payment_due > row.first_review_due
    (title, body), = notices_of(stopped_applicant)
    assert title == "提取申请已提交"
    assert application.number in body and "初审" in body


def test_materials_cannot_change_after_submission(stopped_applicant):
    application = submitted(stopped_applicant)
    with pytest.raises(ServiceError) as caught:
        services.add_withdrawal_material(
            application=application, kind="id_card", uploaded_file=png_upload(), actor=stopped_applicant.user
        )
    assert caught.value.code == "materials_closed"
    material = materials_of(application).first()
    with pytest.raises(ServiceError):
        services.remove_withdrawal_material(material=material, application=application, actor=stopped_applicant.user)
    assert materials_of(application).count() == 2


def test_a_kind_the_reason_does_not_need_is_refused(stopped_applicant):
    application = start(stopped_applicant)
    with pytest.raises(ServiceError) as caught:
        services.add_withdrawal_material(
            application=application, kind="death_certificate", uploaded_file=png_upload(),
            actor=stopped_applicant.user,
        )
    assert caught.value.code == "unknown_kind"


def test_a_file_that_is_not_an_image_or_pdf_is_refused_in_chinese(stopped_applicant):
    from django.core.files.uploadedfile import SimpleUploadedFile

    application = start(stopped_applicant)
    with pytest.raises(ServiceError) as caught:
        services.add_withdrawal_material(
            application=application, kind="id_card", uploaded_file=SimpleUploadedFile("a.png", b"MZ not a picture"),
            actor=stopped_applicant.user,
        )
    assert "JPG" in caught.value.message


def test_another_citizen_cannot_act_on_the_application(stopped_applicant, outsider):
    application = upload_all(start(stopped_applicant))
    with pytest.raises(ServiceError) as caught:
        services.submit_withdrawal(application=application, actor=outsider.user, declaration_accepted=True)
    assert caught.value.code == "not_applicant"
    with pytest.raises(ServiceError):
        services.cancel_withdrawal(application=application, actor=outsider.user)


# Cancelling ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["draft", "submitted"])
def test_the_citizen_cancels_before_first_review_and_the_hold_is_released(stopped_applicant, stage):
    application = start(stopped_applicant) if stage == "draft" else submitted(stopped_applicant)
    services.cancel_withdrawal(application=application, actor=stopped_applicant.user)
    assert refreshed(application).status == Status.CANCELLED
    assert personal_account_of(stopped_applicant).hold == ""
    assert notices_of(stopped_applicant)[-1][0] == "提取申请已撤销"
    # The account is free: a new application can be started at once.
    assert start(stopped_applicant).status == Status.DRAFT


def test_cancelling_after_first_review_is_refused(first_reviewed):
    with pytest.raises(ServiceError) as caught:
        services.cancel_withdrawal(application=first_reviewed, actor=first_reviewed.applicant.user)
    assert caught.value.code == "too_late"
    assert refreshed(first_reviewed).status == Status.FIRST_REVIEWED


def test_a_returned_application_can_be_cancelled(stopped_applicant, desk_reviewer):
    application = submitted(stopped_applicant)
    services.return_withdrawal(application=application, actor=desk_reviewer, missing_kinds=["id_card"], note="")
    services.cancel_withdrawal(application=application, actor=stopped_applicant.user)
    assert refreshed(application).status == Status.CANCELLED


# First review -------------------------------------------------------------------------------------


def test_first_review_records_the_reviewer_and_tells_the_citizen(first_reviewed, desk_reviewer):
    row = refreshed(first_reviewed)
    assert row.status == Status.FIRST_REVIEWED
    assert row.first_reviewer == desk_reviewer
    assert notices_of(first_reviewed.applicant)[-1][0] == "提取申请初审通过"


def test_first_review_needs_the_review_permission(stopped_applicant, reviewer):
    application = submitted(stopped_applicant)
    with pytest.raises(NoPermission):
        services.first_review_withdrawal(application=application, actor=reviewer)
    assert refreshed(application).status == Status.SUBMITTED


def test_first_review_by_another_regions_clerk_is_refused(stopped_applicant, other_region_clerk):
    grant(other_region_clerk, "review_withdrawal")
    application = submitted(stopped_applicant)
    with pytest.raises(ServiceError) as caught:
        services.first_review_withdrawal(application=application, actor=other_region_clerk)
    assert caught.value.code == "other_region"


def test_a_draft_cannot_be_first_reviewed(stopped_applicant, desk_reviewer):
    application = upload_all(start(stopped_applicant))
    with pytest.raises(services.REFUSALS):
        services.first_review_withdrawal(application=application, actor=desk_reviewer)


def test_a_stale_second_click_is_told_it_was_already_handled(stopped_applicant, desk_reviewer):
    application = submitted(stopped_applicant)
    stale = refreshed(application)
    services.first_review_withdrawal(application=application, actor=desk_reviewer)
    with pytest.raises(AlreadyHandled):
        services.first_review_withdrawal(application=stale, actor=desk_reviewer)
    assert Event.objects.for_object(application).filter(to_status="first_reviewed").count() == 1


# Return and resubmission --------------------------------------------------------------------------


def test_a_return_lists_everything_missing_at_once(stopped_applicant, desk_reviewer):
    application = submitted(stopped_applicant)
    services.return_withdrawal(
        application=application, actor=desk_reviewer, missing_kinds=["id_card", "settlement_proof"],
        note="身份证照片模糊，定居证明须有公证。",
    )
    row = refreshed(application)
    assert row.status == Status.RETURNED
    assert row.missing_kinds == ["id_card", "settlement_proof"]
    assert row.return_note == "身份证照片模糊，定居证明须有公证。"
    title, body = notices_of(stopped_applicant)[-1]
    assert title == "提取申请需补正材料"
    assert "身份证、出国（境）定居证明" in body and "须有公证" in body
    event = Event.objects.for_object(application).last()
    assert "身份证、出国（境）定居证明" in event.note


def test_a_return_must_name_something(stopped_applicant, desk_reviewer):
    application = submitted(stopped_applicant)
    with pytest.raises(ServiceError) as caught:
        services.return_withdrawal(application=application, actor=desk_reviewer, missing_kinds=[], note=" ")
    assert caught.value.code == "nothing_missing"


def test_resubmission_restarts_the_clock(stopped_applicant, desk_reviewer):
    application = submitted(stopped_applicant)
    first_day = datetime.date(2026, 9, 30)
    WithdrawalApplication.objects.filter(pk=application.pk).update(clock_started_on=first_day)
    services.return_withdrawal(application=application, actor=desk_reviewer, missing_kinds=["id_card"], note="")
    services.add_withdrawal_material(
        application=application, kind="id_card", uploaded_file=png_upload(), actor=stopped_applicant.user
    )
    services.submit_withdrawal(application=application, actor=stopped_applicant.user, declaration_accepted=True)
    row = refreshed(application)
    assert row.status == Status.SUBMITTED
    assert row.clock_started_on == timezone.localdate() != first_day
    assert Event.objects.for_object(application).last().note == "补正后重新提交"


def test_the_approver_can_return_after_first_review_and_it_is_reviewed_again(first_reviewed, desk_approver):
    services.return_withdrawal(application=first_reviewed, actor=desk_approver, missing_kinds=[], note="请补充公证件")
    row = refreshed(first_reviewed)
    assert row.status == Status.RETURNED
    assert row.first_reviewer is None


# Refusal ------------------------------------------------------------------------------------------


def test_a_refusal_records_the_reason_tells_the_citizen_and_frees_the_account(stopped_applicant, desk_reviewer):
    application = submitted(stopped_applicant)
    services.refuse_withdrawal(application=application, actor=desk_reviewer, reason="定居证明系伪造。")
    row = refreshed(application)
    assert (row.status, row.refusal_reason) == (Status.REFUSED, "定居证明系伪造。")
    assert personal_account_of(stopped_applicant).hold == ""
    title, body = notices_of(stopped_applicant)[-1]
    assert title == "提取申请不予受理" and "定居证明系伪造" in body


def test_a_refusal_needs_a_reason(stopped_applicant, desk_reviewer):
    application = submitted(stopped_applicant)
    with pytest.raises(ServiceError) as caught:
        services.refuse_withdrawal(application=application, actor=desk_reviewer, reason="")
    assert caught.value.code == "reason_required"


# What the database guarantees ---------------------------------------------------------------------


def test_the_database_refuses_a_second_open_application_for_one_account(stopped_applicant):
    application = start(stopped_applicant)
    Account.objects.filter(pk=application.account_id).update(hold="", hold_reference="")
    with pytest.raises(IntegrityError):
        WithdrawalApplication.objects.create(
            applicant=stopped_applicant, holder=stopped_applicant, region=application.region,
            account=application.account, reason=application.reason,
            bank_name="x", bank_account_number="12345678", bank_account_holder=stopped_applicant.name,
        )


def test_the_database_refuses_an_approver_who_did_the_first_review(first_reviewed, desk_reviewer):
    with pytest.raises(IntegrityError):
        WithdrawalApplication.objects.filter(pk=first_reviewed.pk).update(approver=desk_reviewer)


def test_a_returned_application_cannot_be_resubmitted_without_replacing_what_was_named(
    stopped_applicant, desk_reviewer
):
    application = submitted(stopped_applicant)
    services.return_withdrawal(
        application=application, actor=desk_reviewer, missing_kinds=["settlement_proof"], note="须经公证"
    )
    assert services.missing_kinds(refreshed(application)) == {"settlement_proof": "出国（境）定居证明"}
    with pytest.raises(ServiceError) as caught:
        services.submit_withdrawal(application=application, actor=stopped_applicant.user, declaration_accepted=True)
    assert caught.value.code == "materials_missing"
    assert "出国（境）定居证明" in caught.value.message
    # A new file of another kind is no answer; one of the kind named is.
    services.add_withdrawal_material(
        application=application, kind="id_card", uploaded_file=png_upload(), actor=stopped_applicant.user
    )
    assert "settlement_proof" in services.missing_kinds(refreshed(application))
    services.add_withdrawal_material(
        application=application, kind="settlement_proof", uploaded_file=png_upload("公证件.png"),
        actor=stopped_applicant.user,
    )
    assert services.missing_kinds(refreshed(application)) == {}
    services.submit_withdrawal(application=application, actor=stopped_applicant.user, declaration_accepted=True)
    assert refreshed(application).status == Status.SUBMITTED


def test_a_second_return_asks_again_for_a_file_uploaded_after_the_first(stopped_applicant, desk_reviewer):
    application = submitted(stopped_applicant)
    services.return_withdrawal(application=application, actor=desk_reviewer, missing_kinds=["id_card"], note="")
    upload_all(application)
    services.submit_withdrawal(application=application, actor=stopped_applicant.user, declaration_accepted=True)
    services.return_withdrawal(application=application, actor=desk_reviewer, missing_kinds=["id_card"], note="仍模糊")
    assert list(services.missing_kinds(refreshed(application))) == ["id_card"]


# Who may act --------------------------------------------------------------------------------------


@pytest.fixture
def clerk_applicant(db):
    """A 宁波 clerk who is also an insured person, with a stopped enrolment and money in the account."""
    person = make_employee(balance="900.00", name="周敏")
    stop(person)
    clerk = make_staff("clerk_zhou", "330200")
    clerk.person = person
    clerk.save(update_fields=["person"])
    return grant(clerk, *REVIEWER_PERMISSIONS, *APPROVER_PERMISSIONS)


def test_a_clerk_cannot_decide_on_his_own_application(clerk_applicant, desk_reviewer, desk_approver):
    application = services.submit_withdrawal(
        application=upload_all(start(clerk_applicant.person, actor=clerk_applicant), actor=clerk_applicant),
        actor=clerk_applicant, declaration_accepted=True,
    )
    for step in (
        lambda: services.first_review_withdrawal(application=application, actor=clerk_applicant),
        lambda: services.return_withdrawal(application=application, actor=clerk_applicant, missing_kinds=[], note="x"),
        lambda: services.refuse_withdrawal(application=application, actor=clerk_applicant, reason="x"),
    ):
        with pytest.raises(ServiceError) as caught:
            step()
        assert caught.value.code == "own_case"
    services.first_review_withdrawal(application=application, actor=desk_reviewer)
    with pytest.raises(ServiceError) as caught:
        services.approve_withdrawal(application=application, actor=clerk_applicant)
    assert caught.value.code == "own_case"
    services.approve_withdrawal(application=application, actor=desk_approver)
    with pytest.raises(ServiceError) as caught:
        services.confirm_payout_withdrawal(
            application=application, actor=clerk_applicant, voucher_number="B2026120500017",
            paid_on=timezone.localdate(),
        )
    assert caught.value.code == "own_case"
    assert refreshed(application).status == Status.APPROVED


def test_a_clerk_cannot_decide_on_an_application_for_his_own_account(clerk_applicant, outsider):
    record_death(clerk_applicant.person)
    application = upload_all(start(outsider, code="holder_death", holder=clerk_applicant.person, heir_relation="child"))
    services.submit_withdrawal(application=application, actor=outsider.user, declaration_accepted=True)
    with pytest.raises(ServiceError) as caught:
        services.first_review_withdrawal(application=application, actor=clerk_applicant)
    assert caught.value.code == "own_case"


@pytest.mark.parametrize("step", ["upload", "submit", "cancel", "bank"])
def test_counter_staff_cannot_act_on_a_citizens_online_application(stopped_applicant, desk_reviewer, step):
    application = upload_all(start(stopped_applicant)) if step == "submit" else start(stopped_applicant)
    calls = {
        "upload": lambda: services.add_withdrawal_material(
            application=application, kind="id_card", uploaded_file=png_upload(), actor=desk_reviewer),
        "submit": lambda: services.submit_withdrawal(
            application=application, actor=desk_reviewer, declaration_accepted=True),
        "cancel": lambda: services.cancel_withdrawal(application=application, actor=desk_reviewer),
        "bank": lambda: services.change_bank_account(
            application=application, actor=desk_reviewer, bank_name="某银行", bank_account_number="6217000099999999",
            bank_account_holder=stopped_applicant.name),
    }
    with pytest.raises(ServiceError) as caught:
        calls[step]()
    assert caught.value.code == "online_application"
    row = refreshed(application)
    assert (row.status, row.bank_account_number) == (Status.DRAFT, "6222021234567890123")


# Forbidden moves through the services -------------------------------------------------------------


def test_a_citizen_cannot_first_review(stopped_applicant):
    application = submitted(stopped_applicant)
    with pytest.raises(services.REFUSALS):
        services.first_review_withdrawal(application=application, actor=stopped_applicant.user)
    assert refreshed(application).status == Status.SUBMITTED


@pytest.mark.parametrize("step", ["submit", "cancel"])
def test_a_counter_clerk_of_another_region_cannot_submit_or_cancel(
    stopped_applicant, desk_reviewer, other_region_clerk, step
):
    grant(other_region_clerk, "add_withdrawalapplication", "view_withdrawalapplication")
    application = upload_all(start(stopped_applicant, actor=desk_reviewer, counter_clerk=desk_reviewer))
    with pytest.raises(ServiceError) as caught:
        if step == "submit":
            services.submit_withdrawal(application=application, actor=other_region_clerk, declaration_accepted=True)
        else:
            services.cancel_withdrawal(application=application, actor=other_region_clerk)
    assert caught.value.code == "other_region"
    assert refreshed(application).status == Status.DRAFT


def test_a_refused_application_cannot_be_resubmitted(stopped_applicant, desk_reviewer):
    application = submitted(stopped_applicant)
    services.refuse_withdrawal(application=application, actor=desk_reviewer, reason="材料不实")
    with pytest.raises(NotAllowed):
        services.submit_withdrawal(application=application, actor=stopped_applicant.user, declaration_accepted=True)
    assert refreshed(application).status == Status.REFUSED


# Bank details -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["draft", "returned"])
def test_the_citizen_changes_the_bank_account_while_draft_or_returned(stopped_applicant, desk_reviewer, stage):
    application = start(stopped_applicant)
    if stage == "returned":
        upload_all(application)
        services.submit_withdrawal(application=application, actor=stopped_applicant.user, declaration_accepted=True)
        services.return_withdrawal(application=application, actor=desk_reviewer, missing_kinds=[], note="账号有误")
    services.change_bank_account(
        application=application, actor=stopped_applicant.user, bank_name="中国银行宁波分行",
        bank_account_number="6217000012345678", bank_account_holder="张伟",
    )
    row = refreshed(application)
    assert (row.bank_name, row.bank_account_number) == ("中国银行宁波分行", "6217000012345678")
    versions = row.history.order_by("history_date")
    assert versions.last().bank_account_number == "6217000012345678"
    assert versions.last().history_user == stopped_applicant.user
    assert "6222021234567890123" in versions.values_list("bank_account_number", flat=True)


def test_the_bank_account_must_stay_in_the_applicants_name(stopped_applicant):
    application = start(stopped_applicant)
    with pytest.raises(ServiceError) as caught:
        services.change_bank_account(
            application=application, actor=stopped_applicant.user, bank_name="中国银行",
            bank_account_number="6217000012345678", bank_account_holder="王芳",
        )
    assert caught.value.code == "bank_holder_mismatch"
    assert refreshed(application).bank_account_number == "6222021234567890123"


def test_the_bank_account_cannot_change_after_submission(stopped_applicant):
    application = submitted(stopped_applicant)
    with pytest.raises(ServiceError) as caught:
        services.change_bank_account(
            application=application, actor=stopped_applicant.user, bank_name="中国银行",
            bank_account_number="6217000012345678", bank_account_holder="张伟",
        )
    assert caught.value.code == "not_editable"


def test_a_counter_clerk_changes_the_bank_account_and_the_citizen_is_told(stopped_applicant, desk_reviewer):
    application = start(stopped_applicant, actor=desk_reviewer, counter_clerk=desk_reviewer)
    services.change_bank_account(
        application=application, actor=desk_reviewer, bank_name="中国银行", bank_account_number="6217000012345678",
        bank_account_holder="张伟",
    )
    assert refreshed(application).bank_account_number == "6217000012345678"
    title, body = notices_of(stopped_applicant)[-1]
    assert title == "收款账户已修改" and "尾号5678" in body


@pytest.mark.parametrize("decision", ["return", "refuse"])
def test_after_first_review_a_clerk_without_the_approve_permission_cannot_return_or_refuse(
    first_reviewed, decision,
):
    other_reviewer = grant(make_staff("reviewer2", "330200"), *REVIEWER_PERMISSIONS)
    with pytest.raises(NoPermission):
        decide(decision, first_reviewed, other_reviewer)
    assert refreshed(first_reviewed).status == Status.FIRST_REVIEWED


@pytest.mark.parametrize("decision", ["return", "refuse"])
def test_after_first_review_the_first_reviewer_cannot_return_or_refuse_even_with_the_permission(
    first_reviewed, decision, desk_reviewer,
):
    grant(desk_reviewer, *APPROVER_PERMISSIONS)
    with pytest.raises(ServiceError) as refused:
        decide(decision, refreshed(first_reviewed), desk_reviewer)
    assert refused.value.code == "same_person"
    assert refreshed(first_reviewed).status == Status.FIRST_REVIEWED


@pytest.mark.parametrize("decision", ["return", "refuse"])
def test_after_first_review_the_approver_returns_or_refuses(first_reviewed, decision, desk_approver):
    decide(decision, first_reviewed, desk_approver)
    assert refreshed(first_reviewed).status in (Status.RETURNED, Status.REFUSED)


def decide(decision, application, actor):
    if decision == "return":
        return services.return_withdrawal(application=application, actor=actor, missing_kinds=[], note="请补充")
    return services.refuse_withdrawal(application=application, actor=actor, reason="不符合条件")
