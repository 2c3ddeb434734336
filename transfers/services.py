"""Business steps of a transfer (医保关系转移接续): the application, acceptance, 转出, 转入, returns and refusals.

The rules follow 医保发〔2021〕43号: the application is lodged with the new region, which accepts it; the
old region transfers it out within 10 working days of acceptance (closes the relationship, issues the
information form, sends the balance); the new region transfers it in within 5 working days of receiving
the form (records the relationship, credits the balance, adds up the contribution years). Each region
acts only on its own steps, checked here so that the portal and the admin share one guard. Every status
change goes through review.transitions.transition, every yuan through accounts.ledger.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import ledger, policy
from accounts.models import Account, Enrolment, JournalTransaction, Person
from accounts.scoping import regions_of
from accounts.services import (
    Answer,
    ServiceError,
    add_contribution_months,
    change_account_region,
    change_account_status,
    notify,
    place_hold,
    record_transfer_out,
    release_hold,
    system_account,
)
from review import materials as review_materials
from review.calendar import add_working_days
from review.models import new_application_number
from review.transitions import TransitionError, record_creation, transition

from .models import ID_CARD_KIND, TransferApplication

Status = TransferApplication.Status
Side = TransferApplication.Side

ACCEPT = "transfers.accept_transfer"
TRANSFER_OUT = "transfers.transfer_out"
TRANSFER_IN = "transfers.transfer_in"
# Staff who may open an application at the counter may also act for that citizen afterwards.
COUNTER = "transfers.add_transferapplication"

# What a step reads of an application besides its own row.
RELATED = (
    "applicant", "old_region", "new_region", "old_account", "new_account", "old_enrolment", "new_enrolment",
)

# What a caller catches to show a refusal: both carry a `message` for people and a `code` for programs.
REFUSALS = (ServiceError, TransitionError)

# The steps staff take, each with the status it leads to.
ACCEPT_STEP, RETURN_STEP, REFUSE_STEP = "accept", "return", "refuse"
OUT_STEP, IN_STEP = "transfer_out", "transfer_in"
STEP_TARGETS = {
    ACCEPT_STEP: Status.ACCEPTED,
    RETURN_STEP: Status.RETURNED,
    REFUSE_STEP: Status.REFUSED,
    OUT_STEP: Status.TRANSFERRED_OUT,
    IN_STEP: Status.TRANSFERRED_IN,
}


# Conditions --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Situation:
    """What a transfer from one region to another would move: the two enrolments and their accounts."""

    old_enrolment: Enrolment
    new_enrolment: Enrolment
    old_account: Account
    new_account: Account

    @property
    def province_wide(self):
        """Whether the account already follows its holder (accounts used province-wide): no money moves."""
        return self.old_account.pk == self.new_account.pk

    @property
    def accounts(self):
        return [self.old_account] if self.province_wide else [self.old_account, self.new_account]


def find_situation(*, person, old_region, new_region, reference=""):
    """Return what a transfer from `old_region` to `new_region` would move, or refuse saying why.

    `reference` is the number of the transfer being checked again, whose own holds are no bar.
    """
    if old_region is None or new_region is None:
        raise ServiceError(_("请选择转出地和转入地。"), code="regions_required")
    if old_region.pk == new_region.pk:
        raise ServiceError(_("转出地和转入地不能是同一个统筹区。"), code="same_region")
    if person.is_deceased:
        raise ServiceError(_("参保人已登记死亡，不能办理转移接续。"), code="deceased")
    active = person.enrolments.filter(status=Enrolment.Status.ACTIVE).select_related("region").first()
    old = (
        person.enrolments.filter(region=old_region, insurance_type=Enrolment.InsuranceType.EMPLOYEE)
        .order_by("-started_on", "-id")
        .first()
    )
    _check_not_retired(active, old)
    old = _checked_old_enrolment(old, old_region)
    new = _checked_new_enrolment(active, new_region)
    old_account, new_account = _accounts_of(old, new, old_region, new_region)
    _check_accounts(old_account, new_account, old_region, new_region, reference)
    return Situation(old_enrolment=old, new_enrolment=new, old_account=old_account, new_account=new_account)


def _check_not_retired(active, old):
    if any(e is not None and e.is_employee and e.is_retired for e in (active, old)):
        raise ServiceError(
            _(
                "退休人员不办理医保关系转移接续。退休后到外地长期居住的，请办理异地安置备案（异地就医备案），"
                "备案后在居住地看病可直接结算，可通过国家医保服务平台或到参保地医保服务大厅办理。"
            ),
            code="retiree",
        )


def _checked_old_enrolment(old, old_region):
    if old is None:
        raise ServiceError(
            _("您在%(old)s没有职工医保参保记录，请核对转出地。") % {"old": old_region.name},
            code="no_old_enrolment",
        )
    if old.status == Enrolment.Status.ACTIVE:
        raise ServiceError(
            _("您在%(old)s的职工医保仍在参保中。请先由原单位在%(old)s办理停保，再申请转移。")
            % {"old": old_region.name},
            code="not_stopped_in_old",
        )
    if old.status == Enrolment.Status.TRANSFERRED_OUT:
        raise ServiceError(
            _("您在%(old)s的医保关系已经转出，不能再次转移。") % {"old": old_region.name},
            code="already_transferred",
        )
    if old.status == Enrolment.Status.CLOSED:
        raise ServiceError(
            _("您在%(old)s的参保登记已注销，不能办理转移。请到%(old)s医保服务大厅咨询。") % {"old": old_region.name},
            code="old_enrolment_closed",
        )
    return old


def _checked_new_enrolment(active, new_region):
    if active is None or active.region_id != new_region.pk:
        # Where else the person may be insured is not said: the form must not tell anyone that.
        raise ServiceError(
            _("您在%(new)s没有参保中的职工医保登记。请先由新单位在%(new)s办理参保登记，再申请转移。")
            % {"new": new_region.name},
            code="not_enrolled_in_new",
        )
    if not active.is_employee:
        raise ServiceError(
            _("您在%(new)s参加的是居民医保，没有个人账户，不能转入职工医保的个人账户。请到%(new)s医保服务大厅咨询。")
            % {"new": new_region.name},
            code="new_not_employee",
        )
    return active


def _accounts_of(old, new, old_region, new_region):
    new_account = Account.objects.filter(enrolment=new, kind=Account.Kind.PERSONAL).first()
    old_account = Account.objects.filter(enrolment=old, kind=Account.Kind.PERSONAL).first()
    if old_account is None and new_account is not None and new_account.region_id == old_region.pk:
        # In a province whose accounts are used province-wide the account went on with the new enrolment
        # and is still recorded under the old region: it is both accounts, and no money moves.
        old_account = new_account
    if old_account is None or new_account is None:
        raise ServiceError(
            _("未找到您在%(old)s或%(new)s的个人账户，请到医保服务大厅咨询。")
            % {"old": old_region.name, "new": new_region.name},
            code="no_account",
        )
    return old_account, new_account


def _check_accounts(old_account, new_account, old_region, new_region, reference):
    if old_account.status == Account.Status.FROZEN:
        raise ServiceError(
            _("您在%(old)s的个人账户已冻结，暂不能转移。请到%(old)s医保服务大厅咨询。") % {"old": old_region.name},
            code="account_frozen",
        )
    if old_account.status == Account.Status.TRANSFERRED_OUT:
        raise ServiceError(
            _("您在%(old)s的个人账户已经转出，不能再次转移。") % {"old": old_region.name}, code="already_transferred"
        )
    if old_account.status == Account.Status.CLOSED:
        raise ServiceError(
            _("您在%(old)s的个人账户已关闭（余额已提取），不能转移余额。请到医保服务大厅咨询缴费年限的转移。")
            % {"old": old_region.name},
            code="account_closed",
        )
    if new_account.status != Account.Status.ACTIVE:
        raise ServiceError(
            _("您在%(new)s的个人账户为“%(status)s”状态，暂不能转入。请到%(new)s医保服务大厅咨询。")
            % {"new": new_region.name, "status": new_account.get_status_display()},
            code="new_account_unavailable",
        )
    for account in {old_account.pk: old_account, new_account.pk: new_account}.values():
        if account.hold and account.hold_reference != reference:
            _refuse_hold(account)


def _refuse_hold(account):
    if account.hold == Account.Hold.WITHDRAWAL:
        raise ServiceError(
            _("您的个人账户有办理中的余额提取申请（%(ref)s）。提取与转移不能同时办理，请等提取办结或撤销后再申请转移。")
            % {"ref": account.hold_reference},
            code="open_withdrawal",
        )
    raise ServiceError(
        _("您已有办理中的转移申请（%(ref)s），请在“我的转移申请”中查看进度。") % {"ref": account.hold_reference},
        code="open_transfer",
    )


def guess_regions(person):
    """Return the likely (old region, new region) from the registry, either None when it cannot tell."""
    active = person.enrolments.filter(status=Enrolment.Status.ACTIVE).select_related("region").first()
    new_region = active.region if active is not None else None
    stopped = (
        person.enrolments.filter(
            status=Enrolment.Status.STOPPED, insurance_type=Enrolment.InsuranceType.EMPLOYEE
        )
        .exclude(region=new_region)
        .select_related("region")
        .order_by(F("ended_on").desc(nulls_last=True), "-started_on", "-id")
        .first()
    )
    return (stopped.region if stopped is not None else None), new_region


def may_transfer(*, person, old_region=None, new_region=None):
    """Answer whether `person` may apply for a transfer now, and if not why and what to do.

    Without regions, for the transfer the registry suggests; apply_for_transfer asks the same with the
    regions chosen.
    """
    suggested_old, suggested_new = guess_regions(person)
    old_region, new_region = old_region or suggested_old, new_region or suggested_new
    try:
        # Retirees first: whatever else is missing, a transfer is not their way (异地安置备案 is).
        active = person.enrolments.filter(status=Enrolment.Status.ACTIVE).first()
        _check_not_retired(active, None)
        if new_region is None:
            raise ServiceError(
                _("您目前没有参保中的职工医保登记。请先由新单位在新参保地办理参保登记，再申请转移。"),
                code="not_enrolled_in_new",
            )
        if old_region is None:
            # Only a stopped employee enrolment elsewhere can be transferred out; the registry has none.
            raise ServiceError(
                _("未找到您在其他统筹区已停保的职工医保登记。请先由原单位在原参保地办理停保，再申请转移。"),
                code="no_old_enrolment",
            )
        find_situation(person=person, old_region=old_region, new_region=new_region)
    except ServiceError as refusal:
        return Answer.no(refusal, **_way_out(refusal, person))
    return Answer.yes()


def _way_out(refusal, person):
    """Where a refused citizen goes instead: the application already open, if that is the bar."""
    if refusal.code == "open_withdrawal":
        return {"link": reverse("withdrawals:list"), "link_text": _("查看我的提取申请")}
    if refusal.code == "open_transfer":
        open_one = TransferApplication.objects.filter(applicant=person).exclude(
            status__in=[Status.COMPLETED, Status.REFUSED, Status.CANCELLED]
        ).first()
        if open_one is not None:
            return {
                "link": reverse("transfers:detail", args=[open_one.pk]),
                "link_text": _("查看办理中的转移申请（%(number)s）") % {"number": open_one.number},
            }
    return {}


def precheck(person):
    """Return (old region, new region, answer) of the transfer the registry suggests."""
    old_region, new_region = guess_regions(person)
    return old_region, new_region, may_transfer(person=person)


def _recheck(application):
    """Check the conditions again as the application reaches a region; refuse when anything changed."""
    situation = find_situation(
        person=application.applicant, old_region=application.old_region, new_region=application.new_region,
        reference=application.number,
    )
    recorded = (
        application.old_enrolment_id, application.new_enrolment_id, application.old_account_id,
        application.new_account_id,
    )
    found = (
        situation.old_enrolment.pk, situation.new_enrolment.pk, situation.old_account.pk,
        situation.new_account.pk,
    )
    if recorded != found:
        raise ServiceError(
            _("申请后参保登记或个人账户已发生变化，与申请时不一致。"), code="registry_changed"
        )
    return situation


def _recheck_for_staff(application, step_label):
    try:
        return _recheck(application)
    except ServiceError as error:
        raise ServiceError(
            _("不符合转移条件，不能%(step)s：%(reason)s 请不予受理（申请人会看到原因）。")
            % {"step": step_label, "reason": error.message},
            code=error.code,
        ) from None


def current_refusal(application):
    """Return why the conditions fail now, for the clerk deciding; "" when they hold."""
    if application.status not in (Status.SUBMITTED, Status.RETURNED, Status.ACCEPTED):
        return ""
    try:
        _recheck(application)
    except ServiceError as error:
        return error.message
    return ""


# The application ---------------------------------------------------------------------------------


def check_id_card(uploaded_file):
    """Check the ID-card image by its bytes, before any lock is taken; refuse with the reason."""
    try:
        return review_materials.check_upload(uploaded_file)
    except ValidationError as error:
        raise ServiceError(" ".join(error.messages), code=error.code or "bad_file") from None


def apply_for_transfer(
    *, applicant, old_region, new_region, reason, actor, id_card, reason_note="", counter_clerk=None,
):
    """Lodge a transfer with the new region, refusing up front when a condition fails."""
    reason_note = (reason_note or "").strip()
    _check_reason(reason, reason_note)
    # Conditions first, so that a citizen who cannot transfer is told why before the photo is processed.
    if old_region is None or new_region is None:
        raise ServiceError(_("请选择转出地和转入地。"), code="regions_required")
    may_transfer(person=applicant, old_region=old_region, new_region=new_region).raise_if_refused()
    checked = check_id_card(id_card)
    try:
        with transaction.atomic():
            application = _create(
                applicant, old_region, new_region, reason, reason_note, actor, counter_clerk
            )
            review_materials.add_material(
                application=application, kind=ID_CARD_KIND, uploaded_file=id_card, actor=actor,
                checked=checked,
            )
            _tell(application, _("转移申请已提交"), _(
                "您从%(old)s转往%(new)s的医保关系转移申请（%(number)s）已提交，等待%(new)s医保经办机构受理。"
                "受理后，%(old)s将在%(out)d个工作日内办理转出，%(new)s在收到信息表后%(in)d个工作日内办理转入。"
            ) % {**_names(application), **_time_limits(application)})
    except IntegrityError:
        # The one-open-transfer constraint, had a second application slipped past the holds.
        raise ServiceError(
            _("已有办理中的转移申请，请在“我的转移申请”中查看进度。"), code="open_transfer"
        ) from None
    return application


def _time_limits(application):
    """The working days each region has for its step, as the versions in force today set them."""
    today = timezone.localdate()
    return {
        "out": policy.in_force(application.old_region, today).transfer_out_days,
        "in": policy.in_force(application.new_region, today).transfer_in_days,
    }


def _create(applicant, old_region, new_region, reason, reason_note, actor, counter_clerk):
    # Checked again inside the transaction: the holds below lock the accounts, and what was read
    # before them may have changed.
    situation = find_situation(person=applicant, old_region=old_region, new_region=new_region)
    now = timezone.now()
    application = TransferApplication(
        number=new_application_number(TransferApplication.NUMBER_PREFIX),
        applicant=applicant, region=new_region, old_region=old_region, new_region=new_region,
        reason=reason, reason_note=reason_note,
        old_enrolment=situation.old_enrolment, new_enrolment=situation.new_enrolment,
        old_account=situation.old_account, new_account=situation.new_account,
        province_wide=situation.province_wide, counter_clerk=counter_clerk,
        submitted_at=now, clock_started_on=timezone.localdate(), declaration_accepted_at=now,
    )
    # One open application per account: an open withdrawal refuses the transfer here, and the transfer's
    # holds refuse a withdrawal of either account until it is completed, refused or cancelled.
    for account in situation.accounts:
        place_hold(account=account, hold=Account.Hold.TRANSFER, reference=application.number)
    application.save()
    record_creation(application=application, actor=actor, note=_creation_note(application))
    return application


def _creation_note(application):
    if application.is_at_counter:
        return _("窗口办理")
    return ""


def _check_reason(reason, reason_note):
    if reason not in TransferApplication.Reason.values:
        raise ServiceError(_("请选择转移原因。"), code="reason_required")
    if reason == TransferApplication.Reason.OTHER and not reason_note:
        raise ServiceError(_("选择“其他原因”的，请简要说明转移原因。"), code="reason_note_required")


def find_person(*, id_number):
    """Return the registry's person with `id_number`, or None."""
    return Person.objects.filter(id_number=(id_number or "").strip().upper()).first()


