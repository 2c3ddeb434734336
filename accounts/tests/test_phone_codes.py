"""One-time codes to the reserved phone: the rules of DOMAIN.md, the SMS backends, the Tencent Cloud adapter."""

import datetime
import json

import pytest
from django.utils import timezone

from accounts import phone_codes, sms
from accounts.models import PhoneCode
from accounts.services import ServiceError

PHONE = "13905741238"
REGISTER = PhoneCode.Purpose.REGISTER
RESET = PhoneCode.Purpose.PASSWORD_RESET
STEP_UP = PhoneCode.Purpose.STEP_UP

pytestmark = pytest.mark.django_db


@pytest.fixture
def freezer_seconds(monkeypatch):
    """Move the clock the code limits read forward by some seconds."""
    import time

    offset = [0]

    class Clock:
        @staticmethod
        def time():
            return time.time() + offset[0]

    monkeypatch.setattr(phone_codes, "time", Clock)

    def advance(seconds):
        offset[0] += seconds

    return advance


def send(phone=PHONE, purpose=REGISTER, address="10.0.0.1", **kwargs):
    phone_codes.send_code(phone=phone, purpose=purpose, address=address, **kwargs)
    return sms.outbox[-1].code if sms.outbox and kwargs.get("deliver", True) else None


def verify(code, phone=PHONE, purpose=REGISTER):
    return phone_codes.verify_code(phone=phone, purpose=purpose, code=code)


def test_a_code_is_six_digits_texted_once_and_stored_only_as_a_hash():
    code = send()
    assert len(code) == 6 and code.isdigit()
    message = sms.outbox[-1]
    assert (message.to, message.purpose) == (PHONE, "register")
    assert code in message.text and "5分钟内有效" in message.text
    row = PhoneCode.objects.get()
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert row.expires_at - row.created_at == datetime.timedelta(minutes=5)


def test_the_right_code_is_accepted_once():
    code = send()
    assert verify(code).used_at is not None
    with pytest.raises(ServiceError):
        verify(code)


def test_an_expired_code_is_refused():
    code = send()
    PhoneCode.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    with pytest.raises(ServiceError) as refused:
        verify(code)
    assert refused.value.message == phone_codes.CODE_REFUSED


def test_a_code_is_bound_to_its_purpose_and_phone():
    code = send(purpose=REGISTER)
    with pytest.raises(ServiceError):
        verify(code, purpose=RESET)
    with pytest.raises(ServiceError):
        verify(code, phone="13905740000")
    assert verify(code).purpose == REGISTER


def test_the_sixth_entry_is_refused_even_if_right():
    code = send()
    wrong = "000000" if code != "000000" else "111111"
    for _attempt in range(5):
        with pytest.raises(ServiceError):
            verify(wrong)
    row = PhoneCode.objects.get()
    assert row.failed_attempts == 5 and row.voided_at is not None
    with pytest.raises(ServiceError):
        verify(code)


def test_four_wrong_entries_leave_the_code_usable():
    code = send()
    wrong = "000000" if code != "000000" else "111111"
    for _attempt in range(4):
        with pytest.raises(ServiceError):
            verify(wrong)
    assert verify(code).failed_attempts == 4


def test_a_new_code_voids_the_earlier_one_for_the_same_purpose(freezer_seconds):
    send()
    first = PhoneCode.objects.get()
    freezer_seconds(61)
    second = send()
    first.refresh_from_db()
    assert first.voided_at is not None
    assert verify(second).pk != first.pk


def test_a_new_code_comes_only_sixty_seconds_after_the_last(freezer_seconds):
    send()
    with pytest.raises(ServiceError) as refused:
        send()
    assert refused.value.code == "too_soon"
    assert "秒后再重新获取" in refused.value.message
    freezer_seconds(61)
    send()
    assert len(sms.outbox) == 2


def test_ten_codes_a_phone_a_day(freezer_seconds, settings):
    for attempt in range(10):
        send(address=f"10.0.1.{attempt}")
        freezer_seconds(61)
    with pytest.raises(ServiceError) as refused:
        send(address="10.0.2.1")
    assert refused.value.code == "phone_cap"
    assert len(sms.outbox) == 10


def test_twenty_code_requests_an_address_an_hour_matched_or_not(freezer_seconds):
    for attempt in range(20):
        send(phone=f"1390000{attempt:04d}", deliver=attempt % 2 == 0)
    with pytest.raises(ServiceError) as refused:
        send(phone="13911112222")
    assert refused.value.code == "address_cap"
    assert len(sms.outbox) == 10


def test_an_undelivered_request_meets_the_same_wait_as_a_delivered_one():
    send(deliver=False)
    with pytest.raises(ServiceError) as refused:
        send()
    assert refused.value.code == "too_soon"
    assert not sms.outbox and not PhoneCode.objects.exists()


