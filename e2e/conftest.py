"""Browser tests: the system's Chromium driven by Playwright, pages audited with axe."""

import contextlib
import os
import re
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = Path(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    # Root in a container has no user namespaces for the sandbox; the machine has no outside network.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 900}
BLOCKING_IMPACTS = ("serious", "critical")


def pytest_collection_modifyitems(config, items):
    """Skip the browser tests, saying why, where Chromium or Playwright is missing; under CI, fail them.

    CI installs Chromium itself (.ci/run): a run there without it must not pass with the browser tests
    quietly skipped.
    """
    reason = _missing_browser_reason()
    if reason is None:
        return
    if _in_ci():
        return
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_runtest_setup(item):
    """Under CI, fail a browser test that cannot run, before any of its fixtures start."""
    if _in_ci() and item.get_closest_marker("e2e") and (reason := _missing_browser_reason()):
        pytest.fail(f"CI=true requires the browser tests, but {reason}", pytrace=False)


def _in_ci():
    return os.environ.get("CI", "").lower() == "true"


def _missing_browser_reason():
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        return (
            f"browser tests need Chromium at {CHROMIUM} (install Debian's 'chromium' package, "
            "or point E2E_CHROMIUM at the executable)"
        )
    try:
        import playwright.sync_api  # noqa: F401
        import axe_playwright_python  # noqa: F401
    except ImportError:
        return "browser tests need playwright and axe-playwright-python (pip install -r requirements.txt)"
    return None


class _OneRequestAtATime:
    """The live server for an in-memory SQLite database: one request at a time, in the server's thread.

    There the server's threads all share the test's one SQLite connection (SQLite cannot open the same
    in-memory database twice), and two requests at once (a page and the material images it shows) use it
    from two threads together: SQLite answers "bad parameter or other API misuse" and the page fails. A
    server that is not threaded answers with `Connection: close` and takes the browser's requests in turn.
    Any other database gets Django's threaded server, a connection per thread.
    """

    def __new__(cls, *args, connections_override=None, **kwargs):
        from django.core.servers.basehttp import ThreadedWSGIServer, WSGIServer

        if connections_override:
            return WSGIServer(*args, **kwargs)
        return ThreadedWSGIServer(*args, connections_override=connections_override, **kwargs)


@pytest.fixture(scope="session", autouse=True)
def _live_server_safe_for_sqlite():
    from django.test.testcases import LiveServerThread

    threaded = LiveServerThread.server_class
    LiveServerThread.server_class = _OneRequestAtATime
    yield
    LiveServerThread.server_class = threaded


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    # Started and stopped around each test, not once a session: while Playwright's event loop runs in
    # this thread, asgiref hands Django a different database connection, and the test-database machinery
    # (the flush and serialized_rollback between transactional tests) must find the original one again.
    with _orm_allowed_beside_an_event_loop(), sync_playwright() as playwright:
        # The system's Chromium: `playwright install` downloads its own build and cannot work offline.
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()
        # Close the connection Django opened while the loop ran, or PostgreSQL refuses to drop the
        # test database at the end ("being accessed by other users").
        connections.close_all()


@contextlib.contextmanager
def _orm_allowed_beside_an_event_loop():
    """Let the test thread use the ORM while Playwright's event loop runs in it, and only then.

    Django refuses ORM calls from a thread with a running loop unless told the code is safe; here it is,
    the loop only drives the browser. Set for the browser's lifetime and put back afterwards, so no other
    test (the deploy check, for one) runs with it.
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _open_page(browser, viewport, **options):
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai", **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    violations = []
    page.on("console", lambda message: _record_csp_violation(message, violations))
    return context, page, violations


def _record_csp_violation(message, violations):
    if message.type == "error" and "Content Security Policy" in message.text:
        violations.append(message.text)


@pytest.fixture
def phone(browser):
    """A page in a 360 px wide phone-sized window."""
    context, page, csp_violations = _open_page(browser, PHONE, is_mobile=True, has_touch=True)
    yield page
    context.close()
    if csp_violations:
        pytest.fail("the page broke its Content-Security-Policy:\n" + "\n".join(csp_violations))


@pytest.fixture
def desktop(browser):
    """A page in a desktop-sized window."""
    context, page, csp_violations = _open_page(browser, DESKTOP)
    yield page
    context.close()
    if csp_violations:
        pytest.fail("the page broke its Content-Security-Policy:\n" + "\n".join(csp_violations))


def audit(page):
    """Run axe on the page and fail on any serious or critical violation, listing each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    blocking = [v for v in results.response["violations"] if v["impact"] in BLOCKING_IMPACTS]
    if blocking:
        lines = [f"accessibility violations on {page.url}:"]
        for violation in blocking:
            targets = "; ".join(", ".join(node["target"]) for node in violation["nodes"])
            lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} -> {targets}")
        pytest.fail("\n".join(lines))
    return results


def assert_fits_the_width(page, width=PHONE["width"]):
    """Fail when the page scrolls sideways: nothing may be wider than the window."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width}px wide in a {width}px window"


def check_phone_page(page, name, large_text=False):
    """Audit a phone page with axe, make sure it fits the width, and keep a screenshot named for the text size."""
    from playwright.sync_api import expect

    if large_text:
        expect(page.locator("html")).to_have_class("large-text")
    audit(page)
    assert_fits_the_width(page)
    screenshot(page, f"{name}{'-large-text' if large_text else ''}")


def screenshot(page, name):
    """Save a full-page screenshot to e2e/artifacts/<name>.png for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# Logins with their proofs -----------------------------------------------------------------------------

STAFF_PASSWORD = "Demo@2026"
STAFF = {"width": 1366, "height": 768}


def totp_for(username):
    """Return a TOTP code for the demo staff login `username` that its device has not accepted yet.

    django-otp accepts a code once per 30-second step and one step either side; a test that logs the
    same clerk in several times takes the next step, waiting for the clock when it has run ahead.
    """
    import time

    from django_otp.oath import TOTP, hotp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    clock = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    wanted = max(clock.t(), device.last_t + 1)
    while wanted > clock.t() + device.tolerance:
        time.sleep(1)
    return f"{hotp(device.bin_key, wanted, digits=device.digits):0{device.digits}d}"


def staff_logs_in(page, base_url, username):
    """Log a demo clerk in to the admin with the password and the authenticator's code."""
    page.goto(f"{base_url}/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(STAFF_PASSWORD)
    page.locator("#id_otp_token").fill(totp_for(username))
    page.locator("input[type=submit]").click()
    from playwright.sync_api import expect

    expect(page.locator("#site-name")).to_be_visible()
    expect(page.locator("#user-tools")).to_be_visible()


def staff_page(browser, base_url, username):
    """Return a new 1366 × 768 window with `username` logged in to the admin."""
    context = browser.new_context(viewport=STAFF, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    page = context.new_page()
    staff_logs_in(page, base_url, username)
    return page


def prove_phone(page):
    """Enter the code texted to the reserved phone on the step-up page, which then carries on."""
    from playwright.sync_api import expect

    from accounts import sms

    expect(page.get_by_role("heading", level=1)).to_have_text("验证预留手机号")
    page.get_by_label("短信验证码").fill(sms.outbox[-1].code)
    page.get_by_role("button", name="验证并继续办理").click()
