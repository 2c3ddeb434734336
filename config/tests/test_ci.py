"""Under CI=true a browser test that cannot run fails the run instead of being skipped."""

import os
import subprocess
import sys

from django.conf import settings


def run_one_browser_test(**env_overrides):
    env = {**os.environ, "E2E_CHROMIUM": "/nonexistent/chromium", "DATABASE_URL": "", **env_overrides}
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-q",
         "e2e/test_account.py", "-k", "test_demo_citizen_logs_in_and_logs_out"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=300,
    )


def test_without_chromium_a_browser_test_is_skipped_outside_ci():
    result = run_one_browser_test(CI="")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped" in result.stdout


def test_without_chromium_a_browser_test_fails_under_ci():
    result = run_one_browser_test(CI="true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "CI=true requires the browser tests" in result.stdout