def apply_at_counter(*, clerk, applicant_id_number, old_region, new_region, reason, id_card, reason_note=""):
    """Lodge a transfer at either region's counter for a citizen who came with the ID card."""
    if not clerk.has_perm(COUNTER):
        raise ServiceError(_("您没有办理此项业务的权限。"), code="no_permission")
    if not (_serves(clerk, old_region.pk) or _serves(clerk, new_region.pk)):
        raise ServiceError(
            _("窗口只能办理转出地或转入地为本统筹区的转移申请。"), code="other_region"
        )
    applicant = find_person(id_number=applicant_id_number)
    if applicant is None:
        raise ServiceError(_("参保登记中没有这个身份证号码，请核对。"), code="unknown_person")
    return apply_for_transfer(
        applicant=applicant, old_region=old_region, new_region=new_region, reason=reason,
        reason_note=reason_note, actor=clerk, id_card=id_card, counter_clerk=clerk,
    )


# The applicant's steps ---------------------------------------------------------------------------


def replace_id_card(*, application, actor, uploaded_file):
    """Replace the ID-card image of a returned application; the earlier images are kept, marked replaced."""
    _check_acts_for_applicant(application, actor)
    checked = check_id_card(uploaded_file)
    with transaction.atomic():
        locked = TransferApplication.objects.select_for_update().get(pk=application.pk)
        if locked.status != Status.RETURNED:
            raise ServiceError(
                _("申请当前为“%(status)s”，只有退回补正的申请才能更换身份证图片。")
                % {"status": locked.get_status_display()},
                code="not_returned",
            )
        earlier = list(review_materials.materials_of(locked).filter(kind=ID_CARD_KIND))
        try:
            material = review_materials.add_material(
                application=locked, kind=ID_CARD_KIND, uploaded_file=uploaded_file, actor=actor,
                checked=checked,
            )
            # The earlier images stay for the record, marked as replaced.
            review_materials.mark_replaced(earlier=earlier, replacement=material)
        except ValidationError as error:
            raise ServiceError(" ".join(error.messages), code=error.code or "bad_file") from None
    return material


