"""The withdrawal's receipts: the 受理回执 when it is lodged, the 办结凭证 when it ends."""

from django.utils.translation import gettext as _

from accounts.templatetags.portal import yuan
from review import printing
from review.printing import day_text


def receipt_paper(application, kind):
    """Return the 受理回执 (kind "lodged") or the 办结凭证 ("ended"), or None when it has none yet."""
    Status = application.Status
    if kind == printing.LODGED:
        facts = [
            (_("提取原因"), application.reason.name),
            (_("初审期限"), day_text(application.first_review_due)),
            (_("到账期限"), day_text(application.payment_due)),
        ]
    else:
        facts = [(_("提取原因"), application.reason.name)]
        if application.amount is not None:
            facts.append((_("提取金额"), yuan(application.amount)))
        if application.status == Status.PAID:
            facts += [(_("银行流水号"), application.voucher_number), (_("到账日期"), day_text(application.paid_on))]
        elif application.status == Status.REFUSED:
            facts.append((_("不予受理原因"), application.refusal_reason))
        elif application.status == Status.BANK_RETURNED:
            facts += [(_("银行退回原因"), application.bank_return_reason), (_("退回去向"), _("已退回个人账户"))]
    return printing.receipt(application, kind, business=_("个人账户余额提取"), facts=facts)
