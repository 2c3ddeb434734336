"""Holidays staff keep, the event log, and the review desk the withdrawal and transfer admins share."""

import copy
import datetime
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import pypdfium2 as pdfium
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.admin import GenericTabularInline
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, Max, Q
from django.db.models.functions import ExtractYear
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.access_log import RecordsDataAccess, record_access, record_id_number_search
from accounts.admin import ReadOnlyAdmin
from accounts.identity import parse_id_number
from accounts.large_lists import LargeListAdmin, people_matching
from accounts.models import Person, User
from accounts.scoping import regions_of

from . import calendar, printing
from .forms import NoteForm
from .materials import materials_of
from .models import Event, Holiday, Material
from .transitions import step_no_longer_open


def search_applications(queryset, term, person_fields):
    """Return the applications whose number is `term` or whose person in one of `person_fields` it names.

    Every part is an equality on an indexed column of the application (the number; the person's id, looked up
    first by the unique ID-number or card index), so the database combines index scans instead of joining every
    application to its people to compare their numbers.
    """
    term = term.strip().upper()
    condition = Q(number=term)
    people = people_matching(term)
    for field in person_fields if people else ():
        condition |= Q(**{f"{field}__in": people})
    return queryset.filter(condition)


def warn_about_unknown_years(request, *days, entered=None):
    """Add an admin warning for each deadline that falls in a year whose holidays nobody has entered.

    `entered`: the Holiday rows read already, where a span holding every day's year was (calendar.year_is_known).
    """
    for text in dict.fromkeys(calendar.deadline_warning(day, entered) for day in days if day):
        if text:
            messages.warning(request, text)


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ["date", "weekday", "kind", "name"]
    list_filter = ["kind"]
    date_hierarchy = "date"
    search_fields = ["name"]
    ordering = ["-date"]
    change_list_template = "review/admin/holiday_change_list.html"

    @admin.display(description=_("星期"))
    def weekday(self, obj):
        return "一二三四五六日"[obj.date.weekday()]

    def changelist_view(self, request, extra_context=None):
        """Say which years the built-in calendar knows and which ones staff have entered."""
        entered = (
            Holiday.objects.annotate(year=ExtractYear("date"))
            .values("year")
            .annotate(days=Count("id"))
            .order_by("year")
        )
        extra_context = {
            **(extra_context or {}),
            "library_first_year": calendar.LIBRARY_YEARS.start,
            "library_last_year": calendar.LIBRARY_YEARS.stop - 1,
            "entered_years": list(entered),
        }
        return super().changelist_view(request, extra_context)


class StatusLabels:
    """Columns that show an event's statuses by their Chinese labels."""

    @admin.display(description=_("原状态"))
    def from_label(self, obj):
        return obj.label_of(obj.from_status)

    @admin.display(description=_("新状态"))
    def to_label(self, obj):
        return obj.label_of(obj.to_status)


@admin.register(Event)
class EventAdmin(StatusLabels, LargeListAdmin, ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["created_at", "content_type", "object_id", "from_label", "to_label", "actor", "note"]
    list_filter = ["content_type"]
    list_select_related = ["content_type", "actor__staff_profile"]
    # The box is shown for a non-empty search_fields; get_search_results below does the matching. No
    # date_hierarchy: its year links read the first and last date of millions of events on every load.
    search_fields = ["=object_id"]
    search_help_text = _("输入业务编号（数字）或经办人员登录名。")

    def get_search_results(self, request, queryset, search_term):
        """Find an application's events by its id, or a member of staff's by (part of) the login name."""
        term = search_term.strip()
        if not term:
            return queryset, False
        # The few staff logins are matched first; the events then by the indexed actor and object ids.
        condition = Q(actor__in=list(User.objects.filter(username__icontains=term).values_list("pk", flat=True)))
        if term.isdigit():
            condition |= Q(object_id=int(term))
        return queryset.filter(condition), False

    def has_view_permission(self, request, obj=None):
        # The log spans every region and a generic relation cannot be limited to a region here, so
        # only superusers read it whole; other staff read each application's events on its page.
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request):
        return self.has_view_permission(request)