def id_card_replaced(application):
    """Return whether an ID-card image was uploaded after the application was returned."""
    materials = review_materials.materials_of(application).filter(kind=ID_CARD_KIND)
    if application.returned_at is not None:
        materials = materials.filter(uploaded_at__gt=application.returned_at)
    return materials.exists()


@transaction.atomic
def resubmit_transfer(*, application, actor, reason, reason_note=""):
    """Send a returned application back to the new region, corrected; the clock starts again."""
    _check_acts_for_applicant(application, actor)
    reason_note = (reason_note or "").strip()
    _check_reason(reason, reason_note)
    locked = TransferApplication.objects.select_for_update().get(pk=application.pk)
    if locked.status == Status.RETURNED and locked.id_card_to_replace and not id_card_replaced(locked):
        raise ServiceError(
            _("经办机构要求重新上传身份证图片，请先上传新的图片再重新提交。"), code="id_card_not_replaced"
        )
    _recheck(application)
    now = timezone.now()
    changed = (
        _("转移原因改为“%(reason)s”") % {"reason": TransferApplication.Reason(reason).label}
        if reason != application.reason else ""
    )
    transition(
        application=application, to=Status.SUBMITTED, actor=actor,
        note="；".join(part for part in (_("补正后重新提交"), changed) if part),
        changes={
            "reason": reason, "reason_note": reason_note, "submitted_at": now,
            "clock_started_on": timezone.localdate(), "declaration_accepted_at": now,
            "accepted_at": None, "accepted_by": None, "transfer_out_due": None,
        },
    )
    _tell(application, _("转移申请已重新提交"), _(
        "您的转移申请（%(number)s）已补正并重新提交，等待%(new)s医保经办机构受理。"
    ) % _names(application))
    return application


