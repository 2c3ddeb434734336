"""The two transfer desks: the new region accepts and transfers in, the old region transfers out.

Clerks of both regions see a transfer; the buttons of a step show only to the region that owns it, and
the services refuse anyone else, so a hand-made request gets no further than a missing button.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms as django_forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Max, Value, When
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.access_log import RecordsDataAccess, record_access, record_id_number_search
from accounts.large_lists import LargeListAdmin
from accounts.scoping import RegionListFilter, regions_of
from review.admin import (
    EventInline,
    MaterialInline,
    queue_paginator,
    search_applications,
    warn_about_unknown_years,
)
from review.transitions import step_no_longer_open

from . import forms, services
from .models import ID_CARD_KIND, ID_CARD_LABEL, TransferApplication, awaiting_condition, overdue_condition
from .views import pdf_response

Status = TransferApplication.Status


# Decisions on one application ---------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One button on the change page: the form it asks for, the service it calls, who may press it."""

    label: str
    done: str
    form: Callable
    perform: Callable
    allowed: Callable


def _step(step):
    return lambda user, application: services.may_take(user, application, step)


def _for_the_applicant(offered):
    """Offer a step taken for the citizen only on counter applications, to counter staff of either region."""
    return lambda user, application: (
        application.is_at_counter
        and offered(application)
        and services.may_act_for_applicant(user, application)
    )


def _resubmit_at_counter(application, user, data):
    if data["id_card"]:
        services.replace_id_card(application=application, actor=user, uploaded_file=data["id_card"])
        application.refresh_from_db()
    return services.resubmit_transfer(
        application=application, actor=user, reason=data["reason"], reason_note=data["reason_note"]
    )


DECISIONS = {
    "accept": Decision(
        gettext_lazy("受理"), gettext_lazy("已受理，已转交转出地办理转出。"),
        form=lambda application, data, files: forms.NoteForm(data),
        perform=lambda application, user, data: services.accept_transfer(
            application=application, actor=user, note=data["note"]),
        allowed=_step(services.ACCEPT_STEP),
    ),
    "transfer-out": Decision(
        gettext_lazy("办理转出"), gettext_lazy("已办理转出：信息表已出具，余额已转入在途资金，等待转入地办理转入。"),
        form=lambda application, data, files: forms.NoteForm(data),
        perform=lambda application, user, data: services.transfer_out(
            application=application, actor=user, note=data["note"]),
        allowed=_step(services.OUT_STEP),
    ),
    "transfer-in": Decision(
        gettext_lazy("办理转入"), gettext_lazy("已办理转入并办结：余额已记入本地个人账户，缴费年限已累计。"),
        form=lambda application, data, files: forms.NoteForm(data),
        perform=lambda application, user, data: services.transfer_in(
            application=application, actor=user, note=data["note"]),
        allowed=_step(services.IN_STEP),
    ),
    "return": Decision(
        gettext_lazy("退回补正"), gettext_lazy("已退回补正，申请人会收到需补正内容的通知。"),
        form=lambda application, data, files: forms.ReturnForm(data),
        perform=lambda application, user, data: services.return_transfer(
            application=application, actor=user, note=data["note"], replace_id_card=data["replace_id_card"]),
        allowed=_step(services.RETURN_STEP),
    ),
    "refuse": Decision(
        gettext_lazy("不予受理"), gettext_lazy("已不予受理，申请人会收到原因。"),
        # The reason the conditions fail now, if they do, is offered as the text to send.
        form=lambda application, data, files: forms.RefuseForm(
            data, initial={"reason": services.current_refusal(application)}),
        perform=lambda application, user, data: services.refuse_transfer(
            application=application, actor=user, reason=data["reason"]),
        allowed=_step(services.REFUSE_STEP),
    ),
    "resubmit": Decision(
        gettext_lazy("代为补正并重新提交"), gettext_lazy("已代申请人补正并重新提交。"),
        form=lambda application, data, files: forms.CounterResubmitForm(
            data, files, initial={"reason": application.reason, "reason_note": application.reason_note}),
        perform=lambda application, user, data: _resubmit_at_counter(application, user, data),
        allowed=_for_the_applicant(lambda application: application.status == Status.RETURNED),
    ),
    "cancel": Decision(
        gettext_lazy("代为撤销"), gettext_lazy("已按申请人要求撤销。"),
        form=lambda application, data, files: django_forms.Form(data),
        perform=lambda application, user, data: services.cancel_transfer(application=application, actor=user),
        allowed=_for_the_applicant(lambda application: application.can_be_cancelled),
    ),
}


