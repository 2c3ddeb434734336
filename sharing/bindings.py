"""Business steps of family sharing (家庭共济): binding a relative, consent, quotas, premiums and ending.

The citizen's pages, the admin desk, the enrolment signal and the `expire_bindings` command call these same
functions, so each rule is checked once. Every yuan moves through accounts.ledger.post inside the step's
transaction: a refusal leaves nothing behind.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import ledger, policy
from accounts.models import ZERO, Account, Enrolment, JournalTransaction, Person, PolicyVersion, User
from accounts.scoping import regions_of
from accounts.services import (
    CITIZENS_TIME_ZONE,
    Answer,
    ServiceError,
    notify,
    personal_account_of,
    system_account,
)
from review import materials as review_materials

from .models import CLOSE_RELATIVES, NUCLEAR_FAMILY, Binding, PremiumPayment, QuotaTopUp, Relation

Status, Way, Consent, EndReason = Binding.Status, Binding.Way, Binding.Consent, Binding.EndReason

# A relative this old with a login of their own confirms the binding; anyone younger, or without a login,
# is bound at once on the payer's promise.
CONSENT_AGE = 16
CONFIRMATION_PERIOD = datetime.timedelta(days=7)
# Offered in the citizen's relation list only so that choosing it earns a clear refusal.
PARENT_IN_LAW = "parent_in_law"
COUNTER_MATERIAL_KIND = "promise"
COUNTER_MATERIAL_LABEL = gettext_lazy("共济承诺书或委托书")

BIND_AT_COUNTER = "sharing.bind_at_counter"
END_BINDING = "sharing.end_binding"

PROMISE = gettext_lazy(
    "本人承诺：所填亲属关系真实；亲属未满16周岁或未注册本服务的，由本人代为确认共济关系，"
    "并已告知亲属本人或其监护人。如有不实，本人愿承担相应法律责任，已共济的资金依法追回。"
)
COUNTER_PROMISE = gettext_lazy(
    "共济人在医保服务窗口签署了书面承诺（或由代办人提交了委托书），经办人员已核验并留存材料。"
)
# One answer for every way the relative's details can fail to match, so that the form cannot be used
# to find out who is insured, alive or registered.
RELATIVE_MISMATCH = gettext_lazy(
    "未能核对到这位亲属的参保登记：姓名和身份证号码须与参保登记完全一致，且对方须正在参保。"
    "请核对后重试，或携带双方身份证件到医保服务大厅办理。"
)
NOT_A_PAYER = gettext_lazy(
    "只有正在参加职工医保、有个人账户的参保人（在职或退休）才能用个人账户为亲属共济。"
)
COUNTER_NOT_FOUND = gettext_lazy(
    "未找到本统筹区正在参加职工医保的共济人，请核对身份证号码。共济人须到本人参保地的窗口办理。"
)
PARENTS_IN_LAW_REFUSED = gettext_lazy(
    "岳父母、公婆不属于近亲属，不能建立家庭共济关系。可以共济的近亲属是：配偶、父母、子女、"
    "兄弟姐妹、祖父母、外祖父母、孙子女、外孙子女。"
)


# Time ---------------------------------------------------------------------------------------------


def local(now):
    """Return `now` on the citizens' clock (Asia/Shanghai), whatever the server's settings say."""
    return timezone.localtime(now, CITIZENS_TIME_ZONE)


def local_day(now):
    """Return the start of the citizens' calendar day containing `now`, and of the next one."""
    start = datetime.datetime.combine(local(now).date(), datetime.time.min, tzinfo=CITIZENS_TIME_ZONE)
    return start, start + datetime.timedelta(days=1)


def limits_at(region, now):
    """Return the region's policy version in force at the moment `now` (the citizens' day of it)."""
    return policy.in_force(region, local(now).date())


def in_quiet_hours(limits, now):
    """Return whether `now` falls in the nightly pause for quota top-ups of `limits` (it may wrap midnight)."""
    start, end = limits.quota_quiet_from, limits.quota_quiet_until
    moment = local(now).time()
    if start == end:
        return False
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


# Who may share with whom --------------------------------------------------------------------------


def admitted_relations(region, day):
    """Return the relations the region admits for sharing on `day`, by the version then in force.

    All near relatives (国办发〔2024〕38号) where the version admits them, from its date for them; before that
    date, and in a region still on the 2021 list (国办发〔2021〕14号), only spouse, parents and children.
    """
    if _widened_from(policy.in_force(region, day)) <= day:
        return CLOSE_RELATIVES
    return NUCLEAR_FAMILY


def _widened_from(version):
    """The first day a version admits all near relatives (date.max if it never does)."""
    if version.sharing_scope != PolicyVersion.SharingScope.CLOSE_RELATIVES:
        return datetime.date.max
    return max(version.effective_from, version.sharing_scope_since)


def check_relation(region, relation, day):
    """Refuse a relation the payer's region does not admit, saying why."""
    if relation == PARENT_IN_LAW:
        raise ServiceError(str(PARENTS_IN_LAW_REFUSED), code="parent_in_law")
    if relation not in Relation.values:
        raise ServiceError(_("请选择亲属是您的什么人。"), code="unknown_relation")
    if Relation(relation) in admitted_relations(region, day):
        return
    label = Relation(relation).label
    later = [_widened_from(policy.in_force(region, day))]
    if (widening := policy.next_widening(region, day)) is not None:
        later.append(_widened_from(widening))
    since = min(later)
    if since != datetime.date.max:
        raise ServiceError(
            _(
                "%(region)s自%(since)s起可以为全部近亲属办理家庭共济；在此之前只能为配偶、父母、子女办理，"
                "“%(relation)s”暂不在范围内。"
            )
            % {"region": region.name, "since": policy.day_words(since), "relation": label},
            code="relation_not_admitted",
        )
    raise ServiceError(
        _("%(region)s目前只能为配偶、父母、子女办理家庭共济，“%(relation)s”不在范围内。")
        % {"region": region.name, "relation": label},
        code="relation_not_admitted",
    )


