"""Forms of the family-sharing pages and desk; they check formats, sharing.bindings checks the rules."""

import re
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.forms import IdNumberField

from .models import Binding, Relation

# Plain yuan and fen as people type them: 200, 200.5, 1,200.00. Not 1e3, not full-width digits.
AMOUNT_PATTERN = re.compile(r"^([0-9]{1,3}(,[0-9]{3})*|[0-9]+)(\.[0-9]{1,2})?$")

RELATION_CHOICES = [("", _("请选择")), *Relation.choices]
WAY_HELP = _(
    "直接共济：亲属看病时直接从您的个人账户余额支付，只限同一省份。"
    "共济额度：您先划出一笔钱专门给这位亲属用，跨省只能选这种；解除时未用完的退回您的账户。"
)


class YuanField(forms.DecimalField):
    """An amount in yuan with at most two decimal places, refused in any other spelling."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "spellcheck": "false"}),
        )
        kwargs.setdefault(
            "error_messages",
            {
                "required": _("请填写金额。"),
                "invalid": _("请按“元.角分”填写金额，例如 200 或 200.50。"),
                "max_digits": _("金额过大，请核对。"),
                "max_decimal_places": _("金额最多保留两位小数（精确到分）。"),
                "max_whole_digits": _("金额过大，请核对。"),
                "min_value": _("金额须大于0。"),
            },
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip().replace("¥", "").replace("￥", "").strip()
        # Decimal() also reads "1e3", "NaN" and non-ASCII digits; a person typing money means none of them.
        if not AMOUNT_PATTERN.match(text):
            if re.fullmatch(r"[0-9,]+\.[0-9]{3,}", text):
                raise ValidationError(self.error_messages["max_decimal_places"], code="max_decimal_places")
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return Decimal(text.replace(",", ""))


class BindForm(forms.Form):
    relative_name = forms.CharField(
        label=_("亲属姓名"), max_length=50,
        help_text=_("与亲属身份证上的姓名一致。"),
        error_messages={"required": _("请填写亲属姓名。")},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    relative_id_number = IdNumberField(
        label=_("亲属身份证号码"), error_messages={"required": _("请填写亲属身份证号码。")}
    )
    relation = forms.ChoiceField(
        label=_("亲属是您的什么人"), choices=RELATION_CHOICES,
        error_messages={
            "required": _("请选择亲属是您的什么人。"),
            "invalid_choice": _("请从列表中选择。列表中是您所在统筹区目前可以共济的近亲属；岳父母、公婆不属于近亲属。"),
        },
    )
    way = forms.ChoiceField(
        label=_("共济方式"), choices=[("", _("请选择")), *Binding.Way.choices], help_text=WAY_HELP,
        error_messages={"required": _("请选择共济方式。")},
    )
    promise = forms.BooleanField(
        label=_("我已阅读并作出以上承诺"), error_messages={"required": _("请阅读并勾选共济承诺。")}
    )

    def __init__(self, *args, admitted=None, **kwargs):
        """`admitted`: the relations the payer's region admits today; only they are offered."""
        super().__init__(*args, **kwargs)
        if admitted is not None:
            self.fields["relation"].choices = [
                choice for choice in RELATION_CHOICES if not choice[0] or choice[0] in admitted
            ]

    def clean_relative_name(self):
        return self.cleaned_data["relative_name"].strip()


class TopUpForm(forms.Form):
    amount = YuanField(label=_("划拨金额（元）"), min_value=Decimal("0.01"))

    def __init__(self, *args, limits=None, **kwargs):
        super().__init__(*args, **kwargs)
        if limits is not None:
            # The payer's region's version in force now, as the service will apply it.
            self.fields["amount"].help_text = _(
                "每次最多 ¥%(limit)s，每天最多%(count)d次；%(start)s至次日%(end)s暂停划拨。"
            ) % {
                "limit": f"{limits.quota_topup_limit:,.2f}",
                "count": limits.quota_topups_per_day,
                "start": f"{limits.quota_quiet_from:%H:%M}",
                "end": f"{limits.quota_quiet_until:%H:%M}",
            }


class MoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", _("上移")), ("down", _("下移"))])


# The desk (admin) -----------------------------------------------------------------------------------


class CounterBindForm(forms.Form):
    """A clerk binds at the counter for a citizen who came in person or sent a proxy."""

    payer_id_number = IdNumberField(
        label=_("共济人身份证号码"), help_text=_("共济人须在本统筹区参加职工医保。")
    )
    relative_name = forms.CharField(label=_("被共济人姓名"), max_length=50)
    relative_id_number = IdNumberField(label=_("被共济人身份证号码"))
    relation = forms.ChoiceField(label=_("被共济人是共济人的"), choices=[("", _("请选择")), *Relation.choices])
    way = forms.ChoiceField(
        label=_("共济方式"), choices=Binding.Way.choices,
        help_text=_(
            "直接共济：看病时直接从共济人的个人账户余额支付，只限同一省份。"
            "共济额度：共济人先划出一笔钱专门给被共济人用，跨省只能选这种。"
        ),
    )
    material = forms.FileField(
        label=_("共济承诺书或委托书"),
        help_text=_("共济人签署的书面承诺；代办人办理的，另附委托书。JPG、PNG 或 PDF，不超过 10 MB。"),
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,application/pdf"}),
    )
    signed = forms.BooleanField(
        label=_("已核验双方身份证件，共济人已签署书面承诺（或代办人已提交委托书）"),
        error_messages={"required": _("请确认已核验证件并收取承诺书或委托书。")},
    )

    def clean_relative_name(self):
        return self.cleaned_data["relative_name"].strip()


class StaffEndForm(forms.Form):
    note = forms.CharField(
        label=_("解除原因"), max_length=200, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("双方都会在通知中看到。例如：共济人本人到窗口申请解除。"),
        error_messages={"required": _("请填写解除原因。")},
    )
