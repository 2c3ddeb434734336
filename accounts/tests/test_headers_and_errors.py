"""Headers on every answer, and the error pages each side sees."""

import pytest
from django.core.exceptions import PermissionDenied
from django import urls
from django.urls import reverse

from accounts.middleware import PERMISSIONS_POLICY

pytestmark = pytest.mark.django_db


def test_citizen_pages_with_personal_data_are_never_stored(client, applicant):
    client.force_login(applicant.user)
    for name in ("account", "profile", "notices", "access_log"):
        response = client.get(reverse(name))
        assert "no-store" in response["Cache-Control"], name


def test_admin_pages_are_never_stored_even_the_login(client, admin_client):
    assert "no-store" in client.get(reverse("admin:login"))["Cache-Control"]
    assert "no-store" in admin_client.get(reverse("admin:accounts_person_changelist"))["Cache-Control"]


def test_the_public_home_page_may_be_cached(client, db):
    assert "no-store" not in client.get(reverse("home")).get("Cache-Control", "")


def test_every_answer_turns_off_unused_browser_features(client, db):
    for path in ("/", "/accounts/login/", "/admin/login/", "/api/v1/openapi.json"):
        policy = client.get(path)["Permissions-Policy"]
        assert policy == PERMISSIONS_POLICY
    assert "camera=()" in PERMISSIONS_POLICY and "geolocation=()" in PERMISSIONS_POLICY


def test_a_clerk_sent_to_a_missing_page_sees_the_admins_look(client, reviewer, outsider):
    client.force_login(reviewer)
    response = client.get("/admin/accounts/no-such-page/")
    assert response.status_code == 404
    assert "经办业务" in response.text and "不负责的统筹区" in response.text
    assert "长辈模式" not in response.text


def test_a_citizen_sent_to_a_missing_page_sees_the_portals_look(client, applicant):
    client.force_login(applicant.user)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "长辈模式" in response.text and "经办业务" not in response.text


def test_a_clerk_refused_a_page_sees_the_admins_look(client, reviewer):
    client.force_login(reviewer)
    response = client.get(reverse("admin:accounts_personaldataaccess_changelist"))
    assert response.status_code == 403
    assert "经办业务" in response.text and "这一步刚刚已经办理过" in response.text
    # The admin's own breadcrumb bar, which its stylesheet draws (a bare div stays unstyled).
    assert '<ol class="breadcrumbs"><li><a href="/admin/">经办业务</a></li>' in response.text


def _boom(request):
    raise RuntimeError("a fault in a view")


def _forbidden(request):
    raise PermissionDenied


# The portal's own URLs plus two that fail, for the error pages under DEBUG.
urlpatterns = [
    urls.path("boom/", _boom),
    urls.path("forbidden/", _forbidden),
    urls.path("", urls.include("config.urls")),
]


@pytest.fixture
def debug_on(settings):
    """DEBUG on, as under `make run`, with this module's failing views added to the portal's."""
    settings.DEBUG = True
    settings.ROOT_URLCONF = __name__
    return settings


def test_under_debug_a_mistyped_address_shows_the_chinese_404(client, applicant, debug_on):
    client.force_login(applicant.user)
    response = client.get("/acount/")
    assert response.status_code == 404
    assert "页面不存在" in response.text and "长辈模式" in response.text
    assert "URLconf" not in response.text and "Page not found" not in response.text


def test_under_debug_someone_elses_object_shows_the_chinese_404(client, applicant, debug_on):
    client.force_login(applicant.user)
    response = client.get(reverse("notice", args=[987654]))
    assert response.status_code == 404
    assert "页面不存在" in response.text and "Traceback" not in response.text


def test_under_debug_a_missing_slash_is_still_added(client, applicant, debug_on):
    client.force_login(applicant.user)
    assert client.get("/account").status_code == 301


def test_under_debug_a_fault_shows_the_chinese_500_and_is_logged(client, applicant, debug_on, caplog):
    client.force_login(applicant.user)
    response = client.get("/boom/")
    assert response.status_code == 500
    assert "系统出错了" in response.text and "RuntimeError" not in response.text
    logged = [record for record in caplog.records if record.exc_info]
    assert any("a fault in a view" in str(record.exc_info[1]) for record in logged)


def test_under_debug_a_refusal_shows_the_chinese_403(client, applicant, debug_on):
    client.force_login(applicant.user)
    response = client.get("/forbidden/")
    assert response.status_code == 403 and "没有权限" in response.text


def test_under_debug_staff_paths_keep_the_admins_look(client, reviewer, debug_on):
    client.force_login(reviewer)
    response = client.get("/admin/accounts/no-such-page/")
    assert response.status_code == 404 and "经办业务" in response.text and "URLconf" not in response.text


def test_developers_get_djangos_debug_pages_by_their_own_setting(client, applicant, debug_on):
    debug_on.DEBUG_ERROR_PAGES = True
    client.force_login(applicant.user)
    response = client.get("/acount/")
    assert response.status_code == 404 and "URLconf" in response.text