def active_enrolment(person):
    """Return the person's active enrolment (at most one exists), with its region, or None."""
    return (
        Enrolment.objects.filter(person=person, status=Enrolment.Status.ACTIVE)
        .select_related("region__province")
        .first()
    )


def payer_standing(payer):
    """Return (enrolment, personal account) of a person who may share, or refuse saying why."""
    enrolment = active_enrolment(payer)
    if payer.is_deceased or enrolment is None or not enrolment.is_employee:
        raise ServiceError(str(NOT_A_PAYER), code="not_a_payer")
    account = personal_account_of(payer)
    if account is None:
        raise ServiceError(str(NOT_A_PAYER), code="not_a_payer")
    if account.status != Account.Status.ACTIVE:
        raise ServiceError(
            _("您的个人账户当前为“%(status)s”状态，暂不能办理家庭共济。如有疑问请到医保服务大厅咨询。")
            % {"status": account.get_status_display()},
            code="account_unavailable",
        )
    return enrolment, account


def may_bind(*, payer, now=None):
    """Answer whether `payer` may share with one more relative now, and if not why and what to do."""
    now = now or timezone.now()
    try:
        enrolment, _account = payer_standing(payer)
        _check_room_for_another(payer, enrolment.region, now)
    except ServiceError as refusal:
        return Answer.no(refusal)
    return Answer.yes()


def _check_room_for_another(payer, region, now):
    most = limits_at(region, now).max_sharing_relatives
    if Binding.objects.open().filter(payer=payer).count() >= most:
        raise ServiceError(
            _(
                "您已与%(max)d位亲属建立（或正在等待确认）共济关系，已达上限。"
                "请先解除不再需要的共济关系，或撤回待确认的请求。"
            )
            % {"max": most},
            code="too_many_relatives",
        )


def find_relative(*, name, id_number):
    """Return the insured, living person with exactly this name and ID number, or refuse uniformly."""
    relative = (
        Person.objects.filter(
            id_number=(id_number or "").strip().upper(),
            name=(name or "").strip(),
            died_on__isnull=True,
            enrolments__status=Enrolment.Status.ACTIVE,
        )
        .distinct()
        .first()
    )
    if relative is None:
        raise ServiceError(str(RELATIVE_MISMATCH), code="relative_mismatch")
    return relative


def check_way(way, region, relative_region):
    """Refuse direct sharing across provinces: there the money can only be set aside as a quota."""
    if way not in Way.values:
        raise ServiceError(_("请选择共济方式。"), code="unknown_way")
    if way == Way.DIRECT and region.province_id != relative_region.province_id:
        raise ServiceError(
            _(
                "您在%(region)s参保，这位亲属在%(other)s参保，不在同一省份。跨省共济只能选择“共济额度”："
                "先从您的个人账户划出一笔额度，亲属看病时从额度中支付。"
            )
            % {"region": region.name, "other": relative_region.name},
            code="direct_across_provinces",
        )


def needs_confirmation(relative, day):
    """Return whether the relative must confirm: 16 or older and able to log in."""
    if relative.age_on(day) < CONSENT_AGE:
        return False
    return User.objects.filter(person=relative, is_active=True).exists()


def _lock_people(*people):
    # Both sides, in id order: the payer's count of relatives and the relative's order of payers are
    # decided under these locks, so two requests at once cannot make an eleventh binding or tie an order.
    ids = sorted({person.pk for person in people})
    list(Person.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))


# Binding ------------------------------------------------------------------------------------------


def bind_relative(
    *, payer, relative_name, relative_id_number, relation, way, actor, promise_accepted, now=None,
):
    """Bind a relative the payer names online; pending their confirmation if they are 16+ with a login."""
    if not promise_accepted:
        raise ServiceError(_("请阅读并勾选共济承诺。"), code="promise_required")
    if (relative_id_number or "").strip().upper() == payer.id_number:
        raise ServiceError(_("不能与本人建立共济关系，请填写亲属的姓名和身份证号码。"), code="self")
    return _bind(
        payer=payer, relative_name=relative_name, relative_id_number=relative_id_number, relation=relation,
        way=way, consent=Consent.PROMISE, promise=str(PROMISE), clerk=None, now=now or timezone.now(),
    )


def bind_at_counter(
    *, clerk, payer_id_number, relative_name, relative_id_number, relation, way, uploaded_file, now=None,
):
    """Bind at the counter for a citizen who cannot use the site, keeping the signed promise as a material."""
    if not clerk.has_perm(BIND_AT_COUNTER):
        raise ServiceError(_("您没有窗口代办家庭共济的权限。"), code="no_permission")
    payer = Person.objects.filter(id_number=(payer_id_number or "").strip().upper()).first()
    enrolment = active_enrolment(payer) if payer else None
    # The clerk's region first: a clerk learns nothing about a person another region keeps.
    if enrolment is None or not regions_of(clerk).filter(pk=enrolment.region_id).exists():
        raise ServiceError(str(COUNTER_NOT_FOUND), code="not_in_region")
    if (relative_id_number or "").strip().upper() == payer.id_number:
        raise ServiceError(_("共济人和被共济人不能是同一人。"), code="self")
    try:
        # Decoding and re-encoding an image takes a moment: before any lock is taken.
        checked = review_materials.check_upload(uploaded_file)
    except ValidationError as error:
        raise ServiceError(" ".join(error.messages), code="bad_material") from None
    with transaction.atomic():
        binding = _bind(
            payer=payer, relative_name=relative_name, relative_id_number=relative_id_number,
            relation=relation, way=way, consent=Consent.COUNTER, promise=str(COUNTER_PROMISE), clerk=clerk,
            now=now or timezone.now(),
        )
        try:
            review_materials.add_material(
                application=binding, kind=COUNTER_MATERIAL_KIND, uploaded_file=uploaded_file, actor=clerk,
                checked=checked,
            )
        except ValidationError as error:
            raise ServiceError(" ".join(error.messages), code="bad_material") from None
    return binding


