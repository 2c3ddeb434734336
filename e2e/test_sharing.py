"""Family sharing in the browser: 张伟 binds his wife, she confirms; every sharing page audited on a phone."""

import datetime
import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from accounts import ledger
from accounts.models import Person
from conftest import set_policy  # noqa: E402
from e2e.conftest import check_phone_page, prove_phone
from sharing import bindings
from sharing.models import Binding

ZHANG_WEI = "330203198501011238"
WANG_FANG = "330203198702140028"
LI_XIUYING = "330203195803150045"
PASSWORD = "Demo@2026"

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

TEXT_SIZES = [pytest.param(False, id="normal"), pytest.param(True, id="large-text")]


@pytest.fixture
def demo_data(db, storage):
    # Tests run with DEBUG off, where seed_demo asks for --force.
    call_command("seed_demo", force=True, stdout=io.StringIO())


def log_in(page, base_url, id_number, next_path="/sharing/"):
    page.goto(f"{base_url}/accounts/login/?next={next_path}")
    page.get_by_label("身份证号码").fill(id_number)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def log_out(page):
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("navigation", name="主导航").get_by_role("link", name="登录")).to_be_visible()


def check(page, name, large_text=False):
    """Audit the page with axe, make sure it fits a phone's width, and keep a screenshot."""
    check_phone_page(page, f"sharing-{name}", large_text)


def test_zhang_wei_binds_his_wife_and_she_confirms(live_server, phone, demo_data):
    page, base_url = phone, live_server.url

    log_in(page, base_url, ZHANG_WEI)
    expect(page.get_by_role("heading", level=1)).to_have_text("家庭共济")
    # The demo binding with his daughter is there, her name masked.
    expect(page.get_by_role("table", name="我共济的亲属").get_by_role("row")).to_have_count(2)
    check(page, "1-payer-list")

    page.get_by_role("link", name="添加共济亲属").click()
    page.get_by_label("亲属姓名").fill("王芳")
    page.get_by_label("亲属身份证号码").fill(WANG_FANG)
    page.get_by_label("亲属是您的什么人").select_option("spouse")
    page.get_by_label("共济方式").select_option("direct")
    expect(page.get_by_text(str(bindings.PROMISE))).to_be_visible()
    page.get_by_label("我已阅读并作出以上承诺").check()
    check(page, "2-form")
    page.get_by_role("button", name="提交").click()
    # Binding widens access to his account: the reserved phone is proven first, then the form carries on.
    check(page, "2b-step-up")
    prove_phone(page)

    expect(page.locator(".messages")).to_contain_text("已向亲属发送确认请求")
    expect(page.locator(".facts").first).to_contain_text("待亲属确认")
    check(page, "3-payer-pending")
    log_out(page)

    log_in(page, base_url, WANG_FANG, next_path="/notices/")
    page.get_by_role("link", name="请确认家庭共济请求").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("请确认家庭共济请求")
    check(page, "4-notice")
    page.get_by_role("link", name="去办理").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("确认家庭共济请求")
    expect(page.get_by_text("张伟（您的配偶）申请用其职工医保个人账户为您共济。")).to_be_visible()
    check(page, "5-confirm")
    page.get_by_role("button", name="确认共济").click()

    expect(page.locator(".messages")).to_contain_text("您已确认，家庭共济已生效")
    expect(page.locator(".facts").first).to_contain_text("已生效")
    check(page, "6-relative-detail")
    page.goto(f"{base_url}/sharing/received/")
    expect(page.get_by_role("table", name="为我共济的人")).to_contain_text("已生效")
    check(page, "7-relative-received")
    log_out(page)

    log_in(page, base_url, ZHANG_WEI)
    table = page.get_by_role("table", name="我共济的亲属")
    expect(table.get_by_role("row")).to_have_count(3)
    expect(table.get_by_role("row").filter(has_text="配偶")).to_contain_text("已生效")
    check(page, "8-payer-list-active")

    zhang_wei, wang_fang = Person.objects.get(id_number=ZHANG_WEI), Person.objects.get(id_number=WANG_FANG)
    binding = Binding.objects.get(payer=zhang_wei, relative=wang_fang)
    assert binding.status == Binding.Status.ACTIVE and binding.consent == Binding.Consent.CONFIRMED
    assert ledger.audit() == []


