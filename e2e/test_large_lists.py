"""A list longer than the pages the admin offers, as a clerk reads it at 1366 × 768.

At a province's size the lists count no further than LargeListPaginator.limit rows; here the limit is lowered to
a few rows so that the demo data is "longer than the pages" and the clerk sees what the list then says.
"""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.large_lists import LargeListPaginator
from e2e.conftest import STAFF, audit, screenshot, staff_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def demo(db, storage):
    call_command("seed_demo", force=True)


def test_a_list_longer_than_its_pages_says_how_to_narrow_it(live_server, browser, demo, monkeypatch):
    monkeypatch.setattr(LargeListPaginator, "limit", 3)
    page = staff_page(browser, live_server.url, "reviewer_nb")
    page.goto(f"{live_server.url}/admin/accounts/person/")

    paginator = page.locator(".paginator")
    expect(paginator).to_contain_text("超过 3 条参保人员，请用搜索或右侧筛选缩小范围")
    # Three rows are counted, so one page of them; no link to a page beyond what was counted.
    expect(page.locator("#result_list tbody tr")).not_to_have_count(0)
    # Nothing claims a total it did not count, and no link offers to count every filter's options.
    expect(page.locator("#toolbar")).not_to_contain_text("条结果")
    expect(page.get_by_text("显示计数")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= STAFF["width"]
    audit(page)
    screenshot(page, "admin-list-longer-than-its-pages-1366")

    # The search narrows it: one exact ID number, one person, counted exactly.
    page.locator("#searchbar").fill("330203198501011238")
    page.keyboard.press("Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(paginator).not_to_contain_text("超过")
    expect(page.locator("#toolbar")).to_contain_text("1 条结果")
    screenshot(page, "admin-list-narrowed-by-search-1366")
