"""Holidays staff keep, the event log, and the read-only inlines the feature apps' admins reuse."""

from django.contrib import admin, messages
from django.contrib.admin.views.main import ORDER_VAR
from django.contrib.contenttypes.admin import GenericTabularInline
from django.db.models import Count, F, Q
from django.db.models.functions import ExtractYear
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdmin
from accounts.large_lists import LargeListAdmin, LargeListPaginator, people_matching
from accounts.models import User

from . import calendar
from .models import Event, Holiday, Material


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


class OverdueFirstPaginator(LargeListPaginator):
    """Pages of a queue in its default order (overdue first, then the newest), read as two index-backed parts.

    Ordering by "is it overdue" makes the database sort every application of the region on each load; the
    overdue ones are few, so they are read on their own, and the rest in the order of the (created_at, id)
    index, which stops after a page. The rows and their order are those of the queue's get_ordering.
    """

    def __init__(self, object_list, per_page, *, overdue, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.overdue = overdue

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        newest = self.object_list.order_by("-created_at", "-id")
        # NULLS LAST (created_at is never null) keeps PostgreSQL from walking the (created_at, id) index for the
        # few overdue rows, which can mean reading most of the table; it finds them by their deadline indexes.
        overdue = newest.filter(self.overdue).order_by(F("created_at").desc(nulls_last=True), "-id")
        first = overdue.count() if bottom > 0 else None
        rows = list(overdue[bottom:top])
        if len(rows) < self.per_page:
            first = len(rows) + bottom if first is None else first
            rows += list(newest.exclude(self.overdue)[max(0, bottom - first) : top - first])
        return self._get_page(rows, number, self)


def queue_paginator(request, queryset, per_page, overdue):
    """Return the paginator of an application queue: two parts in the default order, else a plain one."""
    if ORDER_VAR in request.GET:
        return LargeListPaginator(queryset, per_page)
    return OverdueFirstPaginator(queryset, per_page, overdue=overdue)


def warn_about_unknown_years(request, *days):
    """Add an admin warning for each deadline that falls in a year whose holidays nobody has entered."""
    for text in dict.fromkeys(calendar.deadline_warning(day) for day in days if day):
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
    list_select_related = ["content_type", "actor"]
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
        return super().get_queryset(request).select_related("content_type", "actor")


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
