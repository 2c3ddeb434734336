"""The demo binding of DESIGN.md: 张伟 shares directly with his daughter 张小雨, made once."""

import io
from decimal import Decimal

from django.core.management import call_command

from accounts import ledger
from accounts.models import Account, Person
from sharing.models import Binding


def seed():
    call_command("seed_demo", force=True, stdout=io.StringIO())


def balances():
    return dict(Account.objects.filter(kind="personal").values_list("enrolment__person__name", "balance"))


def test_seed_demo_binds_zhang_wei_and_his_daughter_once(db, storage):
    seed()
    binding = Binding.objects.get()
    assert binding.payer == Person.objects.get(id_number="330203198501011238")
    assert binding.relative == Person.objects.get(id_number="330203201506011020")
    assert (binding.relation, binding.way, binding.status, binding.consent) == ("child", "direct", "active", "promise")
    assert binding.quota_account is None
    before = balances()
    assert before["张伟"] == Decimal("2000.00")

    seed()
    assert Binding.objects.count() == 1
    assert balances() == before
    assert ledger.audit() == []
