import datetime
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ObjectDoesNotExist
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import IntegrityError, models
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .identity import mask_id_number, mask_name, parse_id_number, validate_id_number

ZERO = Decimal("0.00")
# Months and days are the citizens' calendar ones, whatever the host's clock or the settings say.
CITIZENS_TIME_ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")


def money_field(verbose_name, **kwargs):
    """Return a yuan amount field: Decimal with two places."""
    return models.DecimalField(verbose_name, max_digits=14, decimal_places=2, **kwargs)


class Province(models.Model):
    code = models.CharField(
        _("省级代码"), max_length=2, unique=True, validators=[RegexValidator(r"^\d{2}$")]
    )
    name = models.CharField(_("省份"), max_length=30)
    accounts_province_wide = models.BooleanField(
        _("省内个人账户通用"),
        default=False,
        help_text=_("开启后，省内统筹区之间转移接续不划转资金，只变更参保地。"),
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("省份")
        verbose_name_plural = _("省份")

    def __str__(self):
        return self.name


class Region(models.Model):
    """A 统筹区; its policy parameters are dated versions (PolicyVersion) and premium years (PremiumRate)."""

    code = models.CharField(
        _("行政区划代码"),
        max_length=6,
        unique=True,
        validators=[RegexValidator(r"^\d{6}$", _("统筹区代码应为6位数字。"))],
    )
    name = models.CharField(_("名称"), max_length=30)
    province = models.ForeignKey(
        Province, models.PROTECT, related_name="regions", verbose_name=_("省份")
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("统筹区")
        verbose_name_plural = _("统筹区")

    def __str__(self):
        return f"{self.name}（{self.code}）"


# Policy parameters over time ----------------------------------------------------------------------
#
# Every parameter that decides money or a right is kept as a dated version, so that anyone can tell which
# rule applied on any day. A version in force is final: a correction is a new version. PostgreSQL refuses
# the UPDATE or DELETE of such a row with a trigger (migration 0009), as it refuses ledger edits; the model
# and its queryset refuse it the same way on every database, so a mistake never reaches the trigger.


class InForce(IntegrityError):
    """A policy row already in force was to be changed or deleted."""


def citizens_today():
    """Return today's date on the citizens' clock (Asia/Shanghai), whatever the host's settings say."""
    return timezone.localdate(timezone=CITIZENS_TIME_ZONE)


class FinalOnceInForceQuerySet(models.QuerySet):
    """Refuse bulk updates and deletes that would touch a row already in force."""

    def update(self, **kwargs):
        self._refuse_in_force(_("已生效的政策参数不能修改，更正请新增一个版本。"))
        return super().update(**kwargs)

    def delete(self):
        self._refuse_in_force(_("已生效的政策参数不能删除，更正请新增一个版本。"))
        return super().delete()

    def _refuse_in_force(self, message):
        if self.filter(self.model.in_force_condition(citizens_today())).exists():
            raise InForce(message)


class FinalOnceInForce(models.Model):
    """A row that may be edited or withdrawn until the day it takes effect, and never afterwards."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("录入人"),
    )
    created_at = models.DateTimeField(_("录入时间"), default=timezone.now)

    objects = FinalOnceInForceQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        # Not a business rule: the same refusal as the PostgreSQL trigger, on every database.
        if self.pk is not None:
            if self._stored_in_force():
                raise InForce(_("已生效的政策参数不能修改，更正请新增一个版本。"))
            if self.in_force_on(citizens_today()):
                raise InForce(_("修改后的生效日期须晚于今天。"))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self._stored_in_force():
            raise InForce(_("已生效的政策参数不能删除，更正请新增一个版本。"))
        return super().delete(*args, **kwargs)

    def _stored_in_force(self):
        """Whether the row as stored (whatever this instance now says) is in force."""
        stored = type(self).objects.filter(pk=self.pk)
        return stored.filter(self.in_force_condition(citizens_today())).exists()

    @property
    def is_in_force(self):
        return self.in_force_on(citizens_today())


class PolicyVersionQuerySet(FinalOnceInForceQuerySet):
    def with_standing(self, today):
        """Annotate each version with `current_pk`: the id of its region's version in force on `today`."""
        in_force = PolicyVersion.objects.filter(region=OuterRef("region"), effective_from__lte=today)
        return self.annotate(current_pk=Subquery(in_force.order_by("-effective_from").values("pk")[:1]))


class PolicyVersion(FinalOnceInForce):
    """A region's policy parameters from one day on (政策参数版本)."""

    class SharingScope(models.TextChoices):
        CLOSE_RELATIVES = "close_relatives", _("近亲属（2024年起：配偶、父母、子女、兄弟姐妹、祖父母、外祖父母、孙子女、外孙子女）")
        NUCLEAR_FAMILY = "nuclear_family", _("配偶、父母、子女（2021年范围）")

    region = models.ForeignKey(
        Region, models.PROTECT, related_name="policy_versions", verbose_name=_("统筹区")
    )
    effective_from = models.DateField(_("生效日期"), help_text=_("从这一天起按本版本执行。"))
    document = models.CharField(
        _("文件依据"), max_length=200, help_text=_("决定这些参数的文件，例如“甬医保发〔2026〕12号”。")
    )
    employee_credit_rate = models.DecimalField(
        _("在职职工划入比例（%）"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("2.00"),
        validators=[MinValueValidator(ZERO), MaxValueValidator(Decimal("100"))],
        help_text=_("每月按缴费基数的这一比例划入个人账户。"),
    )
    retiree_monthly_credit = money_field(
        _("退休人员每月定额划入（元）"), default=Decimal("100.00"), validators=[MinValueValidator(ZERO)]
    )
    sharing_scope = models.CharField(
        _("共济亲属范围"), max_length=20, choices=SharingScope, default=SharingScope.CLOSE_RELATIVES
    )
    # The day the region widened sharing to all close relatives; before it, the 2021 list applied.
    sharing_scope_since = models.DateField(
        _("近亲属共济起始日期"),
        default=datetime.date(2025, 1, 1),
        help_text=_("共济亲属范围为近亲属时，从这一天起可以为全部近亲属办理；此前只能为配偶、父母、子女办理。"),
    )
    max_sharing_relatives = models.PositiveSmallIntegerField(_("每人最多共济亲属数"), default=10)
    quota_topup_limit = money_field(
        _("共济额度单次划拨上限（元）"), default=Decimal("2000.00"), validators=[MinValueValidator(ZERO)]
    )
    quota_topups_per_day = models.PositiveSmallIntegerField(_("共济额度每日划拨次数上限"), default=3)
    quota_quiet_from = models.TimeField(_("暂停划拨开始时间"), default=datetime.time(22, 0))
    quota_quiet_until = models.TimeField(_("暂停划拨结束时间"), default=datetime.time(6, 0))
    withdrawal_review_days = models.PositiveSmallIntegerField(_("提取初审时限（工作日）"), default=5)
    withdrawal_payment_days = models.PositiveSmallIntegerField(_("提取到账时限（工作日）"), default=10)
    # 医保发〔2021〕43号: transfer out within 10 working days of acceptance, in within 5 of the form.
    transfer_out_days = models.PositiveSmallIntegerField(_("转出办理时限（工作日）"), default=10)
    transfer_in_days = models.PositiveSmallIntegerField(_("转入办理时限（工作日）"), default=5)

    objects = PolicyVersionQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["region", "-effective_from"]
        verbose_name = _("政策参数版本")
        verbose_name_plural = _("政策参数版本")
        constraints = [
            models.UniqueConstraint(
                fields=["region", "effective_from"],
                name="one_policy_version_per_region_and_day",
                violation_error_message=_("该统筹区在这一天已有一个版本。"),
            ),
            models.CheckConstraint(
                condition=Q(employee_credit_rate__gte=0) & Q(employee_credit_rate__lte=100),
                name="policy_credit_rate_is_a_percentage",
            ),
        ]

    def __str__(self):
        return _("%(region)s %(day)s起（%(document)s）") % {
            "region": self.region.name,
            "day": f"{self.effective_from:%Y-%m-%d}",
            "document": self.document,
        }

    @staticmethod
    def in_force_condition(today):
        return Q(effective_from__lte=today)

    def in_force_on(self, day):
        return self.effective_from <= day

    @property
    def standing_label(self):
        """待生效, 现行 or 已被取代, for the timeline (reads `current_pk` from `with_standing`)."""
        if not self.is_in_force:
            return _("待生效")
        return _("现行") if self.pk == self.current_pk else _("已被新版本取代")


class PremiumRate(FinalOnceInForce):
    """A region's individual contributions for one premium year (缴费年度), in force from its 1 January."""

    region = models.ForeignKey(
        Region, models.PROTECT, related_name="premium_rates", verbose_name=_("统筹区")
    )
    year = models.PositiveSmallIntegerField(_("缴费年度"), validators=[MinValueValidator(2000)])
    resident_premium = money_field(
        _("居民医保个人缴费（元/年）"), default=Decimal("400.00"), validators=[MinValueValidator(ZERO)]
    )
    ltc_premium = money_field(
        _("长期护理保险个人缴费（元/年）"),
        default=ZERO,
        validators=[MinValueValidator(ZERO)],
        help_text=_("未开展长期护理保险的地区填0。"),
    )
    document = models.CharField(_("文件依据"), max_length=200)

    history = HistoricalRecords()

    class Meta:
        ordering = ["region", "-year"]
        verbose_name = _("年度个人缴费标准")
        verbose_name_plural = _("年度个人缴费标准")
        constraints = [
            models.UniqueConstraint(
                fields=["region", "year"],
                name="one_premium_rate_per_region_and_year",
                violation_error_message=_("该统筹区这一缴费年度已有缴费标准。"),
            ),
        ]

    def __str__(self):
        return _("%(region)s %(year)d年度缴费标准") % {"region": self.region.name, "year": self.year}

    @staticmethod
    def in_force_condition(today):
        return Q(year__lte=today.year)

    def in_force_on(self, day):
        return self.year <= day.year


class Person(models.Model):
    """A person in the insurance registry (参保人员)."""

    name = models.CharField(_("姓名"), max_length=50)
    id_number = models.CharField(
        _("身份证号码"), max_length=18, unique=True, validators=[validate_id_number]
    )
    phone = models.CharField(
        _("预留手机号"),
        max_length=11,
        validators=[RegexValidator(r"^1\d{10}$", _("手机号应为以1开头的11位数字。"))],
    )
    card_number = models.CharField(_("医保卡号"), max_length=32, unique=True)
    died_on = models.DateField(
        _("死亡日期"),
        null=True,
        blank=True,
        help_text=_("经办人员凭死亡证明登记；登记后继承人方可申请提取余额。"),
    )
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]
        verbose_name = _("参保人员")
        verbose_name_plural = _("参保人员")
        # The admin's name search matches the start of a name (LIKE 'name%'); on PostgreSQL only an index with
        # the pattern operator class serves that under a non-C collation.
        indexes = [models.Index(fields=["name"], name="person_name_prefix", opclasses=["varchar_pattern_ops"])]

    def __str__(self):
        return f"{self.name}（{self.masked_id_number}）"

    @cached_property
    def identity(self):
        return parse_id_number(self.id_number)

    @property
    def masked_id_number(self):
        return mask_id_number(self.id_number)

    @property
    def masked_name(self):
        return mask_name(self.name)

    @property
    def birth_date(self):
        return self.identity.birth_date

    @property
    def sex_display(self):
        return _("男") if self.identity.is_male else _("女")

    def age_on(self, day=None):
        return self.identity.age_on(day or timezone.localdate())

    @property
    def is_deceased(self):
        return self.died_on is not None


class Enrolment(models.Model):
    """A person's insurance in one region (参保登记)."""

    class InsuranceType(models.TextChoices):
        EMPLOYEE = "employee", _("职工医保")
        RESIDENT = "resident", _("居民医保")

    class Status(models.TextChoices):
        ACTIVE = "active", _("参保中")
        STOPPED = "stopped", _("停保")
        TRANSFERRED_OUT = "transferred_out", _("已转出")
        CLOSED = "closed", _("已注销")

    class Employment(models.TextChoices):
        IN_SERVICE = "in_service", _("在职")
        RETIRED = "retired", _("退休")

    person = models.ForeignKey(
        Person, models.PROTECT, related_name="enrolments", verbose_name=_("参保人")
    )
    region = models.ForeignKey(
        Region, models.PROTECT, related_name="enrolments", verbose_name=_("参保地")
    )
    insurance_type = models.CharField(_("险种"), max_length=10, choices=InsuranceType)
    status = models.CharField(
        _("参保状态"), max_length=20, choices=Status, default=Status.ACTIVE
    )
    employment = models.CharField(
        _("在职/退休"), max_length=10, choices=Employment, blank=True,
        help_text=_("职工医保必填；居民医保留空。"),
    )
    contribution_base = money_field(
        _("月缴费基数（元）"), null=True, blank=True, validators=[MinValueValidator(ZERO)]
    )
    contribution_months = models.PositiveIntegerField(_("缴费年限（月）"), default=0)
    started_on = models.DateField(_("参保日期"), default=timezone.localdate)
    ended_on = models.DateField(_("终止日期"), null=True, blank=True)
    # The account this employee enrolment paid into. A new job in the same region carries the account on
    # (Account.enrolment then names the newest enrolment), so an older enrolment finds its account here:
    # a month credited late goes to the account of the enrolment active in that month.
    personal_account = models.ForeignKey(
        "Account",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="enrolments_served",
        verbose_name=_("使用的个人账户"),
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-started_on", "-id"]
        verbose_name = _("参保登记")
        verbose_name_plural = _("参保登记")
        indexes = [
            # The admin list's order: its first page reads the index instead of sorting every enrolment.
            models.Index(fields=["-started_on", "-id"], name="enrolment_newest"),
            # "Is this person enrolled in one of my regions?", asked for each row of the staff's lists of
            # persons and notices, answered from the index alone.
            models.Index(fields=["person", "region"], name="enrolment_person_region"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(status="active"),
                name="one_active_enrolment_per_person",
                violation_error_message=_("此人已有一条参保中的登记，请先停保原登记。"),
            ),
            models.CheckConstraint(
                condition=~Q(insurance_type="employee", employment="in_service")
                | Q(contribution_base__isnull=False),
                name="in_service_employee_has_contribution_base",
                violation_error_message=_("在职职工须填写月缴费基数。"),
            ),
            models.CheckConstraint(
                condition=Q(insurance_type="resident", employment="")
                | Q(insurance_type="employee", employment__in=["in_service", "retired"]),
                name="employment_matches_insurance_type",
                violation_error_message=_("职工医保须选择在职或退休；居民医保不选。"),
            ),
        ]

    def __str__(self):
        return f"{self.person.name} · {self.region.name} · {self.get_insurance_type_display()}"

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE

    @property
    def is_employee(self):
        return self.insurance_type == self.InsuranceType.EMPLOYEE

    @property
    def is_retired(self):
        return self.employment == self.Employment.RETIRED


class User(AbstractUser):
    """A login: a citizen (username is the ID number, linked to a person) or a member of staff."""

    person = models.OneToOneField(
        Person,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="user",
        verbose_name=_("对应参保人"),
    )

    class Meta(AbstractUser.Meta):
        verbose_name = _("登录用户")
        verbose_name_plural = _("登录用户")

    def __str__(self):
        # A citizen's login name is the ID number: admin messages, history and recent actions show it masked.
        if self.person_id:
            return mask_id_number(self.username)
        return self.display_name

    def get_short_name(self):
        """Return the name the admin greets with: a citizen's name, a clerk's 姓名（工号）."""
        return self.first_name or self.display_name

    @property
    def display_name(self):
        """Return a clerk's 姓名（工号） from the staff profile, else the login name."""
        try:
            profile = self.staff_profile
        except ObjectDoesNotExist:
            return self.username
        return profile.display_name


class StaffRole(models.TextChoices):
    """What a member of staff is to a citizen reading the personal-data access record."""

    HANDLER = "handler", _("经办人员")
    REVIEWER = "reviewer", _("审核人员")
    ADMINISTRATOR = "administrator", _("系统管理员")


class StaffProfile(models.Model):
    """The regions a member of staff serves; staff see only those regions' business."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="staff_profile",
        verbose_name=_("经办人员"),
    )
    regions = models.ManyToManyField(Region, related_name="staff", verbose_name=_("服务统筹区"))
    role = models.CharField(
        _("岗位"), max_length=20, choices=StaffRole, default=StaffRole.HANDLER,
        help_text=_("参保人在“个人信息访问记录”中看到的查看人岗位。超级管理员一律显示为系统管理员。"),
    )
    full_name = models.CharField(_("姓名"), max_length=50, blank=True)
    staff_number = models.CharField(_("工号"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("经办人员档案")
        verbose_name_plural = _("经办人员档案")

    def __str__(self):
        return str(self.user)

    @property
    def display_name(self):
        """Return how colleagues read the clerk's name: 李敏（NB1024）, or the login name if none is kept."""
        if self.full_name and self.staff_number:
            return f"{self.full_name}（{self.staff_number}）"
        return self.full_name or self.user.get_username()


class Account(models.Model):
    """A ledger account: a citizen's personal account, a sharing quota, or a region's system account."""

    class Kind(models.TextChoices):
        PERSONAL = "personal", _("个人账户")
        QUOTA = "quota", _("共济额度")
        CREDIT_SOURCE = "credit_source", _("划入资金来源")
        INSTITUTIONS_PAYABLE = "institutions_payable", _("应付定点医药机构款")
        WITHDRAWALS_PAYABLE = "withdrawals_payable", _("应付提取款")
        TRANSIT = "transit", _("转移在途资金")
        PREMIUMS_COLLECTED = "premiums_collected", _("代缴保费")
        PAID_OUT = "paid_out", _("已划出至银行")

    class Status(models.TextChoices):
        ACTIVE = "active", _("正常")
        FROZEN = "frozen", _("冻结")
        CLOSED = "closed", _("已关闭")
        TRANSFERRED_OUT = "transferred_out", _("已转出")

    class Hold(models.TextChoices):
        NONE = "", _("无")
        WITHDRAWAL = "withdrawal", _("提取申请")
        TRANSFER = "transfer", _("转移申请")

    # Kinds whose balance belongs to a citizen and may never go below zero.
    CITIZEN_KINDS = (Kind.PERSONAL, Kind.QUOTA)

    kind = models.CharField(_("账户类别"), max_length=30, choices=Kind)
    region = models.ForeignKey(
        Region, models.PROTECT, related_name="accounts", verbose_name=_("统筹区")
    )
    enrolment = models.OneToOneField(
        Enrolment,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="account",
        verbose_name=_("参保登记"),
    )
    status = models.CharField(_("状态"), max_length=20, choices=Status, default=Status.ACTIVE)
    balance = money_field(_("余额（元）"), default=ZERO)
    hold = models.CharField(_("办理中的申请"), max_length=20, choices=Hold, default=Hold.NONE, blank=True)
    hold_reference = models.CharField(_("申请编号"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("开户时间"), default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("账户")
        verbose_name_plural = _("账户")
        permissions = [("freeze_account", _("冻结或解除冻结个人账户"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(balance__gte=0) | ~Q(kind__in=["personal", "quota"]),
                name="citizen_account_balance_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(kind="personal") | Q(enrolment__isnull=False),
                name="personal_account_has_enrolment",
            ),
            models.UniqueConstraint(
                fields=["region", "kind"],
                condition=~Q(kind__in=["personal", "quota"]),
                name="one_system_account_per_region_and_kind",
            ),
        ]

    def __str__(self):
        if self.kind == self.Kind.PERSONAL and self.enrolment_id:
            return _("%(name)s的个人账户（%(region)s）") % {
                "name": self.enrolment.person.name,
                "region": self.region.name,
            }
        return f"{self.region.name}·{self.get_kind_display()}"

    @property
    def is_citizen_money(self):
        return self.kind in self.CITIZEN_KINDS

    @property
    def can_spend(self):
        return self.status == self.Status.ACTIVE


class AccountStatusChange(models.Model):
    """One freeze, unfreeze, closing or reopening of an account, with who did it and why."""

    account = models.ForeignKey(
        Account, models.PROTECT, related_name="status_changes", verbose_name=_("账户")
    )
    from_status = models.CharField(_("原状态"), max_length=20, choices=Account.Status)
    to_status = models.CharField(_("新状态"), max_length=20, choices=Account.Status)
    reason = models.CharField(_("原因"), max_length=200)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, verbose_name=_("经办人")
    )
    created_at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("账户状态变更")
        verbose_name_plural = _("账户状态变更")

    def __str__(self):
        return f"{self.account} {self.get_from_status_display()}→{self.get_to_status_display()}"


class JournalTransaction(models.Model):
    """One movement of money: its entries sum to zero."""

    class Kind(models.TextChoices):
        OPENING = "opening", _("期初余额")
        CREDIT = "credit", _("每月划入")
        SETTLEMENT = "settlement", _("医药费结算")
        REFUND = "refund", _("结算退款")
        QUOTA_TOPUP = "quota_topup", _("共济额度划拨")
        QUOTA_RELEASE = "quota_release", _("共济额度退回")
        PREMIUM = "premium", _("代缴保费")
        WITHDRAWAL = "withdrawal", _("余额提取")
        PAYOUT = "payout", _("提取款支付")
        TRANSFER_OUT = "transfer_out", _("转出")
        TRANSFER_IN = "transfer_in", _("转入")
        REVERSAL = "reversal", _("冲正")

    kind = models.CharField(_("业务类型"), max_length=20, choices=Kind)
    description = models.CharField(_("摘要"), max_length=200)
    idempotency_key = models.CharField(_("幂等键"), max_length=120, null=True, blank=True)
    reverses = models.OneToOneField(
        "self",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="reversal",
        verbose_name=_("冲正的交易"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, verbose_name=_("经办人")
    )
    created_at = models.DateTimeField(_("记账时间"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("记账交易")
        verbose_name_plural = _("记账交易")
        constraints = [
            # A constraint rather than unique=True, which on PostgreSQL adds a second index on the key for
            # LIKE queries that nothing runs: every posting (a million a month from the credit alone)
            # would write both.
            models.UniqueConstraint(fields=["idempotency_key"], name="journal_idempotency_key_unique"),
        ]

    def __str__(self):
        kind = self.get_kind_display()
        # A description that starts with the kind ("余额提取 W2026…") is not preceded by it again.
        if self.description.startswith(kind):
            return f"#{self.pk} {self.description}"
        return f"#{self.pk} {kind} {self.description}"


class LedgerEntry(models.Model):
    """One side of a journal transaction; never edited or deleted."""

    transaction = models.ForeignKey(
        JournalTransaction, models.PROTECT, related_name="entries", verbose_name=_("交易")
    )
    # No index of its own: entry_account_newest (account, -id) serves every lookup by account, and each
    # further index is written again for every entry the ledger posts.
    account = models.ForeignKey(
        Account, models.PROTECT, related_name="entries", db_index=False, verbose_name=_("账户")
    )
    amount = money_field(_("金额（元）"), help_text=_("正数为收入，负数为支出。"))
    balance_after = money_field(_("记账后余额（元）"))

    class Meta:
        ordering = ["-id"]
        verbose_name = _("账务明细")
        verbose_name_plural = _("账务明细")
        indexes = [models.Index(fields=["account", "-id"], name="entry_account_newest")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_not_zero"),
        ]

    def __str__(self):
        return f"{self.account} {self.amount:+}"

    @property
    def statement_words(self):
        """The statement's description: a monthly credit names its month, computation and document."""
        try:
            return self.monthly_credit.computation
        except ObjectDoesNotExist:
            return self.transaction.description


class MonthlyCredit(models.Model):
    """The credit of one month to one person: the account it went to and the version that computed it."""

    # Indexed by credit_account_newest (account, -month), as entries are by entry_account_newest.
    account = models.ForeignKey(
        Account, models.PROTECT, related_name="monthly_credits", db_index=False, verbose_name=_("个人账户")
    )
    person = models.ForeignKey(
        Person, models.PROTECT, related_name="monthly_credits", verbose_name=_("参保人")
    )
    month = models.DateField(_("月份"), help_text=_("该月第一天。"))
    amount = money_field(_("划入金额（元）"))
    contribution_base = money_field(
        _("缴费基数（元）"), null=True, blank=True, help_text=_("退休人员按定额划入，不填。")
    )
    rate = models.DecimalField(_("划入比例（%）"), max_digits=5, decimal_places=2, null=True, blank=True)
    version = models.ForeignKey(
        PolicyVersion, models.PROTECT, related_name="monthly_credits", verbose_name=_("政策参数版本")
    )
    # The credit's side in the ledger. A run credits a chunk of accounts in one journal transaction (one
    # entry per account, one for each region's source account), so the entry, not the transaction, is the
    # credit's own.
    entry = models.OneToOneField(
        LedgerEntry, models.PROTECT, related_name="monthly_credit", verbose_name=_("账务明细")
    )
    # Before the rule became one credit per person, a person who moved within a month could be credited
    # by two accounts; migration 0011 marks the later ones, which stay in the ledger for clerks to review.
    repeated = models.BooleanField(
        _("同月重复划入"), default=False, help_text=_("“每人每月只划入一次”规则实施前发生的同月第二笔划入。")
    )

    class Meta:
        ordering = ["-month"]
        verbose_name = _("每月划入")
        verbose_name_plural = _("每月划入")
        constraints = [
            # Also the index of "who was credited for this month", which every run of the credit asks.
            models.UniqueConstraint(
                fields=["month", "person"],
                condition=Q(repeated=False),
                name="one_credit_per_person_and_month",
            ),
        ]
        indexes = [models.Index(fields=["account", "-month"], name="credit_account_newest")]

    def __str__(self):
        return self.computation

    @property
    def is_fixed_amount(self):
        return self.contribution_base is None

    @property
    def computation(self):
        """The statement's words: month, amount, how it was computed and the version's document."""
        label = _("%(year)d年%(month)d月 划入") % {"year": self.month.year, "month": self.month.month}
        if self.is_fixed_amount:
            rule = _("退休人员定额")
        else:
            rule = _("缴费基数 ¥%(base)s × %(rate)s%%") % {
                "base": f"{self.contribution_base:,.2f}",
                "rate": percent(self.rate),
            }
        return _("%(label)s ¥%(amount)s = %(rule)s（%(document)s）") % {
            "label": label,
            "amount": f"{self.amount:,.2f}",
            "rule": rule,
            "document": self.version.document,
        }


def percent(rate):
    """A rate as people write it: 2, 1.5, 0.25 (no trailing zeros)."""
    return f"{rate.normalize():f}"


class CreditChangeNotification(models.Model):
    """That the citizens whose monthly credit a version changed were told, when and how many."""

    version = models.OneToOneField(
        PolicyVersion, models.PROTECT, related_name="credit_change_notification", verbose_name=_("政策参数版本")
    )
    recipients = models.PositiveIntegerField(_("通知人数"))
    sent_at = models.DateTimeField(_("发送时间"), default=timezone.now)

    class Meta:
        verbose_name = _("划入调整通知")
        verbose_name_plural = _("划入调整通知")

    def __str__(self):
        return f"{self.version}：{self.recipients}"


class LedgerAudit(models.Model):
    """One clean run of `audit_ledger`; the newest is the checkpoint the next default run starts from."""

    full = models.BooleanField(_("全量核对"))
    since_entry_id = models.PositiveBigIntegerField(_("起始明细编号（不含）"), default=0)
    last_transaction_id = models.PositiveBigIntegerField(_("核对至交易编号"))
    last_entry_id = models.PositiveBigIntegerField(_("核对至明细编号"))
    transactions = models.PositiveBigIntegerField(_("核对交易数"))
    entries = models.PositiveBigIntegerField(_("核对明细数"))
    accounts = models.PositiveBigIntegerField(_("核对账户数"))
    started_at = models.DateTimeField(_("开始时间"))
    finished_at = models.DateTimeField(_("完成时间"), default=timezone.now)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("账务核对记录")
        verbose_name_plural = _("账务核对记录")

    def __str__(self):
        return f"#{self.pk} {self.finished_at:%Y-%m-%d %H:%M}"


class Notice(models.Model):
    """A message in a citizen's inbox at /notices/."""

    person = models.ForeignKey(
        Person, models.CASCADE, related_name="notices", verbose_name=_("收件人")
    )
    title = models.CharField(_("标题"), max_length=100)
    body = models.TextField(_("内容"))
    link = models.CharField(_("下一步链接"), max_length=200, blank=True)
    # A notice either asks the citizen to do something (and links to where) or only informs.
    needs_action = models.BooleanField(_("需要办理"), default=False)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    read_at = models.DateTimeField(_("阅读时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        indexes = [
            models.Index(fields=["person", "read_at"], name="notice_person_unread"),
            models.Index(fields=["-created_at", "-id"], name="notice_newest"),
        ]

    def __str__(self):
        return self.title

    @property
    def is_unread(self):
        return self.read_at is None


class PhoneCode(models.Model):
    """A one-time code texted to a reserved phone (短信验证码); only its keyed hash is kept."""

    class Purpose(models.TextChoices):
        REGISTER = "register", _("实名注册")
        PASSWORD_RESET = "password_reset", _("找回密码")
        STEP_UP = "step_up", _("办理业务前验证")

    phone = models.CharField(_("手机号"), max_length=11)
    purpose = models.CharField(_("用途"), max_length=20, choices=Purpose)
    code_hash = models.CharField(_("验证码摘要"), max_length=64)
    created_at = models.DateTimeField(_("发送时间"), default=timezone.now)
    expires_at = models.DateTimeField(_("失效时间"))
    failed_attempts = models.PositiveSmallIntegerField(_("输错次数"), default=0)
    used_at = models.DateTimeField(_("使用时间"), null=True, blank=True)
    voided_at = models.DateTimeField(_("作废时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("短信验证码")
        verbose_name_plural = _("短信验证码")
        indexes = [models.Index(fields=["phone", "purpose", "-created_at"], name="phonecode_latest")]

    def __str__(self):
        return f"{self.get_purpose_display()} · {mask_phone(self.phone)}"


def mask_phone(phone):
    """Return a phone number as 尾号1238 would name it: 139****1238."""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) == 11 else "****"


class SecondFactorReset(models.Model):
    """A superuser removed a member of staff's authenticator and backup codes (a lost phone)."""

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="second_factor_resets",
        verbose_name=_("经办人员"),
    )
    reset_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("重置人")
    )
    reason = models.CharField(_("原因"), max_length=200)
    devices_removed = models.PositiveSmallIntegerField(_("移除的设备数"), default=0)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("双因素设备重置记录")
        verbose_name_plural = _("双因素设备重置记录")

    def __str__(self):
        return f"{self.staff} · {timezone.localtime(self.created_at):%Y-%m-%d %H:%M}"


class PersonalDataAccess(models.Model):
    """One look by staff at one citizen's data (个人信息访问记录); never changed or deleted.

    The viewer's role and regions are kept as they were at the time, so that the citizen's page reads the
    same after the clerk moves desk.
    """

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="data_accesses", verbose_name=_("查看人")
    )
    person = models.ForeignKey(
        Person, models.PROTECT, related_name="data_accesses", verbose_name=_("参保人")
    )
    accessed_at = models.DateTimeField(_("查看时间"), default=timezone.now)
    address = models.CharField(_("访问地址"), max_length=45, blank=True)
    what = models.CharField(_("查看内容"), max_length=50)
    reference = models.CharField(_("对象编号"), max_length=40, blank=True)
    viewer_role = models.CharField(_("查看人岗位"), max_length=20, choices=StaffRole)
    viewer_regions = models.CharField(_("查看人所在统筹区"), max_length=200)

    class Meta:
        ordering = ["-accessed_at", "-id"]
        verbose_name = _("个人信息访问记录")
        verbose_name_plural = _("个人信息访问记录")
        indexes = [
            models.Index(fields=["person", "-accessed_at"], name="access_person_newest"),
            models.Index(fields=["staff", "-accessed_at"], name="access_staff_newest"),
            models.Index(fields=["-accessed_at"], name="access_newest"),
        ]
        permissions = [("export_personaldataaccess", _("导出个人信息访问记录"))]

    def __str__(self):
        return f"{self.what} {self.reference}".strip()
