"""Demo citizens for the review desks: people with an account and a balance, and no login.

The feature apps' `seed_demo` hooks use them to put a day's work on the desks beside DESIGN.md's demo
people, who stay exactly as they are. Every function here finds what it made before, so a second run of
`seed_demo` changes nothing.
"""

import datetime
from decimal import Decimal

from . import ledger
from .identity import check_character
from .models import Account, Enrolment, JournalTransaction, Person, Region
from .services import personal_account_of, record_enrolment, stop_enrolment, system_account


def demo_id_number(region_code, birth_date, sequence):
    """Return a valid ID number of `region_code` (the first district code of it) born on `birth_date`."""
    area = region_code[:4] + ("03" if region_code == "330200" else "00")
    first17 = f"{area}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)


def demo_citizen(*, name, id_number, region_code, balance, stopped=False, months=96):
    """Return the demo employee `id_number` (made once): enrolled in `region_code`, `balance` in the account.

    With `stopped`, the employee enrolment has stopped, as before a withdrawal or a transfer.
    """
    person, created = Person.objects.get_or_create(
        id_number=id_number,
        defaults={"name": name, "phone": f"139{id_number[-9:-1]}", "card_number": f"C{id_number}"},
    )
    if not created:
        return person
    region = Region.objects.get(code=region_code)
    record_enrolment(
        person=person, region=region, insurance_type=Enrolment.InsuranceType.EMPLOYEE,
        employment=Enrolment.Employment.IN_SERVICE, contribution_base=Decimal("6500.00"),
        contribution_months=months, started_on=datetime.date(2016, 3, 1),
    )
    account = personal_account_of(person)
    ledger.post(
        kind=JournalTransaction.Kind.OPENING,
        lines=[
            ledger.Line(system_account(region, Account.Kind.CREDIT_SOURCE), -Decimal(balance)),
            ledger.Line(account, Decimal(balance)),
        ],
        description="期初余额（演示数据）",
        idempotency_key=f"demo-desk-opening:{id_number}",
    )
    if stopped:
        stop_enrolment(enrolment=person.enrolments.get(status=Enrolment.Status.ACTIVE))
    return person
