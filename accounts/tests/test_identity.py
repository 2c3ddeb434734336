import datetime

import pytest
from django.core.exceptions import ValidationError

from accounts.identity import check_character, mask_digits, mask_id_number, mask_name, parse_id_number


def with_check(first17):
    return first17 + check_character(first17)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("11010519491231002X", "11010519491231002X"),  # the example of GB 11643-1999
        ("11010519491231002x", "11010519491231002X"),
        (" 330203198501011238 ", "330203198501011238"),
        ("330203201506011020", "330203201506011020"),
        ("441900199008083318", "441900199008083318"),
        (with_check("33020320000229001"), with_check("33020320000229001")),  # a leap day
    ],
)
def test_valid_id_number_is_accepted_and_normalised(raw, expected):
    assert parse_id_number(raw).value == expected


@pytest.mark.parametrize(
    "raw, code",
    [
        ("", "length"),
        ("33020319850101123", "length"),
        ("3302031985010112388", "length"),
        ("3302031985O1011238", "digits"),
        ("３30203198501011238", "digits"),  # a full-width digit
        ("33020319850101123Y", "last_character"),
        ("33020319850101123８", "last_character"),
        (with_check("33020319990230001"), "birth_date"),  # 30 February
        (with_check("33020319851301001"), "birth_date"),
        (with_check("33020320990101001"), "birth_date"),  # in the future
        (with_check("33020318991231001"), "birth_date"),
        ("330203198501011239", "checksum"),
        ("11010519491231002", "length"),
        ("110105194912310021", "checksum"),
    ],
)
def test_invalid_id_number_is_refused_naming_the_wrong_part(raw, code):
    with pytest.raises(ValidationError) as refused:
        parse_id_number(raw, today=datetime.date(2026, 11, 24))
    assert refused.value.code == code


def test_birth_date_today_is_accepted_and_tomorrow_refused():
    today = datetime.date(2026, 11, 24)
    assert parse_id_number(with_check("33020320261124001"), today=today).birth_date == today
    with pytest.raises(ValidationError) as refused:
        parse_id_number(with_check("33020320261125001"), today=today)
    assert refused.value.code == "birth_date"


def test_age_counts_whole_years_up_to_the_birthday():
    identity = parse_id_number("330203198501011238")
    assert identity.birth_date == datetime.date(1985, 1, 1)
    assert identity.age_on(datetime.date(2025, 12, 31)) == 40
    assert identity.age_on(datetime.date(2026, 1, 1)) == 41


@pytest.mark.parametrize(
    "id_number, is_male",
    [
        ("330203198501011238", True),  # 17th digit 3: odd is male
        ("441900199008083318", True),
        ("330203195803150045", False),  # 17th digit 4: even is female
        ("11010519491231002X", False),
    ],
)
def test_sex_comes_from_the_17th_digit(id_number, is_male):
    assert parse_id_number(id_number).is_male is is_male


def test_mask_id_number_keeps_first_six_and_last_four():
    assert mask_id_number("330203198501011238") == "330203********1238"
    assert mask_id_number("") == ""


@pytest.mark.parametrize(
    "name, masked",
    [("张伟", "张*"), ("李秀英", "李**"), ("欧阳娜娜", "欧阳**"), ("诸葛亮", "诸葛*"), ("王", "王*"), ("", "")],
)
def test_mask_name_shows_the_family_name_only(name, masked):
    assert mask_name(name) == masked


def test_mask_digits_keeps_the_last_four():
    assert mask_digits("6222021234567890123") == "***************0123"
    assert mask_digits("13905741238") == "*******1238"
    assert mask_digits("123") == "123"
    assert mask_digits("") == ""
