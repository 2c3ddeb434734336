"""Business steps of the accounts app: registration, enrolments, account status, notices."""

import functools
import logging
import re
from dataclasses import dataclass

from axes.utils import reset as axes_reset
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.utils import update_change_reason

from . import sms, sql
from .models import (
    CITIZENS_TIME_ZONE,  # noqa: F401 (the citizens' calendar, which the feature apps import from here)
    Account,
    AccountStatusChange,
    Enrolment,
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


@dataclass(frozen=True)
class Answer:
    """A service's answer to "may this person do this now": yes, or no with why and what to do.

    Each service has one function returning it (`may_withdraw`, `may_transfer`, `may_bind`,
    `may_top_up`); its page shows the answer before any form, and the service itself raises the refusal,
    so the two never disagree.
    """

    allowed: bool
    message: str = ""
    code: str = ""
    link: str = ""
    link_text: str = ""

    @classmethod
    def yes(cls, message=""):
        return cls(allowed=True, message=message)

    @classmethod
    def no(cls, refusal, *, link="", link_text=""):
        """The answer for the ServiceError `refusal`, with where to go instead if there is somewhere."""
        return cls(allowed=False, message=refusal.message, code=refusal.code, link=link, link_text=link_text)

    def __bool__(self):
        return self.allowed

    def raise_if_refused(self):
        if not self.allowed:
            raise ServiceError(self.message, code=self.code)


def system_account(region, kind):
    """Return the region's system account of `kind`, opening it on first use."""
    account, _created = Account.objects.get_or_create(region=region, kind=kind)
    return account


# Registration -------------------------------------------------------------------------------------


def find_registrant(*, name, id_number, phone):
    """Return the person whose name, ID number and reserved phone all match and who has no login, or None."""
    return (
        Person.objects.filter(id_number=id_number.strip().upper(), name=name.strip(), phone=phone.strip())
        .filter(enrolments__status=Enrolment.Status.ACTIVE, user__isnull=True)
        .first()
    )


@transaction.atomic
def register_citizen(*, name, id_number, phone, password_hash):
    """Create the login of a registered person whose name, ID number and phone all match.

    The password was checked against the validators and hashed by the form; the caller has seen the code
    sent to the reserved phone entered (DOMAIN.md, "Proving who you are").
    """
    person = (
        Person.objects.select_for_update()
        .filter(id_number=id_number.strip().upper(), name=name.strip(), phone=phone.strip())
        .filter(enrolments__status=Enrolment.Status.ACTIVE)
        .first()
    )
    # One message for every kind of mismatch, so the form cannot be used to probe the registry.
    if person is None or User.objects.filter(person=person).exists():
        raise ServiceError(REGISTRATION_MISMATCH, code="mismatch")
    user = User(username=person.id_number, first_name=person.name, person=person, password=password_hash)
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


def find_login_for_reset(*, id_number, phone):
    """Return the citizen login whose person has this ID number and reserved phone, or None."""
    return (
        User.objects.filter(
            person__id_number=id_number.strip().upper(), person__phone=phone.strip(), is_active=True
        )
        .select_related("person")
        .first()
    )


@transaction.atomic
def reset_password(*, user, password):
    """Set a new password for a citizen who proved the reserved phone, and lift any login lock.

    A new password changes the session hash Django keeps in every session, so every other session of
    this login ends at its next request.
    """
    validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    # django-axes' lock of this login name, from any address (the visitor proved the phone).
    axes_reset(username=user.username)
    notify(
        person=user.person,
        title=_("登录密码已重设"),
        body=_(
            "您的登录密码已于%(when)s通过预留手机号的验证码重设，其他设备上的登录已全部退出。"
            "如果不是您本人操作，请立即携带身份证到医保服务大厅办理。"
        )
        % {"when": timezone.localtime().strftime("%Y-%m-%d %H:%M")},
        link="/account/",
    )
    return user


@transaction.atomic
def change_reserved_phone(*, person, phone, actor):
    """Change a person's reserved phone at the counter (on sight of the ID card) and tell both numbers.

    The history of the person row records who changed it and what it was (django-simple-history).
    """
    old = Person.objects.select_for_update().only("phone").get(pk=person.pk).phone
    if phone == old:
        return person
    person.phone = phone
    person.save(update_fields=["phone"])
    update_change_reason(person, _("窗口凭身份证变更预留手机号"))
    text = _(
        "【医保个人账户】您的医保预留手机号已于%(when)s在医保服务大厅变更为尾号%(tail)s。"
        "如果不是您本人办理，请立即拨打12393。"
    ) % {"when": timezone.localtime().strftime("%Y-%m-%d %H:%M"), "tail": phone[-4:]}
    # Sent once the change is committed: a rolled-back change must not announce itself.
    for number in (old, phone):
        transaction.on_commit(functools.partial(_text_notice, number, text))
    notify(
        person=person,
        title=_("预留手机号已变更"),
        body=_("您的预留手机号已在医保服务大厅变更为尾号%(tail)s，原号码和新号码都已收到短信。"
               "如果不是您本人办理，请立即拨打医保服务热线 12393。") % {"tail": phone[-4:]},
        link="/account/profile/",
    )
    return person


def _text_notice(phone, text):
    try:
        sms.send(sms.Message(to=phone, purpose="phone_changed", text=text))
    except sms.SmsError:
        logger.exception("notice of a changed reserved phone was refused by the provider")


# Enrolments and accounts --------------------------------------------------------------------------

ALREADY_ENROLLED = gettext_lazy("此人已有一条参保中的登记，请先办理停保。")
# The personal-account statuses in which a new employee enrolment in the same region keeps using it.
CONTINUING_STATUSES = (Account.Status.ACTIVE, Account.Status.FROZEN)


@transaction.atomic
def record_enrolment(
    *, person, region, insurance_type, employment="", contribution_base=None,
    contribution_months=0, started_on=None,
):
    """Record an enrolment an employer or the resident scheme made; employees get an account."""
    # Two clerks recording for one person at once queue on this lock; the second then sees the first's row.
    Person.objects.select_for_update().only("pk").get(pk=person.pk)
    _check_not_enrolled(person)
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
    try:
        with transaction.atomic():
            enrolment.save()
    except IntegrityError:
        # The one-active-enrolment constraint, should another transaction have slipped in regardless.
        raise ServiceError(ALREADY_ENROLLED, code="already_enrolled") from None
    enrolment.kept_account = False
    if enrolment.is_employee:
        enrolment.kept_account = _attach_personal_account(enrolment)
    return enrolment


def _check_not_enrolled(person):
    if Enrolment.objects.filter(person=person, status=Enrolment.Status.ACTIVE).exists():
        raise ServiceError(ALREADY_ENROLLED, code="already_enrolled")


def _attach_personal_account(enrolment):
    """Link the person's open account in the region to the enrolment, or open one; True if kept."""
    # A new job in the same region is a new enrolment, but the money, its statement and its credits
    # stay in the one account; only a closed or transferred-out account is left behind.
    region = enrolment.region
    same_pool = Q(region=region)
    if region.province.accounts_province_wide:
        # Accounts used province-wide (省内个人账户通用): the account follows its holder to another region of
        # the province with its money, so a transfer there moves none; the account's region of record
        # changes only when that transfer (转移接续) completes.
        same_pool = Q(region__province_id=region.province_id)
    account = (
        Account.objects.select_for_update(of=("self",))
        .filter(
            same_pool,
            kind=Account.Kind.PERSONAL,
            enrolment__person=enrolment.person,
            status__in=CONTINUING_STATUSES,
        )
        .order_by("-id")
        .first()
    )
    kept = account is not None
    if kept:
        account.enrolment = enrolment
        account.save(update_fields=["enrolment"])
    else:
        account = Account.objects.create(
            kind=Account.Kind.PERSONAL, region=enrolment.region, enrolment=enrolment
        )
    # Bookkeeping of the step that recorded the enrolment, not a change to it: no second history row.
    Enrolment.objects.filter(pk=enrolment.pk).update(personal_account=account)
    enrolment.personal_account = account
    return kept


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


@transaction.atomic
def record_transfer_out(*, enrolment):
    """Mark a stopped enrolment as transferred out (已转出): its relationship has moved to another region."""
    locked = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
    if locked.status != Enrolment.Status.STOPPED:
        raise ServiceError(
            _("该参保登记为“%(status)s”，只有停保的登记才能办理转出。") % {"status": locked.get_status_display()},
            code="not_stopped",
        )
    locked.status = Enrolment.Status.TRANSFERRED_OUT
    locked.save(update_fields=["status"])
    enrolment.status = locked.status
    return locked


def add_contribution_months(*, enrolment, months):
    """Add the contribution months (缴费年限) carried over from another region to an enrolment."""
    if months < 0:
        raise ValueError("months must not be negative")
    # An F() update: a clerk correcting the same enrolment at the same moment loses nothing.
    Enrolment.objects.filter(pk=enrolment.pk).update(contribution_months=F("contribution_months") + months)
    enrolment.refresh_from_db(fields=["contribution_months"])
    return enrolment


@transaction.atomic
def change_account_region(*, account, region):
    """Record a personal account under another region of the same province, its money untouched."""
    locked = Account.objects.select_for_update().select_related("region").get(pk=account.pk)
    if locked.kind != Account.Kind.PERSONAL:
        raise ServiceError(_("只有个人账户可以变更参保地。"), code="not_personal")
    if locked.region.province_id != region.province_id:
        raise ServiceError(_("个人账户只能在同一省内变更参保地。"), code="other_province")
    if locked.status != Account.Status.ACTIVE:
        # A freeze stays with the region that made it (its clerks alone see the account to lift it), as a
        # frozen account's money stays where it is; the change waits until the account is usable again.
        raise ServiceError(
            _("个人账户当前为“%(status)s”状态，暂不能变更参保地。") % {"status": locked.get_status_display()},
            code="account_unavailable",
        )
    locked.region = region
    locked.save(update_fields=["region"])
    account.region = region
    return locked


def personal_account_of(person):
    """Return the person's current personal account (the newest employee one), or None."""
    return (
        Account.objects.filter(kind=Account.Kind.PERSONAL, enrolment__person=person)
        .exclude(status=Account.Status.TRANSFERRED_OUT)
        .select_related("region", "enrolment__region")
        .order_by("-id")
        .first()
    )


@transaction.atomic
def change_account_status(*, account, to_status, actor, reason, from_status=None):
    """Freeze, unfreeze, close or reopen an account, recording who did it and why.

    With `from_status` the move is made only from that status (unfreezing lifts a freeze and nothing else).
    """
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("请填写原因。"), code="reason_required")
    locked = Account.objects.select_for_update().get(pk=account.pk)
    if not locked.is_citizen_money:
        raise ServiceError(_("系统账户不能冻结、关闭或转出。"), code="system_account")
    if from_status is not None and locked.status != from_status:
        raise ServiceError(
            _("账户当前为“%(from)s”，不是“%(expected)s”状态，不能改为“%(to)s”。")
            % {
                "from": locked.get_status_display(),
                "expected": Account.Status(from_status).label,
                "to": Account.Status(to_status).label,
            },
            code="bad_status",
        )
    if to_status not in ACCOUNT_STATUS_MOVES.get(locked.status, ()):
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


