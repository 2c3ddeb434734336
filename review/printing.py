"""Printable papers of an application: the receipts (受理回执, 办结凭证) and the PDF of any such paper.

One list of sections feeds both the print page and the PDF, so the two never say different things. The
PDF uses ReportLab's built-in CID font STSong-Light (Adobe's Song for simplified Chinese): a PDF reader
supplies the glyphs, so no font file ships with the project.
"""

import io
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

CJK_FONT = "STSong-Light"

LODGED, ENDED = "lodged", "ended"
RECEIPT_TITLES = {LODGED: gettext_lazy("受理回执"), ENDED: gettext_lazy("办结凭证")}


@dataclass(frozen=True)
class Section:
    title: str
    rows: list


@dataclass(frozen=True)
class Paper:
    """A printable paper: its title, the line under it, its sections and the notes at its foot."""

    title: str
    subtitle: str
    sections: list
    notes: list = field(default_factory=list)
    filename: str = "paper"


def day_text(value):
    """Say a date or a moment as 2026年12月5日 (a moment in the citizens' time zone)."""
    if value is None:
        return "—"
    value = timezone.localtime(value).date() if hasattr(value, "hour") else value
    return f"{value.year}年{value.month}月{value.day}日"


def office_of(region):
    """Name the office that handles a region's applications."""
    return _("%(region)s医疗保障局（医保服务大厅）") % {"region": region.name}


def ended_at(application):
    """Return when the application reached the status it ended in."""
    event = application.events.filter(to_status=application.status).order_by("-created_at", "-id").first()
    return event.created_at if event else None


def receipt(application, kind, *, business, facts):
    """Return the 受理回执 (`kind` LODGED) or 办结凭证 (ENDED) of `application`, or None when it has none yet.

    `facts` are the feature's own (label, value) rows: the deadlines on a 受理回执, the outcome on a
    办结凭证. The ID number is masked, and neither the birth date nor the age stands beside it: the
    masked digits are the birth date (DOMAIN.md).
    """
    if kind == LODGED and application.submitted_at is None:
        return None
    if kind == ENDED and not (application.submitted_at and application.status in application.ENDED):
        return None
    if kind not in RECEIPT_TITLES:
        return None
    person = application.applicant
    rows = [
        (_("业务"), business),
        (_("申请编号"), application.number),
        (_("申请人"), person.name),
        (_("公民身份号码"), person.masked_id_number),
        (_("受理机构"), office_of(application.region)),
        (_("提交日期"), day_text(application.submitted_at)),
    ]
    if kind == ENDED:
        rows += [(_("办理结果"), application.get_status_display()), (_("办结日期"), day_text(ended_at(application)))]
    title = str(RECEIPT_TITLES[kind])
    notes = [
        _("本凭证由医保个人账户服务门户根据经办记录生成，生成时间：%(now)s。")
        % {"now": timezone.localtime().strftime("%Y-%m-%d %H:%M")},
    ]
    if kind == LODGED:
        notes.insert(0, _("请凭申请编号查询办理进度；办理期限按工作日计算，补正后重新提交的，从重新提交之日起重新计算。"))
    return Paper(
        title=title, subtitle=f"{business} · {_('申请编号')} {application.number}",
        sections=[Section(_("申请信息"), rows), *([Section(_("办理情况"), facts)] if facts else [])],
        notes=notes, filename=f"{'receipt' if kind == LODGED else 'completion'}-{application.number}",
    )


def paper_pdf(paper):
    """Return the paper as PDF bytes."""
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    body = ParagraphStyle("body", fontName=CJK_FONT, fontSize=10.5, leading=15, wordWrap="CJK")
    heading = ParagraphStyle("heading", parent=body, fontSize=12.5, leading=18, spaceBefore=8, spaceAfter=4)
    title = ParagraphStyle("title", parent=body, fontSize=17, leading=24, alignment=1, spaceAfter=4)
    subtitle = ParagraphStyle("subtitle", parent=body, alignment=1, spaceAfter=8)
    note = ParagraphStyle("note", parent=body, fontSize=9, leading=13, textColor=colors.HexColor("#4a4a4a"))

    story = [Paragraph(escape(str(paper.title)), title), Paragraph(escape(str(paper.subtitle)), subtitle)]
    for section in paper.sections:
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
    story.append(Spacer(1, 8 * mm))
    story += [Paragraph(escape(str(text)), note) for text in paper.notes]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm, bottomMargin=20 * mm,
        title=f"{paper.title} {paper.subtitle}", author=_("医保个人账户服务"),
    )
    document.build(story)
    return buffer.getvalue()


def pdf_response(paper):
    """Return the paper as a PDF download, never kept in a shared cache."""
    response = HttpResponse(paper_pdf(paper), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{paper.filename}.pdf"'
    response["Cache-Control"] = "no-store, private"
    return response
