import datetime
import functools

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.hashers import make_password
from django.contrib.auth.views import LoginView
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.db.models import Case, OuterRef, Subquery, Sum, When
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from . import credits, page_parts, phone_codes, services, sql, throttle, yearly
from .context_processors import LARGE_TEXT, TEXT_SIZE_COOKIE
from .forms import (
    CodeForm,
    LoginForm,
    PasswordResetFinishForm,
    PasswordResetStartForm,
    RegistrationForm,
    StatementFilterForm,
)
from .models import (
    Account,
    Enrolment,
    JournalTransaction,
    LedgerEntry,
    Notice,
    PersonalDataAccess,
    PhoneCode,
    User,
    citizens_today,
)
from .step_up import mark_phone_proven

PAGE_SIZE = 20
REGISTRATION_BLOCKED = _("尝试次数过多，请一小时后再试，或携带身份证到医保服务大厅办理。")
LOGIN_BLOCKED = _("从您所在的网络登录失败次数过多，请一小时后再试。忘记密码可以用预留手机号的验证码重设。")
TEXT_SIZE_COOKIE_AGE = 365 * 24 * 60 * 60
# Session keys of the two-step forms: what step 1 matched, kept for step 2 (the password only as its hash).
PENDING_REGISTRATION = "pending_registration"
PENDING_RESET = "pending_password_reset"


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
@never_cache
def register(request):
    """Step 1 of 2: name, ID number, reserved phone and password; a code goes to the phone if they match."""
    if request.user.is_authenticated:
        return redirect("account")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and throttle.registration_failures.blocked(request):
        form.add_error(None, REGISTRATION_BLOCKED)
        return render(request, "registration/register.html", {"form": form}, status=429)
    if request.method != "POST" or not form.is_valid():
        return render(request, "registration/register.html", {"form": form})
    data = form.cleaned_data
    identity = {"name": data["name"], "id_number": data["id_number"], "phone": data["phone"]}
    try:
        texting = _registration_code(request, identity)
    except services.ServiceError as refusal:
        form.add_error(None, refusal.message)
        return render(request, "registration/register.html", {"form": form})
    request.session[PENDING_REGISTRATION] = {**identity, "password_hash": make_password(data["password1"])}
    template = "registration/register_code.html"
    return _code_page(request, template, CodeForm(), identity["phone"], texting=texting)


def _registration_code(request, identity):
    """Count the request and return what texts the code if the identity matches (None if it does not)."""
    # Every request counts, matched or not: were only mismatches counted, the moment an address is
    # blocked would tell it which details matched.
    throttle.registration_failures.record(request)
    person = services.find_registrant(**identity)
    return phone_codes.prepare_code(
        phone=identity["phone"], purpose=PhoneCode.Purpose.REGISTER, address=throttle.client_ip(request),
        deliver=person is not None,
    )


@login_not_required
@never_cache
@require_POST
def register_code(request):
    """Step 2 of 2: the code from the reserved phone creates the login and logs in."""
    pending = request.session.get(PENDING_REGISTRATION)
    if pending is None:
        return redirect("register")
    identity = {key: pending[key] for key in ("name", "id_number", "phone")}
    form = CodeForm(request.POST)
    template = "registration/register_code.html"
    if "resend" in request.POST:
        return _resend(request, template, identity["phone"], lambda: _registration_code(request, identity))
    if form.is_valid():
        try:
            phone_codes.verify_code(
                phone=identity["phone"], purpose=PhoneCode.Purpose.REGISTER, code=form.cleaned_data["code"]
            )
            user = services.register_citizen(**identity, password_hash=pending["password_hash"])
        except services.ServiceError as refusal:
            form.add_error("code" if refusal.code == "code_refused" else None, refusal.message)
        else:
            del request.session[PENDING_REGISTRATION]
            login(request, user, backend="accounts.backends.PortalBackend")
            mark_phone_proven(request)
            return redirect("account")
    return _code_page(request, template, form, identity["phone"])


class TextAfterAnswer(HttpResponse):
    """A page that texts its code (what prepare_code returned) only after the server has sent it.

    The server calls close() once the answer is out; a refusal by the provider is logged and voids the
    code there, and the visitor asks for a new one after the minute, as when a text is lost.
    """

    def __init__(self, content, *, texting):
        super().__init__(content)
        self.texting = texting

    def close(self):
        try:
            if self.texting is not None:
                self.texting()
        except services.ServiceError:
            pass
        finally:
            self.texting = None
            super().close()


def _code_page(request, template, form, phone, page_errors=(), resent=False, texting=None):
    context = {"form": form, "tail": phone_codes.masked_tail(phone), "page_errors": page_errors, "resent": resent}
    return TextAfterAnswer(render_to_string(template, context, request), texting=texting)


