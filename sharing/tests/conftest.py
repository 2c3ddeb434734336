"""Factories for sharing's tests: bindings made directly (as if already in force), institutions, API calls.

`make_binding` writes the row a finished binding would have, without the binding services, so that tests of
settlements do not depend on how a binding comes about.
"""

import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import ledger
from accounts.models import Account, Enrolment, JournalTransaction
from accounts.services import personal_account_of
from conftest import make_id_number
from sharing.models import Binding, Institution, Relation

_codes = itertools.count(1)


def active_enrolment(person):
    return Enrolment.objects.select_related("region").get(person=person, status=Enrolment.Status.ACTIVE)


def make_binding(
    payer,
    relative,
    *,
    relation=Relation.CHILD,
    way=Binding.Way.DIRECT,
    priority=0,
    quota=None,
    started_at=None,
):
    """Return an active binding; with way=QUOTA its quota account is filled with `quota` from the payer."""
    binding = Binding(
        payer=payer,
        relative=relative,
        relation=relation,
        way=way,
        status=Binding.Status.ACTIVE,
        consent=Binding.Consent.PROMISE,
        region=active_enrolment(payer).region,
        relative_region=active_enrolment(relative).region,
        priority=priority,
        started_at=started_at or timezone.now(),
    )
    if way == Binding.Way.QUOTA:
        binding.quota_account = Account.objects.create(kind=Account.Kind.QUOTA, region=binding.region)
    binding.save()
    if quota:
        top_up(binding, Decimal(quota))
    return binding


def top_up(binding, amount):
    """Move `amount` from the payer's personal account into the binding's quota."""
    return ledger.post(
        kind=JournalTransaction.Kind.QUOTA_TOPUP,
        lines=[
            ledger.Line(personal_account_of(binding.payer), -amount),
            ledger.Line(binding.quota_account, amount),
        ],
        description="共济额度划拨",
    )


def id_number_of(*, male, birth="19850101"):
    """Return a fresh valid ID number of a man or a woman (the 17th digit is odd for men)."""
    while True:
        number = make_id_number(birth)
        if (int(number[16]) % 2 == 1) == male:
            return number


def make_institution(
    *, region_code="330200", token=None, is_active=True, name="测试大药房", kind=Institution.Kind.PHARMACY
):
    """Return an institution whose clear token is on `.token` (only the hash is stored)."""
    number = next(_codes)
    institution = Institution(
        code=f"inst-{number}",
        name=f"{name}{number}",
        kind=kind,
        is_active=is_active,
        region_id=_region_id(region_code),
    )
    institution.token = institution.set_token(token)
    institution.save()
    return institution


def _region_id(code):
    from accounts.models import Region

    return Region.objects.only("pk").get(code=code).pk


def balance(person_or_account):
    """The current balance of a person's personal account, or of an account."""
    account = (
        person_or_account
        if isinstance(person_or_account, Account)
        else personal_account_of(person_or_account)
    )
    account.refresh_from_db(fields=["balance"])
    return account.balance


def settlement_body(patient, **overrides):
    body = {
        "patient_id_number": patient.id_number,
        "card_number": patient.card_number,
        "amount": "50.00",
        "category": "pharmacy",
        "reference": "RX-0001",
    }
    body.update(overrides)
    return body


def post_settlement(client, institution, body, *, key="key-1", token=None, **headers):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token or institution.token}"}
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    extra.update(headers)
    return client.post("/api/v1/settlements", body, content_type="application/json", **extra)


def api_get(client, institution, path):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {institution.token}")


def api_post(client, institution, path, body=None):
    return client.post(
        path, body or {}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {institution.token}"
    )


@pytest.fixture
def pharmacy(db):
    """A 宁波 pharmacy with a token on `.token`."""
    return make_institution(name="宁波测试大药房")


@pytest.fixture
def other_pharmacy(db):
    return make_institution(name="另一家药房")
