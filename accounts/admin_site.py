"""The admin site staff work in: a password and a second factor at every login, throttled per address.

Staff enter the code of their authenticator app (or a backup code) on the login form, as `otp_token`. A
member of staff with no authenticator yet logs in with the password alone and is taken straight to the
enrolment page; nothing else of the admin opens until the enrolment is done.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login

from . import second_factor, throttle

TOKEN_REFUSED = _("动态验证码不正确或已用过。请输入身份验证器上当前显示的6位数字，或一个未用过的备用码。")
TOKEN_REQUIRED = _("请输入身份验证器上的6位动态验证码，或一个备用码。")
LOGIN_BLOCKED = _("从您所在的网络登录失败次数过多，请一小时后再试。")


class StaffLoginForm(AdminAuthenticationForm):
    """Login name, password and the second factor, in one form."""

    otp_token = forms.CharField(
        label=_("动态验证码"),
        required=False,
        max_length=20,
        help_text=_("身份验证器App显示的6位数字，或一个备用码。首次登录、尚未绑定验证器时留空。"),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": _("用户名或密码不正确。连续输错5次将锁定1小时。"),
        "inactive": _("该账号已停用。"),
        "invalid_token": TOKEN_REFUSED,
        "token_required": TOKEN_REQUIRED,
    }

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if user is not None and second_factor.has_device(user):
            token = cleaned.get("otp_token", "")
            if not token:
                raise ValidationError(self.error_messages["token_required"], code="token_required")
            device = second_factor.verify(user, token)
            if device is None:
                raise ValidationError(self.error_messages["invalid_token"], code="invalid_token")
            # django-otp's login signal marks the session verified with this device.
            user.otp_device = device
        return cleaned


class StaffLoginView(LoginView):
    authentication_form = StaffLoginForm
    template_name = "admin/login.html"

    def post(self, request, *args, **kwargs):
        """Refuse without checking anything once this address has failed too often."""
        if not throttle.login_failures.blocked(request):
            return super().post(request, *args, **kwargs)
        form = self.get_form_class()(request, initial={"username": request.POST.get("username", "")})
        return self.render_to_response(self.get_context_data(form=form, blocked=LOGIN_BLOCKED), status=429)

    def form_invalid(self, form):
        if form.has_error(NON_FIELD_ERRORS, "invalid_login") or form.has_error(NON_FIELD_ERRORS, "invalid_token"):
            throttle.login_failures.record(self.request)
        return super().form_invalid(form)


class PortalAdminSite(admin.AdminSite):
    site_header = _("医保个人账户服务 · 经办管理")
    site_title = _("医保经办管理")
    index_title = _("经办业务")
    login_form = StaffLoginForm

    def has_permission(self, request):
        """Staff whose session passed the second factor; a password alone opens nothing."""
        return super().has_permission(request) and request.user.is_verified()

    def needs_enrolment(self, request):
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        # Right after the login form, request.user is the new login: django-otp's mark is on it as otp_device.
        verified = user.is_verified() if hasattr(user, "is_verified") else getattr(user, "otp_device", None)
        return not verified and not second_factor.has_device(user)

    @method_decorator(never_cache)
    @login_not_required
    def login(self, request, extra_context=None):
        if request.method == "GET" and self.needs_enrolment(request):
            return redirect("admin:second_factor_enrol")
        next_url = LoginView().get_redirect_url(request) or reverse("admin:index", current_app=self.name)
        if request.method == "GET" and self.has_permission(request):
            return redirect(next_url)
        context = {
            **self.each_context(request),
            "title": _("经办人员登录"),
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": request.user.get_username(),
            REDIRECT_FIELD_NAME: next_url,
            **(extra_context or {}),
        }
        request.current_app = self.name
        response = StaffLoginView.as_view(extra_context=context)(request)
        if request.method == "POST" and self.needs_enrolment(request):
            return redirect("admin:second_factor_enrol")
        return response

    def get_urls(self):
        return [
            path("second-factor/", self.enrol_view, name="second_factor_enrol"),
            *super().get_urls(),
        ]

    @method_decorator(never_cache)
    @login_not_required
    def enrol_view(self, request):
        """Enrol an authenticator: scan the QR code, enter its first code, note the backup codes once."""
        if not self.needs_enrolment(request):
            return redirect("admin:index" if self.has_permission(request) else "admin:login")
        device = second_factor.pending_device(user=request.user)
        form = EnrolForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            confirmed, codes = second_factor.confirm_device(user=request.user, token=form.cleaned_data["otp_token"])
            if confirmed is not None:
                otp_login(request, confirmed)
                context = {**self.each_context(request), "title": _("请保存备用码"), "codes": codes}
                return TemplateResponse(request, "admin/second_factor/backup_codes.html", context)
            form.add_error("otp_token", TOKEN_REFUSED)
        context = {
            **self.each_context(request),
            "title": _("绑定身份验证器"),
            "form": form,
            "qr_svg": second_factor.qr_code_svg(device),
            "key": second_factor.base32_key(device),
        }
        return TemplateResponse(request, "admin/second_factor/enrol.html", context)


class EnrolForm(forms.Form):
    otp_token = forms.CharField(
        label=_("验证器上显示的6位数字"),
        max_length=6,
        min_length=6,
        error_messages={"required": TOKEN_REQUIRED, "min_length": TOKEN_REQUIRED},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
