"""陈明 moves from 东莞 to 宁波: two regions' clerks in the admin, the citizen on a phone."""

import io
from decimal import Decimal

import pytest

pytest.importorskip(
    "playwright.sync_api", reason="browser tests need playwright (pip install -r requirements.txt)"
)

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

from accounts import ledger  # noqa: E402
from accounts.models import Account, Enrolment, JournalTransaction, Person, Region, User  # noqa: E402
from accounts.services import (  # noqa: E402
    personal_account_of,
    record_enrolment,
    stop_enrolment,
    system_account,
)
from e2e.conftest import assert_fits_the_width, audit, prove_phone, screenshot, staff_page  # noqa: E402
from transfers import services  # noqa: E402
from transfers.models import TransferApplication  # noqa: E402

CHEN_MING = "441900199008083318"
DEMO_PASSWORD = "Demo@2026"

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

TEXT_SIZES = [pytest.param(False, id="normal"), pytest.param(True, id="large-text")]


@pytest.fixture
def demo_data(db, storage):
    # Tests run with DEBUG off, where seed_demo asks for --force.
    call_command("seed_demo", force=True)


def photo(name):
    buffer = io.BytesIO()
    Image.new("RGB", (400, 250), "lightblue").save(buffer, "PNG")
    return {"name": name, "mimeType": "image/png", "buffer": buffer.getvalue()}


def desk(browser, base_url, username):
    """Return an admin page logged in as `username` (password and authenticator code), 1366 × 768."""
    return staff_page(browser, base_url, username)


def dongguan_records_the_stop(browser, base_url):
    page = desk(browser, base_url, "reviewer_dg")
    page.goto(f"{base_url}/admin/accounts/enrolment/?q={CHEN_MING}")
    page.locator("input[name=_selected_action]").first.check()
    page.locator("select[name=action]").select_option("stop_enrolments")
    page.locator("button[name=index], .actions button[type=submit]").first.click()
    page.get_by_role("button", name="确认记录停保").click()
    expect(page.locator(".messagelist")).to_contain_text("已记录 1 条参保登记停保")
    screenshot(page, "transfer-0a-dongguan-stop")
    page.context.close()


def ningbo_records_the_enrolment(browser, base_url):
    page = desk(browser, base_url, "reviewer_nb")
    page.goto(f"{base_url}/admin/accounts/enrolment/add/")
    page.get_by_label("身份证号码").fill(CHEN_MING)
    page.get_by_label("参保地").select_option(label="宁波市（330200）")
    page.get_by_label("险种").select_option(label="职工医保")
    page.get_by_label("在职/退休").select_option(label="在职")
    page.get_by_label("月缴费基数（元）").fill("7500.00")
    page.get_by_label("缴费年限（月）").fill("0")
    page.get_by_label("参保日期").fill("2026-11-01")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".messagelist")).to_contain_text("已记录参保登记")
    screenshot(page, "transfer-0b-ningbo-enrolment")
    page.context.close()


def decide(browser, base_url, username, number, offered, screenshot_name):
    """Open the transfer at `username`'s desk, check which steps it offers, and take the first."""
    page = desk(browser, base_url, username)
    page.goto(f"{base_url}/admin/transfers/transferapplication/?q={number}")
    page.get_by_role("link", name=number).click()
    panel = page.locator(".desk__panel")
    expect(panel.locator(".desk__offered")).to_have_text(offered)
    first = panel.locator(".desk__offered").first
    # A step that asks for nothing but a note is taken from the application page itself.
    on_its_own_page = first.evaluate("element => element.tagName") == "A"
    first.click()
    if on_its_own_page:
        page.locator("input[type=submit].default").click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    screenshot(page, screenshot_name)
    page.context.close()


def check(page, name, large_text=False):
    """Audit the page with axe, make sure it fits a phone's width, and keep a screenshot."""
    if large_text:
        expect(page.locator("html")).to_have_class("large-text")
    audit(page)
    assert_fits_the_width(page)
    screenshot(page, f"transfer-{name}{'-large-text' if large_text else ''}")


