"""Approval, payout and bank return: the ledger, the account's status and the notices."""

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import ledger
from accounts.models import Account, AccountStatusChange, Enrolment, JournalTransaction, LedgerEntry, Notice
from accounts.services import (
    ServiceError,
    freeze_account,
    personal_account_of,
    record_enrolment,
    system_account,
)
from conftest import fund, make_staff
from review.transitions import NoPermission, NotAllowed
from withdrawals import services
from withdrawals.models import WithdrawalApplication

from .conftest import APPROVER_PERMISSIONS, grant, refreshed, submitted

Status = WithdrawalApplication.Status


def payable(region):
    return system_account(region, Account.Kind.WITHDRAWALS_PAYABLE)


def entries_of(journal):
    return {(entry.account.kind, entry.amount) for entry in journal.entries.select_related("account")}


def last_notice(person):
    return Notice.objects.filter(person=person).order_by("-id").values_list("title", "body").first()


def test_the_first_reviewer_cannot_approve(first_reviewed, desk_reviewer):
    grant(desk_reviewer, *APPROVER_PERMISSIONS)
    with pytest.raises(ServiceError) as caught:
        services.approve_withdrawal(application=first_reviewed, actor=desk_reviewer)
    assert caught.value.message == "复核须由初审以外的人员办理。"
    assert refreshed(first_reviewed).status == Status.FIRST_REVIEWED
    assert not JournalTransaction.objects.filter(kind="withdrawal").exists()


def test_approval_needs_the_approve_permission(first_reviewed, reviewer):
    other = make_staff("second_reviewer", "330200")
    grant(other, "review_withdrawal")
    with pytest.raises(NoPermission):
        services.approve_withdrawal(application=first_reviewed, actor=other)


def test_approval_moves_the_whole_balance_to_withdrawals_payable_and_closes_the_account(approved, desk_approver):
    row = refreshed(approved)
    assert row.status == Status.APPROVED
    assert row.approver == desk_approver
    assert row.amount == Decimal("2000.00")
    account = personal_account_of(approved.holder)
    assert account.balance == Decimal("0.00")
    assert account.status == Account.Status.CLOSED
    assert payable(row.region).balance == Decimal("2000.00")
    journal = row.approval_journal
    assert journal.kind == JournalTransaction.Kind.WITHDRAWAL
    assert journal.idempotency_key == f"withdrawal-approve:{row.pk}"
    assert entries_of(journal) == {("personal", Decimal("-2000.00")), ("withdrawals_payable", Decimal("2000.00"))}
    change = AccountStatusChange.objects.get(account=account)
    assert (change.from_status, change.to_status, change.actor) == ("active", "closed", desk_approver)
    assert ledger.audit() == []
    title, body = last_notice(row.applicant)
    assert title == "提取申请复核通过" and "¥2,000.00" in body


def test_approval_takes_the_balance_as_it_is_at_approval(first_reviewed, desk_approver):
    fund(first_reviewed.account, Decimal("160.00"))
    services.approve_withdrawal(application=first_reviewed, actor=desk_approver)
    assert refreshed(first_reviewed).amount == Decimal("2160.00")
    assert personal_account_of(first_reviewed.holder).balance == Decimal("0.00")


def test_approval_of_a_frozen_account_is_refused_and_nothing_changes(first_reviewed, desk_approver, reviewer):
    freeze_account(account=first_reviewed.account, actor=reviewer, reason="司法冻结")
    with pytest.raises(ServiceError) as caught:
        services.approve_withdrawal(application=first_reviewed, actor=desk_approver)
    assert "冻结" in caught.value.message
    row = refreshed(first_reviewed)
    assert (row.status, row.approver, row.amount) == (Status.FIRST_REVIEWED, None, None)
    assert not JournalTransaction.objects.filter(kind="withdrawal").exists()


def test_a_second_approval_moves_no_more_money(approved, desk_approver):
    stale = WithdrawalApplication.objects.get(pk=approved.pk)
    stale.status = Status.FIRST_REVIEWED
    with pytest.raises(services.REFUSALS):
        services.approve_withdrawal(application=stale, actor=desk_approver)
    assert JournalTransaction.objects.filter(kind="withdrawal").count() == 1


def test_payout_clears_the_payable_and_frees_the_account(paid, desk_approver):
    row = refreshed(paid)
    assert row.status == Status.PAID
    assert payable(row.region).balance == Decimal("0.00")
    assert system_account(row.region, Account.Kind.PAID_OUT).balance == Decimal("2000.00")
    assert entries_of(row.payout_journal) == {
        ("withdrawals_payable", Decimal("-2000.00")), ("paid_out", Decimal("2000.00")),
    }
    assert row.payout_journal.kind == JournalTransaction.Kind.PAYOUT
    assert personal_account_of(row.holder).hold == ""
    assert ledger.audit() == []
    title, body = last_notice(row.applicant)
    assert title == "提取款已到账" and "尾号0123" in body


