import pytest

pytest.importorskip(
    "playwright.sync_api", reason="browser tests need playwright (pip install -r requirements.txt)"
)

from django.core.management import call_command  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

from accounts.models import Person  # noqa: E402
from accounts.services import notify  # noqa: E402
from conftest import make_citizen_user  # noqa: E402
from e2e.conftest import assert_fits_the_width, audit, check_phone_page, screenshot  # noqa: E402

DEMO_ID_NUMBER = "330203198501011238"
DEMO_PASSWORD = "Demo@2026"
DAUGHTER_ID_NUMBER = "330203201506011020"  # 张小雨: resident insurance, no personal account
CHEN_MING_ID_NUMBER = "441900199008083318"

# live_server needs committed rows; serialized_rollback brings back the regions of the data migration,
# which the flush after each transactional test removes.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

TEXT_SIZES = [pytest.param(False, id="normal"), pytest.param(True, id="large-text")]


@pytest.fixture
def demo_data(db):
    # Tests run with DEBUG off, where seed_demo asks for --force.
    call_command("seed_demo", force=True)


def log_in(page, base_url, id_number=DEMO_ID_NUMBER, password=DEMO_PASSWORD):
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("身份证号码").fill(id_number)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def log_out(page):
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("navigation", name="主导航").get_by_role("link", name="登录")).to_be_visible()


def use_large_text(page, base_url):
    """Turn 长辈模式 on the way a visitor's earlier choice would: with its cookie."""
    page.context.add_cookies([{"name": "text_size", "value": "large", "url": base_url}])


def check(page, name, large_text):
    """Audit the page with axe, make sure it fits a phone's width, and keep a screenshot."""
    check_phone_page(page, f"phone-{name}", large_text)


