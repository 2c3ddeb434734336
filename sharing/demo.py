"""Demo records of DESIGN.md that belong to family sharing; idempotent."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from accounts.models import CITIZENS_TIME_ZONE, Notice, Person, Region
from accounts.services import notices_changed

from . import bindings, settlement
from .models import Binding, Institution, Relation, Settlement

DEMO_PHARMACY = {"code": "demo-pharmacy", "name": "宁波演示大药房", "kind": Institution.Kind.PHARMACY}
DEMO_PHARMACY_TOKEN = "demo-pharmacy-token"


def seed():
    return seed_institution() + seed_binding()


def seed_institution():
    if Institution.objects.filter(code=DEMO_PHARMACY["code"]).exists():
        return 0
    institution = Institution(region=Region.objects.get(code="330200"), **DEMO_PHARMACY)
    institution.set_token(DEMO_PHARMACY_TOKEN)
    institution.save()
    return 1


DEMO_BINDING = {
    "payer": "330203198501011238",  # 张伟
    "relative_name": "张小雨",
    "relative_id_number": "330203201506011020",
}


def seed_binding():
    """张伟 shares with his daughter 张小雨, direct, no quota (made at once on his promise: she is under 16)."""
    payer = Person.objects.filter(id_number=DEMO_BINDING["payer"]).select_related("user").first()
    if payer is None:
        return 0
    open_bindings = Binding.objects.open().filter(payer=payer)
    if open_bindings.filter(relative__id_number=DEMO_BINDING["relative_id_number"]).exists():
        return 0
    # Through the service, as 张伟 would on the site: the same rules, notices and order of payers.
    binding = bindings.bind_relative(
        payer=payer,
        relative_name=DEMO_BINDING["relative_name"],
        relative_id_number=DEMO_BINDING["relative_id_number"],
        relation=Relation.CHILD,
        way=Binding.Way.DIRECT,
        actor=getattr(payer, "user", None),
        promise_accepted=True,
    )
    # The demo binding stands for one made long ago: its notices are in both inboxes, already read, so the
    # demo's unread notices are those its users cause.
    Notice.objects.filter(link=bindings.detail_url(binding), read_at__isnull=True).update(read_at=timezone.now())
    notices_changed(binding.payer_id, binding.relative_id)
    return 1


# The demo year's bills at the demo pharmacy, each paid in full from the patient's own account: (month of
# the year, 1 being 12 months before the current one; day; patient; amount). `seed_demo` books the opening
# balances so that every balance still comes out at DESIGN.md's figure.
BILLS = [
    (2, 6, "330203195803150045", "168.40"),  # 李秀英
    (3, 12, "330203198501011238", "86.50"),  # 张伟
    (4, 8, "330203198702140028", "156.80"),  # 王芳
    (4, 15, "330203195803150045", "205.30"),
    (5, 19, "441900199008083318", "236.00"),  # 陈明, on a trip to 宁波
    (6, 9, "330203195803150045", "126.40"),
    (8, 20, "330203198501011238", "132.00"),
    (8, 22, "330203195803150045", "188.00"),
    (9, 3, "441900199008083318", "48.50"),
    (10, 11, "330203195803150045", "147.70"),
    (10, 16, "330203198702140028", "203.50"),
    (11, 25, "330203195803150045", "164.20"),
]


@dataclass(frozen=True)
class DemoBill:
    """A pharmacy bill of the demo year, settled through the settlement service as the pharmacy would."""

    at: datetime.datetime
    id_number: str
    amount: Decimal

    def book(self):
        reference = f"演示小票-{self.at:%Y%m%d}-{self.id_number[-4:]}"
        settlement.settle(
            institution=Institution.objects.get(code=DEMO_PHARMACY["code"]),
            idempotency_key=f"demo-{reference}",
            patient_id_number=self.id_number,
            card_number=f"C{self.id_number}",
            amount=self.amount,
            category=Settlement.Category.PHARMACY,
            reference=reference,
            booked_at=self.at,
        )


def spending(months):
    """Return the demo year's bills in `months` (the 12 months before the current one, oldest first)."""
    return [
        DemoBill(
            at=datetime.datetime(
                months[number - 1].year, months[number - 1].month, day, 10, 30, tzinfo=CITIZENS_TIME_ZONE
            ),
            id_number=id_number,
            amount=Decimal(amount),
        )
        for number, day, id_number, amount in BILLS
    ]
