"""The review desk: the reasons staff keep, and the withdrawal queue with its decisions."""

from django import forms as django_forms
from django.contrib import admin, messages
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.admin import SimpleHistoryAdmin

from accounts.templatetags.portal import yuan
from accounts.scoping import RegionListFilter, RegionScopedAdmin, regions_of
from review.admin import Decision, OverdueFilter, QueueFilter, ReviewDeskAdmin, count_work, noted_decision

from . import forms, services
from .models import MaterialRequirement, WithdrawalApplication, WithdrawalReason
from .receipts import receipt_paper

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


def _when(offered, permission):
    """Offer a decision when the status allows it and the user holds the permission it needs then."""
    return lambda user, application: offered(application) and user.has_perm(permission(application))


def _moves_to(status):
    return lambda application: application.can_move_to(status)


def _fixed(permission):
    return lambda application: permission


def _at_counter(offered):
    """Offer a step taken for the citizen only on applications opened at the counter."""
    return lambda application: application.is_at_counter and offered(application)


DECISIONS = {
    "first-review": noted_decision(
        gettext_lazy("初审通过"), gettext_lazy("已初审通过，等待另一名经办人员复核。"),
        services.first_review_withdrawal, _when(_moves_to(Status.FIRST_REVIEWED), _fixed(services.REVIEW)),
    ),
    "approve": noted_decision(
        gettext_lazy("复核通过"), gettext_lazy("已复核通过：账户余额已划入应付提取款，账户已关闭。"),
        services.approve_withdrawal, _when(_moves_to(Status.APPROVED), _fixed(services.APPROVE)),
    ),
    "pay": Decision(
        gettext_lazy("确认到账"), gettext_lazy("已确认到账，应付提取款已结清。"),
        form=lambda application, data, files: forms.PayoutForm(data),
        perform=lambda application, user, data: services.confirm_payout_withdrawal(
            application=application, actor=user, voucher_number=data["voucher_number"],
            paid_on=data["paid_on"], note=data["note"]),
        allowed=_when(_moves_to(Status.PAID), _fixed(services.PAY)), inline=True,
    ),
    "return": Decision(
        gettext_lazy("退回补正"), gettext_lazy("已退回补正，申请人会收到需补正材料的通知。"),
        form=lambda application, data, files: forms.ReturnForm(
            data, kinds=services.accepted_kinds(application)),
        perform=lambda application, user, data: services.return_withdrawal(
            application=application, actor=user, missing_kinds=data["missing_kinds"], note=data["note"]),
        allowed=_when(_moves_to(Status.RETURNED), services.decision_permission),
    ),
    "refuse": Decision(
        gettext_lazy("不予受理"), gettext_lazy("已不予受理，申请人会收到原因。"),
        form=lambda application, data, files: forms.RefuseForm(data),
        perform=lambda application, user, data: services.refuse_withdrawal(
            application=application, actor=user, reason=data["reason"]),
        allowed=_when(_moves_to(Status.REFUSED), services.decision_permission),
    ),
    "bank-return": Decision(
        gettext_lazy("银行退回冲正"), gettext_lazy("已冲正：款项退回个人账户，账户已恢复。"),
        form=lambda application, data, files: forms.BankReturnForm(data),
        perform=lambda application, user, data: services.reverse_payout_withdrawal(
            application=application, actor=user, reason=data["reason"], note=data["note"]),
        allowed=_when(_moves_to(Status.BANK_RETURNED), _fixed(services.PAY)),
    ),
    "upload": Decision(
        gettext_lazy("上传材料"), gettext_lazy("材料已上传。"),
        form=lambda application, data, files: forms.CounterUploadForm(
            data, files, kinds=services.accepted_kinds(application)),
        perform=lambda application, user, data: services.add_withdrawal_materials(
            application=application, files=data["files"], actor=user),
        allowed=_when(_at_counter(lambda application: application.is_editable), _fixed(services.COUNTER)),
    ),
    "bank": Decision(
        gettext_lazy("修改收款账户"), gettext_lazy("收款账户已修改，申请人会收到通知。"),
        form=lambda application, data, files: forms.BankAccountForm(
            data, initial=forms.bank_initial(application, with_number=False)),
        perform=lambda application, user, data: services.change_bank_account(
            application=application, actor=user, **data),
        allowed=_when(_at_counter(lambda application: application.is_editable), _fixed(services.COUNTER)),
    ),
    "submit": Decision(
        gettext_lazy("代为提交"), gettext_lazy("已代申请人提交。"),
        form=lambda application, data, files: forms.CounterSubmitForm(data),
        perform=lambda application, user, data: services.submit_withdrawal(
            application=application, actor=user, declaration_accepted=data["declaration"]),
        allowed=_when(_at_counter(_moves_to(Status.SUBMITTED)), _fixed(services.COUNTER)),
    ),
    "cancel": Decision(
        gettext_lazy("代为撤销"), gettext_lazy("已按申请人要求撤销。"),
        form=lambda application, data, files: django_forms.Form(data),
        perform=lambda application, user, data: services.cancel_withdrawal(application=application, actor=user),
        allowed=_when(_at_counter(_moves_to(Status.CANCELLED)), _fixed(services.COUNTER)),
    ),
}


