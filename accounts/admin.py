"""The staff desk for the registry, the accounts and the ledger."""

import copy

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import ActionLocation, helpers
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.auth import admin as auth_admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Q, Subquery
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from simple_history.admin import SimpleHistoryAdmin

from . import credits, policy, services
from .access_log import (
    RecordsDataAccess,
    RecordsStatementLook,
    access_record_csv,
    record_id_number_search,
)
from .identity import mask_digits, mask_id_number, validate_id_number
from .large_lists import LargeListAdmin, people_matching, people_named
from .models import (
    Account,
    PersonalDataAccess,
    SecondFactorReset,
    AccountStatusChange,
    Enrolment,
    JournalTransaction,
    LedgerEntry,
    MonthlyCredit,
    Notice,
    Person,
    PolicyVersion,
    PremiumRate,
    Province,
    Region,
    StaffProfile,
    User,
    citizens_today,
)
from .scoping import RegionListFilter, RegionScopedAdmin, regions_of
from .templatetags.portal import yuan
from .second_factor import reset_second_factor
from .services import ServiceError

# The session key naming the person a clerk has just added, whose ID number the enrolment form may prefill.
JUST_ADDED_PERSON = "accounts_just_added_person"
BOTH_LOCATIONS = [ActionLocation.CHANGE_LIST, ActionLocation.CHANGE_FORM]
CHANGE_FORM_ACTION_FIELD = f"{ActionLocation.CHANGE_FORM.value}-action"


# Forms ----------------------------------------------------------------------------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), max_length=200, widget=forms.TextInput(attrs={"size": 60}))