@transaction.atomic
def _bind(*, payer, relative_name, relative_id_number, relation, way, consent, promise, clerk, now):
    enrolment, _account = payer_standing(payer)
    region = enrolment.region
    check_relation(region, relation, local(now).date())
    relative = find_relative(name=relative_name, id_number=relative_id_number)
    if relative.pk == payer.pk:
        raise ServiceError(_("不能与本人建立共济关系，请填写亲属的姓名和身份证号码。"), code="self")
    relative_region = active_enrolment(relative).region
    check_way(way, region, relative_region)
    _lock_people(payer, relative)
    if Binding.objects.open().filter(payer=payer, relative=relative).exists():
        raise ServiceError(_("您与这位亲属已有生效或待确认的共济关系。"), code="already_bound")
    _check_room_for_another(payer, region, now)
    pending = clerk is None and needs_confirmation(relative, local(now).date())
    binding = Binding(
        payer=payer, relative=relative, relation=relation, way=way, region=region,
        relative_region=relative_region, promise=promise, created_by=clerk, requested_at=now,
        status=Status.PENDING, expires_at=now + CONFIRMATION_PERIOD if pending else None,
    )
    try:
        with transaction.atomic():
            binding.save()
    except IntegrityError:
        # The one-open-binding-per-pair constraint, should a request at the same moment have slipped past.
        raise ServiceError(_("您与这位亲属已有生效或待确认的共济关系。"), code="already_bound") from None
    if pending:
        _notify_request(binding)
    else:
        _activate(binding, consent=consent, now=now)
        _notify_made(binding)
    return binding


def _activate(binding, *, consent, now):
    """Put a binding in force: last in the relative's order of payers, with its quota account if any."""
    last = (
        Binding.objects.filter(relative_id=binding.relative_id, status=Status.ACTIVE)
        .exclude(pk=binding.pk)
        .aggregate(last=Max("priority"))["last"]
    )
    binding.priority = (last or 0) + 1
    binding.status, binding.consent, binding.started_at = Status.ACTIVE, consent, now
    if binding.uses_quota and binding.quota_account_id is None:
        binding.quota_account = Account.objects.create(kind=Account.Kind.QUOTA, region_id=binding.region_id)
    binding.save(update_fields=["priority", "status", "consent", "started_at", "quota_account"])


def _locked(binding):
    return (
        Binding.objects.select_for_update(of=("self",))
        .select_related("payer", "relative", "region__province", "relative_region__province")
        .get(pk=binding.pk)
    )


def _copy_state(source, target):
    for name in ("status", "consent", "priority", "started_at", "ended_at", "end_reason", "end_note",
                 "quota_account_id", "expires_at"):
        setattr(target, name, getattr(source, name))
    target.ended_by_id = source.ended_by_id
    return target


def _already_handled(binding):
    return ServiceError(
        _("该共济关系当前为“%(status)s”，无需再办理。") % {"status": binding.get_status_display()},
        code="already_handled",
    )


def confirm_binding(*, binding, actor, now=None):
    """The relative agrees to a pending request within its 7 days; the binding comes into force."""
    now = now or timezone.now()
    _check_is_relative(binding, actor)
    # Each in its own transaction, so that what they record stays when the confirmation is then refused.
    expire_overdue(queryset=Binding.objects.filter(pk=binding.pk), now=now)
    end_unsupported(queryset=Binding.objects.filter(pk=binding.pk), now=now)
    with transaction.atomic():
        locked = _locked(binding)
        if locked.status == Status.EXPIRED:
            raise ServiceError(
                _("这个共济请求已超过7天确认期限，已经失效。如仍需共济，请对方重新申请。"), code="expired"
            )
        if locked.status != Status.PENDING:
            raise _already_handled(locked)
        _lock_people(locked.payer, locked.relative)
        # Between the request and the confirmation either side may have left, or the payer's account
        # been frozen: the rules hold on the day the binding comes into force.
        try:
            payer_standing(locked.payer)
        except ServiceError:
            raise ServiceError(
                _("共济人目前不能为您共济（参保或个人账户状态已变化），这个请求不能确认。"),
                code="payer_unavailable",
            ) from None
        _activate(locked, consent=Consent.CONFIRMED, now=now)
        _notify_confirmed(locked)
    return _copy_state(locked, binding)


def decline_binding(*, binding, actor, now=None):
    """The relative refuses a pending request."""
    _check_is_relative(binding, actor)
    return _close_pending(binding, status=Status.DECLINED, actor=actor, now=now or timezone.now())


def cancel_binding(*, binding, actor, now=None):
    """The payer withdraws a request the relative has not answered yet."""
    _check_is_payer(binding, actor)
    return _close_pending(binding, status=Status.CANCELLED, actor=actor, now=now or timezone.now())


def _close_pending(binding, *, status, actor, now):
    with transaction.atomic():
        locked = _locked(binding)
        if locked.status != Status.PENDING:
            raise _already_handled(locked)
        locked.status, locked.ended_at, locked.ended_by = status, now, actor
        locked.save(update_fields=["status", "ended_at", "ended_by"])
        if status == Status.DECLINED:
            _notify_declined(locked)
        else:
            _notify_cancelled(locked)
    return _copy_state(locked, binding)


def _check_is_relative(binding, actor):
    if actor.person_id is None or actor.person_id != binding.relative_id:
        raise ServiceError(_("只有被共济的亲属本人才能办理这一步。"), code="not_relative")


def _check_is_payer(binding, actor):
    if actor.person_id is None or actor.person_id != binding.payer_id:
        raise ServiceError(_("只有共济人本人才能办理这一步。"), code="not_payer")


# Expiry and automatic ending ----------------------------------------------------------------------


