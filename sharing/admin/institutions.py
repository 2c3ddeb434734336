"""Admin for institutions, settlements, suspected misuse cases and suspensions.

Staff see the rows of their own regions: institutions by where they are, settlements, misuse cases and
suspensions by the patient's region. Every decision calls the service in `sharing.settlement`, as the API
does.
"""

from dataclasses import dataclass

from django import forms
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
from accounts.admin import ReadOnlyAdmin, ReadOnlyInline, admin_link, confirm_and_apply
from accounts.identity import mask_digits, mask_id_number
from accounts.scoping import RegionListFilter, RegionScopedAdmin
from accounts.services import ServiceError
from review.admin import WorkDesk, count_work

from .. import settlement as services
from ..models import Institution, MisuseCase, Settlement, SettlementPayment, Suspension

DESK_CHANGE_FORM = "admin/sharing/institutions_change_form.html"


def masked_person(person):
    """A person as lists show them: 张*（330203********1020）."""
    if person is None:
        return "—"
    return f"{person.masked_name}（{mask_id_number(person.id_number)}）"


def full_person(person):
    """A person as a detail page shows them: 张小雨（330203201506011020）."""
    if person is None:
        return _("卡号不在参保登记中")
    return f"{person.name}（{person.id_number}）"


# A payment's `relation` is the API's English word for the payer seen from the patient; clerks read Chinese.
RELATION_WORDS = {
    "self": gettext_lazy("本人"),
    "father": gettext_lazy("父亲"),
    "mother": gettext_lazy("母亲"),
    "spouse": gettext_lazy("配偶"),
    "child": gettext_lazy("子女"),
    "sibling": gettext_lazy("兄弟姐妹"),
    "grandparent": gettext_lazy("祖父母、外祖父母"),
    "grandchild": gettext_lazy("孙子女、外孙子女"),
}


def relation_words(payment):
    """The payer's relation to the patient in Chinese: father → 父亲."""
    return RELATION_WORDS.get(payment.relation, payment.relation)


@dataclass(frozen=True)
class Button:
    label: str
    url: str


class DeskPagesMixin:
    """Pages outside the admin's own views: found within the user's regions (404 otherwise)."""

    change_form_template = DESK_CHANGE_FORM

    def _scoped_object(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        return obj

    def _page(self, request, template, obj, title, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": obj,
                "title": title,
                **context,
            },
        )

    def buttons(self, request, obj):
        return []

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Show the row with the buttons of the decisions the user may take."""
        obj = self._scoped_object(request, object_id)
        extra_context = {**(extra_context or {}), "desk_buttons": self.buttons(request, obj)}
        return super().change_view(request, object_id, form_url, extra_context)


# Institutions -------------------------------------------------------------------------------------


class InstitutionForm(forms.ModelForm):
    class Meta:
        model = Institution
        fields = ["code", "name", "kind", "region", "is_active", "amount_limit"]


@admin.register(Institution)
class InstitutionAdmin(DeskPagesMixin, RegionScopedAdmin, admin.ModelAdmin):
    form = InstitutionForm
    list_display = ["code", "name", "kind", "region", "is_active", "token_ending", "token_rotated_at"]
    list_select_related = ["region"]
    list_filter = ["kind", "is_active", ("region", RegionListFilter)]
    search_fields = ["^code", "name"]
    search_help_text = gettext_lazy("输入机构编码（开头）或名称。")
    readonly_fields = ["token_ending", "token_rotated_at", "created_at"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["code", "name", "kind", "region", "is_active", "amount_limit"]
        return [
            "code",
            "name",
            "kind",
            "region",
            "is_active",
            "amount_limit",
            "token_ending",
            "token_rotated_at",
            "created_at",
        ]

    def has_delete_permission(self, request, obj=None):
        # Settlements and misuse cases keep pointing at the institution; switch it off instead.
        return False

    def has_rotate_token_permission(self, request):
        return request.user.has_perm(services.ROTATE_TOKEN)

    @admin.display(description=gettext_lazy("令牌末四位"))
    def token_ending(self, institution):
        return f"…{institution.token_hint}" if institution.token_hint else "—"

    def buttons(self, request, institution):
        if not self.has_rotate_token_permission(request):
            return []
        return [
            Button(
                _("重置接口令牌"), reverse("admin:sharing_institution_rotate_token", args=[institution.pk])
            )
        ]

    def get_urls(self):
        rotate = self.admin_site.admin_view(self.rotate_token_view)
        return [
            path("<path:object_id>/rotate-token/", rotate, name="sharing_institution_rotate_token"),
            *super().get_urls(),
        ]

    def save_model(self, request, obj, form, change):
        """Give a new institution its token; only the hash is saved, the token itself is shown once."""
        if not change:
            request.new_institution_token = obj.set_token()
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        """Show the new token on this one page instead of redirecting: it is kept nowhere else."""
        token = getattr(request, "new_institution_token", None)
        if token is None:
            return super().response_add(request, obj, post_url_continue)
        return self._token_page(request, obj, token, _("机构已创建，请保存接口令牌"))

    def rotate_token_view(self, request, object_id):
        """Ask to confirm, then give the institution a new token and show it once."""
        institution = self._scoped_object(request, object_id)
        if not self.has_rotate_token_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            try:
                token = services.rotate_institution_token(institution=institution, actor=request.user)
            except ServiceError as error:
                self.message_user(request, error.message, messages.ERROR)
                return redirect("admin:sharing_institution_change", institution.pk)
            self.log_change(request, institution, _("重置接口令牌"))
            return self._token_page(request, institution, token, _("接口令牌已重置，请保存新令牌"))
        return self._page(
            request,
            "admin/sharing/institution_rotate_token.html",
            institution,
            _("重置接口令牌：%(name)s") % {"name": institution.name},
        )

    def _token_page(self, request, institution, token, title):
        response = self._page(
            request, "admin/sharing/institution_token.html", institution, title, token=token
        )
        # Neither the browser nor a proxy may keep a copy of the one page that shows the token.
        response["Cache-Control"] = "no-store"
        return response


# Settlements --------------------------------------------------------------------------------------


class SettlementPaymentInline(ReadOnlyInline, admin.TabularInline):
    model = SettlementPayment
    fields = ["position", "holder", "relation_display", "account_link", "binding", "amount"]
    readonly_fields = fields

    def get_queryset(self, request):
        # A binding's str() names its payer and relative.
        return (
            super()
            .get_queryset(request)
            .select_related("holder", "account", "binding__payer", "binding__relative")
        )

    @admin.display(description=gettext_lazy("与就诊人关系"))
    def relation_display(self, payment):
        return relation_words(payment)

    @admin.display(description=gettext_lazy("支付账户"))
    def account_link(self, payment):
        return admin_link(payment.account, f"{payment.account.get_kind_display()} #{payment.account.pk}")


class RefundForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("退款原因"),
        max_length=100,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text=gettext_lazy("例如：机构申请撤销结算、重复结算。记入退款凭证摘要。"),
    )


def refund(settlement, actor, reason):
    """Refund through the API's own service; a settlement already refunded is reported, not refunded again."""
    refunded, refunded_now = services.refund_settlement(settlement=settlement, actor=actor, note=reason)
    if not refunded_now:
        raise ServiceError(_("这笔结算此前已经退款。"), code="already_refunded")
    return refunded


