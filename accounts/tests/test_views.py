import datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError
from django.urls import reverse
from django.utils import timezone

from accounts import ledger, services
from accounts.context_processors import portal
from accounts.credits import credit_monthly, current_month
from accounts.identity import mask_id_number
from accounts.models import Account, Enrolment, JournalTransaction
from conftest import fund, make_citizen_user, make_employee, make_resident, make_staff, set_policy

CITIZEN_PAGES = ["account", "profile", "notices"]


def personal_account(person):
    return services.personal_account_of(person)


@pytest.fixture
def owner_client(client, applicant):
    client.force_login(applicant.user)
    return client


# Access --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CITIZEN_PAGES)
def test_anonymous_is_sent_to_login_with_next(client, db, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("name", CITIZEN_PAGES)
def test_other_citizen_sees_no_trace_of_the_owner(client, applicant, outsider, name):
    client.force_login(outsider.user)
    response = client.get(reverse(name))
    assert response.status_code == 200
    page = response.content.decode()
    assert "张伟" not in page and "张*" not in page
    assert "¥2,000.00" not in page
    assert applicant.id_number not in page
    assert mask_id_number(applicant.id_number) not in page


@pytest.mark.parametrize("name", CITIZEN_PAGES)
def test_staff_without_person_get_a_page_for_citizens_only(client, db, name):
    client.force_login(make_staff("clerk", "330200"))
    response = client.get(reverse(name))
    assert response.status_code == 403
    assert "此页面供参保人使用" in response.content.decode()


@pytest.mark.parametrize("name", ["home", "login", "register"])
def test_public_pages_work_logged_out(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert '<html lang="zh-Hans"' in response.content.decode()


def test_home_leads_a_citizen_to_their_pages(owner_client):
    page = owner_client.get(reverse("home")).content.decode()
    assert reverse("account") in page
    assert reverse("notices") in page


def test_logout_is_post_only(owner_client, applicant):
    assert owner_client.get(reverse("logout")).status_code == 405
    response = owner_client.post(reverse("logout"))
    assert response.status_code == 302
    assert owner_client.get(reverse("account")).status_code == 302


def test_unknown_page_shows_chinese_404(owner_client):
    response = owner_client.get("/no-such-page/")
    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()


# Account -------------------------------------------------------------------------------------------


def test_account_shows_balance_status_and_region(owner_client):
    response = owner_client.get(reverse("account"))
    page = response.content.decode()
    assert response.context["account"].balance == Decimal("2000.00")
    assert "¥2,000.00" in page
    assert "正常" in page
    assert "宁波" in page


def months_back(count):
    """The first day of the month `count` months before this one (Asia/Shanghai)."""
    index = current_month().year * 12 + current_month().month - 1 - count
    return datetime.date(index // 12, index % 12 + 1, 1)


def shown_credits(response):
    return [(row.credit.month, row.credit.amount, row.change) for row in response.context["credits"].rows]


def test_account_shows_the_rule_that_credits_it_now(owner_client):
    set_policy(since=datetime.date(2025, 1, 1), document="甬医保发〔2025〕1号")

    response = owner_client.get(reverse("account"))

    rule = "每月 ¥160.00 = 缴费基数 ¥8,000.00 × 2%（甬医保发〔2025〕1号，2025年1月1日起执行）"
    assert response.context["credits"].rule == rule
    assert rule in response.content.decode()


def test_a_retirees_page_shows_the_fixed_amount_and_a_frozen_account_that_nothing_comes_in(client, reviewer):
    person = make_employee(retired=True, name="李秀英")
    make_citizen_user(person)
    client.force_login(person.user)
    assert client.get(reverse("account")).context["credits"].rule.startswith("每月 ¥110.00 = 退休人员定额（")

    services.freeze_account(account=personal_account(person), actor=reviewer, reason="核查")

    assert client.get(reverse("account")).context["credits"].rule == "账户当前为“冻结”，参保登记为“参保中”，暂不划入。"


def test_account_shows_the_latest_twelve_credits_with_their_computation(owner_client):
    for back in range(14, -1, -1):
        credit_monthly(month=months_back(back))

    response = owner_client.get(reverse("account"))

    shown = shown_credits(response)
    assert [month for month, _amount, _change in shown] == [months_back(back) for back in range(12)]
    assert {amount for _month, amount, _change in shown} == {Decimal("160.00")}
    page = response.content.decode()
    credit = response.context["credits"].rows[0].credit
    assert credit.computation in page and "缴费基数 ¥8,000.00 × 2%（" in credit.computation
    assert 'aria-current="page">最近12个月' in page


def test_the_year_switch_shows_one_calendar_year(owner_client):
    for month in range(1, 13):
        credit_monthly(month=datetime.date(2025, month, 1))
    credit_monthly(month=datetime.date(2026, 1, 1))

    response = owner_client.get(reverse("account"), {"credit_year": "2025"})

    assert [month.month for month, _amount, _change in shown_credits(response)] == list(range(12, 0, -1))
    assert response.context["credits"].years == [2026, 2025]
    page = response.content.decode()
    assert '?credit_year=2026#credits-title-section">2026年' in page
    assert 'aria-current="page">2025年' in page
    assert owner_client.get(reverse("account"), {"credit_year": "2019"}).context["credits"].rows == []


def test_the_month_whose_amount_changed_is_marked_with_the_reason(client, db):
    set_policy(since=datetime.date(2026, 1, 1), document="甬医保发〔2025〕1号")
    set_policy(since=datetime.date(2026, 7, 1), retiree_monthly_credit=Decimal("120.00"), document="甬医保发〔2026〕8号")
    person = make_employee(retired=True, name="李秀英")
    make_citizen_user(person)
    for month in range(5, 10):
        credit_monthly(month=datetime.date(2026, month, 1))
    client.force_login(person.user)

    response = client.get(reverse("account"), {"credit_year": "2026"})

    reason = "政策调整：退休人员定额由 ¥110.00 调整为 ¥120.00（甬医保发〔2026〕8号，2026年7月1日起执行）"
    assert shown_credits(response) == [
        (datetime.date(2026, 9, 1), Decimal("120.00"), ""),
        (datetime.date(2026, 8, 1), Decimal("120.00"), ""),
        (datetime.date(2026, 7, 1), Decimal("120.00"), reason),
        (datetime.date(2026, 6, 1), Decimal("110.00"), ""),
        (datetime.date(2026, 5, 1), Decimal("110.00"), ""),
    ]
    page = response.content.decode()
    assert "金额有变化" in page and reason in page


def test_a_new_base_or_retiring_is_the_reason_shown(owner_client, applicant):
    enrolment = applicant.enrolments.get()
    credit_monthly(month=datetime.date(2026, 1, 1))
    Enrolment.objects.filter(pk=enrolment.pk).update(contribution_base=Decimal("9000.00"))
    credit_monthly(month=datetime.date(2026, 2, 1))
    Enrolment.objects.filter(pk=enrolment.pk).update(employment="retired", contribution_base=None)
    credit_monthly(month=datetime.date(2026, 3, 1))

    response = owner_client.get(reverse("account"), {"credit_year": "2026"})

    assert [change for _month, _amount, change in shown_credits(response)] == [
        "改按退休人员定额划入",
        "缴费基数由 ¥8,000.00 调整为 ¥9,000.00",
        "",
    ]


def test_credits_of_another_citizen_are_never_shown(owner_client, outsider):
    credit_monthly(month=datetime.date(2026, 1, 1))

    response = owner_client.get(reverse("account"))

    assert [row.credit.person for row in response.context["credits"].rows] == [response.context["account"].enrolment.person]
    assert "¥140.00" not in response.content.decode()


def test_after_a_job_change_in_the_region_the_account_page_shows_the_same_money(client, db):
    person = make_employee(balance="1200.00", name="王芳", base="6000.00")
    make_citizen_user(person)
    account = personal_account(person)
    services.stop_enrolment(enrolment=person.enrolments.get(), ended_on=datetime.date(2026, 4, 30))
    services.record_enrolment(
        person=person, region=account.region, insurance_type="employee", employment="in_service",
        contribution_base=Decimal("7000.00"), started_on=datetime.date(2026, 5, 1),
    )
    client.force_login(person.user)

    response = client.get(reverse("account"))

    assert response.context["account"].pk == account.pk
    assert "¥1,200.00" in response.content.decode()
    assert [entry.amount for entry in response.context["page"].object_list] == [Decimal("1200.00")]


def test_statement_lists_entries_newest_first_with_sign_and_balance(owner_client, applicant):
    account = personal_account(applicant)
    spend(account, Decimal("12.00"))
    response = owner_client.get(reverse("account"))
    entries = list(response.context["page"].object_list)
    assert [entry.amount for entry in entries] == [Decimal("-12.00"), Decimal("2000.00")]
    assert [entry.balance_after for entry in entries] == [Decimal("1988.00"), Decimal("2000.00")]
    page = response.content.decode()
    assert "-¥12.00" in page and "+¥2,000.00" in page and "¥1,988.00" in page


def test_statement_is_paginated_twenty_a_page(owner_client, applicant):
    account = personal_account(applicant)
    for _ in range(24):
        fund(account, Decimal("1.00"))
    first = owner_client.get(reverse("account"))
    second = owner_client.get(reverse("account"), {"page": 2})
    assert len(first.context["page"].object_list) == 20
    assert len(second.context["page"].object_list) == 5
    assert "?page=2" in first.content.decode()


def test_statement_filters_by_kind(owner_client, applicant):
    spend(personal_account(applicant), Decimal("30.00"))
    response = owner_client.get(reverse("account"), {"kind": JournalTransaction.Kind.SETTLEMENT})
    entries = list(response.context["page"].object_list)
    assert [entry.amount for entry in entries] == [Decimal("-30.00")]


def test_month_filter_says_it_is_the_posting_month(owner_client):
    page = owner_client.get(reverse("account")).content.decode()
    assert '<label for="id_month">记账月份</label>' in page
    assert "按记账日期筛选" in page


def test_statement_keeps_table_roles_for_the_phone_layout(owner_client):
    # On a phone CSS makes rows blocks, which strips a table's semantics unless the roles are explicit.
    page = owner_client.get(reverse("account")).content.decode()
    assert '<table class="statement" role="table">' in page
    assert page.count('role="columnheader"') == 5
    assert '<tr role="row">' in page and '<td role="cell" data-label="金额"' in page


def test_statement_filters_by_local_month(owner_client, applicant):
    account = personal_account(applicant)
    spend(account, Decimal("5.00"), at=datetime.datetime(2026, 3, 31, 23, 30))
    # 00:30 on 1 April in 宁波 is still 31 March in UTC: the filter must use the citizen's month.
    spend(account, Decimal("7.00"), at=datetime.datetime(2026, 4, 1, 0, 30))
    response = owner_client.get(reverse("account"), {"month": "2026-04"})
    assert [entry.amount for entry in response.context["page"].object_list] == [Decimal("-7.00")]
    response = owner_client.get(reverse("account"), {"month": "2026-03"})
    assert [entry.amount for entry in response.context["page"].object_list] == [Decimal("-5.00")]


def test_statement_keeps_filters_across_pages(owner_client, applicant):
    account = personal_account(applicant)
    for _ in range(21):
        fund(account, Decimal("1.00"))
    page = owner_client.get(reverse("account"), {"kind": "opening"}).content.decode()
    assert "?kind=opening&amp;page=2" in page


def test_malformed_month_filter_shows_an_error_and_all_entries(owner_client):
    response = owner_client.get(reverse("account"), {"month": "2026-13"})
    assert response.status_code == 200
    assert "请按“年-月”填写" in response.content.decode()
    assert len(response.context["page"].object_list) == 1


@pytest.mark.parametrize("months", [3, 40])
def test_account_page_uses_a_constant_number_of_queries(client, db, django_assert_num_queries, months):
    set_policy(since=datetime.date(2016, 1, 1), document="文件甲")
    set_policy(since=datetime.date(2021, 1, 1), retiree_monthly_credit=Decimal("120.00"), document="文件乙")
    person = make_employee(name="李秀英", retired=True)
    make_citizen_user(person)
    account = personal_account(person)
    for back in range(months):
        fund(account, Decimal("1.00"))
        credit_monthly(month=months_back(back))
    client.force_login(person.user)
    # the user with the person, the accounts' facts (page_parts), every account (with where each one's money
    # went), the contribution months, the yearly statements' first year, the credits' years, the credits shown,
    # the version in force, entry count, header, entry page (with each credit and its version); the session is
    # in the cache. Reloaded, only the first two and the header (accounts/tests/test_page_parts.py).
    with django_assert_num_queries(11):
        response = client.get(reverse("account"))
    assert response.status_code == 200


def test_resident_without_personal_account_sees_an_explanation(client, db):
    person = make_resident(name="张小雨", birth="20150601")
    make_citizen_user(person)
    client.force_login(person.user)
    response = client.get(reverse("account"))
    assert response.status_code == 200
    assert "居民医保不设个人账户" in response.content.decode()


# Profile -------------------------------------------------------------------------------------------


def test_profile_shows_full_id_masked_phone_card_and_enrolments(owner_client, applicant):
    applicant.phone = "13912345678"
    applicant.save()
    page = owner_client.get(reverse("profile")).content.decode()
    assert applicant.id_number in page
    assert "*******5678" in page and "13912345678" not in page
    assert applicant.card_number in page
    assert "职工医保" in page and "参保中" in page


def test_pages_other_than_profile_show_the_id_masked_only(owner_client, applicant):
    for name in ["home", "account", "notices"]:
        assert applicant.id_number not in owner_client.get(reverse(name)).content.decode()


def test_header_shows_masked_name_and_unread_count(owner_client, applicant):
    services.notify(person=applicant, title="一", body="内容")
    services.notify(person=applicant, title="二", body="内容")
    response = owner_client.get(reverse("home"))
    assert response.context["citizen_masked_name"] == "张*"
    assert response.context["unread_notice_count"] == 2


def test_header_costs_one_query_for_a_citizen(rf, applicant, django_assert_num_queries):
    services.notify(person=applicant, title="一", body="内容")
    request = rf.get("/")
    request.user = applicant.user
    with django_assert_num_queries(1):
        context = portal(request)
    assert context["unread_notice_count"] == 1
    assert context["citizen_masked_name"] == "张*"


def test_header_costs_no_query_for_anonymous_visitors(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        client.get(reverse("home"))


# Health check --------------------------------------------------------------------------------------


def test_healthz_answers_ok_when_the_database_answers(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_answers_503_when_the_database_does_not(client, db, monkeypatch):
    class BrokenConnection:
        def cursor(self):
            raise DatabaseError("connection refused")

    monkeypatch.setattr("accounts.views.connection", BrokenConnection())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error"}


# Large-font mode -----------------------------------------------------------------------------------


def test_text_size_cookie_round_trip(client, db):
    response = client.post(reverse("text_size"), {"size": "large", "next": "/accounts/login/"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert response.cookies["text_size"].value == "large"
    assert response.cookies["text_size"]["max-age"] >= 30 * 24 * 3600
    assert '<html lang="zh-Hans" class="large-text">' in client.get(reverse("home")).content.decode()

    client.post(reverse("text_size"), {"size": "normal", "next": "/"})
    assert 'class="large-text"' not in client.get(reverse("home")).content.decode()


def test_text_size_toggles_without_an_explicit_size(client, db):
    client.post(reverse("text_size"))
    assert client.cookies["text_size"].value == "large"
    client.post(reverse("text_size"))
    assert client.cookies["text_size"].value == ""


def test_text_size_refuses_to_redirect_off_site(client, db):
    response = client.post(reverse("text_size"), {"size": "large", "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


def test_text_size_is_post_only(client, db):
    assert client.get(reverse("text_size")).status_code == 405


# Helpers -------------------------------------------------------------------------------------------


def spend(account, amount, *, at=None):
    """Pay `amount` from a personal account the way a settlement does, at `at` (Asia/Shanghai)."""
    payable = services.system_account(account.region, Account.Kind.INSTITUTIONS_PAYABLE)
    return ledger.post(
        kind=JournalTransaction.Kind.SETTLEMENT,
        lines=[ledger.Line(account, -amount), ledger.Line(payable, amount)],
        description="药店购药",
        booked_at=timezone.make_aware(at) if at else None,
    )
