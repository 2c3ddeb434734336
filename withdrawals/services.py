"""Business steps of a withdrawal: start, materials, submission, two-person review, payout and bank return.

The portal's pages and the admin's buttons call these same functions, so each rule is checked once.
Every status change goes through review.transitions.transition, every yuan through accounts.ledger.
"""

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import ledger, policy
from accounts.identity import validate_id_number
from accounts.models import Account, Enrolment, JournalTransaction, Person
from accounts.scoping import regions_of
from accounts.services import (
    Answer,
    ServiceError,
    change_account_status,
    notify,
    personal_account_of,
    place_hold,
    release_hold,
    system_account,
)
from review import materials as review_materials
from review.calendar import add_working_days
from review.models import new_application_number
from review.transitions import TransitionError, record_creation, transition

from .models import (
    AUTHORISATION_KIND, AUTHORISATION_LABEL, PROXY_ID_CARD_KIND, PROXY_ID_CARD_LABEL, WithdrawalApplication,
)

Status = WithdrawalApplication.Status

REVIEW = "withdrawals.review_withdrawal"
APPROVE = "withdrawals.approve_withdrawal"
PAY = "withdrawals.pay_withdrawal"
# Staff who may open an application at the counter may also act for that citizen until submission.
COUNTER = "withdrawals.add_withdrawalapplication"

# What a caller catches to show a refusal: both carry a `message` for people and a `code` for programs.
REFUSALS = (ServiceError, TransitionError)

# One answer for every reason an heir's application online cannot start, so that typing a name and an ID
# number tells nobody whether that person is registered, alive, insured or has money.
HEIR_LOOKUP_REFUSAL = gettext_lazy(
    "未查到可由继承人申请提取的已故参保人记录。请核对姓名和身份证号码；"
    "如尚未办理死亡登记，请携带死亡证明到医保服务大厅办理。"
)
# One answer at the counter for a person who is unknown or whose account another region keeps.
COUNTER_NOT_FOUND = gettext_lazy(
    "未找到本统筹区参保人员的个人账户（只有职工医保参保人员有个人账户），请核对身份证号码。"
)


# The registry ---------------------------------------------------------------------------------------


def find_person(*, id_number, name=None):
    """Return the registry's person with `id_number`, and with `name` when one is given; else None.

    Online a citizen types a third party's name and number, and both must match; at the counter the clerk
    reads the ID card in hand, whose number alone identifies its holder.
    """
    people = Person.objects.filter(id_number=(id_number or "").strip().upper())
    if name is not None:
        people = people.filter(name=name.strip())
    return people.first()


def find_holder_named_by_heir(*, name, id_number):
    """Return the person an heir names online, or refuse with the one uniform message.

    start_withdrawal then checks the recorded death and the account, refusing with the same message.
    """
    holder = find_person(id_number=id_number, name=name)
    if holder is None:
        raise ServiceError(str(HEIR_LOOKUP_REFUSAL), code="no_deceased_holder")
    return holder


# Materials an application needs -------------------------------------------------------------------


def accepted_kinds(application):
    """Return {kind: label} of the materials the application takes, in the order asked for."""
    return {kind["code"]: kind["label"] for kind in application.material_kinds}


def material_kinds_for(reason, *, proxy):
    """Return the kinds a new application asks for: the reason's, and when a proxy acts, the proxy's own ID
    card and the authorisation."""
    kinds = reason.material_kinds()
    if proxy:
        kinds += [
            {"code": PROXY_ID_CARD_KIND, "label": str(PROXY_ID_CARD_LABEL), "required": True},
            {"code": AUTHORISATION_KIND, "label": str(AUTHORISATION_LABEL), "required": True},
        ]
    return kinds


def kinds_to_replace(application, materials=None):
    """Return {kind: label} of what a return named that has no file uploaded since the return."""
    if application.status != Status.RETURNED or not application.missing_kinds:
        return {}
    if materials is None:
        materials = review_materials.materials_of(application)
    since = application.returned_at
    replaced = {material.kind for material in materials if since is None or material.uploaded_at > since}
    accepted = accepted_kinds(application)
    return {kind: accepted.get(kind, kind) for kind in application.missing_kinds if kind not in replaced}