class ExactPersonSearch:
    """Search by the full ID number (exactly, never LIKE), a row's number, or a card number."""

    person_fields = ()
    search_help_text = gettext_lazy("输入完整的18位身份证号码、医保卡号或编号。")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q()
        for field in self.person_fields:
            condition |= Q(**{f"{field}__id_number": term.upper()}) | Q(**{f"{field}__card_number": term})
        if term.isdigit() and len(term) < 18:
            condition |= Q(pk=int(term))
        found = queryset.filter(condition)
        record_id_number_search(request=request, term=term, found=found)
        return found, False


@admin.register(Settlement)
class SettlementAdmin(
    RecordsDataAccess, DeskPagesMixin, ExactPersonSearch, ReadOnlyAdmin, RegionScopedAdmin, admin.ModelAdmin
):
    person_fields = ("patient",)
    access_label = gettext_lazy("结算详情")
    list_display = [
        "id",
        "created_at",
        "institution",
        "patient_masked",
        "category",
        "amount",
        "paid",
        "cash_due",
        "status",
    ]
    list_select_related = ["institution", "patient"]
    list_filter = [
        "status",
        "category",
        ("institution", admin.RelatedOnlyFieldListFilter),
        ("region", RegionListFilter),
    ]
    search_fields = ["patient__id_number"]
    fields = [
        "id",
        "institution",
        "patient_full",
        "region",
        "category",
        "reference",
        "amount",
        "paid",
        "cash_due",
        "status",
        "created_at",
        "refunded_at",
        "journal",
        "refund_journal",
        "idempotency_key",
    ]
    readonly_fields = fields
    inlines = [SettlementPaymentInline]
    actions = ["refund_selected"]

    def people_of(self, settlement):
        # The patient, and every relative whose account paid part of the bill.
        payers = SettlementPayment.objects.filter(settlement=settlement).values_list("holder_id", flat=True)
        return [settlement.patient_id, *payers]

    def has_refund_permission(self, request):
        return request.user.has_perm(services.REFUND)

    @admin.display(description=gettext_lazy("就诊人"), ordering="patient__name")
    def patient_masked(self, settlement):
        return masked_person(settlement.patient)

    @admin.display(description=gettext_lazy("就诊人"))
    def patient_full(self, settlement):
        return full_person(settlement.patient)

    def buttons(self, request, settlement):
        if settlement.is_refunded or not self.has_refund_permission(request):
            return []
        return [Button(_("办理退款"), reverse("admin:sharing_settlement_refund", args=[settlement.pk]))]

    def get_urls(self):
        page = self.admin_site.admin_view(self.refund_view)
        return [path("<path:object_id>/refund/", page, name="sharing_settlement_refund"), *super().get_urls()]

    def refund_view(self, request, object_id):
        """Show the settlement and its payments, ask for the reason, then refund it whole."""
        settlement = self._scoped_object(request, object_id)
        if not self.has_refund_permission(request):
            raise PermissionDenied
        form = RefundForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                refund(settlement, request.user, form.cleaned_data["reason"])
            except ServiceError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, _("已退款：款项已退回原支付的账户和共济额度。"), messages.SUCCESS)
                return redirect("admin:sharing_settlement_change", settlement.pk)
        payments = services.payments_of(settlement)
        for payment in payments:
            payment.relation_words = relation_words(payment)
        return self._page(
            request,
            "admin/sharing/settlement_refund.html",
            settlement,
            _("结算退款：%(settlement)s") % {"settlement": settlement},
            form=form,
            payments=payments,
            patient=full_person(settlement.patient),
        )

    @admin.action(description=gettext_lazy("全额退款所选结算"), permissions=["refund"])
    def refund_selected(self, request, queryset):
        return confirm_and_apply(
            self,
            request,
            queryset.select_related(*self.list_select_related),
            form_class=RefundForm,
            title=_("全额退款"),
            apply=lambda settlement, data: refund(settlement, request.user, data["reason"]),
            done=_("已退款 %(count)d 笔结算。"),
        )


