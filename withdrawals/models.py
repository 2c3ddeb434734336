"""Withdrawal reasons (a table staff keep) and withdrawal applications with their status mapping."""

from django.conf import settings
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from accounts.identity import mask_digits, mask_name, validate_id_number
from accounts.models import money_field
from review.models import Application

# A proxy acting for a citizen at the counter brings a signed authorisation; it is never required online.
AUTHORISATION_KIND = "authorisation"
AUTHORISATION_LABEL = _("委托书（代办人办理时提供）")
# The proxy's own ID card, which the clerk checks and keeps a scan of beside the authorisation.
PROXY_ID_CARD_KIND = "proxy_id_card"
PROXY_ID_CARD_LABEL = _("代办人身份证")


class WithdrawalReasonQuerySet(models.QuerySet):
    def offered_in(self, region):
        """Return the enabled reasons that apply in `region`; a reason naming no region applies in all."""
        restricted = WithdrawalReason.regions.through.objects.filter(withdrawalreason_id=OuterRef("pk"))
        applies = ~Exists(restricted)
        if region is not None:
            applies |= Exists(restricted.filter(region_id=region.pk))
        return self.filter(applies, enabled=True)

    def offered_in_any(self, regions):
        """Return the enabled reasons that apply in at least one of `regions` (a queryset of regions)."""
        restricted = WithdrawalReason.regions.through.objects.filter(withdrawalreason_id=OuterRef("pk"))
        return self.filter(~Exists(restricted) | Exists(restricted.filter(region__in=regions)), enabled=True)


class WithdrawalReason(models.Model):
    """A reason the balance may be withdrawn for, and the materials it needs."""

    class AppliedBy(models.TextChoices):
        HOLDER = "holder", _("参保人本人")
        HEIR = "heir", _("继承人")

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("提取原因"), max_length=60)
    applied_by = models.CharField(_("申请人"), max_length=10, choices=AppliedBy, default=AppliedBy.HOLDER)
    enabled = models.BooleanField(_("启用"), default=True, help_text=_("停用后参保人不能再选择此原因。"))
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=0)
    help_text = models.TextField(_("办理说明"), blank=True, help_text=_("参保人选择此原因时看到的说明。"))
    # A local rule (such as 长期异地居住) is switched on for the regions whose policy allows it.
    regions = models.ManyToManyField(
        "accounts.Region", blank=True, related_name="withdrawal_reasons", verbose_name=_("适用统筹区"),
        help_text=_("适用统筹区，留空表示全部统筹区。"),
    )

    history = HistoricalRecords(m2m_fields=[regions])

    objects = WithdrawalReasonQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "id"]
        verbose_name = _("提取原因")
        verbose_name_plural = _("提取原因")

    def __str__(self):
        return self.name

    @property
    def is_for_heirs(self):
        return self.applied_by == self.AppliedBy.HEIR

    def applies_in(self, region):
        """Return whether the reason may be used for an account of `region`."""
        return not self.regions.exists() or self.regions.filter(pk=region.pk).exists()

    def material_kinds(self):
        """Return what the reason asks for, as stored on a new application: [{code, label, required}]."""
        return [
            {"code": req.code, "label": req.label, "required": req.required}
            for req in self.requirements.all()
        ]