def missing_kinds(application, materials=None):
    """Return {kind: label} of what must still be uploaded before the application can be submitted.

    A required kind with no file is missing; so is a kind a return named, until a file of that kind is
    uploaded after the return: the old file was found wanting, so keeping it answers nothing.
    """
    materials = list(review_materials.materials_of(application) if materials is None else materials)
    present = {material.kind for material in materials}
    required = {kind["code"] for kind in application.material_kinds if kind["required"]}
    to_replace = kinds_to_replace(application, materials)
    return {
        kind: label
        for kind, label in accepted_kinds(application).items()
        if (kind in required and kind not in present) or kind in to_replace
    }


# Starting and preparing ---------------------------------------------------------------------------


def may_withdraw(*, applicant, reason):
    """Answer whether the citizen may start a withdrawal for `reason` online now, and if not why.

    The same checks start_withdrawal makes, asked before any form is shown. For an heir's reason the
    deceased holder is named only on the form, so the answer there depends on the reason alone.
    """
    account = personal_account_of(applicant)
    try:
        if reason.is_for_heirs:
            _check_reason_enabled(reason)
        else:
            _check_who_applies(reason, applicant, applicant, "")
            _check_holder_and_account(reason, applicant, account, online=True)
    except ServiceError as refusal:
        return Answer.no(refusal, **_way_out(refusal, account))
    return Answer.yes()


def _way_out(refusal, account):
    """Where a refused citizen goes instead: the application already open, if that is the bar."""
    if refusal.code != "account_on_hold":
        return {}
    if account.hold == Account.Hold.TRANSFER:
        return {"link": reverse("transfers:list"), "link_text": _("查看我的转移申请")}
    open_one = WithdrawalApplication.objects.filter(number=account.hold_reference).first()
    if open_one is None:
        return {}
    return {
        "link": reverse("withdrawals:detail", args=[open_one.pk]),
        "link_text": _("查看办理中的提取申请（%(number)s）") % {"number": open_one.number},
    }


@transaction.atomic
def start_withdrawal(
    *, applicant, reason, actor, bank_name, bank_account_number, bank_account_holder,
    holder=None, heir_relation="", counter_clerk=None, proxy_name="", proxy_id_number="",
):
    """Open a draft withdrawal of the holder's personal account, checking every condition."""
    holder = holder or applicant
    account = personal_account_of(holder)
    if counter_clerk is not None:
        # The clerk's region first: a clerk learns nothing about an account another region keeps.
        _check_counter_clerk(counter_clerk, account)
    _check_who_applies(reason, applicant, holder, heir_relation)
    _check_holder_and_account(reason, holder, account, online=counter_clerk is None)
    _check_bank_holder(applicant, bank_account_holder)
    proxy_name, proxy_id_number = _checked_proxy(applicant, proxy_name, proxy_id_number, counter_clerk)
    application = WithdrawalApplication(
        number=new_application_number(WithdrawalApplication.NUMBER_PREFIX),
        applicant=applicant, holder=holder, region=account.region, account=account, reason=reason,
        heir_relation=heir_relation if reason.is_for_heirs else "",
        bank_name=bank_name.strip(), bank_account_number=bank_account_number.strip(),
        bank_account_holder=bank_account_holder.strip(), counter_clerk=counter_clerk,
        proxy_name=proxy_name, proxy_id_number=proxy_id_number,
        material_kinds=material_kinds_for(reason, proxy=bool(proxy_name)),
    )
    # The hold is taken with the draft: one account, one withdrawal in preparation, and an open
    # transfer is refused here, before the citizen uploads anything.
    place_hold(account=account, hold=Account.Hold.WITHDRAWAL, reference=application.number)
    application._history_user = actor
    application.save()
    record_creation(application=application, actor=actor, note=_creation_note(application))
    return application


