"""Staff log in to /admin/ with a password and a second factor (django-otp); they enrol at the first login."""

import re

import pytest
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import second_factor
from accounts.models import SecondFactorReset
from conftest import make_staff

pytestmark = [pytest.mark.real_login, pytest.mark.django_db]
KEY = "3132333435363738393031323334353637383930"


def code_of(device):
    return f"{TOTP(device.bin_key).token():06d}"


@pytest.fixture
def clerk(db):
    user = make_staff("reviewer_nb", "330200")
    second_factor.give_known_device(user=user, key_hex=KEY)
    return user


def log_in(client, token, username="reviewer_nb", password="Demo@2026", **extra):
    data = {"username": username, "password": password, "otp_token": token, "next": reverse("admin:index")}
    return client.post(reverse("admin:login"), data, **extra)


def test_the_login_form_asks_for_the_code(client, db):
    page = client.get(reverse("admin:login")).text
    assert 'name="otp_token"' in page and "动态验证码" in page


def test_a_password_and_the_current_code_open_the_admin(client, clerk):
    response = log_in(client, code_of(TOTPDevice.objects.get(user=clerk)))
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_password_without_the_code_is_refused(client, clerk):
    response = log_in(client, "")
    assert response.status_code == 200
    assert "请输入身份验证器上的6位动态验证码" in response.text
    assert client.get(reverse("admin:index")).status_code == 302


def test_a_wrong_code_is_refused(client, clerk):
    right = code_of(TOTPDevice.objects.get(user=clerk))
    response = log_in(client, "000000" if right != "000000" else "111111")
    assert "动态验证码不正确或已用过" in response.text
    assert client.get(reverse("admin:index")).status_code == 302


def test_a_wrong_password_with_the_right_code_is_refused(client, clerk):
    response = log_in(client, code_of(TOTPDevice.objects.get(user=clerk)), password="Wrong@2026")
    assert "用户名或密码不正确" in response.text
    assert client.get(reverse("admin:index")).status_code == 302


def test_a_backup_code_works_once(client, clerk):
    TOTPDevice.objects.filter(user=clerk).update(confirmed=False)
    _device, codes = second_factor.confirm_device(
        user=clerk, token=code_of(TOTPDevice.objects.get(user=clerk))
    )

    assert log_in(client, codes[0]).status_code == 302
    client.post(reverse("admin:logout"))
    assert log_in(client, codes[0]).status_code == 200
    assert StaticToken.objects.filter(device__user=clerk).count() == 9


def test_a_forced_session_without_the_factor_opens_nothing(client, clerk):
    client.force_login(clerk)
    assert client.get(reverse("admin:index")).status_code == 302
    assert client.get(reverse("admin:accounts_person_changelist")).status_code == 302


def test_a_new_clerk_enrols_with_a_qr_code_and_gets_ten_backup_codes(client, db, settings):
    # django-otp makes a device wait a second after a wrong code; this test retries at once.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    make_staff("approver_nb", "330200")
    response = log_in(client, "", username="approver_nb")
    assert response.status_code == 302 and response["Location"] == reverse("admin:second_factor_enrol")
    # Nothing else opens before the enrolment.
    assert client.get(reverse("admin:index")).status_code == 302
    page = client.get(reverse("admin:second_factor_enrol"))
    # Drawn on the server: an inline SVG, no image fetched from elsewhere, no script of its own.
    qr = page.text.split('class="second-factor__qr"')[1].split("</div>")[0]
    assert "<svg" in qr and "<script" not in qr and "href" not in qr and "<?xml" not in qr
    device = TOTPDevice.objects.get(user__username="approver_nb", confirmed=False)

    wrong = client.post(reverse("admin:second_factor_enrol"), {"otp_token": "000000" if code_of(device) != "000000" else "111111"})
    assert "动态验证码不正确" in wrong.text
    done = client.post(reverse("admin:second_factor_enrol"), {"otp_token": code_of(device)})

    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", done.text)
    assert len(codes) == 10
    assert client.get(reverse("admin:index")).status_code == 200
    # Shown once: the enrolment page now sends the clerk to the admin.
    assert client.get(reverse("admin:second_factor_enrol"))["Location"] == reverse("admin:index")