# A closed account is reopened only by the step that closed it being undone (a bank returning a payout).
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
    """Lift a freeze; a closed or transferred-out account is not reopened here."""
    return change_account_status(
        account=account,
        from_status=Account.Status.FROZEN,
        to_status=Account.Status.ACTIVE,
        actor=actor,
        reason=reason,
    )


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


# Notices ------------------------------------------------------------------------------------------


def notify(*, person, title, body, link="", needs_action=False):
    """Leave a notice in the person's inbox: one asking for an action (at `link`) or one that informs."""
    fields = notice_fields(title=title, body=body, link=link, needs_action=needs_action)
    return Notice.objects.create(person=person, **fields)


def notice_fields(*, title, body, link="", needs_action=False):
    """The fields of a notice, its text with one full stop where a reason typed by staff brought its own."""
    return {
        "title": one_full_stop(title),
        "body": one_full_stop(body),
        "link": link,
        "needs_action": needs_action,
    }


def one_full_stop(text):
    return re.sub(r"([。！？])[。.]+", r"\1", str(text))


def mark_all_notices_read(*, person):
    """Mark every unread notice of the person read."""
    marked = Notice.objects.filter(person=person, read_at__isnull=True).update(read_at=timezone.now())
    notices_changed(person.pk)
    return marked


