"""seed_demo's day of work on the desks: withdrawals and transfers in every state, some overdue, made once."""

import io

from django.core.management import call_command

from accounts.models import Person, User
from transfers.models import TransferApplication
from withdrawals.models import WithdrawalApplication

Status = WithdrawalApplication.Status
DESIGN_PEOPLE = {
    "330203198501011238", "330203201506011020", "330203195803150045", "330203198702140028", "441900199008083318",
}


def seed():
    call_command("seed_demo", force=True, stdout=io.StringIO(), stderr=io.StringIO())


def test_seed_demo_puts_a_days_work_on_the_desks_once(db, storage):
    seed()
    withdrawals = WithdrawalApplication.objects.all()
    transfers = TransferApplication.objects.all()
    assert (withdrawals.count(), transfers.count()) == (16, 8)
    assert set(withdrawals.values_list("status", flat=True)) == {
        Status.DRAFT, Status.SUBMITTED, Status.FIRST_REVIEWED, Status.APPROVED, Status.PAID, Status.RETURNED,
        Status.REFUSED,
    }
    assert set(withdrawals.values_list("region__code", flat=True)) == {"330200", "441900"}
    assert set(transfers.values_list("status", flat=True)) == {
        "submitted", "accepted", "transferred_out", "completed"
    }
    assert withdrawals.overdue().exists() and transfers.overdue().exists()
    assert all(application.voucher_number for application in withdrawals.filter(status=Status.PAID))
    # The desk's citizens are no demo logins, and DESIGN.md's people have no applications of their own.
    applicants = {
        *withdrawals.values_list("applicant_id", flat=True), *transfers.values_list("applicant_id", flat=True)
    }
    assert len(applicants) == 24
    assert not User.objects.filter(person_id__in=applicants).exists()
    assert not Person.objects.filter(pk__in=applicants, id_number__in=DESIGN_PEOPLE).exists()

    before = (withdrawals.count(), transfers.count(), Person.objects.count())
    seed()
    assert (withdrawals.count(), transfers.count(), Person.objects.count()) == before


def test_the_demo_clerks_have_their_names(db, storage):
    seed()
    clerks = User.objects.filter(is_staff=True, is_superuser=False)
    assert {user.username: user.display_name for user in clerks} == {
        "reviewer_nb": "李敏（NB1024）", "approver_nb": "陈海燕（NB1031）", "reviewer_dg": "梁志强（DG2017）",
    }