class StopEnrolmentForm(forms.Form):
    ended_on = forms.DateField(
        label=_("停保日期"),
        initial=timezone.localdate,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class PersonAdminForm(forms.ModelForm):
    """A registry record; the ID number is stored as the standard writes it, with a capital X."""

    class Meta:
        model = Person
        fields = ["name", "id_number", "phone", "card_number", "died_on"]

    def clean_id_number(self):
        return self.cleaned_data["id_number"].upper()


class RecordEnrolmentForm(forms.ModelForm):
    """An enrolment an employer or the resident scheme reported, for a person found by ID number."""

    id_number = forms.CharField(
        label=_("身份证号码"),
        max_length=18,
        validators=[validate_id_number],
        help_text=_("参保人须已在登记库中；新人员请先在“参保人员”中新增。"),
    )

    class Meta:
        model = Enrolment
        fields = [
            "region", "insurance_type", "employment", "contribution_base", "contribution_months",
            "started_on",
        ]
        widgets = {"started_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    field_order = ["id_number", *Meta.fields]

    def __init__(self, *args, regions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions
        self.person = None

    def clean_id_number(self):
        id_number = self.cleaned_data["id_number"].upper()
        self.person = Person.objects.filter(id_number=id_number).first()
        if self.person is None:
            raise ValidationError(
                _("登记库中没有这个身份证号码的人员，请先新增参保人员。"), code="unknown_person"
            )
        return id_number

    def service_arguments(self):
        """Return the keyword arguments of services.record_enrolment."""
        return {"person": self.person, **{name: self.cleaned_data[name] for name in self.Meta.fields}}


class EnrolmentChangeForm(forms.ModelForm):
    """The terms a clerk may correct on an enrolment; region, type and status stay as recorded."""

    def clean(self):
        cleaned_data = super().clean()
        # Django skips a constraint when one of its fields is not on the form; the type is read-only here,
        # yet "an in-service employee has a contribution base" must still hold before the database says no.
        candidate = copy.copy(self.instance)
        for name, value in cleaned_data.items():
            setattr(candidate, name, value)
        try:
            candidate.validate_constraints()
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
        return cleaned_data


# Shared admin pieces --------------------------------------------------------------------------------


def confirm_and_apply(model_admin, request, queryset, *, form_class, title, apply, done):
    """Ask for `form_class` on an intermediate page, then call `apply(row, cleaned_data)` on each row."""
    form = form_class(request.POST if "apply" in request.POST else None)
    if not form.is_valid():
        action_field = CHANGE_FORM_ACTION_FIELD if CHANGE_FORM_ACTION_FIELD in request.POST else "action"
        context = {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "opts": model_admin.opts,
            "objects": queryset,
            "form": form,
            "action_field": action_field,
            "action": request.POST[action_field],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "cancel_url": request.get_full_path(),
        }
        return TemplateResponse(request, "admin/accounts/action_confirmation.html", context)
    applied = 0
    for obj in queryset:
        try:
            apply(obj, form.cleaned_data)
        except ServiceError as exc:
            model_admin.message_user(request, f"{obj}：{exc.message}", messages.ERROR)
        else:
            applied += 1
    if applied:
        model_admin.message_user(request, done % {"count": applied}, messages.SUCCESS)
    return None


class HistoryAdmin(SimpleHistoryAdmin):
    """Show who changed a record and what it was before; old versions are read, never restored."""

    def revert_disabled(self, request, obj=None):
        # Restoring an old version would rewrite a status or a policy value behind the services' back.
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """Show an old version read-only."""
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


def money_column(field_name, description):
    """Return an admin column showing the amount in `field_name` as citizens read it: ¥1,234.56."""

    @admin.display(description=description, ordering=field_name)
    def column(self, obj):
        return yuan(getattr(obj, field_name))

    column.__name__ = f"{field_name}_yuan"
    return column


class ReadOnlyAdmin:
    """ModelAdmin or inline mixin for rows only services write: nobody adds, changes or deletes them here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyAdmin):
    """An inline of events or entries, shown to whoever may see the parent row."""

    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return self.admin_site.get_model_admin(self.parent_model).has_view_or_change_permission(request, obj)


class PersonSearchMixin:
    """Search by a person's full ID number or card number, or by name; never by part of an ID number."""

    person_prefix = ""
    search_help_text = _("输入完整的18位身份证号码、医保卡号，或姓名（从姓氏输起）。")

    def get_search_fields(self, request):
        return (f"{self.person_prefix}name",)

    def changelist_view(self, request, extra_context=None):
        # The search box is the way to find a citizen: its exact ID number or card number search is recorded.
        # The same lookups typed into the address (?id_number=...) would escape the record, and a part of a
        # number (?id_number__startswith=...) would find people by fragments.
        identifying = tuple(f"{self.person_prefix}{name}" for name in ("id_number", "card_number", "phone"))
        if any(key.startswith(identifying) for key in request.GET):
            raise PermissionDenied(_("请在搜索框中输入完整的18位身份证号码或医保卡号查找参保人。"))
        return super().changelist_view(request, extra_context)

    def get_search_results(self, request, queryset, search_term):
        """Match a term to the whole ID number or card number, else to the start of the name."""
        term = search_term.strip()
        if not term:
            return queryset, False
        # The person is looked up first by the unique indexes, then the list filters on the id: an OR across
        # the joined person's columns would read every row of the list. A fragment of an ID number finds nobody.
        person = f"{self.person_prefix}pk" if self.person_prefix else "pk"
        people = people_matching(term)
        if people or len(term) == 18:
            found = queryset.filter(**{f"{person}__in": people})
        else:
            found = queryset.filter(**{f"{person}__in": people_named(term)})
        record_id_number_search(request=request, term=term, found=found)
        return found, False


def admin_link(obj, text=None):
    """Return a link to `obj`'s admin change page."""
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text or obj)


# Regions --------------------------------------------------------------------------------------------


@admin.register(Province)
class ProvinceAdmin(RegionScopedAdmin, HistoryAdmin):
    region_lookup = "regions"
    list_display = ("code", "name", "accounts_province_wide")
    fields = ("code", "name", "accounts_province_wide")

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        # Province-wide accounts change how money moves in every region of the province, not only the
        # regions a clerk serves: only a superuser decides that.
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False


class PolicyVersionInline(ReadOnlyInline, admin.TabularInline):
    """A region's versions, newest first: the timeline of what applied from when."""

    model = PolicyVersion
    fields = (
        "effective_from", "standing", "document", "employee_credit_rate", "retiree_monthly_credit",
        "sharing_scope", "max_sharing_relatives", "withdrawal_review_days", "transfer_out_days",
    )
    readonly_fields = fields
    show_change_link = True
    verbose_name_plural = _("政策参数版本（时间线）")

    def get_queryset(self, request):
        return super().get_queryset(request).with_standing(citizens_today())

    @admin.display(description=_("状态"))
    def standing(self, version):
        return version.standing_label


class PremiumRateInline(ReadOnlyInline, admin.TabularInline):
    model = PremiumRate
    fields = ("year", "resident_premium", "ltc_premium", "document")
    readonly_fields = fields
    show_change_link = True


@admin.register(Region)
class RegionAdmin(RegionScopedAdmin, HistoryAdmin):
    region_lookup = "pk"
    list_display = ("code", "name", "province", "current_version")
    list_display_links = ("code", "name")
    list_select_related = ("province",)
    list_filter = ("province",)
    search_fields = ("^code", "name")
    fields = ("code", "name", "province", "new_rows")
    inlines = [PolicyVersionInline, PremiumRateInline]

    def get_queryset(self, request):
        today = citizens_today()
        in_force = PolicyVersion.objects.filter(region=OuterRef("pk"), effective_from__lte=today)
        return super().get_queryset(request).annotate(
            current_since=Subquery(in_force.order_by("-effective_from").values("effective_from")[:1]),
            current_document=Subquery(in_force.order_by("-effective_from").values("document")[:1]),
        )

    def get_readonly_fields(self, request, obj=None):
        # The code and the province identify the region to other systems and in ID numbers.
        identity = () if request.user.is_superuser else ("code", "name", "province")
        return (*identity, "new_rows")

    def get_fields(self, request, obj=None):
        return self.fields if obj is not None else ("code", "name", "province")

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("现行政策参数"))
    def current_version(self, region):
        if region.current_since is None:
            return _("尚无生效版本")
        return f"{region.current_since:%Y-%m-%d}起（{region.current_document}）"

    @admin.display(description=_("新增"))
    def new_rows(self, region):
        versions = reverse("admin:accounts_policyversion_add")
        premiums = reverse("admin:accounts_premiumrate_add")
        return format_html(
            '<a href="{}?region={}">{}</a>　<a href="{}?region={}">{}</a>',
            versions, region.pk, _("新增政策参数版本"), premiums, region.pk, _("新增年度缴费标准"),
        )

    def response_add(self, request, obj, post_url_continue=None):
        """Go on to the new region's first version: until it exists, no rule can be applied there."""
        self.message_user(request, _("已新增统筹区%(region)s，请接着录入其政策参数。") % {"region": obj}, messages.SUCCESS)
        return redirect(f"{reverse('admin:accounts_policyversion_add')}?region={obj.pk}")


class FinalOnceInForceAdmin:
    """ModelAdmin mixin: a row in force is read-only; one not yet in force is changed or withdrawn."""

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or not obj.is_in_force)

    def has_delete_permission(self, request, obj=None):
        # One at a time, from the row's own page, which a row in force does not offer: no bulk delete.
        return obj is not None and not obj.is_in_force and super().has_delete_permission(request, obj)


