import re

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .identity import parse_id_number
from .models import JournalTransaction, User

PHONE_PATTERN = re.compile(r"^1\d{10}$")
CODE_PATTERN = re.compile(r"^\d{6}$")
ID_WITH_LOWER_X = re.compile(r"^\d{17}x$")


class LoginForm(AuthenticationForm):
    """Django's login form, with the ID number as the login name."""

    username = forms.CharField(
        label=_("身份证号码"),
        max_length=150,
        error_messages={"required": _("请填写身份证号码。")},
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "characters", "autofocus": True}
        ),
    )
    password = forms.CharField(
        label=_("密码"),
        strip=False,
        error_messages={"required": _("请填写密码。")},
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("身份证号码或密码不正确。连续输错5次将锁定1小时。"),
        "inactive": _("该账号已停用，请到医保服务大厅咨询。"),
    }

    def clean_username(self):
        # Citizens often type the check character X in lower case; staff login names stay as typed.
        username = self.cleaned_data["username"]
        return username.upper() if ID_WITH_LOWER_X.match(username) else username


class IdNumberField(forms.CharField):
    """An ID number checked against GB 11643-1999 and returned as the standard writes it (capital X)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 30)
        kwargs.setdefault("help_text", _("18位，最后一位可能是字母X。"))
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"})
        )
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        return parse_id_number(value).value if value else value


class PhoneField(forms.CharField):
    """A mainland mobile number, spaces allowed while typing."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("widget", forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "numeric"}))
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        phone = value.replace(" ", "").replace("-", "")
        if value and not PHONE_PATTERN.match(phone):
            raise ValidationError(_("手机号应为以1开头的11位数字。"), code="phone")
        return phone


class CodeForm(forms.Form):
    """The six-digit code texted to the reserved phone."""

    code = forms.CharField(
        label=_("短信验证码"),
        max_length=10,
        help_text=_("短信里的6位数字，5分钟内有效。"),
        error_messages={"required": _("请填写短信验证码。")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_code(self):
        code = self.cleaned_data["code"].replace(" ", "")
        if not CODE_PATTERN.match(code):
            raise ValidationError(_("验证码是6位数字。"), code="format")
        return code


class RegistrationForm(forms.Form):
    name = forms.CharField(
        label=_("姓名"),
        max_length=50,
        error_messages={"required": _("请填写姓名。")},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    id_number = IdNumberField(label=_("身份证号码"), error_messages={"required": _("请填写身份证号码。")})
    phone = PhoneField(
        label=_("预留手机号"),
        help_text=_("参保登记时留给医保部门的手机号。验证码会发到这个手机。"),
        error_messages={"required": _("请填写预留手机号。")},
    )
    password1 = forms.CharField(
        label=_("设置密码"),
        strip=False,
        help_text=_("至少8位；不能全是数字，不能是常见密码，也不要与姓名、身份证号码相近。"),
        error_messages={"required": _("请设置密码。")},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("再次输入密码"),
        strip=False,
        error_messages={"required": _("请再次输入密码。")},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_name(self):
        return self.cleaned_data["name"].strip()

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("两次输入的密码不一致。"))
        elif password1:
            # Checked here, before the registry is consulted, so that a weak-password message never
            # tells the visitor that the identity matched.
            candidate = User(username=cleaned.get("id_number", ""), first_name=cleaned.get("name", ""))
            try:
                validate_password(password1, candidate)
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class PasswordResetStartForm(forms.Form):
    id_number = IdNumberField(label=_("身份证号码"), error_messages={"required": _("请填写身份证号码。")})
    phone = PhoneField(
        label=_("预留手机号"),
        help_text=_("参保登记时留给医保部门的手机号。验证码会发到这个手机。"),
        error_messages={"required": _("请填写预留手机号。")},
    )


class PasswordResetFinishForm(CodeForm):
    """The code and the new password; the password is checked against Django's validators for `user`."""

    new_password1 = forms.CharField(
        label=_("新密码"),
        strip=False,
        help_text=RegistrationForm.base_fields["password1"].help_text,
        error_messages={"required": _("请设置新密码。")},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password2 = forms.CharField(
        label=_("再次输入新密码"),
        strip=False,
        error_messages={"required": _("请再次输入新密码。")},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Unknown pair: validated against a stand-in, so that the answer never tells whether it matched.
        self.user = user or User(username="", first_name="")
        self.fields["code"].widget.attrs.pop("autofocus", None)

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("new_password1"), cleaned.get("new_password2")
        if password1 and password2 and password1 != password2:
            self.add_error("new_password2", _("两次输入的密码不一致。"))
        elif password1:
            try:
                validate_password(password1, self.user)
            except ValidationError as error:
                self.add_error("new_password1", error)
        return cleaned


class StatementFilterForm(forms.Form):
    month = forms.DateField(
        label=_("记账月份"),
        help_text=_(
            "记账月份：钱进出账户的那个月，按记账日期筛选。每月划入在划入当月记账；事后补划的，按补记当天的日期归入月份。"
        ),
        required=False,
        input_formats=["%Y-%m"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
        error_messages={"invalid": _("请按“年-月”填写，例如 2026-03。")},
    )
    kind = forms.ChoiceField(
        label=_("业务类型"),
        required=False,
        choices=[("", _("全部"))] + list(JournalTransaction.Kind.choices),
    )
