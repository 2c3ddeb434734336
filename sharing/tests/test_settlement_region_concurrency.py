"""Settlements of many families of one region at once, on PostgreSQL: they all credit the region's one
institutions account, which the ledger locks only at its last UPDATE (see accounts.ledger). The ledger must
stay exact and every entry's balance_after must be the running balance of its account.

Each thread posts through the API with its own test client and database connection and closes it when it
ends; the test commits (transaction=True) so the threads see each other's rows.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connections
from django.test import Client

from accounts import ledger
from accounts.models import Account, LedgerEntry
from conftest import make_employee, make_resident
from sharing.models import Binding, Settlement

from .conftest import balance, make_binding, make_institution, settlement_body

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

D = Decimal
FAMILIES = 12
ROUNDS = 5


def running_balances_disagree():
    """Entries whose balance_after is not the previous one's plus their amount, per account in id order."""
    wrong, last = [], {}
    for entry in LedgerEntry.objects.order_by("id").only("id", "account_id", "amount", "balance_after"):
        expected = last.get(entry.account_id, D("0.00")) + entry.amount
        if entry.balance_after != expected:
            wrong.append((entry.pk, entry.account_id, entry.balance_after, expected))
        last[entry.account_id] = entry.balance_after
    return wrong


def test_settlements_of_many_payers_at_once_credit_the_regions_account_exactly():
    institution = make_institution()
    payers, patients = [], []
    for number in range(FAMILIES):
        payer = make_employee(balance="100.00", name="张伟", birth=f"197{number % 10}0101")
        patient = make_resident(name="张小雨", birth=f"201{number % 10}0601")
        # Every third family shares through a quota, the others directly from the payer's account.
        if number % 3 == 2:
            make_binding(payer, patient, way=Binding.Way.QUOTA, quota="60.00")
        else:
            make_binding(payer, patient)
        payers.append(payer)
        patients.append(patient)
    for connection in connections.all():
        connection.close()
    requests = [
        (
            settlement_body(patients[n % FAMILIES], amount=f"{n % 9 + 1}.{n % 100:02d}", reference=f"R{n}"),
            f"k{n}",
        )
        for n in range(FAMILIES * ROUNDS)
    ]
    barrier = threading.Barrier(FAMILIES)

    def one(number):
        body, key = requests[number]
        try:
            client = Client()
            if number < FAMILIES:
                barrier.wait()  # the first round starts together, one request per family
            response = client.post(
                "/api/v1/settlements",
                body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {institution.token}",
                HTTP_IDEMPOTENCY_KEY=key,
            )
            return response.status_code, response.json()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=FAMILIES) as pool:
        results = list(pool.map(one, range(len(requests))))

    assert [status for status, _body in results] == [201] * len(requests)
    paid = sum((sum((D(p["amount"]) for p in body["paid_from"]), D("0")) for _s, body in results), D("0"))
    payable = Account.objects.get(kind=Account.Kind.INSTITUTIONS_PAYABLE, region=institution.region)
    assert payable.balance == paid == sum((s.paid for s in Settlement.objects.all()), D("0"))
    assert sum(balance(payer) for payer in payers) + sum(
        balance(binding.quota_account) for binding in Binding.objects.filter(way=Binding.Way.QUOTA)
    ) == D("100.00") * FAMILIES - paid
    assert ledger.audit() == []
    assert running_balances_disagree() == []