@transaction.atomic
def start_counter_withdrawal(
    *, clerk, reason, applicant_id_number, holder_id_number="", heir_relation="", proxy_name="",
    proxy_id_number="", bank_name, bank_account_number, bank_account_holder,
):
    """Open a draft at the counter, finding the people by the ID cards the clerk has in hand."""
    holder = find_person(id_number=holder_id_number if reason.is_for_heirs else applicant_id_number)
    _check_counter_clerk(clerk, personal_account_of(holder) if holder else None)
    applicant = find_person(id_number=applicant_id_number) if reason.is_for_heirs else holder
    if applicant is None:
        raise ServiceError(
            _("参保登记中没有申请人（继承人）的身份证号码，请核对。"), code="unknown_applicant"
        )
    return start_withdrawal(
        applicant=applicant, holder=holder, reason=reason, actor=clerk, counter_clerk=clerk,
        heir_relation=heir_relation, proxy_name=proxy_name, proxy_id_number=proxy_id_number,
        bank_name=bank_name, bank_account_number=bank_account_number, bank_account_holder=bank_account_holder,
    )


def _creation_note(application):
    if application.proxy_name:
        return _("窗口代办（代办人：%(name)s）") % {"name": application.masked_proxy_name}
    return _("窗口办理") if application.is_at_counter else ""


def _check_counter_clerk(clerk, account):
    if not clerk.has_perm(COUNTER):
        raise ServiceError(_("您没有办理此项业务的权限。"), code="no_permission")
    if account is None or not regions_of(clerk).filter(pk=account.region_id).exists():
        raise ServiceError(str(COUNTER_NOT_FOUND), code="not_in_region")


def _check_reason_enabled(reason):
    if not reason.enabled:
        raise ServiceError(_("“%(reason)s”已停用，不能再申请。") % {"reason": reason.name}, code="reason_disabled")


def _check_who_applies(reason, applicant, holder, heir_relation):
    _check_reason_enabled(reason)
    if not reason.is_for_heirs and holder.pk != applicant.pk:
        raise ServiceError(_("“%(reason)s”只能由参保人本人申请。") % {"reason": reason.name}, code="not_holder")
    if not reason.is_for_heirs and holder.is_deceased:
        raise ServiceError(
            _("参保人已登记死亡，账户余额由继承人按“参保人死亡”申请提取。"), code="holder_deceased"
        )
    if reason.is_for_heirs and holder.pk == applicant.pk:
        raise ServiceError(
            _("参保人死亡的提取由继承人申请，申请人不能是参保人本人。"), code="heir_is_holder"
        )
    if reason.is_for_heirs and not heir_relation:
        raise ServiceError(_("请说明申请人与已故参保人的关系。"), code="relation_required")


def _check_holder_and_account(reason, holder, account, *, online):
    """Refuse what cannot be withdrawn; online, an heir hears only the one uniform refusal."""
    try:
        if reason.is_for_heirs and not holder.is_deceased:
            raise ServiceError(
                _("参保人死亡尚未登记。请先凭死亡证明在参保人员信息中登记死亡日期。"), code="holder_not_deceased"
            )
        _check_account(account, holder=holder, for_heirs=reason.is_for_heirs)
        if not reason.applies_in(account.region):
            raise ServiceError(
                _("“%(reason)s”不适用于%(region)s。") % {"reason": reason.name, "region": account.region.name},
                code="reason_not_here",
            )
        if account.hold:
            # place_hold would refuse too, under its lock; said here first so that nobody types in vain.
            raise ServiceError(
                _("您的个人账户已有办理中的%(what)s（%(ref)s），同一时间只能办理一项，请办结或撤销后再申请。")
                % {"what": account.get_hold_display(), "ref": account.hold_reference},
                code="account_on_hold",
            )
    except ServiceError:
        if online and reason.is_for_heirs:
            raise ServiceError(str(HEIR_LOOKUP_REFUSAL), code="no_deceased_holder") from None
        raise


def _check_account(account, *, holder, for_heirs):
    """Refuse an account that cannot be withdrawn from now; the open-application hold is checked apart."""
    if account is None:
        raise ServiceError(_("未找到个人账户：只有职工医保参保人员有个人账户。"), code="no_account")
    if account.status == Account.Status.FROZEN:
        raise ServiceError(_("账户已冻结，暂不能提取。请到医保服务大厅咨询。"), code="account_frozen")
    if account.status != Account.Status.ACTIVE:
        raise ServiceError(_("账户已关闭，不能提取。"), code="account_closed")
    # After a death the registry may still say active until the employer reports it; that is no bar.
    if not for_heirs and holder.enrolments.filter(
        status=Enrolment.Status.ACTIVE, insurance_type=Enrolment.InsuranceType.EMPLOYEE
    ).exists():
        raise ServiceError(_enrolment_active_words(holder), code="enrolment_active")
    if account.balance <= 0:
        raise ServiceError(_("账户余额为零，没有可提取的金额。"), code="zero_balance")


