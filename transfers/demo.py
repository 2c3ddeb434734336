"""A day's transfers on the demo desks: 8 applications between 东莞 and 宁波, in every state, some overdue.

The applicants are demo citizens without a login who moved job between the two regions and applied at
the new region's counter; every step goes through the services, taken by the region whose step it is.
"""

import datetime
from decimal import Decimal

from django.utils import timezone

from accounts.demo import demo_citizen, demo_id_number
from accounts.models import Enrolment, Region, User
from accounts.services import record_enrolment
from review.demo_files import demo_image

from . import services
from .models import TransferApplication

Status = TransferApplication.Status
NINGBO, DONGGUAN = "330200", "441900"
CLERK = {NINGBO: "reviewer_nb", DONGGUAN: "reviewer_dg"}

# (name, old region, new region, balance, state it is brought to, days overdue or None)
DESK = [
    ("黄永明", DONGGUAN, NINGBO, "1820.00", Status.SUBMITTED, None),
    ("杨雪梅", DONGGUAN, NINGBO, "2675.30", Status.SUBMITTED, None),
    ("刘德华", DONGGUAN, NINGBO, "940.00", Status.ACCEPTED, 2),
    ("赵敏", DONGGUAN, NINGBO, "3310.80", Status.ACCEPTED, None),
    ("徐建平", DONGGUAN, NINGBO, "1500.00", Status.TRANSFERRED_OUT, 1),
    ("马红霞", DONGGUAN, NINGBO, "2200.00", Status.COMPLETED, None),
    ("朱志刚", NINGBO, DONGGUAN, "1780.40", Status.SUBMITTED, None),
    ("邓丽君", NINGBO, DONGGUAN, "860.00", Status.ACCEPTED, None),
]


def seed():
    """Put the demo transfers on the desks (once); return how many were new."""
    made = 0
    for index, (name, old, new, balance, state, overdue) in enumerate(DESK, start=1):
        id_number = demo_id_number(old, datetime.date(1975 + index, index % 12 + 1, 3 + index), 700 + index)
        person = demo_citizen(name=name, id_number=id_number, region_code=old, balance=balance, stopped=True)
        if TransferApplication.objects.filter(applicant=person).exists():
            continue
        if not person.enrolments.filter(status=Enrolment.Status.ACTIVE).exists():
            record_enrolment(
                person=person, region=Region.objects.get(code=new),
                insurance_type=Enrolment.InsuranceType.EMPLOYEE, employment=Enrolment.Employment.IN_SERVICE,
                contribution_base=Decimal("7200.00"),
            )
        application = bring_to(person, old, new, state)
        if overdue:
            past = timezone.localdate() - datetime.timedelta(days=overdue)
            field = "transfer_out_due" if state == Status.ACCEPTED else "transfer_in_due"
            TransferApplication.objects.filter(pk=application.pk).update(**{field: past, "next_due": past})
        made += 1
    return made


def bring_to(person, old, new, state):
    new_clerk, old_clerk = User.objects.get(username=CLERK[new]), User.objects.get(username=CLERK[old])
    application = services.apply_at_counter(
        clerk=new_clerk, applicant_id_number=person.id_number, old_region=Region.objects.get(code=old),
        new_region=Region.objects.get(code=new), reason=TransferApplication.Reason.WORK,
        id_card=demo_image("身份证.png", colour="#f3ecdc"),
    )
    if state == Status.SUBMITTED:
        return application
    services.accept_transfer(application=application, actor=new_clerk)
    if state == Status.ACCEPTED:
        return application
    services.transfer_out(application=application, actor=old_clerk)
    if state == Status.TRANSFERRED_OUT:
        return application
    services.transfer_in(application=application, actor=new_clerk)
    return application