@transaction.atomic
def cancel_transfer(*, application, actor):
    """Withdraw the application before it is accepted (or while returned); the accounts are free again."""
    _check_acts_for_applicant(application, actor)
    if not application.can_be_cancelled:
        raise ServiceError(_("已受理的转移申请不能撤销。如有疑问请联系经办机构。"), code="too_late")
    transition(application=application, to=Status.CANCELLED, actor=actor)
    _release_holds(application)
    _tell(application, _("转移申请已撤销"), _(
        "您的转移申请（%(number)s）已撤销，个人账户恢复正常。如仍需转移，可以重新申请。"
    ) % _names(application))
    return application


# Staff's steps -----------------------------------------------------------------------------------


def owner_of(application, step):
    """Return (side, permission) of the staff who take `step` now, or None when the step is not open."""
    status = application.status
    if step == ACCEPT_STEP and status == Status.SUBMITTED:
        return Side.NEW, ACCEPT
    if step in (RETURN_STEP, REFUSE_STEP):
        # Each region returns or refuses only at the step where the application is with it.
        if status == Status.SUBMITTED:
            return Side.NEW, ACCEPT
        if status == Status.ACCEPTED:
            return Side.OLD, TRANSFER_OUT
    if step == OUT_STEP and status == Status.ACCEPTED:
        return Side.OLD, TRANSFER_OUT
    if step == IN_STEP and status == Status.TRANSFERRED_OUT:
        return Side.NEW, TRANSFER_IN
    return None


