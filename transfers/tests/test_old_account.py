"""After a transfer the old account stays in sight on /account/: its statement and where its money went."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Account, Enrolment

from .conftest import DONGGUAN

pytestmark = pytest.mark.django_db


def old_account(application):
    return Account.objects.get(pk=application.old_account_id)


def test_the_old_account_is_listed_with_where_its_money_went(client, completed):
    client.force_login(completed.applicant.user)
    html = client.get(reverse("account")).text
    assert "我的全部个人账户" in html and "东莞市" in html and "已转出" in html
    assert f"转出至宁波市 {completed.number}" in html
    assert reverse("transfers:list") in html
    assert f"?account={completed.old_account_id}" in html


def test_the_old_accounts_statement_shows_the_transfer_out(client, completed):
    client.force_login(completed.applicant.user)
    response = client.get(reverse("account"), {"account": completed.old_account_id})
    assert response.status_code == 200
    assert response.context["account"] == old_account(completed)
    assert "-¥1,500.00" in response.text and "¥0.00" in response.text
    assert "东莞市账户余额" in response.text


def test_contribution_years_count_once_after_a_transfer(client, completed):
    old_enrolment = Enrolment.objects.get(pk=completed.old_enrolment_id)
    assert old_enrolment.contribution_months == 120 and old_enrolment.region.code == DONGGUAN
    client.force_login(completed.applicant.user)
    html = client.get(reverse("account")).text
    assert "<dd>10年</dd>" in html and "20年" not in html


def test_another_citizens_account_number_gets_404(client, completed, applicant):
    client.force_login(applicant.user)
    assert client.get(reverse("account"), {"account": completed.old_account_id}).status_code == 404


def test_a_stopped_enrolment_reads_as_stopped(client, moving):
    client.force_login(moving.user)
    response = client.get(reverse("account"), {"account": Account.objects.get(
        enrolment__person=moving, enrolment__region__code=DONGGUAN).pk})
    assert response.status_code == 200 and "停保" in response.text
    assert response.context["account"].balance == Decimal("1500.00")


def test_the_page_takes_the_same_queries_with_one_account_or_two(client, completed, applicant):
    counts = []
    for person in (applicant, completed.applicant):
        client.force_login(person.user)
        client.get(reverse("account"))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("account")).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