def _resend(request, template, phone, prepare, form=None):
    form = form or CodeForm()
    try:
        texting = prepare()
    except services.ServiceError as refusal:
        return _code_page(request, template, form, phone, page_errors=[refusal.message])
    return _code_page(request, template, form, phone, resent=True, texting=texting)


@login_not_required
@never_cache
def password_reset(request):
    """Step 1 of 2: ID number and reserved phone; a code goes to the phone if a login has them."""
    if request.user.is_authenticated:
        return redirect("account")
    form = PasswordResetStartForm(request.POST or None)
    if request.method != "POST" or not form.is_valid():
        return render(request, "registration/password_reset.html", {"form": form})
    pair = {"id_number": form.cleaned_data["id_number"], "phone": form.cleaned_data["phone"]}
    try:
        texting = _reset_code(request, pair)
    except services.ServiceError as refusal:
        form.add_error(None, refusal.message)
        return render(request, "registration/password_reset.html", {"form": form})
    request.session[PENDING_RESET] = pair
    template = "registration/password_reset_code.html"
    return _code_page(request, template, _reset_form(pair), pair["phone"], texting=texting)


def _reset_code(request, pair):
    """Count the request and return what texts the code if a login has the pair (None if none has)."""
    user = services.find_login_for_reset(**pair)
    return phone_codes.prepare_code(
        phone=pair["phone"], purpose=PhoneCode.Purpose.PASSWORD_RESET, address=throttle.client_ip(request),
        deliver=user is not None,
    )


def _reset_form(pair, data=None):
    # Validated against the ID number typed, whether or not it matched: the answer must not tell.
    return PasswordResetFinishForm(data, user=User(username=pair["id_number"]))


@login_not_required
@never_cache
@require_POST
def password_reset_code(request):
    """Step 2 of 2: the code and a new password; every other session of the login ends."""
    pair = request.session.get(PENDING_RESET)
    if pair is None:
        return redirect("password_reset")
    template = "registration/password_reset_code.html"
    form = _reset_form(pair, request.POST)
    if "resend" in request.POST:
        return _resend(request, template, pair["phone"], lambda: _reset_code(request, pair), _reset_form(pair))
    if form.is_valid():
        try:
            phone_codes.verify_code(
                phone=pair["phone"], purpose=PhoneCode.Purpose.PASSWORD_RESET, code=form.cleaned_data["code"]
            )
            user = services.find_login_for_reset(**pair)
            if user is None:
                raise services.ServiceError(phone_codes.CODE_REFUSED, code="code_refused")
            services.reset_password(user=user, password=form.cleaned_data["new_password1"])
        except services.ServiceError as refusal:
            form.add_error("code", refusal.message)
        except ValidationError as error:
            form.add_error("new_password1", error)
        else:
            del request.session[PENDING_RESET]
            messages.success(request, _("密码已重设，其他设备上的登录已退出。请用新密码登录。"))
            return redirect("login")
    return _code_page(request, template, form, pair["phone"])


@citizen_required
def account(request):
    person = request.user.person
    # What the page shows changes only with these: everything below the header comes from the cache while
    # they stay the same (page_parts), and the accounts themselves are read only to draw it.
    facts = sql.account_page_facts(person.pk)
    if not facts:
        current = person.enrolments.filter(status=Enrolment.Status.ACTIVE).select_related("region").first()
        return render(request, "accounts/no_account.html", {"enrolment": current})
    wanted = request.GET.get("account", "")
    if wanted and wanted not in {str(fact[0]) for fact in facts}:
        raise Http404
    every = page_parts.later(_accounts_of, person)
    personal = page_parts.later(lambda: _chosen_account(request, every()))
    filters = StatementFilterForm(request.GET)
    context = {
        "account": personal,
        "accounts": every,
        "account_query": f"account={wanted}&" if "account" in request.GET else "",
        "part_key": page_parts.part_key(
            "account", person.pk, sorted(request.GET.lists()), citizens_today(), facts
        ),
        "part_seconds": page_parts.PART_SECONDS,
        "contribution_months": page_parts.later(_contribution_months, person),
        "statement_years": page_parts.later(lambda: yearly.statement_years(personal())),
        "credits": page_parts.later(lambda: credits.credit_panel(personal(), year=_credit_year(request))),
        "filters": filters,
        "page": page_parts.later(lambda: _statement_page(request, person, personal(), filters)),
    }
    return render(request, "accounts/account.html", context)


