"""The sharing page's middle comes from the cache until what it shows changes (accounts.page_parts)."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.services import personal_account_of
from sharing import bindings, sql
from sharing import settlement as services
from sharing.models import Binding

from .conftest import make_binding, make_institution, top_up
from .family import *  # noqa: F403

INDEX = reverse("sharing:index")


@pytest.fixture
def as_payer(client, payer):
    client.force_login(payer.user)
    return client


def page(client):
    response = client.get(INDEX)
    assert response.status_code == 200
    return response.content.decode()


def test_a_confirmed_request_shows_as_in_force_at_the_next_load(as_payer, payer, spouse):
    binding = bind(payer, spouse, relation="spouse", now=timezone.now())
    assert str(Binding.Status.PENDING.label) in page(as_payer)

    bindings.confirm_binding(binding=binding, actor=spouse.user)

    html = page(as_payer)
    assert str(Binding.Status.PENDING.label) not in html
    assert str(Binding.Status.ACTIVE.label) in html


def test_a_bill_paid_for_the_relative_shows_at_the_next_load(as_payer, payer, child):
    make_binding(payer, child)
    assert "¥12.30" not in page(as_payer)

    services.settle(
        institution=make_institution(), idempotency_key="page-part-1", patient_id_number=child.id_number,
        card_number=child.card_number, amount=Decimal("12.30"), category="pharmacy", reference="R-1",
    )

    assert "¥12.30" in page(as_payer)


def test_a_quota_top_up_shows_at_the_next_load(as_payer, payer, child):
    binding = make_binding(payer, child, way=Binding.Way.QUOTA, quota="100.00")
    assert "¥100.00" in page(as_payer)

    top_up(binding, Decimal("23.45"))

    assert "¥123.45" in page(as_payer)


def test_the_relatives_own_page_never_shows_the_payers_part(as_payer, payer, spouse, client):
    make_binding(payer, spouse, relation="spouse")
    payers = page(as_payer)
    assert "王芳" in payers

    client.force_login(spouse.user)
    relatives = page(client)

    assert relatives != payers
    assert "为我共济的人" in relatives and "张伟" in relatives


def test_the_facts_name_either_sides_bindings_with_the_last_entry_of_the_money_each_pays_from(payer, child, spouse):
    direct = make_binding(payer, child)
    quota = make_binding(spouse, payer, relation="spouse", way=Binding.Way.QUOTA, quota="50.00")
    make_binding(spouse, child)  # neither side is the payer: not among the payer's facts

    facts = sql.index_facts(payer.pk)

    assert [row[0] for row in facts] == [direct.pk, quota.pk]
    _, status, way, priority, _, quota_entry, account_entry = facts[0]
    assert (status, way, priority, quota_entry) == (direct.status, direct.way, direct.priority, None)
    assert account_entry == personal_account_of(payer).entries.latest("id").pk
    *_, quota_entry, account_entry = facts[1]
    assert quota_entry == quota.quota_account.entries.latest("id").pk
    assert account_entry == personal_account_of(spouse).entries.latest("id").pk


def test_a_bill_paid_for_the_relative_counts_in_the_payers_header_at_once(as_payer, payer, child):
    make_binding(payer, child)
    before = as_payer.get(INDEX).context["unread_notice_count"]  # the count is now in the cache

    services.settle(
        institution=make_institution(), idempotency_key="page-part-2", patient_id_number=child.id_number,
        card_number=child.card_number, amount=Decimal("5.00"), category="pharmacy", reference="R-2",
    )

    assert as_payer.get(INDEX).context["unread_notice_count"] == before + 1
