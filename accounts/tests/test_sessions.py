"""Sessions live in the cache, are renewed at most once a minute, end 30 idle minutes after the last page and at
logout."""

import time

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch, settings):
    """A clock the test moves, over a local-memory session cache whose expiry follows it.

    Redis keeps its own time, so the sessions of these tests go to a cache that reads time.time().
    """
    settings.CACHES = {
        **settings.CACHES,
        "sessions": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "sessions-test"},
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    settings.SESSION_CACHE_ALIAS = "sessions"
    now = [time.time()]
    monkeypatch.setattr(time, "time", lambda: now[0])

    class Clock:
        def advance(self, seconds):
            now[0] += seconds

    return Clock()


def logged_in(person):
    client = Client()
    client.force_login(person.user)
    return client


def test_sessions_are_kept_in_the_cache_by_default():
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cache"
    assert settings.SESSION_SAVE_EVERY_REQUEST is False


def test_a_session_ends_thirty_idle_minutes_after_the_last_page(clock, applicant):
    client = logged_in(applicant)
    clock.advance(10 * 60)
    assert client.get(reverse("account")).status_code == 200

    clock.advance(settings.SESSION_COOKIE_AGE + 1)

    assert client.get(reverse("account"))["Location"].startswith(reverse("login"))


def test_each_page_keeps_the_session_open_past_thirty_minutes_from_login(clock, applicant):
    client = logged_in(applicant)
    for _page in range(6):
        clock.advance(10 * 60)
        assert client.get(reverse("account")).status_code == 200


def test_a_page_within_the_minute_writes_nothing_back(clock, applicant):
    client = logged_in(applicant)
    first = client.get(reverse("account"))
    clock.advance(settings.SESSION_RENEW_SECONDS - 5)

    again = client.get(reverse("account"))

    assert settings.SESSION_COOKIE_NAME in first.cookies
    assert again.status_code == 200 and settings.SESSION_COOKIE_NAME not in again.cookies


def test_a_page_within_the_minute_does_not_stretch_the_session(clock, applicant):
    # Renewed at the first page only: the session still ends 30 minutes after it, which is at most a minute
    # before 30 minutes after the last page.
    client = logged_in(applicant)
    client.get(reverse("account"))
    clock.advance(30)
    client.get(reverse("account"))

    clock.advance(settings.SESSION_COOKIE_AGE - 29)

    assert client.get(reverse("account")).status_code == 302


def test_a_page_after_the_minute_renews_the_session(clock, applicant):
    client = logged_in(applicant)
    client.get(reverse("account"))
    clock.advance(settings.SESSION_RENEW_SECONDS)

    assert settings.SESSION_COOKIE_NAME in client.get(reverse("account")).cookies
    clock.advance(settings.SESSION_COOKIE_AGE - settings.SESSION_RENEW_SECONDS + 30)
    assert client.get(reverse("account")).status_code == 200


def test_logging_out_ends_the_session_even_for_a_copy_of_its_cookie(applicant):
    client = logged_in(applicant)
    copy = Client()
    copy.cookies[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert copy.get(reverse("account")).status_code == 200

    client.post(reverse("logout"))

    assert copy.get(reverse("account"))["Location"].startswith(reverse("login"))


def test_a_page_that_never_reads_the_session_leaves_it_alone(applicant):
    client = logged_in(applicant)
    response = client.get(reverse("healthz"))
    assert response.status_code == 200 and settings.SESSION_COOKIE_NAME not in response.cookies


def test_a_citizen_page_loads_the_person_with_the_user(client, applicant, django_assert_max_num_queries):
    from django.contrib.auth import get_user

    client.force_login(applicant.user)
    request = client.get(reverse("notices")).wsgi_request
    user = get_user(request)
    with django_assert_max_num_queries(0):
        assert user.person.name == "张伟"
