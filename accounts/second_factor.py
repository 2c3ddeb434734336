"""The second factor of staff logins (django-otp): a TOTP authenticator app and ten single-use backup codes.

A member of staff without a confirmed device enrols at the first login: the app scans a QR code, the first
code it shows confirms the device, and the backup codes are shown once. A superuser resets a lost device;
every reset is recorded (SecondFactorReset).
"""

import io
from base64 import b32encode
import re

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import SecondFactorReset

TOTP_PATTERN = re.compile(r"^\d{6}$")
DEVICE_NAME = "身份验证器"
BACKUP_NAME = "备用码"


def has_device(user):
    """Return whether `user` has a confirmed authenticator."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def verify(user, token):
    """Return the device of `user` that accepts `token` (a TOTP code or an unused backup code), or None.

    A six-digit token is tried on the authenticator only, anything else on the backup codes only, so a
    mistyped code never counts as a failure against the device it was not meant for.
    """
    token = (token or "").replace(" ", "").strip()
    if not token:
        return None
    model = TOTPDevice if TOTP_PATTERN.match(token) else StaticDevice
    device = model.objects.filter(user=user, confirmed=True).first()
    if device is None:
        return None
    allowed, _details = device.verify_is_allowed()
    return device if allowed and device.verify_token(token) else None


def pending_device(*, user):
    """Return the authenticator `user` is enrolling, creating it (unconfirmed, with a new key) on first use."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def qr_code_svg(device):
    """Return the device's otpauth:// address as an SVG QR code, drawn on the server."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    # Inline in the page, so without the XML declaration; sized by the page's CSS.
    return buffer.getvalue().decode().split("?>", 1)[-1].strip()


def base32_key(device):
    """Return the key as authenticator apps accept it when typed, in groups of four."""
    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i:i + 4] for i in range(0, len(key), 4))


@transaction.atomic
def confirm_device(*, user, token):
    """Confirm the pending authenticator if `token` is its current code; return it and fresh backup codes.

    Returns (device, codes) or (None, []) when the code is wrong. The codes are shown once: only their
    device keeps them, and a later enrolment replaces them.
    """
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None or not device.verify_token(token.replace(" ", "")):
        return None, []
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device, _new_backup_codes(user)


def _new_backup_codes(user):
    StaticDevice.objects.filter(user=user).delete()
    backup = StaticDevice.objects.create(user=user, name=BACKUP_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.STAFF_BACKUP_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=backup, token=code) for code in codes)
    return codes


@transaction.atomic
def reset_second_factor(*, user, actor, reason):
    """Remove every authenticator and backup code of `user`, so that the next login enrols anew; record it."""
    removed = TOTPDevice.objects.filter(user=user).delete()[0] + StaticDevice.objects.filter(user=user).delete()[0]
    return SecondFactorReset.objects.create(staff=user, reset_by=actor, reason=reason, devices_removed=removed)


@transaction.atomic
def give_known_device(*, user, key_hex):
    """Give `user` one confirmed authenticator with the key `key_hex` (demo data only)."""
    TOTPDevice.objects.filter(user=user).exclude(key=key_hex).delete()
    TOTPDevice.objects.get_or_create(
        user=user, key=key_hex, defaults={"name": DEVICE_NAME, "confirmed": True}
    )