def the_money_moved_once(number):
    application = TransferApplication.objects.select_related("old_account", "new_account").get(number=number)
    assert application.status == TransferApplication.Status.COMPLETED
    assert application.old_account.balance == Decimal("0.00")
    assert application.new_account.balance == Decimal("1500.00")
    # The demo desk's own transfers: what is still in transit is theirs alone.
    in_transit = TransferApplication.objects.filter(
        old_region=application.old_region, status=TransferApplication.Status.TRANSFERRED_OUT
    )
    assert system_account(application.old_region, Account.Kind.TRANSIT).balance == sum(
        (other.amount for other in in_transit), Decimal("0.00")
    )
    for kind, journal, account in (
        (JournalTransaction.Kind.TRANSFER_OUT, application.out_journal, application.old_account),
        (JournalTransaction.Kind.TRANSFER_IN, application.in_journal, application.new_account),
    ):
        assert list(JournalTransaction.objects.filter(kind=kind, entries__account=account)) == [journal]
    chen_ming = Person.objects.get(id_number=CHEN_MING)
    assert personal_account_of(chen_ming).region.code == "330200"
    assert application.old_enrolment.status == Enrolment.Status.TRANSFERRED_OUT
    assert application.new_enrolment.contribution_months == 120


def test_chen_ming_moves_his_insurance_from_dongguan_to_ningbo(live_server, phone, browser, demo_data):
    base_url = live_server.url
    dongguan_records_the_stop(browser, base_url)
    ningbo_records_the_enrolment(browser, base_url)

    page = phone
    page.goto(f"{base_url}/accounts/login/?next=/transfers/")
    page.get_by_label("身份证号码").fill(CHEN_MING)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("医保关系转移接续")
    check(page, "1-list")

    page.get_by_role("link", name="申请转移").click()
    expect(page.get_by_label("转出地（原参保地）")).to_have_value(str(region_pk("441900")))
    expect(page.get_by_label("转入地（现参保地）")).to_have_value(str(region_pk("330200")))
    expect(page.get_by_text("目前还不能申请")).to_have_count(0)
    page.get_by_label("转移原因").select_option(label="工作调动（就业地变更）")
    page.get_by_label("身份证（正反面）图片").set_input_files(photo("身份证.png"))
    page.get_by_label("我承诺所填信息和所提交的身份证件真实有效，如有虚假，愿承担法律责任。").check()
    check(page, "2-form")
    page.get_by_role("button", name="提交申请").click()
    prove_phone(page)

    expect(page.locator(".facts")).to_contain_text("已提交（待转入地受理）")
    number = page.get_by_role("heading", level=1).inner_text().split()[-1]
    check(page, "3-submitted")

    decide(browser, base_url, "reviewer_nb", number, ["受理", "退回补正", "不予受理"], "transfer-4-nb-accept")
    page.reload()
    expect(page.locator(".timeline-deadlines")).to_contain_text("转出期限")
    check(page, "5-accepted")

    decide(browser, base_url, "reviewer_dg", number, ["办理转出", "退回补正", "不予受理"], "transfer-6-out")
    decide(browser, base_url, "reviewer_nb", number, ["办理转入"], "transfer-7-nb-in")

    page.reload()
    expect(page.locator(".facts")).to_contain_text("已办结")
    expect(page.locator(".facts")).to_contain_text("¥1,500.00")
    check(page, "8-completed")

    page.get_by_role("link", name="查看和打印参保凭证").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("参保凭证")
    expect(page.get_by_role("button", name="打印")).to_be_visible()
    check(page, "9-record")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载 PDF").click()
    assert download.value.suggested_filename == f"transfer-record-{number}.pdf"

    page.goto(f"{base_url}/account/")
    expect(page.locator(".balance")).to_have_text("¥1,500.00")
    expect(page.locator(".facts").first).to_contain_text("宁波市")
    check(page, "10-balance-in-ningbo")

    # His 东莞 account is still there, with where its money went and its statement.
    accounts = page.get_by_role("region", name="我的全部个人账户")
    expect(accounts).to_contain_text(f"转出至宁波市 {number}")
    accounts.get_by_role("link", name="查看东莞市账户的明细").click()
    expect(page.get_by_role("heading", name="东莞市账户余额")).to_be_visible()
    expect(page.locator(".balance")).to_have_text("¥0.00")
    expect(page.get_by_role("table")).to_contain_text("-¥1,500.00")
    check(page, "11-dongguan-statement")

    page.goto(f"{base_url}/notices/")
    expect(page.get_by_text("转移接续已办结")).to_be_visible()

    # The same pages in large-text mode (长辈模式).
    page.context.add_cookies([{"name": "text_size", "value": "large", "url": base_url}])
    application = TransferApplication.objects.get(number=number)
    pages = {
        "list": "/transfers/", "form": "/transfers/new/", "detail": f"/transfers/{application.pk}/",
        "record": f"/transfers/{application.pk}/record/",
    }
    for name, path in pages.items():
        page.goto(f"{base_url}{path}")
        check(page, name, large_text=True)

    the_money_moved_once(number)
    # Every yuan accounted for: out of 东莞's account into transit, and out of transit into 宁波's.
    # audit_ledger raises CommandError naming each discrepancy.
    call_command("audit_ledger", stdout=io.StringIO())
    assert ledger.audit() == []


