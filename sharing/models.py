"""Family sharing (家庭共济): bindings, quotas, premiums paid for a relative, settlements and misuse cases.

Balances live in `accounts`: a binding's quota is an `accounts.Account` of kind QUOTA, and every yuan that
moves here moves through `accounts.ledger.post`. Nothing in this module changes a balance.
"""

import hashlib
import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Account, JournalTransaction, Person, Region, money_field


class Relation(models.TextChoices):
    """The relative's relation to the payer, as the payer declares it (near relatives, 近亲属)."""

    SPOUSE = "spouse", _("配偶")
    PARENT = "parent", _("父母")
    CHILD = "child", _("子女")
    SIBLING = "sibling", _("兄弟姐妹")
    GRANDPARENT = "grandparent", _("祖父母、外祖父母")
    GRANDCHILD = "grandchild", _("孙子女、外孙子女")


# The 2021 list (国办发〔2021〕14号): spouse, parents, children.
NUCLEAR_FAMILY = frozenset({Relation.SPOUSE, Relation.PARENT, Relation.CHILD})
# From 2024 (国办发〔2024〕38号): all near relatives.
CLOSE_RELATIVES = frozenset(Relation)


class BindingQuerySet(models.QuerySet):
    def open(self):
        """Bindings that still count: waiting for consent or in force."""
        return self.filter(status__in=[Binding.Status.PENDING, Binding.Status.ACTIVE])

    def active(self):
        return self.filter(status=Binding.Status.ACTIVE)


