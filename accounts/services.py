"""Business steps of the accounts app: registration, enrolments, account status, credits, notices."""

import datetime
import logging
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import ledger
from .models import (
    ZERO,
    Account,
    AccountStatusChange,
    Enrolment,
    JournalTransaction,
    MonthlyCredit,
    Notice,
    Person,
    User,
)

logger = logging.getLogger(__name__)

REGISTRATION_MISMATCH = gettext_lazy(
    "未能完成实名认证：姓名、身份证号码与预留手机号须与参保登记一致，且尚未注册过。"
    "请核对后重试，或携带身份证到医保服务大厅办理。"
)


class ServiceError(Exception):
    """A business rule refused the step; the message is for the person who asked."""

    def __init__(self, message, *, code="refused"):
        super().__init__(message)
        self.message = message
        self.code = code


def system_account(region, kind):
    """Return the region's system account of `kind`, opening it on first use."""
    account, _created = Account.objects.get_or_create(region=region, kind=kind)
    return account


# Registration -------------------------------------------------------------------------------------


@transaction.atomic
def register_citizen(*, name, id_number, phone, password):
    """Create the login of a registered person whose name, ID number and phone all match."""
    person = (
        Person.objects.select_for_update()
        .filter(id_number=id_number.strip().upper(), name=name.strip(), phone=phone.strip())
        .filter(enrolments__status=Enrolment.Status.ACTIVE)
        .first()
    )
    # One message for every kind of mismatch, so the form cannot be used to probe the registry.
    if person is None or User.objects.filter(person=person).exists():
        raise ServiceError(REGISTRATION_MISMATCH, code="mismatch")
    user = User(username=person.id_number, first_name=person.name, person=person)
    validate_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise ServiceError(REGISTRATION_MISMATCH, code="mismatch") from None
    notify(
        person=person,
        title=_("欢迎使用医保个人账户服务"),
        body=_("您已完成实名注册。可以查看个人账户余额和明细，绑定家庭共济亲属，办理提取和转移。"),
        link="/account/",
    )
    return user


# Enrolments and accounts --------------------------------------------------------------------------


@transaction.atomic
def record_enrolment(
    *, person, region, insurance_type, employment="", contribution_base=None,
    contribution_months=0, started_on=None,
):
    """Record an enrolment an employer or the resident scheme made; employees get an account."""
    if Enrolment.objects.filter(person=person, status=Enrolment.Status.ACTIVE).exists():
        raise ServiceError(_("此人已有一条参保中的登记，请先办理停保。"), code="already_enrolled")
    enrolment = Enrolment(
        person=person,
        region=region,
        insurance_type=insurance_type,
        employment=employment,
        contribution_base=contribution_base,
        contribution_months=contribution_months,
        started_on=started_on or timezone.localdate(),
    )
    enrolment.full_clean()
    enrolment.save()
    if enrolment.is_employee:
        Account.objects.create(kind=Account.Kind.PERSONAL, region=region, enrolment=enrolment)
    return enrolment


@transaction.atomic
def stop_enrolment(*, enrolment, ended_on=None, status=Enrolment.Status.STOPPED):
    """Record that an enrolment stopped (停保) or ended; the account keeps its balance."""
    locked = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
    if locked.status != Enrolment.Status.ACTIVE:
        raise ServiceError(_("该参保登记已不是参保中状态。"), code="not_active")
    locked.status = status
    locked.ended_on = ended_on or timezone.localdate()
    locked.save(update_fields=["status", "ended_on"])
    enrolment.status, enrolment.ended_on = locked.status, locked.ended_on
    return locked


def personal_account_of(person):
    """Return the person's current personal account (the newest employee one), or None."""
    return (
        Account.objects.filter(kind=Account.Kind.PERSONAL, enrolment__person=person)
        .exclude(status=Account.Status.TRANSFERRED_OUT)
        .select_related("region", "enrolment")
        .order_by("-id")
        .first()
    )


