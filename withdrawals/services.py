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

from accounts import ledger
from accounts.models import Account, Enrolment, JournalTransaction
from accounts.scoping import regions_of
from accounts.services import (
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

from .models import AUTHORISATION_KIND, AUTHORISATION_LABEL, WithdrawalApplication

Status = WithdrawalApplication.Status

REVIEW = "withdrawals.review_withdrawal"
APPROVE = "withdrawals.approve_withdrawal"
PAY = "withdrawals.pay_withdrawal"
# Staff who may open an application at the counter may also act for that citizen until submission.
COUNTER = "withdrawals.add_withdrawalapplication"

# What a caller catches to show a refusal: both carry a `message` for people and a `code` for programs.
REFUSALS = (ServiceError, TransitionError)


# Materials a reason needs -------------------------------------------------------------------------


def accepted_kinds(application):
    """Return {kind: label} of the materials the application takes, in the reason's order."""
    kinds = {req.code: req.label for req in application.reason.requirements.all()}
    if application.counter_clerk_id:
        kinds[AUTHORISATION_KIND] = str(AUTHORISATION_LABEL)
    return kinds


def missing_kinds(application, materials=None):
    """Return {kind: label} of the required materials that have no file yet."""
    if materials is None:
        materials = review_materials.materials_of(application)
    present = {material.kind for material in materials}
    return {
        req.code: req.label
        for req in application.reason.requirements.all()
        if req.required and req.code not in present
    }


# Starting and preparing ---------------------------------------------------------------------------


@transaction.atomic
def start_withdrawal(
    *, applicant, reason, actor, bank_name, bank_account_number, bank_account_holder,
    holder=None, heir_relation="", counter_clerk=None,
):
    """Open a draft withdrawal of the holder's personal account, checking every condition."""
    holder = holder or applicant
    _check_who_applies(reason, applicant, holder, heir_relation)
    account = personal_account_of(holder)
    _check_account(account, for_heirs=reason.is_for_heirs)
    if bank_account_holder.strip() != applicant.name:
        raise ServiceError(
            _("银行账户须为申请人本人的账户，户名应为“%(name)s”。") % {"name": applicant.name},
            code="bank_holder_mismatch",
        )
    if counter_clerk is not None:
        _check_staff(counter_clerk, COUNTER, account.region_id)
    application = WithdrawalApplication(
        number=new_application_number(WithdrawalApplication.NUMBER_PREFIX),
        applicant=applicant, holder=holder, region=account.region, account=account, reason=reason,
        heir_relation=heir_relation if reason.is_for_heirs else "",
        bank_name=bank_name.strip(), bank_account_number=bank_account_number.strip(),
        bank_account_holder=bank_account_holder.strip(), counter_clerk=counter_clerk,
    )
    # The hold is taken with the draft: one account, one withdrawal in preparation, and an open
    # transfer is refused here, before the citizen uploads anything.
    place_hold(account=account, hold=Account.Hold.WITHDRAWAL, reference=application.number)
    application.save()
    note = _("窗口代办") if counter_clerk is not None else ""
    record_creation(application=application, actor=actor, note=note)
    return application


def _check_who_applies(reason, applicant, holder, heir_relation):
    if not reason.enabled:
        raise ServiceError(_("“%(reason)s”已停用，不能再申请。") % {"reason": reason.name}, code="reason_disabled")
    if not reason.is_for_heirs and holder.pk != applicant.pk:
        raise ServiceError(_("“%(reason)s”只能由参保人本人申请。") % {"reason": reason.name}, code="not_holder")
    if reason.is_for_heirs and holder.pk == applicant.pk:
        raise ServiceError(
            _("参保人死亡的提取由继承人申请，申请人不能是参保人本人。"), code="heir_is_holder"
        )
    if reason.is_for_heirs and not heir_relation:
        raise ServiceError(_("请说明申请人与已故参保人的关系。"), code="relation_required")


def _check_account(account, *, for_heirs):
    """Refuse an account that cannot be withdrawn from now; the open-application hold is checked apart."""
    if account is None:
        raise ServiceError(_("未找到个人账户：只有职工医保参保人员有个人账户。"), code="no_account")
    if account.status == Account.Status.FROZEN:
        raise ServiceError(_("账户已冻结，暂不能提取。请到医保服务大厅咨询。"), code="account_frozen")
    if account.status != Account.Status.ACTIVE:
        raise ServiceError(_("账户已关闭，不能提取。"), code="account_closed")
    # An heir need not wait for the employer to report the death: the registry may still say active.
    if not for_heirs and account.enrolment.status == Enrolment.Status.ACTIVE:
        raise ServiceError(
            _("职工医保仍在参保中，暂不能提取。用人单位办理停保后再申请。"), code="enrolment_active"
        )
    if account.balance <= 0:
        raise ServiceError(_("账户余额为零，没有可提取的金额。"), code="zero_balance")


def add_withdrawal_material(*, application, kind, uploaded_file, actor):
    """Attach one file of `kind` to a draft or returned application."""
    _check_acts_for_applicant(application, actor)
    if kind not in accepted_kinds(application):
        raise ServiceError(_("此申请不需要这类材料。"), code="unknown_kind")
    try:
        return review_materials.add_material(
            application=application, kind=kind, uploaded_file=uploaded_file, actor=actor
        )
    except ValidationError as error:
        raise ServiceError(" ".join(error.messages), code=error.code or "bad_file") from None


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
    missing = missing_kinds(application)
    if missing:
        raise ServiceError(
            _("材料不全，还缺少：%(kinds)s。请上传后再提交。") % {"kinds": "、".join(missing.values())},
            code="materials_missing",
        )
    account = Account.objects.select_related("enrolment").get(pk=application.account_id)
    _check_account(account, for_heirs=application.reason.is_for_heirs)
    today, now, region = timezone.localdate(), timezone.now(), application.region
    resubmitted = application.status == Status.RETURNED
    transition(
        application=application, to=Status.SUBMITTED, actor=actor,
        note=_("补正后重新提交") if resubmitted else "",
        changes={
            "submitted_at": now, "clock_started_on": today,
            "first_review_due": add_working_days(today, region.withdrawal_review_days),
            "payment_due": add_working_days(today, region.withdrawal_payment_days),
            "declaration_accepted": True, "declaration_accepted_at": now,
        },
    )
    _tell(application, _("提取申请已提交"), _(
        "您的提取申请（%(number)s）已提交。经办机构将在%(review)s前完成初审，"
        "审核通过后于%(pay)s前将款项转入您的银行账户。您可以在“我的提取申请”中查看进度。"
    ) % {"number": application.number, "review": _day(application.first_review_due),
         "pay": _day(application.payment_due)})
    return application


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
    _check_region(actor, application.region_id)
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
    _check_region(actor, application.region_id)
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
        changes={"missing_kinds": list(missing_kinds), "return_note": note, "first_reviewer": None},
    )
    _tell(application, _("提取申请需补正材料"), _(
        "您的提取申请（%(number)s）需要补正。%(summary)s。请在申请页面补充后重新提交，"
        "办理时限从重新提交之日起计算。"
    ) % {"number": application.number, "summary": summary})
    return application


