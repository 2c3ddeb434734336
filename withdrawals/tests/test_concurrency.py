"""Clicks that race, each on their own database connection (PostgreSQL only)."""

import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection, transaction

from accounts import ledger
from accounts.models import JournalTransaction, LedgerEntry
from conftest import make_staff
from review.materials import materials_of
from withdrawals import services
from withdrawals.models import WithdrawalApplication

from .conftest import APPROVER_PERMISSIONS, grant, start, submitted, upload_all


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("approvers", [2, 6])
def test_concurrent_approvals_move_the_balance_exactly_once(stopped_applicant, desk_reviewer, approvers, storage):
    """Several approvers approve the same application at the same instant.

    This measures the conditional update in review.transitions.transition (UPDATE ... WHERE status =
    'first_reviewed'): the first approver's update holds the row until its transaction, which also posts
    the money, commits; the others' updates then find the status changed, match no row, and are told the
    application was already handled, before any money moves. Exactly one approval and one debit result.
    """
    application = submitted(stopped_applicant)
    services.first_review_withdrawal(application=application, actor=desk_reviewer)
    clerks = [grant(make_staff(f"approver_{n}", "330200"), *APPROVER_PERMISSIONS) for n in range(approvers)]
    barrier = threading.Barrier(approvers)

    def approve(clerk):
        try:
            # Each approver has the page open: a copy loaded before anyone clicked.
            copy = WithdrawalApplication.objects.select_related("account", "region", "applicant").get(pk=application.pk)
            barrier.wait()
            services.approve_withdrawal(application=copy, actor=clerk)
            return "approved"
        except services.REFUSALS as error:
            return error.code
        finally:
            connection.close()

    results = []  # list.append is atomic, so threads may share it
    threads = [threading.Thread(target=lambda c=clerk: results.append(approve(c))) for clerk in clerks]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    outcomes = Counter(results)
    print(f"{approvers} concurrent approvals: {dict(outcomes)} in {elapsed:.3f}s")

    assert outcomes == {"approved": 1, "already_handled": approvers - 1}, f"{outcomes} in {elapsed:.2f}s"
    row = WithdrawalApplication.objects.get(pk=application.pk)
    assert row.status == WithdrawalApplication.Status.APPROVED
    assert row.approver in clerks
    assert JournalTransaction.objects.filter(kind=JournalTransaction.Kind.WITHDRAWAL).count() == 1
    debits = LedgerEntry.objects.filter(account=row.account, amount__lt=0)
    assert list(debits.values_list("amount", flat=True)) == [Decimal("-2000.00")]
    assert row.events.filter(to_status="approved").count() == 1
    assert ledger.audit() == []


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_file_removed_during_submission_cannot_leave_the_application_incomplete(stopped_applicant, storage):
    """The citizen removes a file in one tab while submitting in another.

    The removal locks the application row and holds the lock until it commits. Submission locks the same
    row before it counts the files, so it waits, then finds the file gone and refuses. Without that lock it
    would count the file the removal has not yet committed, and submit an incomplete application.
    """
    application = upload_all(start(stopped_applicant))
    material = materials_of(application).get(kind="id_card")
    user = stopped_applicant.user
    removed = threading.Event()
    outcomes = {}

    def remove():
        try:
            with transaction.atomic():
                services.remove_withdrawal_material(material=material, application=application, actor=user)
                removed.set()
                time.sleep(0.5)  # the removal is not committed yet while the submission runs
            outcomes["remove"] = "removed"
        finally:
            connection.close()

    def submit():
        try:
            removed.wait(timeout=5)
            copy = WithdrawalApplication.objects.get(pk=application.pk)
            services.submit_withdrawal(application=copy, actor=user, declaration_accepted=True)
            outcomes["submit"] = "submitted"
        except services.REFUSALS as error:
            outcomes["submit"] = error.code
        finally:
            connection.close()

    threads = [threading.Thread(target=remove), threading.Thread(target=submit)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == {"remove": "removed", "submit": "materials_missing"}
    row = WithdrawalApplication.objects.get(pk=application.pk)
    assert row.status == WithdrawalApplication.Status.DRAFT
    assert not materials_of(row).filter(kind="id_card").exists()