class ApplicationInlineMixin(ReadOnlyAdmin):
    """Shown on an application's change page, which its own admin has already allowed the user to see."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request, obj=None):
        return True


class EventInline(StatusLabels, ApplicationInlineMixin, GenericTabularInline):
    """The application's status changes, read-only, oldest first."""

    model = Event
    fields = ["created_at", "from_label", "to_label", "actor", "note"]
    readonly_fields = fields
    verbose_name = _("办理记录")
    verbose_name_plural = _("办理记录")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("content_type", "actor__staff_profile")


class MaterialInline(ApplicationInlineMixin, GenericTabularInline):
    """The application's materials with links to the checked download view; uploads go through services."""

    model = Material
    fields = ["kind", "original_name", "file_type", "size", "uploaded_by", "uploaded_at", "open_links"]
    readonly_fields = fields
    verbose_name = _("证明材料")
    verbose_name_plural = _("证明材料")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("uploaded_by")

    @admin.display(description=_("类型"))
    def file_type(self, obj):
        return obj.extension.lstrip(".").upper()

    @admin.display(description=_("查看"))
    def open_links(self, obj):
        if obj.pk is None:
            return "—"
        url = reverse("material_download", args=[obj.pk])
        return format_html(
            '<a href="{}?inline=1" target="_blank" rel="noopener noreferrer">{}</a> · <a href="{}">{}</a>',
            url, _("在新窗口查看"), url, _("下载"),
        )


# The review desk ----------------------------------------------------------------------------------
#
# What the withdrawal and transfer admins share: the queue ("待我办理" first, the earliest deadline on
# top), the deadline columns and the overdue filter, the application page with its materials beside
# the decision panel, the decision pages and "办理下一件". Each feature admin declares its decisions and
# its queue; the rest lives here once.

# Staff's holiday entries around today while one queue page renders, in this thread only.
_this_list = threading.local()

# Every admin with work for a clerk (a desk), in the order they were registered: the admin home page
# lists their counts (see review.templatetags.desk).
WORK_DESKS = []


@dataclass(frozen=True)
class Decision:
    """One decision on an application: the form it asks for, the service it calls, who may take it now.

    `inline` decisions (a note at most, or the bank's voucher) are taken from the application page itself;
    the others open a page of their own (what is missing, a reason to write, a file to upload).
    """

    label: str
    done: str
    form: Callable
    perform: Callable
    allowed: Callable
    inline: bool = False


def noted_decision(label, done, service, allowed):
    """Return a decision that asks for a note to the applicant at most, taken from the application page."""
    return Decision(
        label, done,
        form=lambda application, data, files: NoteForm(data),
        perform=lambda application, user, data: service(
            application=application, actor=user, note=data["note"]),
        allowed=allowed, inline=True,
    )


@dataclass(frozen=True)
class Lookup:
    """What the counter found for the ID number typed first: the person, or why nobody."""

    id_number: str
    person: object
    problem: str


@dataclass(frozen=True)
class Work:
    """A count of waiting work on the admin home page and the queue it opens."""

    label: str
    count: int
    overdue: int
    url: str