@transaction.atomic
def refuse_withdrawal(*, application, actor, reason):
    """Refuse the application (不予受理) with a reason the citizen reads; the account is free again."""
    _check_region(actor, application.region_id)
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
    ) % {"number": application.number, "reason": reason})
    return application


def approve_withdrawal(*, application, actor, note=""):
    """Approve (复核通过): move the whole balance to the region's withdrawals payable and close the account."""
    _check_region(actor, application.region_id)
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
    # Lock both rows in id order, as the ledger does, and read the balance under the lock: the whole
    # balance moves, including a credit or a settlement that landed a moment ago.
    locked = {
        account.pk: account
        for account in Account.objects.select_for_update().filter(
            pk__in=[application.account_id, payable.pk]
        ).order_by("pk")
    }
    personal = locked[application.account_id]
    amount = personal.balance
    if amount <= 0:
        raise ServiceError(_("账户余额为零，没有可提取的金额；请退回或不予受理。"), code="zero_balance")
    journal = ledger.post(
        kind=JournalTransaction.Kind.WITHDRAWAL,
        lines=[ledger.Line(personal, -amount), ledger.Line(locked[payable.pk], amount)],
        description=_("余额提取 %(number)s") % {"number": application.number},
        idempotency_key=f"withdrawal-approve:{application.pk}",
        actor=actor,
    )
    application.amount, application.approval_journal = amount, journal
    application.save(update_fields=["amount", "approval_journal"])