def may_take(user, application, step):
    """Return whether `user` may take `step` on the application now (for showing the buttons)."""
    try:
        _check_step(user, application, step)
    except ServiceError:
        return False
    return True


def _check_step(actor, application, step):
    """Refuse unless `actor` is staff of the region whose step this is, with its permission."""
    owner = owner_of(application, step)
    if owner is None:
        # In the words review.transitions.transition uses: the status does not lead there.
        raise ServiceError(
            _("当前状态为“%(from)s”，不能办理“%(to)s”。")
            % {"from": application.get_status_display(), "to": STEP_TARGETS[step].label},
            code="not_allowed",
        )
    side, permission = owner
    if not actor.has_perm(permission):
        raise ServiceError(_("您没有办理此项业务的权限。"), code="no_permission")
    region = application.region_of(side)
    if not _serves(actor, region.pk):
        raise ServiceError(
            _("这一步由%(side)s（%(region)s）的经办人员办理，您不能办理。")
            % {"side": Side(side).label, "region": region.name},
            code="other_side",
        )
    if actor.person_id is not None and actor.person_id == application.applicant_id:
        raise ServiceError(
            _("不能办理本人作为申请人的申请，请交由其他经办人员办理。"), code="own_case"
        )
    return side, permission


@transaction.atomic
def accept_transfer(*, application, actor, note=""):
    """Accept (受理) the application in the new region; the old region's 10 working days start today."""
    _side, permission = _check_step(actor, application, ACCEPT_STEP)
    _recheck_for_staff(application, _("受理"))
    # The old region's time limit in force on the day of acceptance.
    today = timezone.localdate()
    due = add_working_days(today, policy.in_force(application.old_region, today).transfer_out_days)
    transition(
        application=application, to=Status.ACCEPTED, actor=actor, permission=permission,
        note=_step_note(_("%(new)s（转入地）受理") % _names(application), note),
        changes={"accepted_at": timezone.now(), "accepted_by": actor, "transfer_out_due": due},
    )
    _tell(application, _("转移申请已受理"), _(
        "您的转移申请（%(number)s）已由%(new)s受理，已转交%(old)s办理转出。%(old)s将在%(due)s前出具"
        "《参保人员基本医疗保险信息表》并转出个人账户余额，之后由%(new)s办理转入，您无需再操作。"
    ) % {**_names(application), "due": _day(due)})
    return application


