"""The review desk: the reasons staff keep, and the withdrawal queue with its decisions."""

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
from simple_history.admin import SimpleHistoryAdmin

from accounts.access_log import RecordsDataAccess, record_id_number_search
from accounts.scoping import RegionListFilter, RegionScopedAdmin
from review.admin import (
    EventInline,
    MaterialInline,
    queue_paginator,
    search_applications,
    warn_about_unknown_years,
)
from review.transitions import step_no_longer_open

from . import forms, services
from .models import MaterialRequirement, WithdrawalApplication, WithdrawalReason, overdue_condition

Status = WithdrawalApplication.Status


# Reasons ------------------------------------------------------------------------------------------


class MaterialRequirementInline(admin.TabularInline):
    model = MaterialRequirement
    extra = 1
    fields = ["sort_order", "code", "label", "required"]


@admin.register(WithdrawalReason)
class WithdrawalReasonAdmin(SimpleHistoryAdmin):
    list_display = ["name", "code", "applied_by", "enabled", "sort_order", "region_list", "material_list"]
    list_editable = ["enabled", "sort_order"]
    list_filter = ["enabled", "applied_by"]
    search_fields = ["name", "code"]
    fields = ["name", "code", "applied_by", "enabled", "regions", "sort_order", "help_text"]
    filter_horizontal = ["regions"]
    inlines = [MaterialRequirementInline]
    actions = ["enable_reasons", "disable_reasons"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("requirements", "regions")

    @admin.display(description=gettext_lazy("适用统筹区"))
    def region_list(self, obj):
        return "、".join(region.name for region in obj.regions.all()) or _("全部统筹区")

    @admin.display(description=gettext_lazy("所需材料"))
    def material_list(self, obj):
        return "、".join(
            req.label if req.required else _("%(label)s（选填）") % {"label": req.label}
            for req in obj.requirements.all()
        )

    @admin.action(permissions=["change"], description=gettext_lazy("启用所选原因"))
    def enable_reasons(self, request, queryset):
        count = self._switch(request, queryset, enabled=True)
        self.message_user(request, _("已启用 %(count)d 个提取原因。") % {"count": count}, messages.SUCCESS)

    @admin.action(permissions=["change"], description=gettext_lazy("停用所选原因"))
    def disable_reasons(self, request, queryset):
        count = self._switch(request, queryset, enabled=False)
        self.message_user(request, _("已停用 %(count)d 个提取原因。") % {"count": count}, messages.SUCCESS)

    def _switch(self, request, queryset, *, enabled):
        # Row by row, not queryset.update(): each change gets its history row and its admin log entry.
        changed = [reason for reason in queryset if reason.enabled != enabled]
        for reason in changed:
            reason.enabled = enabled
            reason.save(update_fields=["enabled"])
            self.log_change(request, reason, [{"changed": {"fields": ["enabled"]}}])
        return len(changed)


# Decisions on one application ---------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One button on the change page: the form it asks for, the service it calls, who may press it."""

    label: str
    done: str
    form: Callable
    perform: Callable
    permission: Callable
    offered: Callable

    def allowed(self, user, application):
        return self.offered(application) and user.has_perm(self.permission(application))


def _moves_to(status):
    return lambda application: application.can_move_to(status)


def _fixed(permission):
    return lambda application: permission


def _at_counter(offered):
    """Offer a step taken for the citizen only on applications opened at the counter."""
    return lambda application: application.is_at_counter and offered(application)


DECISIONS = {
    "first-review": Decision(
        gettext_lazy("初审通过"), gettext_lazy("已初审通过，等待另一名经办人员复核。"),
        form=lambda application, data, files: forms.NoteForm(data),
        perform=lambda application, user, data: services.first_review_withdrawal(
            application=application, actor=user, note=data["note"]),
        permission=_fixed(services.REVIEW), offered=_moves_to(Status.FIRST_REVIEWED),
    ),
    "return": Decision(
        gettext_lazy("退回补正"), gettext_lazy("已退回补正，申请人会收到需补正材料的通知。"),
        form=lambda application, data, files: forms.ReturnForm(
            data, kinds=services.accepted_kinds(application)),
        perform=lambda application, user, data: services.return_withdrawal(
            application=application, actor=user, missing_kinds=data["missing_kinds"], note=data["note"]),
        permission=services.decision_permission, offered=_moves_to(Status.RETURNED),
    ),
    "refuse": Decision(
        gettext_lazy("不予受理"), gettext_lazy("已不予受理，申请人会收到原因。"),
        form=lambda application, data, files: forms.RefuseForm(data),
        perform=lambda application, user, data: services.refuse_withdrawal(
            application=application, actor=user, reason=data["reason"]),
        permission=services.decision_permission, offered=_moves_to(Status.REFUSED),
    ),
    "approve": Decision(
        gettext_lazy("复核通过"), gettext_lazy("已复核通过：账户余额已划入应付提取款，账户已关闭。"),
        form=lambda application, data, files: forms.NoteForm(data),
        perform=lambda application, user, data: services.approve_withdrawal(
            application=application, actor=user, note=data["note"]),
        permission=_fixed(services.APPROVE), offered=_moves_to(Status.APPROVED),
    ),
    "pay": Decision(
        gettext_lazy("确认到账"), gettext_lazy("已确认到账，应付提取款已结清。"),
        form=lambda application, data, files: forms.NoteForm(data),
        perform=lambda application, user, data: services.confirm_payout_withdrawal(
            application=application, actor=user, note=data["note"]),
        permission=_fixed(services.PAY), offered=_moves_to(Status.PAID),
    ),
    "bank-return": Decision(
        gettext_lazy("银行退回冲正"), gettext_lazy("已冲正：款项退回个人账户，账户已恢复。"),
        form=lambda application, data, files: forms.BankReturnForm(data),
        perform=lambda application, user, data: services.reverse_payout_withdrawal(
            application=application, actor=user, note=data["note"]),
        permission=_fixed(services.PAY), offered=_moves_to(Status.BANK_RETURNED),
    ),
    "upload": Decision(
        gettext_lazy("上传材料"), gettext_lazy("材料已上传。"),
        form=lambda application, data, files: forms.CounterUploadForm(
            data, files, kinds=services.accepted_kinds(application)),
        perform=lambda application, user, data: services.add_withdrawal_material(
            application=application, kind=data["kind"], uploaded_file=data["file"], actor=user),
        permission=_fixed(services.COUNTER), offered=_at_counter(lambda application: application.is_editable),
    ),
    "bank": Decision(
        gettext_lazy("修改收款账户"), gettext_lazy("收款账户已修改，申请人会收到通知。"),
        form=lambda application, data, files: forms.BankAccountForm(
            data, initial=forms.bank_initial(application, with_number=False)),
        perform=lambda application, user, data: services.change_bank_account(
            application=application, actor=user, **data),
        permission=_fixed(services.COUNTER), offered=_at_counter(lambda application: application.is_editable),
    ),
    "submit": Decision(
        gettext_lazy("代为提交"), gettext_lazy("已代申请人提交。"),
        form=lambda application, data, files: forms.CounterSubmitForm(data),
        perform=lambda application, user, data: services.submit_withdrawal(
            application=application, actor=user, declaration_accepted=data["declaration"]),
        permission=_fixed(services.COUNTER), offered=_at_counter(_moves_to(Status.SUBMITTED)),
    ),
    "cancel": Decision(
        gettext_lazy("代为撤销"), gettext_lazy("已按申请人要求撤销。"),
        form=lambda application, data, files: django_forms.Form(data),
        perform=lambda application, user, data: services.cancel_withdrawal(application=application, actor=user),
        permission=_fixed(services.COUNTER), offered=_at_counter(_moves_to(Status.CANCELLED)),
    ),
}


# The queue ----------------------------------------------------------------------------------------


class WithdrawalMaterialInline(MaterialInline):
    """Review's material inline, naming each kind as the reason's requirement does."""

    fields = ["kind_label", *(name for name in MaterialInline.fields if name != "kind")]
    readonly_fields = fields

    def get_formset(self, request, obj=None, **kwargs):
        # Inline instances are made afresh for each request, so the labels never leak between pages.
        self.kind_labels = services.accepted_kinds(obj) if obj is not None else {}
        return super().get_formset(request, obj, **kwargs)

    @admin.display(description=gettext_lazy("材料类别"))
    def kind_label(self, material):
        return self.kind_labels.get(material.kind, material.kind)



class OverdueFilter(admin.SimpleListFilter):
    title = gettext_lazy("是否超期")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("已超期")), ("no", _("未超期"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.overdue()
        if self.value() == "no":
            return queryset.exclude(pk__in=queryset.overdue().values("pk"))
        return queryset


@admin.register(WithdrawalApplication)
class WithdrawalApplicationAdmin(RecordsDataAccess, RegionScopedAdmin, admin.ModelAdmin):
    region_lookup = "region"
    access_label = gettext_lazy("提取申请详情")
    list_display = [
        "number", "applicant_masked", "reason", "region", "status", "submitted_at",
        "first_review_due", "payment_due", "overdue",
    ]
    list_filter = ["status", "reason", ("region", RegionListFilter), OverdueFilter]
    list_select_related = ["applicant", "reason", "region"]
    search_fields = ["number"]
    search_help_text = gettext_lazy("按申请编号或身份证号码（申请人或已故参保人）精确查找。")
    inlines = [EventInline, WithdrawalMaterialInline]
    actions = ["first_review_selected", "approve_selected", "confirm_payout_selected"]
    change_form_template = "withdrawals/admin/change_form.html"
    readonly_fields = [
        "number", "status", "reason", "applicant_full", "holder_full", "heir_relation", "region",
        "counter_clerk", "proxy_full", "account", "bank_name", "bank_account_masked", "bank_account_full",
        "bank_account_holder", "created_at", "submitted_at", "clock_started_on", "first_review_due",
        "payment_due", "first_reviewer", "approver", "missing_kinds_display", "return_note",
        "refusal_reason", "declaration_accepted", "declaration_accepted_at", "amount",
        "approval_journal", "payout_journal", "payout_reversal_journal", "approval_reversal_journal",
    ]

    def get_fieldsets(self, request, obj=None):
        """Lay the application out; the full bank account number only for those who approve."""
        bank_number = "bank_account_full" if request.user.has_perm(services.APPROVE) else "bank_account_masked"
        return [
            (None, {"fields": ["number", "status", "reason", "applicant_full", "holder_full", "heir_relation",
                               "region", "account", "counter_clerk", "proxy_full"]}),
            (_("收款银行账户"), {"fields": ["bank_name", bank_number, "bank_account_holder"]}),
            (_("办理情况"), {"fields": [
                "created_at", "submitted_at", "clock_started_on", "first_review_due", "payment_due",
                "first_reviewer", "approver", "missing_kinds_display", "return_note", "refusal_reason",
                "declaration_accepted", "declaration_accepted_at"]}),
            (_("资金"), {"fields": ["amount", "approval_journal", "payout_journal", "payout_reversal_journal",
                                   "approval_reversal_journal"]}),
        ]

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

    def has_review_permission(self, request):
        return request.user.has_perm(services.REVIEW)

    def has_approve_permission(self, request):
        return request.user.has_perm(services.APPROVE)

    def has_pay_permission(self, request):
        return request.user.has_perm(services.PAY)

    def get_search_results(self, request, queryset, search_term):
        """Find by application number or ID number, always by equality (never LIKE on ID numbers)."""
        term = search_term.strip().upper()
        if not term:
            return queryset, False
        found = search_applications(queryset, term, ["applicant", "holder"])
        record_id_number_search(request=request, term=term, found=found)
        return found, False

    def people_of(self, application):
        # An heir's application also shows the deceased holder's account.
        return [application.applicant_id, application.holder_id]

    @admin.display(description=gettext_lazy("申请人"), ordering="applicant__name")
    def applicant_masked(self, obj):
        return f"{obj.applicant.masked_name}（{obj.applicant.masked_id_number}）"

    @admin.display(description=gettext_lazy("申请人"))
    def applicant_full(self, obj):
        return f"{obj.applicant.name}（{obj.applicant.id_number}）"

    @admin.display(description=gettext_lazy("账户持有人"))
    def holder_full(self, obj):
        if obj.holder.died_on:
            return _("%(name)s（%(id)s），%(day)s死亡") % {
                "name": obj.holder.name, "id": obj.holder.id_number, "day": obj.holder.died_on.isoformat()}
        return f"{obj.holder.name}（{obj.holder.id_number}）"

    @admin.display(description=gettext_lazy("代办人"))
    def proxy_full(self, obj):
        if not obj.proxy_name:
            return "—"
        return f"{obj.proxy_name}（{obj.proxy_id_number}）"

    @admin.display(description=gettext_lazy("银行账号"))
    def bank_account_masked(self, obj):
        return obj.masked_bank_account_number

    @admin.display(description=gettext_lazy("银行账号"))
    def bank_account_full(self, obj):
        return obj.bank_account_number

    @admin.display(description=gettext_lazy("需补正的材料"))
    def missing_kinds_display(self, obj):
        kinds = services.accepted_kinds(obj)
        return "、".join(kinds.get(kind, kind) for kind in obj.missing_kinds) or "—"

    @admin.display(description=gettext_lazy("是否超期"))
    def overdue(self, obj):
        if obj.is_overdue:
            return format_html('<strong class="overdue-badge">{}</strong>', _("已超期"))
        return ""

    class Media:
        css = {"all": ["withdrawals/admin.css"]}

    # Pages --------------------------------------------------------------------------------------

    def get_urls(self):
        decide = self.admin_site.admin_view(self.decision_view)
        return [
            path("<path:object_id>/decide/<slug:decision>/", decide, name="withdrawals_decide"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Show the application with the decisions the user may take; 404 outside the user's regions."""
        application = self._scoped_application(request, object_id)
        warn_about_unknown_years(request, application.first_review_due, application.payment_due)
        buttons = [
            {"label": decision.label, "url": reverse("admin:withdrawals_decide", args=[application.pk, key])}
            for key, decision in DECISIONS.items()
            if decision.allowed(request.user, application)
        ]
        extra_context = {**(extra_context or {}), "decision_buttons": buttons}
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
                return redirect("admin:withdrawals_withdrawalapplication_change", application.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts, "original": application, "decision": step, "form": form,
            "title": f"{step.label}：{application.number}", "media": self.media + form.media,
            "bank_account_number": application.bank_account_number_for(request.user),
        }
        return TemplateResponse(request, "withdrawals/admin/decision.html", context)

    def add_view(self, request, form_url="", extra_context=None):
        """Open an application at the counter for a citizen who came in person or sent a proxy."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = forms.CounterWithdrawalForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                application = services.start_counter_withdrawal(clerk=request.user, **form.cleaned_data)
            except services.REFUSALS as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, _("申请已创建，请上传材料后代为提交。"), messages.SUCCESS)
                return redirect("admin:withdrawals_withdrawalapplication_change", application.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts, "form": form, "title": _("窗口代办提取申请"), "media": self.media + form.media,
        }
        return TemplateResponse(request, "withdrawals/admin/counter_start.html", context)

    def changelist_view(self, request, extra_context=None):
        """Warn when an open application's deadline falls in a year whose holidays nobody entered."""
        latest = self.get_queryset(request).filter(status__in=WithdrawalApplication.AWAITING_PAYMENT)
        warn_about_unknown_years(request, latest.aggregate(day=Max("payment_due"))["day"])
        return super().changelist_view(request, extra_context)

    def _scoped_application(self, request, object_id):
        # Another region's application answers 404, as if it did not exist.
        application = self.get_object(request, unquote(object_id))
        if application is None:
            raise Http404
        return application

    # List actions -------------------------------------------------------------------------------

    @admin.action(permissions=["review"], description=gettext_lazy("初审通过所选申请"))
    def first_review_selected(self, request, queryset):
        self._act_on_each(request, queryset, services.first_review_withdrawal, _("初审通过"))

    @admin.action(permissions=["approve"], description=gettext_lazy("复核通过所选申请"))
    def approve_selected(self, request, queryset):
        self._act_on_each(request, queryset, services.approve_withdrawal, _("复核通过"))

    @admin.action(permissions=["pay"], description=gettext_lazy("确认所选申请已到账"))
    def confirm_payout_selected(self, request, queryset):
        self._act_on_each(request, queryset, services.confirm_payout_withdrawal, _("确认到账"))

    def _act_on_each(self, request, queryset, service, label):
        done = 0
        for application in queryset.select_related("account", "region", "reason", "applicant"):
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

