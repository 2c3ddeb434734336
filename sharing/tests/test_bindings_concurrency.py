"""Requests that race, each on its own database connection (PostgreSQL only)."""

import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection

from accounts import ledger
from accounts.services import ServiceError
from conftest import make_employee, make_resident
from sharing import bindings
from sharing.models import Binding, QuotaTopUp

from .family import *  # noqa: F403


def race(count, action):
    """Run `action(n)` in `count` threads released at the same instant; return the outcomes and the time taken."""
    barrier = threading.Barrier(count)
    results = []  # list.append is atomic, so threads may share it

    def run(number):
        try:
            barrier.wait()
            action(number)
            results.append("done")
        except ServiceError as error:
            results.append(error.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(results), time.monotonic() - began


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("clicks", [4, 8])
def test_concurrent_top_ups_never_exceed_three_a_day(quota_binding, payer, clicks):
    """Several top-ups of one quota at the same instant.

    Each top-up locks the binding row (SELECT ... FOR UPDATE) before it counts the day's top-ups, so they
    queue: the first three each see fewer than three and post; the rest see three and are refused.
    """
    outcomes, elapsed = race(
        clicks,
        lambda n: bindings.top_up_quota(binding=quota_binding, amount=Decimal("100.00"), actor=payer.user, now=NOW),
    )
    print(f"{clicks} concurrent top-ups: {dict(outcomes)} in {elapsed:.3f}s")
    assert outcomes == {"done": 3, "too_many_topups": clicks - 3}, outcomes
    assert QuotaTopUp.objects.filter(binding=quota_binding).count() == 3
    assert refreshed(quota_binding).quota_account.balance == Decimal("300.00")
    assert balance_of(payer) == Decimal("1700.00")
    assert ledger.audit() == []


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("requests", [12, 20])
def test_concurrent_binds_never_exceed_ten_relatives(payer, requests):
    """One payer binds many relatives at the same instant (two browser tabs, a script).

    Each bind locks the payer's (and the relative's) registry row before counting the payer's open
    bindings, so the counts queue too: exactly ten succeed.
    """
    relatives = [make_resident(name="张某", birth=f"19{50 + n}0101") for n in range(requests)]
    outcomes, elapsed = race(
        requests, lambda n: bind(payer, relatives[n], relation="sibling", way="direct")
    )
    print(f"{requests} concurrent binds: {dict(outcomes)} in {elapsed:.3f}s")
    assert outcomes == {"done": 10, "too_many_relatives": requests - 10}, outcomes
    assert Binding.objects.open().filter(payer=payer).count() == 10
    priorities = sorted(Binding.objects.filter(payer=payer).values_list("priority", flat=True))
    assert priorities == [1] * 10  # each relative has this one payer, first in their order


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_payers_of_one_relative_get_distinct_places_in_the_order(child):
    """Several payers bind the same relative at once: each goes last, none ties."""
    payers = [make_employee(balance="10.00", name="张某", birth=f"19{60 + n}0101") for n in range(6)]
    outcomes, _elapsed = race(6, lambda n: bind(payers[n], child, relation="child"))
    assert outcomes == {"done": 6}
    priorities = sorted(Binding.objects.filter(relative=child).values_list("priority", flat=True))
    assert priorities == [1, 2, 3, 4, 5, 6]


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_ending_while_topping_up_never_loses_money(funded_quota, payer):
    """The payer ends the binding in one tab while topping up in another: the money ends where it should."""

    def act(number):
        if number == 0:
            bindings.end_binding(binding=funded_quota, actor=payer.user, reason=Binding.EndReason.PAYER)
        else:
            bindings.top_up_quota(binding=funded_quota, amount=Decimal("50.00"), actor=payer.user, now=NOW)

    outcomes, _elapsed = race(2, act)
    assert outcomes["done"] >= 1
    row = refreshed(funded_quota)
    assert row.status == Binding.Status.ENDED and row.quota_account.balance == Decimal("0.00")
    assert balance_of(payer) == Decimal("2000.00")
    assert ledger.audit() == []


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_payers_paying_one_premium_at_once_pay_it_once(child, payer, mother):
    """Father and grandmother pay the child's resident premium at the same instant (two bindings, two locks).

    Both see it unpaid; the unique (relative, kind, year) row lets one insert win and rolls the other's posting
    back, so exactly one payer is charged.
    """
    from conftest import make_citizen_user
    from sharing.models import PremiumPayment

    make_citizen_user(mother)
    both = [bind(payer, child), bind(mother, child, relation="grandchild")]
    actors = [payer.user, mother.user]
    outcomes, _elapsed = race(
        2, lambda n: bindings.pay_premium(binding=both[n], kind="resident", actor=actors[n])
    )
    assert outcomes == {"done": 1, "premium_already_paid": 1}, outcomes
    assert PremiumPayment.objects.count() == 1
    assert sorted([balance_of(payer), balance_of(mother)]) in (
        [Decimal("400.00"), Decimal("2000.00")], [Decimal("800.00"), Decimal("1600.00")]
    )
    assert balance_of(payer) + balance_of(mother) == Decimal("2400.00")
    assert ledger.audit() == []