def mark_notice_read(*, notice):
    """Mark a notice read the first time it is opened."""
    if notice.read_at is None:
        notice.read_at = timezone.now()
        Notice.objects.filter(pk=notice.pk, read_at__isnull=True).update(read_at=notice.read_at)
        notices_changed(notice.person_id)
    return notice


# Every page's header says how many notices are unread; the count is kept in the shared cache until a notice
# arrives or is read (notices_changed), at most UNREAD_SECONDS, which bounds a count read just before a change
# and stored just after it.
UNREAD_SECONDS = 60


def _unread_key(person_id):
    return f"notices:unread:{person_id}"


def unread_notice_count(person_id):
    """Return how many of the person's notices are unread, from the cache when it holds the count."""
    key = _unread_key(person_id)
    count = cache.get(key)
    if count is None:
        count = Notice.objects.filter(person_id=person_id, read_at__isnull=True).count()
        cache.set(key, count, UNREAD_SECONDS)
    return count


def notices_changed(*person_ids):
    """Forget the unread counts of these persons: now, and again once the change is committed."""
    keys = [_unread_key(person_id) for person_id in set(person_ids)]

    def forget():
        for start in range(0, len(keys), 1000):
            cache.delete_many(keys[start : start + 1000])

    forget()
    transaction.on_commit(forget)


def leave_notices(notices):
    """Write a batch of unsaved notices in a few statements and forget their recipients' unread counts.

    The one way to write notices in bulk: such a write sends no signal, so a writer that skipped this would
    leave the header's count stale for up to UNREAD_SECONDS.
    """
    sql.insert(notices)
    notices_changed(*(notice.person_id for notice in notices))
    return notices


def notice_saved(sender, instance, **kwargs):
    """Signal receiver for a notice saved or deleted one at a time (a bulk write calls notices_changed)."""
    notices_changed(instance.person_id)
