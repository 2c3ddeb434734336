"""Settlements racing for one payer's money on PostgreSQL: row locks keep the ledger exact.

Each thread posts through the API with its own test client and database connection, and closes the
connection when it ends; the test commits (transaction=True) so the threads see each other's rows.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test import Client

from accounts import ledger
from accounts.models import Account, JournalTransaction
from accounts.services import personal_account_of
from conftest import make_employee, make_resident
from sharing import settlement as services
from sharing.models import Binding, Settlement, SettlementPayment

from .conftest import balance, make_binding, make_institution, settlement_body

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

D = Decimal


def race(institution, bodies_and_keys):
    """Post every (body, key) at once, one thread each; return (status, json, seconds) per request."""
    barrier = threading.Barrier(len(bodies_and_keys))

    def one(body_and_key):
        body, key = body_and_key
        try:
            client = Client()
            barrier.wait()
            started = time.perf_counter()
            response = client.post(
                "/api/v1/settlements",
                body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {institution.token}",
                HTTP_IDEMPOTENCY_KEY=key,
            )
            return response.status_code, response.json(), time.perf_counter() - started
        finally:
            connections.close_all()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(bodies_and_keys)) as pool:
        results = list(pool.map(one, bodies_and_keys))
    report(f"{len(results)} concurrent requests", time.perf_counter() - started, results)
    return results


def report(what, wall, results):
    latencies = sorted(seconds for _status, _body, seconds in results)
    statuses = sorted({status for status, _body, _seconds in results})
    print(  # noqa: T201 (figures for the report, shown with pytest -s)
        f"\n{what}: wall {wall * 1000:.0f} ms, statuses {statuses}, "
        f"latency median {latencies[len(latencies) // 2] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )


def audit_ledger_passes():
    out = StringIO()
    call_command("audit_ledger", stdout=out, stderr=StringIO())
    assert ledger.audit() == []
    return out.getvalue()


def totals():
    settlements = Settlement.objects.all()
    amounts = sum((s.amount for s in settlements), D("0"))
    paid = sum((p.amount for p in SettlementPayment.objects.all()), D("0"))
    cash = sum((s.cash_due for s in settlements), D("0"))
    return amounts, paid, cash


def test_thirty_settlements_never_pay_out_more_than_a_direct_payers_balance():
    institution = make_institution()
    payer = make_employee(balance="100.00", name="张伟")
    patient = make_resident(name="张小雨", birth="20150601")
    make_binding(payer, patient)
    connection.close()

    results = race(
        institution,
        [(settlement_body(patient, amount="7.00", reference=f"R{n}"), f"k{n}") for n in range(30)],
    )

    assert [status for status, _body, _seconds in results] == [201] * 30
    amounts, paid, cash = totals()
    assert Settlement.objects.count() == 30 and amounts == D("210.00")
    assert paid == D("100.00") and paid + cash == amounts
    assert balance(payer) == D("0.00")
    assert sum(D(body["cash_due"]) for _status, body, _seconds in results) == D("110.00")
    audit_ledger_passes()


def test_thirty_settlements_never_draw_more_than_the_quota():
    institution = make_institution()
    payer = make_employee(balance="500.00", name="张伟")
    patient = make_resident(name="陈明", region_code="441900")
    binding = make_binding(payer, patient, relation="sibling", way=Binding.Way.QUOTA, quota="50.00")
    connection.close()

    results = race(
        institution,
        [(settlement_body(patient, amount="3.00", reference=f"R{n}"), f"q{n}") for n in range(30)],
    )

    assert [status for status, _body, _seconds in results] == [201] * 30
    amounts, paid, cash = totals()
    assert amounts == D("90.00") and paid == D("50.00") and paid + cash == amounts
    assert balance(binding.quota_account) == D("0.00")
    assert balance(payer) == D("450.00")  # the quota was set aside before; nothing else was touched
    audit_ledger_passes()


def test_eight_requests_with_the_same_key_make_one_settlement():
    institution = make_institution()
    payer = make_employee(balance="100.00", name="张伟")
    patient = make_resident(name="张小雨", birth="20150601")
    make_binding(payer, patient)
    connection.close()

    results = race(institution, [(settlement_body(patient, amount="10.00"), "same-key")] * 8)

    statuses = sorted(status for status, _body, _seconds in results)
    assert statuses == [200] * 7 + [201]
    assert len({body["id"] for _status, body, _seconds in results}) == 1
    assert len({repr(body) for _status, body, _seconds in results}) == 1
    assert Settlement.objects.count() == 1
    assert JournalTransaction.objects.filter(kind=JournalTransaction.Kind.SETTLEMENT).count() == 1
    assert balance(payer) == D("90.00")
    audit_ledger_passes()


def test_same_key_with_different_bodies_at_once_makes_one_settlement_and_refuses_the_rest():
    institution = make_institution()
    payer = make_employee(balance="100.00", name="张伟")
    patient = make_resident(name="张小雨", birth="20150601")
    make_binding(payer, patient)
    connection.close()

    results = race(
        institution, [(settlement_body(patient, amount=f"{n + 1}.00"), "same-key") for n in range(8)]
    )

    statuses = sorted(status for status, _body, _seconds in results)
    assert statuses == [201] + [409] * 7
    settlement = Settlement.objects.get()
    assert balance(payer) == D("100.00") - settlement.paid
    audit_ledger_passes()


def waiting_on_a_lock():
    """How many other sessions of this database wait for a lock now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def test_a_refund_and_a_new_settlement_for_the_same_family_do_not_deadlock():
    institution = make_institution()
    payer = make_employee(balance="100.00", name="张伟")
    patient = make_resident(name="张小雨", birth="20150601")
    make_binding(payer, patient)
    first = services.settle(
        institution=institution,
        idempotency_key="first",
        patient_id_number=patient.id_number,
        card_number=patient.card_number,
        amount=D("10.00"),
        category="pharmacy",
        reference="R1",
    ).settlement
    account_id = personal_account_of(payer).pk
    connection.close()
    holding, release, failures = threading.Event(), threading.Event(), []

    def settling():
        # What a settlement does: lock the paying account, write the settlement row, commit (PostgreSQL
        # checks the row's foreign keys at COMMIT, Django's constraints being DEFERRABLE INITIALLY DEFERRED).
        try:
            with transaction.atomic():
                Account.objects.select_for_update().get(pk=account_id)
                Settlement.objects.create(
                    institution=institution,
                    patient=patient,
                    region=first.region,
                    idempotency_key="second",
                    request_hash="-",
                    amount=D("5.00"),
                    paid=D("0.00"),
                    cash_due=D("5.00"),
                    category="pharmacy",
                    reference="R2",
                )
                holding.set()
                release.wait(10)
        except Exception as error:  # noqa: BLE001 (the failure is the finding)
            failures.append(error)
        finally:
            connections.close_all()

    def refunding():
        try:
            services.refund_settlement(settlement=first)
        except Exception as error:  # noqa: BLE001
            failures.append(error)
        finally:
            connections.close_all()

    settler, refunder = threading.Thread(target=settling), threading.Thread(target=refunding)
    settler.start()
    assert holding.wait(10)
    refunder.start()
    deadline = time.monotonic() + 10
    while not waiting_on_a_lock() and time.monotonic() < deadline:
        time.sleep(0.05)
    connection.close()
    release.set()
    settler.join()
    refunder.join()

    assert failures == []
    assert Settlement.objects.get(pk=first.pk).status == Settlement.Status.REFUNDED
    assert balance(payer) == D("100.00")
    audit_ledger_passes()
