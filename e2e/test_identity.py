"""Identity in the browser: registering with the texted code, resetting a password, a clerk's look recorded."""

import json
import time

import pytest

pytest.importorskip(
    "playwright.sync_api", reason="browser tests need playwright (pip install -r requirements.txt)"
)

from django.core.management import call_command  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

from accounts.models import PersonalDataAccess, User  # noqa: E402
from e2e.conftest import audit, check_phone_page, screenshot, staff_page  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

TEXT_SIZES = [pytest.param(False, id="normal"), pytest.param(True, id="large-text")]
ZHANG_WEI = "330203198501011238"
ZHANG_XIAOYU = ("张小雨", "330203201506011020", "13905741020")
NEW_PASSWORD = "Xin@mima2026"


@pytest.fixture
def demo_data(db):
    call_command("seed_demo", force=True)


@pytest.fixture
def sms_files(settings, tmp_path):
    """Send texts through the `file` backend, into a folder the test reads as a phone would."""
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = tmp_path / "sms"
    return tmp_path / "sms"


def newest_code(folder, to):
    """Return the code of the newest text to `to`, waiting for it as a phone does: it leaves after the page."""
    for _attempt in range(100):
        paths = sorted(folder.iterdir()) if folder.exists() else []
        messages = [json.loads(path.read_text(encoding="utf-8")) for path in paths]
        codes = [message["code"] for message in messages if message["to"] == to]
        if codes:
            return codes[-1]
        time.sleep(0.05)
    raise AssertionError(f"no text reached {to}")


def check(page, name, large_text):
    check_phone_page(page, f"identity-{name}", large_text)


def use_large_text(page, base_url, large_text):
    if large_text:
        page.context.add_cookies([{"name": "text_size", "value": "large", "url": base_url}])


@pytest.mark.parametrize("large_text", TEXT_SIZES)
def test_a_citizen_registers_with_the_code_texted_to_her_phone(live_server, phone, demo_data, sms_files, large_text):
    page, base_url = phone, live_server.url
    name, id_number, mobile = ZHANG_XIAOYU
    use_large_text(page, base_url, large_text)

    page.goto(f"{base_url}/accounts/register/")
    page.get_by_label("姓名").fill(name)
    page.get_by_label("身份证号码").fill(id_number)
    page.get_by_label("预留手机号").fill(mobile)
    page.get_by_label("设置密码").fill(NEW_PASSWORD)
    page.get_by_label("再次输入密码").fill(NEW_PASSWORD)
    check(page, "register-1", large_text)
    page.get_by_role("button", name="获取短信验证码").click()

    expect(page.get_by_text("如果信息与登记一致，验证码已发送至尾号1020的手机。")).to_be_visible()
    assert not User.objects.filter(person__id_number=id_number).exists()
    page.get_by_role("button", name="完成注册").click()
    expect(page.locator(".error-summary")).to_contain_text("请填写短信验证码")
    check(page, "register-2", large_text)
    page.get_by_label("短信验证码").fill(newest_code(sms_files, mobile))
    page.get_by_role("button", name="完成注册").click()

    expect(page).to_have_url(f"{base_url}/account/")
    assert User.objects.filter(person__id_number=id_number).exists()
    check(page, "register-done", large_text)


@pytest.mark.parametrize("large_text", TEXT_SIZES)
def test_a_citizen_resets_a_forgotten_password(live_server, phone, demo_data, sms_files, large_text):
    page, base_url = phone, live_server.url
    use_large_text(page, base_url, large_text)

    page.goto(f"{base_url}/accounts/login/")
    page.get_by_role("link", name="忘记密码？用预留手机号找回").click()
    page.get_by_label("身份证号码").fill(ZHANG_WEI)
    page.get_by_label("预留手机号").fill("139 0574 1238")
    check(page, "reset-1", large_text)
    page.get_by_role("button", name="获取短信验证码").click()

    expect(page.get_by_text("如果信息与登记一致，验证码已发送至尾号1238的手机。")).to_be_visible()
    page.get_by_label("短信验证码").fill(newest_code(sms_files, "13905741238"))
    page.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("再次输入新密码").fill("Other@2026")
    page.get_by_role("button", name="设置新密码").click()
    expect(page.locator(".error-summary")).to_contain_text("两次输入的密码不一致")
    check(page, "reset-2-errors", large_text)
    page.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("再次输入新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="设置新密码").click()

    expect(page.locator(".messages")).to_contain_text("密码已重设")
    page.get_by_label("身份证号码").fill(ZHANG_WEI)
    page.get_by_label("密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{base_url}/account/")


@pytest.mark.parametrize("large_text", TEXT_SIZES)
def test_a_clerks_look_at_zhang_wei_shows_on_his_access_page(live_server, phone, browser, demo_data, large_text):
    base_url = live_server.url
    desk = staff_page(browser, base_url, "reviewer_nb")
    desk.goto(f"{base_url}/admin/accounts/person/?q={ZHANG_WEI}")
    desk.get_by_role("link", name="张伟").click()
    expect(desk.locator("#content")).to_contain_text(ZHANG_WEI)
    screenshot(desk, "identity-staff-person")
    desk.context.close()
    assert set(PersonalDataAccess.objects.values_list("what", flat=True)) == {"按身份证号码查询", "参保人员信息"}

    page = phone
    use_large_text(page, base_url, large_text)
    page.goto(f"{base_url}/accounts/login/?next=/account/profile/")
    page.get_by_label("身份证号码").fill(ZHANG_WEI)
    page.get_by_label("密码").fill("Demo@2026")
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="个人信息访问记录：看看哪些工作人员查看过我的信息").click()

    records = page.locator(".access-log")
    expect(records).to_contain_text("宁波市 · 经办人员")
    expect(records).to_contain_text("参保人员信息")
    expect(page.locator("body")).not_to_contain_text("reviewer_nb")
    # Cards in a plain column, lined up with the heading: no list bullets, no indent.
    assert records.evaluate("list => getComputedStyle(list).listStyleType") == "none"
    card, heading = page.locator(".access-log .card").first.bounding_box(), page.locator("h1").bounding_box()
    assert card["x"] == heading["x"]
    check(page, "access-log", large_text)


def test_a_staff_login_without_the_code_is_refused_and_a_new_clerk_enrols(live_server, browser, demo_data):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    base_url = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base_url}/admin/login/")
    page.locator("#id_username").fill("approver_nb")
    page.locator("#id_password").fill("Demo@2026")
    page.locator("input[type=submit]").click()
    expect(page.locator(".errornote")).to_contain_text("请输入身份验证器上的6位动态验证码")
    assert_controls_are_large_enough(page)
    screenshot(page, "identity-staff-login-refused")

    TOTPDevice.objects.filter(user__username="approver_nb").delete()
    page.locator("#id_password").fill("Demo@2026")
    page.locator("input[type=submit]").click()
    expect(page.get_by_role("heading", name="绑定身份验证器")).to_be_visible()
    expect(page.locator(".second-factor__qr svg")).to_be_visible()
    audit(page)
    assert_controls_are_large_enough(page)
    screenshot(page, "identity-staff-enrol")
    context.close()


def assert_controls_are_large_enough(page):
    """Every field and button of the staff desk's own pages is at least 44 × 44 px."""
    controls = page.locator("#content input:visible, #content button:visible, #content a.button:visible")
    sizes = {
        control.evaluate("control => control.name || control.textContent"): control.bounding_box()
        for control in controls.all()
    }
    assert sizes
    small = {name: (box["width"], box["height"]) for name, box in sizes.items() if min(box["width"], box["height"]) < 44}
    assert not small, small
