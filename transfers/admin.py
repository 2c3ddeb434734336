"""The two transfer desks: the new region accepts and transfers in, the old region transfers out.

Clerks of both regions see a transfer; the buttons of a step show only to the region that owns it, and
the services refuse anyone else, so a hand-made request gets no further than a missing button.
"""

from django import forms as django_forms
from django.contrib import admin
from django.db.models import Q
from django.http import Http404
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.access_log import record_access
from accounts.scoping import RegionListFilter, region_ids_of, regions_of
from review.admin import Decision, OverdueFilter, QueueFilter, ReviewDeskAdmin, count_work, noted_decision

from . import forms, services
from .models import ID_CARD_KIND, ID_CARD_LABEL, TransferApplication, awaiting_condition
from .record import receipt_paper
from .views import pdf_response

Status = TransferApplication.Status


# Decisions on one application ---------------------------------------------------------------------


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
    "accept": noted_decision(
        gettext_lazy("受理"), gettext_lazy("已受理，已转交转出地办理转出。"),
        services.accept_transfer, _step(services.ACCEPT_STEP),
    ),
    "transfer-out": noted_decision(
        gettext_lazy("办理转出"), gettext_lazy("已办理转出：信息表已出具，余额已转入在途资金，等待转入地办理转入。"),
        services.transfer_out, _step(services.OUT_STEP),
    ),
    "transfer-in": noted_decision(
        gettext_lazy("办理转入"), gettext_lazy("已办理转入并办结：余额已记入本地个人账户，缴费年限已累计。"),
        services.transfer_in, _step(services.IN_STEP),
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


def region_steps(user):
    """Return [(label, condition, query)] of the steps `user` may take for their regions, by permission."""
    regions = regions_of(user)
    steps = []
    if user.has_perm(services.ACCEPT):
        steps.append((_("转移待受理"), Q(status=Status.SUBMITTED, new_region__in=regions), "status=submitted"))
    if user.has_perm(services.TRANSFER_OUT):
        steps.append((_("转移待转出"), Q(status=Status.ACCEPTED, old_region__in=regions), "status=accepted"))
    if user.has_perm(services.TRANSFER_IN):
        steps.append((
            _("转移待转入"), Q(status=Status.TRANSFERRED_OUT, new_region__in=regions), "status=transferred_out"
        ))
    return steps


class AwaitingFilter(admin.SimpleListFilter):
    """The transfers whose next step is one for the user's own region, whoever in it takes it."""

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
class TransferApplicationAdmin(ReviewDeskAdmin):
    access_label = gettext_lazy("转移申请详情")
    list_display = [
        "number", "applicant_masked", "route", "status", "deadline", "days_left", "overdue",
    ]
    list_filter = [
        # The user's own regions: offering only the regions that occur would read every transfer to find them.
        QueueFilter, "status", AwaitingFilter, OverdueFilter,
        ("old_region", RegionListFilter), ("new_region", RegionListFilter),
        "province_wide",
    ]
    list_select_related = ["applicant", "old_region", "new_region"]
    search_help_text = gettext_lazy("按申请编号或申请人身份证号码精确查找。")
    decisions = DECISIONS
    refusals = services.REFUSALS
    deadline_fields = ("transfer_out_due", "transfer_in_due")
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
        return queryset.concerning(region_ids_of(request.user))

    def my_queue(self, request):
        condition = Q(pk__in=[])
        for _label, step, _query in region_steps(request.user):
            condition |= step
        return condition

    def work(self, request):
        return count_work(request, self, region_steps(request.user))

    def material_labels(self, application):
        return {ID_CARD_KIND: ID_CARD_LABEL}

    def people_of(self, application):
        return [application.applicant_id]

    @admin.display(description=gettext_lazy("转出地 → 转入地"))
    def route(self, obj):
        return f"{obj.old_region.name} → {obj.new_region.name}"

    @admin.display(description=gettext_lazy("待办理方"))
    def awaiting(self, obj):
        side = obj.awaiting_side
        if not side:
            return _("申请人") if obj.status == Status.RETURNED else "—"
        return f"{TransferApplication.Side(side).label}（{obj.region_of(side).name}）"

    # Pages --------------------------------------------------------------------------------------

    def get_urls(self):
        record = self.admin_site.admin_view(self.record_view)
        return [
            path("<path:object_id>/record.pdf", record, name="transfers_record_pdf"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Show the transfer with the steps the user's region may take now; 404 outside both regions."""
        application = self.scoped_application(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "condition_refusal": services.current_refusal(application),
            "checks_conditions": application.status in (Status.SUBMITTED, Status.ACCEPTED, Status.RETURNED),
            "record_url": reverse("admin:transfers_record_pdf", args=[application.pk])
            if application.has_record else "",
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def decision_context(self, request, application):
        return {"condition_refusal": services.current_refusal(application)}

    def record_view(self, request, object_id):
        """Send the information form as a PDF to staff of either region, once it exists."""
        application = self.scoped_application(request, object_id)
        if not application.has_record:
            raise Http404
        record_access(
            request=request, person_ids=[application.applicant_id], what=_("转移信息表（PDF）"),
            reference=application.number,
        )
        return pdf_response(application)

    # The counter -------------------------------------------------------------------------------

    counter_form = forms.CounterApplyForm
    counter_template = "transfers/admin/counter_apply.html"
    counter_title = gettext_lazy("窗口代办转移接续申请")
    counter_done = gettext_lazy("转移申请已提交，等待转入地受理。")

    def receipt_paper(self, application, kind):
        return receipt_paper(application, kind)

    def lodge_at_counter(self, request, data):
        return services.apply_at_counter(
            clerk=request.user, applicant_id_number=data["applicant_id_number"],
            old_region=data["old_region"], new_region=data["new_region"], reason=data["reason"],
            reason_note=data["reason_note"], id_card=data["id_card"],
        )