# The queue ----------------------------------------------------------------------------------------


class TransferMaterialInline(MaterialInline):
    """Review's material inline, naming the ID-card image as the citizen saw it."""

    fields = ["kind_label", *(name for name in MaterialInline.fields if name != "kind")]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("材料类别"))
    def kind_label(self, material):
        return ID_CARD_LABEL if material.kind == ID_CARD_KIND else material.kind


class OverdueFilter(admin.SimpleListFilter):
    title = gettext_lazy("是否超期")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("已超期")), ("no", _("未超期"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.overdue()
        if self.value() == "no":
            return queryset.exclude(overdue_condition())
        return queryset


class AwaitingFilter(admin.SimpleListFilter):
    """The transfers whose next step is one for the user's own region: the desk's to-do list."""

    title = gettext_lazy("办理环节")
    parameter_name = "awaiting"

    def lookups(self, request, model_admin):
        return [("mine", _("待本统筹区办理")), ("others", _("待对方或申请人办理"))]

    def queryset(self, request, queryset):
        mine = awaiting_condition(regions_of(request.user))
        if self.value() == "mine":
            return queryset.filter(mine)
        if self.value() == "others":
            return queryset.exclude(mine)
        return queryset


@admin.register(TransferApplication)
class TransferApplicationAdmin(RecordsDataAccess, LargeListAdmin, admin.ModelAdmin):
    access_label = gettext_lazy("转移申请详情")
    list_display = [
        "number", "applicant_masked", "old_region", "new_region", "status", "awaiting", "submitted_at",
        "next_due_display", "overdue",
    ]
    list_filter = [
        # The user's own regions: offering only the regions that occur would read every transfer to find them.
        "status", AwaitingFilter, OverdueFilter, ("old_region", RegionListFilter), ("new_region", RegionListFilter),
        "province_wide",
    ]
    list_select_related = ["applicant", "old_region", "new_region"]
    search_fields = ["number"]
    search_help_text = gettext_lazy("按申请编号或申请人身份证号码精确查找。")
    inlines = [EventInline, TransferMaterialInline]
    actions = ["accept_selected", "transfer_out_selected", "transfer_in_selected"]
    change_form_template = "transfers/admin/change_form.html"
    # Progress fields show once they hold something: a transfer that was never returned has no return note.
    progress_fields = [
        "created_at", "submitted_at", "declaration_accepted_at", "accepted_at", "accepted_by",
        "transfer_out_due", "transferred_out_at", "transferred_out_by", "transfer_in_due",
        "transferred_in_at", "transferred_in_by", "completed_at", "returned_by", "return_note", "returned_at",
        "id_card_to_replace", "refused_by", "refusal_reason", "amount", "contribution_months", "out_journal",
        "in_journal",
    ]
    readonly_fields = [
        "number", "status", "awaiting", "applicant_full", "old_region", "new_region", "reason", "reason_note",
        "counter_clerk", "province_wide", "old_enrolment", "new_enrolment", "old_account", "new_account",
        *progress_fields,
    ]

    class Media:
        css = {"all": ["transfers/admin.css"]}

    def get_fieldsets(self, request, obj=None):
        """Lay the transfer out: who and where, the registry rows, then what has happened so far."""
        progress = [
            name for name in self.progress_fields
            if obj is not None and getattr(obj, name) not in (None, "", False)
        ]
        return [
            (None, {"fields": [
                "number", "status", "awaiting", "applicant_full", "old_region", "new_region", "reason",
                "reason_note", "counter_clerk", "province_wide"]}),
            (_("参保登记与个人账户"), {"fields": ["old_enrolment", "new_enrolment", "old_account", "new_account"]}),
            (_("办理情况"), {"fields": progress}),
        ]

    def get_queryset(self, request):
        """Limit staff to the transfers leaving or joining a region they serve."""
        queryset = super().get_queryset(request)
        if request.user.is_active and request.user.is_superuser:
            return queryset
        return queryset.concerning(regions_of(request.user))

    def get_ordering(self, request):
        """Overdue first, then the newest: what needs a clerk now is at the top of the queue."""
        # Built per request, so that "today" is today's date and not the day the server started.
        overdue = Case(
            When(overdue_condition(), then=Value(1)), default=Value(0), output_field=IntegerField()
        )
        return [overdue.desc(), "-created_at", "-id"]

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        """Read the default order in two index-backed parts (review.admin.OverdueFirstPaginator)."""
        return queue_paginator(request, queryset, per_page, overdue_condition())

    # Applications change only through their decisions, never by editing the row.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_accept_permission(self, request):
        return request.user.has_perm(services.ACCEPT)

    def has_transfer_out_permission(self, request):
        return request.user.has_perm(services.TRANSFER_OUT)

    def has_transfer_in_permission(self, request):
        return request.user.has_perm(services.TRANSFER_IN)

    def get_search_results(self, request, queryset, search_term):
        """Find by application number or ID number, always by equality (never LIKE on ID numbers)."""
        term = search_term.strip().upper()
        if not term:
            return queryset, False
        found = search_applications(queryset, term, ["applicant"])
        record_id_number_search(request=request, term=term, found=found)
        return found, False

    def people_of(self, application):
        return [application.applicant_id]

    @admin.display(description=gettext_lazy("申请人"), ordering="applicant__name")
    def applicant_masked(self, obj):
        return f"{obj.applicant.masked_name}（{obj.applicant.masked_id_number}）"

    @admin.display(description=gettext_lazy("申请人"))
    def applicant_full(self, obj):
        return f"{obj.applicant.name}（{obj.applicant.id_number}）"

    @admin.display(description=gettext_lazy("待办理方"))
    def awaiting(self, obj):
        side = obj.awaiting_side
        if not side:
            return _("申请人") if obj.status == Status.RETURNED else "—"
        return f"{TransferApplication.Side(side).label}（{obj.region_of(side).name}）"

    @admin.display(description=gettext_lazy("办理期限"))
    def next_due_display(self, obj):
        return obj.next_due or "—"

    @admin.display(description=gettext_lazy("是否超期"))
    def overdue(self, obj):
        if obj.is_overdue:
            return format_html('<strong class="overdue-badge">{}</strong>', _("已超期"))
        return ""

    # Pages --------------------------------------------------------------------------------------

    def get_urls(self):
        decide = self.admin_site.admin_view(self.decision_view)
        record = self.admin_site.admin_view(self.record_view)
        return [
            path("<path:object_id>/decide/<slug:decision>/", decide, name="transfers_decide"),
            path("<path:object_id>/record.pdf", record, name="transfers_record_pdf"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Show the transfer with the steps the user's region may take now; 404 outside both regions."""
        application = self._scoped_application(request, object_id)
        warn_about_unknown_years(request, application.transfer_out_due, application.transfer_in_due)
        buttons = [
            {"label": decision.label, "url": reverse("admin:transfers_decide", args=[application.pk, key])}
            for key, decision in DECISIONS.items()
            if decision.allowed(request.user, application)
        ]
        extra_context = {
            **(extra_context or {}),
            "decision_buttons": buttons,
            "condition_refusal": services.current_refusal(application),
            "checks_conditions": application.status in (Status.SUBMITTED, Status.ACCEPTED, Status.RETURNED),
            "record_url": reverse("admin:transfers_record_pdf", args=[application.pk])
            if application.has_record else "",
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def decision_view(self, request, object_id, decision):
        """Ask for what a decision needs, then take it through the service."""
        application = self._scoped_application(request, object_id)
        step = DECISIONS.get(decision)
        if step is None:
            raise Http404
        if not step.allowed(request.user, application):
            raise step_no_longer_open(application)
        form = step.form(application, request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                step.perform(application, request.user, form.cleaned_data)
            except services.REFUSALS as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, step.done, messages.SUCCESS)
                return redirect("admin:transfers_transferapplication_change", application.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts, "original": application, "decision": step, "form": form,
            "title": f"{step.label}：{application.number}", "media": self.media + form.media,
            "condition_refusal": services.current_refusal(application),
        }
        return TemplateResponse(request, "transfers/admin/decision.html", context)

    def record_view(self, request, object_id):
        """Send the information form as a PDF to staff of either region, once it exists."""
        application = self._scoped_application(request, object_id)
        if not application.has_record:
            raise Http404
        record_access(
            request=request, person_ids=[application.applicant_id], what=_("转移信息表（PDF）"),
            reference=application.number,
        )
        return pdf_response(application)

    def add_view(self, request, form_url="", extra_context=None):
        """Lodge a transfer at the counter, in either region, for a citizen who came with the ID card."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = forms.CounterApplyForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                application = services.apply_at_counter(
                    clerk=request.user, applicant_id_number=data["applicant_id_number"],
                    old_region=data["old_region"], new_region=data["new_region"], reason=data["reason"],
                    reason_note=data["reason_note"], id_card=data["id_card"],
                )
            except services.REFUSALS as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, _("转移申请已提交，等待转入地受理。"), messages.SUCCESS)
                return redirect("admin:transfers_transferapplication_change", application.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts, "form": form, "title": _("窗口代办转移接续申请"), "media": self.media + form.media,
        }
        return TemplateResponse(request, "transfers/admin/counter_apply.html", context)

    def changelist_view(self, request, extra_context=None):
        """Warn when a running deadline falls in a year whose holidays nobody entered."""
        running = self.get_queryset(request).filter(status__in=[Status.ACCEPTED, Status.TRANSFERRED_OUT])
        latest = running.aggregate(out=Max("transfer_out_due"), into=Max("transfer_in_due"))
        warn_about_unknown_years(request, latest["out"], latest["into"])
        return super().changelist_view(request, extra_context)

    def _scoped_application(self, request, object_id):
        # A transfer neither leaving nor joining the user's regions answers 404, as if it did not exist.
        application = self.get_object(request, unquote(object_id))
        if application is None:
            raise Http404
        # admin_view lets in any staff login: the decision page and the information form show the
        # applicant, so they need the permission to view transfers, as the change page does.
        if not self.has_view_or_change_permission(request, application):
            raise PermissionDenied
        return application

    # List actions -------------------------------------------------------------------------------

    @admin.action(permissions=["accept"], description=gettext_lazy("受理所选申请（转入地）"))
    def accept_selected(self, request, queryset):
        self._act_on_each(request, queryset, services.accept_transfer, _("受理"))

    @admin.action(permissions=["transfer_out"], description=gettext_lazy("办理所选申请的转出（转出地）"))
    def transfer_out_selected(self, request, queryset):
        self._act_on_each(request, queryset, services.transfer_out, _("转出"))

    @admin.action(permissions=["transfer_in"], description=gettext_lazy("办理所选申请的转入（转入地）"))
    def transfer_in_selected(self, request, queryset):
        self._act_on_each(request, queryset, services.transfer_in, _("转入"))

    def _act_on_each(self, request, queryset, service, label):
        done = 0
        for application in queryset.select_related(*services.RELATED):
            try:
                service(application=application, actor=request.user)
            except services.REFUSALS as error:
                self.message_user(request, f"{application.number}：{error.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request, _("%(label)s：已办理 %(count)d 件。") % {"label": label, "count": done}, messages.SUCCESS
            )