# The queue ----------------------------------------------------------------------------------------


def my_queue(user):
    """Return the condition of the applications `user` may act on now, by the permissions they hold."""
    condition = Q(pk__in=[])
    if user.has_perm(services.REVIEW):
        condition |= Q(status=Status.SUBMITTED)
    if user.has_perm(services.APPROVE):
        # The approver is another person than the first reviewer (DOMAIN: two-person review).
        condition |= Q(status=Status.FIRST_REVIEWED) & ~Q(first_reviewer=user)
    if user.has_perm(services.PAY):
        condition |= Q(status=Status.APPROVED)
    return condition


@admin.register(WithdrawalApplication)
class WithdrawalApplicationAdmin(RegionScopedAdmin, ReviewDeskAdmin):
    region_lookup = "region"
    access_label = gettext_lazy("提取申请详情")
    list_display = [
        "number", "applicant_masked", "reason", "status", "deadline", "days_left", "overdue",
    ]
    list_filter = [
        # Every reason, from its own small table: offering only those in use read all of a region's
        # applications on each load (100 ms at a province's size).
        QueueFilter, "status", OverdueFilter, "reason",
        ("region", RegionListFilter),
    ]
    list_select_related = ["applicant", "reason"]
    search_help_text = gettext_lazy("按申请编号或身份证号码（申请人或已故参保人）精确查找。")
    decisions = DECISIONS
    refusals = services.REFUSALS
    person_fields = ("applicant", "holder")
    deadline_fields = ("first_review_due", "payment_due")
    readonly_fields = [
        "number", "status", "reason", "applicant_full", "holder_full", "heir_relation", "region",
        "counter_clerk", "proxy_full", "account", "bank_name", "bank_account_masked", "bank_account_full",
        "bank_account_holder", "created_at", "submitted_at", "clock_started_on", "first_review_due",
        "payment_due", "first_reviewer", "approver", "missing_kinds_display", "return_note",
        "refusal_reason", "declaration_accepted", "declaration_accepted_at", "amount_display",
        "voucher_number", "paid_on", "bank_return_reason",
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
            (_("资金"), {"fields": ["amount_display", "voucher_number", "paid_on", "bank_return_reason",
                                   "approval_journal", "payout_journal", "payout_reversal_journal",
                                   "approval_reversal_journal"]}),
        ]

    def my_queue(self, request):
        return my_queue(request.user)

    def work(self, request):
        user, queues = request.user, []
        if user.has_perm(services.REVIEW):
            queues.append((_("提取待初审"), Q(status=Status.SUBMITTED), "status=submitted"))
        if user.has_perm(services.APPROVE):
            queues.append((
                _("提取待复核"), Q(status=Status.FIRST_REVIEWED) & ~Q(first_reviewer=user),
                "status=first_reviewed",
            ))
        if user.has_perm(services.PAY):
            queues.append((_("提取待确认到账"), Q(status=Status.APPROVED), "status=approved"))
        return count_work(request, self, queues)

    def material_labels(self, application):
        return services.accepted_kinds(application)

    def decision_context(self, request, application):
        return {"bank_account_number": application.bank_account_number_for(request.user)}

    def people_of(self, application):
        # An heir's application also shows the deceased holder's account.
        return [application.applicant_id, application.holder_id]

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

    @admin.display(description=gettext_lazy("提取金额"))
    def amount_display(self, obj):
        return yuan(obj.amount) if obj.amount is not None else "—"

    @admin.display(description=gettext_lazy("需补正的材料"))
    def missing_kinds_display(self, obj):
        kinds = services.accepted_kinds(obj)
        return "、".join(kinds.get(kind, kind) for kind in obj.missing_kinds) or "—"

    # The counter -------------------------------------------------------------------------------

    counter_form = forms.CounterWithdrawalForm
    counter_template = "withdrawals/admin/counter_start.html"
    counter_title = gettext_lazy("窗口代办提取申请")
    counter_done = gettext_lazy("申请已创建，请上传材料后代为提交。")

    def counter_form_options(self, request):
        return {"regions": regions_of(request.user)}

    def lodge_at_counter(self, request, data):
        return services.start_counter_withdrawal(clerk=request.user, **data)

    def receipt_paper(self, application, kind):
        return receipt_paper(application, kind)
