"""The yearly statement of one personal account (年度对账单): opening balance, each month's credits, where
the money went by kind and by whom it was for, closing balance; every figure a sum of ledger entries.

Which relative a payment was for is family sharing's business: sharing registers a function here
(`register_beneficiaries`) instead of accounts importing it (see DESIGN.md, "Layout").
"""

import datetime
import io
from dataclasses import dataclass, field
from decimal import Decimal
from xml.sax.saxutils import escape

from django.db.models import Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

from .models import CITIZENS_TIME_ZONE, JournalTransaction, LedgerEntry
from .templatetags.portal import yuan

ZERO = Decimal("0.00")
Kind = JournalTransaction.Kind

# Functions (account, transaction ids) -> {transaction id: name of the person the money was for}.
_beneficiaries = []


def register_beneficiaries(function):
    """Let an app say for whom money left an account (a relative's bill, premium or quota)."""
    if function not in _beneficiaries:
        _beneficiaries.append(function)


def beneficiaries(account, transaction_ids):
    """Return {transaction id: the person money of `account` went to}, as the registered apps know it."""
    names = {}
    for function in _beneficiaries:
        names.update(function(account, list(transaction_ids)))
    return names


@dataclass
class YearlyStatement:
    account: object
    year: int
    opening: Decimal = ZERO
    credits: list = field(default_factory=list)  # [(first day of the month, amount)]
    money_in: list = field(default_factory=list)  # [(kind label, amount)], credits apart
    money_out: list = field(default_factory=list)  # [(kind label, amount as a positive number)]
    for_whom: list = field(default_factory=list)  # [(name, amount as a positive number)]

    @property
    def total_credits(self):
        return sum((amount for _month, amount in self.credits), ZERO)

    @property
    def total_in(self):
        return self.total_credits + sum((amount for _label, amount in self.money_in), ZERO)

    @property
    def total_out(self):
        return sum((amount for _label, amount in self.money_out), ZERO)

    @property
    def closing(self):
        return self.opening + self.total_in - self.total_out


def year_bounds(year):
    """The start of the citizens' (Asia/Shanghai) year and of the next one."""
    return tuple(datetime.datetime(y, 1, 1, tzinfo=CITIZENS_TIME_ZONE) for y in (year, year + 1))


def statement_years(account):
    """The years from the account's first entry to this one, newest first."""
    first = LedgerEntry.objects.filter(account=account).order_by("transaction__created_at").values_list(
        "transaction__created_at", flat=True
    ).first()
    this_year = timezone.localtime(timezone.now(), CITIZENS_TIME_ZONE).year
    start = timezone.localtime(first, CITIZENS_TIME_ZONE).year if first else this_year
    return list(range(this_year, start - 1, -1))


def yearly_statement(account, year):
    """Return the account's statement for `year`, its figures summed from the ledger."""
    start, end = year_bounds(year)
    entries = LedgerEntry.objects.filter(account=account)
    before = entries.filter(transaction__created_at__lt=start).aggregate(total=Sum("amount"))["total"]
    during = entries.filter(transaction__created_at__gte=start, transaction__created_at__lt=end)
    statement = YearlyStatement(account=account, year=year, opening=before or ZERO)
    credits = (
        during.filter(transaction__kind=Kind.CREDIT)
        .annotate(month=TruncMonth("transaction__created_at", tzinfo=CITIZENS_TIME_ZONE))
        .values("month").annotate(total=Sum("amount")).order_by("month")
    )
    statement.credits = [(row["month"].date(), row["total"]) for row in credits]
    by_kind = during.exclude(transaction__kind=Kind.CREDIT).values("transaction__kind").annotate(
        incoming=Sum("amount", filter=Q(amount__gt=0)), outgoing=Sum("amount", filter=Q(amount__lt=0))
    ).order_by("transaction__kind")
    for row in by_kind:
        label = Kind(row["transaction__kind"]).label
        if row["incoming"]:
            statement.money_in.append((label, row["incoming"]))
        if row["outgoing"]:
            statement.money_out.append((label, -row["outgoing"]))
    statement.for_whom = _for_whom(account, during)
    return statement


def _for_whom(account, during):
    """Spending (settlements, premiums, quota top-ups) by the person it was for: the holder or a relative."""
    spent = list(
        during.filter(amount__lt=0, transaction__kind__in=[Kind.SETTLEMENT, Kind.PREMIUM, Kind.QUOTA_TOPUP])
        .values_list("transaction_id", "amount")
    )
    names = beneficiaries(account, [transaction_id for transaction_id, _amount in spent])
    holder = account.enrolment.person.name if account.enrolment_id else ""
    totals = {}
    for transaction_id, amount in spent:
        name = names.get(transaction_id) or holder
        totals[name] = totals.get(name, ZERO) - amount
    own = [(_("%(name)s（本人）") % {"name": holder}, totals.pop(holder))] if holder in totals else []
    return own + sorted(totals.items())


# The PDF -------------------------------------------------------------------------------------------

CJK_FONT = "STSong-Light"


def statement_rows(statement):
    """The statement as (section title, [(label, amount words)]) for the page and the PDF alike."""
    region = statement.account.region.name
    return [
        (_("账户"), [
            (_("参保地"), region), (_("年度"), _("%(year)d年") % {"year": statement.year}),
            (_("期初余额（1月1日的余额）"), yuan(statement.opening)),
        ]),
        (_("每月划入"), [
            *((_("%(month)d月") % {"month": day.month}, yuan(amount)) for day, amount in statement.credits),
            (_("划入合计"), yuan(statement.total_credits)),
        ]),
        (_("其他收入"), [(label, yuan(amount)) for label, amount in statement.money_in] or [(_("无"), "")]),
        (_("支出（按业务类型）"), [(label, yuan(amount)) for label, amount in statement.money_out]
         + [(_("支出合计"), yuan(statement.total_out))]),
        (_("支出（按为谁支付）"), [(name, yuan(amount)) for name, amount in statement.for_whom] or [(_("无"), "")]),
        (_("期末余额"), [(_("12月31日的余额"), yuan(statement.closing))]),
    ]


def statement_pdf(statement, holder_name):
    """Return the yearly statement as PDF bytes."""
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    body = ParagraphStyle("body", fontName=CJK_FONT, fontSize=10.5, leading=15, wordWrap="CJK")
    heading = ParagraphStyle("heading", parent=body, fontSize=12.5, leading=18, spaceBefore=8, spaceAfter=4)
    title = ParagraphStyle("title", parent=body, fontSize=17, leading=24, alignment=1, spaceAfter=10)
    heading_text = _("个人账户年度对账单（%(year)d年）") % {"year": statement.year}
    story = [
        Paragraph(escape(heading_text), title),
        Paragraph(escape(_("参保人：%(name)s") % {"name": holder_name}), body),
    ]
    for section, rows in statement_rows(statement):
        story.append(Paragraph(escape(str(section)), heading))
        table = Table([[Paragraph(escape(str(cell)), body) for cell in row] for row in rows],
                      colWidths=[100 * mm, 70 * mm])
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.6, colors.black), ("ALIGN", (1, 0), (1, -1), "RIGHT"),
        ]))
        story.append(table)
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm,
                      bottomMargin=20 * mm, title=heading_text, author=_("医保个人账户服务")).build(story)
    return buffer.getvalue()