# Suspected misuse ---------------------------------------------------------------------------------


class SuspensionInline(ReadOnlyInline, admin.TabularInline):
    model = Suspension
    fields = ["person", "months", "starts_on", "ends_on", "created_by", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("person", "created_by")


class DismissForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("核查说明"),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=gettext_lazy("例如：收银员录错卡号，已与机构核实。"),
    )


class ConfirmForm(DismissForm):
    NOBODY = "none"

    suspend = forms.ChoiceField(
        label=gettext_lazy("暂停联网结算"),
        widget=forms.RadioSelect,
        help_text=gettext_lazy(
            "依据《医疗保障基金使用监督管理条例》，可暂停将本人医保卡（凭证）交由他人冒名使用的卡主联网结算3至12个月；"
            "卡号不在参保登记中时，可暂停就诊人。"
        ),
    )
    months = forms.TypedChoiceField(
        label=gettext_lazy("暂停月数"),
        coerce=int,
        initial=3,
        choices=[(months, _("%(months)d个月") % {"months": months}) for months in services.SUSPENSION_MONTHS],
    )

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, **kwargs)
        self.case = case
        choices = []
        if case.card_holder_id:
            choices.append(("card_holder", _("卡主 %(person)s") % {"person": full_person(case.card_holder)}))
        choices.append(("patient", _("就诊人 %(person)s") % {"person": full_person(case.patient)}))
        choices.append((self.NOBODY, _("不暂停")))
        self.fields["suspend"].choices = choices
        # The one who lent the card by default; the patient when the card is not in the registry.
        self.fields["suspend"].initial = choices[0][0]

    def person_to_suspend(self):
        return {"card_holder": self.case.card_holder, "patient": self.case.patient}.get(
            self.cleaned_data["suspend"]
        )


class InForceFilter(admin.SimpleListFilter):
    title = gettext_lazy("是否在暂停期内")
    parameter_name = "in_force"

    def lookups(self, request, model_admin):
        return [("yes", _("暂停中")), ("no", _("已结束或未开始"))]

    def queryset(self, request, queryset):
        in_force = Suspension.objects.in_force(services.today()).values("pk")
        if self.value() == "yes":
            return queryset.filter(pk__in=in_force)
        if self.value() == "no":
            return queryset.exclude(pk__in=in_force)
        return queryset