class WorkDesk:
    """ModelAdmin mixin: the admin shows the user's waiting work on the home page; define `work(request)`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        WORK_DESKS.append(self)

    def work(self, request):
        """Return the Work items of this desk that the user may take, each with its count."""
        raise NotImplementedError


def count_work(request, model_admin, queues, *, deadline="next_due"):
    """Count each queue [(label, Q, query string), ...] of `model_admin` for the user, in one query.

    `deadline` names the date field past which an item is overdue; None where no deadline runs.
    """
    today = timezone.localdate()
    aggregates = {}
    for index, (_label, condition, _query) in enumerate(queues):
        aggregates[f"n{index}"] = Count("pk", filter=condition)
        late = condition & Q(**{f"{deadline}__lt": today}) if deadline else Q(pk__in=[])
        aggregates[f"o{index}"] = Count("pk", filter=late)
    totals = model_admin.get_queryset(request).aggregate(**aggregates) if queues else {}
    url = reverse(f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_changelist")
    return [
        Work(label, totals[f"n{index}"], totals[f"o{index}"], f"{url}?{query}")
        for index, (label, _condition, query) in enumerate(queues)
    ]


class QueueFilter(admin.SimpleListFilter):
    """待我办理 (what the user may act on now) by default; 全部 a click away."""

    title = _("办理范围")
    parameter_name = "queue"
    MINE, ALL = "mine", "all"

    def lookups(self, request, model_admin):
        return [(self.MINE, _("待我办理")), (self.ALL, _("全部"))]

    def value(self):
        return super().value() or self.MINE

    def choices(self, changelist):
        # No stock "全部" entry: without the parameter the queue is 待我办理.
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == self.ALL:
            return queryset
        return queryset.filter(self.model_admin_queue(request))

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.model_admin_queue = model_admin.my_queue


class OverdueFilter(admin.SimpleListFilter):
    title = _("是否超期")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("已超期")), ("no", _("未超期"))]

    def queryset(self, request, queryset):
        overdue = Q(next_due__lt=timezone.localdate())
        if self.value() == "yes":
            return queryset.filter(overdue)
        if self.value() == "no":
            return queryset.exclude(overdue)
        return queryset


class ReviewDeskAdmin(WorkDesk, RecordsDataAccess, LargeListAdmin, admin.ModelAdmin):
    """The desk of one kind of application.

    A feature admin sets `decisions` ({slug: Decision}), `material_labels(obj)` and
    `my_queue(request)` (a Q of what the user may act on now), and lists its own columns around
    `deadline`, `days_left` and `overdue`.
    """

    decisions = {}
    list_display_links = ["number"]
    search_fields = ["number"]
    inlines = [EventInline]
    # The date fields of the deadlines; the admin warns when one falls in a year without holidays entered.
    deadline_fields = ()
    # The application's persons a search by ID or card number looks for (search_applications).
    person_fields = ("applicant",)
    list_per_page = 50
    actions = None

    class Media:
        css = {"all": ["review/desk.css"]}

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        # Each feature keeps its page templates as templates/<app>/admin/change_form.html and decision.html.
        self.change_form_template = f"{model._meta.app_label}/admin/change_form.html"
        self.decision_template = f"{model._meta.app_label}/admin/decision.html"

    def my_queue(self, request):
        raise NotImplementedError

    def material_labels(self, application):
        return {}

    def get_ordering(self, request):
        """The earliest deadline first; applications with no deadline running after them, oldest first."""
        return [F("next_due").asc(nulls_last=True), "submitted_at", "id"]

    # Applications change only through their decisions, never by editing the row.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        """Find by application number or ID number, always by equality (never LIKE on ID numbers)."""
        term = search_term.strip().upper()
        if not term:
            return queryset, False
        found = search_applications(queryset, term, self.person_fields)
        record_id_number_search(request=request, term=term, found=found)
        return found, False

    # Columns ------------------------------------------------------------------------------------

    @admin.display(description=_("申请人"), ordering="applicant__name")
    def applicant_masked(self, obj):
        return f"{obj.applicant.masked_name}（{obj.applicant.masked_id_number}）"

    @admin.display(description=_("申请人"))
    def applicant_full(self, obj):
        return f"{obj.applicant.name}（{obj.applicant.id_number}）"

    @admin.display(description=_("办理期限"), ordering="next_due")
    def deadline(self, obj):
        return f"{obj.next_due:%Y-%m-%d}" if obj.next_due else "—"

    @admin.display(description=_("剩余工作日"))
    def days_left(self, obj):
        if obj.next_due is None:
            return "—"
        today = timezone.localdate()
        if obj.next_due == today:
            return _("今日到期")
        days = calendar.working_days_between(today, obj.next_due, self._overrides())
        if obj.next_due < today:
            # Past a deadline over a weekend is still past it: at least one day over.
            return _("超%(days)d日") % {"days": max(1, -days)}
        return str(days)

    @admin.display(description=_("超期"))
    def overdue(self, obj):
        if obj.is_overdue:
            return format_html('<strong class="overdue-badge">{}</strong>', _("已超期"))
        return ""

    def _overrides(self):
        # Read once per list (changelist_view), not once per row; None elsewhere, which queries per call.
        return getattr(_this_list, "overrides", None)

    def changelist_view(self, request, extra_context=None):
        """Warn when a running deadline falls in a year whose holidays nobody entered; show the queue."""
        today = timezone.localdate()
        # Whole years around today (more than the 400 days either side the columns count across), so that the
        # warning below knows from the same rows whether a year's holidays were entered.
        first, last = datetime.date(today.year - 2, 1, 1), datetime.date(today.year + 2, 12, 31)
        try:
            _this_list.overrides = calendar.holiday_overrides(first, last)
            # The latest running deadline is the largest stored next_due: one step down the next_due index.
            running = self.get_queryset(request).filter(next_due__isnull=False)
            latest = running.aggregate(latest=Max("next_due"))["latest"]
            within = latest is not None and first.year <= latest.year <= last.year
            warn_about_unknown_years(request, latest, entered=_this_list.overrides if within else None)
            response = super().changelist_view(request, extra_context)
            # Rendered here, while the holiday entries are at hand (a redirect has nothing to render).
            return response.render() if hasattr(response, "render") else response
        finally:
            _this_list.overrides = None

    # Pages --------------------------------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        decide = self.admin_site.admin_view(self.decision_view)
        following = self.admin_site.admin_view(self.next_view)
        page = self.admin_site.admin_view(self.material_page_view)
        paper = self.admin_site.admin_view(self.receipt_view)
        return [
            path("<path:object_id>/receipt/<slug:kind>.pdf", paper, name="%s_%s_receipt" % info),
            path("<path:object_id>/decide/<slug:decision>/", decide, name="%s_%s_decide" % info),
            path("<path:object_id>/next/", following, name="%s_%s_next" % info),
            path("<path:object_id>/materials/<int:material_id>/page-<int:page>.png", page,
                 name="%s_%s_material_page" % info),
            *super().get_urls(),
        ]

    def desk_url(self, name, *args):
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args)

    def offered_decisions(self, request, application):
        """Return the decisions the user may take on the application now, inline ones with their form."""
        filters = request.GET.get("_changelist_filters", "")
        suffix = f"?{urlencode({'_changelist_filters': filters})}" if filters else ""
        offered = []
        for key, decision in self.decisions.items():
            if not decision.allowed(request.user, application):
                continue
            form = decision.form(application, None, None) if decision.inline else None
            if form is not None:
                # Several forms on one page: each field's id names its decision.
                form.auto_id = f"id_{key}_%s"
            url = self.desk_url("decide", application.pk, key) + suffix
            offered.append({"label": decision.label, "url": url, "form": form})
        return offered

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Show the application, its materials beside the user's decisions; 404 outside the regions."""
        application = self.scoped_application(request, object_id)
        warn_about_unknown_years(request, *(getattr(application, field) for field in self.deadline_fields))
        filters = request.GET.get("_changelist_filters", "")
        extra_context = {
            **(extra_context or {}),
            "decisions": self.offered_decisions(request, application),
            "materials_panel": material_panel(self, application),
            "next_url": self.desk_url("next", application.pk) + "?"
            + urlencode({"_changelist_filters": filters}),
            "just_decided": request.GET.get("decided") == "1",
            "receipts": [
                (printing.RECEIPT_TITLES[kind], self.desk_url("receipt", application.pk, kind))
                for kind in application.receipt_kinds
            ],
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def decision_view(self, request, object_id, decision):
        """Ask for what a decision needs, then take it through the service; back to the application after."""
        application = self.scoped_application(request, object_id)
        step = self.decisions.get(decision)
        if step is None:
            raise Http404
        if not step.allowed(request.user, application):
            raise step_no_longer_open(application)
        filters = request.GET.get("_changelist_filters", "")
        form = step.form(application, request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                step.perform(application, request.user, form.cleaned_data)
            except self.refusals as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, step.done, messages.SUCCESS)
                query = {"decided": "1", **({"_changelist_filters": filters} if filters else {})}
                return redirect(self.desk_url("change", application.pk) + "?" + urlencode(query))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts, "original": application, "decision": step, "form": form,
            "title": f"{step.label}：{application.number}", "media": self.media + form.media,
            "materials_panel": material_panel(self, application),
            "back_url": self.desk_url("change", application.pk)
            + (f"?{urlencode({'_changelist_filters': filters})}" if filters else ""),
            **self.decision_context(request, application),
        }
        return TemplateResponse(request, self.decision_template, context)

    refusals = ()

    def decision_context(self, request, application):
        return {}

    # The counter: a feature admin sets the form, the page and what lodging the application means.
    counter_form = None
    counter_template = ""
    counter_title = ""
    counter_done = ""

    def lodge_at_counter(self, request, data):
        raise NotImplementedError

    def add_view(self, request, form_url="", extra_context=None):
        """Lodge an application at the counter for a citizen who came in person or sent a proxy."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        looked_up = self.look_up_applicant(request)
        initial = {"applicant_id_number": looked_up.id_number} if looked_up.person else {}
        form = self.counter_form(
            request.POST or None, request.FILES or None, initial=initial, **self.counter_form_options(request)
        )
        if request.method == "POST" and form.is_valid():
            try:
                application = self.lodge_at_counter(request, form.cleaned_data)
            except self.refusals as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, self.counter_done, messages.SUCCESS)
                return redirect(self.desk_url("change", application.pk))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts, "form": form, "title": self.counter_title, "media": self.media + form.media,
            "looked_up": looked_up,
        }
        return TemplateResponse(request, self.counter_template, context)

    def counter_form_options(self, request):
        return {}

    def look_up_applicant(self, request):
        """Find the person whose ID number the clerk typed first, among those enrolled in the clerk's regions.

        The clerk reads the name back to the citizen before going on; a number outside the clerk's
        regions finds nobody, so the counter cannot be used to look people up elsewhere.
        """
        term = request.GET.get("lookup", "").strip().upper()
        if not term:
            return Lookup(term, None, "")
        try:
            parse_id_number(term)
        except ValidationError as error:
            return Lookup(term, None, error.messages[0])
        regions = regions_of(request.user)
        found = Person.objects.filter(id_number=term, enrolments__region__in=regions).distinct()
        record_id_number_search(request=request, term=term, found=found)
        person = found.first()
        if person is None:
            return Lookup(term, None, _("本统筹区的参保登记中没有这个身份证号码，请核对证件。"))
        return Lookup(term, person, "")

    def next_view(self, request, object_id):
        """Open the next application of the same queue that the user may act on, or the queue once done."""
        filters = request.GET.get("_changelist_filters", "")
        following = self.next_in_queue(request, object_id, filters)
        if following is None:
            self.message_user(request, _("这个队列里没有待您办理的申请了。"), messages.SUCCESS)
            return redirect(self.desk_url("changelist") + (f"?{filters}" if filters else ""))
        query = f"?{urlencode({'_changelist_filters': filters})}" if filters else ""
        return redirect(self.desk_url("change", following.pk) + query)

    def next_in_queue(self, request, object_id, filters):
        """Return the first application of the queue `filters` describe, other than this one, that is mine."""
        queue_request = copy.copy(request)
        queue_request.GET = QueryDict(filters)
        changelist = self.get_changelist_instance(queue_request)
        queryset = changelist.get_queryset(queue_request).filter(self.my_queue(request))
        return queryset.exclude(pk=unquote(object_id)).first()

    def material_page_view(self, request, object_id, material_id, page):
        """Send one page of a PDF material drawn as an image, to staff who may see the application."""
        application = self.scoped_application(request, object_id)
        material = get_object_or_404(materials_of(application), pk=material_id)
        if not material.is_pdf:
            raise Http404
        try:
            image = pdf_page_png(material, page)
        except IndexError:
            raise Http404 from None
        record_access(
            request=request, person_ids=self.people_of(application), what=_("申请材料"),
            reference=application.number,
        )
        response = HttpResponse(image, content_type="image/png")
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "no-store, private"
        return response

    def receipt_paper(self, application, kind):
        raise NotImplementedError

    def receipt_view(self, request, object_id, kind):
        """Send the application's 受理回执 or 办结凭证 as a PDF, for the clerk to print and hand over."""
        application = self.scoped_application(request, object_id)
        paper = self.receipt_paper(application, kind)
        if paper is None:
            raise Http404
        record_access(
            request=request, person_ids=self.people_of(application),
            what=_("%(paper)s（PDF）") % {"paper": paper.title}, reference=application.number,
        )
        return printing.pdf_response(paper)

    def scoped_application(self, request, object_id):
        # An application outside the user's regions answers 404, as if it did not exist.
        application = self.get_object(request, unquote(object_id))
        if application is None:
            raise Http404
        # admin_view lets in any staff login: the decision pages show the applicant, so they need the
        # permission to view such applications, as the change page does.
        if not self.has_view_or_change_permission(request, application):
            raise PermissionDenied
        return application


