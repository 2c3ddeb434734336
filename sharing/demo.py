"""Demo records of DESIGN.md that belong to family sharing; idempotent."""

from django.utils import timezone

from accounts.models import Notice, Person, Region

from . import bindings
from .models import Binding, Institution, Relation

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
    return 1
