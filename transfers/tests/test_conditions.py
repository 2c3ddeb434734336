"""Each condition of a transfer, refused up front with its own reason; and the holds against withdrawals."""

import datetime
from decimal import Decimal

import pytest

from accounts.models import Account, Enrolment
from accounts.services import freeze_account, personal_account_of
from conftest import fund, make_citizen_user, make_employee, region
from transfers import services
from transfers.models import TransferApplication
from withdrawals import services as withdrawal_services
from withdrawals.models import WithdrawalReason

from .conftest import DONGGUAN, NINGBO, apply, enrol, move, stop

pytestmark = pytest.mark.django_db


def refusal(person, **options):
    with pytest.raises(services.ServiceError) as refused:
        apply(person, **options)
    assert not TransferApplication.objects.exists()
    return refused.value


def test_a_person_stopped_in_one_region_and_enrolled_in_another_may_apply(moving):
    situation = services.find_situation(person=moving, old_region=region(DONGGUAN), new_region=region(NINGBO))
    assert situation.old_enrolment.region.code == DONGGUAN
    assert situation.old_enrolment.status == Enrolment.Status.STOPPED
    assert situation.new_enrolment.is_active and situation.new_enrolment.region.code == NINGBO
    assert situation.old_account.balance == Decimal("1500.00")
    assert situation.new_account.balance == Decimal("0.00")
    assert not situation.province_wide


def test_not_enrolled_in_the_new_region_is_refused(outsider):
    stop(outsider)
    error = refusal(outsider)
    assert error.code == "not_enrolled_in_new"
    assert "您在宁波市没有参保中的职工医保登记" in error.message


def test_enrolled_in_a_third_region_is_refused_without_naming_it(outsider):
    move(outsider, to="320100")
    error = refusal(outsider)
    assert error.code == "not_enrolled_in_new"
    assert "南京" not in error.message


def test_still_insured_in_the_old_region_is_refused(outsider):
    error = refusal(outsider)
    assert error.code == "not_stopped_in_old"
    assert "东莞市的职工医保仍在参保中" in error.message and "停保" in error.message


def test_no_insurance_in_the_old_region_is_refused(moving):
    error = refusal(moving, old="320100")
    assert error.code == "no_old_enrolment"
    assert "南京市" in error.message


def test_the_same_region_twice_is_refused(moving):
    assert refusal(moving, old=NINGBO).code == "same_region"


def test_resident_insurance_in_the_new_region_is_refused(outsider):
    stop(outsider)
    enrol(outsider, insurance_type=Enrolment.InsuranceType.RESIDENT)
    error = refusal(outsider)
    assert error.code == "new_not_employee"
    assert "居民医保" in error.message


def test_a_frozen_old_account_is_refused(moving, other_region_clerk):
    old_account = Account.objects.get(enrolment__region__code=DONGGUAN, enrolment__person=moving)
    freeze_account(account=old_account, actor=other_region_clerk, reason="司法冻结")
    error = refusal(moving)
    assert error.code == "account_frozen"
    assert "冻结" in error.message


def test_an_account_already_transferred_out_is_refused(completed):
    # A second transfer of the same relationship: the old enrolment is now 已转出.
    error = refusal_keeping(completed.applicant)
    assert error.code == "already_transferred"


def test_a_retired_employee_is_refused_with_a_pointer_to_the_off_site_filing(db):
    retiree = make_employee(balance="800.00", region_code=DONGGUAN, retired=True, name="李退休")
    make_citizen_user(retiree)
    move(retiree, retired=True)
    error = refusal(retiree)
    assert error.code == "retiree"
    assert "异地安置备案" in error.message


def test_a_retiree_in_the_old_region_is_refused_even_if_enrolled_as_in_service(db):
    retiree = make_employee(balance="800.00", region_code=DONGGUAN, retired=True, name="李退休")
    make_citizen_user(retiree)
    move(retiree)
    assert refusal(retiree).code == "retiree"


def test_a_recorded_death_is_refused(moving):
    moving.died_on = datetime.date(2026, 10, 1)
    moving.save()
    assert refusal(moving).code == "deceased"


def test_other_reason_needs_a_note(moving):
    error = refusal(moving, reason=TransferApplication.Reason.OTHER, reason_note="  ")
    assert error.code == "reason_note_required"


def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_held(moving):
    from django.core.files.uploadedfile import SimpleUploadedFile

    error = refusal(moving, id_card=SimpleUploadedFile("a.png", b"not an image", content_type="image/png"))
    assert error.code == "unsupported_type"
    assert not Account.objects.exclude(hold="").exists()


# Holds: one open application per account ---------------------------------------------------------


def test_an_open_withdrawal_blocks_a_transfer(outsider):
    stop(outsider)
    withdrawal = withdrawal_services.start_withdrawal(
        applicant=outsider, reason=WithdrawalReason.objects.get(code="settle_abroad"), actor=outsider.user,
        bank_name="中国银行东莞分行", bank_account_number="6217001234567890", bank_account_holder="陈明",
    )
    enrol(outsider)
    error = refusal(outsider)
    assert error.code == "open_withdrawal"
    assert withdrawal.number in error.message


def test_an_open_transfer_blocks_a_withdrawal_of_either_account(submitted):
    person = submitted.applicant
    for account in (submitted.old_account, submitted.new_account):
        assert refreshed_account(account).hold == Account.Hold.TRANSFER
    # The new job ends before the transfer is done; the new account had a credit meanwhile.
    fund(submitted.new_account, Decimal("140.00"))
    stop(person)
    assert personal_account_of(person).pk == submitted.new_account_id
    with pytest.raises(withdrawal_services.ServiceError) as refused:
        withdrawal_services.start_withdrawal(
            applicant=person, reason=WithdrawalReason.objects.get(code="settle_abroad"), actor=person.user,
            bank_name="中国银行", bank_account_number="6217001234567890", bank_account_holder="陈明",
        )
    assert refused.value.code == "account_on_hold"
    assert submitted.number in refused.value.message


def test_a_second_transfer_while_one_is_open_is_refused(submitted):
    error = refusal_keeping(submitted.applicant)
    assert error.code == "open_transfer"
    assert submitted.number in error.message


def refusal_keeping(person):
    with pytest.raises(services.ServiceError) as refused:
        apply(person)
    return refused.value


def refreshed_account(account):
    return Account.objects.get(pk=account.pk)


# The page's up-front check -----------------------------------------------------------------------


def test_precheck_suggests_the_regions_from_the_registry(moving):
    old, new, answer = services.precheck(moving)
    assert (old.code, new.code, answer.allowed, answer.message) == (DONGGUAN, NINGBO, True, "")


def test_precheck_says_why_before_the_form_is_filled(outsider):
    old, new, answer = services.precheck(outsider)
    assert new.code == DONGGUAN and old is None
    # No stopped employee enrolment anywhere else: no old region could be chosen that would succeed.
    assert not answer.allowed and "已停保" in answer.message


def test_precheck_names_the_failing_condition(moving, other_region_clerk):
    freeze_account(
        account=Account.objects.get(enrolment__region__code=DONGGUAN, enrolment__person=moving),
        actor=other_region_clerk, reason="核查",
    )
    answer = services.precheck(moving)[2]
    assert not answer.allowed and answer.code == "account_frozen" and "冻结" in answer.message