# Materials beside the decision ---------------------------------------------------------------------

# Pages of a PDF shown on the application page; a longer file is opened whole by its link.
PDF_PAGES_SHOWN = 10


@dataclass(frozen=True)
class MaterialView:
    material: object
    label: str
    download_url: str
    image_url: str
    page_urls: list
    more_pages: int


def material_panel(model_admin, application):
    """Return the application's materials as the decision page shows them: current ones first."""
    labels = model_admin.material_labels(application)
    views = []
    for material in materials_of(application).order_by(F("replaced_by").asc(nulls_first=True), "uploaded_at"):
        download = reverse("material_download", args=[material.pk])
        pages = pdf_page_count(material) if material.is_pdf else 0
        views.append(MaterialView(
            material=material,
            label=labels.get(material.kind, material.kind),
            download_url=download,
            image_url=f"{download}?inline=1" if material.is_image else "",
            page_urls=[
                model_admin.desk_url("material_page", application.pk, material.pk, number)
                for number in range(1, min(pages, PDF_PAGES_SHOWN) + 1)
            ],
            more_pages=max(0, pages - PDF_PAGES_SHOWN),
        ))
    return views


def pdf_page_count(material):
    """Return how many pages a PDF material has (0 when PDFium cannot read it)."""
    with material.file.open("rb") as stream:
        data = stream.read()
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        return 0
    try:
        return len(document)
    finally:
        document.close()


def pdf_page_png(material, number, *, width=900):
    """Return page `number` (from 1) of a PDF material as PNG bytes about `width` pixels wide."""
    with material.file.open("rb") as stream:
        data = stream.read()
    document = pdfium.PdfDocument(data)
    try:
        if not 1 <= number <= len(document):
            raise IndexError(number)
        page = document[number - 1]
        scale = width / max(1.0, page.get_width())
        image = page.render(scale=min(scale, 4.0)).to_pil()
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        return buffer.getvalue()
    finally:
        document.close()