def region_pk(code):
    return Region.objects.get(code=code).pk


@pytest.mark.parametrize("large_text", TEXT_SIZES)
def test_a_returned_transfer_and_its_forms_pass_the_audit(live_server, phone, demo_data, large_text):
    chen_ming = Person.objects.get(id_number=CHEN_MING)
    stop_enrolment(enrolment=chen_ming.enrolments.get())
    ningbo, dongguan = Region.objects.get(code="330200"), Region.objects.get(code="441900")
    record_enrolment(
        person=chen_ming, region=ningbo, insurance_type=Enrolment.InsuranceType.EMPLOYEE,
        employment=Enrolment.Employment.IN_SERVICE, contribution_base=Decimal("7500.00"),
    )
    application = services.apply_for_transfer(
        applicant=chen_ming, old_region=dongguan, new_region=ningbo, reason="work", actor=chen_ming.user,
        id_card=SimpleUploadedFile("身份证.png", photo("身份证.png")["buffer"]),
    )
    services.return_transfer(
        application=application, actor=User.objects.get(username="reviewer_nb"),
        note="身份证图片不清晰，请重新拍摄。", replace_id_card=True,
    )

    page, base_url = phone, live_server.url
    if large_text:
        page.context.add_cookies([{"name": "text_size", "value": "large", "url": base_url}])
    page.goto(f"{base_url}/accounts/login/?next=/transfers/{application.pk}/")
    page.get_by_label("身份证号码").fill(CHEN_MING)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="需要补正")).to_be_visible()
    check(page, "returned", large_text)

    # A refused resubmission shows its error summary, which must pass too.
    page.get_by_label("我承诺所填信息和所提交的身份证件真实有效，如有虚假，愿承担法律责任。").check()
    page.get_by_role("button", name="重新提交").click()
    prove_phone(page)
    expect(page.locator(".error-summary")).to_contain_text("请先上传新的图片")
    check(page, "resubmit-refused", large_text)

    page.get_by_label("新的身份证（正反面）图片").set_input_files(photo("新身份证.png"))
    page.get_by_role("button", name="上传并替换原图片").click()
    expect(page.get_by_text("身份证图片已更换。")).to_be_visible()
    page.get_by_role("link", name="撤销申请").click()
    check(page, "cancel", large_text)