def test_payout_needs_the_pay_permission(approved):
    clerk = make_staff("cashier", "330200")
    grant(clerk, "approve_withdrawal")
    with pytest.raises(NoPermission):
        services.confirm_payout_withdrawal(
            application=approved, actor=clerk, voucher_number="B2026120500017",
            paid_on=timezone.localdate(),
        )


def test_a_bank_return_after_payout_reverses_both_and_reopens_the_account(paid, desk_approver):
    services.reverse_payout_withdrawal(application=paid, actor=desk_approver, reason="账户已销户")
    row = refreshed(paid)
    assert row.status == Status.BANK_RETURNED
    account = personal_account_of(row.holder)
    assert (account.balance, account.status, account.hold) == (Decimal("2000.00"), Account.Status.ACTIVE, "")
    assert payable(row.region).balance == Decimal("0.00")
    assert system_account(row.region, Account.Kind.PAID_OUT).balance == Decimal("0.00")
    assert row.payout_reversal_journal.reverses == row.payout_journal
    assert row.approval_reversal_journal.reverses == row.approval_journal
    assert LedgerEntry.objects.filter(account=account).count() == 3
    assert ledger.audit() == []
    title, body = last_notice(row.applicant)
    assert title == "提取款被银行退回" and "账户已销户" in body and "重新申请" in body


def test_a_bank_return_before_payout_reverses_the_approval(approved, desk_approver):
    services.reverse_payout_withdrawal(application=approved, actor=desk_approver, reason="户名与账号不符")
    row = refreshed(approved)
    assert row.status == Status.BANK_RETURNED
    assert row.payout_reversal_journal is None
    assert personal_account_of(row.holder).balance == Decimal("2000.00")
    assert personal_account_of(row.holder).hold == ""
    assert payable(row.region).balance == Decimal("0.00")
    assert ledger.audit() == []


def test_a_bank_return_needs_a_reason(paid, desk_approver):
    with pytest.raises(ServiceError):
        services.reverse_payout_withdrawal(application=paid, actor=desk_approver, reason="")
    assert refreshed(paid).status == Status.PAID


def test_after_a_bank_return_the_citizen_can_apply_again(paid, desk_approver):
    from .conftest import start

    services.reverse_payout_withdrawal(application=paid, actor=desk_approver, reason="账户已销户")
    again = start(paid.applicant, bank_account_number="6222029999999999")
    assert again.status == Status.DRAFT


def test_approval_is_refused_when_the_holder_is_enrolled_as_an_employee_again(first_reviewed, desk_approver):
    # Between the first review and the approval, a new employer enrolled him again.
    record_enrolment(
        person=first_reviewed.holder, region=first_reviewed.region,
        insurance_type=Enrolment.InsuranceType.EMPLOYEE, employment=Enrolment.Employment.IN_SERVICE,
        contribution_base=Decimal("8000.00"),
    )
    with pytest.raises(ServiceError) as caught:
        services.approve_withdrawal(application=first_reviewed, actor=desk_approver)
    assert caught.value.code == "enrolment_active"
    assert "参保中" in caught.value.message and "不予受理" in caught.value.message
    row = refreshed(first_reviewed)
    assert (row.status, row.approver, row.amount) == (Status.FIRST_REVIEWED, None, None)
    assert Account.objects.get(pk=row.account_id).balance == Decimal("2000.00")
    assert not JournalTransaction.objects.filter(kind="withdrawal").exists()


def test_the_frozen_check_at_approval_comes_before_the_ledger(first_reviewed, desk_approver, reviewer):
    freeze_account(account=first_reviewed.account, actor=reviewer, reason="司法冻结")
    with pytest.raises(ServiceError) as caught:
        services.approve_withdrawal(application=first_reviewed, actor=desk_approver)
    assert caught.value.code == "account_frozen"
    assert caught.value.message.startswith("账户情况已变化，不能复核通过")


def test_payment_before_approval_is_not_allowed(first_reviewed, desk_approver):
    with pytest.raises(NotAllowed):
        services.confirm_payout_withdrawal(
            application=first_reviewed, actor=desk_approver, voucher_number="B2026120500017",
            paid_on=timezone.localdate(),
        )
    assert refreshed(first_reviewed).status == Status.FIRST_REVIEWED
    assert not JournalTransaction.objects.filter(kind=JournalTransaction.Kind.PAYOUT).exists()


def test_a_bank_return_from_submitted_is_not_allowed(stopped_applicant, desk_approver):
    application = submitted(stopped_applicant)
    with pytest.raises(NotAllowed):
        services.reverse_payout_withdrawal(application=application, actor=desk_approver, reason="户名不符")
    assert refreshed(application).status == Status.SUBMITTED
    assert personal_account_of(stopped_applicant).status == Account.Status.ACTIVE
