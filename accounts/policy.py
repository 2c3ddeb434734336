"""Policy parameters over time: which version was in force on a day, and keeping versions.

Every rule that reads a parameter asks `in_force(region, day)` with its own day: a monthly credit the
credited month's first day, a binding the day it is requested, a quota top-up the moment it is made, a
deadline the day the application is submitted or accepted. Premiums are asked for their premium year.

A version takes effect on a later day than the one it is entered on: a version in force is final (the
models and, on PostgreSQL, a trigger refuse to change it), and one that reached back would change the rule
of days already past, whose credits and deadlines were worked out under the old one.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from .models import Enrolment, PolicyVersion, PremiumRate, citizens_today
from .services import ServiceError

# The fields of a version that staff set; the rest (region, day, document, who and when) frame them.
PARAMETERS = (
    "employee_credit_rate", "retiree_monthly_credit", "sharing_scope", "sharing_scope_since",
    "max_sharing_relatives", "quota_topup_limit", "quota_topups_per_day", "quota_quiet_from",
    "quota_quiet_until",
    "withdrawal_review_days", "withdrawal_payment_days", "transfer_out_days", "transfer_in_days",
)
# What decides a monthly credit: a change to either is told to every citizen it affects.
CREDIT_PARAMETERS = ("employee_credit_rate", "retiree_monthly_credit")


def in_force(region, day):
    """Return the region's version in force on `day`; refuse when the region had none yet."""
    versions = PolicyVersion.objects.filter(region=region, effective_from__lte=day)
    version = versions.order_by("-effective_from").first()
    if version is None:
        raise ServiceError(
            _("%(region)s在%(day)s还没有生效的政策参数，请联系医保经办机构。")
            % {"region": region.name, "day": day_words(day)},
            code="no_policy",
        )
    version.region = region
    return version


def versions_on(day, *, regions=None):
    """Return {region id: version in force on `day`} for `regions` (default: every region that has one)."""
    versions = PolicyVersion.objects.filter(effective_from__lte=day).select_related("region")
    if regions is not None:
        versions = versions.filter(region__in=regions)
    # The newest version of each region: ordered by day, the last one per region wins.
    found = {}
    for version in versions.order_by("region_id", "effective_from"):
        found[version.region_id] = version
    return found


def preceding(version):
    """Return the version that was in force the day before `version` took effect, or None."""
    return (
        PolicyVersion.objects.filter(region_id=version.region_id, effective_from__lt=version.effective_from)
        .order_by("-effective_from")
        .first()
    )


def next_widening(region, day):
    """Return the first version after `day` that admits all close relatives for sharing, or None."""
    return (
        PolicyVersion.objects.filter(
            region=region, effective_from__gt=day, sharing_scope=PolicyVersion.SharingScope.CLOSE_RELATIVES
        )
        .order_by("effective_from")
        .first()
    )


def premium_rate(region, year):
    """Return the region's individual contributions for premium year `year`, or None if not published."""
    return PremiumRate.objects.filter(region=region, year=year).first()


def day_words(day):
    return _("%(year)d年%(month)d月%(day)d日") % {"year": day.year, "month": day.month, "day": day.day}


# Keeping versions ---------------------------------------------------------------------------------


def check_effective_from(effective_from):
    """Refuse a date on which a new or changed version could not take effect."""
    if effective_from <= citizens_today():
        raise ServiceError(
            _("生效日期须晚于今天：已过去的日子按当时的版本执行，不能改变。"), code="effective_in_the_past"
        )


def check_can_change(version):
    """Refuse to change or withdraw a version already in force."""
    if version.pk is not None and version.is_in_force:
        raise ServiceError(
            _("%(day)s起已生效的版本不能修改或撤回；如需更正，请新增一个版本。")
            % {"day": day_words(version.effective_from)},
            code="in_force",
        )


