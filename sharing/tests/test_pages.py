"""The citizen's sharing pages, as payer, as relative, as another citizen, as staff and anonymous."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import PolicyVersion
from conftest import make_citizen_user, make_employee, make_resident, set_policy
from sharing import bindings
from sharing.models import Binding, PremiumPayment, QuotaTopUp

from .family import *  # noqa: F403

Status = Binding.Status


def url(name, binding, *args):
    return reverse(f"sharing:{name}", args=[binding.pk, *args])


def binding_urls(binding):
    return [
        ("get", url("detail", binding)),
        ("get", url("statement", binding)),
        ("get", url("confirm", binding)),
        ("post", url("confirm", binding)),
        ("get", url("cancel", binding)),
        ("post", url("cancel", binding)),
        ("get", url("end", binding)),
        ("post", url("end", binding)),
        ("get", url("top_up", binding)),
        ("post", url("top_up", binding)),
        ("get", url("premium", binding, "resident")),
        ("post", url("premium", binding, "resident")),
        ("post", url("move", binding)),
    ]


def page_text(response):
    assert response.status_code == 200, response.status_code
    return response.content.decode()


@pytest.fixture
def as_payer(client, payer):
    client.force_login(payer.user)
    return client


@pytest.fixture
def child_login(child):
    make_citizen_user(child)
    return child


@pytest.fixture
def as_child(client, child_login):
    client.force_login(child_login.user)
    return client


# Who may see what ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sharing:index", "sharing:received", "sharing:bind"])
def test_anonymous_visitors_are_sent_to_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_anonymous_visitors_cannot_open_a_binding(client, direct_binding):
    for method, address in binding_urls(direct_binding):
        response = getattr(client, method)(address)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), address


def test_staff_logins_are_told_the_pages_are_for_citizens(client, reviewer):
    client.force_login(reviewer)
    assert client.get(reverse("sharing:index")).status_code == 403


def test_another_citizen_gets_404_on_every_page_of_the_binding(client, outsider, funded_quota):
    client.force_login(outsider.user)
    for method, address in binding_urls(funded_quota):
        assert getattr(client, method)(address).status_code == 404, address
    row = refreshed(funded_quota)
    assert row.status == Status.ACTIVE and row.quota_account.balance == Decimal("500.00")
    assert "张*" not in page_text(client.get(reverse("sharing:index")))


def test_the_payer_cannot_use_the_relatives_steps(as_payer, direct_binding):
    assert as_payer.get(url("confirm", direct_binding)).status_code == 404
    assert as_payer.post(url("move", direct_binding), {"direction": "up"}).status_code == 404


def test_the_relative_cannot_use_the_payers_steps(as_child, funded_quota):
    for name in ("top_up", "cancel"):
        assert as_child.get(url(name, funded_quota)).status_code == 404
    assert as_child.post(url("top_up", funded_quota), {"amount": "10", "confirmed": "1"}).status_code == 404
    assert as_child.post(url("premium", funded_quota, "resident")).status_code == 404
    assert not PremiumPayment.objects.exists() and QuotaTopUp.objects.count() == 1


# Lists --------------------------------------------------------------------------------------------


def test_the_payer_sees_each_relative_with_status_way_quota_and_this_months_payments(as_payer, funded_quota):
    record_payment(funded_quota, "35.50", when=timezone.now())
    record_payment(funded_quota, "10.00", when=timezone.now() - datetime.timedelta(days=62))
    html = page_text(as_payer.get(reverse("sharing:index")))
    # The payer named her: not a third party to him (DOMAIN.md), so her full name, never her ID number.
    assert "张小雨" in html
    assert "子女" in html and "已生效" in html and "共济额度" in html
    assert "¥500.00" in html  # held
    assert "¥45.50" in html  # used, all time
    assert "¥35.50" in html  # this month


def test_the_relative_sees_who_shares_with_them(as_child, direct_binding):
    record_payment(direct_binding, "12.00")
    html = page_text(as_child.get(reverse("sharing:received")))
    # Those who share with her are not third parties to her: their full names.
    assert "张伟" in html
    assert "父母" in html and "¥12.00" in html


def test_a_pending_request_is_shown_to_the_relative_with_its_link(client, payer, spouse):
    binding = bind(payer, spouse, relation="spouse", now=timezone.now())
    client.force_login(spouse.user)
    html = page_text(client.get(reverse("sharing:index")))
    assert "等待您确认的共济请求" in html
    assert url("confirm", binding) in html


def test_an_overdue_request_is_lapsed_when_the_list_is_read(as_payer, payer, spouse):
    binding = bind(payer, spouse, relation="spouse", now=timezone.now() - datetime.timedelta(days=8))
    html = page_text(as_payer.get(reverse("sharing:index")))
    assert refreshed(binding).status == Status.EXPIRED
    assert "已过期" in html


def test_reloading_the_list_within_a_minute_does_not_look_for_lapsed_requests_again(as_payer, payer, spouse):
    as_payer.get(reverse("sharing:index"))
    binding = bind(payer, spouse, relation="spouse", now=timezone.now() - datetime.timedelta(days=8))
    as_payer.get(reverse("sharing:index"))
    as_payer.get(reverse("sharing:received"))
    # Within REFRESH_SECONDS the pages show what the last refresh (or the nightly expire_bindings) left.
    assert refreshed(binding).status == Status.PENDING
    # The pages that act on a binding refresh every time, so a lapsed request cannot be confirmed.
    bindings.refresh_for(payer)
    assert refreshed(binding).status == Status.EXPIRED


def make_many_bindings(payer, count):
    for number in range(count):
        relative = make_resident(name="张某", birth=f"19{50 + number}0101")
        binding = bind(payer, relative, relation="sibling", way="quota")
        record_payment(binding, "1.00")
        if number >= 5:
            bindings.end_binding(binding=binding, actor=payer.user, reason=Binding.EndReason.PAYER)


@pytest.mark.parametrize("count", [2, 25])
def test_the_list_costs_the_same_number_of_queries_however_long(as_payer, payer, count, django_assert_num_queries):
    make_many_bindings(payer, count)
    as_payer.get(reverse("sharing:index"))  # settle the session; the bindings were brought up to date
    # the user with the person, the facts (page_parts), page count, pending list, received count, those sharing
    # with the citizen, page; the session and the header's unread count are in the cache, and the bindings are
    # refreshed at most once a minute (a query string of its own, so that the page's part is not cached yet)
    with django_assert_num_queries(7):
        as_payer.get(reverse("sharing:index"), {"page": 1})
    # reloaded: the user with the person and the facts; the part comes from the cache
    with django_assert_num_queries(2):
        as_payer.get(reverse("sharing:index"), {"page": 1})


@pytest.mark.parametrize("count", [1, 25])
def test_the_received_list_costs_the_same_number_of_queries_however_long(client, db, count, django_assert_num_queries):
    relative = make_resident(name="张小雨", birth="20150601")
    make_citizen_user(relative)
    for number in range(count):
        payer = make_employee(balance="10.00", name="张某", birth=f"19{60 + number}0101")
        binding = bind(payer, relative, relation="child")
        record_payment(binding, "2.00")
    client.force_login(relative.user)
    client.get(reverse("sharing:received"))
    # as for the list, with the order's first and last in place of the pending list and the received count
    with django_assert_num_queries(4):
        client.get(reverse("sharing:received"))


@pytest.mark.parametrize("count", [1, 30])
def test_the_detail_costs_the_same_number_of_queries_however_many_payments(as_payer, funded_quota, count,
                                                                           django_assert_num_queries):
    for _ in range(count):
        record_payment(funded_quota, "1.00")
    as_payer.get(url("detail", funded_quota))  # the header's unread count is now in the cache
    with django_assert_num_queries(11):
        response = as_payer.get(url("detail", funded_quota))
    assert len(response.context["page"].object_list) == min(count, 20)


# Binding form -------------------------------------------------------------------------------------


def bind_form(**overrides):
    data = {
        "relative_name": "张小雨", "relative_id_number": "", "relation": "child", "way": "direct", "promise": "on",
    }
    data.update(overrides)
    return data


def test_the_form_shows_the_promise_and_the_regions_list(as_payer):
    html = page_text(as_payer.get(reverse("sharing:bind")))
    assert str(bindings.PROMISE) in html
    assert "配偶、父母、子女、兄弟姐妹" in html
    # Only admitted relations are offered; the sentence above the form says parents-in-law are not.
    assert 'value="parent_in_law"' not in as_payer.get(reverse("sharing:bind")).text


def test_binding_a_child_online_makes_it_active_at_once(as_payer, payer, child):
    response = as_payer.post(reverse("sharing:bind"), bind_form(relative_id_number=child.id_number))
    binding = Binding.objects.get()
    assert response.status_code == 302 and response["Location"] == url("detail", binding)
    assert binding.status == Status.ACTIVE and binding.consent == Binding.Consent.PROMISE
    assert binding.promise == str(bindings.PROMISE)


def test_binding_a_spouse_with_a_login_waits_for_her(as_payer, spouse):
    form = bind_form(relative_name="王芳", relative_id_number=spouse.id_number, relation="spouse")
    as_payer.post(reverse("sharing:bind"), form)
    assert Binding.objects.get().status == Status.PENDING


def test_parents_in_law_are_refused_on_the_form_with_the_reason(as_payer):
    father_in_law = make_resident(name="王建国", birth="19600101")
    form = bind_form(relative_name="王建国", relative_id_number=father_in_law.id_number, relation="parent_in_law")
    html = page_text(as_payer.post(reverse("sharing:bind"), form))
    assert "岳父母、公婆不属于近亲属" in html
    assert not Binding.objects.exists()


def test_a_mismatch_is_refused_on_the_form_with_the_one_message(as_payer, child):
    html = page_text(as_payer.post(reverse("sharing:bind"), bind_form(relative_name="张小雪", relative_id_number=child.id_number)))
    assert str(bindings.RELATIVE_MISMATCH) in html
    assert not Binding.objects.exists()


def test_the_promise_box_must_be_ticked(as_payer, child):
    form = bind_form(relative_id_number=child.id_number)
    del form["promise"]
    html = page_text(as_payer.post(reverse("sharing:bind"), form))
    assert "请阅读并勾选共济承诺" in html
    assert not Binding.objects.exists()


def test_a_bad_id_number_is_refused_by_the_form(as_payer):
    html = page_text(as_payer.post(reverse("sharing:bind"), bind_form(relative_id_number="33020320150601102")))
    assert "身份证号码应为18位" in html


def test_a_resident_is_told_why_they_cannot_share(as_child):
    html = page_text(as_child.get(reverse("sharing:bind")))
    assert str(bindings.NOT_A_PAYER) in html and 'name="relative_id_number"' not in html
    assert as_child.post(reverse("sharing:bind"), bind_form()).status_code == 200
    assert not Binding.objects.exists()


# Detail -------------------------------------------------------------------------------------------


def test_the_payer_sees_what_was_paid_for_the_relative(as_payer, funded_quota, child):
    record_payment(funded_quota, "35.50", institution_name="宁波天一药房", category="pharmacy")
    html = page_text(as_payer.get(url("detail", funded_quota)))
    assert "宁波天一药房" in html and "药店购药" in html and "¥35.50" in html
    assert child.masked_id_number in html and child.id_number not in html
    assert "划拨共济额度" in html and "解除共济" in html
    assert "居民医保个人缴费" in html  # premium offered


def test_the_relative_sees_who_paid_what_for_them(as_child, funded_quota, payer):
    record_payment(funded_quota, "35.50", institution_name="宁波天一药房")
    html = page_text(as_child.get(url("detail", funded_quota)))
    assert "为我支付的医药费" in html and "¥35.50" in html
    assert payer.masked_id_number in html and payer.id_number not in html and "张伟" in html
    assert "划拨共济额度" not in html and "解除共济" in html


def test_the_statement_downloads_as_csv_with_a_byte_order_mark(as_payer, funded_quota, child):
    record_payment(funded_quota, "35.50", institution_name="宁波天一药房")
    bindings.pay_premium(binding=funded_quota, kind="resident", actor=funded_quota.payer.user)
    response = as_payer.get(url("statement", funded_quota))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    assert "宁波天一药房" in text and "35.50" in text and "400.00" in text and "居民医保个人缴费" in text
    assert child.masked_id_number in text and child.id_number not in text and "张小雨" not in text


def test_the_relative_downloads_the_statement_too(as_child, direct_binding, payer):
    text = as_child.get(url("statement", direct_binding)).content.decode("utf-8")
    assert payer.masked_name in text and payer.id_number not in text


# Confirmation -------------------------------------------------------------------------------------


@pytest.fixture
def pending(payer, spouse):
    return bind(payer, spouse, relation="spouse", now=timezone.now())


@pytest.fixture
def as_spouse(client, spouse):
    client.force_login(spouse.user)
    return client


def test_the_confirmation_page_explains_the_request(as_spouse, pending, payer):
    html = page_text(as_spouse.get(url("confirm", pending)))
    assert "确认共济" in html and "拒绝" in html and payer.name in html and "您的配偶" in html


def test_the_relative_confirms_from_the_page(as_spouse, pending):
    response = as_spouse.post(url("confirm", pending), {"decision": "confirm"})
    assert response.status_code == 302
    assert refreshed(pending).status == Status.ACTIVE


def test_the_relative_declines_from_the_page(as_spouse, pending):
    as_spouse.post(url("confirm", pending), {"decision": "decline"})
    assert refreshed(pending).status == Status.DECLINED


def test_an_unknown_decision_changes_nothing(as_spouse, pending):
    assert as_spouse.post(url("confirm", pending), {"decision": "maybe"}).status_code == 404
    assert refreshed(pending).status == Status.PENDING


def test_an_expired_request_shows_it_and_cannot_be_confirmed(as_spouse, payer, spouse):
    old = bind(payer, spouse, relation="spouse", now=timezone.now() - datetime.timedelta(days=7, minutes=1))
    assert "已经失效" in page_text(as_spouse.get(url("confirm", old)))
    as_spouse.post(url("confirm", old), {"decision": "confirm"})
    assert refreshed(old).status == Status.EXPIRED


def test_the_payer_withdraws_from_the_page(as_payer, pending):
    assert "确认撤回" in page_text(as_payer.get(url("cancel", pending)))
    assert refreshed(pending).status == Status.PENDING
    as_payer.post(url("cancel", pending))
    assert refreshed(pending).status == Status.CANCELLED


# Top-up, ending, premiums -------------------------------------------------------------------------


def test_a_top_up_asks_for_confirmation_before_moving_money(as_payer, quota_binding, payer, monkeypatch):
    monkeypatch.setattr(bindings, "in_quiet_hours", lambda region, now: False)
    html = page_text(as_payer.post(url("top_up", quota_binding), {"amount": "300"}))
    assert "确认划拨" in html and "¥300.00" in html
    assert balance_of(payer) == Decimal("2000.00") and not QuotaTopUp.objects.exists()
    response = as_payer.post(url("top_up", quota_binding), {"amount": "300.00", "confirmed": "1"})
    assert response.status_code == 302
    assert balance_of(payer) == Decimal("1700.00")
    assert refreshed(quota_binding).quota_account.balance == Decimal("300.00")


@pytest.mark.parametrize(
    ("amount", "message"),
    [("1e3", "请按“元.角分”填写金额"), ("10.005", "最多保留两位小数"), ("0", "金额须大于0"), ("-5", "请按“元.角分”填写金额"),
     ("２００", "请按“元.角分”填写金额"), ("", "请填写金额"), ("2000.01", "每次最多划拨")],
)
def test_odd_amounts_are_refused_on_the_page(as_payer, quota_binding, amount, message, monkeypatch):
    monkeypatch.setattr(bindings, "in_quiet_hours", lambda region, now: False)
    html = page_text(as_payer.post(url("top_up", quota_binding), {"amount": amount, "confirmed": "1"}))
    assert message in html
    assert not QuotaTopUp.objects.exists()


def test_amounts_with_thousands_separators_are_read(as_payer, quota_binding, monkeypatch):
    monkeypatch.setattr(bindings, "in_quiet_hours", lambda region, now: False)
    as_payer.post(url("top_up", quota_binding), {"amount": "1,200.50", "confirmed": "1"})
    assert refreshed(quota_binding).quota_account.balance == Decimal("1200.50")


def test_the_quiet_hours_are_explained_on_the_page(as_payer, quota_binding, monkeypatch):
    monkeypatch.setattr(bindings, "in_quiet_hours", lambda region, now: True)
    html = page_text(as_payer.post(url("top_up", quota_binding), {"amount": "10"}))
    assert "暂停划拨共济额度" in html


def test_ending_asks_for_confirmation_then_returns_the_quota(as_payer, funded_quota, payer):
    html = page_text(as_payer.get(url("end", funded_quota)))
    assert "确认解除" in html and "¥500.00 将立即退回" in html
    assert refreshed(funded_quota).status == Status.ACTIVE
    as_payer.post(url("end", funded_quota))
    assert refreshed(funded_quota).status == Status.ENDED
    assert balance_of(payer) == Decimal("2000.00")


def test_the_relative_ends_from_the_page(as_child, funded_quota):
    as_child.post(url("end", funded_quota))
    row = refreshed(funded_quota)
    assert row.status == Status.ENDED and row.end_reason == Binding.EndReason.RELATIVE


def test_a_premium_asks_for_confirmation_then_pays(as_payer, direct_binding, payer):
    html = page_text(as_payer.get(url("premium", direct_binding, "resident")))
    assert "确认缴纳" in html and "¥400.00" in html and "2026年居民医保个人缴费" in html
    assert not PremiumPayment.objects.exists()
    as_payer.post(url("premium", direct_binding, "resident"))
    assert PremiumPayment.objects.get().amount == Decimal("400.00")
    assert balance_of(payer) == Decimal("1600.00")
    assert "已经缴纳" in page_text(as_payer.get(url("premium", direct_binding, "resident")))


def test_a_region_without_long_term_care_says_so_on_the_page(as_payer, payer, far_relative):
    binding = bind(payer, far_relative, relation="sibling", way="quota")  # insured in 东莞, which has none
    bindings.top_up_quota(binding=binding, amount=Decimal("500.00"), actor=payer.user, now=NOW)
    html = page_text(as_payer.get(url("premium", binding, "ltc")))
    assert "东莞市尚未开展长期护理保险" in html and "确认缴纳" not in html
    response = as_payer.post(url("premium", binding, "ltc"), follow=True)
    assert "尚未开展长期护理保险" in response.content.decode()
    assert not PremiumPayment.objects.exists()


def test_a_premium_across_provinces_is_offered_from_the_quota_and_counted_as_quota_used(
    as_payer, payer, far_relative
):
    binding = bind(payer, far_relative, relation="sibling", way="quota")
    bindings.top_up_quota(binding=binding, amount=Decimal("500.00"), actor=payer.user, now=NOW)
    html = page_text(as_payer.get(url("premium", binding, "resident")))
    assert "划拨的共济额度中缴纳" in html and "确认缴纳" in html
    as_payer.post(url("premium", binding, "resident"))
    assert balance_of(payer) == Decimal("1500.00")
    html = page_text(as_payer.get(reverse("sharing:index")))
    assert "¥100.00" in html  # held
    assert "¥400.00" in html  # used: the premium came out of the quota


def test_an_unknown_premium_kind_is_404(as_payer, direct_binding):
    assert as_payer.get(url("premium", direct_binding, "fitness")).status_code == 404


# Order of payers ----------------------------------------------------------------------------------


def test_the_relative_reorders_payers_with_buttons(as_child, child_login, payer, mother):
    first = bind(payer, child_login)
    second = bind(mother, child_login, relation="grandchild")
    html = page_text(as_child.get(reverse("sharing:received")))
    assert "下移" in html and "上移" in html
    as_child.post(url("move", second), {"direction": "up"})
    assert refreshed(second).priority < refreshed(first).priority


def test_ending_tells_the_payer_where_the_unused_quota_went(as_payer, quota_binding, payer):
    bindings.top_up_quota(binding=quota_binding, amount=Decimal("80.00"), actor=payer.user, now=NOW)
    response = as_payer.post(reverse("sharing:end", args=[quota_binding.pk]), follow=True)
    assert "未用完的共济额度 ¥80.00 已退回您的个人账户" in response.text
    assert refreshed(quota_binding).status == Binding.Status.ENDED


def test_a_region_on_the_2021_list_offers_only_spouse_parents_and_children(as_payer):
    nuclear = PolicyVersion.SharingScope.NUCLEAR_FAMILY
    set_policy("330200", since=datetime.date(2020, 1, 1), sharing_scope=nuclear)
    html = as_payer.get(reverse("sharing:bind")).text
    assert 'value="spouse"' in html and 'value="parent"' in html and 'value="child"' in html
    assert 'value="sibling"' not in html and 'value="grandparent"' not in html


def test_the_sharing_page_names_who_shares_with_me_first(client, payer, spouse):
    binding = bind(payer, spouse, relation="spouse", now=timezone.now())
    bindings.confirm_binding(binding=binding, actor=spouse.user)
    client.force_login(spouse.user)
    html = client.get(reverse("sharing:index")).text
    assert html.index("为我共济的人") < html.index("我共济的亲属") and "张伟（您的配偶）" in html
