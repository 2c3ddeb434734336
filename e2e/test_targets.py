"""Every standalone control on every citizen page is at least 44 × 44 px, at 360 × 740, in both text sizes.

A link inside a running sentence is exempt (as in WCAG 2.5.5); a checkbox or radio counts with its label,
which takes the tap too. The test walks the pages and fails naming each control that is too small.
"""

import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from django.utils import timezone

from accounts.models import Notice, Person
from e2e.conftest import audit, screenshot
from sharing.models import Binding

ZHANG_WEI = "330203198501011238"
PASSWORD = "Demo@2026"
SCREEN = {"width": 360, "height": 740}
SMALLEST = 44

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Pages this change added or rebuilt: audited with axe here too, and kept as screenshots.
PAGES_NEW_HERE = {
    "/account/", "/notices/", "/withdrawals/new/", "/withdrawals/new/settle_abroad/", "/transfers/new/",
    f"/account/statement/{timezone.localdate().year}/",
}

TEXT_SIZES = [pytest.param(False, id="normal"), pytest.param(True, id="large-text")]

# Returns a description of every standalone control smaller than the minimum.
TOO_SMALL = """
(smallest) => {
  const inSentence = (el) => {
    const block = el.closest("p, li, dd, td, th, label, legend, h1, h2, h3, span.note");
    if (!block) {
      return false;
    }
    return block.textContent.replace(/\\s+/g, "").length > el.textContent.replace(/\\s+/g, "").length;
  };
  const target = (el) => {
    if (el.matches("input[type=checkbox], input[type=radio]")) {
      return el.closest(".checkbox-field, .radio-field, label") || (el.labels && el.labels[0]) || el;
    }
    return el;
  };
  const found = [];
  for (const el of document.querySelectorAll(
      "a[href], button, input:not([type=hidden]), select, textarea, summary")) {
    const style = getComputedStyle(el);
    const hidden = style.visibility === "hidden" || style.display === "none";
    if (hidden || el.closest(".visually-hidden, .skip-link")) {
      continue;
    }
    if (el.matches("a") && inSentence(el)) {
      continue;
    }
    const box = target(el).getBoundingClientRect();
    if (box.width === 0 && box.height === 0) {
      continue;
    }
    if (box.width < smallest || box.height < smallest) {
      const label = el.textContent || el.getAttribute("aria-label") || el.name || el.id || "";
      const name = label.trim().slice(0, 30);
      found.push(`${el.tagName.toLowerCase()} "${name}" ${Math.round(box.width)}×${Math.round(box.height)}`);
    }
  }
  return found;
}
"""


@pytest.fixture
def demo_data(db, storage):
    call_command("seed_demo", force=True, stdout=io.StringIO())


def citizen_pages():
    binding = Binding.objects.filter(payer__id_number=ZHANG_WEI).first()
    notice = Notice.objects.filter(person__id_number=ZHANG_WEI).first()
    pages = [
        "/account/", "/account/profile/", "/account/access-log/", "/notices/", "/sharing/",
        "/sharing/received/", "/sharing/bind/", "/withdrawals/", "/withdrawals/new/",
        "/withdrawals/new/settle_abroad/", "/transfers/", "/transfers/new/", "/no-such-page/",
        f"/account/statement/{timezone.localdate().year}/",
    ]
    if binding is not None:
        pages += [f"/sharing/{binding.pk}/", f"/sharing/{binding.pk}/end/"]
    if notice is not None:
        pages.append(f"/notices/{notice.pk}/")
    return pages


@pytest.mark.parametrize("large_text", TEXT_SIZES)
def test_every_standalone_control_is_big_enough(live_server, browser, demo_data, large_text):
    context = browser.new_context(
        viewport=SCREEN, is_mobile=True, has_touch=True, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(10_000)
    if large_text:
        context.add_cookies([{"name": "text_size", "value": "large", "url": live_server.url}])
    page = context.new_page()
    base_url = live_server.url
    small = {}
    for path in ("/", "/accounts/login/", "/accounts/register/", "/accounts/password-reset/"):
        page.goto(f"{base_url}{path}")
        small[path] = page.evaluate(TOO_SMALL, SMALLEST)
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("身份证号码").fill(ZHANG_WEI)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("button", name="退出登录")).to_be_attached()
    assert Person.objects.filter(id_number=ZHANG_WEI).exists()
    for path in citizen_pages():
        page.goto(f"{base_url}{path}")
        small[path] = page.evaluate(TOO_SMALL, SMALLEST)
        if path in PAGES_NEW_HERE:
            audit(page)
            name = path.strip("/").replace("/", "-")
            screenshot(page, f"phone-{name}{'-large-text' if large_text else ''}")
    context.close()
    too_small = {path: found for path, found in small.items() if found}
    assert not too_small, "controls under 44 × 44 px:\n" + "\n".join(
        f"{path}: {'; '.join(found)}" for path, found in too_small.items()
    )
