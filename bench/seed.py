"""Seed the benchmark database: payers who each share with one relative, plus one payer for the hot scenario.

    DJANGO_SETTINGS_MODULE=bench.settings python -m bench.seed <output folder> [--payers 1000]

Rows are bulk-inserted (a few seconds for a thousand families); balances go in through the ledger, as two
large postings (the opening balances, then the quota top-ups), so `audit_ledger` holds from the start. Writes
`patients.txt` (the relatives' ID numbers) and `hot.txt` (the hot payer's one relative) for the wrk script.
"""

import argparse
import datetime
import sys
import time
from decimal import Decimal
from pathlib import Path

import django

BENCH_TOKEN = "bench-pharmacy-token"
PAYER_BALANCE = Decimal("10000.00")
HOT_PAYER_BALANCE = Decimal("1000000.00")
QUOTA = Decimal("2000.00")
# Every fifth family shares through a quota, the others directly.
QUOTA_EVERY = 5


def id_number(birth, sequence):
    from accounts.identity import check_character

    first17 = f"330203{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)


def seed(out_dir, payers):
    from django.db import transaction
    from django.utils import timezone

    from accounts import ledger
    from accounts.models import Account, Enrolment, JournalTransaction, Person, Region
    from accounts.services import system_account
    from sharing.models import Binding, Institution, Relation

    region = Region.objects.get(code="330200")
    now = timezone.now()
    # Men (odd 17th digit) as payers, so the API names them "father"; unique birth dates keep numbers apart.
    payer_numbers = [
        id_number(datetime.date(1960, 1, 1) + datetime.timedelta(days=n), 13) for n in range(payers)
    ]
    relative_numbers = [
        id_number(datetime.date(2010, 1, 1) + datetime.timedelta(days=n), 20) for n in range(payers)
    ]
    hot_payer, hot_relative = (
        id_number(datetime.date(1980, 1, 1), 111),
        id_number(datetime.date(2014, 5, 5), 222),
    )
    payer_numbers.append(hot_payer)
    relative_numbers.append(hot_relative)

    with transaction.atomic():
        people = Person.objects.bulk_create(
            [
                Person(name=name, id_number=number, phone="13800000000", card_number=f"C{number}")
                for name, numbers in (("张伟", payer_numbers), ("张小雨", relative_numbers))
                for number in numbers
            ]
        )
        payer_people, relative_people = people[: len(payer_numbers)], people[len(payer_numbers) :]
        enrolments = Enrolment.objects.bulk_create(
            [
                Enrolment(
                    person=person,
                    region=region,
                    insurance_type=Enrolment.InsuranceType.EMPLOYEE,
                    employment=Enrolment.Employment.IN_SERVICE,
                    contribution_base=Decimal("8000.00"),
                    started_on=datetime.date(2010, 1, 1),
                )
                for person in payer_people
            ]
            + [
                Enrolment(
                    person=person,
                    region=region,
                    insurance_type=Enrolment.InsuranceType.RESIDENT,
                    started_on=datetime.date(2016, 1, 1),
                )
                for person in relative_people
            ]
        )
        personal = Account.objects.bulk_create(
            [
                Account(kind=Account.Kind.PERSONAL, region=region, enrolment=enrolment)
                for enrolment in enrolments[: len(payer_people)]
            ]
        )
        for enrolment, account in zip(enrolments, personal, strict=False):
            enrolment.personal_account = account
        Enrolment.objects.bulk_update(enrolments[: len(personal)], ["personal_account"])
        by_quota = [n % QUOTA_EVERY == QUOTA_EVERY - 1 for n in range(payers)] + [False]
        quotas = iter(
            Account.objects.bulk_create(
                [Account(kind=Account.Kind.QUOTA, region=region) for quota in by_quota if quota]
            )
        )
        bindings = Binding.objects.bulk_create(
            [
                Binding(
                    payer=payer,
                    relative=relative,
                    relation=Relation.CHILD,
                    way=Binding.Way.QUOTA if quota else Binding.Way.DIRECT,
                    status=Binding.Status.ACTIVE,
                    consent=Binding.Consent.PROMISE,
                    region=region,
                    relative_region=region,
                    priority=1,
                    quota_account=next(quotas) if quota else None,
                    requested_at=now,
                    started_at=now,
                )
                for payer, relative, quota in zip(payer_people, relative_people, by_quota, strict=True)
            ]
        )
        opening = [ledger.Line(account, PAYER_BALANCE) for account in personal[:-1]]
        opening.append(ledger.Line(personal[-1], HOT_PAYER_BALANCE))
        source = system_account(region, Account.Kind.CREDIT_SOURCE)
        ledger.post(
            kind=JournalTransaction.Kind.OPENING,
            lines=[ledger.Line(source, -sum(line.amount for line in opening)), *opening],
            description="压测期初余额",
        )
        topups = []
        for binding, account in zip(bindings, personal, strict=True):
            if binding.quota_account_id:
                topups += [ledger.Line(account, -QUOTA), ledger.Line(binding.quota_account, QUOTA)]
        if topups:
            ledger.post(
                kind=JournalTransaction.Kind.QUOTA_TOPUP, lines=topups, description="压测共济额度划拨"
            )
        institution = Institution(
            code="bench-pharmacy", name="压测药房", kind=Institution.Kind.PHARMACY, region=region
        )
        institution.set_token(BENCH_TOKEN)
        institution.save()

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "patients.txt").write_text("\n".join(relative_numbers[:-1]) + "\n")
    (out_dir / "hot.txt").write_text(hot_relative + "\n")
    return sum(by_quota)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--payers", type=int, default=1000)
    args = parser.parse_args(argv)
    django.setup()
    started = time.perf_counter()
    by_quota = seed(args.out_dir, args.payers)
    print(  # noqa: T201
        f"seeded {args.payers} payers with one relative each ({by_quota} by quota) and one hot payer "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