class Binding(models.Model):
    """A payer (共济人) sharing their personal account with one near relative (被共济人)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待亲属确认")
        ACTIVE = "active", _("已生效")
        DECLINED = "declined", _("亲属已拒绝")
        EXPIRED = "expired", _("已过期")
        CANCELLED = "cancelled", _("已撤回")
        ENDED = "ended", _("已解除")

    class Way(models.TextChoices):
        DIRECT = "direct", _("直接共济")
        QUOTA = "quota", _("共济额度")

    class Consent(models.TextChoices):
        CONFIRMED = "confirmed", _("亲属本人确认")
        PROMISE = "promise", _("共济人承诺")
        COUNTER = "counter", _("窗口办理")

    class EndReason(models.TextChoices):
        PAYER = "payer", _("共济人解除")
        RELATIVE = "relative", _("被共济人解除")
        STAFF = "staff", _("经办人员解除")
        PAYER_ENROLMENT = "payer_enrolment", _("共济人参保状态变化")
        RELATIVE_ENROLMENT = "relative_enrolment", _("被共济人参保状态变化")

    payer = models.ForeignKey(
        Person, models.PROTECT, related_name="sharing_given", verbose_name=_("共济人")
    )
    relative = models.ForeignKey(
        Person, models.PROTECT, related_name="sharing_received", verbose_name=_("被共济人")
    )
    relation = models.CharField(_("与共济人关系"), max_length=20, choices=Relation)
    way = models.CharField(_("共济方式"), max_length=10, choices=Way, default=Way.DIRECT)
    status = models.CharField(_("状态"), max_length=20, choices=Status, default=Status.PENDING)
    consent = models.CharField(_("确认方式"), max_length=20, choices=Consent, blank=True)
    # The payer's region when the binding was made; the relative's region, for the clerks of both sides.
    region = models.ForeignKey(
        Region, models.PROTECT, related_name="+", verbose_name=_("共济人参保地")
    )
    relative_region = models.ForeignKey(
        Region, models.PROTECT, related_name="+", verbose_name=_("被共济人参保地")
    )
    # The order in which the relative's payers are drawn on at settlement (lower first).
    priority = models.PositiveIntegerField(_("支付顺序"), default=0)
    quota_account = models.OneToOneField(
        Account,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="binding",
        verbose_name=_("共济额度账户"),
    )
    promise = models.TextField(_("承诺内容"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("经办人员"),
        help_text=_("窗口代办时记录经办人员。"),
    )
    requested_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    expires_at = models.DateTimeField(_("确认截止时间"), null=True, blank=True)
    started_at = models.DateTimeField(_("生效时间"), null=True, blank=True)
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    end_reason = models.CharField(_("结束原因"), max_length=30, choices=EndReason, blank=True)
    end_note = models.CharField(_("说明"), max_length=200, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("解除操作人"),
    )

    objects = BindingQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("共济绑定")
        verbose_name_plural = _("共济绑定")
        permissions = [("bind_at_counter", _("窗口代办共济绑定")), ("end_binding", _("解除共济绑定"))]
        constraints = [
            models.UniqueConstraint(
                fields=["payer", "relative"],
                condition=Q(status__in=["pending", "active"]),
                name="one_open_binding_per_pair",
                violation_error_message=_("与这位亲属已有生效或待确认的共济关系。"),
            ),
            models.CheckConstraint(
                condition=~Q(payer=models.F("relative")), name="binding_payer_is_not_relative"
            ),
            models.CheckConstraint(
                condition=Q(way="direct", quota_account__isnull=True)
                | Q(way="quota", quota_account__isnull=False)
                | Q(way="quota", status__in=["pending", "declined", "expired", "cancelled"]),
                name="binding_quota_account_matches_way",
            ),
        ]
        indexes = [
            models.Index(fields=["relative", "status", "priority"], name="binding_relative_order"),
            models.Index(fields=["payer", "status"], name="binding_payer_status"),
        ]

    def __str__(self):
        return _("%(payer)s → %(relative)s（%(relation)s）") % {
            "payer": self.payer.masked_name,
            "relative": self.relative.masked_name,
            "relation": self.get_relation_display(),
        }

    @property
    def is_open(self):
        return self.status in (self.Status.PENDING, self.Status.ACTIVE)

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE

    @property
    def is_pending(self):
        return self.status == self.Status.PENDING

    @property
    def uses_quota(self):
        return self.way == self.Way.QUOTA

    @property
    def number(self):
        """A reference to quote on the phone or at the counter, and the name of downloaded materials."""
        return f"B{self.pk:08d}" if self.pk else ""

    def get_payer_relation_display(self):
        """The payer's relation to the relative (the relative's side of `relation`): 子女 → 父母."""
        return Relation(INVERSE_RELATION[self.relation]).label

    @property
    def quota_held(self):
        """What the quota holds now; None for a direct binding."""
        return self.quota_account.balance if self.quota_account_id else None

    @property
    def quota_awaiting_return(self):
        """True when the binding has ended but its quota could not go back to the payer yet."""
        return not self.is_open and bool(self.quota_account_id) and self.quota_account.balance > 0

    # What review's material machinery asks of the object a material is attached to (a counter binding
    # keeps the signed promise or authorisation): who may download it, and which regions' staff.
    @property
    def applicant_id(self):
        return self.payer_id

    def regions_concerned(self):
        return [self.region_id, self.relative_region_id]

    def accepts_materials(self):
        return self.is_open


# The payer's relation to the relative, given the relative's relation to the payer.
INVERSE_RELATION = {
    Relation.SPOUSE: Relation.SPOUSE,
    Relation.PARENT: Relation.CHILD,
    Relation.CHILD: Relation.PARENT,
    Relation.SIBLING: Relation.SIBLING,
    Relation.GRANDPARENT: Relation.GRANDCHILD,
    Relation.GRANDCHILD: Relation.GRANDPARENT,
}


class QuotaTopUp(models.Model):
    """One addition to a binding's quota; counted for the daily limit."""

    binding = models.ForeignKey(
        Binding, models.PROTECT, related_name="topups", verbose_name=_("共济绑定")
    )
    amount = money_field(_("划拨金额（元）"))
    journal = models.OneToOneField(
        JournalTransaction, models.PROTECT, related_name="+", verbose_name=_("记账凭证")
    )
    created_at = models.DateTimeField(_("划拨时间"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("共济额度划拨")
        verbose_name_plural = _("共济额度划拨")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="quota_topup_positive"),
        ]

    def __str__(self):
        return _("额度划拨 ¥%(amount)s") % {"amount": f"{self.amount:,.2f}"}


