"""The account page's middle comes from the cache until what it shows changes: never stale, never another's."""

import datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.credits import credit_monthly, current_month
from accounts.models import Enrolment
from conftest import fund, make_citizen_user, make_employee, set_policy

ACCOUNT = reverse("account")


@pytest.fixture
def owner_client(client, applicant):
    client.force_login(applicant.user)
    client.get(ACCOUNT)  # the part is now in the cache
    return client


def page(client, query=None):
    return client.get(ACCOUNT, query or {}).content.decode()


def test_a_reload_reads_only_what_says_whether_anything_changed(owner_client, django_assert_num_queries):
    # the user with the person, every account with its last entry; the header's count is in the cache
    with django_assert_num_queries(2):
        html = page(owner_client)
    assert "¥2,000.00" in html and "收支明细" in html


def test_money_that_moved_shows_at_the_next_load(owner_client, applicant):
    fund(services.personal_account_of(applicant), Decimal("12.34"))

    html = page(owner_client)

    assert "¥2,012.34" in html
    assert "+¥12.34" in html


def test_a_credit_shows_with_its_reason_at_the_next_load(owner_client):
    credit_monthly(month=current_month())

    html = page(owner_client)

    assert "¥2,160.00" in html
    assert "+¥160.00" in html


def test_a_frozen_account_shows_at_the_next_load(owner_client, applicant, reviewer):
    services.freeze_account(account=services.personal_account_of(applicant), actor=reviewer, reason="核查")

    assert "账户已冻结" in page(owner_client)


def test_a_stopped_enrolment_shows_at_the_next_load(owner_client, applicant):
    Enrolment.objects.filter(person=applicant).update(status=Enrolment.Status.STOPPED)

    assert "职工医保已停保" in page(owner_client)


def test_a_new_policy_version_shows_at_the_next_load(owner_client):
    set_policy(since=datetime.date(2025, 1, 1), document="甬医保发〔2025〕1号")
    assert "甬医保发〔2025〕1号" in page(owner_client)

    set_policy(since=datetime.date(2025, 6, 1), document="甬医保发〔2025〕9号", employee_credit_rate=Decimal("3.00"))

    assert "每月 ¥240.00 = 缴费基数 ¥8,000.00 × 3%（甬医保发〔2025〕9号" in page(owner_client)


def test_each_query_string_has_its_own_part(owner_client, applicant):
    account = services.personal_account_of(applicant)
    for _ in range(25):
        fund(account, Decimal("1.00"))

    first, second = page(owner_client), page(owner_client, {"page": 2})

    # 20 lines a page, newest first: twenty of the 25 on the first page, five and the opening balance after
    assert first.count("+¥1.00") == 20
    assert second.count("+¥1.00") == 5


def test_another_citizen_never_gets_the_owners_part(owner_client, applicant):
    other = make_employee(balance="2000.00", name="李娜")
    make_citizen_user(other)
    other_client = Client()
    other_client.force_login(other.user)
    fund(services.personal_account_of(other), Decimal("1.00"))

    assert "¥2,001.00" in page(other_client)
    owners = page(owner_client)
    assert "¥2,001.00" not in owners and "¥2,000.00" in owners




def test_the_headers_unread_count_follows_new_and_read_notices(owner_client, applicant):
    def unread():
        return owner_client.get(ACCOUNT).context["unread_notice_count"]

    before = unread()
    services.notify(person=applicant, title="测试通知", body="内容")
    assert unread() == before + 1

    services.mark_all_notices_read(person=applicant)
    assert unread() == 0
