"""The printable transfer record: 《参保人员基本医疗保险信息表》 with the 参保凭证 of the transfer.

One list of sections feeds both the print page and the PDF, so the two never say different things.
The PDF uses ReportLab's built-in CID font STSong-Light (Adobe's Song for simplified Chinese): a PDF
reader supplies the glyphs, so no font file ships with the project.
"""

import io
from dataclasses import dataclass
from xml.sax.saxutils import escape

from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from accounts.templatetags.portal import yuan

FORM_TITLE = "参保人员基本医疗保险信息表"
LEGAL_BASIS = "依据《基本医疗保障关系转移接续暂行办法》（医保发〔2021〕43号）出具。"
CJK_FONT = "STSong-Light"


@dataclass(frozen=True)
class Section:
    title: str
    rows: list


def months_text(months):
    """Say contribution months as 125个月（10年5个月）."""
    if months is None:
        return "—"
    years, rest = divmod(months, 12)
    if not years:
        return _("%(months)d个月") % {"months": months}
    span = _("%(years)d年") % {"years": years} + (_("%(months)d个月") % {"months": rest} if rest else "")
    return _("%(months)d个月（%(span)s）") % {"months": months, "span": span}


def _date(value):
    if value is None:
        return "—"
    value = timezone.localtime(value).date() if hasattr(value, "hour") else value
    return f"{value.year}年{value.month}月{value.day}日"


def _region(region):
    return f"{region.name}（{region.code}）"


def record_sections(application):
    """Return the record's sections of (label, value) rows."""
    person, old, new = application.applicant, application.old_enrolment, application.new_enrolment
    completed = application.status == application.Status.COMPLETED
    if application.province_wide:
        moved = _("个人账户省内通用，余额随账户继续使用，不划转")
    else:
        moved = yuan(application.amount) if application.amount is not None else "—"
    return [
        Section(_("参保人员基本信息"), [
            (_("姓名"), person.name),
            (_("性别"), str(person.sex_display)),
            # No birth date beside the masked number: the masked digits are the birth date (DOMAIN.md).
            (_("公民身份号码"), person.masked_id_number),
            (_("申请编号"), application.number),
            (_("转移原因"), _reason_text(application)),
        ]),
        Section(_("转出地信息"), [
            (_("转出地"), _region(application.old_region)),
            (_("险种"), _("职工基本医疗保险")),
            (_("参保起止日期"), f"{_date(old.started_on)} 至 {_date(old.ended_on)}"),
            (_("转出地缴费年限"), months_text(application.contribution_months)),
            (_("个人账户转移金额"), moved),
            (_("转出日期（信息表出具日期）"), _date(application.transferred_out_at)),
        ]),
        Section(_("转入地信息"), [
            (_("转入地"), _region(application.new_region)),
            (_("转入地参保日期"), _date(new.started_on)),
            (_("接续日期"), _date(application.transferred_in_at) if completed else _("待转入地办理转入")),
            (_("累计缴费年限"), months_text(new.contribution_months) if completed else _("转入后累计")),
        ]),
    ]


def _reason_text(application):
    label = str(application.get_reason_display())
    return f"{label}（{application.reason_note}）" if application.reason_note else label


def record_pdf(application):
    """Return the record as PDF bytes."""
    _register_font()
    body = ParagraphStyle("body", fontName=CJK_FONT, fontSize=10.5, leading=15, wordWrap="CJK")
    heading = ParagraphStyle("heading", parent=body, fontSize=12.5, leading=18, spaceBefore=8, spaceAfter=4)
    title = ParagraphStyle("title", parent=body, fontSize=17, leading=24, alignment=1, spaceAfter=10)
    note = ParagraphStyle("note", parent=body, fontSize=9, leading=13, textColor=colors.HexColor("#4a4a4a"))

    story = [Paragraph(FORM_TITLE, title)]
    for section in record_sections(application):
        story.append(Paragraph(escape(str(section.title)), heading))
        table = Table(
            # Paragraph reads its text as markup: what a citizen typed is escaped, never interpreted.
            [[Paragraph(escape(str(cell)), body) for cell in row] for row in section.rows],
            colWidths=[52 * mm, 118 * mm],
        )
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
            ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f3f5f8")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]))
        story.append(table)
    story += [
        Spacer(1, 8 * mm),
        Paragraph(LEGAL_BASIS, note),
        Paragraph(
            _("本表由医保个人账户服务门户根据经办记录生成，生成时间：%(now)s。")
            % {"now": timezone.localtime().strftime("%Y-%m-%d %H:%M")},
            note,
        ),
    ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm, bottomMargin=20 * mm,
        title=f"{FORM_TITLE} {application.number}", author=_("医保个人账户服务"),
    )
    document.build(story)
    return buffer.getvalue()


def _register_font():
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
