"""Profile one settlement at a time on the benchmark database: its queries, its time, how long it holds locks.

    DJANGO_SETTINGS_MODULE=bench.settings DATABASE_URL=postgres://.../portal_bench \\
        python -m bench.profile <patients file> [--count 200]

Run after `bench/run.py` (which seeds the database and writes the patients file). Settlements go through
the service, one after the other, so the lock times are what one settlement costs, without contention:
  - payer lock: from the SELECT ... FOR UPDATE of the paying accounts until the transaction has committed;
  - payable lock: from the ledger's UPDATE of the balances (which takes the region's institutions account,
    the row every settlement in the region updates, last of all) until the commit.
"""

import argparse
import re
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import django

BALANCE_UPDATE = re.compile(r'UPDATE "?accounts_account"? SET "?balance"?')


class Timeline:
    """An execute wrapper noting when each statement started, to find the lock statements."""

    def __init__(self):
        self.marks = []

    def __call__(self, execute, sql, params, many, context):
        self.marks.append((time.perf_counter(), sql))
        return execute(sql, params, many, context)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("patients", type=Path)
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args(argv)
    django.setup()

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sharing import settlement
    from sharing.models import Institution

    institution = Institution.objects.get(code="bench-pharmacy")
    patients = args.patients.read_text().split()

    def settle(patient):
        return settlement.settle(
            institution=institution,
            idempotency_key=f"profile-{uuid.uuid4().hex}",
            patient_id_number=patient,
            card_number=f"C{patient}",
            amount=Decimal("0.01"),
            category="pharmacy",
            reference="PROFILE",
        )

    settle(patients[0])
    with CaptureQueriesContext(connection) as queries:
        settle(patients[1])
    print(f"queries per settlement: {len(queries)}")  # noqa: T201
    for number, query in enumerate(queries, 1):
        print(f"  {number:2d}. {query['sql'][:110]}")  # noqa: T201

    walls, cpus, payer_holds, payable_holds = [], [], [], []
    for number in range(args.count):
        timeline = Timeline()
        with connection.execute_wrapper(timeline):
            wall, cpu = time.perf_counter(), time.process_time()
            settle(patients[number % len(patients)])
            done = time.perf_counter()
            cpus.append(time.process_time() - cpu)
            walls.append(done - wall)
        locks = [moment for moment, sql in timeline.marks if "FOR UPDATE" in sql]
        payer_holds.append(done - locks[0])
        # The ledger locks the institutions account by the UPDATE that adds to its balance (accounts.ledger).
        payable_lock = next(moment for moment, sql in timeline.marks if BALANCE_UPDATE.match(sql))
        payable_holds.append(done - payable_lock)

    def ms(values):
        ordered = sorted(values)
        return (
            f"median {statistics.median(ordered) * 1000:.2f} ms, "
            f"p99 {ordered[int(len(ordered) * 0.99) - 1] * 1000:.2f} ms"
        )

    print(f"{args.count} settlements one after another:")  # noqa: T201
    print(f"  wall time per settlement        {ms(walls)}")  # noqa: T201
    print(f"  CPU time in this process        {ms(cpus)}")  # noqa: T201
    print(f"  paying accounts locked for      {ms(payer_holds)}")  # noqa: T201
    print(f"  institutions account locked for {ms(payable_holds)}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