class MaterialRequirement(models.Model):
    """One kind of material a reason needs (or accepts, when not required)."""

    reason = models.ForeignKey(
        WithdrawalReason, models.CASCADE, related_name="requirements", verbose_name=_("提取原因")
    )
    code = models.SlugField(_("材料代码"), max_length=40, help_text=_("英文小写字母、数字和下划线。"))
    label = models.CharField(_("材料名称"), max_length=80)
    required = models.BooleanField(_("必须提供"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["sort_order", "id"]
        verbose_name = _("所需材料")
        verbose_name_plural = _("所需材料")
        constraints = [
            models.UniqueConstraint(fields=["reason", "code"], name="one_requirement_per_reason_and_kind"),
            models.CheckConstraint(
                condition=~Q(code=AUTHORISATION_KIND), name="requirement_code_not_authorisation"
            ),
        ]

    def __str__(self):
        return self.label


def overdue_condition(today=None):
    """Return the condition of an application whose next deadline has passed."""
    return Q(next_due__lt=today or timezone.localdate())


class WithdrawalQuerySet(models.QuerySet):
    def overdue(self, today=None):
        """Return the applications whose next deadline has passed."""
        return self.filter(overdue_condition(today))


class WithdrawalApplication(Application):
    """An application to withdraw the whole balance of a personal account (个人账户余额提取)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        SUBMITTED = "submitted", _("已提交（待受理）")
        FIRST_REVIEWED = "first_reviewed", _("初审通过（待复核）")
        APPROVED = "approved", _("复核通过")
        PAID = "paid", _("已到账")
        RETURNED = "returned", _("退回补正")
        REFUSED = "refused", _("不予受理")
        CANCELLED = "cancelled", _("已撤销")
        BANK_RETURNED = "bank_returned", _("银行退回")

    class HeirRelation(models.TextChoices):
        SPOUSE = "spouse", _("配偶")
        CHILD = "child", _("子女")
        PARENT = "parent", _("父母")
        SIBLING = "sibling", _("兄弟姐妹")
        GRANDPARENT = "grandparent", _("祖父母、外祖父母")
        GRANDCHILD = "grandchild", _("孙子女、外孙子女")
        OTHER = "other", _("其他继承人")

    # Payment can fail at the bank before or after staff confirmed it; either way the approval is
    # reversed, the account reopened, and the citizen applies again with a correct bank account.
    TRANSITIONS = {
        Status.DRAFT: (Status.SUBMITTED, Status.CANCELLED),
        Status.SUBMITTED: (Status.FIRST_REVIEWED, Status.RETURNED, Status.REFUSED, Status.CANCELLED),
        Status.RETURNED: (Status.SUBMITTED, Status.CANCELLED),
        Status.FIRST_REVIEWED: (Status.APPROVED, Status.RETURNED, Status.REFUSED),
        Status.APPROVED: (Status.PAID, Status.BANK_RETURNED),
        Status.PAID: (Status.BANK_RETURNED,),
        Status.REFUSED: (),
        Status.CANCELLED: (),
        Status.BANK_RETURNED: (),
    }
    NUMBER_PREFIX = "W"
    OPEN = (Status.DRAFT, Status.SUBMITTED, Status.RETURNED, Status.FIRST_REVIEWED, Status.APPROVED)
    EDITABLE = (Status.DRAFT, Status.RETURNED)
    MATERIAL_STATUSES = EDITABLE
    AWAITING_PAYMENT = (Status.SUBMITTED, Status.FIRST_REVIEWED, Status.APPROVED)
    # Where an application ends: its 办结凭证 can be printed.
    ENDED = (Status.PAID, Status.REFUSED, Status.CANCELLED, Status.BANK_RETURNED)
    DEADLINE_FIELDS = {
        Status.SUBMITTED: "first_review_due",
        Status.FIRST_REVIEWED: "payment_due",
        Status.APPROVED: "payment_due",
    }

    status = models.CharField(_("状态"), max_length=20, choices=Status, default=Status.DRAFT, db_index=True)
    reason = models.ForeignKey(
        WithdrawalReason, models.PROTECT, related_name="applications", verbose_name=_("提取原因")
    )
    account = models.ForeignKey(
        "accounts.Account", models.PROTECT, related_name="withdrawals", verbose_name=_("个人账户")
    )
    holder = models.ForeignKey(
        "accounts.Person",
        models.PROTECT,
        related_name="withdrawals_as_holder",
        verbose_name=_("账户持有人"),
        help_text=_("参保人死亡的，为已故参保人；申请人为其继承人。"),
    )
    heir_relation = models.CharField(
        _("与参保人关系"), max_length=20, choices=HeirRelation, blank=True
    )
    proxy_name = models.CharField(_("代办人姓名"), max_length=50, blank=True)
    proxy_id_number = models.CharField(
        _("代办人身份证号码"), max_length=18, blank=True, validators=[validate_id_number]
    )
    # What the reason asked for when the application was opened: later edits to the reason change
    # neither what this application needs nor how its files are named.
    material_kinds = models.JSONField(_("所需材料"), default=list, blank=True, editable=False)
    bank_name = models.CharField(_("开户银行"), max_length=60)
    bank_account_number = models.CharField(_("银行账号"), max_length=32)
    bank_account_holder = models.CharField(_("银行账户户名"), max_length=50)
    amount = money_field(_("提取金额（元）"), null=True, blank=True)
    first_review_due = models.DateField(_("初审期限"), null=True, blank=True)
    payment_due = models.DateField(_("到账期限"), null=True, blank=True)
    first_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("初审人"),
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("复核人"),
    )
    counter_clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("窗口代办经办人"),
    )
    missing_kinds = models.JSONField(_("需补正的材料"), default=list, blank=True)
    return_note = models.TextField(_("补正说明"), blank=True)
    returned_at = models.DateTimeField(_("退回补正时间"), null=True, blank=True)
    refusal_reason = models.TextField(_("不予受理原因"), blank=True)
    declaration_accepted = models.BooleanField(_("已承诺材料真实"), default=False)
    declaration_accepted_at = models.DateTimeField(_("承诺时间"), null=True, blank=True)
    approval_journal = models.OneToOneField(
        "accounts.JournalTransaction", models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("复核划转交易"),
    )
    payout_journal = models.OneToOneField(
        "accounts.JournalTransaction", models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("支付交易"),
    )
    payout_reversal_journal = models.OneToOneField(
        "accounts.JournalTransaction", models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("支付冲正交易"),
    )
    approval_reversal_journal = models.OneToOneField(
        "accounts.JournalTransaction", models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("划转冲正交易"),
    )
    voucher_number = models.CharField(_("银行流水号"), max_length=40, blank=True)
    paid_on = models.DateField(_("到账日期"), null=True, blank=True)
    bank_return_reason = models.CharField(_("银行退回原因"), max_length=200, blank=True)

    # Bank details may change while the application is a draft or returned; history keeps each version.
    history = HistoricalRecords()

    objects = WithdrawalQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("提取申请")
        verbose_name_plural = _("提取申请")
        permissions = [
            ("review_withdrawal", _("初审提取申请")),
            ("approve_withdrawal", _("复核提取申请")),
            ("pay_withdrawal", _("确认提取款到账")),
        ]
        indexes = [
            models.Index(fields=["region", "status"], name="withdrawal_region_status"),
            # The desk's queue: a region's applications waiting on staff, the earliest deadline first.
            models.Index(
                fields=["region", "next_due"], name="withdrawal_queue", condition=Q(next_due__isnull=False)
            ),
            # The latest running deadline of any staff's regions (the desk's holiday warning), read backwards.
            models.Index(fields=["next_due"], name="withdrawal_next_due", condition=Q(next_due__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(status__in=["draft", "submitted", "returned", "first_reviewed", "approved"]),
                name="one_open_withdrawal_per_account",
                violation_error_message=_("该账户已有办理中的提取申请。"),
            ),
            models.CheckConstraint(
                condition=Q(approver__isnull=True) | Q(first_reviewer__isnull=True)
                | ~Q(approver=F("first_reviewer")),
                name="withdrawal_approver_is_not_first_reviewer",
                violation_error_message=_("复核须由初审以外的人员办理。"),
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0), name="withdrawal_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(submitted_at__isnull=True) | Q(declaration_accepted=True),
                name="submitted_withdrawal_has_declaration",
            ),
            models.CheckConstraint(
                condition=Q(proxy_name="", proxy_id_number="")
                | (~Q(proxy_name="") & ~Q(proxy_id_number="") & Q(counter_clerk__isnull=False)),
                name="withdrawal_proxy_complete_and_at_the_counter",
            ),
        ]

    @property
    def is_open(self):
        return self.status in self.OPEN

    @property
    def is_editable(self):
        return self.status in self.EDITABLE

    @property
    def can_be_cancelled(self):
        return self.can_move_to(self.Status.CANCELLED)

    @property
    def masked_bank_account_number(self):
        return mask_digits(self.bank_account_number, keep=4)

    @property
    def masked_applicant_name(self):
        return mask_name(self.applicant.name)

    @property
    def is_for_heir(self):
        return self.holder_id != self.applicant_id

    @property
    def is_at_counter(self):
        return self.counter_clerk_id is not None

    @property
    def masked_proxy_name(self):
        return mask_name(self.proxy_name)

    @property
    def pending_deadlines(self):
        """Return (label, date) of each step still to come: first review and payment, or payment only."""
        if self.status == self.Status.SUBMITTED:
            return [(_("初审期限"), self.first_review_due), (_("到账期限"), self.payment_due)]
        if self.status in (self.Status.FIRST_REVIEWED, self.Status.APPROVED):
            return [(_("到账期限"), self.payment_due)]
        return []

    @property
    def next_due_label(self):
        if self.status == self.Status.SUBMITTED:
            return _("初审期限")
        return _("到账期限")

    def bank_account_number_for(self, user):
        """Show the full number only to those who approve; everyone else sees the last four digits."""
        if user.has_perm("withdrawals.approve_withdrawal"):
            return self.bank_account_number
        return self.masked_bank_account_number
