import datetime
import re
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessLog
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from accounts import services, sms
from accounts.identity import check_character
from accounts.models import Notice, User
from accounts import phone_codes
from conftest import make_citizen_user, make_employee, make_id_number, make_resident, make_staff

PASSWORD = "Yibao@2026"


@pytest.fixture
def registrant(db):
    """A 宁波 employee in the registry who has no login yet."""
    return make_employee(balance="300.00", name="王芳", phone="13900001111")


def registration(person, **overrides):
    data = {
        "name": person.name,
        "id_number": person.id_number,
        "phone": person.phone,
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    data.update(overrides)
    return data


def page_text(response):
    """Return the page without its CSRF token, which differs on every answer."""
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.text)
    return re.sub(r"尾号\d{4}", "尾号####", text)


def last_code():
    return sms.outbox[-1].code


def register(client, data, **extra):
    """Post both steps of the registration, the second with the code texted to the phone; return the last answer."""
    first = client.post(reverse("register"), data, **extra)
    if not sms.outbox or first.status_code != 200 or "form" in first.context and first.context["form"].errors:
        return first
    return client.post(reverse("register_code"), {"code": last_code()}, **extra)


def id_number_ending_in_x():
    for serial in range(1000):
        first17 = f"33020319850101{serial:03d}"
        if check_character(first17) == "X":
            return first17 + "X"
    raise AssertionError("no serial gives the check character X")


# Registration --------------------------------------------------------------------------------------


def test_registration_links_login_to_person_logs_in_and_leaves_a_notice(client, registrant):
    response = register(client, registration(registrant))
    assert response.status_code == 302
    assert response["Location"] == reverse("account")
    user = User.objects.get(person=registrant)
    assert user.username == registrant.id_number
    assert user.check_password(PASSWORD)
    assert client.session["_auth_user_id"] == str(user.pk)
    assert Notice.objects.filter(person=registrant).count() == 1
    assert client.get(reverse("account")).context["account"].balance == Decimal("300.00")


def test_registration_accepts_lowercase_x(client, db):
    id_number = id_number_ending_in_x()
    person = make_employee(name="赵敏", id_number=id_number)
    register(client, registration(person, id_number=id_number.lower()))
    assert User.objects.get(person=person).username == id_number


def mismatch_cases():
    return {
        "wrong name": lambda person: registration(person, name="王芬"),
        "wrong phone": lambda person: registration(person, phone="13900002222"),
        "wrong ID": lambda person: registration(person, id_number=make_employee(name="其他人").id_number),
        "unknown ID": lambda person: registration(person, id_number=make_id_number()),
        "already registered": lambda person: (make_citizen_user(person), registration(person))[1],
        "no active enrolment": lambda person: (
            services.stop_enrolment(enrolment=person.enrolments.get()),
            registration(person),
        )[1],
    }


@pytest.mark.parametrize("case", list(mismatch_cases()))
def test_every_mismatch_gets_the_same_answer_and_no_code(client, registrant, case):
    data = mismatch_cases()[case](registrant)
    users_before = User.objects.count()
    matched = client.post(reverse("register"), registration(make_employee(name="钱多", phone="13900004444")))
    sms.outbox.clear()

    response = client.post(reverse("register"), data)

    assert response.status_code == 200
    assert not sms.outbox
    tail = data["phone"][-4:]
    assert f"如果信息与登记一致，验证码已发送至尾号{tail}的手机" in response.text
    # The page is the one a match gets, but for the phone's last digits.
    assert page_text(response) == page_text(matched)
    answer = client.post(reverse("register_code"), {"code": "123456"})
    assert answer.context["form"].errors["code"] == [str(phone_codes.CODE_REFUSED)]
    assert User.objects.count() == users_before
    assert "_auth_user_id" not in client.session


def test_resident_can_register_too(client, db):
    person = make_resident(name="张小雨", birth="20000601", phone="13900003333")
    response = register(client, registration(person))
    assert response.status_code == 302
    assert User.objects.filter(person=person).exists()


@pytest.mark.parametrize(
    ("id_number", "reason"),
    [
        ("33020319850101123", "应为18位，您输入了17位"),
        ("33020319851301123X", "出生日期不存在"),
        ("330203198501011239", "校验位"),
    ],
)
def test_malformed_id_number_is_refused_with_the_reason(client, registrant, id_number, reason):
    response = client.post(reverse("register"), registration(registrant, id_number=id_number))
    form = response.context["form"]
    assert reason in form.errors["id_number"][0]
    page = response.content.decode()
    assert 'aria-invalid="true"' in page
    assert 'aria-describedby="id_id_number_helptext id_id_number_error"' in page
    assert 'href="#id_id_number"' in page
    assert not User.objects.exists()