def confirm_payout_withdrawal(*, application, actor, note=""):
    """Record that the bank paid the applicant (已到账): the payable is cleared to money paid out."""
    _check_region(actor, application.region_id)
    try:
        with transaction.atomic():
            transition(application=application, to=Status.PAID, actor=actor, note=note, permission=PAY)
            region, amount = application.region, application.amount
            journal = ledger.post(
                kind=JournalTransaction.Kind.PAYOUT,
                lines=[
                    ledger.Line(system_account(region, Account.Kind.WITHDRAWALS_PAYABLE), -amount),
                    ledger.Line(system_account(region, Account.Kind.PAID_OUT), amount),
                ],
                description=_("提取款支付 %(number)s") % {"number": application.number},
                idempotency_key=f"withdrawal-payout:{application.pk}",
                actor=actor,
            )
            application.payout_journal = journal
            application.save(update_fields=["payout_journal"])
            release_hold(account=application.account, reference=application.number)
            _tell(application, _("提取款已到账"), _(
                "您的提取申请（%(number)s）已办结：¥%(amount)s 已转入%(bank)s尾号%(tail)s的账户，请注意查收。"
            ) % {"number": application.number, "amount": f"{amount:,.2f}", "bank": application.bank_name,
                 "tail": application.bank_account_number[-4:]})
    except ledger.LedgerError as error:
        raise ServiceError(error.message, code=error.code) from None
    return application


def reverse_payout_withdrawal(*, application, actor, note):
    """Record that the bank returned the payment: reverse the money into the account and reopen it."""
    _check_region(actor, application.region_id)
    note = (note or "").strip()
    if not note:
        raise ServiceError(_("请填写银行退回的原因。"), code="reason_required")
    try:
        with transaction.atomic():
            was_paid = application.status == Status.PAID
            transition(application=application, to=Status.BANK_RETURNED, actor=actor, note=note, permission=PAY)
            _reverse_money(application, actor, was_paid=was_paid)
            release_hold(account=application.account, reference=application.number)
            _tell(application, _("提取款被银行退回"), _(
                "您的提取申请（%(number)s）的款项被银行退回（%(note)s）。¥%(amount)s 已退回您的个人账户，"
                "账户恢复正常。请核对银行账户信息后重新申请提取。"
            ) % {"number": application.number, "note": note, "amount": f"{application.amount:,.2f}"})
    except ledger.LedgerError as error:
        raise ServiceError(error.message, code=error.code) from None
    return application


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
    """Let the applicant act on their own application, and counter staff of its region act for them."""
    if actor.person_id is not None and actor.person_id == application.applicant_id:
        return
    if actor.is_staff:
        _check_staff(actor, COUNTER, application.region_id)
        return
    raise ServiceError(_("只有申请人本人或窗口经办人员可以办理。"), code="not_applicant")


def _check_staff(actor, permission, region_id):
    if not actor.has_perm(permission):
        raise ServiceError(_("您没有办理此项业务的权限。"), code="no_permission")
    _check_region(actor, region_id)


def _check_region(actor, region_id):
    if not regions_of(actor).filter(pk=region_id).exists():
        raise ServiceError(_("该申请不属于您服务的统筹区。"), code="other_region")


def decision_permission(application):
    """Return the permission a return or a refusal needs at the application's stage."""
    # Before the first review the reviewer returns or refuses; after it, the second person does.
    return REVIEW if application.status == Status.SUBMITTED else APPROVE


def _tell(application, title, body):
    notify(
        person=application.applicant, title=title, body=body,
        link=reverse("withdrawals:detail", args=[application.pk]),
    )


def _day(value):
    if value is None:
        return _("规定期限")
    return _("%(year)d年%(month)d月%(day)d日") % {"year": value.year, "month": value.month, "day": value.day}
