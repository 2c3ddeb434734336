"""The printable transfer record (参保凭证): 《参保人员基本医疗保险信息表》, and the transfer's receipts.

One list of sections feeds both the print page and the PDF (review.printing), so the two never differ.
"""

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.templatetags.portal import yuan
from review import printing
from review.printing import Paper, Section, day_text, paper_pdf

FORM_TITLE = "参保人员基本医疗保险信息表"
RECORD_TITLE = "参保凭证"
LEGAL_BASIS = "依据《基本医疗保障关系转移接续暂行办法》（医保发〔2021〕43号）出具。"


def months_text(months):
    """Say contribution months as 125个月（10年5个月）."""
    if months is None:
        return "—"
    years, rest = divmod(months, 12)
    if not years:
        return _("%(months)d个月") % {"months": months}
    span = _("%(years)d年") % {"years": years} + (_("%(months)d个月") % {"months": rest} if rest else "")
    return _("%(months)d个月（%(span)s）") % {"months": months, "span": span}


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
            (_("参保起止日期"), f"{day_text(old.started_on)} 至 {day_text(old.ended_on)}"),
            (_("转出地缴费年限"), months_text(application.contribution_months)),
            (_("个人账户转移金额"), moved),
            (_("转出日期（信息表出具日期）"), day_text(application.transferred_out_at)),
        ]),
        Section(_("转入地信息"), [
            (_("转入地"), _region(application.new_region)),
            (_("转入地参保日期"), day_text(new.started_on)),
            (_("接续日期"), day_text(application.transferred_in_at) if completed else _("待转入地办理转入")),
            (_("累计缴费年限"), months_text(new.contribution_months) if completed else _("转入后累计")),
        ]),
    ]


def _reason_text(application):
    label = str(application.get_reason_display())
    return f"{label}（{application.reason_note}）" if application.reason_note else label


def record_paper(application):
    """Return the record (参保凭证, the information form) as a printable paper."""
    return Paper(
        title=RECORD_TITLE, subtitle=f"《{FORM_TITLE}》 · {_('申请编号')} {application.number}",
        sections=record_sections(application),
        notes=[
            LEGAL_BASIS,
            _("本表由医保个人账户服务门户根据经办记录生成，生成时间：%(now)s。")
            % {"now": timezone.localtime().strftime("%Y-%m-%d %H:%M")},
        ],
        filename=f"transfer-record-{application.number}",
    )


def record_pdf(application):
    """Return the record as PDF bytes."""
    return paper_pdf(record_paper(application))


def receipt_paper(application, kind):
    """Return the transfer's 受理回执 (kind "lodged") or 办结凭证 ("ended"), or None when it has none yet."""
    Status = application.Status
    if kind == printing.LODGED:
        if application.transfer_out_due:
            deadline = _("转出地于%(day)s前办理转出") % {"day": day_text(application.transfer_out_due)}
        else:
            deadline = _("转入地受理后，转出地10个工作日内办理转出，转入地收到信息表后5个工作日内办理转入")
        facts = [
            (_("转出地"), _region(application.old_region)), (_("转入地"), _region(application.new_region)),
            (_("转移原因"), _reason_text(application)), (_("办理期限"), deadline),
        ]
    else:
        facts = [(_("转出地"), _region(application.old_region)), (_("转入地"), _region(application.new_region))]
        if application.status == Status.COMPLETED:
            moved = yuan(application.amount) if application.amount is not None else _("省内通用，不划转")
            facts += [(_("个人账户转移金额"), moved), (_("接续日期"), day_text(application.transferred_in_at))]
        elif application.status == Status.REFUSED:
            facts.append((_("不予受理原因"), application.refusal_reason))
    return printing.receipt(application, kind, business=_("医保关系转移接续"), facts=facts)