@transaction.atomic
def return_transfer(*, application, actor, note, replace_id_card=False):
    """Return the application for correction, saying at once everything that needs correcting."""
    side, permission = _check_step(actor, application, RETURN_STEP)
    note = (note or "").strip()
    if not note:
        raise ServiceError(_("请写明需要补正的内容，一次性告知申请人。"), code="note_required")
    region = application.region_of(side)
    summary = "；".join(
        part for part in (_("需重新上传身份证图片") if replace_id_card else "", note) if part
    )
    transition(
        application=application, to=Status.RETURNED, actor=actor, permission=permission,
        note=_step_note(_("%(region)s退回") % {"region": region.name}, summary),
        changes={
            "returned_by": side, "return_note": note, "returned_at": timezone.now(),
            "id_card_to_replace": replace_id_card, "transfer_out_due": None,
        },
    )
    _tell(application, _("转移申请需补正"), _(
        "您的转移申请（%(number)s）被%(region)s退回补正：%(summary)s。请在申请页面补正后重新提交，"
        "办理时限从重新受理之日起计算。"
    ) % {**_names(application), "region": region.name, "summary": summary.rstrip("。")}, needs_action=True)
    return application


@transaction.atomic
def refuse_transfer(*, application, actor, reason):
    """Refuse the application (不予受理) with a reason the applicant reads; the accounts are free again."""
    side, permission = _check_step(actor, application, REFUSE_STEP)
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("请填写不予受理的原因，申请人会看到它。"), code="reason_required")
    region = application.region_of(side)
    transition(
        application=application, to=Status.REFUSED, actor=actor, permission=permission,
        note=_step_note(_("%(region)s不予受理") % {"region": region.name}, reason),
        changes={"refused_by": side, "refusal_reason": reason},
    )
    _release_holds(application)
    _tell(application, _("转移申请不予受理"), _(
        "您的转移申请（%(number)s）经%(region)s审核不予受理。原因：%(reason)s。符合条件后可以重新申请；"
        "如有疑问，可携带身份证到医保服务大厅咨询。"
    ) % {**_names(application), "region": region.name, "reason": reason.rstrip("。")})
    return application