def test_malformed_phone_is_refused(client, registrant):
    response = client.post(reverse("register"), registration(registrant, phone="2390000111"))
    assert "11位数字" in response.context["form"].errors["phone"][0]


def test_passwords_must_match(client, registrant):
    response = client.post(reverse("register"), registration(registrant, password2="Other@2026"))
    assert response.context["form"].errors["password2"]
    assert not User.objects.exists()


def test_weak_password_is_refused_before_the_registry_is_consulted(client, db):
    # The identity is unknown, yet the password message comes: its absence never hints at a match.
    person = make_employee(name="孙丽")
    data = registration(person, id_number=make_id_number(), password1="123", password2="123")
    form = client.post(reverse("register"), data).context["form"]
    assert form.errors["password1"]
    assert not form.non_field_errors()


def test_logged_in_citizen_is_sent_from_register_to_account(client, applicant):
    client.force_login(applicant.user)
    assert client.get(reverse("register"))["Location"] == reverse("account")


# Login ---------------------------------------------------------------------------------------------


def test_login_with_lowercase_x_in_the_id_number(client, db):
    id_number = id_number_ending_in_x()
    make_citizen_user(make_employee(name="赵敏", id_number=id_number))
    response = client.post(reverse("login"), {"username": id_number.lower(), "password": "Demo@2026"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account")


def test_login_follows_next(client, applicant):
    response = client.post(
        f"{reverse('login')}?next=/notices/",
        {"username": applicant.id_number, "password": "Demo@2026", "next": "/notices/"},
    )
    assert response["Location"] == "/notices/"


def test_login_form_labels_the_username_as_id_number(client, db):
    page = client.get(reverse("login")).content.decode()
    assert '<label for="id_username">身份证号码' in page


def test_wrong_password_shows_chinese_error(client, applicant):
    response = client.post(reverse("login"), {"username": applicant.id_number, "password": "wrong"})
    assert response.status_code == 200
    assert "身份证号码或密码不正确" in response.content.decode()


def test_five_failures_lock_the_login_with_a_chinese_page(client, applicant):
    for _ in range(5):
        client.post(reverse("login"), {"username": applicant.id_number, "password": "wrong"})
    response = client.post(reverse("login"), {"username": applicant.id_number, "password": "Demo@2026"})
    assert response.status_code == 429
    page = response.content.decode()
    assert "登录已暂时锁定" in page and "1小时" in page and "医保服务大厅" in page
    assert "_auth_user_id" not in client.session


def test_a_lockout_expires_after_the_cool_off(client, applicant):
    for _ in range(5):
        client.post(reverse("login"), {"username": applicant.id_number, "password": "wrong"})
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=61))

    response = client.post(reverse("login"), {"username": applicant.id_number, "password": "Demo@2026"})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(applicant.user.pk)


def test_logins_keep_no_access_log_of_id_numbers(client, applicant):
    client.post(reverse("login"), {"username": applicant.id_number, "password": "Demo@2026"})
    assert not AccessLog.objects.exists()


def test_staff_login_goes_to_the_admin(client, db):
    make_staff("reviewer_nb", "330200")
    response = client.post(reverse("login"), {"username": "reviewer_nb", "password": "Demo@2026"})
    assert response["Location"] == reverse("admin:index")


# Throttling ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_repeated_failed_registrations_from_one_address_are_blocked(client, registrant, settings):
    settings.REGISTRATION_FAILURE_LIMIT = 3
    for _attempt in range(3):
        response = client.post(reverse("register"), registration(registrant, phone="13900009999"))
        assert response.status_code == 200
    blocked = client.post(reverse("register"), registration(registrant))
    assert blocked.status_code == 429
    assert "尝试次数过多" in blocked.text
    # Even the right details are refused while blocked, and nothing was created.
    assert not User.objects.filter(person=registrant).exists()


@pytest.mark.django_db
def test_the_attempt_limit_cannot_tell_a_match_from_a_mismatch(client, registrant, settings):
    # Were only mismatches counted, an address would learn whether details match from when it is blocked.
    settings.REGISTRATION_FAILURE_LIMIT = 2
    answers = []
    for address, first in (
        ("10.3.3.1", registration(registrant)),
        ("10.3.3.2", registration(registrant, phone="13900009999")),
    ):
        client.post(reverse("register"), first, REMOTE_ADDR=address)
        client.post(reverse("register"), registration(registrant, phone="13900008888"), REMOTE_ADDR=address)
        third = registration(registrant, phone="13900007777")
        answers.append(client.post(reverse("register"), third, REMOTE_ADDR=address).status_code)
    assert answers == [429, 429]


