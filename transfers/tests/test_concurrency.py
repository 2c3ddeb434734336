"""Both clerks of a desk clicking at once, each on their own database connection (PostgreSQL only)."""

import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection

from accounts import ledger
from accounts.models import Account, JournalTransaction, LedgerEntry
from accounts.services import system_account
from conftest import make_staff
from transfers import services
from transfers.models import TransferApplication

from .conftest import DONGGUAN, NINGBO, grant


def click_at_once(application, clerks, step):
    """Let every clerk take `step` on their own copy of the page at the same instant; return the outcomes."""
    barrier = threading.Barrier(len(clerks))

    def take(clerk):
        try:
            # Each clerk has the page open: a copy loaded before anyone clicked.
            copy = TransferApplication.objects.select_related(*services.RELATED).get(pk=application.pk)
            barrier.wait()
            step(application=copy, actor=clerk)
            return "done"
        except services.REFUSALS as error:
            return error.code
        finally:
            connection.close()

    results = []  # list.append is atomic, so threads may share it
    threads = [threading.Thread(target=lambda c=clerk: results.append(take(c))) for clerk in clerks]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(results), time.monotonic() - began


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("clerks", [2, 6])
def test_concurrent_transfer_out_and_transfer_in_move_the_balance_exactly_once(submitted, nb_clerk, clerks):
    """Several clerks of the old region click 转出 at once, then several of the new region click 转入.

    Measures review.transitions.transition's conditional update (UPDATE ... WHERE status = 'accepted'):
    the first clerk's update holds the row until its transaction, which also posts the money, commits;
    the others' updates then match no row and they are told it was already handled, before any money.
    """
    services.accept_transfer(application=submitted, actor=nb_clerk)
    old_desk = [grant(make_staff(f"dg_{n}", DONGGUAN)) for n in range(clerks)]
    new_desk = [grant(make_staff(f"nb_{n}", NINGBO)) for n in range(clerks)]

    out, out_seconds = click_at_once(submitted, old_desk, services.transfer_out)
    print(f"{clerks} concurrent 转出: {dict(out)} in {out_seconds:.3f}s")
    assert out == {"done": 1, "already_handled": clerks - 1}, out
    into, in_seconds = click_at_once(submitted, new_desk, services.transfer_in)
    print(f"{clerks} concurrent 转入: {dict(into)} in {in_seconds:.3f}s")
    assert into == {"done": 1, "already_handled": clerks - 1}, into

    row = TransferApplication.objects.get(pk=submitted.pk)
    assert row.status == TransferApplication.Status.COMPLETED
    assert row.transferred_out_by in old_desk and row.transferred_in_by in new_desk
    assert JournalTransaction.objects.filter(kind=JournalTransaction.Kind.TRANSFER_OUT).count() == 1
    assert JournalTransaction.objects.filter(kind=JournalTransaction.Kind.TRANSFER_IN).count() == 1
    debits = LedgerEntry.objects.filter(account=row.old_account, amount__lt=0)
    assert list(debits.values_list("amount", flat=True)) == [Decimal("-1500.00")]
    credits = LedgerEntry.objects.filter(account=row.new_account, amount__gt=0)
    assert list(credits.values_list("amount", flat=True)) == [Decimal("1500.00")]
    assert system_account(row.old_region, Account.Kind.TRANSIT).balance == Decimal("0.00")
    assert row.new_enrolment.contribution_months == 120
    assert row.events.filter(to_status="transferred_out").count() == 1
    assert row.events.filter(to_status="completed").count() == 1
    assert ledger.audit() == []