def transfer_out(*, application, actor, note=""):
    """Transfer out (转出): close the old relationship, issue the form, send the balance into transit."""
    _side, permission = _check_step(actor, application, OUT_STEP)
    try:
        with transaction.atomic():
            # Status first: of two clerks clicking at once, the second stops here, before any money.
            # The new region's time limit in force on the day it receives the form.
            today = timezone.localdate()
            due = add_working_days(today, policy.in_force(application.new_region, today).transfer_in_days)
            transition(
                application=application, to=Status.TRANSFERRED_OUT, actor=actor, permission=permission,
                note=_step_note(_("%(old)s（转出地）出具信息表并办理转出") % _names(application), note),
                changes={
                    "transferred_out_at": timezone.now(), "transferred_out_by": actor, "transfer_in_due": due,
                },
            )
            _send_balance(application, actor)
    except (ledger.LedgerError, *REFUSALS) as error:
        raise _rolled_back(application, error) from None
    if application.province_wide:
        money = _("个人账户在省内通用，余额随账户继续使用，不划转")
    else:
        money = _("个人账户余额 ¥%(amount)s 已转出") % {"amount": f"{application.amount:,.2f}"}
    _tell(application, _("原参保地已办理转出"), _(
        "您的转移申请（%(number)s）已由%(old)s办理转出：已出具《参保人员基本医疗保险信息表》，%(money)s。"
        "%(new)s将在%(due)s（含）前办理转入。"
    ) % {**_names(application), "money": money, "due": _day(application.transfer_in_due)})
    return application


def _send_balance(application, actor):
    old_account = application.old_account
    transit = system_account(application.old_region, Account.Kind.TRANSIT)
    # Lock the personal account and read the balance under the lock: the whole balance moves, including a
    # credit that landed a moment ago. Only the citizen's row: the ledger locks system accounts such as
    # the transit account last, and a lock on it taken here would break that order.
    personal = Account.objects.select_for_update().get(pk=old_account.pk)
    _recheck_for_staff(application, _("转出"))
    fields = ["amount", "contribution_months"]
    old_enrolment = Enrolment.objects.get(pk=application.old_enrolment_id)
    application.contribution_months = old_enrolment.contribution_months
    if application.province_wide:
        application.amount = None
    else:
        amount = application.amount = personal.balance
        if amount > 0:
            application.out_journal = ledger.post(
                kind=JournalTransaction.Kind.TRANSFER_OUT,
                lines=[ledger.Line(personal, -amount), ledger.Line(transit, amount)],
                description=_("转出至%(new)s %(number)s") % _names(application),
                idempotency_key=f"transfer-out:{application.pk}",
                actor=actor,
            )
            fields.append("out_journal")
        change_account_status(
            account=old_account, to_status=Account.Status.TRANSFERRED_OUT, actor=actor,
            reason=_("转移接续%(number)s：医保关系转往%(new)s，余额已转出") % _names(application),
        )
    record_transfer_out(enrolment=application.old_enrolment)
    application.save(update_fields=fields)


