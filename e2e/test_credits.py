"""The monthly credits explained on /account/: 李秀英 sees why her credit changed in July 2026."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest

pytest.importorskip(
    "playwright.sync_api", reason="browser tests need playwright (pip install -r requirements.txt)"
)

from django.core.management import call_command  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

from accounts.models import PolicyVersion  # noqa: E402
from e2e.conftest import assert_fits_the_width, audit, screenshot, staff_logs_in  # noqa: E402

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")

LI_XIUYING = "330203195803150045"
PASSWORD = "Demo@2026"
JULY_REASON = "政策调整：退休人员定额由 ¥110.00 调整为 ¥120.00（演示·甬医保发〔2026〕15号，2026年7月1日起执行）"

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def demo_data(db):
    call_command("seed_demo", force=True)


def log_in_as_li_xiuying(page, base_url):
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("身份证号码").fill(LI_XIUYING)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{base_url}/account/")


@pytest.mark.parametrize("large_text", [pytest.param(False, id="normal"), pytest.param(True, id="large-text")])
def test_li_xiuying_sees_the_july_change_explained_on_her_account_page(live_server, phone, demo_data, large_text):
    page, base_url = phone, live_server.url
    if large_text:
        page.context.add_cookies([{"name": "text_size", "value": "large", "url": base_url}])
    log_in_as_li_xiuying(page, base_url)

    credits = page.get_by_role("region", name="每月划入")
    expect(credits.locator(".credit-rule")).to_contain_text(
        "每月 ¥120.00 = 退休人员定额（演示·甬医保发〔2026〕15号，2026年7月1日起执行）"
    )
    july = credits.get_by_role("listitem").filter(has_text="2026年7月 划入")
    expect(july).to_contain_text("2026年7月 划入 ¥120.00 = 退休人员定额（演示·甬医保发〔2026〕15号）")
    expect(july).to_contain_text("金额有变化")
    expect(july).to_contain_text(JULY_REASON)
    # Only the month it changed is marked: June and August are plain.
    expect(credits.locator(".credit--changed")).to_have_count(1)
    expect(credits.get_by_role("listitem").filter(has_text="2026年6月 划入 ¥110.00")).not_to_contain_text("金额有变化")
    july.scroll_into_view_if_needed()
    audit(page)
    assert_fits_the_width(page)
    screenshot(page, f"phone-credits-july-change{'-large-text' if large_text else ''}")

    # The year switch shows the calendar year; the July change is explained there as well.
    credits.get_by_role("link", name="2026年").click()
    expect(credits.get_by_role("link", name="2026年")).to_have_attribute("aria-current", "page")
    expect(credits.get_by_role("listitem").filter(has_text="2026年7月 划入")).to_contain_text(JULY_REASON)
    expect(credits.get_by_role("listitem").filter(has_text="2025年12月")).to_have_count(0)

    # The notice she was sent when the version took effect says the same.
    page.get_by_role("link", name="通知").click()
    page.get_by_role("link", name="每月划入金额调整").click()
    expect(page.locator("main")).to_contain_text("由 ¥110.00 调整为 ¥120.00")
    expect(page.locator("main")).to_contain_text("演示·甬医保发〔2026〕15号")
    audit(page)
    screenshot(page, f"phone-credit-change-notice{'-large-text' if large_text else ''}")


def test_the_credits_on_a_desktop(live_server, desktop, demo_data):
    log_in_as_li_xiuying(desktop, live_server.url)
    expect(desktop.locator(".credit--changed")).to_contain_text(JULY_REASON)
    audit(desktop)
    screenshot(desktop, "desktop-credits-july-change")


CLERK = {"width": 1366, "height": 768}


def test_a_clerk_adds_a_version_that_raises_the_retirees_amount_and_confirms_the_warning(
    live_server, browser, demo_data
):
    context = browser.new_context(viewport=CLERK, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    page = context.new_page()
    staff_logs_in(page, live_server.url, "reviewer_nb")

    page.goto(f"{live_server.url}/admin/accounts/region/")
    page.get_by_role("link", name="宁波市").first.click()
    timeline = page.locator(".inline-group").first
    expect(timeline).to_contain_text("演示·甬医保发〔2026〕15号")
    expect(timeline).to_contain_text("现行")
    screenshot(page, "desk-region-timeline")

    page.get_by_role("link", name="新增政策参数版本").click()
    tomorrow = (datetime.datetime.now(SHANGHAI).date() + datetime.timedelta(days=1)).isoformat()
    page.locator("#id_effective_from").fill(tomorrow)
    page.locator("#id_document").fill("甬医保发〔2026〕30号")
    page.locator("#id_retiree_monthly_credit").fill("130.00")
    page.locator("input[name=_save]").click()
    warning = page.locator(".errorlist").first
    expect(warning).to_contain_text("退休人员每月定额由 ¥120.00 调整为 ¥130.00")
    expect(warning).to_contain_text("请核对后勾选确认")
    screenshot(page, "desk-version-credit-warning")

    page.locator("#id_confirm_credit_change").check()
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist")).to_contain_text("此版本将改变每月划入金额")
    version = PolicyVersion.objects.get(region__code="330200", document="甬医保发〔2026〕30号")
    assert version.retiree_monthly_credit == Decimal("130.00") and not version.is_in_force
    screenshot(page, "desk-version-added")
    context.close()
