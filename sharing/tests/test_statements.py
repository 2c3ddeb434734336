"""The yearly statement names, for each payment of a payer's account, the relative it was for."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import yearly
from accounts.services import personal_account_of
from sharing import bindings

from .family import *  # noqa: F403

def test_the_yearly_statement_names_the_relative_money_was_for(payer, direct_binding, quota_for_spouse):
    bindings.pay_premium(binding=direct_binding, kind="resident", actor=payer.user, now=NOW)
    bindings.top_up_quota(binding=quota_for_spouse, amount=Decimal("50.00"), actor=payer.user, now=NOW)
    statement = yearly.yearly_statement(personal_account_of(payer), NOW.year)
    names = dict(statement.for_whom)
    assert names["张小雨"] == Decimal("400.00") and names["王芳"] == Decimal("50.00")


@pytest.fixture
def quota_for_spouse(payer, spouse):
    binding = bind(payer, spouse, relation="spouse", way="quota")
    bindings.confirm_binding(binding=binding, actor=spouse.user, now=NOW)
    return binding


def test_the_payers_statement_line_names_the_relative(client, payer, direct_binding):
    bindings.pay_premium(binding=direct_binding, kind="resident", actor=payer.user, now=NOW)
    client.force_login(payer.user)
    html = client.get(reverse("account")).text
    assert "（为张小雨支付）" in html


def test_naming_relatives_costs_the_same_queries_however_many_lines(
    client, payer, direct_binding, quota_for_spouse
):
    bindings.pay_premium(binding=direct_binding, kind="resident", actor=payer.user, now=NOW)
    client.force_login(payer.user)
    counts = []
    for _round in range(2):
        bindings.top_up_quota(binding=quota_for_spouse, amount=Decimal("5.00"), actor=payer.user, now=NOW)
        client.get(reverse("account"))
        with CaptureQueriesContext(connection) as queries:
            assert "（为王芳支付）" in client.get(reverse("account")).text
        counts.append(len(queries))
    assert counts[0] == counts[1]