def _statement_page(request, person, personal, filters):
    page = Paginator(_statement(personal, filters), PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    _name_whom_paid_for(personal, person, page.object_list)
    return page


def _name_whom_paid_for(account, holder, entries):
    """Mark each line of money paid for someone else (a relative's bill or premium) with their name."""
    outgoing = [entry.transaction_id for entry in entries if entry.amount < 0]
    names = yearly.beneficiaries(account, outgoing) if outgoing else {}
    for entry in entries:
        name = names.get(entry.transaction_id) if entry.amount < 0 else None
        entry.paid_for = name if name and name != holder.name else ""


def _accounts_of(person):
    """Every personal account the person has had, the current one first, each with where its money went."""
    transferred_to = LedgerEntry.objects.filter(
        account=OuterRef("pk"), transaction__kind=JournalTransaction.Kind.TRANSFER_OUT
    ).order_by("-id")
    return list(
        Account.objects.filter(kind=Account.Kind.PERSONAL, enrolment__person=person)
        .select_related("region", "enrolment__region")
        .annotate(
            transfer_words=Subquery(transferred_to.values("transaction__description")[:1]),
            transferred_at=Subquery(transferred_to.values("transaction__created_at")[:1]),
            is_past=Case(When(status=Account.Status.TRANSFERRED_OUT, then=1), default=0),
        )
        .order_by("is_past", "-id")
    )


def _chosen_account(request, every):
    """The account `?account=` names, if it is one of the citizen's; else the current one; else 404."""
    wanted = request.GET.get("account", "")
    if not wanted:
        return every[0]
    for candidate in every:
        if str(candidate.pk) == wanted:
            return candidate
    raise Http404


def _contribution_months(person):
    """The contribution months that count: a transferred-out enrolment's months moved into the new one."""
    employee = person.enrolments.filter(insurance_type=Enrolment.InsuranceType.EMPLOYEE)
    counted = employee.exclude(status=Enrolment.Status.TRANSFERRED_OUT)
    return counted.aggregate(total=Sum("contribution_months"))["total"] or 0


@citizen_required
def yearly_statement(request, year):
    """The printable yearly statement (年度对账单) of one of the citizen's accounts."""
    statement = _statement_of(request, year)
    context = {"statement": statement, "rows": yearly.statement_rows(statement),
               "years": yearly.statement_years(statement.account), "account_query": _account_query(request)}
    return render(request, "accounts/yearly_statement.html", context)


@citizen_required
def yearly_statement_pdf(request, year):
    statement = _statement_of(request, year)
    pdf = yearly.statement_pdf(statement, request.user.person.name)
    response = HttpResponse(pdf, content_type="application/pdf")
    filename = f"statement-{statement.account.region.code}-{year}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _statement_of(request, year):
    every = _accounts_of(request.user.person)
    if not every or not 1998 <= year <= 9999:
        raise Http404
    return yearly.yearly_statement(_chosen_account(request, every), year)


def _account_query(request):
    wanted = request.GET.get("account", "")
    return f"?account={wanted}" if wanted.isdigit() else ""


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
    """The inbox: what asks for an action first, then everything else folded by day.

    Both lists come from the cache while the notices' counts and the newest one stay the same (page_parts);
    the button that marks everything read stays outside them, with its form token.
    """
    person_id = request.user.person_id
    facts = sql.notice_facts(person_id)
    total, to_do_count, unread, _ = facts
    inbox = Notice.objects.filter(person_id=person_id).order_by("-created_at", "-id")
    page = page_parts.later(
        lambda: Paginator(inbox.exclude(needs_action=True, read_at__isnull=True), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
    )
    context = {
        "part_key": page_parts.part_key("notices", person_id, sorted(request.GET.lists()), facts),
        "part_seconds": page_parts.PART_SECONDS,
        "has_to_do": to_do_count > 0,
        "has_others": total > to_do_count,
        "has_unread": unread > 0,
        "to_do": page_parts.later(lambda: list(inbox.filter(needs_action=True, read_at__isnull=True)[:PAGE_SIZE])),
        "page": page,
        "days": page_parts.later(lambda: _by_day(page().object_list)),
    }
    return render(request, "accounts/notices.html", context)


def _by_day(items):
    """Group notices by the citizen's calendar day: [(day, [notices], unread count)], newest first."""
    days = {}
    for item in items:
        day = timezone.localtime(item.created_at, services.CITIZENS_TIME_ZONE).date()
        days.setdefault(day, []).append(item)
    return [(day, group, sum(item.is_unread for item in group)) for day, group in days.items()]


@citizen_required
@require_POST
def read_all_notices(request):
    count = services.mark_all_notices_read(person=request.user.person)
    messages.success(request, _("已将%(count)d条通知标为已读。") % {"count": count})
    return redirect("notices")


@citizen_required
def notice(request, pk):
    item = get_object_or_404(Notice, pk=pk, person_id=request.user.person_id)
    services.mark_notice_read(notice=item)
    # The link is typed by staff in the admin: follow it only if it stays on this site.
    link = item.link if _is_local(request, item.link) else ""
    return render(request, "accounts/notice.html", {"notice": item, "link": link})


@citizen_required
def access_log(request):
    """The citizen's personal-data access record: who at the insurer looked at what, and when."""
    rows = PersonalDataAccess.objects.filter(person_id=request.user.person_id).order_by("-accessed_at", "-id")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/access_log.html", {"page": page})


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
