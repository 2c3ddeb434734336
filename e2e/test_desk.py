"""The hall clerk's desk at 1366 × 768: from the count on the home page to three first reviews in a row,
a return listing what is missing, then an approval and a payment with the bank's voucher.

It counts the clicks each decision takes from the queue (the target: a routine decision in at most 3) and
checks that nothing of the queue or the application page falls off the right edge of the screen.
"""

import json

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from e2e.conftest import ARTIFACTS, STAFF, audit, screenshot, staff_page
from withdrawals.models import WithdrawalApplication

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

Status = WithdrawalApplication.Status


@pytest.fixture
def demo_desk(db, storage):
    call_command("seed_demo", force=True)


class Clicks:
    """Count the clicks a clerk makes, per decision."""

    def __init__(self):
        self.count = 0

    def __call__(self, locator):
        locator.click()
        self.count += 1

    def take(self):
        count, self.count = self.count, 0
        return count


def nothing_falls_off(page):
    """Fail when the page scrolls sideways or an element of the queue or the panel ends past 1366 px."""
    assert page.evaluate("document.documentElement.scrollWidth") <= STAFF["width"], page.url
    rightmost = page.evaluate(
        """() => Math.max(0, ...[...document.querySelectorAll(
            '#result_list th, #result_list td, .desk__panel, .desk__panel button, .overdue-badge')]
            .map(element => element.getBoundingClientRect().right))"""
    )
    assert rightmost <= STAFF["width"], f"{page.url}: something ends at {rightmost}px"


def status_cells_on_one_line(page):
    """Each status is one line: its text is no taller than one line of the deadline beside it."""
    heights = page.locator("#result_list td.field-status").evaluate_all("""cells => cells.map(cell => {
        const range = document.createRange(); range.selectNodeContents(cell);
        return range.getClientRects().length; })""")
    assert heights and max(heights) == 1, heights


def test_reviewer_and_approver_work_through_the_queue(live_server, browser, demo_desk):
    base_url = live_server.url
    clicks, counts = Clicks(), {}
    waiting = WithdrawalApplication.objects.filter(region__code="330200", status=Status.SUBMITTED)
    expected = waiting.count()

    page = staff_page(browser, base_url, "reviewer_nb")
    home = page.locator(".work-home")
    expect(home).to_contain_text(f"提取待初审 {expected} 件")
    expect(home.locator(".overdue-badge").first).to_be_visible()
    audit(page)
    screenshot(page, "desk-1-home-reviewer_nb")

    page.get_by_role("link", name="提取待初审").click()
    screenshot(page, "desk-2-queue-1366")
    expect(page.locator("#result_list tbody tr")).to_have_count(expected)
    expect(page.locator("#result_list .overdue-badge").first).to_be_in_viewport()
    nothing_falls_off(page)
    status_cells_on_one_line(page)
    audit(page)
    screenshot(page, "desk-2-queue-1366")
    # The earliest deadline first: the overdue ones lead the queue.
    first_row = page.locator("#result_list tbody tr").first
    expect(first_row.locator(".overdue-badge")).to_be_visible()

    clicks(first_row.locator(".field-number a"))
    panel = page.locator(".desk__panel")
    expect(panel).to_be_in_viewport()
    expect(page.locator(".material img").first).to_be_visible()
    nothing_falls_off(page)
    audit(page)
    screenshot(page, "desk-3-application-1366")
    clicks(panel.get_by_role("button", name="初审通过"))
    expect(page.locator(".messagelist .success")).to_contain_text("已初审通过")
    counts["first review (from the queue)"] = clicks.take()

    for turn in (2, 3):
        clicks(page.get_by_role("link", name="办理下一件"))
        screenshot(page, f"desk-3-next-{turn}")
        clicks(page.locator(".desk__panel").get_by_role("button", name="初审通过"))
        expect(page.locator(".messagelist .success")).to_contain_text("已初审通过")
        counts[f"first review {turn} (办理下一件)"] = clicks.take()

    clicks(page.get_by_role("link", name="办理下一件"))
    clicks(page.locator(".desk__panel").get_by_role("link", name="退回补正"))
    clicks(page.locator("input[name=missing_kinds]").first)
    page.get_by_label("补正说明").fill("照片模糊，请重新拍摄。")
    audit(page)
    screenshot(page, "desk-4-return-1366")
    clicks(page.locator("input[type=submit].default"))
    expect(page.locator(".messagelist .success")).to_contain_text("已退回补正")
    counts["return listing what is missing"] = clicks.take()
    page.context.close()
    assert WithdrawalApplication.objects.filter(
        region__code="330200", status=Status.FIRST_REVIEWED, first_reviewer__username="reviewer_nb"
    ).count() >= 3

    page = staff_page(browser, base_url, "approver_nb")
    expect(page.locator(".work-home")).to_contain_text("提取待复核")
    screenshot(page, "desk-5-home-approver_nb")
    page.get_by_role("link", name="提取待复核").click()
    nothing_falls_off(page)
    clicks(page.locator("#result_list tbody tr .field-number a").first)
    number = page.locator(".field-number .readonly").inner_text().strip()
    clicks(page.locator(".desk__panel").get_by_role("button", name="复核通过"))
    expect(page.locator(".messagelist .success")).to_contain_text("已复核通过")
    counts["approval (from the queue)"] = clicks.take()

    page.locator(".desk__panel").get_by_label("银行流水号").fill("CCB20261205000123")
    nothing_falls_off(page)
    screenshot(page, "desk-6-payment-1366")
    clicks(page.locator(".desk__panel").get_by_role("button", name="确认到账"))
    expect(page.locator(".messagelist .success")).to_contain_text("已确认到账")
    counts["payment with the voucher"] = clicks.take()
    audit(page)
    screenshot(page, "desk-7-paid-1366")
    page.context.close()

    paid = WithdrawalApplication.objects.get(number=number)
    assert (paid.status, paid.voucher_number) == (Status.PAID, "CCB20261205000123")

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "desk-clicks.json").write_text(json.dumps(counts, ensure_ascii=False, indent=2))
    routine = [count for name, count in counts.items() if not name.startswith("return")]
    assert max(routine) <= 3, counts