def _enrolment_active_words(holder):
    retired = holder.enrolments.filter(
        status=Enrolment.Status.ACTIVE, employment=Enrolment.Employment.RETIRED
    ).exists()
    if retired:
        return _(
            "您是退休人员，职工医保仍在参保中，暂不能提取。符合提取情形的（例如出国（境）定居），"
            "请先携带身份证和相关证明到参保地医保服务大厅办理停保，再申请提取。"
        )
    return _("职工医保仍在参保中，暂不能提取。请先由用人单位办理停保，停保后再申请。")


def _check_bank_holder(applicant, bank_account_holder):
    if bank_account_holder.strip() != applicant.name:
        raise ServiceError(
            _("银行账户须为申请人本人的账户，户名应为“%(name)s”。") % {"name": applicant.name},
            code="bank_holder_mismatch",
        )


def _checked_proxy(applicant, name, id_number, counter_clerk):
    """Return the proxy's name and ID number, both or neither; a proxy acts only at the counter."""
    name, id_number = (name or "").strip(), (id_number or "").strip().upper()
    if not name and not id_number:
        return "", ""
    if counter_clerk is None:
        raise ServiceError(_("代办人须到医保服务大厅窗口办理。"), code="proxy_online")
    if not (name and id_number):
        raise ServiceError(_("请同时填写代办人姓名和身份证号码。"), code="proxy_incomplete")
    if id_number == applicant.id_number:
        raise ServiceError(_("申请人本人办理的，不填代办人。"), code="proxy_is_applicant")
    try:
        validate_id_number(id_number)
    except ValidationError as error:
        raise ServiceError(" ".join(error.messages), code="proxy_id_number") from None
    return name, id_number


@transaction.atomic
def change_bank_account(*, application, actor, bank_name, bank_account_number, bank_account_holder):
    """Change where the money goes, while the application is a draft or returned for more materials."""
    _check_acts_for_applicant(application, actor)
    locked = WithdrawalApplication.objects.select_for_update().get(pk=application.pk)
    if not locked.is_editable:
        raise ServiceError(
            _("申请当前为“%(status)s”状态，不能修改收款账户。") % {"status": locked.get_status_display()},
            code="not_editable",
        )
    _check_bank_holder(application.applicant, bank_account_holder)
    locked.bank_name, locked.bank_account_number = bank_name.strip(), bank_account_number.strip()
    locked.bank_account_holder = bank_account_holder.strip()
    locked._history_user = actor
    locked.save(update_fields=["bank_name", "bank_account_number", "bank_account_holder"])
    for field in ("bank_name", "bank_account_number", "bank_account_holder"):
        setattr(application, field, getattr(locked, field))
    if actor.person_id != application.applicant_id:
        _tell(application, _("收款账户已修改"), _(
            "您的提取申请（%(number)s）的收款账户已由窗口经办人员修改为%(bank)s尾号%(tail)s的账户。"
            "如非您本人要求，请立即联系经办机构。"
        ) % {"number": application.number, "bank": locked.bank_name, "tail": locked.bank_account_number[-4:]})
    return application


def add_withdrawal_material(*, application, kind, uploaded_file, actor):
    """Attach one file of `kind` to a draft or returned application."""
    _check_acts_for_applicant(application, actor)
    if kind not in accepted_kinds(application):
        raise ServiceError(_("此申请不需要这类材料。"), code="unknown_kind")
    return _add_checked(application, kind, uploaded_file, actor, None)


def _mark_what_it_replaces(application, kind, material):
    returned = application.status == Status.RETURNED and application.returned_at
    if returned and kind in application.missing_kinds:
        # The file a return found wanting is kept for the record, marked as replaced by the new one.
        earlier = review_materials.materials_of(application).filter(
            kind=kind, uploaded_at__lte=application.returned_at
        )
        review_materials.mark_replaced(earlier=earlier, replacement=material)


