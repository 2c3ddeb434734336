import datetime
import functools

from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from . import credits, services, throttle
from .context_processors import LARGE_TEXT, TEXT_SIZE_COOKIE
from .forms import LoginForm, RegistrationForm, StatementFilterForm
from .models import Enrolment, LedgerEntry, Notice

PAGE_SIZE = 20
REGISTRATION_BLOCKED = _("尝试次数过多，请一小时后再试，或携带身份证到医保服务大厅办理。")
LOGIN_BLOCKED = _("从您所在的网络登录失败次数过多，请一小时后再试。忘记密码请携带身份证到医保服务大厅办理。")
TEXT_SIZE_COOKIE_AGE = 365 * 24 * 60 * 60


def citizen_required(view):
    """Let only logins linked to a person through; staff get a page that says why."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.person_id is None:
            return render(request, "accounts/citizens_only.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


@login_not_required
def home(request):
    return render(request, "home.html")


class PortalLoginView(LoginView):
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        """Refuse without checking the password once this address has failed too often."""
        if not throttle.login_failures.blocked(request):
            return super().post(request, *args, **kwargs)
        form = self.get_form_class()(request, initial={"username": request.POST.get("username", "")})
        context = self.get_context_data(form=form, page_errors=[LOGIN_BLOCKED])
        return self.render_to_response(context, status=429)

    def form_invalid(self, form):
        if form.has_error(NON_FIELD_ERRORS, "invalid_login"):
            throttle.login_failures.record(self.request)
        return super().form_invalid(form)

    def get_default_redirect_url(self):
        # Clerks have no personal account; their work is in the admin.
        user = self.request.user
        if user.is_staff and user.person_id is None:
            return reverse("admin:index")
        return super().get_default_redirect_url()


@login_not_required
def register(request):
    if request.user.is_authenticated:
        return redirect("account")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and throttle.registration_failures.blocked(request):
        form.add_error(None, REGISTRATION_BLOCKED)
        return render(request, "registration/register.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.register_citizen(
                name=form.cleaned_data["name"],
                id_number=form.cleaned_data["id_number"],
                phone=form.cleaned_data["phone"],
                password=form.cleaned_data["password1"],
            )
        except services.ServiceError as error:
            throttle.registration_failures.record(request)
            form.add_error(None, error.message)
        except ValidationError as error:
            form.add_error("password1", error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("account")
    return render(request, "registration/register.html", {"form": form})


@citizen_required
def account(request):
    person = request.user.person
    personal = services.personal_account_of(person)
    if personal is None:
        current = person.enrolments.filter(status=Enrolment.Status.ACTIVE).select_related("region").first()
        return render(request, "accounts/no_account.html", {"enrolment": current})
    filters = StatementFilterForm(request.GET)
    entries = _statement(personal, filters)
    context = {
        "account": personal,
        "credits": credits.credit_panel(personal, year=_credit_year(request)),
        "filters": filters,
        "page": Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page")),
    }
    return render(request, "accounts/account.html", context)


def _credit_year(request):
    """The year the credits list shows (`credit_year`), or None for the latest 12 months."""
    value = request.GET.get("credit_year", "")
    return int(value) if value.isdigit() and 1998 <= int(value) <= 9999 else None


def _statement(account, filters):
    entries = (
        LedgerEntry.objects.filter(account=account)
        .select_related("transaction", "monthly_credit__version")
        .order_by("-id")
    )
    if not filters.is_valid():
        return entries
    if month := filters.cleaned_data["month"]:
        start, end = _month_range(month)
        entries = entries.filter(transaction__created_at__gte=start, transaction__created_at__lt=end)
    if kind := filters.cleaned_data["kind"]:
        entries = entries.filter(transaction__kind=kind)
    return entries


def _month_range(day):
    """Return the start of the local calendar month containing `day` and of the month after."""
    first = day.replace(day=1)
    following = (first + datetime.timedelta(days=32)).replace(day=1)
    # Months are the citizen's (Asia/Shanghai) months, not UTC ones.
    return tuple(timezone.make_aware(datetime.datetime(d.year, d.month, 1)) for d in (first, following))


@citizen_required
def profile(request):
    person = request.user.person
    enrolments = person.enrolments.select_related("region").order_by("-started_on", "-id")
    return render(request, "accounts/profile.html", {"person": person, "enrolments": enrolments})


@citizen_required
def notices(request):
    inbox = Notice.objects.filter(person_id=request.user.person_id).order_by("-created_at", "-id")
    page = Paginator(inbox, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/notices.html", {"page": page})


@citizen_required
def notice(request, pk):
    item = get_object_or_404(Notice, pk=pk, person_id=request.user.person_id)
    services.mark_notice_read(notice=item)
    # The link is typed by staff in the admin: follow it only if it stays on this site.
    next_step = item.link if _is_local(request, item.link) else ""
    return render(request, "accounts/notice.html", {"notice": item, "next_step": next_step})


@login_not_required
@never_cache
@require_safe
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "error"}, status=503)
    return JsonResponse({"status": "ok"})


@login_not_required
@require_POST
def text_size(request):
    """Switch large-font mode (长辈模式) on or off and go back to the page the visitor was on."""
    next_url = request.POST.get("next", "")
    response = redirect(next_url if _is_local(request, next_url) else reverse("home"))
    size = request.POST.get("size")
    if size not in (LARGE_TEXT, "normal"):
        size = "normal" if request.COOKIES.get(TEXT_SIZE_COOKIE) == LARGE_TEXT else LARGE_TEXT
    if size == LARGE_TEXT:
        response.set_cookie(
            TEXT_SIZE_COOKIE, LARGE_TEXT, max_age=TEXT_SIZE_COOKIE_AGE,
            secure=request.is_secure(), httponly=True, samesite="Lax",
        )
    else:
        response.delete_cookie(TEXT_SIZE_COOKIE, samesite="Lax")
    return response


def _is_local(request, url):
    return bool(url) and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
