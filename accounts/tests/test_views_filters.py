import datetime
from decimal import Decimal

import pytest
from django.template.loader import render_to_string

from accounts.templatetags.portal import duration_zh, mask_id, mask_name, mask_phone, signed_yuan, yuan


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (Decimal("2000.00"), "¥2,000.00"),
        (Decimal("-12"), "-¥12.00"),
        (Decimal("1234567.8"), "¥1,234,567.80"),
        (Decimal("0.00"), "¥0.00"),
        (Decimal("-0.00"), "¥0.00"),
        (160, "¥160.00"),
        ("35.50", "¥35.50"),
        (None, ""),
    ],
)
def test_yuan_formats_with_thousands_separators(amount, shown):
    assert yuan(amount) == shown


def test_signed_yuan_always_shows_the_sign():
    assert signed_yuan(Decimal("160.00")) == "+¥160.00"
    assert signed_yuan(Decimal("-12.00")) == "-¥12.00"


def test_masking_filters():
    assert mask_id("330203198501011238") == "330203********1238"
    assert mask_name("张伟") == "张*"
    assert mask_name("欧阳娜娜") == "欧阳**"
    assert mask_phone("13912345678") == "*******5678"


def test_duration_in_chinese():
    assert duration_zh(datetime.timedelta(hours=1)) == "1小时"
    assert duration_zh(datetime.timedelta(minutes=90)) == "1小时30分钟"
    assert duration_zh(datetime.timedelta(minutes=30)) == "30分钟"


@pytest.mark.parametrize(("template", "title"), [("500.html", "系统出错了"), ("403_csrf.html", "页面已过期")])
def test_error_pages_render_without_a_request(template, title):
    # Django renders these with a bare context: no request, no context processors, maybe no database.
    page = render_to_string(template)
    assert f"<h1>{title}</h1>" in page
    assert '<html lang="zh-Hans">' in page
