"""Forms of the transfer pages and the two desks; they check formats, the services check the rules."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.forms import IdNumberField
from accounts.models import Region

from .models import ID_CARD_LABEL, TransferApplication

DECLARATION = _("我承诺所填信息和所提交的身份证件真实有效，如有虚假，愿承担法律责任。")


def region_field(label, help_text):
    return forms.ModelChoiceField(
        label=label, help_text=help_text, queryset=Region.objects.order_by("code"), empty_label=_("请选择"),
        error_messages={"required": _("请选择%(what)s。") % {"what": label}, "invalid_choice": _("请从列表中选择。")},
    )


def reason_field():
    return forms.ChoiceField(
        label=_("转移原因"), choices=[("", _("请选择"))] + list(TransferApplication.Reason.choices),
        error_messages={"required": _("请选择转移原因。")},
    )


def reason_note_field():
    return forms.CharField(
        label=_("原因说明"), required=False, max_length=200,
        help_text=_("选择“其他原因”的必填，最多200字。"),
        error_messages={"max_length": _("原因说明最多200字。")},
    )


def id_card_field(label=ID_CARD_LABEL):
    return forms.FileField(
        label=label,
        help_text=_("拍照上传身份证正反面（可拼在一张图里），JPG、PNG 图片或 PDF 文件，不超过 10 MB。"),
        error_messages={
            "required": _("请上传身份证图片。"),
            "empty": _("文件是空的，请重新选择。"),
            "invalid": _("没有收到文件，请重新选择。"),
        },
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,application/pdf"}),
    )


class ReasonForm(forms.Form):
    reason = reason_field()
    reason_note = reason_note_field()

    def clean(self):
        cleaned = super().clean()
        other = cleaned.get("reason") == TransferApplication.Reason.OTHER
        if other and not cleaned.get("reason_note", "").strip():
            self.add_error("reason_note", _("选择“其他原因”的，请简要说明转移原因。"))
        return cleaned


class ApplyForm(ReasonForm):
    """The citizen's application: where from, where to, why, with an ID-card image."""

    old_region = region_field(_("转出地（原参保地）"), _("原单位已办理停保的统筹区。"))
    new_region = region_field(_("转入地（现参保地）"), _("新单位已办理参保登记的统筹区。"))
    id_card = id_card_field()
    declaration = forms.BooleanField(
        label=DECLARATION, error_messages={"required": _("请先阅读并勾选承诺，再提交申请。")}
    )

    field_order = ["old_region", "new_region", "reason", "reason_note", "id_card", "declaration"]


class IdCardForm(forms.Form):
    id_card = id_card_field(_("新的身份证（正反面）图片"))


class ResubmitForm(ReasonForm):
    declaration = forms.BooleanField(
        label=DECLARATION, error_messages={"required": _("请先阅读并勾选承诺，再重新提交。")}
    )


# The two desks (admin) ---------------------------------------------------------------------------


class CounterApplyForm(ReasonForm):
    """A clerk of either region lodges a transfer for a citizen who came to the counter."""

    applicant_id_number = IdNumberField(label=_("申请人身份证号码"), help_text=_("核对来人的身份证原件后填写。"))
    old_region = region_field(_("转出地"), _("原单位已办理停保的统筹区。"))
    new_region = region_field(_("转入地"), _("新单位已办理参保登记的统筹区。申请由转入地受理。"))
    id_card = id_card_field(_("身份证（正反面）扫描件"))
    declaration = forms.BooleanField(
        label=_("申请人已在窗口签署承诺：所填信息和身份证件真实有效。"),
        error_messages={"required": _("请确认申请人已签署承诺。")},
    )

    field_order = [
        "applicant_id_number", "old_region", "new_region", "reason", "reason_note", "id_card", "declaration",
    ]


class CounterResubmitForm(ReasonForm):
    id_card = forms.FileField(
        label=_("新的身份证扫描件"), required=False, help_text=_("退回时要求重新上传身份证图片的必填。"),
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,application/pdf"}),
    )
    declaration = forms.BooleanField(
        label=_("申请人已在窗口签署承诺：所填信息和身份证件真实有效。"),
        error_messages={"required": _("请确认申请人已签署承诺。")},
    )


class ReturnForm(forms.Form):
    replace_id_card = forms.BooleanField(
        label=_("须重新上传身份证图片"), required=False, help_text=_("身份证图片不清晰、不完整或不是本人的，请勾选。"),
    )
    note = forms.CharField(
        label=_("补正说明"), max_length=1000, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("一次性写明所有需要补正的内容。申请人会看到这段说明。"),
        error_messages={"required": _("请写明需要补正的内容。")},
    )


class RefuseForm(forms.Form):
    reason = forms.CharField(
        label=_("不予受理原因"), max_length=1000, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("申请人会看到这段原因。"),
        error_messages={"required": _("请填写不予受理的原因。")},
    )
