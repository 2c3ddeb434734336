"""A withdrawal from start to payment: the citizen on a phone, two clerks at their desks in the admin."""

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from PIL import Image
from playwright.sync_api import expect

from accounts import ledger
from accounts.models import Account, JournalTransaction, Person
from accounts.services import system_account
from e2e.conftest import audit, prove_phone, screenshot, staff_page
from withdrawals.models import WithdrawalApplication

DEMO_ID_NUMBER = "330203198501011238"
DEMO_PASSWORD = "Demo@2026"

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def demo_data(db, storage):
    call_command("seed_demo", force=True)


def photo(name):
    buffer = io.BytesIO()
    Image.new("RGB", (400, 250), "lightblue").save(buffer, "PNG")
    return {"name": name, "mimeType": "image/png", "buffer": buffer.getvalue()}


def citizen_logs_in(page, base_url):
    page.goto(f"{base_url}/accounts/login/?next=/withdrawals/")
    page.get_by_label("身份证号码").fill(DEMO_ID_NUMBER)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()


def desk(browser, base_url, username):
    """Return an admin page logged in as `username` (password and authenticator code), 1366 × 768."""
    return staff_page(browser, base_url, username)


def clerk_records_that_the_enrolment_stopped(browser, base_url):
    page = desk(browser, base_url, "reviewer_nb")
    page.goto(f"{base_url}/admin/accounts/enrolment/?q={DEMO_ID_NUMBER}")
    page.locator("input[name=_selected_action]").first.check()
    page.locator("select[name=action]").select_option("stop_enrolments")
    page.locator("button[name=index], .actions button[type=submit]").first.click()
    page.get_by_role("button", name="确认记录停保").click()
    expect(page.locator(".messagelist")).to_contain_text("已记录 1 条参保登记停保")
    screenshot(page, "withdrawal-0-enrolment-stopped")
    page.context.close()


def decide(page, base_url, number, button, **fields):
    """Open the application from the clerk's queue and take the decision from its page, filling `fields`."""
    page.goto(f"{base_url}/admin/withdrawals/withdrawalapplication/?q={number}")
    page.get_by_role("link", name=number).click()
    for label, value in fields.items():
        page.locator(".desk__panel").get_by_label(label).fill(value)
    page.locator(".desk__panel").get_by_role("button", name=button, exact=True).click()
    expect(page.locator(".messagelist .success")).to_be_visible()


def money_went_to_the_bank_once(number):
    application = WithdrawalApplication.objects.select_related("account", "region").get(number=number)
    assert application.holder == Person.objects.get(id_number=DEMO_ID_NUMBER)
    region = application.region
    # The demo desk has applications of its own: what stays payable is theirs, what went out includes ours.
    in_region = WithdrawalApplication.objects.filter(region=region)
    approved = sum(a.amount for a in in_region.filter(status=WithdrawalApplication.Status.APPROVED))
    paid = sum(a.amount for a in in_region.filter(status=WithdrawalApplication.Status.PAID))
    assert system_account(region, Account.Kind.WITHDRAWALS_PAYABLE).balance == approved
    assert system_account(region, Account.Kind.PAID_OUT).balance == paid
    assert (application.amount, application.status) == (Decimal("2000.00"), WithdrawalApplication.Status.PAID)
    withdrawals = JournalTransaction.objects.filter(
        kind=JournalTransaction.Kind.WITHDRAWAL, entries__account=application.account
    ).distinct()
    assert list(withdrawals) == [application.approval_journal]


def reviewer_sees_the_bank_number_masked(browser, base_url, number):
    reviewer = desk(browser, base_url, "reviewer_nb")
    reviewer.goto(f"{base_url}/admin/withdrawals/withdrawalapplication/?queue=all&q={number}")
    reviewer.get_by_role("link", name=number).click()
    expect(reviewer.get_by_text("***************0123")).to_be_visible()
    expect(reviewer.locator("#content")).not_to_contain_text("6222021234567890123")
    screenshot(reviewer, "withdrawal-11-reviewer-masked")
    reviewer.context.close()


def test_zhang_wei_withdraws_his_balance_after_settling_abroad(live_server, phone, browser, demo_data):
    base_url = live_server.url
    clerk_records_that_the_enrolment_stopped(browser, base_url)

    page = phone
    citizen_logs_in(page, base_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("个人账户余额提取")
    audit(page)
    screenshot(page, "withdrawal-1-list")

    page.get_by_role("link", name="申请提取").click()
    expect(page.get_by_text("¥2,000.00")).to_be_visible()
    audit(page)
    screenshot(page, "withdrawal-2-reasons")

    page.get_by_role("link", name="选择“出国（境）定居”并填写申请").click()
    page.get_by_label("开户银行").fill("中国工商银行宁波分行")
    page.get_by_label("银行账号").fill("6222 0212 3456 7890 123")
    expect(page.get_by_label("银行账户户名")).to_have_value("张伟")
    audit(page)
    screenshot(page, "withdrawal-3-form")
    page.get_by_role("button", name="创建申请").click()

    expect(page.get_by_text("还缺少：身份证、出国（境）定居证明")).to_be_visible()
    number = page.get_by_role("heading", level=1).inner_text().split()[-1]
    page.get_by_label("选择身份证文件").set_input_files(photo("身份证.png"))
    page.get_by_role("button", name="上传身份证", exact=True).click()
    page.get_by_label("选择出国（境）定居证明文件").set_input_files(photo("定居证明.png"))
    page.get_by_role("button", name="上传出国（境）定居证明", exact=True).click()
    expect(page.get_by_text("材料已齐全")).to_be_visible()
    audit(page)
    screenshot(page, "withdrawal-4-materials")

    page.get_by_label("我承诺所提交材料真实有效，如有虚假，愿承担法律责任。").check()
    page.get_by_role("button", name="提交申请").click()
    prove_phone(page)
    expect(page.locator(".facts")).to_contain_text("已提交（待受理）")
    audit(page)
    screenshot(page, "withdrawal-5-submitted")

    reviewer = desk(browser, base_url, "reviewer_nb")
    decide(reviewer, base_url, number, "初审通过")
    screenshot(reviewer, "withdrawal-6-first-reviewed")
    reviewer.context.close()

    approver = desk(browser, base_url, "approver_nb")
    decide(approver, base_url, number, "复核通过")
    expect(approver.get_by_text("6222021234567890123")).to_be_visible()
    screenshot(approver, "withdrawal-7-approved")
    decide(approver, base_url, number, "确认到账", 银行流水号="ICBC2026112400017")
    screenshot(approver, "withdrawal-8-paid")
    approver.context.close()

    page.reload()
    expect(page.locator(".facts")).to_contain_text("已到账")
    expect(page.locator(".facts")).to_contain_text("¥2,000.00")
    audit(page)
    screenshot(page, "withdrawal-9-paid")

    page.goto(f"{base_url}/account/")
    expect(page.locator(".balance")).to_have_text("¥0.00")
    audit(page)
    screenshot(page, "withdrawal-10-balance")

    money_went_to_the_bank_once(number)
    reviewer_sees_the_bank_number_masked(browser, base_url, number)

    # Every yuan accounted for: the balance went to the payable account and out to the bank.
    # audit_ledger raises CommandError naming each discrepancy; its wording is not this test's business.
    call_command("audit_ledger", stdout=io.StringIO())
    assert ledger.audit() == []