def add_withdrawal_materials(*, application, files, actor):
    """Attach several files at once, [(kind, file), ...]: each checked before any is stored."""
    _check_acts_for_applicant(application, actor)
    kinds = accepted_kinds(application)
    if any(kind not in kinds for kind, _upload in files):
        raise ServiceError(_("此申请不需要这类材料。"), code="unknown_kind")
    try:
        # Every file is checked first, so that a bad one stores none of them.
        checked = [(kind, upload, review_materials.check_upload(upload)) for kind, upload in files]
    except ValidationError as error:
        raise ServiceError(" ".join(error.messages), code=error.code or "bad_file") from None
    return [
        _add_checked(application, kind, upload, actor, result) for kind, upload, result in checked
    ]


def _add_checked(application, kind, upload, actor, checked):
    try:
        material = review_materials.add_material(
            application=application, kind=kind, uploaded_file=upload, actor=actor, checked=checked
        )
    except ValidationError as error:
        raise ServiceError(" ".join(error.messages), code=error.code or "bad_file") from None
    _mark_what_it_replaces(application, kind, material)
    return material


def remove_withdrawal_material(*, material, application, actor):
    """Remove one file from a draft or returned application."""
    _check_acts_for_applicant(application, actor)
    content_type = ContentType.objects.get_for_model(WithdrawalApplication)
    if material.object_id != application.pk or material.content_type_id != content_type.pk:
        raise ServiceError(_("该材料不属于此申请。"), code="not_this_application")
    try:
        review_materials.remove_material(material=material, actor=actor)
    except ValidationError as error:
        raise ServiceError(" ".join(error.messages), code=error.code or "materials_closed") from None


# The citizen's steps ------------------------------------------------------------------------------


@transaction.atomic
def submit_withdrawal(*, application, actor, declaration_accepted):
    """Submit a complete draft, or resubmit a returned one; the deadlines count from today."""
    _check_acts_for_applicant(application, actor)
    if not declaration_accepted:
        raise ServiceError(_("请先阅读并勾选承诺：所提交材料真实有效。"), code="declaration_required")
    # Lock the row before counting the materials: a removal locks it too, so it cannot slip in between
    # the count and the status change and leave a submitted application incomplete.
    locked = WithdrawalApplication.objects.select_for_update().get(pk=application.pk)
    missing = missing_kinds(locked)
    if missing:
        raise ServiceError(
            _("材料不全，还缺少：%(kinds)s。请上传后再提交。") % {"kinds": "、".join(missing.values())},
            code="materials_missing",
        )
    _recheck_conditions(application, Account.objects.get(pk=application.account_id))
    today, now = timezone.localdate(), timezone.now()
    # The deadlines of the version in force on the day of submission.
    limits = policy.in_force(application.region, today)
    transition(
        application=application, to=Status.SUBMITTED, actor=actor,
        note=_("补正后重新提交") if application.status == Status.RETURNED else "",
        changes={
            "submitted_at": now, "clock_started_on": today,
            "first_review_due": add_working_days(today, limits.withdrawal_review_days),
            "payment_due": add_working_days(today, limits.withdrawal_payment_days),
            "declaration_accepted": True, "declaration_accepted_at": now,
        },
    )
    _tell(application, _("提取申请已提交"), _(
        "您的提取申请（%(number)s）已提交。经办机构将在%(review)s（含）前完成初审，"
        "审核通过后于%(pay)s（含）前将款项转入您的银行账户。您可以在“我的提取申请”中查看进度。"
    ) % {"number": application.number, "review": _day(application.first_review_due),
         "pay": _day(application.payment_due)})
    return application


def _recheck_conditions(application, account):
    """Check again what may have changed since the draft was opened: the death record and the account."""
    holder = Person.objects.get(pk=application.holder_id)
    for_heirs = application.reason.is_for_heirs
    if for_heirs and not holder.is_deceased:
        raise ServiceError(_("参保人的死亡登记已撤销，不能按参保人死亡提取。"), code="holder_not_deceased")
    _check_account(account, holder=holder, for_heirs=for_heirs)


@transaction.atomic
def cancel_withdrawal(*, application, actor):
    """Cancel the application before its first review is done; the account is free again."""
    _check_acts_for_applicant(application, actor)
    if not application.can_be_cancelled:
        raise ServiceError(_("初审已完成的申请不能再撤销。如有疑问请联系经办机构。"), code="too_late")
    transition(application=application, to=Status.CANCELLED, actor=actor)
    release_hold(account=application.account, reference=application.number)
    _tell(application, _("提取申请已撤销"), _(
        "您的提取申请（%(number)s）已撤销，账户恢复正常使用。如仍需提取，可以重新申请。"
    ) % {"number": application.number})
    return application