def prepare_every_kind_of_page():
    """Besides the demo binding: a quota for 李秀英 (confirmed), and a request to 王芳 still pending."""
    # Whatever the hour the suite runs at, the top-up pages must be reachable.
    set_policy("330200", quota_quiet_from=datetime.time(0), quota_quiet_until=datetime.time(0))
    zhang_wei = Person.objects.select_related("user").get(id_number=ZHANG_WEI)
    mother = Person.objects.select_related("user").get(id_number=LI_XIUYING)
    common = {"payer": zhang_wei, "actor": zhang_wei.user, "promise_accepted": True}
    quota = bindings.bind_relative(
        relative_name="李秀英", relative_id_number=LI_XIUYING, relation="parent", way="quota", **common
    )
    bindings.confirm_binding(binding=quota, actor=mother.user)
    pending = bindings.bind_relative(
        relative_name="王芳", relative_id_number=WANG_FANG, relation="spouse", way="direct", **common
    )
    daughter = Binding.objects.get(relative__id_number="330203201506011020")
    return daughter, quota, pending


@pytest.mark.parametrize("large_text", TEXT_SIZES)
def test_every_sharing_page_passes_the_audit_and_fits_a_phone(live_server, phone, demo_data, large_text):
    page, base_url = phone, live_server.url
    daughter, quota, pending = prepare_every_kind_of_page()
    if large_text:
        page.context.add_cookies([{"name": "text_size", "value": "large", "url": base_url}])

    log_in(page, base_url, ZHANG_WEI)
    expect(page.get_by_role("heading", level=1)).to_have_text("家庭共济")
    check(page, "list", large_text)

    page.goto(f"{base_url}/sharing/new/")
    page.get_by_role("button", name="提交").click()
    check(page, "step-up", large_text)
    page.get_by_role("button", name="验证并继续办理").click()
    expect(page.locator(".error-summary")).to_contain_text("请填写短信验证码")
    check(page, "step-up-errors", large_text)
    prove_phone(page)
    expect(page.locator(".error-summary")).to_be_visible()
    check(page, "form-errors", large_text)

    page.goto(f"{base_url}/sharing/{quota.pk}/")
    expect(page.get_by_role("link", name="划拨共济额度")).to_be_visible()
    check(page, "detail-quota", large_text)

    page.get_by_role("link", name="划拨共济额度").click()
    check(page, "top-up", large_text)
    page.get_by_label("划拨金额（元）").fill("200")
    page.get_by_role("button", name="下一步").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("确认划拨共济额度")
    check(page, "top-up-confirm", large_text)
    page.get_by_role("button", name="确认划拨").click()
    expect(page.locator(".messages")).to_contain_text("已划拨共济额度 ¥200.00")

    page.goto(f"{base_url}/sharing/{quota.pk}/end/")
    expect(page.get_by_text("¥200.00 将立即退回")).to_be_visible()
    check(page, "end-confirm", large_text)

    page.goto(f"{base_url}/sharing/{daughter.pk}/premium/resident/")
    expect(page.get_by_role("button", name="确认缴纳")).to_be_visible()
    check(page, "premium-confirm", large_text)

    page.goto(f"{base_url}/sharing/{pending.pk}/cancel/")
    expect(page.get_by_role("button", name="确认撤回")).to_be_visible()
    check(page, "cancel-confirm", large_text)
    log_out(page)

    log_in(page, base_url, WANG_FANG)
    expect(page.get_by_role("heading", name="等待您确认的共济请求")).to_be_visible()
    check(page, "relative-list", large_text)
    page.goto(f"{base_url}/sharing/{pending.pk}/confirm/")
    check(page, "confirm", large_text)
    log_out(page)

    log_in(page, base_url, LI_XIUYING, next_path="/sharing/received/")
    expect(page.get_by_role("heading", level=1)).to_have_text("为我共济的人")
    check(page, "received", large_text)
    page.goto(f"{base_url}/sharing/{quota.pk}/")
    check(page, "detail-relative", large_text)
    assert ledger.audit() == []
