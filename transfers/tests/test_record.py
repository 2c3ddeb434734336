"""The printable record: what the information form says, on the page and in the PDF."""

import pytest

from transfers import services
from transfers.record import months_text, record_pdf, record_sections

from .conftest import apply, refreshed

pytestmark = pytest.mark.django_db


def rows(application):
    sections = record_sections(refreshed(application))
    return {label: value for section in sections for label, value in section.rows}


def test_months_are_said_in_years_and_months():
    assert [months_text(m) for m in (None, 7, 12, 125)] == ["—", "7个月", "12个月（1年）", "125个月（10年5个月）"]


def test_the_form_issued_at_transfer_out_names_both_regions_the_money_and_the_years(transferred_out):
    values = rows(transferred_out)
    assert values["姓名"] == "陈明" and values["公民身份号码"] == transferred_out.applicant.masked_id_number
    assert values["转出地"] == "东莞市（441900）" and values["转入地"] == "宁波市（330200）"
    assert values["个人账户转移金额"] == "¥1,500.00"
    assert values["转出地缴费年限"] == "120个月（10年）"
    assert values["接续日期"] == "待转入地办理转入" and values["累计缴费年限"] == "转入后累计"


def test_after_completion_the_record_shows_the_years_added_up(completed):
    values = rows(completed)
    assert values["累计缴费年限"] == "120个月（10年）"
    assert values["接续日期"].endswith("日")


def test_the_pdf_takes_what_a_citizen_typed_as_text_not_markup(moving, nb_clerk, dg_clerk):
    application = apply(moving, reason="other", reason_note="<b>随配偶</b> & <font size=99>x")
    services.accept_transfer(application=application, actor=nb_clerk)
    services.transfer_out(application=application, actor=dg_clerk)
    pdf = record_pdf(refreshed(application))
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
