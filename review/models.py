"""What withdrawals and transfers share: the application base, its event log, materials and holidays."""

import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Application(models.Model):
    """Fields every reviewed application has; a feature app adds its own and its status choices.

    A concrete subclass defines `Status` (TextChoices), a `status` field using it, and
    `TRANSITIONS`: a mapping from each status to the statuses it may move to. Only
    `review.transitions.transition` writes `status`.
    """

    number = models.CharField(_("申请编号"), max_length=32, unique=True, editable=False)
    applicant = models.ForeignKey(
        "accounts.Person", models.PROTECT, related_name="+", verbose_name=_("申请人")
    )
    region = models.ForeignKey(
        "accounts.Region", models.PROTECT, related_name="+", verbose_name=_("受理统筹区")
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    clock_started_on = models.DateField(
        _("计时起始日"),
        null=True,
        blank=True,
        help_text=_("受理或补正后重新提交之日；办理时限从此日起按工作日计算。"),
    )
    # The deadline of the step the application waits on, kept by review.transitions.transition from
    # DEADLINE_FIELDS, so that a queue sorts on an indexed column; empty while no deadline runs.
    next_due = models.DateField(_("办理期限"), null=True, blank=True, editable=False)

    TRANSITIONS = {}
    # Which date field holds the deadline of each status that waits on staff.
    DEADLINE_FIELDS = {}
    # The statuses an application ends in (办结).
    ENDED = ()
    NUMBER_PREFIX = "A"
    # Statuses in which the citizen or a clerk may add or remove materials (draft, returned for more);
    # None leaves the decision to the feature app's services.
    MATERIAL_STATUSES = None

    class Meta:
        abstract = True

    def __str__(self):
        return self.number

    def save(self, *args, **kwargs):
        if not self.number:
            self.number = new_application_number(self.NUMBER_PREFIX)
        super().save(*args, **kwargs)

    @property
    def events(self):
        return Event.objects.for_object(self)

    @property
    def materials(self):
        return Material.objects.for_object(self)

    def accepts_materials(self):
        return self.MATERIAL_STATUSES is None or self.status in self.MATERIAL_STATUSES

    def can_move_to(self, status):
        return status in self.TRANSITIONS.get(self.status, ())

    def deadline_in(self, status, changes=None):
        """Return the deadline that runs in `status`, reading `changes` before the row's own fields."""
        field = self.DEADLINE_FIELDS.get(status)
        if field is None:
            return None
        changes = changes or {}
        return changes[field] if field in changes else getattr(self, field)

    @property
    def receipt_kinds(self):
        """Return which receipts exist: "lodged" (受理回执) once submitted, "ended" (办结凭证) once ended."""
        if self.submitted_at is None:
            return []
        return ["lodged", "ended"] if self.status in self.ENDED else ["lodged"]

    @property
    def is_overdue(self):
        return self.next_due is not None and self.next_due < timezone.localdate()

    @property
    def working_days_left(self):
        """Return the working days from today to the deadline (negative once overdue), or None."""
        if self.next_due is None:
            return None
        from .calendar import working_days_between  # calendar imports this module's Holiday

        return working_days_between(timezone.localdate(), self.next_due)


def new_application_number(prefix):
    """Return a unique, readable application number such as W20261124A1B2C3D4."""
    return f"{prefix}{timezone.localdate():%Y%m%d}{uuid.uuid4().hex[:8].upper()}"


class AttachedQuerySet(models.QuerySet):
    """Rows attached to one application through (content_type, object_id)."""

    person_field = None

    def for_object(self, obj):
        return self.filter(
            content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
        ).select_related(self.person_field)


class EventQuerySet(AttachedQuerySet):
    person_field = "actor"


class Event(models.Model):
    """One status change of an application: the audit trail and the citizen's timeline."""

    content_type = models.ForeignKey(ContentType, models.PROTECT, verbose_name=_("业务类型"))
    object_id = models.PositiveBigIntegerField(_("申请ID"))
    application = GenericForeignKey("content_type", "object_id")
    from_status = models.CharField(_("原状态"), max_length=30, blank=True)
    to_status = models.CharField(_("新状态"), max_length=30)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, verbose_name=_("办理人")
    )
    note = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("办理记录")
        verbose_name_plural = _("办理记录")
        indexes = [
            # The object id first: it serves an application's events (both columns) and the admin's search
            # by application id alone.
            models.Index(fields=["object_id", "content_type"], name="event_object"),
            models.Index(fields=["created_at", "id"], name="event_created"),
        ]

    def __str__(self):
        return f"{self.label_of(self.from_status)} → {self.label_of(self.to_status)}"

    def label_of(self, status):
        """Return the Chinese label of `status` in the application's own choices, or the raw value."""
        model = self.content_type.model_class()
        choices = dict(model.Status.choices) if model is not None and hasattr(model, "Status") else {}
        return choices.get(status, status) or "—"


def material_upload_to(instance, filename):
    """Store under a random name: the citizen's file name never reaches the file system."""
    return f"materials/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{instance.extension}"


class MaterialQuerySet(AttachedQuerySet):
    person_field = "uploaded_by"


class Material(models.Model):
    """An uploaded file (证明材料) attached to an application; private, served only by a checked view."""

    content_type = models.ForeignKey(ContentType, models.PROTECT, verbose_name=_("业务类型"))
    object_id = models.PositiveBigIntegerField(_("申请ID"))
    application = GenericForeignKey("content_type", "object_id")
    kind = models.CharField(_("材料类别"), max_length=40)
    original_name = models.CharField(_("原文件名"), max_length=200)
    file = models.FileField(_("文件"), upload_to=material_upload_to, max_length=200)
    mime_type = models.CharField(_("文件类型"), max_length=50)
    extension = models.CharField(_("扩展名"), max_length=8)
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, verbose_name=_("上传人")
    )
    uploaded_at = models.DateTimeField(_("上传时间"), default=timezone.now)
    # A file found wanting at a return and uploaded again stays for the record, marked 已替换.
    replaced_by = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("已被替换为"),
    )

    objects = MaterialQuerySet.as_manager()

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("证明材料")
        verbose_name_plural = _("证明材料")
        indexes = [models.Index(fields=["content_type", "object_id"], name="material_application")]

    def __str__(self):
        return self.original_name

    @property
    def is_replaced(self):
        return self.replaced_by_id is not None

    @property
    def is_image(self):
        return self.mime_type.startswith("image/")

    @property
    def is_pdf(self):
        return self.mime_type == "application/pdf"

    @property
    def readable_size(self):
        """Return the size as a clerk reads it: 356 KB, 2.4 MB."""
        if self.size >= 1024 * 1024:
            return f"{self.size / (1024 * 1024):.1f} MB"
        return f"{max(1, round(self.size / 1024))} KB"


class Holiday(models.Model):
    """A statutory holiday or make-up working day that staff enter for years the calendar library lacks."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("法定节假日（休息）")
        WORKDAY = "workday", _("调休上班日")

    date = models.DateField(_("日期"), unique=True)
    kind = models.CharField(_("类别"), max_length=10, choices=Kind)
    name = models.CharField(_("名称"), max_length=30, help_text=_("例如：春节、国庆节。"))

    class Meta:
        ordering = ["date"]
        verbose_name = _("节假日与调休")
        verbose_name_plural = _("节假日与调休")

    def __str__(self):
        return f"{self.date} {self.name}（{self.get_kind_display()}）"