def expire_overdue(*, queryset=None, now=None):
    """Lapse pending requests (of `queryset`) past their 7 days and tell each payer; return how many."""
    now = now or timezone.now()
    due = (queryset if queryset is not None else Binding.objects.all()).filter(
        status=Status.PENDING, expires_at__lte=now
    )
    expired = 0
    for binding in due.select_related("payer", "relative"):
        with transaction.atomic():
            # Conditional on the status, so two sweeps at once lapse (and tell) it once.
            if Binding.objects.filter(pk=binding.pk, status=Status.PENDING).update(
                status=Status.EXPIRED, ended_at=now
            ):
                binding.status, binding.ended_at = Status.EXPIRED, now
                _notify_expired(binding)
                expired += 1
    return expired


def unsupported(queryset):
    """Return the open bindings of `queryset` that either side's enrolment, or death, no longer supports.

    The payer needs an active employee enrolment in the binding's region, the relative an active
    enrolment in theirs: a stopped, closed or transferred-out enrolment, or one in another region, ends it.
    So does a death the registry records, whatever the enrolment still says (an heir may withdraw the
    balance before the enrolment is closed): the quota must be back in the account by then.
    """
    active = Enrolment.objects.filter(status=Enrolment.Status.ACTIVE)
    payer_enrolled = active.filter(
        person=OuterRef("payer_id"), region=OuterRef("region_id"),
        insurance_type=Enrolment.InsuranceType.EMPLOYEE,
    )
    relative_enrolled = active.filter(person=OuterRef("relative_id"), region=OuterRef("relative_region_id"))
    return (
        queryset.open()
        .annotate(payer_enrolled=Exists(payer_enrolled), relative_enrolled=Exists(relative_enrolled))
        .filter(
            Q(payer_enrolled=False) | Q(relative_enrolled=False)
            | Q(payer__died_on__isnull=False) | Q(relative__died_on__isnull=False)
        )
    )


def end_unsupported(*, queryset=None, now=None):
    """End (or, while pending, withdraw) the bindings an enrolment change left without support.

    Never refuses: a binding must stop being drawn on even when its quota cannot go back yet.
    """
    now = now or timezone.now()
    queryset = queryset if queryset is not None else Binding.objects.all()
    done = []
    for binding in unsupported(queryset):
        with transaction.atomic():
            locked = _locked(binding)
            if not locked.is_open:
                continue
            reason, note = _why_unsupported(locked, payer_enrolled=binding.payer_enrolled)
            if locked.is_pending:
                _close(locked, status=Status.CANCELLED, reason=reason, note=note, actor=None, now=now)
                _notify_cancelled(locked)
            else:
                _close(locked, status=Status.ENDED, reason=reason, note=note, actor=None, now=now)
                _notify_ended(locked, _return_quota(locked, actor=None))
        done.append(locked)
    return done


def _why_unsupported(binding, *, payer_enrolled):
    if binding.payer.is_deceased:
        return EndReason.PAYER_ENROLMENT, _("共济人已身故")
    if not payer_enrolled:
        return EndReason.PAYER_ENROLMENT, ""
    if binding.relative.is_deceased:
        return EndReason.RELATIVE_ENROLMENT, _("被共济人已身故")
    return EndReason.RELATIVE_ENROLMENT, ""


def end_bindings_after_enrolment_change(*, person_id, now=None):
    """End the person's bindings their enrolment or death no longer supports; called when either is saved."""
    # One query when the person shares with nobody, which is nearly every enrolment a clerk records.
    mine = Binding.objects.filter(Q(payer_id=person_id) | Q(relative_id=person_id))
    return end_unsupported(queryset=mine, now=now)


# How often a citizen's list pages bring the bindings up to date (refresh_lately).
REFRESH_SECONDS = 60


def refresh_lately(person):
    """Run refresh_for at most once a minute per person: for the list pages a citizen reloads.

    A request expires on a day and an enrolment change ends its bindings through the signal at once, so a
    minute's wait changes nothing a citizen can see; the two queries (and their planning) it saves are a
    quarter of the sharing page's cost. Pages that act on a binding still call refresh_for every time.
    """
    if cache.add(f"sharing:refreshed:{person.pk}", True, timeout=REFRESH_SECONDS):
        refresh_for(person)


def refresh_for(person, *, now=None):
    """Bring the person's bindings up to date before they are shown or acted on.

    The `expire_bindings` command and the enrolment signal do the same for everybody; this catches what
    happened since the last run, and an enrolment changed by a bulk update that sent no signal.
    """
    mine = Binding.objects.filter(Q(payer=person) | Q(relative=person))
    expire_overdue(queryset=mine, now=now)
    end_unsupported(queryset=mine, now=now)


# Ending -------------------------------------------------------------------------------------------


def end_binding(*, binding, actor, reason, note="", now=None):
    """End an active binding at once (by either side or by staff); unused quota goes back to the payer."""
    now = now or timezone.now()
    note = (note or "").strip()
    _check_may_end(binding, actor, reason, note)
    with transaction.atomic():
        locked = _locked(binding)
        if locked.status != Status.ACTIVE:
            raise _already_handled(locked)
        _close(locked, status=Status.ENDED, reason=reason, note=note, actor=actor, now=now)
        outcome = _return_quota(locked, actor=actor)
        _notify_ended(locked, outcome)
    _copy_state(locked, binding)
    binding.quota_outcome = outcome
    return binding


def _check_may_end(binding, actor, reason, note):
    if reason == EndReason.PAYER:
        _check_is_payer(binding, actor)
    elif reason == EndReason.RELATIVE:
        _check_is_relative(binding, actor)
    elif reason == EndReason.STAFF:
        if not actor.has_perm(END_BINDING):
            raise ServiceError(_("您没有解除共济绑定的权限。"), code="no_permission")
        served = regions_of(actor).filter(pk__in=[binding.region_id, binding.relative_region_id])
        if not served.exists():
            raise ServiceError(_("这项共济绑定不属于您服务的统筹区。"), code="not_in_region")
        if not note:
            raise ServiceError(_("请填写解除原因，双方都会在通知中看到。"), code="note_required")
    else:
        raise ServiceError(_("解除原因不正确。"), code="bad_reason")