@pytest.mark.django_db
def test_failures_from_another_address_do_not_block(client, registrant, settings):
    settings.REGISTRATION_FAILURE_LIMIT = 2
    for _attempt in range(2):
        client.post(reverse("register"), registration(registrant, phone="13900009999"), REMOTE_ADDR="10.1.1.1")
    response = register(client, registration(registrant), REMOTE_ADDR="10.1.1.2")
    assert response.status_code == 302
    assert User.objects.filter(person=registrant).exists()


@pytest.mark.django_db
def test_one_address_trying_many_id_numbers_is_stopped(client, applicant, settings):
    # django-axes locks one ID number per address; trying a different ID number each time gets past it.
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 3
    for _attempt in range(3):
        response = client.post(reverse("login"), {"username": make_id_number(), "password": "Guess@2026"})
        assert response.status_code == 200

    blocked = client.post(reverse("login"), {"username": applicant.id_number, "password": "Demo@2026"})

    assert blocked.status_code == 429
    assert "从您所在的网络登录失败次数过多" in blocked.text
    assert blocked.context["form"]["username"].value() == applicant.id_number
    assert "_auth_user_id" not in client.session
    # The address, not the ID number, is blocked: axes recorded no failure for the right password.
    assert not AccessAttempt.objects.filter(username=applicant.id_number).exists()


@pytest.mark.django_db
def test_login_failures_from_another_address_do_not_block(client, applicant, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 2
    for _attempt in range(2):
        client.post(reverse("login"), {"username": make_id_number(), "password": "Guess@2026"}, REMOTE_ADDR="10.1.1.1")

    response = client.post(
        reverse("login"), {"username": applicant.id_number, "password": "Demo@2026"}, REMOTE_ADDR="10.1.1.2"
    )

    assert response.status_code == 302


@pytest.mark.django_db
def test_successful_logins_and_empty_forms_do_not_count_as_failures(client, applicant, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 1
    client.post(reverse("login"), {"username": "", "password": ""})
    client.post(reverse("login"), {"username": applicant.id_number, "password": "Demo@2026"})
    client.post(reverse("logout"))

    response = client.post(reverse("login"), {"username": applicant.id_number, "password": "Demo@2026"})

    assert response.status_code == 302


def test_registration_never_completes_without_the_code(client, registrant):
    first = client.post(reverse("register"), registration(registrant))
    assert first.status_code == 200 and first.context["form"].fields.keys() == {"code"}
    assert not User.objects.filter(person=registrant).exists()
    assert "_auth_user_id" not in client.session
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"
    for attempt in (wrong, "", "12345"):
        client.post(reverse("register_code"), {"code": attempt})
    assert not User.objects.filter(person=registrant).exists()
    assert client.get(reverse("account")).status_code == 302


def test_the_code_step_without_the_first_goes_back_to_it(client, registrant):
    assert client.post(reverse("register_code"), {"code": "123456"})["Location"] == reverse("register")


def test_a_new_code_can_be_asked_for_after_sixty_seconds_and_the_old_one_is_void(client, registrant):
    client.post(reverse("register"), registration(registrant))
    too_soon = client.post(reverse("register_code"), {"resend": "1"})
    assert "秒后再重新获取" in too_soon.text and len(sms.outbox) == 1
    # The minute passes: the wait lives in the cache (beside the session, which stays).
    cache.delete(f"sms-wait:register:{registrant.phone}")
    resent = client.post(reverse("register_code"), {"resend": "1"})
    assert "已重新发送" in resent.text and len(sms.outbox) == 2
    old, new = sms.outbox[0].code, sms.outbox[1].code
    if old != new:
        client.post(reverse("register_code"), {"code": old})
        assert not User.objects.filter(person=registrant).exists()
    assert client.post(reverse("register_code"), {"code": new}).status_code == 302


def test_a_provider_refusal_does_not_show_in_the_answer(client, registrant, monkeypatch):
    # Only matching details reach the provider: a refusal on the page would tell that they match.
    mismatch = client.post(reverse("register"), registration(registrant, phone="13900009999"))

    def refuse(backend, message):
        raise sms.SmsError("LimitExceeded.PhoneNumberDailyLimit")

    monkeypatch.setattr(sms.LocmemBackend, "send", refuse)
    match = client.post(reverse("register"), registration(registrant))

    assert page_text(match) == page_text(mismatch)
    assert not User.objects.filter(person=registrant).exists()
