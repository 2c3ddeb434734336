"""Approvers clicking at once, each on their own database connection (PostgreSQL only)."""

import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection

from accounts import ledger
from accounts.models import JournalTransaction, LedgerEntry
from conftest import make_staff
from withdrawals import services
from withdrawals.models import WithdrawalApplication

from .conftest import APPROVER_PERMISSIONS, grant, submitted


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
