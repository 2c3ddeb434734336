"""Fixtures and helpers of the binding tests: a payer with money, relatives of every kind, clerks, bindings.

Bindings here are made through sharing.bindings, as citizens and clerks make them (the settlement tests use
conftest.make_binding instead). A test module takes them with `from .family import *`.
"""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.services import CITIZENS_TIME_ZONE, personal_account_of
from conftest import make_citizen_user, make_employee, make_resident, make_staff
from sharing import bindings
from sharing.models import Binding, Institution, Settlement, SettlementPayment

__all__ = [
    "NOW", "CLERK_PERMISSIONS", "at", "birth_years_ago", "bind", "refreshed", "balance_of", "grant", "make_clerk",
    "payer", "child", "spouse", "mother", "far_relative", "direct_binding", "quota_binding", "funded_quota",
    "clerk", "dg_clerk", "materials_in_tmp", "record_payment",
]

# A Tuesday morning in Beijing; tests that depend on the clock or on ages pass it explicitly.
NOW = datetime.datetime(2026, 11, 24, 10, 0, tzinfo=CITIZENS_TIME_ZONE)
CLERK_PERMISSIONS = ("view_binding", "bind_at_counter", "end_binding", "view_quotatopup", "view_premiumpayment")


def at(hour, minute=0, *, day=NOW.date()):
    """Return that moment of `day` in Beijing time."""
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=CITIZENS_TIME_ZONE)


def birth_years_ago(years, *, extra_days=0):
    """Return a birth date (YYYYMMDD) making a person exactly `years` old on NOW's date, born `extra_days` later."""
    day = NOW.date().replace(year=NOW.year - years) + datetime.timedelta(days=extra_days)
    return f"{day:%Y%m%d}"


def bind(payer, relative, *, relation="child", way="direct", now=NOW, name=None, **overrides):
    """Bind `relative` to `payer` through the online service, as the payer would."""
    fields = {
        "payer": payer,
        "relative_name": name if name is not None else relative.name,
        "relative_id_number": relative.id_number,
        "relation": relation,
        "way": way,
        "actor": getattr(payer, "user", None),
        "promise_accepted": True,
        "now": now,
    }
    fields.update(overrides)
    return bindings.bind_relative(**fields)


def refreshed(binding):
    return Binding.objects.select_related("quota_account").get(pk=binding.pk)


def balance_of(person):
    return personal_account_of(person).balance


def grant(user, *codenames):
    """Give `user` sharing permissions and forget the cached ones."""
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="sharing", codename__in=codenames)
    )
    for cache in ("_perm_cache", "_user_perm_cache"):
        user.__dict__.pop(cache, None)
    return user


def record_payment(binding, amount, *, institution_name="宁波测试大药房", category="pharmacy", when=None,
                   status="settled"):
    """Record that `binding` paid `amount` of a settlement, as the settlement API would (rows only, no posting)."""
    institution = Institution.objects.filter(name=institution_name).first()
    if institution is None:
        institution = Institution(
            code=f"test-{Institution.objects.count() + 1}", name=institution_name, kind=Institution.Kind.PHARMACY,
            region=binding.relative_region,
        )
        institution.set_token()
        institution.save()
    amount = Decimal(amount)
    settlement = Settlement.objects.create(
        institution=institution, patient=binding.relative, region=binding.relative_region,
        idempotency_key=f"k-{Settlement.objects.count() + 1}", request_hash="0" * 64, amount=amount, paid=amount,
        cash_due=Decimal("0.00"), category=category, reference="RX", status=status,
        created_at=when or timezone.now(),
    )
    account = binding.quota_account or personal_account_of(binding.payer)
    return SettlementPayment.objects.create(
        settlement=settlement, position=1, account=account, holder=binding.payer, binding=binding,
        relation="father", amount=amount,
    )


def make_clerk(username, *codes):
    return grant(make_staff(username, *codes), *CLERK_PERMISSIONS)


@pytest.fixture
def payer(applicant):
    """张伟: a 宁波 in-service employee with ¥2,000.00 and a login."""
    return applicant


@pytest.fixture
def child(relative):
    """张小雨: born 2015, resident insurance in 宁波, no login."""
    return relative


@pytest.fixture
def spouse(db):
    """王芳: 39, an employee in 宁波 with ¥1,200.00 and a login, so she confirms herself."""
    person = make_employee(balance="1200.00", name="王芳", birth="19870214")
    make_citizen_user(person)
    return person


@pytest.fixture
def mother(db):
    """李秀英: retired in 宁波 with ¥800.00, no login."""
    return make_employee(balance="800.00", name="李秀英", birth="19580315", retired=True)


@pytest.fixture
def far_relative(db):
    """A brother insured as a resident in 东莞 (广东), another province than 宁波 (浙江)."""
    return make_resident(region_code="441900", name="张强", birth="19880505")


@pytest.fixture
def direct_binding(payer, child):
    return bind(payer, child)


@pytest.fixture
def quota_binding(payer, child):
    return bind(payer, child, way="quota")


@pytest.fixture
def funded_quota(quota_binding, payer):
    """A quota binding holding ¥500.00 of 张伟's money."""
    bindings.top_up_quota(binding=quota_binding, amount=Decimal("500.00"), actor=payer.user, now=NOW)
    return refreshed(quota_binding)


@pytest.fixture
def clerk(reviewer):
    """A 宁波 clerk with the sharing desk's permissions."""
    return grant(reviewer, *CLERK_PERMISSIONS)


@pytest.fixture
def dg_clerk(other_region_clerk):
    """A 东莞 clerk with the same permissions."""
    return grant(other_region_clerk, *CLERK_PERMISSIONS)


@pytest.fixture(autouse=True)
def materials_in_tmp(storage):
    """Counter bindings store a material: keep it out of the project (the root `storage` fixture)."""
