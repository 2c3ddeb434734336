"""Forgotten password, online: ID number and reserved phone, then the code and a new password."""

import re

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from accounts import phone_codes, sms
from accounts.models import Notice, PhoneCode
from conftest import make_citizen_user, make_employee, make_id_number

NEW = "Xin@mima2026"

pytestmark = pytest.mark.django_db


@pytest.fixture
def citizen(db):
    person = make_employee(name="张伟", phone="13905741238")
    make_citizen_user(person)
    return person


def start(client, person, **overrides):
    data = {"id_number": person.id_number, "phone": person.phone, **overrides}
    return client.post(reverse("password_reset"), data)


def finish(client, code, password=NEW, again=None):
    data = {"code": code, "new_password1": password, "new_password2": again or password}
    return client.post(reverse("password_reset_code"), data)


def page_text(response):
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.text)
    return re.sub(r"尾号\d{4}", "尾号####", text)


def test_a_citizen_resets_the_password_with_the_code_in_two_steps(client, citizen):
    first = start(client, citizen)
    assert "如果信息与登记一致，验证码已发送至尾号1238的手机" in first.text
    [message] = sms.outbox
    assert (message.to, message.purpose) == ("13905741238", "password_reset")

    done = finish(client, message.code)

    assert done.status_code == 302 and done["Location"] == reverse("login")
    citizen.user.refresh_from_db()
    assert citizen.user.check_password(NEW)
    assert Notice.objects.filter(person=citizen, title="登录密码已重设").exists()
    assert client.post(reverse("login"), {"username": citizen.id_number, "password": NEW}).status_code == 302


def test_an_unknown_pair_gets_the_same_answer_and_no_code(client, citizen):
    known = start(client, citizen)
    sms.outbox.clear()
    other = make_employee(name="李四", phone="13905749999")
    unknown_cases = [
        {"phone": "13905741239"},  # the login's ID number with another phone
        {"id_number": make_id_number(), "phone": "13905741237"},  # nobody
    ]
    for overrides in unknown_cases:
        answer = start(client, citizen, **overrides)
        assert page_text(answer) == page_text(known)
    # A registered person without a login is no different.
    answer = start(client, other)
    assert page_text(answer) == page_text(known)
    assert not sms.outbox


@pytest.mark.parametrize("case", ["wrong", "expired", "reused", "other purpose"])
def test_a_bad_code_resets_nothing(client, citizen, case):
    start(client, citizen)
    code = sms.outbox[-1].code
    if case == "wrong":
        code = "000000" if code != "000000" else "111111"
    elif case == "expired":
        PhoneCode.objects.update(expires_at=PhoneCode.objects.get().created_at)
    elif case == "reused":
        phone_codes.verify_code(phone=citizen.phone, purpose=PhoneCode.Purpose.PASSWORD_RESET, code=code)
    elif case == "other purpose":
        phone_codes.send_code(phone=citizen.phone, purpose=PhoneCode.Purpose.STEP_UP, address="10.9.9.9")
        code = sms.outbox[-1].code
        PhoneCode.objects.filter(purpose=PhoneCode.Purpose.PASSWORD_RESET).update(code_hash="0" * 64)

    answer = finish(client, code)

    assert answer.status_code == 200
    assert answer.context["form"].errors["code"] == [str(phone_codes.CODE_REFUSED)]
    citizen.user.refresh_from_db()
    assert citizen.user.check_password("Demo@2026")


def test_the_new_password_must_pass_the_validators(client, citizen):
    start(client, citizen)
    answer = finish(client, sms.outbox[-1].code, password="12345678")
    assert answer.context["form"].errors["new_password1"]
    answer = finish(client, sms.outbox[-1].code, password=NEW, again="Other@2026")
    assert answer.context["form"].errors["new_password2"]
    citizen.user.refresh_from_db()
    assert citizen.user.check_password("Demo@2026")


def test_a_reset_ends_every_other_session_and_lifts_the_lock(client, citizen, django_user_model):
    from django.test import Client

    elsewhere = Client()
    elsewhere.force_login(citizen.user)
    assert elsewhere.get(reverse("account")).status_code == 200
    for _attempt in range(5):
        client.post(reverse("login"), {"username": citizen.id_number, "password": "Wrong@2026"})
    assert AccessAttempt.objects.filter(username=citizen.id_number).exists()

    start(client, citizen)
    finish(client, sms.outbox[-1].code)

    assert not AccessAttempt.objects.filter(username=citizen.id_number).exists()
    assert elsewhere.get(reverse("account")).status_code == 302
    assert client.post(reverse("login"), {"username": citizen.id_number, "password": NEW}).status_code == 302


def test_step_two_without_step_one_goes_back_to_step_one(client, citizen):
    assert finish(client, "123456")["Location"] == reverse("password_reset")


def test_the_login_page_links_to_the_reset(client, db):
    assert reverse("password_reset") in client.get(reverse("login")).text


def refuse_every_text(monkeypatch):
    def refuse(backend, message):
        raise sms.SmsError("LimitExceeded.PhoneNumberDailyLimit")

    monkeypatch.setattr(sms.LocmemBackend, "send", refuse)


def test_a_provider_refusal_does_not_show_in_the_answer(client, citizen, monkeypatch):
    # Only a matching pair reaches the provider: a refusal on the page would tell that the pair exists.
    unknown = start(client, citizen, phone="13905741239")
    refuse_every_text(monkeypatch)

    known = start(client, citizen)

    assert page_text(known) == page_text(unknown)
    assert PhoneCode.objects.get().voided_at is not None


def test_the_code_is_texted_only_once_the_answer_is_out(rf, citizen):
    # The provider's delay must not lengthen the answer of a matching pair, which would tell it apart.
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.middleware import SessionMiddleware

    from accounts import views

    request = rf.post(reverse("password_reset"), {"id_number": citizen.id_number, "phone": citizen.phone})
    request.user = AnonymousUser()
    SessionMiddleware(lambda request: None).process_request(request)

    answer = views.password_reset(request)

    assert answer.status_code == 200 and not sms.outbox
    answer.close()
    [message] = sms.outbox
    assert message.to == citizen.phone
