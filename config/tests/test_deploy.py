"""Production settings: what `check --deploy` says, the secret key, the password hasher, static files."""

import json
import os
import runpy
import secrets
import subprocess
import sys

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher

import config.settings


# Only what a production host would have; nothing test-only (DJANGO_ALLOW_ASYNC_UNSAFE, for one) leaks in.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "DATABASE_URL")


def run_django(*args, **env_overrides):
    """Run manage.py in a fresh interpreter with a production environment plus `env_overrides`."""
    env = {key: os.environ[key] for key in PASSED_THROUGH if key in os.environ}
    env |= {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "portal.example.cn",
        "SMS_BACKEND": "accounts.sms_tencent.TencentCloudSmsBackend",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env |= env_overrides
    env = {key: value for key, value in env.items() if value is not None}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_check_passes_with_production_settings():
    result = run_django("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


def test_settings_refuse_to_load_without_secret_key_when_debug_is_off():
    result = run_django("check", SECRET_KEY=None)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_settings_refuse_to_load_without_an_sms_backend_when_debug_is_off():
    # Codes written to a log nobody reads would lock citizens out of registration and password reset.
    result = run_django("check", SMS_BACKEND=None)
    assert result.returncode != 0
    assert "SMS_BACKEND must be set when DEBUG is off" in result.stderr


def test_collectstatic_builds_the_compressed_manifest(tmp_path):
    # With DEBUG off every {% static %} goes through the manifest: a missing file fails here, not in
    # production.
    result = run_django("collectstatic", "--noinput", STATIC_ROOT=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "staticfiles.json").exists()


def test_argon2_is_the_first_password_hasher():
    # conftest.py swaps in a fast hasher for tests, so read the settings module itself.
    assert config.settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert Argon2PasswordHasher().encode("Demo@2026", Argon2PasswordHasher().salt()).startswith("argon2$")


def test_gunicorn_access_log_leaves_out_query_strings_and_referrers():
    # The admin's ID-number search travels in the query string (?q=..., ?_changelist_filters=...) and in the
    # Referer of the pages after it: neither may reach the access log.
    conf = runpy.run_path(str(settings.BASE_DIR / "config" / "gunicorn.conf.py"))
    log_format = conf["access_log_format"]
    assert "%(U)s" in log_format
    for atom in ("%(r)s", "%(q)s", "%(f)s", "{referer}i"):
        assert atom not in log_format


def session_engine(**env_overrides):
    code = "from django.conf import settings; print(settings.SESSION_ENGINE)"
    result = run_django("shell", "-v", "0", "-c", code, **env_overrides)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_production_sessions_live_in_redis_or_else_in_the_database():
    # Each gunicorn worker's local-memory cache is its own: a session kept there would be open in one worker
    # and unknown (or, after a logout, still open) in the others.
    assert session_engine(CACHE_URL="redis://cache.internal:6379/0") == "django.contrib.sessions.backends.cache"
    assert session_engine(CACHE_URL=None) == "django.contrib.sessions.backends.db"


def test_sessions_are_not_written_back_on_every_request():
    assert config.settings.SESSION_SAVE_EVERY_REQUEST is False
    assert config.settings.SESSION_RENEW_SECONDS <= 60


def test_django_axes_keeps_login_names_out_of_the_admin():
    assert config.settings.AXES_ENABLE_ADMIN is False
    assert config.settings.AXES_DISABLE_ACCESS_LOG is True


def database_options(**env_overrides):
    """The OPTIONS of the default database the settings build from `env_overrides` (nothing connects)."""
    code = "import json; from django.conf import settings; print(json.dumps(settings.DATABASES['default']))"
    result = run_django("shell", "-v", "0", "-c", code, **env_overrides)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]).get("OPTIONS", {})


def test_postgresql_statements_are_prepared_unless_turned_off():
    url = "postgres://portal@db.internal:5432/portal"
    prepared = {"server_side_binding": True, "prepare_threshold": 5}
    assert database_options(DATABASE_URL=url).items() >= prepared.items()
    turned_off = database_options(DATABASE_URL=url, DATABASE_PREPARED_STATEMENTS="false")
    assert "server_side_binding" not in turned_off
    # SQLite has no such options.
    assert "server_side_binding" not in database_options(DATABASE_URL="sqlite:///unused.sqlite3")