@admin.register(MisuseCase)
class MisuseCaseAdmin(
    WorkDesk, DeskPagesMixin, ExactPersonSearch, ReadOnlyAdmin, RegionScopedAdmin, admin.ModelAdmin
):
    person_fields = ("patient", "card_holder")
    list_display = [
        "id",
        "created_at",
        "institution",
        "patient_masked",
        "card_masked",
        "card_holder_masked",
        "amount",
        "region",
        "status",
    ]
    list_select_related = ["institution", "patient", "card_holder", "region"]
    list_filter = ["status", ("region", RegionListFilter), ("institution", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["patient__id_number"]
    fields = [
        "id",
        "status",
        "institution",
        "patient_full",
        "card_number",
        "card_holder_full",
        "region",
        "amount",
        "reference",
        "created_at",
        "decided_by",
        "decided_at",
        "decision_note",
    ]
    readonly_fields = fields
    inlines = [SuspensionInline]

    def has_decide_permission(self, request):
        return request.user.has_perm(services.DECIDE_MISUSE)

    def work(self, request):
        if not self.has_decide_permission(request):
            return []
        queue = [(_("冒名就医待认定"), Q(status=MisuseCase.Status.OPEN), f"status={MisuseCase.Status.OPEN}")]
        return count_work(request, self, queue, deadline=None)

    @admin.display(description=gettext_lazy("就诊人"), ordering="patient__name")
    def patient_masked(self, case):
        return masked_person(case.patient)

    @admin.display(description=gettext_lazy("出示的医保卡号"))
    def card_masked(self, case):
        return mask_digits(case.card_number)

    @admin.display(description=gettext_lazy("卡主"))
    def card_holder_masked(self, case):
        return masked_person(case.card_holder) if case.card_holder_id else _("不在登记中")

    @admin.display(description=gettext_lazy("就诊人"))
    def patient_full(self, case):
        return full_person(case.patient)

    @admin.display(description=gettext_lazy("卡主"))
    def card_holder_full(self, case):
        return full_person(case.card_holder)

    def buttons(self, request, case):
        if case.status != MisuseCase.Status.OPEN or not self.has_decide_permission(request):
            return []
        return [
            Button(_("确认属实"), reverse("admin:sharing_misusecase_decide", args=[case.pk, "confirm"])),
            Button(_("排除"), reverse("admin:sharing_misusecase_decide", args=[case.pk, "dismiss"])),
        ]

    def get_urls(self):
        page = self.admin_site.admin_view(self.decision_view)
        return [
            path("<path:object_id>/decide/<slug:decision>/", page, name="sharing_misusecase_decide"),
            *super().get_urls(),
        ]

    def decision_view(self, request, object_id, decision):
        """Confirm a case (choosing whether and whom to suspend) or dismiss it, with a note."""
        case = self._scoped_object(request, object_id)
        if decision not in ("confirm", "dismiss"):
            raise Http404
        if not self.has_decide_permission(request):
            raise PermissionDenied
        data = request.POST if request.method == "POST" else None
        form = ConfirmForm(data, case=case) if decision == "confirm" else DismissForm(data)
        if request.method == "POST" and form.is_valid():
            try:
                done = self._decide(request, case, decision, form)
            except ServiceError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, done, messages.SUCCESS)
                return redirect("admin:sharing_misusecase_change", case.pk)
        label = _("确认属实") if decision == "confirm" else _("排除")
        return self._page(
            request,
            "admin/sharing/misuse_decision.html",
            case,
            f"{label}：{case}",
            form=form,
            label=label,
            patient=full_person(case.patient),
            card_holder=full_person(case.card_holder),
        )

    def _decide(self, request, case, decision, form):
        note = form.cleaned_data["note"]
        if decision == "dismiss":
            services.dismiss_misuse(case=case, actor=request.user, note=note)
            return _("已排除。")
        person = form.person_to_suspend()
        _case, suspension = services.confirm_misuse(
            case=case,
            actor=request.user,
            note=note,
            suspend=person,
            months=form.cleaned_data["months"] if person else None,
        )
        if suspension is None:
            return _("已确认属实，未暂停联网结算。")
        return _("已确认属实，已暂停%(person)s的联网结算%(months)d个月（至%(end)s），并通知本人。") % {
            "person": suspension.person.name,
            "months": suspension.months,
            "end": services.day_words(suspension.ends_on),
        }


# Suspensions --------------------------------------------------------------------------------------


@admin.register(Suspension)
class SuspensionAdmin(ExactPersonSearch, ReadOnlyAdmin, RegionScopedAdmin, admin.ModelAdmin):
    region_lookup = "case__region"
    person_fields = ("person",)
    list_display = ["person_masked", "months", "starts_on", "ends_on", "in_force", "case_link", "created_by"]
    list_select_related = ["person", "case", "created_by__staff_profile"]
    list_filter = [InForceFilter, ("case__region", RegionListFilter)]
    search_fields = ["person__id_number"]
    fields = ["person_full", "case_link", "months", "starts_on", "ends_on", "created_by", "created_at"]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("暂停对象"), ordering="person__name")
    def person_masked(self, suspension):
        return masked_person(suspension.person)

    @admin.display(description=gettext_lazy("暂停对象"))
    def person_full(self, suspension):
        return full_person(suspension.person)

    @admin.display(description=gettext_lazy("暂停中"), boolean=True)
    def in_force(self, suspension):
        return suspension.is_in_force(services.today())

    @admin.display(description=gettext_lazy("冒名就医案件"))
    def case_link(self, suspension):
        return admin_link(suspension.case)
