"""Forms of the withdrawal pages and the review desk; they check formats, the services check rules."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.forms import IdNumberField

from .models import WithdrawalApplication, WithdrawalReason

BANK_ACCOUNT_PATTERN = re.compile(r"^\d{8,32}$")
DECLARATION = _("我承诺所提交材料真实有效，如有虚假，愿承担法律责任。")


class BankAccountForm(forms.Form):
    """The bank account the money goes to; the same fields online and at the counter."""

    bank_name = forms.CharField(
        label=_("开户银行"), max_length=60,
        help_text=_("例如：中国工商银行宁波分行。"),
        error_messages={"required": _("请填写开户银行。")},
    )
    bank_account_number = forms.CharField(
        label=_("银行账号"), max_length=40,
        help_text=_("银行卡或存折上的账号。"),
        error_messages={"required": _("请填写银行账号。")},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    bank_account_holder = forms.CharField(
        label=_("银行账户户名"), max_length=50,
        help_text=_("必须是申请人本人的账户。"),
        error_messages={"required": _("请填写银行账户户名。")},
    )

    def clean_bank_account_number(self):
        number = re.sub(r"[\s-]", "", self.cleaned_data["bank_account_number"])
        if not BANK_ACCOUNT_PATTERN.match(number):
            raise ValidationError(_("银行账号应为8至32位数字。"), code="bank_account_number")
        return number


def bank_initial(application, *, with_number=True):
    """Return the application's bank details as the bank form's initial values.

    Staff other than approvers see the number masked, so at the desk the number is typed afresh.
    """
    initial = {"bank_name": application.bank_name, "bank_account_holder": application.bank_account_holder}
    if with_number:
        initial["bank_account_number"] = application.bank_account_number
    return initial


class HeirForm(forms.Form):
    """Who the deceased holder was, and how the applicant is related to them."""

    holder_name = forms.CharField(
        label=_("已故参保人姓名"), max_length=50, error_messages={"required": _("请填写已故参保人姓名。")}
    )
    holder_id_number = IdNumberField(
        label=_("已故参保人身份证号码"), error_messages={"required": _("请填写已故参保人身份证号码。")}
    )
    heir_relation = forms.ChoiceField(
        label=_("您与已故参保人的关系"),
        choices=[("", _("请选择"))] + list(WithdrawalApplication.HeirRelation.choices),
        error_messages={"required": _("请选择您与已故参保人的关系。")},
    )


class HeirWithdrawalForm(HeirForm, BankAccountForm):
    """The application form for a reason heirs use: the deceased holder first, then the bank account."""

    field_order = ["holder_name", "holder_id_number", "heir_relation"]


def withdrawal_form_class(reason):
    """Return the citizen's application form for `reason`."""
    return HeirWithdrawalForm if reason.is_for_heirs else BankAccountForm


def material_file_field():
    return forms.FileField(
        label=_("选择文件"),
        help_text=_("JPG、PNG 图片或 PDF 文件，每个不超过 10 MB。"),
        error_messages={
            "required": _("请选择要上传的文件。"),
            "empty": _("文件是空的，请重新选择。"),
            "invalid": _("没有收到文件，请重新选择。"),
        },
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,application/pdf"}),
    )


class MaterialUploadForm(forms.Form):
    """One file of one kind; the bytes are checked by review.materials when it is stored."""

    file = material_file_field()

    def __init__(self, *args, kind, label, **kwargs):
        # The prefix keeps one upload form per kind apart on the same page, ids and names alike.
        super().__init__(*args, prefix=kind, **kwargs)
        self.kind = kind
        self.fields["file"].label = _("选择%(label)s文件") % {"label": label}


class SubmitForm(forms.Form):
    declaration = forms.BooleanField(
        label=DECLARATION,
        error_messages={"required": _("请先阅读并勾选承诺，再提交申请。")},
    )


# The review desk (admin) --------------------------------------------------------------------------


