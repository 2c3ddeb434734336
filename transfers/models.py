"""Transfer applications (医保关系转移接续) between two regions, with their status mapping and deadlines."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.identity import mask_name
from accounts.models import money_field
from review.models import Application

# The one material a transfer asks for (医保发〔2021〕43号: 有效身份证件).
ID_CARD_KIND = "id_card"
ID_CARD_LABEL = _("身份证（正反面）图片")

def overdue_condition(today=None):
    """Return the condition of a transfer whose pending step is past its deadline."""
    return Q(next_due__lt=today or timezone.localdate())


def awaiting_condition(region_ids):
    """Return the condition of a transfer whose next step is one for staff of `region_ids` to take."""
    Status = TransferApplication.Status
    return Q(status__in=[Status.SUBMITTED, Status.TRANSFERRED_OUT], new_region__in=region_ids) | Q(
        status=Status.ACCEPTED, old_region__in=region_ids
    )


class TransferQuerySet(models.QuerySet):
    def concerning(self, regions):
        """Return the transfers leaving or joining one of `regions` (a queryset or ids of regions)."""
        return self.filter(Q(old_region__in=regions) | Q(new_region__in=regions))

    def overdue(self, today=None):
        """Return the transfers whose pending step is past its deadline."""
        return self.filter(overdue_condition(today))


class TransferApplication(Application):
    """An application to move an employee's insurance relationship, contribution years and balance.

    It is lodged with the new region (`region` is always `new_region`): the new region accepts it (受理),
    the old region transfers it out (转出: closes the relationship, issues the information form, sends the
    balance into transit) and the new region transfers it in (转入: records the relationship, credits the
    balance), which completes it.
    """

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("已提交（待转入地受理）")
        ACCEPTED = "accepted", _("已受理（待转出地办理转出）")
        TRANSFERRED_OUT = "transferred_out", _("已转出（待转入地办理转入）")
        TRANSFERRED_IN = "transferred_in", _("已转入")
        COMPLETED = "completed", _("已办结")
        RETURNED = "returned", _("退回补正")
        REFUSED = "refused", _("不予受理")
        CANCELLED = "cancelled", _("已撤销")

    class Reason(models.TextChoices):
        WORK = "work", _("工作调动（就业地变更）")
        RESIDENCE = "residence", _("居住地变更")
        OTHER = "other", _("其他原因")

    class Side(models.TextChoices):
        OLD = "old", _("转出地")
        NEW = "new", _("转入地")

    # Each region checks the conditions when the application reaches it: the new region before
    # accepting, the old region before transferring out; each may return or refuse it at that step.
    # Once the balance has left, the only way on is 转入; 转入 completes the transfer.
    TRANSITIONS = {
        Status.SUBMITTED: (Status.ACCEPTED, Status.RETURNED, Status.REFUSED, Status.CANCELLED),
        Status.RETURNED: (Status.SUBMITTED, Status.CANCELLED),
        Status.ACCEPTED: (Status.TRANSFERRED_OUT, Status.RETURNED, Status.REFUSED),
        Status.TRANSFERRED_OUT: (Status.TRANSFERRED_IN,),
        Status.TRANSFERRED_IN: (Status.COMPLETED,),
        Status.COMPLETED: (),
        Status.REFUSED: (),
        Status.CANCELLED: (),
    }
    NUMBER_PREFIX = "T"
    OPEN = (Status.SUBMITTED, Status.RETURNED, Status.ACCEPTED, Status.TRANSFERRED_OUT, Status.TRANSFERRED_IN)
    # The ID-card image is attached when the application is made (submitted) and replaced after a return;
    # transfers.services decides which of the two a caller may do.
    MATERIAL_STATUSES = (Status.SUBMITTED, Status.RETURNED)
    # From 转出 on, the information form exists and the record can be printed.
    RECORDED = (Status.TRANSFERRED_OUT, Status.TRANSFERRED_IN, Status.COMPLETED)
    # Where an application ends: its 办结凭证 can be printed.
    ENDED = (Status.COMPLETED, Status.REFUSED, Status.CANCELLED)
    DEADLINE_FIELDS = {Status.ACCEPTED: "transfer_out_due", Status.TRANSFERRED_OUT: "transfer_in_due"}

    status = models.CharField(
        _("状态"), max_length=20, choices=Status, default=Status.SUBMITTED, db_index=True
    )
    old_region = models.ForeignKey(
        "accounts.Region", models.PROTECT, related_name="+", verbose_name=_("转出地")
    )
    new_region = models.ForeignKey(
        "accounts.Region", models.PROTECT, related_name="+", verbose_name=_("转入地")
    )
    reason = models.CharField(_("转移原因"), max_length=20, choices=Reason)
    reason_note = models.CharField(_("原因说明"), max_length=200, blank=True)
    old_enrolment = models.ForeignKey(
        "accounts.Enrolment", models.PROTECT, related_name="+", verbose_name=_("转出地参保登记")
    )
    new_enrolment = models.ForeignKey(
        "accounts.Enrolment", models.PROTECT, related_name="+", verbose_name=_("转入地参保登记")
    )
    old_account = models.ForeignKey(
        "accounts.Account", models.PROTECT, related_name="+", verbose_name=_("转出地个人账户")
    )
    new_account = models.ForeignKey(
        "accounts.Account", models.PROTECT, related_name="+", verbose_name=_("转入地个人账户")
    )
    province_wide = models.BooleanField(
        _("省内账户通用"),
        default=False,
        help_text=_("账户已随参保人在省内通用：不划转资金，转入时只变更账户的参保地。"),
    )
    counter_clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("窗口代办经办人"),
    )
    declaration_accepted_at = models.DateTimeField(_("承诺时间"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("受理时间"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("受理人"),
    )
    transfer_out_due = models.DateField(_("转出期限"), null=True, blank=True)
    transferred_out_at = models.DateTimeField(_("转出时间"), null=True, blank=True)
    transferred_out_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("转出经办人"),
    )
    transfer_in_due = models.DateField(_("转入期限"), null=True, blank=True)
    transferred_in_at = models.DateTimeField(_("转入时间"), null=True, blank=True)
    transferred_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("转入经办人"),
    )
    completed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    amount = money_field(_("转移金额（元）"), null=True, blank=True)
    contribution_months = models.PositiveIntegerField(_("转移缴费年限（月）"), null=True, blank=True)
    out_journal = models.OneToOneField(
        "accounts.JournalTransaction", models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("转出交易"),
    )
    in_journal = models.OneToOneField(
        "accounts.JournalTransaction", models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("转入交易"),
    )
    returned_by = models.CharField(_("退回方"), max_length=3, choices=Side, blank=True)
    return_note = models.TextField(_("补正说明"), blank=True)
    returned_at = models.DateTimeField(_("退回补正时间"), null=True, blank=True)
    id_card_to_replace = models.BooleanField(_("须重新上传身份证图片"), default=False)
    refused_by = models.CharField(_("不予受理方"), max_length=3, choices=Side, blank=True)
    refusal_reason = models.TextField(_("不予受理原因"), blank=True)

    objects = TransferQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("转移接续申请")
        verbose_name_plural = _("转移接续申请")
        permissions = [
            ("accept_transfer", _("受理转移接续申请（转入地）")),
            ("transfer_out", _("办理转出（转出地）")),
            ("transfer_in", _("办理转入（转入地）")),
        ]
        indexes = [
            models.Index(fields=["new_region", "status"], name="transfer_new_region_status"),
            models.Index(fields=["old_region", "status"], name="transfer_old_region_status"),
            models.Index(
                fields=["old_region", "next_due"], name="transfer_out_queue",
                condition=Q(next_due__isnull=False),
            ),
            models.Index(
                fields=["new_region", "next_due"], name="transfer_in_queue",
                condition=Q(next_due__isnull=False),
            ),
            # The latest running deadline of any staff's regions (the desk's holiday warning), read backwards.
            models.Index(fields=["next_due"], name="transfer_next_due", condition=Q(next_due__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["applicant"],
                condition=Q(
                    status__in=["submitted", "returned", "accepted", "transferred_out", "transferred_in"]
                ),
                name="one_open_transfer_per_applicant",
                violation_error_message=_("已有办理中的转移申请。"),
            ),
            models.CheckConstraint(
                condition=~Q(old_region=F("new_region")), name="transfer_between_two_regions"
            ),
            models.CheckConstraint(
                condition=Q(region=F("new_region")), name="transfer_lodged_with_the_new_region"
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0), name="transfer_amount_not_negative"
            ),
        ]

    @property
    def is_open(self):
        return self.status in self.OPEN

    @property
    def can_be_cancelled(self):
        return self.can_move_to(self.Status.CANCELLED)

    @property
    def has_record(self):
        """Whether the information form exists: from 转出 on."""
        return self.status in self.RECORDED

    @property
    def is_at_counter(self):
        return self.counter_clerk_id is not None

    @property
    def masked_applicant_name(self):
        return mask_name(self.applicant.name)

    def regions_concerned(self):
        """Return the ids of the two regions whose staff handle this transfer (see review.access)."""
        return [self.old_region_id, self.new_region_id]

    def region_of(self, side):
        return self.old_region if side == self.Side.OLD else self.new_region

    @property
    def awaiting_side(self):
        """Return which region takes the next step, or "" when the applicant or nobody does."""
        if self.status in (self.Status.SUBMITTED, self.Status.TRANSFERRED_OUT):
            return self.Side.NEW
        if self.status == self.Status.ACCEPTED:
            return self.Side.OLD
        return ""

    @property
    def pending_deadlines(self):
        """Return (label, date) of the deadline that runs now, for the timeline."""
        if self.status == self.Status.ACCEPTED:
            return [(_("转出期限"), self.transfer_out_due)]
        if self.status == self.Status.TRANSFERRED_OUT:
            return [(_("转入期限"), self.transfer_in_due)]
        return []