def transfer_in(*, application, actor, note=""):
    """Transfer in (转入): record the relationship, credit the balance, add up the years; completes it."""
    _side, permission = _check_step(actor, application, IN_STEP)
    try:
        with transaction.atomic():
            # Status first: of two clerks clicking at once, the second stops here, before any money.
            transition(
                application=application, to=Status.TRANSFERRED_IN, actor=actor, permission=permission,
                note=_step_note(_("%(new)s（转入地）接续医保关系") % _names(application), note),
                changes={"transferred_in_at": timezone.now(), "transferred_in_by": actor},
            )
            _receive_balance(application, actor)
            transition(
                application=application, to=Status.COMPLETED, actor=actor, note=_("转移接续办结"),
                permission=permission, changes={"completed_at": timezone.now()},
            )
            _release_holds(application)
    except (ledger.LedgerError, *REFUSALS) as error:
        raise _rolled_back(application, error) from None
    if application.province_wide:
        money = _("个人账户在省内通用，余额不变，参保地已变更为%(new)s") % _names(application)
    else:
        money = _("¥%(amount)s 已转入您在%(new)s的个人账户") % {
            **_names(application), "amount": f"{application.amount:,.2f}"
        }
    _tell(application, _("转移接续已办结"), _(
        "您从%(old)s转往%(new)s的医保关系转移接续（%(number)s）已办结：%(money)s，"
        "缴费年限累计%(months)d个月。可以在“我的账户”查看余额，在申请页面打印参保凭证。"
    ) % {**_names(application), "money": money, "months": application.new_enrolment.contribution_months})
    return application


def _rolled_back(application, error):
    """Return the refusal to raise for a step that was rolled back, with the caller's copy rolled back too."""
    # transition() moved the caller's object on before the step failed; a page showing it again after
    # the error would otherwise say 已转出 or 已转入 of a transfer the database still has at the step before.
    application.refresh_from_db()
    if isinstance(error, ledger.LedgerError):
        return ServiceError(error.message, code=error.code)
    return error


def _receive_balance(application, actor):
    if application.province_wide:
        # Accounts used province-wide: the same account goes on; only its region of record changes.
        change_account_region(account=application.new_account, region=application.new_region)
    elif application.amount:
        transit = system_account(application.old_region, Account.Kind.TRANSIT)
        amount = application.amount
        # Exactly the amount the old region sent, whatever the transit account holds for others.
        application.in_journal = ledger.post(
            kind=JournalTransaction.Kind.TRANSFER_IN,
            lines=[ledger.Line(transit, -amount), ledger.Line(application.new_account, amount)],
            description=_("自%(old)s转入 %(number)s") % _names(application),
            idempotency_key=f"transfer-in:{application.pk}",
            actor=actor,
        )
        application.save(update_fields=["in_journal"])
    # The relationship is recorded where the new account now belongs: a change of employer within the new
    # region since 转出 took the account to the new job's enrolment, and the years must reach it too.
    current = Enrolment.objects.get(account__pk=application.new_account_id)
    if current.pk != application.new_enrolment_id:
        application.new_enrolment = current
        application.save(update_fields=["new_enrolment"])
    add_contribution_months(enrolment=application.new_enrolment, months=application.contribution_months or 0)


# Who may act for the applicant --------------------------------------------------------------------


def _check_acts_for_applicant(application, actor):
    """Let the applicant act on their own application, and counter staff of either region on a counter one."""
    if actor.person_id is not None and actor.person_id == application.applicant_id:
        return
    if actor.is_staff:
        if not actor.has_perm(COUNTER):
            raise ServiceError(_("您没有办理此项业务的权限。"), code="no_permission")
        if not any(_serves(actor, region_id) for region_id in application.regions_concerned()):
            raise ServiceError(_("该申请不属于您服务的统筹区。"), code="other_region")
        if not application.is_at_counter:
            raise ServiceError(
                _("网上申请只能由申请人本人办理，窗口人员不能代为操作。"), code="online_application"
            )
        return
    raise ServiceError(_("只有申请人本人或窗口经办人员可以办理。"), code="not_applicant")


def may_act_for_applicant(user, application):
    try:
        _check_acts_for_applicant(application, user)
    except ServiceError:
        return False
    return True


def _serves(user, region_id):
    return regions_of(user).filter(pk=region_id).exists()


def _release_holds(application):
    for account_id in {application.old_account_id, application.new_account_id}:
        release_hold(account=Account(pk=account_id), reference=application.number)


def _names(application):
    return {
        "number": application.number,
        "old": application.old_region.name,
        "new": application.new_region.name,
    }


def _step_note(what, note):
    """Return an event note: what was done and by which region, then what the clerk wrote, if anything."""
    note = (note or "").strip()
    return f"{what}：{note}" if note else what


def _tell(application, title, body, needs_action=False):
    notify(
        person=application.applicant, title=title, body=body,
        link=reverse("transfers:detail", args=[application.pk]), needs_action=needs_action,
    )


def _day(value):
    if value is None:
        return _("规定期限")
    return _("%(year)d年%(month)d月%(day)d日") % {"year": value.year, "month": value.month, "day": value.day}