def test_a_refused_message_voids_its_code(settings, monkeypatch):
    def refuse(message):
        raise sms.SmsError("quota")

    monkeypatch.setattr(sms.LocmemBackend, "send", lambda self, message: refuse(message))
    with pytest.raises(ServiceError) as refused:
        send()
    assert refused.value.code == "not_sent"
    assert PhoneCode.objects.get().voided_at is not None


# Backends ------------------------------------------------------------------------------------------


def test_the_file_backend_writes_one_json_file_per_message_in_time_order(settings, tmp_path):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = tmp_path / "sms"
    sms.send(sms.Message(to=PHONE, purpose="register", code="123456", text="第一条"))
    sms.send(sms.Message(to="13905740045", purpose="step_up", code="654321", text="第二条"))
    files = sorted((tmp_path / "sms").iterdir())
    first, second = (json.loads(path.read_text(encoding="utf-8")) for path in files)
    assert {key: first[key] for key in ("to", "purpose", "code", "text")} == {
        "to": PHONE, "purpose": "register", "code": "123456", "text": "第一条",
    }
    assert second["code"] == "654321"


def test_the_console_backend_logs_the_message(settings, caplog):
    settings.SMS_BACKEND = "console"
    sms.send(sms.Message(to=PHONE, purpose="register", code="123456", text="验证码123456"))
    assert "验证码123456" in caplog.text


class FakeTencentTransport:
    """Stands where the SDK would make its HTTPS call; answers as the provider's API does."""

    def __init__(self, code="Ok", message="send success"):
        self.calls = []
        self.answer = {"Response": {
            "SendStatusSet": [{"SerialNo": "2028:1", "PhoneNumber": "+8613905741238", "Fee": 1,
                               "SessionContext": "", "Code": code, "Message": message, "IsoCode": "CN"}],
            "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279",
        }}

    def __call__(self, action, params):
        self.calls.append((action, params))
        return json.dumps(self.answer)


@pytest.fixture
def tencent(settings, monkeypatch):
    from tencentcloud.sms.v20210111 import sms_client

    settings.SMS_BACKEND = "accounts.sms_tencent.TencentCloudSmsBackend"
    settings.TENCENTCLOUD_SECRET_ID, settings.TENCENTCLOUD_SECRET_KEY = "AKIDtest", "secret"
    settings.TENCENT_SMS_SDK_APP_ID, settings.TENCENT_SMS_SIGN_NAME = "1400000000", "医保个人账户"
    settings.TENCENT_SMS_CODE_TEMPLATE_ID, settings.TENCENT_SMS_PHONE_CHANGED_TEMPLATE_ID = "100001", "100002"
    transport = FakeTencentTransport()
    monkeypatch.setattr(
        sms_client.SmsClient, "call", lambda client, action, params, **kwargs: transport(action, params)
    )
    return transport


def test_the_tencent_backend_sends_the_code_through_the_sdk(tencent):
    send()
    [(action, params)] = tencent.calls
    assert action == "SendSms"
    assert params["PhoneNumberSet"] == ["+8613905741238"]
    assert params["TemplateId"] == "100001"
    code, minutes = params["TemplateParamSet"]
    assert minutes == "5"
    assert verify(code).used_at is not None
    assert (params["SmsSdkAppId"], params["SignName"]) == ("1400000000", "医保个人账户")


def test_a_provider_refusal_becomes_a_clear_message_and_no_usable_code(tencent):
    tencent.answer["Response"]["SendStatusSet"][0].update(Code="LimitExceeded.PhoneNumberDailyLimit")
    with pytest.raises(ServiceError) as refused:
        send()
    assert refused.value.message == phone_codes.NOT_SENT
    assert PhoneCode.objects.get().voided_at is not None


def test_an_sdk_error_is_a_refusal_too(tencent, monkeypatch):
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
    from tencentcloud.sms.v20210111 import sms_client

    def fail(client, action, params, **kwargs):
        raise TencentCloudSDKException("AuthFailure.SecretIdNotFound", "密钥不存在")

    monkeypatch.setattr(sms_client.SmsClient, "call", fail)
    with pytest.raises(sms.SmsError, match="AuthFailure"):
        sms.send(sms.Message(to=PHONE, purpose="register", code="1", text="t", parameters=("1", "5")))


def test_the_tencent_sdk_is_imported_only_when_selected():
    import subprocess
    import sys

    probe = (
        "import django, os, sys; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup();"
        "from accounts import sms; sms.send(sms.Message(to='1', purpose='p', text='t'));"
        "print('tencentcloud' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True,
        env={**__import__("os").environ, "DEBUG": "true", "SMS_BACKEND": "locmem"},
    )
    assert result.stdout.strip() == "False"