@pytest.mark.parametrize("large_text", TEXT_SIZES)
def test_every_public_page_passes_the_audit_and_fits_a_phone(live_server, phone, demo_data, large_text):
    page, base_url = phone, live_server.url
    if large_text:
        use_large_text(page, base_url)

    page.goto(f"{base_url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("医保个人账户服务")
    check(page, "home", large_text)

    page.get_by_role("navigation", name="主导航").get_by_role("link", name="登录").click()
    expect(page.get_by_label("身份证号码")).to_be_visible()
    check(page, "login", large_text)

    page.goto(f"{base_url}/accounts/register/")
    expect(page.get_by_role("heading", level=1)).to_have_text("实名注册")
    check(page, "register", large_text)

    page.goto(f"{base_url}/no-such-page/")
    expect(page.get_by_role("heading", level=1)).to_have_text("页面不存在")
    check(page, "404", large_text)


@pytest.mark.parametrize("large_text", TEXT_SIZES)
def test_the_lockout_pages_pass_the_audit_and_fit_a_phone(live_server, phone, demo_data, settings, large_text):
    page, base_url = phone, live_server.url
    if large_text:
        use_large_text(page, base_url)
    heading = page.get_by_role("heading", level=1)

    for _attempt in range(6):
        log_in(page, base_url, CHEN_MING_ID_NUMBER, "Wrong@2026")
        if heading.inner_text() == "登录已暂时锁定":
            break
    expect(heading).to_have_text("登录已暂时锁定")
    check(page, "locked-out", large_text)

    # Past the per-address limit every login from this address is refused, whatever the ID number.
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 1
    log_in(page, base_url)
    expect(page.locator(".error-summary")).to_contain_text("从您所在的网络登录失败次数过多")
    check(page, "login-blocked", large_text)


@pytest.mark.parametrize("large_text", TEXT_SIZES)
def test_every_citizen_page_passes_the_audit_and_fits_a_phone(live_server, phone, demo_data, large_text):
    page, base_url = phone, live_server.url
    zhang_wei = Person.objects.get(id_number=DEMO_ID_NUMBER)
    notify(
        person=zhang_wei,
        title="提取申请已受理",
        body="您的个人账户余额提取申请已受理，医保经办机构将在5个工作日内完成初审。请留意后续通知。",
        link="/withdrawals/",
    )
    if large_text:
        use_large_text(page, base_url)

    log_in(page, base_url)
    expect(page).to_have_url(f"{base_url}/account/")
    expect(page.locator(".balance")).to_have_text("¥2,000.00")
    # The demo year: the newest line is last month's credit, explained.
    expect(page.locator("table.statement tbody tr").first).to_contain_text("划入 ¥160.00 = 缴费基数 ¥8,000.00 × 2%")
    check(page, "account", large_text)

    page.get_by_role("link", name="个人信息").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("个人信息")
    check(page, "profile", large_text)

    page.get_by_role("link", name="通知").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("我的通知")
    expect(page.locator(".notice-item--unread")).to_have_count(1)
    check(page, "notices", large_text)

    page.get_by_role("link", name="提取申请已受理").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("提取申请已受理")
    check(page, "notice", large_text)


@pytest.mark.parametrize("large_text", TEXT_SIZES)
def test_the_no_account_page_passes_the_audit_and_fits_a_phone(live_server, phone, demo_data, large_text):
    page, base_url = phone, live_server.url
    make_citizen_user(Person.objects.get(id_number=DAUGHTER_ID_NUMBER), password=DEMO_PASSWORD)
    if large_text:
        use_large_text(page, base_url)

    log_in(page, base_url, DAUGHTER_ID_NUMBER)

    expect(page).to_have_url(f"{base_url}/account/")
    expect(page.get_by_text("居民医保不设个人账户")).to_be_visible()
    check(page, "no-account", large_text)


def test_demo_citizen_logs_in_and_logs_out(live_server, phone, demo_data):
    page = phone
    log_in(page, live_server.url)
    expect(page).to_have_url(f"{live_server.url}/account/")
    log_out(page)
    page.goto(f"{live_server.url}/account/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/account/")


def test_large_text_mode_survives_navigation_without_javascript(live_server, browser, demo_data):
    context = browser.new_context(viewport={"width": 360, "height": 780}, java_script_enabled=False)
    page = context.new_page()
    log_in(page, live_server.url)
    toggle = page.get_by_role("button", name="长辈模式")
    expect(toggle).to_have_attribute("aria-pressed", "false")

    toggle.click()
    expect(page).to_have_url(f"{live_server.url}/account/")
    expect(page.locator("html")).to_have_class("large-text")
    assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "22px"
    page.get_by_role("link", name="个人信息").click()
    expect(page.get_by_role("button", name="长辈模式")).to_have_attribute("aria-pressed", "true")
    context.close()


def test_registration_form_and_its_errors_pass_the_audit(live_server, phone, demo_data):
    page = phone
    page.goto(f"{live_server.url}/accounts/register/")

    page.get_by_label("身份证号码").fill("33020319850101123")
    page.get_by_role("button", name="获取短信验证码").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("应为18位")
    expect(page.get_by_label("身份证号码")).to_have_attribute("aria-invalid", "true")
    audit(page)
    assert_fits_the_width(page)
    screenshot(page, "phone-register-errors")


def test_statement_stays_a_table_for_screen_readers_on_a_phone(live_server, phone, demo_data):
    # The phone layout turns rows into cards; the explicit roles keep them a table with headers.
    page = phone
    log_in(page, live_server.url)
    table = page.get_by_role("table", name="收支明细，最新的在前")
    expect(table.get_by_role("columnheader")).to_have_count(5)
    # The header, then the demo year: an opening balance, 12 credits and 2 pharmacy bills.
    expect(table.get_by_role("row")).to_have_count(16)
    expect(table.get_by_role("cell", name="+¥160.00").first).to_be_visible()
    expect(table.get_by_role("cell", name="-¥86.50")).to_be_visible()


def test_account_page_on_a_desktop(live_server, desktop, demo_data):
    log_in(desktop, live_server.url)
    expect(desktop.get_by_role("columnheader", name="余额")).to_be_visible()
    audit(desktop)
    screenshot(desktop, "desktop-account")