# Staff's steps ------------------------------------------------------------------------------------


@transaction.atomic
def first_review_withdrawal(*, application, actor, note=""):
    """Pass the first review (初审); a second person approves next."""
    _check_desk(actor, application)
    transition(
        application=application, to=Status.FIRST_REVIEWED, actor=actor, note=note,
        permission=REVIEW, changes={"first_reviewer": actor},
    )
    _tell(application, _("提取申请初审通过"), _(
        "您的提取申请（%(number)s）已通过初审，正在等待复核。复核通过后款项将转入您的银行账户，无需您再操作。"
    ) % {"number": application.number})
    return application


@transaction.atomic
def return_withdrawal(*, application, actor, missing_kinds, note):
    """Return the application for more materials, naming everything missing at once (一次性告知)."""
    _check_desk(actor, application)
    _check_second_person(application, actor)
    kinds = accepted_kinds(application)
    unknown = [kind for kind in missing_kinds if kind not in kinds]
    if unknown:
        raise ServiceError(_("所选材料不属于此申请。"), code="unknown_kind")
    note = (note or "").strip()
    if not missing_kinds and not note:
        raise ServiceError(_("请勾选需要补正的材料或填写补正说明，一次性告知申请人。"), code="nothing_missing")
    labels = "、".join(kinds[kind] for kind in missing_kinds)
    summary = "；".join(part for part in (labels and _("需补正：%(kinds)s") % {"kinds": labels}, note) if part)
    transition(
        application=application, to=Status.RETURNED, actor=actor, note=summary,
        permission=decision_permission(application),
        # A resubmitted application is first-reviewed again, by whoever takes it then.
        changes={
            "missing_kinds": list(missing_kinds), "return_note": note, "returned_at": timezone.now(),
            "first_reviewer": None,
        },
    )
    _tell(application, _("提取申请需补正材料"), _(
        "您的提取申请（%(number)s）需要补正。%(summary)s。请在申请页面补充后重新提交，"
        "办理时限从重新提交之日起计算。"
    ) % {"number": application.number, "summary": summary.rstrip("。")}, needs_action=True)
    return application


@transaction.atomic
def refuse_withdrawal(*, application, actor, reason):
    """Refuse the application (不予受理) with a reason the citizen reads; the account is free again."""
    _check_desk(actor, application)
    _check_second_person(application, actor)
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("请填写不予受理的原因，申请人会看到它。"), code="reason_required")
    transition(
        application=application, to=Status.REFUSED, actor=actor, note=reason,
        permission=decision_permission(application), changes={"refusal_reason": reason},
    )
    release_hold(account=application.account, reference=application.number)
    _tell(application, _("提取申请不予受理"), _(
        "您的提取申请（%(number)s）不予受理。原因：%(reason)s。如有疑问，可携带身份证到医保服务大厅咨询；"
        "符合条件后可以重新申请。"
    ) % {"number": application.number, "reason": reason.rstrip("。")})
    return application


def approve_withdrawal(*, application, actor, note=""):
    """Approve (复核通过): move the whole balance to the region's withdrawals payable and close the account."""
    _check_desk(actor, application)
    if application.first_reviewer_id == actor.pk:
        raise ServiceError(_("复核须由初审以外的人员办理。"), code="same_person")
    try:
        with transaction.atomic():
            # Status first: of two approvers clicking at once, the second stops here, before any money.
            transition(
                application=application, to=Status.APPROVED, actor=actor, note=note,
                permission=APPROVE, changes={"approver": actor},
            )
            _move_balance_to_payable(application, actor)
            change_account_status(
                account=application.account, to_status=Account.Status.CLOSED, actor=actor,
                reason=_("余额提取%(number)s复核通过，余额已全部提取") % {"number": application.number},
            )
            _tell(application, _("提取申请复核通过"), _(
                "您的提取申请（%(number)s）已复核通过，账户余额 ¥%(amount)s 已全部划出待支付，账户已关闭。"
                "款项将于%(pay)s前转入您尾号%(tail)s的银行账户。"
            ) % {"number": application.number, "amount": f"{application.amount:,.2f}",
                 "pay": _day(application.payment_due), "tail": application.bank_account_number[-4:]})
    except ledger.LedgerError as error:
        raise ServiceError(error.message, code=error.code) from None
    return application