class CounterWithdrawalForm(BankAccountForm):
    """A clerk opens an application at the counter for a citizen who came in person or by proxy."""

    applicant_id_number = IdNumberField(
        label=_("申请人身份证号码"), help_text=_("参保人本人申请的填本人；参保人死亡的填继承人。")
    )
    reason = forms.ModelChoiceField(label=_("提取原因"), queryset=WithdrawalReason.objects.none())
    holder_id_number = IdNumberField(
        label=_("已故参保人身份证号码"), required=False, help_text=_("仅参保人死亡时填写。")
    )
    heir_relation = forms.ChoiceField(
        label=_("继承人与已故参保人的关系"), required=False,
        choices=[("", _("（非继承提取不填）"))] + list(WithdrawalApplication.HeirRelation.choices),
    )
    proxy_name = forms.CharField(
        label=_("代办人姓名"), max_length=50, required=False,
        help_text=_("由他人代为办理的填写；申请人本人办理的不填。代办人须提供委托书。"),
    )
    proxy_id_number = IdNumberField(
        label=_("代办人身份证号码"), required=False, help_text=_("代办人的身份证须作为材料上传。")
    )

    # In the order a clerk works: who applies, why, who acts for them, then where the money goes.
    field_order = [
        "applicant_id_number", "reason", "holder_id_number", "heir_relation", "proxy_name", "proxy_id_number",
        "bank_name", "bank_account_number", "bank_account_holder",
    ]

    def __init__(self, *args, regions, **kwargs):
        super().__init__(*args, **kwargs)
        # The reasons a citizen of the clerk's regions could choose online, and no other.
        self.fields["reason"].queryset = WithdrawalReason.objects.offered_in_any(regions)

    def clean(self):
        cleaned = super().clean()
        reason = cleaned.get("reason")
        if reason is not None and reason.is_for_heirs and not cleaned.get("holder_id_number"):
            self.add_error("holder_id_number", _("参保人死亡的提取须填写已故参保人身份证号码。"))
        proxy_number_given = cleaned.get("proxy_id_number") or "proxy_id_number" in self.errors
        if cleaned.get("proxy_name") and not proxy_number_given:
            self.add_error("proxy_id_number", _("请填写代办人身份证号码。"))
        if cleaned.get("proxy_id_number") and not cleaned.get("proxy_name"):
            self.add_error("proxy_name", _("请填写代办人姓名。"))
        return cleaned


class ReturnForm(forms.Form):
    missing_kinds = forms.MultipleChoiceField(
        label=_("需补正的材料"), required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("一次性勾选所有缺少或不合格的材料，不要分次告知。"),
    )
    note = forms.CharField(
        label=_("补正说明"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("申请人会看到这段说明，请写明需要怎样补正。"),
    )

    def __init__(self, *args, kinds, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["missing_kinds"].choices = list(kinds.items())


class RefuseForm(forms.Form):
    reason = forms.CharField(
        label=_("不予受理原因"), max_length=1000, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("申请人会看到这段原因。"),
        error_messages={"required": _("请填写不予受理的原因。")},
    )


class BankReturnForm(forms.Form):
    reason = forms.CharField(
        label=_("银行退回原因（以银行退票通知为准）"), max_length=200,
        help_text=_("例如：账户已销户、户名与账号不符。申请人会看到这段原因。"),
        error_messages={"required": _("请填写银行退回的原因。"), "max_length": _("原因最多200字，请精简。")},
    )
    note = forms.CharField(
        label=_("补充说明（可不填）"), required=False, max_length=200, widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"max_length": _("说明最多200字，请精简。")},
    )


class PayoutForm(forms.Form):
    """What the bank's payment voucher says: its number (银行流水号) and the day it paid."""

    voucher_number = forms.CharField(
        label=_("银行流水号"), max_length=40,
        help_text=_("照银行付款凭证填写。"),
        error_messages={"required": _("请填写银行流水号：每笔付款以银行的凭证为据。"),
                        "max_length": _("银行流水号最多40个字符。")},
    )
    paid_on = forms.DateField(
        label=_("到账日期"), initial=timezone.localdate,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": _("请填写银行付款的日期。"), "invalid": _("请按“2026-12-05”的格式填写日期。")},
    )
    note = forms.CharField(
        label=_("给申请人的说明（可不填）"), required=False, max_length=200,
        error_messages={"max_length": _("说明最多200字，请精简。")},
    )

    def clean_paid_on(self):
        day = self.cleaned_data["paid_on"]
        if day > timezone.localdate():
            raise forms.ValidationError(_("到账日期不能晚于今天。"))
        return day


class CounterSubmitForm(forms.Form):
    declaration = forms.BooleanField(
        label=_("申请人已在窗口签署承诺：所提交材料真实有效，如有虚假，愿承担法律责任。"),
        error_messages={"required": _("请确认申请人已签署承诺。")},
    )


class CounterUploadForm(forms.Form):
    """Every material the clerk scanned, in one upload: a file field for each kind the application takes."""

    def __init__(self, *args, kinds, **kwargs):
        super().__init__(*args, **kwargs)
        for code, label in kinds.items():
            field = material_file_field()
            field.label, field.required = label, False
            self.fields[f"file_{code}"] = field
        self.kinds = kinds

    def clean(self):
        cleaned = super().clean()
        files = [(code, cleaned.get(f"file_{code}")) for code in self.kinds]
        cleaned["files"] = [(code, upload) for code, upload in files if upload]
        if not cleaned["files"] and not self.errors:
            raise ValidationError(_("请至少选择一个文件。"))
        return cleaned
