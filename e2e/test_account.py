import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from e2e.conftest import audit, screenshot

DEMO_ID_NUMBER = "330203198501011238"
DEMO_PASSWORD = "Demo@2026"

# live_server needs committed rows; serialized_rollback brings back the regions of the data migration,
# which the flush after each transactional test removes.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def demo_data(db):
    # Tests run with DEBUG off, where seed_demo asks for --force.
    call_command("seed_demo", force=True)


def log_in(page, base_url):
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("身份证号码").fill(DEMO_ID_NUMBER)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_demo_citizen_logs_in_and_reads_balance_statement_and_notices(live_server, phone, demo_data):
    page = phone
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("医保个人账户服务")
    audit(page)
    screenshot(page, "phone-home")

    page.get_by_role("navigation", name="主导航").get_by_role("link", name="登录").click()
    expect(page.get_by_label("身份证号码")).to_be_visible()
    audit(page)
    screenshot(page, "phone-login")

    log_in(page, live_server.url)
    expect(page).to_have_url(f"{live_server.url}/account/")
    expect(page.locator(".balance")).to_have_text("¥2,000.00")
    statement = page.locator("table.statement tbody tr")
    expect(statement.first).to_contain_text("+¥2,000.00")
    audit(page)
    screenshot(page, "phone-account")

    page.get_by_role("link", name="通知").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("我的通知")
    audit(page)
    screenshot(page, "phone-notices")


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


def test_large_text_account_page_passes_the_audit(live_server, phone, demo_data):
    page = phone
    log_in(page, live_server.url)
    page.get_by_role("button", name="长辈模式").click()
    expect(page.locator("html")).to_have_class("large-text")
    audit(page)
    screenshot(page, "phone-account-large-text")


def test_registration_form_and_its_errors_pass_the_audit(live_server, phone, demo_data):
    page = phone
    page.goto(f"{live_server.url}/accounts/register/")
    audit(page)
    screenshot(page, "phone-register")

    page.get_by_label("身份证号码").fill("33020319850101123")
    page.get_by_role("button", name="注册并登录").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("应为18位")
    expect(page.get_by_label("身份证号码")).to_have_attribute("aria-invalid", "true")
    audit(page)
    screenshot(page, "phone-register-errors")


def test_account_page_on_a_desktop(live_server, desktop, demo_data):
    log_in(desktop, live_server.url)
    expect(desktop.get_by_role("columnheader", name="余额")).to_be_visible()
    audit(desktop)
    screenshot(desktop, "desktop-account")
