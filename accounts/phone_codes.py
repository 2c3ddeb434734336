"""One-time codes to the reserved phone (DOMAIN.md, "Proving who you are").

A code is 6 digits, valid 5 minutes, used once, bound to one purpose and one phone, stored as a keyed
hash; 5 wrong entries void it. A new code comes at the earliest 60 s after the last one for the same
phone and purpose, at most 10 a phone a day and 20 requests a client address an hour. Those counters
live in the cache, so they hold across servers when the cache is shared (Redis); they count every
request, matched or not, so that their refusals cannot tell a visitor whether a phone is registered.
"""

import datetime
import functools
import logging
import secrets
import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import sms
from .models import PhoneCode
from .services import ServiceError
from .throttle import count_hit

logger = logging.getLogger(__name__)

CODE_DIGITS = 6
VALID_FOR = datetime.timedelta(minutes=5)
MAX_WRONG_ENTRIES = 5
RESEND_AFTER_SECONDS = 60
ADDRESS_WINDOW_SECONDS = 60 * 60
PHONE_WINDOW_SECONDS = 24 * 60 * 60

CODE_REFUSED = gettext_lazy(
    "验证码不正确或已失效。请核对短信里的6位数字；输错5次或超过5分钟后，请重新获取验证码。"
)
TOO_SOON = gettext_lazy("验证码刚刚发出，请等%(seconds)d秒后再重新获取。")
ADDRESS_CAP = gettext_lazy("您所在的网络获取验证码过于频繁，请一小时后再试。")
PHONE_CAP = gettext_lazy("这个手机号今天获取验证码的次数已达上限，请明天再试，或到医保服务大厅办理。")
NOT_SENT = gettext_lazy("短信暂时发不出去，请稍后再试，或到医保服务大厅办理。")

PURPOSE_TEXT = {
    PhoneCode.Purpose.REGISTER: gettext_lazy("实名注册"),
    PhoneCode.Purpose.PASSWORD_RESET: gettext_lazy("找回密码"),
    PhoneCode.Purpose.STEP_UP: gettext_lazy("办理资金业务"),
}


def _digest(phone, purpose, code):
    # Keyed with SECRET_KEY: a leaked table cannot be reversed by trying the million codes.
    return salted_hmac("accounts.PhoneCode", f"{purpose}:{phone}:{code}", algorithm="sha256").hexdigest()


def _count_request(phone, purpose, address):
    """Count one code request, refusing it when a limit is reached."""
    now = time.time()
    wait_key = f"sms-wait:{purpose}:{phone}"
    # add() is atomic, so of two requests at the same moment one waits. The time is compared as well as
    # left to expire, so that a cache whose expiry lags a little never makes anyone wait longer.
    if not cache.add(wait_key, now, RESEND_AFTER_SECONDS):
        waited = now - cache.get(wait_key, now - RESEND_AFTER_SECONDS)
        if waited < RESEND_AFTER_SECONDS:
            raise ServiceError(TOO_SOON % {"seconds": int(RESEND_AFTER_SECONDS - waited) + 1}, code="too_soon")
        cache.set(wait_key, now, RESEND_AFTER_SECONDS)
    if count_hit(f"sms-address:{address}", ADDRESS_WINDOW_SECONDS) > settings.SMS_CODES_PER_ADDRESS_PER_HOUR:
        raise ServiceError(ADDRESS_CAP, code="address_cap")
    day = timezone.localdate().isoformat()
    if count_hit(f"sms-phone:{phone}:{day}", PHONE_WINDOW_SECONDS) > settings.SMS_CODES_PER_PHONE_PER_DAY:
        raise ServiceError(PHONE_CAP, code="phone_cap")


def send_code(*, phone, purpose, address, deliver=True):
    """Issue a new code for `purpose` and text it to `phone`; with deliver=False only count the request."""
    texting = prepare_code(phone=phone, purpose=purpose, address=address, deliver=deliver)
    return texting() if texting else None


def prepare_code(*, phone, purpose, address, deliver=True):
    """Count a request for a code, refusing it over a limit; return what issues and texts the code, or None.

    Registration and password reset call it with deliver=False when nothing matched, so that the visitor
    meets the same limits and the same answer either way, and no code is sent; they run what it returns
    only once their answer has gone out (accounts.views.TextAfterAnswer), so that neither the provider's
    delay nor its refusal shows in the answer.
    """
    _count_request(phone, purpose, address)
    return functools.partial(_issue_and_text, phone, purpose) if deliver else None


def _issue_and_text(phone, purpose):
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    now = timezone.now()
    with transaction.atomic():
        # A new code voids the earlier ones for the same purpose.
        PhoneCode.objects.filter(
            phone=phone, purpose=purpose, used_at__isnull=True, voided_at__isnull=True
        ).update(voided_at=now)
        record = PhoneCode.objects.create(
            phone=phone, purpose=purpose, code_hash=_digest(phone, purpose, code),
            created_at=now, expires_at=now + VALID_FOR,
        )
    minutes = int(VALID_FOR.total_seconds() // 60)
    text = _(
        "【医保个人账户】验证码%(code)s，用于%(purpose)s，%(minutes)d分钟内有效。"
        "请勿告诉任何人，工作人员不会向您索要验证码。"
    ) % {"code": code, "purpose": PURPOSE_TEXT[purpose], "minutes": minutes}
    try:
        sms.send(sms.Message(to=phone, purpose=purpose, code=code, text=text, parameters=(code, str(minutes))))
    except sms.SmsError:
        logger.exception("SMS to a reserved phone was refused by the provider")
        PhoneCode.objects.filter(pk=record.pk).update(voided_at=timezone.now())
        raise ServiceError(NOT_SENT, code="not_sent") from None
    return record


def verify_code(*, phone, purpose, code):
    """Use the live code for `purpose` and `phone` if `code` is it; count a wrong entry otherwise.

    Not wrapped in a caller's transaction: a wrong entry must be counted even though the caller refuses.
    """
    now = timezone.now()
    with transaction.atomic():
        current = (
            PhoneCode.objects.select_for_update()
            .filter(phone=phone, purpose=purpose, used_at__isnull=True, voided_at__isnull=True)
            .order_by("-created_at", "-id")
            .first()
        )
        live = current is not None and current.expires_at > now
        if live and constant_time_compare(current.code_hash, _digest(phone, purpose, code)):
            PhoneCode.objects.filter(pk=current.pk).update(used_at=now)
            current.used_at = now
            return current
        if live:
            wrong = current.failed_attempts + 1
            PhoneCode.objects.filter(pk=current.pk).update(
                failed_attempts=F("failed_attempts") + 1,
                # The fifth wrong entry voids the code: a sixth is refused even if it is right.
                voided_at=now if wrong >= MAX_WRONG_ENTRIES else None,
            )
    raise ServiceError(CODE_REFUSED, code="code_refused")


def masked_tail(phone):
    """Return the last four digits, as the pages name a phone (尾号1238)."""
    return phone[-4:]