def _move_balance_to_payable(application, actor):
    payable = system_account(application.region, Account.Kind.WITHDRAWALS_PAYABLE)
    # Lock the personal account and read the balance under the lock: the whole balance moves, including a
    # credit or a settlement that landed a moment ago. Only the citizen's row: the ledger locks system
    # accounts such as the payable last, and a lock on it taken here would break that order.
    personal = Account.objects.select_for_update().get(pk=application.account_id)
    try:
        # Frozen, re-enrolled or emptied since the first review: refuse before any money moves.
        _recheck_conditions(application, personal)
    except ServiceError as error:
        raise ServiceError(
            _("账户情况已变化，不能复核通过：%(reason)s请退回补正或不予受理。") % {"reason": error.message},
            code=error.code,
        ) from None
    amount = personal.balance
    journal = ledger.post(
        kind=JournalTransaction.Kind.WITHDRAWAL,
        lines=[ledger.Line(personal, -amount), ledger.Line(payable, amount)],
        description=_("余额提取 %(number)s") % {"number": application.number},
        idempotency_key=f"withdrawal-approve:{application.pk}",
        actor=actor,
    )
    application.amount, application.approval_journal = amount, journal
    application.save(update_fields=["amount", "approval_journal"])


def confirm_payout_withdrawal(*, application, actor, voucher_number, paid_on, note=""):
    """Record that the bank paid the applicant (已到账), with its voucher: the payable is cleared to paid out."""
    _check_desk(actor, application)
    voucher_number = (voucher_number or "").strip()
    if not voucher_number:
        raise ServiceError(_("请填写银行流水号：每笔付款以银行的凭证为据。"), code="voucher_required")
    if paid_on is None or paid_on > timezone.localdate():
        raise ServiceError(_("请填写银行付款的日期，不能晚于今天。"), code="paid_on_required")
    try:
        with transaction.atomic():
            transition(
                application=application, to=Status.PAID, actor=actor, permission=PAY,
                note=_step_note(_("银行流水号 %(voucher)s，%(day)s到账") % {
                    "voucher": voucher_number, "day": _day(paid_on)}, note),
                changes={"voucher_number": voucher_number, "paid_on": paid_on},
            )
            region, amount = application.region, application.amount
            journal = ledger.post(
                kind=JournalTransaction.Kind.PAYOUT,
                lines=[
                    ledger.Line(system_account(region, Account.Kind.WITHDRAWALS_PAYABLE), -amount),
                    ledger.Line(system_account(region, Account.Kind.PAID_OUT), amount),
                ],
                description=_("提取款支付 %(number)s（银行流水号 %(voucher)s）") % {
                    "number": application.number, "voucher": voucher_number},
                idempotency_key=f"withdrawal-payout:{application.pk}",
                actor=actor,
            )
            application.payout_journal = journal
            application.save(update_fields=["payout_journal"])
            release_hold(account=application.account, reference=application.number)
            _tell(application, _("提取款已到账"), _(
                "您的提取申请（%(number)s）已办结：¥%(amount)s 已于%(day)s转入%(bank)s尾号%(tail)s的账户"
                "（银行流水号 %(voucher)s），请注意查收。"
            ) % {"number": application.number, "amount": f"{amount:,.2f}", "bank": application.bank_name,
                 "tail": application.bank_account_number[-4:], "day": _day(paid_on),
                 "voucher": voucher_number})
    except ledger.LedgerError as error:
        raise ServiceError(error.message, code=error.code) from None
    return application