class PremiumPayment(models.Model):
    """A relative's yearly contribution paid from the payer's personal account (代缴)."""

    class Kind(models.TextChoices):
        RESIDENT = "resident", _("居民医保个人缴费")
        LONG_TERM_CARE = "ltc", _("长期护理保险个人缴费")

    binding = models.ForeignKey(
        Binding, models.PROTECT, related_name="premiums", verbose_name=_("共济绑定")
    )
    relative = models.ForeignKey(
        Person, models.PROTECT, related_name="premiums_paid_for", verbose_name=_("被共济人")
    )
    kind = models.CharField(_("缴费险种"), max_length=10, choices=Kind)
    year = models.PositiveSmallIntegerField(_("缴费年度"))
    amount = money_field(_("金额（元）"))
    journal = models.OneToOneField(
        JournalTransaction, models.PROTECT, related_name="+", verbose_name=_("记账凭证")
    )
    created_at = models.DateTimeField(_("缴费时间"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("代缴保费")
        verbose_name_plural = _("代缴保费")
        constraints = [
            models.UniqueConstraint(
                fields=["relative", "kind", "year"],
                name="one_premium_per_relative_kind_year",
                violation_error_message=_("这位亲属本年度的该项保费已经缴纳。"),
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="premium_positive"),
        ]

    def __str__(self):
        return _("代缴%(year)s年%(kind)s") % {"year": self.year, "kind": self.get_kind_display()}


def hash_token(token):
    """Institution tokens are long random strings: a plain SHA-256 is enough to keep them unreadable."""
    return hashlib.sha256(token.encode()).hexdigest()


class Institution(models.Model):
    """A designated pharmacy or hospital (定点医药机构) that settles bills through the API."""

    class Kind(models.TextChoices):
        PHARMACY = "pharmacy", _("定点零售药店")
        HOSPITAL = "hospital", _("定点医疗机构")

    code = models.SlugField(_("机构编码"), max_length=40, unique=True)
    name = models.CharField(_("机构名称"), max_length=100)
    kind = models.CharField(_("机构类别"), max_length=10, choices=Kind)
    region = models.ForeignKey(
        Region, models.PROTECT, related_name="institutions", verbose_name=_("所在统筹区")
    )
    is_active = models.BooleanField(_("启用"), default=True)
    amount_limit = money_field(
        _("单笔结算上限（元）"), default=Decimal("50000.00"),
        help_text=_("超过此金额的结算请求一律拒绝（amount_over_limit），以防录入错误或异常请求。"),
    )
    token_hash = models.CharField(_("接口令牌摘要"), max_length=64, unique=True, editable=False)
    token_hint = models.CharField(_("令牌末四位"), max_length=4, blank=True, editable=False)
    token_rotated_at = models.DateTimeField(_("令牌更新时间"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    class Meta:
        ordering = ["code"]
        verbose_name = _("定点医药机构")
        verbose_name_plural = _("定点医药机构")
        permissions = [("rotate_token", _("重置机构接口令牌"))]

    def __str__(self):
        return self.name

    def set_token(self, token=None):
        """Set a new API token and return it; only its hash is kept, so it can be shown once."""
        token = token or secrets.token_urlsafe(32)
        self.token_hash = hash_token(token)
        self.token_hint = token[-4:]
        self.token_rotated_at = timezone.now()
        return token


class Settlement(models.Model):
    """The self-paid part of one bill, settled from personal accounts and quotas; the rest is cash."""

    class Category(models.TextChoices):
        PHARMACY = "pharmacy", _("药店购药")
        OUTPATIENT = "outpatient", _("门诊")
        INPATIENT = "inpatient", _("住院")

    class Status(models.TextChoices):
        SETTLED = "settled", _("已结算")
        REFUNDED = "refunded", _("已退款")

    institution = models.ForeignKey(
        Institution, models.PROTECT, related_name="settlements", verbose_name=_("定点医药机构")
    )
    patient = models.ForeignKey(
        Person, models.PROTECT, related_name="settlements", verbose_name=_("就诊人")
    )
    # The patient's region at settlement, for the clerks' scope.
    region = models.ForeignKey(
        Region, models.PROTECT, related_name="+", verbose_name=_("就诊人参保地")
    )
    idempotency_key = models.CharField(_("幂等键"), max_length=64)
    request_hash = models.CharField(_("请求摘要"), max_length=64)
    amount = money_field(_("个人负担金额（元）"))
    paid = money_field(_("账户支付（元）"))
    cash_due = money_field(_("现金支付（元）"))
    category = models.CharField(_("类别"), max_length=12, choices=Category)
    reference = models.CharField(_("机构单据号"), max_length=64)
    status = models.CharField(_("状态"), max_length=10, choices=Status, default=Status.SETTLED)
    journal = models.OneToOneField(
        JournalTransaction,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("记账凭证"),
    )
    refund_journal = models.OneToOneField(
        JournalTransaction,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("退款凭证"),
    )
    created_at = models.DateTimeField(_("结算时间"), default=timezone.now)
    refunded_at = models.DateTimeField(_("退款时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("结算记录")
        verbose_name_plural = _("结算记录")
        permissions = [("refund_settlement", _("办理结算退款"))]
        indexes = [models.Index(fields=["region", "-created_at"], name="settlement_region_newest")]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "idempotency_key"], name="one_settlement_per_institution_key"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="settlement_amount_positive"),
            models.CheckConstraint(
                condition=Q(paid__gte=0) & Q(cash_due__gte=0) & Q(amount=models.F("paid") + models.F("cash_due")),
                name="settlement_paid_plus_cash_is_amount",
            ),
        ]

    def __str__(self):
        return _("结算 %(id)s") % {"id": self.pk}

    @property
    def is_refunded(self):
        return self.status == self.Status.REFUNDED


class SettlementPayment(models.Model):
    """What one account (the patient's own, a payer's, or a quota) paid towards a settlement."""

    settlement = models.ForeignKey(
        Settlement, models.CASCADE, related_name="payments", verbose_name=_("结算记录")
    )
    position = models.PositiveSmallIntegerField(_("支付顺序"))
    account = models.ForeignKey(
        Account, models.PROTECT, related_name="+", verbose_name=_("支付账户")
    )
    holder = models.ForeignKey(
        Person, models.PROTECT, related_name="settlement_payments", verbose_name=_("账户持有人")
    )
    binding = models.ForeignKey(
        Binding,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        verbose_name=_("共济绑定"),
        help_text=_("由就诊人本人账户支付时为空。"),
    )
    # The payer's relation to the patient as the API names it: self, spouse, father, mother, child, ...
    relation = models.CharField(_("与就诊人关系"), max_length=20)
    amount = money_field(_("金额（元）"))

    class Meta:
        ordering = ["settlement", "position"]
        verbose_name = _("结算支付明细")
        verbose_name_plural = _("结算支付明细")
        constraints = [
            models.UniqueConstraint(fields=["settlement", "position"], name="one_payment_per_position"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="settlement_payment_positive"),
        ]


class MisuseCase(models.Model):
    """A suspected 冒名就医: a card presented for a patient it does not belong to."""

    class Status(models.TextChoices):
        OPEN = "open", _("待核查")
        CONFIRMED = "confirmed", _("已确认")
        DISMISSED = "dismissed", _("已排除")

    institution = models.ForeignKey(
        Institution, models.PROTECT, related_name="misuse_cases", verbose_name=_("定点医药机构")
    )
    patient = models.ForeignKey(
        Person, models.PROTECT, related_name="misuse_cases_as_patient", verbose_name=_("就诊人")
    )
    card_number = models.CharField(_("出示的医保卡号"), max_length=32)
    card_holder = models.ForeignKey(
        Person,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="misuse_cases_as_card_holder",
        verbose_name=_("卡主"),
        help_text=_("卡号不在参保登记中时为空。"),
    )
    region = models.ForeignKey(
        Region, models.PROTECT, related_name="+", verbose_name=_("就诊人参保地")
    )
    amount = money_field(_("申请结算金额（元）"))
    reference = models.CharField(_("机构单据号"), max_length=64)
    # The refused request's Idempotency-Key: a retry of the same request is not recorded twice.
    idempotency_key = models.CharField(_("幂等键"), max_length=64, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status, default=Status.OPEN)
    created_at = models.DateTimeField(_("发生时间"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("核查人员"),
    )
    decided_at = models.DateTimeField(_("核查时间"), null=True, blank=True)
    decision_note = models.CharField(_("核查说明"), max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("疑似冒名就医")
        verbose_name_plural = _("疑似冒名就医")
        permissions = [("decide_misuse", _("核查疑似冒名就医"))]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="one_misuse_case_per_institution_key",
            ),
        ]
        indexes = [models.Index(fields=["region", "status", "-created_at"], name="misuse_region_status")]

    def __str__(self):
        return _("疑似冒名就医 %(id)s") % {"id": self.pk}


class SuspensionQuerySet(models.QuerySet):
    def in_force(self, day):
        """Suspensions that refuse settlements on `day` (the end date is the first day settled again)."""
        return self.filter(starts_on__lte=day, ends_on__gt=day)


class Suspension(models.Model):
    """A person's direct settlement (联网结算) suspended for 3 to 12 months after a confirmed case."""

    person = models.ForeignKey(
        Person, models.PROTECT, related_name="settlement_suspensions", verbose_name=_("暂停对象")
    )
    case = models.ForeignKey(
        MisuseCase, models.PROTECT, related_name="suspensions", verbose_name=_("冒名就医案件")
    )
    months = models.PositiveSmallIntegerField(_("暂停月数"))
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"), help_text=_("当日起恢复联网结算。"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("经办人员")
    )
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now)

    objects = SuspensionQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_on", "-id"]
        verbose_name = _("暂停联网结算")
        verbose_name_plural = _("暂停联网结算")
        constraints = [
            models.CheckConstraint(
                condition=Q(months__gte=3) & Q(months__lte=12), name="suspension_three_to_twelve_months"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gt=models.F("starts_on")), name="suspension_ends_after_start"
            ),
        ]

    def __str__(self):
        return _("%(person)s 暂停联网结算 %(start)s 至 %(end)s") % {
            "person": self.person.masked_name, "start": self.starts_on, "end": self.ends_on,
        }

    def is_in_force(self, day):
        return self.starts_on <= day < self.ends_on
