"""Admin for bindings, quota top-ups and premiums paid for relatives.

A binding concerns two regions, the payer's and the relative's: the clerks of either see it. Bindings change
only through sharing.bindings (a counter binding, an ending, the return of a held quota), never by editing.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.access_log import RecordsDataAccess, record_id_number_search
from accounts.admin import ReadOnlyAdmin, ReadOnlyInline, admin_link
from accounts.scoping import RegionListFilter, regions_of
from accounts.services import ServiceError
from review.admin import MaterialInline

from .. import bindings, forms
from ..models import Binding, PremiumPayment, QuotaTopUp, SettlementPayment


def limit_to_either_region(queryset, user, *lookups):
    """Return the rows of `queryset` where any of `lookups` (paths to a Region) is a region `user` serves."""
    if user.is_active and user.is_superuser:
        return queryset
    regions = regions_of(user)
    served = Q()
    for lookup in lookups:
        served |= Q(**{f"{lookup}__in": regions})
    return queryset.filter(served)


def exact_id_number_search(queryset, search_term, *lookups):
    """Match a full ID number exactly: a LIKE on ID numbers serves no index and finds people by fragments."""
    term = search_term.strip().upper()
    if not term:
        return queryset
    condition = Q()
    for lookup in lookups:
        condition |= Q(**{lookup: term})
    return queryset.filter(condition)


def masked(person):
    return f"{person.masked_name}（{person.masked_id_number}）"


class TopUpInline(ReadOnlyInline, admin.TabularInline):
    model = QuotaTopUp
    fields = ("created_at", "amount", "journal")
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("额度划拨记录")


class PremiumInline(ReadOnlyInline, admin.TabularInline):
    model = PremiumPayment
    fields = ("created_at", "kind", "year", "amount", "journal")
    readonly_fields = fields


class PaymentInline(ReadOnlyInline, admin.TabularInline):
    model = SettlementPayment
    fields = ("settlement", "institution", "category", "settled_at", "account", "amount", "state")
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("医药费支付记录")

    def get_queryset(self, request):
        # A direct binding pays from the payer's personal account, whose name is its holder's.
        return super().get_queryset(request).select_related(
            "settlement__institution", "account__region", "account__enrolment__person"
        )

    @admin.display(description=gettext_lazy("机构"))
    def institution(self, payment):
        return payment.settlement.institution.name

    @admin.display(description=gettext_lazy("类别"))
    def category(self, payment):
        return payment.settlement.get_category_display()

    @admin.display(description=gettext_lazy("结算时间"))
    def settled_at(self, payment):
        return payment.settlement.created_at

    @admin.display(description=gettext_lazy("状态"))
    def state(self, payment):
        return payment.settlement.get_status_display()


class BindingMaterialInline(MaterialInline):
    """The signed promise or authorisation of a counter binding."""

    verbose_name_plural = gettext_lazy("承诺书、委托书")


class QuotaHeldFilter(admin.SimpleListFilter):
    title = gettext_lazy("共济额度")
    parameter_name = "quota"

    def lookups(self, request, model_admin):
        return [("held", _("已结束但额度待退回"))]

    def queryset(self, request, queryset):
        if self.value() == "held":
            return queryset.exclude(status__in=[Binding.Status.PENDING, Binding.Status.ACTIVE]).filter(
                quota_account__balance__gt=0
            )
        return queryset


@admin.register(Binding)
class BindingAdmin(RecordsDataAccess, admin.ModelAdmin):
    access_label = gettext_lazy("家庭共济绑定详情")
    list_display = (
        "number", "payer_masked", "relative_masked", "relation", "way", "status", "region", "relative_region",
        "requested_at", "quota_balance",
    )
    list_display_links = ("number", "payer_masked")
    list_filter = (
        "status", "way", "relation", QuotaHeldFilter, ("region", RegionListFilter),
        ("relative_region", RegionListFilter),
    )
    list_select_related = ("payer", "relative", "region", "relative_region", "quota_account")
    # The box is shown for a non-empty search_fields; get_search_results below does the matching.
    search_fields = ("=payer__id_number",)
    search_help_text = gettext_lazy("输入共济人或被共济人的完整18位身份证号码。")
    fieldsets = (
        (None, {"fields": ("number", "status", "payer_full", "relative_full", "relation", "way", "region",
                           "relative_region", "priority")}),
        (gettext_lazy("确认"), {"fields": ("consent", "promise", "created_by", "requested_at", "expires_at",
                                         "started_at")}),
        (gettext_lazy("额度"), {"fields": ("quota_account_link", "quota_balance", "quota_state")}),
        (gettext_lazy("结束"), {"fields": ("ended_at", "end_reason", "end_note", "ended_by")}),
    )
    readonly_fields = (
        "number", "status", "payer_full", "relative_full", "relation", "way", "region", "relative_region",
        "priority", "consent", "promise", "created_by", "requested_at", "expires_at", "started_at",
        "quota_account_link", "quota_balance", "quota_state", "ended_at", "end_reason", "end_note",
        "ended_by",
    )
    inlines = [TopUpInline, PremiumInline, PaymentInline, BindingMaterialInline]
    change_form_template = "sharing/admin/change_form.html"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return limit_to_either_region(queryset, request.user, "region", "relative_region")

    def get_search_results(self, request, queryset, search_term):
        """Find by the full ID number of either side, or by binding number, always by equality."""
        term = search_term.strip().upper()
        lookups = ["payer__id_number", "relative__id_number"]
        if term.startswith("B") and term[1:].isdigit():
            return queryset.filter(pk=int(term[1:])), False
        found = exact_id_number_search(queryset, term, *lookups)
        record_id_number_search(request=request, term=term, found=found)
        return found, False

    def people_of(self, binding):
        return [binding.payer_id, binding.relative_id]

    # Bindings change only through the services: at the counter, by ending, by returning a quota.
    def has_add_permission(self, request):
        return request.user.has_perm(bindings.BIND_AT_COUNTER)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("编号"), ordering="pk")
    def number(self, binding):
        return binding.number

    @admin.display(description=gettext_lazy("共济人"), ordering="payer__name")
    def payer_masked(self, binding):
        return masked(binding.payer)

    @admin.display(description=gettext_lazy("被共济人"), ordering="relative__name")
    def relative_masked(self, binding):
        return masked(binding.relative)

    @admin.display(description=gettext_lazy("共济人"))
    def payer_full(self, binding):
        return admin_link(binding.payer, f"{binding.payer.name}（{binding.payer.id_number}）")

    @admin.display(description=gettext_lazy("被共济人"))
    def relative_full(self, binding):
        return admin_link(binding.relative, f"{binding.relative.name}（{binding.relative.id_number}）")

    @admin.display(description=gettext_lazy("额度余额（元）"), ordering="quota_account__balance")
    def quota_balance(self, binding):
        return binding.quota_account.balance if binding.quota_account_id else "—"

    @admin.display(description=gettext_lazy("额度账户"))
    def quota_account_link(self, binding):
        return admin_link(binding.quota_account) if binding.quota_account_id else "—"

    @admin.display(description=gettext_lazy("额度情况"))
    def quota_state(self, binding):
        if binding.quota_awaiting_return:
            return _("共济已结束，额度待退回：共济人的个人账户目前不能入账。账户恢复正常后点“退回保留的额度”。")
        return "—"

    # Pages --------------------------------------------------------------------------------------

    def get_urls(self):
        end = self.admin_site.admin_view(self.end_view)
        give_back = self.admin_site.admin_view(self.return_quota_view)
        return [
            path("<path:object_id>/end/", end, name="sharing_binding_end"),
            path("<path:object_id>/return-quota/", give_back, name="sharing_binding_return_quota"),
            *super().get_urls(),
        ]

    def _scoped_binding(self, request, object_id):
        # Another region's binding answers 404, as if it did not exist.
        binding = self.get_object(request, unquote(object_id))
        if binding is None:
            raise Http404
        return binding

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Show the binding with the steps the clerk may take; 404 outside the clerk's regions."""
        binding = self._scoped_binding(request, object_id)
        buttons = []
        if request.user.has_perm(bindings.END_BINDING):
            if binding.is_active:
                buttons.append(
                    {"label": _("解除共济"), "url": reverse("admin:sharing_binding_end", args=[binding.pk])}
                )
            if binding.quota_awaiting_return:
                buttons.append({
                    "label": _("退回保留的额度"),
                    "url": reverse("admin:sharing_binding_return_quota", args=[binding.pk]),
                })
        extra_context = {**(extra_context or {}), "decision_buttons": buttons}
        return super().change_view(request, object_id, form_url, extra_context)

    def end_view(self, request, object_id):
        """Ask for the reason, then end the binding for staff (the quota goes back to the payer)."""
        binding = self._scoped_binding(request, object_id)
        if not request.user.has_perm(bindings.END_BINDING):
            raise PermissionDenied
        form = forms.StaffEndForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                ended = bindings.end_binding(
                    binding=binding, actor=request.user, reason=Binding.EndReason.STAFF,
                    note=form.cleaned_data["note"],
                )
            except ServiceError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.log_change(request, binding, [{"changed": {"fields": ["status"]}}])
                self.message_user(request, _ended_message(ended), messages.SUCCESS)
                return redirect("admin:sharing_binding_change", binding.pk)
        return self._form_page(request, form, _("解除共济：%(number)s") % {"number": binding.number},
                               "sharing/admin/end.html", original=binding)

    def return_quota_view(self, request, object_id):
        """Return an ended binding's held quota once the payer's account can take it (POST)."""
        binding = self._scoped_binding(request, object_id)
        if not request.user.has_perm(bindings.END_BINDING):
            raise PermissionDenied
        if request.method == "POST":
            try:
                outcome = bindings.return_held_quota(binding=binding, actor=request.user)
            except ServiceError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                if outcome.returned:
                    self.message_user(request, _("已退回 ¥%(amount)s 到共济人的个人账户。") % {
                        "amount": f"{outcome.returned:,.2f}"}, messages.SUCCESS)
                elif outcome.held:
                    self.message_user(request, _("共济人的个人账户仍不能入账（冻结、关闭或已转出），额度继续保留。"
                                                 "请先处理账户状态。"), messages.WARNING)
                else:
                    self.message_user(request, _("额度中已没有余额。"), messages.INFO)
            return redirect("admin:sharing_binding_change", binding.pk)
        return self._form_page(request, None, _("退回保留的额度：%(number)s") % {"number": binding.number},
                               "sharing/admin/return_quota.html", original=binding)

    def add_view(self, request, form_url="", extra_context=None):
        """Bind at the counter for a citizen who cannot use the site; the signed promise is kept."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = forms.CounterBindForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                binding = bindings.bind_at_counter(
                    clerk=request.user, payer_id_number=data["payer_id_number"],
                    relative_name=data["relative_name"], relative_id_number=data["relative_id_number"],
                    relation=data["relation"], way=data["way"], uploaded_file=data["material"],
                )
            except ServiceError as error:
                form.add_error(None, error.message)
            else:
                self.log_addition(request, binding, [{"added": {}}])
                self.message_user(request, _("已办理家庭共济：%(binding)s，立即生效，双方都会收到通知。") % {
                    "binding": binding}, messages.SUCCESS)
                return redirect("admin:sharing_binding_change", binding.pk)
        return self._form_page(request, form, _("窗口代办家庭共济"), "sharing/admin/counter_bind.html")

    def _form_page(self, request, form, title, template, **extra):
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "form": form, "title": title,
            "media": self.media + form.media if form is not None else self.media, **extra,
        }
        return TemplateResponse(request, template, context)


def _ended_message(binding):
    outcome = binding.quota_outcome
    if outcome.returned:
        return _("已解除，未用完的额度 ¥%(amount)s 已退回共济人的个人账户。") % {"amount": f"{outcome.returned:,.2f}"}
    if outcome.held:
        return _("已解除。共济人的个人账户目前不能入账，额度 ¥%(amount)s 暂时保留，账户恢复后请点“退回保留的额度”。") % {
            "amount": f"{outcome.held:,.2f}"}
    return _("已解除，双方都会收到通知。")


class SharingMoneyAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """A read-only list of money a binding moved, scoped to the regions of either side."""

    list_select_related = ("binding__payer", "binding__relative", "binding__region", "journal")
    search_fields = ("=binding__payer__id_number",)
    search_help_text = gettext_lazy("输入共济人或被共济人的完整18位身份证号码。")

    def get_queryset(self, request):
        return limit_to_either_region(
            super().get_queryset(request), request.user, "binding__region", "binding__relative_region"
        )

    def get_search_results(self, request, queryset, search_term):
        lookups = ["binding__payer__id_number", "binding__relative__id_number"]
        return exact_id_number_search(queryset, search_term, *lookups), False

    @admin.display(description=gettext_lazy("共济绑定"))
    def binding_link(self, row):
        return admin_link(row.binding, row.binding.number)

    # Not named `payer` / `relative`: the admin shows a model field of that name (PremiumPayment.relative)
    # in preference to a method, which printed the relative's full name in the list.
    @admin.display(description=gettext_lazy("共济人"))
    def payer_masked(self, row):
        return masked(row.binding.payer)

    @admin.display(description=gettext_lazy("被共济人"))
    def relative_masked(self, row):
        return masked(row.binding.relative)


@admin.register(QuotaTopUp)
class QuotaTopUpAdmin(SharingMoneyAdmin):
    list_display = ("created_at", "binding_link", "payer_masked", "relative_masked", "amount", "journal")
    list_filter = ("created_at", ("binding__region", RegionListFilter))
    fields = ("binding_link", "payer_masked", "relative_masked", "amount", "journal", "created_at")
    readonly_fields = fields


@admin.register(PremiumPayment)
class PremiumPaymentAdmin(SharingMoneyAdmin):
    list_display = (
        "created_at", "binding_link", "payer_masked", "relative_masked", "kind", "year", "amount", "journal",
    )
    list_filter = ("kind", "year", ("binding__relative_region", RegionListFilter))
    fields = (
        "binding_link", "payer_masked", "relative_masked", "kind", "year", "amount", "journal", "created_at",
    )
    readonly_fields = fields
