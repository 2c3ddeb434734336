"""The issue's done-when, on the demo data: a pharmacy settles for 张小雨 from her father's account, and is
refused (and the refusal is recorded for 宁波's clerks) when it presents his card for her."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts import ledger
from accounts.models import User
from accounts.services import personal_account_of
from sharing.models import MisuseCase

pytestmark = pytest.mark.django_db

ZHANG_WEI, ZHANG_XIAOYU = "330203198501011238", "330203201506011020"
DEMO_TOKEN = "demo-pharmacy-token"


@pytest.fixture
def demo(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
    settings.DEBUG = False


def settle(client, card_number, key):
    return client.post(
        "/api/v1/settlements",
        {
            "patient_id_number": ZHANG_XIAOYU,
            "card_number": card_number,
            "amount": "50.00",
            "category": "pharmacy",
            "reference": f"DEMO-{key}",
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {DEMO_TOKEN}",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def balance_of_zhang_wei():
    return personal_account_of(User.objects.get(username=ZHANG_WEI).person).balance


def test_her_own_card_is_paid_from_her_fathers_account(client, demo):
    response = settle(client, f"C{ZHANG_XIAOYU}", "demo-1")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["paid_from"] == [{"holder": "张*", "relation": "father", "amount": "50.00"}]
    assert body["amount"] == "50.00" and body["cash_due"] == "0.00"
    assert balance_of_zhang_wei() == Decimal("1950.00")
    assert ledger.audit() == []
    out = StringIO()
    call_command("audit_ledger", stdout=out, stderr=StringIO())


def test_her_fathers_card_is_refused_and_shows_up_for_ningbo_staff_only(client, demo):
    response = settle(client, f"C{ZHANG_WEI}", "demo-2")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "card_mismatch"
    assert balance_of_zhang_wei() == Decimal("2000.00")
    case = MisuseCase.objects.get()
    assert case.card_holder.id_number == ZHANG_WEI and case.patient.id_number == ZHANG_XIAOYU

    changelist = reverse("admin:sharing_misusecase_changelist")
    client.force_login(User.objects.get(username="reviewer_nb"))
    assert list(client.get(changelist).context["cl"].result_list) == [case]
    assert client.get(reverse("admin:sharing_misusecase_change", args=[case.pk])).status_code == 200
    client.force_login(User.objects.get(username="reviewer_dg"))
    assert list(client.get(changelist).context["cl"].result_list) == []
    assert ledger.audit() == []
