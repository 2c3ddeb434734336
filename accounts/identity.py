"""Resident ID numbers (GB 11643-1999) and the masking of personal data on screen."""

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"


@dataclass(frozen=True)
class IdNumber:
    """A checked 18-character ID number and what it says about its holder."""

    value: str
    birth_date: datetime.date
    is_male: bool

    def age_on(self, day):
        """Return the holder's age in whole years on `day`."""
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - before_birthday


def check_character(first17):
    """Return the ISO 7064 MOD 11-2 check character for 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARACTERS[total % 11]


def parse_id_number(raw, *, today=None):
    """Return the IdNumber for `raw`, or raise ValidationError saying which part is wrong."""
    value = (raw or "").strip().upper()
    if len(value) != 18:
        raise ValidationError(
            _("身份证号码应为18位，您输入了%(count)d位。") % {"count": len(value)}, code="length"
        )
    if not value[:17].isdigit() or not value[:17].isascii():
        raise ValidationError(_("身份证号码前17位应全部为数字。"), code="digits")
    # str.isdigit() also accepts full-width and other Unicode digits; only ASCII 0-9 and X are valid here.
    if value[17] not in "0123456789X":
        raise ValidationError(_("身份证号码最后一位应为数字或字母X。"), code="last_character")
    try:
        birth_date = datetime.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValidationError(
            _("身份证号码第7至14位的出生日期不存在，请核对。"), code="birth_date"
        ) from None
    today = today or timezone.localdate()
    if birth_date > today or birth_date.year < 1900:
        raise ValidationError(
            _("身份证号码第7至14位的出生日期不合理，请核对。"), code="birth_date"
        )
    if check_character(value[:17]) != value[17]:
        raise ValidationError(
            _("身份证号码校验位（最后一位）不正确，请核对是否输错。"), code="checksum"
        )
    return IdNumber(value=value, birth_date=birth_date, is_male=int(value[16]) % 2 == 1)


def validate_id_number(raw):
    """Validator for model and form fields."""
    parse_id_number(raw)


def mask_id_number(value):
    """Show the first 6 and last 4 characters: 330203********1238."""
    if not value:
        return ""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_name(name):
    """Show a third party's family name only: 张*, 欧阳**."""
    if not name:
        return ""
    family_length = 2 if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES else 1
    return name[:family_length] + "*" * max(len(name) - family_length, 1)


def mask_digits(value, *, keep=4):
    """Mask all but the last `keep` characters of a bank account or phone number."""
    if not value:
        return ""
    return "*" * max(len(value) - keep, 0) + value[-keep:]


# The common two-character family names; any other name is taken to have a one-character family name.
COMPOUND_SURNAMES = frozenset(
    """欧阳 太史 端木 上官 司马 东方 独孤 南宫 万俟 闻人 夏侯 诸葛 尉迟 公羊 赫连 澹台 皇甫 宗政 濮阳
    公冶 太叔 申屠 公孙 慕容 仲孙 钟离 长孙 宇文 司徒 鲜于 司空 闾丘 子车 亓官 司寇 巫马 公西 颛孙 壤驷
    公良 漆雕 乐正 宰父 谷梁 拓跋 夹谷 轩辕 令狐 段干 百里 呼延 东郭 南门 羊舌 微生 公户 公玉 公仪 梁丘
    公仲 公上 公门 公山 公坚 左丘 公伯 西门 公祖 第五 公乘 贯丘 公皙 南荣 东里 东宫 仲长 子书 子桑 即墨
    达奚 褚师""".split()
)