def reverse_payout_withdrawal(*, application, actor, reason, note=""):
    """Record the bank's return of the payment with its reason: the money goes back, the account reopens."""
    _check_desk(actor, application)
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("请填写银行退回的原因（以银行退票通知为准）。"), code="reason_required")
    try:
        with transaction.atomic():
            was_paid = application.status == Status.PAID
            transition(
                application=application, to=Status.BANK_RETURNED, actor=actor, permission=PAY,
                note=_step_note(_("银行退回：%(reason)s") % {"reason": reason.rstrip("。")}, note),
                changes={"bank_return_reason": reason},
            )
            _reverse_money(application, actor, was_paid=was_paid)
            release_hold(account=application.account, reference=application.number)
            _tell(application, _("提取款被银行退回"), _(
                "您的提取申请（%(number)s）的款项被银行退回，银行说明的原因：%(reason)s。"
                "¥%(amount)s 已退回您的个人账户，账户恢复正常。请核对银行账户信息后重新申请提取。"
            ) % {"number": application.number, "reason": reason.rstrip("。"),
                 "amount": f"{application.amount:,.2f}"})
    except ledger.LedgerError as error:
        raise ServiceError(error.message, code=error.code) from None
    return application


def _step_note(fact, note):
    """Join what the bank said and the clerk's own note into one sentence-like line, with one full stop."""
    note = (note or "").strip().rstrip("。")
    return f"{fact}；{note}" if note else fact


def _reverse_money(application, actor, *, was_paid):
    # The ledger credits only an active account, so the account is reopened before the money returns.
    change_account_status(
        account=application.account, to_status=Account.Status.ACTIVE, actor=actor,
        reason=_("提取款被银行退回（%(number)s），余额退回，账户恢复") % {"number": application.number},
    )
    description = _("银行退回提取款 %(number)s") % {"number": application.number}
    fields = ["approval_reversal_journal"]
    if was_paid:
        application.payout_reversal_journal = ledger.reverse(
            journal=application.payout_journal, description=description, actor=actor,
            idempotency_key=f"withdrawal-bank-return:{application.pk}:payout",
        )
        fields.append("payout_reversal_journal")
    application.approval_reversal_journal = ledger.reverse(
        journal=application.approval_journal, description=description, actor=actor,
        idempotency_key=f"withdrawal-bank-return:{application.pk}:approval",
    )
    application.save(update_fields=fields)


# Who may act --------------------------------------------------------------------------------------


def _check_acts_for_applicant(application, actor):
    """Let the applicant act on their own application, and counter staff of its region on a counter one."""
    if actor.person_id is not None and actor.person_id == application.applicant_id:
        return
    if actor.is_staff:
        _check_staff(actor, COUNTER, application.region_id)
        if not application.is_at_counter:
            raise ServiceError(
                _("网上申请只能由申请人本人办理，窗口人员不能代为操作。"), code="online_application"
            )
        return
    raise ServiceError(_("只有申请人本人或窗口经办人员可以办理。"), code="not_applicant")


def _check_desk(actor, application):
    """Let staff of the application's region decide on it, unless it is their own or their account."""
    _check_region(actor, application.region_id)
    if actor.person_id is not None and actor.person_id in (application.applicant_id, application.holder_id):
        raise ServiceError(
            _("不能办理本人作为申请人或账户持有人的申请，请交由其他经办人员办理。"), code="own_case"
        )


def _check_staff(actor, permission, region_id):
    if not actor.has_perm(permission):
        raise ServiceError(_("您没有办理此项业务的权限。"), code="no_permission")
    _check_region(actor, region_id)


def _check_region(actor, region_id):
    if not regions_of(actor).filter(pk=region_id).exists():
        raise ServiceError(_("该申请不属于您服务的统筹区。"), code="other_region")


def _check_second_person(application, actor):
    # After the first review, the decision is the second person's, whatever permissions the first holds.
    if application.status == Status.FIRST_REVIEWED and application.first_reviewer_id == actor.pk:
        raise ServiceError(_("初审后的退回或不予受理须由初审以外的人员办理。"), code="same_person")


def decision_permission(application):
    """Return the permission a return or a refusal needs at the application's stage."""
    # Before the first review the reviewer returns or refuses; after it, the second person does.
    return REVIEW if application.status == Status.SUBMITTED else APPROVE


def _tell(application, title, body, needs_action=False):
    notify(
        person=application.applicant, title=title, body=body,
        link=reverse("withdrawals:detail", args=[application.pk]), needs_action=needs_action,
    )


def _day(value):
    if value is None:
        return _("规定期限")
    return _("%(year)d年%(month)d月%(day)d日") % {"year": value.year, "month": value.month, "day": value.day}