def _close(binding, *, status, reason, note, actor, now):
    binding.status, binding.end_reason, binding.end_note = status, reason, note[:200]
    binding.ended_at, binding.ended_by = now, actor
    binding.save(update_fields=["status", "end_reason", "end_note", "ended_at", "ended_by"])


@dataclass(frozen=True)
class QuotaOutcome:
    """What became of a quota when its binding ended: returned to the payer, or still held for them."""

    returned: Decimal = ZERO
    held: Decimal = ZERO


def _return_target(binding):
    """Return the payer's personal account the quota goes back to, or None when there is none to take it."""
    account = personal_account_of(binding.payer)
    if account is None:
        return None
    region = binding.region
    same_pool = account.region_id == region.pk or (
        account.region.province_id == region.province_id and region.province.accounts_province_wide
    )
    return account if same_pool else None


def _return_quota(binding, *, actor):
    """Move what the quota holds back to the payer's personal account, if that account can take it.

    The ledger refuses any posting to a frozen, closed or transferred-out account, credits included. Then
    the money stays in the quota account, which nobody can draw on any more (the binding has ended): it is
    still the payer's, the audit still balances, and the payer and the clerks are told. `return_held_quota`
    (the admin's button, the `expire_bindings` command, the payer's next visit) moves it once the account
    is usable again.
    """
    if not binding.quota_account_id:
        return QuotaOutcome()
    target = _return_target(binding)
    ids = [binding.quota_account_id] + ([target.pk] if target else [])
    # Lock both rows in id order before reading the balance, as the ledger itself does, so that a
    # settlement drawing on the quota at this moment either finishes first or sees the quota empty.
    accounts = {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    quota = accounts[binding.quota_account_id]
    binding.quota_account = quota
    if quota.balance <= 0:
        return QuotaOutcome()
    if target is None or accounts[target.pk].status != Account.Status.ACTIVE or not quota.can_spend:
        return QuotaOutcome(held=quota.balance)
    amount = quota.balance
    ledger.post(
        kind=JournalTransaction.Kind.QUOTA_RELEASE,
        lines=[ledger.Line(quota, -amount), ledger.Line(accounts[target.pk], amount)],
        description=_("共济额度退回（%(number)s）") % {"number": binding.number},
        actor=actor,
    )
    return QuotaOutcome(returned=amount)


def return_held_quota(*, binding, actor=None):
    """Return the quota an ended binding still holds, now that the payer's account may take it."""
    with transaction.atomic():
        locked = _locked(binding)
        if locked.is_open:
            raise ServiceError(_("共济关系仍然有效，额度不退回；解除后未用完的额度自动退回。"), code="still_open")
        outcome = _return_quota(locked, actor=actor)
        if outcome.returned:
            _notify_quota_returned(locked, outcome.returned)
    return outcome


def return_all_held_quotas():
    """Try every ended binding whose quota is still held; return how many went back."""
    returned = 0
    held = Binding.objects.exclude(status__in=[Status.PENDING, Status.ACTIVE]).filter(
        quota_account__balance__gt=0
    )
    for binding in held.select_related("payer", "region"):
        returned += bool(return_held_quota(binding=binding).returned)
    return returned


# The relative's order of payers -------------------------------------------------------------------


@transaction.atomic
def move_binding(*, binding, actor, direction):
    """Move one of the relative's payers up or down the order in which settlements draw on them."""
    _check_is_relative(binding, actor)
    if direction not in ("up", "down"):
        raise ServiceError(_("请选择上移或下移。"), code="bad_direction")
    Person.objects.select_for_update().filter(pk=binding.relative_id).values_list("pk").get()
    order = list(
        Binding.objects.filter(relative_id=binding.relative_id, status=Status.ACTIVE).order_by(
            "priority", "started_at", "id"
        )
    )
    position = next((i for i, b in enumerate(order) if b.pk == binding.pk), None)
    if position is None:
        raise ServiceError(_("只有已生效的共济关系才能调整支付顺序。"), code="not_active")
    other = position - 1 if direction == "up" else position + 1
    if 0 <= other < len(order):
        order[position], order[other] = order[other], order[position]
    for number, row in enumerate(order, start=1):
        row.priority = number
    Binding.objects.bulk_update(order, ["priority"])
    return order


# Quota top-ups ------------------------------------------------------------------------------------


def check_amount(amount, limit):
    """Refuse an amount that is not a positive number of yuan and fen within `limit`, saying why."""
    try:
        amount = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        raise ServiceError(_("请填写金额，例如 200.00。"), code="bad_amount") from None
    if not amount.is_finite():
        raise ServiceError(_("请填写金额，例如 200.00。"), code="bad_amount")
    if amount <= 0:
        raise ServiceError(_("划拨金额须大于0。"), code="bad_amount")
    if amount != amount.quantize(ledger.CENT):
        raise ServiceError(_("金额最多保留两位小数（精确到分）。"), code="bad_amount")
    if amount > limit:
        raise ServiceError(
            _("每次最多划拨 ¥%(limit)s，请分次划拨。") % {"limit": f"{limit:,.2f}"}, code="over_limit"
        )
    return amount.quantize(ledger.CENT)


def topups_today(binding, now):
    """Return how many times the payer topped up this relative's quota on the citizens' day of `now`."""
    start, end = local_day(now)
    # Counted for the pair, not the binding: ending and binding again the same day must not start afresh.
    # The pair has at most one open binding, whose row lock (top_up_quota) keeps the count exact.
    return QuotaTopUp.objects.filter(
        binding__payer_id=binding.payer_id, binding__relative_id=binding.relative_id,
        created_at__gte=start, created_at__lt=end,
    ).count()


def may_top_up(*, binding, now=None):
    """Answer whether the payer may top up this quota now, and if not why and when it reopens."""
    now = now or timezone.now()
    try:
        _check_topup_now(binding, limits_at(binding.region, now), now)
    except ServiceError as refusal:
        return Answer.no(refusal)
    return Answer.yes()


def _check_topup_now(binding, limits, now):
    if binding.status != Status.ACTIVE:
        raise ServiceError(_("只有已生效的共济关系才能划拨额度。"), code="not_active")
    if not binding.uses_quota:
        raise ServiceError(
            _("这项共济是直接共济，看病时直接从您的个人账户支付，不需要划拨额度。"), code="not_quota"
        )
    if in_quiet_hours(limits, now):
        raise ServiceError(
            _("每天%(start)s至次日%(end)s暂停划拨共济额度。现在不能划拨，请在%(end)s以后再来。")
            % {"start": f"{limits.quota_quiet_from:%H:%M}", "end": f"{limits.quota_quiet_until:%H:%M}"},
            code="quiet_hours",
        )
    if topups_today(binding, now) >= limits.quota_topups_per_day:
        raise ServiceError(
            _("每个共济额度每天最多划拨%(count)d次，今天的次数已用完，请明天再来。")
            % {"count": limits.quota_topups_per_day},
            code="too_many_topups",
        )


def check_topup(binding, amount, now):
    """Refuse a top-up the rules do not allow now, saying why; return the amount as Decimal yuan."""
    # The limits and quiet hours in force at the moment of the top-up.
    limits = limits_at(binding.region, now)
    _check_topup_now(binding, limits, now)
    return check_amount(amount, limits.quota_topup_limit)


def top_up_quota(*, binding, amount, actor, now=None):
    """Set aside `amount` of the payer's balance in the binding's quota, within the daily limits."""
    now = now or timezone.now()
    _check_is_payer(binding, actor)
    with transaction.atomic():
        # The binding's row lock makes top-ups of one quota queue: each counts the ones before it.
        locked = _locked(binding)
        amount = check_topup(locked, amount, now)
        journal = _post_from_payer(
            locked,
            kind=JournalTransaction.Kind.QUOTA_TOPUP,
            to=locked.quota_account,
            amount=amount,
            description=_("划拨共济额度（%(number)s）") % {"number": locked.number},
            actor=actor,
        )
        topup = QuotaTopUp.objects.create(binding=locked, amount=amount, journal=journal, created_at=now)
        _notify_topup(locked, amount)
    _copy_state(locked, binding)
    return topup


def _post_from_payer(binding, *, kind, to, amount, description, actor):
    """Post `amount` from the payer's personal account to `to`; the ledger's refusals become ServiceErrors."""
    source = _return_target(binding)
    if source is None:
        raise ServiceError(str(NOT_A_PAYER), code="not_a_payer")
    try:
        return ledger.post(
            kind=kind, lines=[ledger.Line(source, -amount), ledger.Line(to, amount)], description=description,
            actor=actor,
        )
    except ledger.LedgerError as error:
        raise ServiceError(error.message, code=error.code) from None


# Premiums -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PremiumDue:
    """A contribution the payer may pay for the relative, or why not."""

    kind: str
    label: str
    year: int | None = None
    amount: Decimal | None = None
    refusal: str = ""
    paid: bool = False
    # Paid from the binding's quota rather than the payer's personal account (a relative in another province).
    from_quota: bool = False

    @property
    def payable(self):
        return not self.refusal and not self.paid


def premium_due(binding, kind, *, enrolment=None, day=None, rates=None):
    """Return what the relative's `kind` of contribution costs for the premium year of `day`, or why not.

    `rates` are the relative's region's rates of that year when the caller has read them already.
    """
    if kind not in PremiumPayment.Kind.values:
        raise ServiceError(_("没有这种保费。"), code="unknown_premium")
    label = PremiumPayment.Kind(kind).label
    enrolment = enrolment if enrolment is not None else active_enrolment(binding.relative)
    if enrolment is None or enrolment.region_id != binding.relative_region_id:
        return PremiumDue(kind, label, refusal=_("亲属目前不在原参保地参保，不能代缴。"))
    if kind == PremiumPayment.Kind.RESIDENT and enrolment.insurance_type != Enrolment.InsuranceType.RESIDENT:
        return PremiumDue(kind, label, refusal=_("亲属参加的是职工医保，由单位和本人按月缴费，不需要代缴居民医保。"))
    region = enrolment.region
    # A premium is asked for its premium year: the calendar year of the day it is paid.
    year = (day or local(timezone.now()).date()).year
    rates = rates or policy.premium_rate(region, year)
    amount = None
    if rates is not None:
        amount = rates.resident_premium if kind == PremiumPayment.Kind.RESIDENT else rates.ltc_premium
    if kind == PremiumPayment.Kind.LONG_TERM_CARE and amount is not None and amount <= 0:
        return PremiumDue(
            kind, label,
            refusal=_("%(region)s尚未开展长期护理保险（个人缴费为0），无需缴纳。") % {"region": region.name},
        )
    if amount is None or amount <= 0:
        return PremiumDue(kind, label, refusal=_("%(region)s尚未公布本年度的个人缴费标准。") % {"region": region.name})
    paid = PremiumPayment.objects.filter(relative_id=binding.relative_id, kind=kind, year=year).exists()
    # Across provinces money reaches a relative only through a quota, premiums as much as bills; the direct
    # way (the payer's balance) is for one province only.
    from_quota = binding.region.province_id != region.province_id
    held = binding.quota_held or ZERO
    if from_quota and not paid and held < amount:
        return PremiumDue(
            kind, label, year=year, amount=amount, from_quota=True,
            refusal=_(
                "这位亲属在外省参保，跨省共济的保费只能从共济额度中缴纳。额度现有 ¥%(held)s，"
                "不足 ¥%(amount)s，请先划拨共济额度。"
            ) % {"held": f"{held:,.2f}", "amount": f"{amount:,.2f}"},
        )
    return PremiumDue(kind, label, year=year, amount=amount, paid=paid, from_quota=from_quota)


def premiums_due(binding, *, day=None):
    """Return the PremiumDue of every kind for the binding's relative, for the premium year of `day`."""
    day = day or local(timezone.now()).date()
    enrolment = active_enrolment(binding.relative)
    rates = policy.premium_rate(enrolment.region, day.year) if enrolment is not None else None
    return [
        premium_due(binding, kind, enrolment=enrolment, day=day, rates=rates)
        for kind in PremiumPayment.Kind.values
    ]


def pay_premium(*, binding, kind, actor, now=None):
    """Pay the relative's contribution of this premium year from the payer's personal account."""
    now = now or timezone.now()
    _check_is_payer(binding, actor)
    with transaction.atomic():
        locked = _locked(binding)
        if locked.status != Status.ACTIVE:
            raise ServiceError(_("只有已生效的共济关系才能代缴保费。"), code="not_active")
        due = premium_due(locked, kind, day=local(now).date())
        if due.refusal:
            raise ServiceError(due.refusal, code="premium_not_due")
        if due.paid:
            raise _premium_already_paid(due)
        collected = system_account(locked.relative_region, Account.Kind.PREMIUMS_COLLECTED)
        description = _("代缴%(year)d年%(label)s（%(number)s）") % {
            "year": due.year, "label": due.label, "number": locked.number,
        }
        if due.from_quota:
            journal = _post_from_quota(
                locked, to=collected, amount=due.amount, description=description, actor=actor
            )
        else:
            journal = _post_from_payer(
                locked, kind=JournalTransaction.Kind.PREMIUM, to=collected, amount=due.amount, actor=actor,
                description=description,
            )
        try:
            with transaction.atomic():
                payment = PremiumPayment.objects.create(
                    binding=locked, relative_id=locked.relative_id, kind=kind, year=due.year,
                    amount=due.amount, journal=journal, created_at=now,
                )
        except IntegrityError:
            # Another payer paid the same contribution at this moment; the posting above is rolled back.
            raise _premium_already_paid(due) from None
        _notify_premium(locked, payment, from_quota=due.from_quota)
    return payment


def _post_from_quota(binding, *, to, amount, description, actor):
    """Post a premium from the binding's quota; the ledger's refusals become ServiceErrors."""
    try:
        return ledger.post(
            kind=JournalTransaction.Kind.PREMIUM,
            lines=[ledger.Line(binding.quota_account, -amount), ledger.Line(to, amount)],
            description=description,
            actor=actor,
        )
    except ledger.LedgerError as error:
        raise ServiceError(error.message, code=error.code) from None


def _premium_already_paid(due):
    return ServiceError(
        _("这位亲属%(year)d年的%(label)s已经缴纳，不能重复缴纳。") % {"year": due.year, "label": due.label},
        code="premium_already_paid",
    )


# Notices ------------------------------------------------------------------------------------------


def detail_url(binding):
    return reverse("sharing:detail", args=[binding.pk])


def _payer_words(binding):
    """How the relative's notices name the payer: 张*（您的父母）."""
    return _("%(name)s（您的%(relation)s）") % {
        "name": binding.payer.masked_name, "relation": binding.get_payer_relation_display()
    }


def _relative_words(binding):
    """How the payer's notices name the relative: 张*（您的子女）."""
    return _("%(name)s（您的%(relation)s）") % {
        "name": binding.relative.masked_name, "relation": binding.get_relation_display()
    }


def _way_words(binding, *, to_relative=False):
    if binding.uses_quota:
        return _("方式为共济额度：由%(who)s先划出一笔额度，看病时从额度中支付，解除时未用完的退回共济人") % {
            "who": _("共济人") if to_relative else _("您")
        }
    return _("方式为直接共济：看病时从共济人的个人账户余额中支付")


def _moment_words(moment):
    moment = local(moment)
    return _("%(year)d年%(month)d月%(day)d日 %(time)s") % {
        "year": moment.year, "month": moment.month, "day": moment.day, "time": f"{moment:%H:%M}"
    }


def _notify_request(binding):
    deadline = _moment_words(binding.expires_at)
    notify(
        person=binding.relative,
        title=_("请确认家庭共济请求"),
        body=_(
            "%(payer)s申请用其职工医保个人账户为您共济，%(way)s。请在%(deadline)s前确认或拒绝；"
            "逾期未确认，请求自动失效。"
        ) % {"payer": _payer_words(binding), "way": _way_words(binding, to_relative=True),
             "deadline": deadline},
        link=reverse("sharing:confirm", args=[binding.pk]),
        needs_action=True,
    )
    notify(
        person=binding.payer,
        title=_("家庭共济请求已发送，等待亲属确认"),
        body=_(
            "已请%(relative)s确认共济关系。对方须在%(deadline)s前登录本服务确认，确认后关系生效，您会收到通知；"
            "在此之前您可以撤回请求。"
        ) % {"relative": _relative_words(binding), "deadline": deadline},
        link=detail_url(binding),
    )


def _notify_made(binding):
    how = _("由经办人员在窗口办理") if binding.consent == Consent.COUNTER else _("依据共济人的承诺办理")
    next_step = (
        _("下一步：请划拨共济额度，亲属看病时从额度中支付。") if binding.uses_quota
        else _("亲属看病时出示本人的医保卡或医保码即可使用。")
    )
    notify(
        person=binding.payer,
        title=_("家庭共济已生效"),
        body=_("您与%(relative)s的家庭共济已生效（%(how)s），%(way)s。%(next)s") % {
            "relative": _relative_words(binding), "how": how, "way": _way_words(binding), "next": next_step,
        },
        link=detail_url(binding),
    )
    notify(
        person=binding.relative,
        title=_("家庭共济已生效"),
        body=_(
            "%(payer)s已用其个人账户为您共济（%(how)s）。看病买药时请出示您本人的医保卡或医保码；"
            "钱可以共济，卡不能共用。如不同意，可以随时在“家庭共济”中解除。"
        ) % {"payer": _payer_words(binding), "how": how},
        link=detail_url(binding),
    )


def _notify_confirmed(binding):
    notify(
        person=binding.payer,
        title=_("亲属已确认，家庭共济已生效"),
        body=_("%(relative)s已确认与您的家庭共济，%(way)s。%(next)s") % {
            "relative": _relative_words(binding), "way": _way_words(binding),
            "next": _("下一步：请划拨共济额度。") if binding.uses_quota else "",
        },
        link=detail_url(binding),
    )
    notify(
        person=binding.relative,
        title=_("您已确认家庭共济"),
        body=_("您已确认%(payer)s为您共济。看病买药时请出示您本人的医保卡或医保码。可以随时解除。") % {
            "payer": _payer_words(binding)
        },
        link=detail_url(binding),
    )


def _notify_declined(binding):
    notify(
        person=binding.payer,
        title=_("亲属拒绝了家庭共济请求"),
        body=_("%(relative)s拒绝了您的共济请求，共济关系未建立。如有需要，可以与亲属商量后重新申请。") % {
            "relative": _relative_words(binding)
        },
        link=reverse("sharing:index"),
    )


def _notify_cancelled(binding):
    if binding.end_reason in (EndReason.PAYER_ENROLMENT, EndReason.RELATIVE_ENROLMENT):
        why = _("因%(reason)s，请求已自动撤销。") % {"reason": binding.get_end_reason_display()}
        notify(
            person=binding.payer,
            title=_("家庭共济请求已撤销"),
            body=_("您向%(relative)s发出的共济请求：%(why)s") % {"relative": _relative_words(binding), "why": why},
            link=reverse("sharing:index"),
        )
    else:
        why = _("共济人已撤回请求，无需再确认。")
    notify(
        person=binding.relative,
        title=_("家庭共济请求已撤销"),
        body=_("%(payer)s发来的共济请求：%(why)s") % {"payer": _payer_words(binding), "why": why},
        link=reverse("sharing:index"),
    )


def _notify_expired(binding):
    notify(
        person=binding.payer,
        title=_("家庭共济请求已过期"),
        body=_("%(relative)s在7天内没有确认，共济请求已失效。如仍需共济，请提醒亲属登录后重新申请。") % {
            "relative": _relative_words(binding)
        },
        link=reverse("sharing:bind"),
    )


def _end_words(binding):
    reason = binding.get_end_reason_display()
    if binding.end_note:
        return _("%(reason)s：%(note)s") % {"reason": reason, "note": binding.end_note}
    return reason


def _notify_ended(binding, outcome):
    money = ""
    if outcome.returned:
        money = _("未用完的共济额度 ¥%(amount)s 已退回您的个人账户。") % {"amount": f"{outcome.returned:,.2f}"}
    elif outcome.held:
        money = _(
            "未用完的共济额度 ¥%(amount)s 仍归您所有，但您的个人账户目前不能入账（冻结、关闭或已转出），"
            "暂时保留在额度中，账户恢复后自动退回；也可以到医保服务大厅办理。"
        ) % {"amount": f"{outcome.held:,.2f}"}
    notify(
        person=binding.payer,
        title=_("家庭共济已解除"),
        body=_("您与%(relative)s的家庭共济已解除（%(why)s），已支付的费用不受影响。%(money)s") % {
            "relative": _relative_words(binding), "why": _end_words(binding), "money": money,
        },
        link=detail_url(binding),
    )
    notify(
        person=binding.relative,
        title=_("家庭共济已解除"),
        body=_("%(payer)s为您的家庭共济已解除（%(why)s），此后看病不再从其账户支付，已支付的费用不受影响。") % {
            "payer": _payer_words(binding), "why": _end_words(binding),
        },
        link=detail_url(binding),
    )


def _notify_quota_returned(binding, amount):
    notify(
        person=binding.payer,
        title=_("共济额度已退回"),
        body=_("与%(relative)s的共济解除时保留的额度 ¥%(amount)s 已退回您的个人账户。") % {
            "relative": _relative_words(binding), "amount": f"{amount:,.2f}",
        },
        link=reverse("account"),
    )


def _notify_topup(binding, amount):
    held = binding.quota_account.balance
    notify(
        person=binding.payer,
        title=_("共济额度已划拨"),
        body=_("已从您的个人账户为%(relative)s划拨共济额度 ¥%(amount)s，额度现有 ¥%(held)s。") % {
            "relative": _relative_words(binding), "amount": f"{amount:,.2f}", "held": f"{held:,.2f}",
        },
        link=detail_url(binding),
    )
    notify(
        person=binding.relative,
        title=_("共济额度增加了"),
        body=_("%(payer)s为您增加了共济额度 ¥%(amount)s，现有 ¥%(held)s。看病买药时出示本人医保卡或医保码即可使用。") % {
            "payer": _payer_words(binding), "amount": f"{amount:,.2f}", "held": f"{held:,.2f}",
        },
        link=detail_url(binding),
    )


def _notify_premium(binding, payment, *, from_quota=False):
    words = {
        "year": payment.year, "label": payment.get_kind_display(), "amount": f"{payment.amount:,.2f}",
    }
    notify(
        person=binding.payer,
        title=_("代缴保费成功"),
        body=(
            _("已从您为%(relative)s划拨的共济额度中缴纳%(year)d年%(label)s ¥%(amount)s。") if from_quota
            else _("已从您的个人账户为%(relative)s缴纳%(year)d年%(label)s ¥%(amount)s。")
        ) % {"relative": _relative_words(binding), **words},
        link=detail_url(binding),
    )
    notify(
        person=binding.relative,
        title=_("您的保费已由亲属代缴"),
        body=(
            _("%(payer)s已用为您划拨的共济额度缴纳%(year)d年%(label)s ¥%(amount)s，您无需再缴。") if from_quota
            else _("%(payer)s已用其个人账户为您缴纳%(year)d年%(label)s ¥%(amount)s，您无需再缴。")
        ) % {"payer": _payer_words(binding), **words},
        link=detail_url(binding),
    )