@transaction.atomic
def add_version(*, region, effective_from, document, actor, **parameters):
    """Add a version of the region's parameters that takes effect on a later day."""
    check_effective_from(effective_from)
    version = PolicyVersion(
        region=region, effective_from=effective_from, document=document.strip(), created_by=actor,
        **parameters,
    )
    _validate(version)
    try:
        with transaction.atomic():
            version.save()
    except IntegrityError:
        # Another clerk entered a version for the same day a moment ago.
        raise ServiceError(_("该统筹区在这一天已有一个版本。"), code="duplicate_day") from None
    return version


def _validate(row):
    try:
        row.full_clean()
    except ValidationError as error:
        raise ServiceError(" ".join(error.messages), code="invalid") from None


@transaction.atomic
def change_version(*, version, actor, **changes):
    """Change a version that has not taken effect yet."""
    locked = PolicyVersion.objects.select_for_update().get(pk=version.pk)
    check_can_change(locked)
    return _save_changed(locked, changes, actor, check=lambda row: check_effective_from(row.effective_from))


@transaction.atomic
def withdraw_version(*, version, actor):
    """Withdraw a version that has not taken effect yet; its history keeps the record."""
    locked = PolicyVersion.objects.select_for_update().get(pk=version.pk)
    check_can_change(locked)
    _withdraw(locked, actor)


def _save_changed(row, changes, actor, *, check):
    for name, value in changes.items():
        setattr(row, name, value)
    check(row)
    _validate(row)
    row._history_user = actor  # django-simple-history's way of naming who changed the row
    row.save()
    return row


def _withdraw(row, actor):
    row._history_user = actor
    row.delete()


def credit_changes(version, previous=None):
    """Return what `version` changes in monthly credits against the one before it, as (label, old, new)."""
    previous = previous if previous is not None else preceding(version)
    if previous is None:
        return []
    changes = []
    if previous.employee_credit_rate != version.employee_credit_rate:
        changes.append(
            (_("在职职工划入比例"), f"{previous.employee_credit_rate.normalize():f}%",
             f"{version.employee_credit_rate.normalize():f}%")
        )
    if previous.retiree_monthly_credit != version.retiree_monthly_credit:
        changes.append(
            (_("退休人员每月定额"), f"¥{previous.retiree_monthly_credit:,.2f}",
             f"¥{version.retiree_monthly_credit:,.2f}")
        )
    return changes


def affected_count(version, previous):
    """Return how many people with an active employee enrolment in the region a credit change reaches."""
    enrolments = Enrolment.objects.filter(
        region_id=version.region_id,
        status=Enrolment.Status.ACTIVE,
        insurance_type=Enrolment.InsuranceType.EMPLOYEE,
    )
    kinds = []
    if previous.employee_credit_rate != version.employee_credit_rate:
        kinds.append(Enrolment.Employment.IN_SERVICE)
    if previous.retiree_monthly_credit != version.retiree_monthly_credit:
        kinds.append(Enrolment.Employment.RETIRED)
    return enrolments.filter(employment__in=kinds).count()


def check_premium_year(year):
    """Refuse a premium year already begun: its contributions are being paid at the published rates."""
    if year <= citizens_today().year:
        raise ServiceError(
            _("只能录入或修改以后年度的缴费标准：%(year)d年度已经开始。") % {"year": year}, code="year_begun"
        )


@transaction.atomic
def add_premium_rate(*, region, year, resident_premium, ltc_premium, document, actor):
    """Publish a region's individual contributions for a premium year still to come."""
    check_premium_year(year)
    rate = PremiumRate(
        region=region, year=year, resident_premium=resident_premium, ltc_premium=ltc_premium,
        document=document.strip(), created_by=actor,
    )
    _validate(rate)
    rate.save()
    return rate


@transaction.atomic
def change_premium_rate(*, rate, actor, **changes):
    """Correct the contributions of a premium year that has not begun."""
    locked = PremiumRate.objects.select_for_update().get(pk=rate.pk)
    check_premium_year(locked.year)
    return _save_changed(locked, changes, actor, check=lambda row: check_premium_year(row.year))


@transaction.atomic
def withdraw_premium_rate(*, rate, actor):
    """Withdraw the contributions of a premium year that has not begun."""
    locked = PremiumRate.objects.select_for_update().get(pk=rate.pk)
    check_premium_year(locked.year)
    _withdraw(locked, actor)