@transaction.atomic
def change_account_status(*, account, to_status, actor, reason):
    """Freeze, unfreeze, close or reopen an account, recording who did it and why."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("请填写原因。"), code="reason_required")
    locked = Account.objects.select_for_update().get(pk=account.pk)
    if not locked.is_citizen_money:
        raise ServiceError(_("系统账户不能冻结、关闭或转出。"), code="system_account")
    allowed = ACCOUNT_STATUS_MOVES.get(locked.status, ())
    if to_status not in allowed:
        raise ServiceError(
            _("账户当前为“%(from)s”，不能改为“%(to)s”。")
            % {"from": locked.get_status_display(), "to": Account.Status(to_status).label},
            code="bad_status",
        )
    AccountStatusChange.objects.create(
        account=locked, from_status=locked.status, to_status=to_status, reason=reason, actor=actor
    )
    locked.status = to_status
    locked.save(update_fields=["status"])
    account.status = to_status
    return locked


ACCOUNT_STATUS_MOVES = {
    Account.Status.ACTIVE: (Account.Status.FROZEN, Account.Status.CLOSED, Account.Status.TRANSFERRED_OUT),
    Account.Status.FROZEN: (Account.Status.ACTIVE,),
    Account.Status.CLOSED: (Account.Status.ACTIVE,),
    Account.Status.TRANSFERRED_OUT: (),
}


def freeze_account(*, account, actor, reason):
    """Freeze a personal account: no credits, no spending, until unfrozen."""
    return change_account_status(account=account, to_status=Account.Status.FROZEN, actor=actor, reason=reason)


def unfreeze_account(*, account, actor, reason):
    """Lift a freeze."""
    return change_account_status(account=account, to_status=Account.Status.ACTIVE, actor=actor, reason=reason)


@transaction.atomic
def place_hold(*, account, hold, reference):
    """Mark an account as having an open application, refusing when another one is open."""
    locked = Account.objects.select_for_update().get(pk=account.pk)
    if locked.hold:
        raise ServiceError(
            _("该账户已有办理中的%(what)s（%(ref)s），请办结后再申请。")
            % {"what": locked.get_hold_display(), "ref": locked.hold_reference},
            code="account_on_hold",
        )
    locked.hold, locked.hold_reference = hold, reference
    locked.save(update_fields=["hold", "hold_reference"])
    account.hold, account.hold_reference = hold, reference
    return locked


@transaction.atomic
def release_hold(*, account, reference):
    """Clear the open-application mark that `reference` placed."""
    updated = Account.objects.filter(pk=account.pk, hold_reference=reference).update(
        hold=Account.Hold.NONE, hold_reference=""
    )
    if updated:
        account.hold, account.hold_reference = Account.Hold.NONE, ""
    return bool(updated)


# Monthly credit -----------------------------------------------------------------------------------


@dataclass
class CreditSummary:
    month: datetime.date
    credited: int = 0
    already_credited: int = 0
    skipped_unavailable: int = 0
    total: Decimal = field(default_factory=lambda: ZERO)

    def __str__(self):
        return (
            f"{self.month:%Y-%m}: credited {self.credited} accounts, total {self.total}; "
            f"already credited {self.already_credited}; "
            f"skipped {self.skipped_unavailable} frozen, closed or transferred accounts"
        )


def credit_for(enrolment, month):
    """Return (amount, base, rate, computation text) of the month's credit for an enrolment."""
    region = enrolment.region
    label = _("%(year)d年%(month)d月 划入") % {"year": month.year, "month": month.month}
    if enrolment.is_retired:
        amount = region.retiree_monthly_credit
        text = _("%(label)s ¥%(amount)s = 退休人员定额") % {"label": label, "amount": f"{amount:,.2f}"}
        return amount, None, None, text
    base, rate = enrolment.contribution_base, region.employee_credit_rate
    amount = (base * rate / 100).quantize(ledger.CENT, rounding=ROUND_HALF_UP)
    text = _("%(label)s ¥%(amount)s = 缴费基数 ¥%(base)s × %(rate)s%%") % {
        "label": label,
        "amount": f"{amount:,.2f}",
        "base": f"{base:,.2f}",
        "rate": f"{rate.normalize():f}",
    }
    return amount, base, rate, text


def credit_monthly(*, month):
    """Credit every active employee's personal account for `month` (a date), each at most once."""
    month = month.replace(day=1)
    summary = CreditSummary(month=month)
    accounts = (
        Account.objects.filter(
            kind=Account.Kind.PERSONAL,
            enrolment__status=Enrolment.Status.ACTIVE,
            enrolment__insurance_type=Enrolment.InsuranceType.EMPLOYEE,
        )
        .select_related("enrolment__region", "enrolment__person", "region")
        .order_by("pk")
    )
    already = set(MonthlyCredit.objects.filter(month=month).values_list("account_id", flat=True))
    sources = {}
    for account in accounts.iterator(chunk_size=500):
        if account.pk in already:
            summary.already_credited += 1
            continue
        if account.status != Account.Status.ACTIVE:
            summary.skipped_unavailable += 1
            continue
        amount, base, rate, text = credit_for(account.enrolment, month)
        if amount <= 0:
            continue
        if account.region_id not in sources:
            sources[account.region_id] = system_account(account.region, Account.Kind.CREDIT_SOURCE)
        try:
            credited = _credit_one(account, sources[account.region_id], month, amount, base, rate, text)
        except ledger.AccountUnavailable:
            # Frozen between our read and the lock: it gets nothing this month.
            summary.skipped_unavailable += 1
            continue
        if credited:
            summary.credited += 1
            summary.total += amount
        else:
            summary.already_credited += 1
    logger.info("monthly credit %s", summary)
    return summary


@transaction.atomic
def _credit_one(account, source, month, amount, base, rate, text):
    journal = ledger.post(
        kind=JournalTransaction.Kind.CREDIT,
        lines=[ledger.Line(source, -amount), ledger.Line(account, amount)],
        description=text,
        idempotency_key=f"credit:{account.pk}:{month:%Y-%m}",
    )
    if journal.replayed:
        return False
    MonthlyCredit.objects.create(
        account=account,
        month=month,
        amount=amount,
        contribution_base=base,
        rate=rate,
        computation=text,
        transaction=journal,
    )
    return True


# Notices ------------------------------------------------------------------------------------------


def notify(*, person, title, body, link=""):
    """Leave a notice in the person's inbox."""
    return Notice.objects.create(person=person, title=title, body=body, link=link)


def mark_notice_read(*, notice):
    """Mark a notice read the first time it is opened."""
    if notice.read_at is None:
        notice.read_at = timezone.now()
        Notice.objects.filter(pk=notice.pk, read_at__isnull=True).update(read_at=notice.read_at)
    return notice