class PolicyVersionForm(forms.ModelForm):
    """A new or not-yet-effective version; asks to confirm a change to monthly credits before saving it."""

    confirm_credit_change = forms.BooleanField(
        label=_("我已核对：此版本将改变每月划入金额"),
        required=False,
        help_text=_("生效当天，系统会通知每一位划入金额因此改变的参保人（原金额、新金额、生效日期和文件依据）。"),
    )

    class Meta:
        model = PolicyVersion
        fields = ["region", "effective_from", "document", *policy.PARAMETERS]
        widgets = {"effective_from": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def clean_effective_from(self):
        effective_from = self.cleaned_data["effective_from"]
        try:
            policy.check_effective_from(effective_from)
        except ServiceError as error:
            raise ValidationError(error.message, code=error.code) from None
        return effective_from

    def clean(self):
        cleaned_data = super().clean()
        self.credit_warning = ""
        region = cleaned_data.get("region") if self.instance.region_id is None else self.instance.region
        effective_from = cleaned_data.get("effective_from")
        if region is None or effective_from is None:
            return cleaned_data
        candidate = PolicyVersion(
            region=region, **{name: cleaned_data.get(name) for name in policy.PARAMETERS}
        )
        candidate.effective_from = effective_from
        previous = (
            PolicyVersion.objects.filter(region=region, effective_from__lt=effective_from)
            .exclude(pk=self.instance.pk)
            .order_by("-effective_from")
            .first()
        )
        changes = policy.credit_changes(candidate, previous) if previous is not None else []
        if changes:
            self.credit_warning = credit_change_warning(candidate, previous, changes)
            if not cleaned_data.get("confirm_credit_change"):
                self.add_error("confirm_credit_change", f"{self.credit_warning}{_('请核对后勾选确认。')}")
        return cleaned_data


def credit_change_warning(version, previous, changes):
    """The warning a clerk reads before saving a version that changes monthly credits."""
    what = "；".join(
        _("%(label)s由 %(old)s 调整为 %(new)s") % {"label": label, "old": old, "new": new}
        for label, old, new in changes
    )
    return _(
        "此版本将改变每月划入金额：%(what)s，自%(month)s起按新标准划入，涉及本统筹区参保中的职工约 %(count)d 人。"
    ) % {
        "what": what,
        "month": credits.month_words(credits.first_credited_month(version)),
        "count": policy.affected_count(version, previous),
    }


@admin.register(PolicyVersion)
class PolicyVersionAdmin(FinalOnceInForceAdmin, RegionScopedAdmin, HistoryAdmin):
    form = PolicyVersionForm
    list_display = (
        "region", "effective_from", "standing", "document", "employee_credit_rate", "retiree_monthly_credit",
        "sharing_scope",
    )
    list_display_links = ("region", "effective_from")
    list_select_related = ("region",)
    list_filter = (("region", RegionListFilter), "sharing_scope")
    ordering = ("region__code", "-effective_from")
    readonly_fields = ("standing", "created_by", "created_at")
    fieldsets = (
        (None, {"fields": ("region", "effective_from", "document", "standing")}),
        (_("每月划入"), {"fields": ("employee_credit_rate", "retiree_monthly_credit", "confirm_credit_change")}),
        (
            _("家庭共济"),
            {
                "fields": (
                    "sharing_scope", "sharing_scope_since", "max_sharing_relatives", "quota_topup_limit",
                    "quota_topups_per_day", "quota_quiet_from", "quota_quiet_until",
                )
            },
        ),
        (
            _("办理时限"),
            {
                "fields": (
                    "withdrawal_review_days", "withdrawal_payment_days", "transfer_out_days",
                    "transfer_in_days",
                )
            },
        ),
        (_("录入"), {"fields": ("created_by", "created_at")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).with_standing(citizens_today())

    def get_readonly_fields(self, request, obj=None):
        # A version stays in its region; only its parameters and date may change before it takes effect.
        return self.readonly_fields if obj is None else ("region", *self.readonly_fields)

    def get_fieldsets(self, request, obj=None):
        # A new version has no standing yet; one in force has no change left to confirm.
        left_out = {"standing", "created_by", "created_at"} if obj is None else set()
        if obj is not None and obj.is_in_force:
            left_out.add("confirm_credit_change")
        fieldsets = [
            (name, {"fields": [field for field in opts["fields"] if field not in left_out]})
            for name, opts in self.fieldsets
        ]
        return [(name, opts) for name, opts in fieldsets if opts["fields"]]

    def get_changeform_initial_data(self, request):
        """Start from the region's newest version, so a clerk changes only what the new document changes."""
        initial = super().get_changeform_initial_data(request)
        region = regions_of(request.user).filter(pk=request.GET.get("region") or None).first()
        latest = PolicyVersion.objects.filter(region=region).order_by("-effective_from").first()
        if latest is not None:
            initial.update({name: getattr(latest, name) for name in policy.PARAMETERS})
        return initial


    @admin.display(description=_("状态"))
    def standing(self, version):
        return version.standing_label if version.pk else "—"

    def save_model(self, request, obj, form, change):
        names = ("effective_from", "document", *policy.PARAMETERS)
        parameters = {name: form.cleaned_data[name] for name in names}
        if change:
            saved = policy.change_version(version=obj, actor=request.user, **parameters)
        else:
            saved = policy.add_version(region=form.cleaned_data["region"], actor=request.user, **parameters)
        obj.pk = saved.pk
        if form.credit_warning:
            self.message_user(request, form.credit_warning, messages.WARNING)

    def delete_model(self, request, obj):
        policy.withdraw_version(version=obj, actor=request.user)


class PremiumRateForm(forms.ModelForm):
    class Meta:
        model = PremiumRate
        fields = ["region", "year", "resident_premium", "ltc_premium", "document"]

    def clean_year(self):
        year = self.cleaned_data["year"]
        try:
            policy.check_premium_year(year)
        except ServiceError as error:
            raise ValidationError(error.message, code=error.code) from None
        return year


@admin.register(PremiumRate)
class PremiumRateAdmin(FinalOnceInForceAdmin, RegionScopedAdmin, HistoryAdmin):
    form = PremiumRateForm
    list_display = ("region", "year", "resident_premium", "ltc_premium", "document")
    list_select_related = ("region",)
    list_filter = (("region", RegionListFilter), "year")
    ordering = ("region__code", "-year")
    fields = ("region", "year", "resident_premium", "ltc_premium", "document")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("region",)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("year", citizens_today().year + 1)
        return initial


    def delete_model(self, request, obj):
        policy.withdraw_premium_rate(rate=obj, actor=request.user)

    def save_model(self, request, obj, form, change):
        names = ("year", "resident_premium", "ltc_premium", "document")
        values = {name: form.cleaned_data[name] for name in names}
        if change:
            policy.change_premium_rate(rate=obj, actor=request.user, **values)
        else:
            region = form.cleaned_data["region"]
            obj.pk = policy.add_premium_rate(region=region, actor=request.user, **values).pk


# Registry -------------------------------------------------------------------------------------------


class EnrolmentInline(ReadOnlyInline, admin.TabularInline):
    model = Enrolment
    fields = (
        "region", "insurance_type", "status", "employment", "contribution_base", "contribution_months",
        "started_on", "ended_on", "account_link",
    )
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("region", "account")

    @admin.display(description=_("个人账户"))
    def account_link(self, enrolment):
        account = getattr(enrolment, "account", None)
        return admin_link(account, _("余额 ¥%(balance)s") % {"balance": account.balance}) if account else "—"


class EnrolmentFilter(admin.SimpleListFilter):
    """Filter persons by a field of any of their enrolments, with EXISTS.

    The admin's own filter across the to-many path would add DISTINCT to the list, which at a million persons
    makes each load sort them all.
    """

    field = None

    def lookups(self, request, model_admin):
        return Enrolment._meta.get_field(self.field).choices

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        enrolments = Enrolment.objects.filter(person=OuterRef("pk"), **{self.field: self.value()})
        return queryset.filter(Exists(enrolments))


class EnrolmentRegionFilter(EnrolmentFilter):
    title = _("参保地")
    parameter_name = "enrolments__region"
    field = "region"

    def lookups(self, request, model_admin):
        return [(str(region.pk), str(region)) for region in regions_of(request.user)]


class EnrolmentTypeFilter(EnrolmentFilter):
    title = _("险种")
    parameter_name = "enrolments__insurance_type"
    field = "insurance_type"


class EnrolmentStatusFilter(EnrolmentFilter):
    title = _("参保状态")
    parameter_name = "enrolments__status"
    field = "status"


@admin.register(Person)
class PersonAdmin(RecordsDataAccess, PersonSearchMixin, RegionScopedAdmin, HistoryAdmin):
    region_lookup = "enrolments__region"
    access_label = _("参保人员信息")
    form = PersonAdminForm
    list_display = ("masked_id", "name", "active_region", "masked_card_number")
    list_display_links = ("masked_id", "name")
    list_filter = (EnrolmentRegionFilter, EnrolmentTypeFilter, EnrolmentStatusFilter)
    inlines = [EnrolmentInline]

    def get_queryset(self, request):
        # At most one enrolment is active (a database constraint), so the subquery yields one region.
        active = Enrolment.objects.filter(person=OuterRef("pk"), status=Enrolment.Status.ACTIVE)
        return super().get_queryset(request).annotate(
            active_region_name=Subquery(active.values("region__name")[:1])
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "id_number", "phone", "card_number")
        return ("name", "id_number", "sex_and_birth", "phone", "card_number", "died_on", "login", "created_at")

    def get_readonly_fields(self, request, obj=None):
        # A citizen's login name is the ID number, so correcting one is not a field edit.
        return () if obj is None else ("id_number", "sex_and_birth", "login", "created_at")

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False

    def people_of(self, person):
        return [person.pk]

    def access_reference(self, person):
        return ""

    @admin.display(description=_("身份证号码"), ordering="id_number")
    def masked_id(self, person):
        return mask_id_number(person.id_number)

    @admin.display(description=_("医保卡号"), ordering="card_number")
    def masked_card_number(self, person):
        # Card numbers often embed the ID number (the demo ones are "C" + ID), so the list masks them too.
        return mask_digits(person.card_number)

    @admin.display(description=_("当前参保地"), ordering="active_region_name")
    def active_region(self, person):
        return person.active_region_name

    @admin.display(description=_("性别、出生日期"))
    def sex_and_birth(self, person):
        return f"{person.sex_display}，{person.birth_date:%Y-%m-%d}"

    @admin.display(description=_("登录账号"))
    def login(self, person):
        user = getattr(person, "user", None)
        return admin_link(user, _("已注册")) if user else _("未注册")

    def save_model(self, request, obj, form, change):
        """A changed reserved phone goes through the service, which texts the old and the new number."""
        if change and "phone" in form.changed_data:
            new_phone = obj.phone
            obj.phone = form.initial["phone"]
            super().save_model(request, obj, form, change)
            services.change_reserved_phone(person=obj, phone=new_phone, actor=request.user)
        else:
            super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        """Go on to record the new person's enrolment: until then the person is in no region."""
        enrolments = self.admin_site.get_model_admin(Enrolment)
        if IS_POPUP_VAR in request.POST or not enrolments.has_add_permission(request):
            return super().response_add(request, obj, post_url_continue)
        self.message_user(
            request, _("已新增参保人员%(person)s，请接着记录其参保登记。") % {"person": obj}, messages.SUCCESS
        )
        request.session[JUST_ADDED_PERSON] = obj.pk
        return redirect(f"{reverse('admin:accounts_enrolment_add')}?person={obj.pk}")


@admin.register(Enrolment)
class EnrolmentAdmin(RecordsDataAccess, PersonSearchMixin, RegionScopedAdmin, HistoryAdmin):
    access_label = _("参保登记")
    person_prefix = "person__"
    form = EnrolmentChangeForm
    list_display = (
        "person", "region", "insurance_type", "status", "employment", "contribution_base",
        "contribution_months", "started_on", "ended_on",
    )
    list_select_related = ("person", "region")
    list_filter = (("region", RegionListFilter), "insurance_type", "status", "employment")
    fields = (
        "person", "region", "insurance_type", "status", "employment", "contribution_base",
        "contribution_months", "started_on", "ended_on", "account_link",
    )
    # The status moves only through stop_enrolment (and transfers); region and type decide the account.
    readonly_fields = (
        "person", "region", "insurance_type", "status", "started_on", "ended_on", "account_link",
    )
    actions = ["stop_enrolments"]

    def has_delete_permission(self, request, obj=None):
        return False

    def people_of(self, enrolment):
        return [enrolment.person_id]

    @admin.display(description=_("个人账户"))
    def account_link(self, enrolment):
        account = getattr(enrolment, "account", None)
        if account:
            return admin_link(account)
        if enrolment.is_employee:
            return _("已随本人在同一统筹区的新参保登记继续使用")
        return _("无（居民医保不设个人账户）")

    def add_view(self, request, form_url="", extra_context=None):
        """Record an enrolment through the service, which opens an employee's personal account."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = RecordEnrolmentForm(
            request.POST if request.method == "POST" else None,
            regions=regions_of(request.user),
            initial=self._initial_for(request),
        )
        if form.is_valid():
            enrolment = self._record(request, form)
            if enrolment is not None:
                return redirect("admin:accounts_enrolment_change", enrolment.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("记录参保登记"),
            "opts": self.opts,
            "form": form,
        }
        return TemplateResponse(request, "admin/accounts/enrolment/record_enrolment.html", context)

    def _initial_for(self, request):
        person_pk = request.GET.get("person", "")
        # A person with no enrolment belongs to no region, so region scoping cannot guard the full ID
        # number: prefill it only for the person this clerk's own session has just added.
        if not person_pk.isdigit() or int(person_pk) != request.session.get(JUST_ADDED_PERSON):
            return {}
        person = Person.objects.filter(pk=person_pk, enrolments__isnull=True).first()
        return {"id_number": person.id_number} if person else {}

    def _record(self, request, form):
        try:
            enrolment = services.record_enrolment(**form.service_arguments())
        except ServiceError as exc:
            form.add_error(None, exc.message)
            return None
        except ValidationError as exc:
            form.add_error(None, exc.messages)
            return None
        self.log_addition(request, enrolment, [{"added": {}}])
        opened = ""
        if enrolment.kept_account:
            opened = _("，原个人账户（余额 ¥%(balance)s）继续使用") % {"balance": enrolment.account.balance}
        elif enrolment.is_employee:
            opened = _("，已开立个人账户")
        self.message_user(
            request, _("已记录参保登记：%(enrolment)s%(opened)s。") % {"enrolment": enrolment, "opened": opened},
            messages.SUCCESS,
        )
        return enrolment

    @admin.action(description=_("记录停保"), permissions=["change"], location=BOTH_LOCATIONS)
    def stop_enrolments(self, request, queryset):
        return confirm_and_apply(
            self, request, queryset.select_related("person", "region"),
            form_class=StopEnrolmentForm,
            title=_("记录停保"),
            apply=lambda enrolment, data: services.stop_enrolment(
                enrolment=enrolment, ended_on=data["ended_on"]
            ),
            done=_("已记录 %(count)d 条参保登记停保。"),
        )


# Accounts -------------------------------------------------------------------------------------------


class AccountStatusChangeInline(ReadOnlyInline, admin.TabularInline):
    model = AccountStatusChange
    fields = ("created_at", "actor", "from_status", "to_status", "reason")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Account)
class AccountAdmin(RecordsDataAccess, PersonSearchMixin, RegionScopedAdmin, admin.ModelAdmin):
    access_label = _("个人账户")
    person_prefix = "enrolment__person__"
    list_display = ("number", "holder", "kind", "region", "status", "balance_yuan", "hold")
    balance_yuan = money_column("balance", _("余额"))
    list_select_related = ("region", "enrolment__person")
    list_filter = (("region", RegionListFilter), "kind", "status", "hold")
    fields = (
        "number", "kind", "region", "holder", "enrolment", "status", "balance", "hold", "hold_reference",
        "created_at", "ledger",
    )
    readonly_fields = fields
    inlines = [AccountStatusChangeInline]
    actions = ["freeze_accounts", "unfreeze_accounts"]

    # Balances move only through the ledger and the status only through the freeze actions.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_freeze_permission(self, request, obj=None):
        return request.user.has_perm("accounts.freeze_account")

    @admin.display(description=_("账户编号"), ordering="pk")
    def number(self, account):
        return account.pk

    @admin.display(description=_("持有人"))
    def holder(self, account):
        return account.enrolment.person if account.enrolment_id else None

    def people_of(self, account):
        # A personal account; system accounts and quotas belong to no one citizen's record.
        return [account.enrolment.person_id] if account.enrolment_id else []

    @admin.display(description=_("账务明细"))
    def ledger(self, account):
        url = f"{reverse('admin:accounts_ledgerentry_changelist')}?account={account.pk}"
        return format_html('<a href="{}">{}</a>', url, _("查看本账户的全部明细"))

    @admin.action(description=_("冻结账户"), permissions=["freeze"], location=BOTH_LOCATIONS)
    def freeze_accounts(self, request, queryset):
        return confirm_and_apply(
            self, request, queryset.select_related(*self.list_select_related),
            form_class=ReasonForm,
            title=_("冻结账户"),
            apply=lambda account, data: services.freeze_account(
                account=account, actor=request.user, reason=data["reason"]
            ),
            done=_("已冻结 %(count)d 个账户。"),
        )

    @admin.action(description=_("解除冻结"), permissions=["freeze"], location=BOTH_LOCATIONS)
    def unfreeze_accounts(self, request, queryset):
        return confirm_and_apply(
            self, request, queryset.select_related(*self.list_select_related),
            form_class=ReasonForm,
            title=_("解除冻结"),
            apply=lambda account, data: services.unfreeze_account(
                account=account, actor=request.user, reason=data["reason"]
            ),
            done=_("已解除冻结 %(count)d 个账户。"),
        )


# Ledger ---------------------------------------------------------------------------------------------


class LedgerEntryInline(ReadOnlyInline, admin.TabularInline):
    # Every side of a transaction is shown, including another region's transit account: a clerk follows
    # where the money went, and the rows themselves are read-only.
    model = LedgerEntry
    fields = ("account", "amount", "balance_after")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__region", "account__enrolment__person")


@admin.register(JournalTransaction)
class JournalTransactionAdmin(ReadOnlyAdmin, RegionScopedAdmin, admin.ModelAdmin):
    region_lookup = "entries__account__region"
    list_display = ("id", "kind", "description", "created_at", "created_by", "reverses")
    list_select_related = ("created_by__staff_profile", "reverses")
    list_filter = ("kind", "created_at")
    search_fields = ("id__exact",)
    search_help_text = _("输入交易编号。")
    fields = ("kind", "description", "created_at", "created_by", "reverses", "idempotency_key")
    inlines = [LedgerEntryInline]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(RecordsStatementLook, ReadOnlyAdmin, RegionScopedAdmin, admin.ModelAdmin):
    region_lookup = "account__region"
    statement_label = _("个人账户明细")
    list_display = ("id", "transaction", "booked_at", "account", "amount_yuan", "balance_after_yuan")
    list_select_related = ("transaction", "account__region", "account__enrolment__person")
    list_filter = ("transaction__kind", "transaction__created_at", ("account__region", RegionListFilter))
    search_fields = ("transaction__id__exact",)
    search_help_text = _("输入交易编号。")
    fields = ("transaction", "account", "amount", "balance_after")
    amount_yuan = money_column("amount", _("金额"))
    balance_after_yuan = money_column("balance_after", _("记账后余额"))

    @admin.display(description=_("记账时间"), ordering="transaction__created_at")
    def booked_at(self, entry):
        return entry.transaction.created_at


@admin.register(MonthlyCredit)
class MonthlyCreditAdmin(
    RecordsStatementLook, ReadOnlyAdmin, PersonSearchMixin, RegionScopedAdmin, admin.ModelAdmin
):
    region_lookup = "account__region"
    statement_label = _("每月划入记录")
    person_prefix = "person__"
    list_display = ("month", "account", "amount_yuan", "computation")
    amount_yuan = money_column("amount", _("划入金额"))
    list_select_related = ("account__region", "account__enrolment__person", "version")
    list_filter = (("account__region", RegionListFilter), "repeated")
    date_hierarchy = "month"
    fields = (
        "account", "person", "month", "amount", "contribution_base", "rate", "version", "computation",
        "transaction", "repeated",
    )


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin, PersonSearchMixin, RegionScopedAdmin, admin.ModelAdmin):
    region_lookup = "person__enrolments__region"
    person_prefix = "person__"
    list_display = ("created_at", "person", "title", "is_read")
    list_select_related = ("person",)
    list_filter = ("created_at", ("read_at", admin.EmptyFieldListFilter))
    fields = ("person", "title", "body", "link", "created_at", "read_at")

    @admin.display(description=_("已读"), boolean=True)
    def is_read(self, notice):
        return not notice.is_unread


# Logins and staff -----------------------------------------------------------------------------------


class StaffProfileInline(admin.StackedInline):
    model = StaffProfile
    filter_horizontal = ("regions",)
    max_num = 1


class SuperuserOnlyAdmin:
    """Logins and the regions staff serve span every region, so only superusers manage them."""

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(User)
class UserAdmin(RecordsDataAccess, SuperuserOnlyAdmin, auth_admin.UserAdmin):
    access_label = _("登录账号")
    fieldsets = (*auth_admin.UserAdmin.fieldsets, (_("参保人"), {"fields": ("person",)}))
    raw_id_fields = ("person",)
    list_display = ("login_name", "first_name", "last_name", "is_staff", "is_superuser", "is_active")
    # Each row's checkbox is labelled with the user's __str__, which names a clerk from the staff profile.
    list_select_related = ("staff_profile",)
    list_filter = (*auth_admin.UserAdmin.list_filter, ("staff_profile__regions", RegionListFilter))
    # A citizen's login name is the ID number: it is matched whole (below), never by a fragment.
    search_fields = ("first_name", "last_name", "email")
    search_help_text = _("输入完整的登录名（参保人为18位身份证号码）、姓名或电子邮箱。")
    inlines = [StaffProfileInline]
    actions = ["reset_second_factors"]

    def get_inlines(self, request, obj):
        return self.inlines if obj is None or obj.is_staff else []

    @admin.action(description=_("重置身份验证器（手机丢失时）"), permissions=["change"], location=BOTH_LOCATIONS)
    def reset_second_factors(self, request, queryset):
        return confirm_and_apply(
            self, request, queryset.filter(is_staff=True),
            form_class=ReasonForm,
            title=_("重置身份验证器：下次登录时重新绑定，原备用码全部作废"),
            apply=lambda user, data: reset_second_factor(user=user, actor=request.user, reason=data["reason"]),
            done=_("已重置 %(count)d 名工作人员的身份验证器。"),
        )

    def get_search_results(self, request, queryset, search_term):
        """Match the login name exactly and the other fields as Django does."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            found = found | queryset.filter(username__in={term, term.upper()})
            record_id_number_search(request=request, term=term, found=found)
        return found, may_have_duplicates

    def people_of(self, user):
        # A citizen's login names its person; a member of staff's names no citizen.
        return [user.person_id]

    def access_reference(self, user):
        return ""

    @admin.display(description=_("登录名"), ordering="username")
    def login_name(self, user):
        # A citizen's login name is the ID number: masked, as the model's __str__ shows it. A clerk's is shown
        # as it is (__str__ would name the clerk instead).
        return mask_id_number(user.username) if user.person_id else user.username


@admin.register(StaffProfile)
class StaffProfileAdmin(SuperuserOnlyAdmin, admin.ModelAdmin):
    list_display = ("login", "full_name", "staff_number", "region_names")
    list_select_related = ("user",)
    list_filter = (("regions", RegionListFilter),)
    search_fields = ("user__username", "user__first_name")
    raw_id_fields = ("user",)
    filter_horizontal = ("regions",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("regions")

    @admin.display(description=_("登录名"), ordering="user__username")
    def login(self, profile):
        return profile.user.username

    @admin.display(description=_("服务统筹区"))
    def region_names(self, profile):
        return "、".join(region.name for region in profile.regions.all())


# The personal-data access record ----------------------------------------------------------------------


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Superusers and the group 审计人员 search the record by staff member, citizen and day, and export it."""

    list_display = (
        "accessed_at", "staff", "viewer_role", "viewer_regions", "citizen", "what", "reference", "address",
    )
    list_select_related = ("staff__staff_profile", "person")
    list_filter = ("accessed_at", "viewer_role", ("staff", admin.RelatedOnlyFieldListFilter))
    date_hierarchy = "accessed_at"
    search_fields = ("=staff__username",)
    search_help_text = _("输入参保人完整的18位身份证号码，或工作人员的登录名。")
    actions = ["export_csv"]
    fields = list_display

    def get_search_results(self, request, queryset, search_term):
        """An 18-character term is a citizen's ID number, anything else a staff login name; both exactly."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if len(term) == 18:
            return queryset.filter(person__id_number=term.upper()), False
        return queryset.filter(staff__username=term), False

    def has_export_permission(self, request):
        return request.user.has_perm("accounts.export_personaldataaccess")

    @admin.display(description=_("参保人"), ordering="person__name")
    def citizen(self, row):
        return f"{row.person.name}（{row.person.masked_id_number}）"

    @admin.action(description=_("导出所选记录（CSV）"), permissions=["export"])
    def export_csv(self, request, queryset):
        return access_record_csv(queryset.select_related("staff", "person"))


@admin.register(SecondFactorReset)
class SecondFactorResetAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("created_at", "staff", "reset_by", "reason", "devices_removed")
    list_select_related = ("staff__staff_profile", "reset_by__staff_profile")
    list_filter = ("created_at",)
    fields = list_display


# django-otp's own device pages would show every secret key; staff enrol themselves and superusers reset.
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