def test_a_clerk_with_a_device_cannot_enrol_another_with_the_password_alone(client, clerk):
    log_in(client, "")
    assert client.get(reverse("admin:second_factor_enrol"))["Location"] == reverse("admin:login")
    # The citizens' login takes a password alone; the session it opens must not reach the enrolment either.
    client.post(reverse("login"), {"username": "reviewer_nb", "password": "Demo@2026"})
    assert client.session.get("_auth_user_id") == str(clerk.pk)
    assert client.get(reverse("admin:second_factor_enrol"))["Location"] == reverse("admin:login")
    assert client.post(reverse("admin:second_factor_enrol"), {"otp_token": "123456"}).status_code == 302
    assert list(TOTPDevice.objects.filter(user=clerk).values_list("confirmed", flat=True)) == [True]
    assert client.get(reverse("admin:index")).status_code == 302


def test_a_superuser_resets_a_lost_device_and_it_is_recorded(client, clerk):
    admin_user = make_staff("admin", superuser=True)
    second_factor.give_known_device(user=admin_user, key_hex=KEY)
    log_in(client, code_of(TOTPDevice.objects.get(user=admin_user)), username="admin")
    changelist = reverse("admin:accounts_user_changelist")

    client.post(changelist, {"action": "reset_second_factors", "_selected_action": [clerk.pk],
                             "apply": "1", "reason": "手机丢失"})

    assert not TOTPDevice.objects.filter(user=clerk).exists()
    reset = SecondFactorReset.objects.get()
    assert (reset.staff, reset.reset_by, reset.reason) == (clerk, admin_user, "手机丢失")


def test_a_device_reset_closes_the_admin_to_the_clerks_open_session(client, clerk):
    from django.test import Client

    clerks_desk = Client()
    log_in(clerks_desk, code_of(TOTPDevice.objects.get(user=clerk)))
    assert clerks_desk.get(reverse("admin:index")).status_code == 200
    admin_user = make_staff("admin", superuser=True)
    second_factor.give_known_device(user=admin_user, key_hex=KEY)
    log_in(client, code_of(TOTPDevice.objects.get(user=admin_user)), username="admin")

    client.post(reverse("admin:accounts_user_changelist"), {
        "action": "reset_second_factors", "_selected_action": [clerk.pk], "apply": "1", "reason": "手机丢失",
    })

    assert clerks_desk.get(reverse("admin:index"))["Location"].startswith(reverse("admin:login"))
    assert clerks_desk.get(reverse("admin:accounts_person_changelist")).status_code == 302


def test_a_clerk_cannot_reset_devices(client, clerk):
    other = make_staff("approver_nb", "330200")
    second_factor.give_known_device(user=other, key_hex=KEY)
    log_in(client, code_of(TOTPDevice.objects.get(user=clerk)))
    response = client.post(reverse("admin:accounts_user_changelist"), {
        "action": "reset_second_factors", "_selected_action": [other.pk], "apply": "1", "reason": "x",
    })
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=other).exists()
    assert not SecondFactorReset.objects.exists()


def test_the_admin_login_is_limited_per_address(client, clerk, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 3
    for attempt in range(3):
        log_in(client, "123456", username=f"nobody{attempt}")
    blocked = log_in(client, code_of(TOTPDevice.objects.get(user=clerk)))
    assert blocked.status_code == 429
    assert "登录失败次数过多" in blocked.text
    assert client.get(reverse("admin:index")).status_code == 302


def test_wrong_codes_count_towards_the_address_limit(client, clerk, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 2
    right = code_of(TOTPDevice.objects.get(user=clerk))
    wrong = "000000" if right != "000000" else "111111"
    log_in(client, wrong)
    log_in(client, wrong)
    assert log_in(client, right).status_code == 429


def test_a_locked_out_clerk_sees_the_admins_page(client, clerk):
    for _attempt in range(5):
        log_in(client, "123456", password="Wrong@2026")
    locked = log_in(client, "123456", password="Wrong@2026")
    assert locked.status_code == 429
    assert "经办管理" in locked.text and "联系系统管理员" in locked.text
    assert "长辈模式" not in locked.text
