"""Settling bills for designated institutions, refunds, suspected misuse (冒名就医) and suspensions.

The institution API (`sharing/api.py`) and the admin desk (`sharing/admin/institutions.py`) call these same
functions, so every rule is checked once. Money moves only through `accounts.ledger.post`, inside the step's
transaction: a refusal leaves nothing half-done. The one record kept on purpose after a refusal is the
suspected-misuse case, written before the refusal is raised.
"""

import calendar
import datetime
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import ledger, sql
from accounts.models import ZERO, Account, Enrolment, JournalTransaction, LedgerEntry, Notice, Person, Region
from accounts.scoping import regions_of
from accounts.services import (
    CITIZENS_TIME_ZONE,
    ServiceError,
    leave_notices,
    notify,
    personal_account_of,
    system_account,
)

from .models import Binding, Institution, MisuseCase, Relation, Settlement, SettlementPayment, Suspension

SHARING_PAGE = "/sharing/"
REFUND = "sharing.refund_settlement"
DECIDE_MISUSE = "sharing.decide_misuse"
ROTATE_TOKEN = "sharing.rotate_token"
SUSPENSION_MONTHS = range(3, 13)

# What the API calls the payer, seen from the patient, given the patient's relation to the payer (the
# binding's `relation`): the patient is the payer's child, so the payer is the patient's father or mother.
SELF = "self"
PAYER_SEEN_FROM_PATIENT = {
    Relation.SPOUSE: "spouse",
    Relation.PARENT: "child",
    Relation.SIBLING: "sibling",
    Relation.GRANDPARENT: "grandchild",
    Relation.GRANDCHILD: "grandparent",
}


def relation_word(binding):
    """Return the payer's relation to the patient as one lower-case English word: father, child, ..."""
    if binding.relation == Relation.CHILD:
        return "father" if binding.payer.identity.is_male else "mother"
    return PAYER_SEEN_FROM_PATIENT[binding.relation]


def today():
    return timezone.localdate(timezone=CITIZENS_TIME_ZONE)


def request_digest(*, patient_id_number, card_number, amount, category, reference):
    """Return the digest of a settlement request's meaning, for telling a replay from a reused key."""
    canonical = [patient_id_number.strip().upper(), card_number, f"{amount:.2f}", category, reference]
    return hashlib.sha256(json.dumps(canonical, ensure_ascii=False).encode()).hexdigest()


# Settling -----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """A settlement with its payments in order; `created` is False when a replay returned a stored one."""

    settlement: Settlement
    payments: list = field(default_factory=list)
    created: bool = False


@dataclass(frozen=True)
class Source:
    """An account that may pay towards the patient's bill, in the order it is drawn on."""

    account_id: int
    holder: Person
    relation: str
    binding: Binding | None = None


def settle(
    *, institution, idempotency_key, patient_id_number, card_number, amount, category, reference,
    booked_at=None,
):
    """Settle a bill's self-paid part from the patient's account and their relatives'; return an Outcome.

    The same key with the same request returns the stored settlement (created=False); with another
    request it is refused. A card that is not the patient's is refused and recorded for staff.
    `booked_at` dates the settlement and its posting (default: now); the demo data's past year uses it.
    """
    _check_amount(amount)
    if amount > institution.amount_limit:
        raise ServiceError(
            _("金额 ¥%(amount)s 超过本机构单笔结算上限 ¥%(limit)s，未结算。请核对金额，或联系医保经办机构。")
            % {"amount": f"{amount:,.2f}", "limit": f"{institution.amount_limit:,.2f}"},
            code="amount_over_limit",
        )
    digest = request_digest(
        patient_id_number=patient_id_number,
        card_number=card_number,
        amount=amount,
        category=category,
        reference=reference,
    )
    facts = _facts(institution, idempotency_key, patient_id_number.strip().upper())
    if facts.stored:
        return stored_outcome(institution=institution, idempotency_key=idempotency_key, digest=digest)
    patient, enrolment = facts.patient, facts.enrolment
    if card_number != patient.card_number:
        record_misuse(
            institution=institution,
            patient=patient,
            enrolment=enrolment,
            card_number=card_number,
            amount=amount,
            reference=reference,
            idempotency_key=idempotency_key,
        )
        raise ServiceError(
            _(
                "所持医保卡不是就诊人本人的卡，不能结算。钱可以共济、卡不能共用：请就诊人出示本人医保卡或医保码。"
                "本次情况已记录，供医保经办机构核查。"
            ),
            code="card_mismatch",
        )
    if enrolment is None:
        raise ServiceError(
            _("就诊人目前没有参保中的登记，不能使用医保账户结算。"), code="patient_not_insured"
        )
    _check_not_suspended(enrolment.suspended_until)
    try:
        return _settle(
            institution=institution,
            idempotency_key=idempotency_key,
            digest=digest,
            facts=facts,
            amount=amount,
            category=category,
            reference=reference,
            booked_at=booked_at or timezone.now(),
        )
    except IntegrityError:
        # Another request with the same key committed first (the unique key on the settlement is the
        # arbiter): answer what it stored, or refuse if it asked for something else.
        stored = stored_outcome(institution=institution, idempotency_key=idempotency_key, digest=digest)
        if stored is None:
            raise
        return stored


def stored_outcome(*, institution, idempotency_key, digest):
    """Return the Outcome stored under the key, None if there is none, or refuse a different request."""
    settlement = _one(Settlement.objects.filter(institution=institution, idempotency_key=idempotency_key))
    if settlement is None:
        return None
    if settlement.request_hash != digest:
        raise ServiceError(
            _("这个 Idempotency-Key 已用于另一笔内容不同的结算（结算 %(id)s）；新的结算请使用新的键。")
            % {"id": settlement.pk},
            code="idempotency_key_reused",
        )
    settlement.institution = institution
    return Outcome(settlement=settlement, payments=payments_of(settlement))


def payments_of(settlement):
    return list(settlement.payments.select_related("holder").order_by("position"))


def payments_by_settlement(settlements):
    """Return {settlement id: its payments in order} for many settlements, in one query."""
    grouped = {}
    rows = SettlementPayment.objects.filter(settlement__in=settlements).select_related("holder")
    for payment in rows.order_by("settlement_id", "position"):
        grouped.setdefault(payment.settlement_id, []).append(payment)
    return grouped


def _one(queryset):
    """The one row of a unique lookup, or None; get() compiles no ORDER BY, unlike first()."""
    try:
        return queryset.get()
    except queryset.model.DoesNotExist:
        return None


def _check_amount(amount):
    if (
        not isinstance(amount, Decimal)
        or not amount.is_finite()
        or amount <= 0
        or amount != amount.quantize(ledger.CENT)
    ):
        raise ServiceError(_("金额须为大于0的数，最多两位小数。"), code="invalid_amount")


@dataclass(frozen=True)
class Facts:
    """What a settlement needs to know before its transaction begins."""

    patient: Person
    # The active enrolment, annotated with `suspended_until` and `own_account_id`; None if not insured.
    enrolment: Enrolment | None = None
    payable_id: int | None = None
    stored: bool = False


# The reads on the path of every settlement are written in SQL: the ORM spends several times longer building
# these joins and subqueries than the database spends running them, and a settlement is mostly such reads.
# Each one builds model instances with `accounts.sql.instance` (`from_db`), so what the rest of the module
# sees is the usual objects (the columns not read here are loaded if anything ever asks for them).

FACTS_SQL = """
    SELECT p.id, p.name, p.id_number, p.card_number,
           e.id, e.region_id, e.insurance_type, e.employment, region.province_id, own.id,
           (SELECT MAX(s.ends_on) FROM sharing_suspension s
             WHERE s.person_id = p.id AND s.starts_on <= %s AND s.ends_on > %s),
           (SELECT a.id FROM accounts_account a WHERE a.region_id = %s AND a.kind = %s),
           (SELECT st.id FROM sharing_settlement st WHERE st.institution_id = %s AND st.idempotency_key = %s)
      FROM accounts_person p
      LEFT JOIN accounts_enrolment e ON e.person_id = p.id AND e.status = %s
      LEFT JOIN accounts_region region ON region.id = e.region_id
      LEFT JOIN accounts_account own ON own.enrolment_id = e.id
     WHERE p.id_number = %s
"""


def _facts(institution, idempotency_key, id_number):
    """Find the patient, their enrolment and the rest in one query.

    The same row says whether the key was used already, whether a suspension is in force (one that
    refuses settlements today, as `Suspension.objects.in_force`), which personal account is the patient's
    own and which account of the region the institutions are owed from. At most one row: a person has at
    most one active enrolment, an enrolment at most one account.
    """
    day = connection.ops.adapt_datefield_value(today())
    row = _one_row(
        FACTS_SQL,
        [
            day,
            day,
            institution.region_id,
            Account.Kind.INSTITUTIONS_PAYABLE,
            institution.pk,
            idempotency_key,
            Enrolment.Status.ACTIVE,
            id_number,
        ],
    )
    if row is None:
        # No such person: rare, so a plain query for a stored settlement first (a replay still answers).
        if Settlement.objects.filter(institution=institution, idempotency_key=idempotency_key).exists():
            return Facts(None, stored=True)
        raise ServiceError(
            _("参保登记中没有这个身份证号码的人员，请核对就诊人身份证号码。"), code="unknown_patient"
        )
    person_id, name, number, card, enrolment_id, region_id, insurance_type, employment, province_id = row[:9]
    own_account_id, suspended_until, payable_id, stored_id = row[9:]
    patient = sql.instance(Person, id=person_id, name=name, id_number=number, card_number=card)
    enrolment = None
    if enrolment_id is not None:
        enrolment = sql.instance(
            Enrolment,
            id=enrolment_id,
            person_id=person_id,
            region_id=region_id,
            insurance_type=insurance_type,
            status=Enrolment.Status.ACTIVE,
            employment=employment,
        )
        enrolment.person = patient
        enrolment.region = sql.instance(Region, id=region_id, province_id=province_id)
        enrolment.suspended_until = _date(suspended_until)
        enrolment.own_account_id = own_account_id
    return Facts(patient, enrolment, payable_id, stored=stored_id is not None)


def _one_row(query, params):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()


def _date(value):
    # SQLite returns dates as ISO strings.
    return datetime.date.fromisoformat(value) if isinstance(value, str) else value


def _check_not_suspended(suspended_until):
    if suspended_until is not None:
        raise ServiceError(
            _(
                "就诊人的医保联网结算已暂停，%(day)s起恢复；暂停期间请按自费结算，相关费用可按规定回参保地办理。"
            )
            % {"day": day_words(suspended_until)},
            code="settlement_suspended",
        )


def _settle(*, institution, idempotency_key, digest, facts, amount, category, reference, booked_at):
    # Read before the transaction: which accounts may pay, in what order, and what they hold.
    sources = _sources(facts.patient, facts.enrolment)
    settling = {
        "institution": institution,
        "idempotency_key": idempotency_key,
        "digest": digest,
        "facts": facts,
        "amount": amount,
        "category": category,
        "reference": reference,
        "sources": sources,
        "booked_at": booked_at,
    }
    try:
        # First from the balances as read, without a lock: the paying accounts are then locked only by the
        # ledger, for its last few statements, and every settlement of one payer queues for less time. The
        # ledger checks each account under its lock and refuses one that was spent or frozen since; then
        # nothing of this attempt is kept, and the settlement is made again from balances read under a lock.
        # (A credit that lands in between leaves the split as it was read: the same as had it landed after.)
        return _settle_from(_accounts(sources), **settling)
    except (ledger.InsufficientFunds, ledger.AccountUnavailable):
        return _settle_from(None, **settling)


def _settle_from(
    accounts, *, sources, facts, amount, institution, idempotency_key, digest, booked_at, **request
):
    """Write the settlement, its payments and its posting, splitting by `accounts` (None: lock and read)."""
    patient, enrolment = facts.patient, facts.enrolment
    with transaction.atomic():
        # Written first: a concurrent request with the same key waits here on the unique index and then
        # fails, before it has locked or read any account.
        settlement = Settlement(
            institution=institution,
            patient=patient,
            region_id=enrolment.region_id,
            idempotency_key=idempotency_key,
            request_hash=digest,
            amount=amount,
            paid=ZERO,
            cash_due=amount,
            category=request["category"],
            reference=request["reference"],
            created_at=booked_at,
        )
        # The rows of a settlement are written with `accounts.sql` (no signals are connected to them).
        sql.insert([settlement])
        if accounts is None:
            accounts = _accounts(sources, lock=True)
        payments = _split(settlement, amount, accounts, sources)
        if payments:
            sql.insert(payments)
            settlement.paid = sum((payment.amount for payment in payments), ZERO)
            settlement.cash_due = amount - settlement.paid
            notices = [_notify_paid(settlement, paid) for paid in payments if paid.binding is not None]
            leave_notices(notices)
            # The ledger locks the paying accounts, checks them, and takes the institutions' account of the
            # region, which every settlement there touches, last of all (see accounts.ledger).
            settlement.journal = ledger.post(
                kind=JournalTransaction.Kind.SETTLEMENT,
                lines=[ledger.Line(payment.account, -payment.amount) for payment in payments]
                + [ledger.Line(_payable(institution, facts.payable_id), settlement.paid)],
                description=_settlement_words(settlement),
                idempotency_key=f"settlement:{institution.pk}:{idempotency_key}",
                booked_at=booked_at,
            )
            sql.update(settlement, ["paid", "cash_due", "journal"])
    return Outcome(settlement=settlement, payments=payments, created=True)


def _payable(institution, payable_id):
    """The region's account of what is owed to institutions, opened on the region's first settlement."""
    if payable_id is None:
        return system_account(institution.region, Account.Kind.INSTITUTIONS_PAYABLE)
    # The ledger updates the row by its id and reads the balance it wrote: the id is all it needs.
    return Account(pk=payable_id, region_id=institution.region_id, kind=Account.Kind.INSTITUTIONS_PAYABLE)


# The payer's account and province as subqueries rather than joins: PostgreSQL plans it in half the time.
SOURCES_SQL = """
    SELECT b.id, b.relation, b.way, b.quota_account_id, b.priority,
           payer.id, payer.name, payer.id_number,
           (SELECT a.id FROM accounts_account a WHERE a.enrolment_id = payer_enrolment.id)
      FROM sharing_binding b
      JOIN accounts_person payer ON payer.id = b.payer_id
      JOIN accounts_enrolment payer_enrolment
        ON payer_enrolment.person_id = payer.id
       AND payer_enrolment.status = %s AND payer_enrolment.insurance_type = %s
     WHERE b.relative_id = %s AND b.status = %s
       AND payer.died_on IS NULL
       AND (b.way = %s
            OR (SELECT r.province_id FROM accounts_region r WHERE r.id = payer_enrolment.region_id) = %s)
     ORDER BY b.priority, b.started_at, b.id
"""


def _sources(patient, enrolment):
    """Return the accounts that may pay, in paying order (`_accounts` reads what they hold).

    The patient's own personal account comes first, then each active binding in the patient's order
    (priority, then the oldest): its quota, or the payer's personal account for a direct binding.

    A binding counts only while its payer has an active employee enrolment (at most one exists; its account
    is the payer's personal account). Left out too is a binding that an enrolment change should already
    have ended: a deceased payer, or for direct sharing a payer no longer in the patient's province.
    """
    candidates = []
    if enrolment.is_employee and enrolment.own_account_id is not None:
        candidates.append(Source(enrolment.own_account_id, patient, SELF))
    with connection.cursor() as cursor:
        cursor.execute(
            SOURCES_SQL,
            [
                Enrolment.Status.ACTIVE,
                Enrolment.InsuranceType.EMPLOYEE,
                patient.pk,
                Binding.Status.ACTIVE,
                Binding.Way.QUOTA,
                enrolment.region.province_id,
            ],
        )
        rows = cursor.fetchall()
    for binding_id, relation, way, quota_account_id, priority, payer_id, name, number, payer_account in rows:
        payer = sql.instance(Person, id=payer_id, name=name, id_number=number)
        binding = sql.instance(
            Binding,
            id=binding_id,
            payer_id=payer_id,
            relative_id=patient.pk,
            relation=relation,
            way=way,
            status=Binding.Status.ACTIVE,
            priority=priority,
            quota_account_id=quota_account_id,
        )
        binding.payer = payer
        account_id = quota_account_id if binding.uses_quota else payer_account
        candidates.append(Source(account_id, payer, relation_word(binding), binding))
    return candidates


def _accounts(sources, *, lock=False):
    """Read the sources' accounts (with `lock`, locked in id order) and return them by id.

    Locked, the balances read are the ones the split is computed from, and no other settlement, top-up or
    release can change them until this transaction ends. The bindings themselves were read without a lock,
    as they always were: one ended a moment ago may still pay this once from the payer's account, while its
    quota, given back when it ended, is empty by then.
    """
    ids = sorted({source.account_id for source in sources if source.account_id is not None})
    if not ids:
        return {}
    query = f"SELECT id, kind, status, balance FROM accounts_account WHERE id IN ({sql.marks(ids)})"
    query += " ORDER BY id"
    if lock and connection.features.has_select_for_update:
        query += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(query, ids)
        rows = cursor.fetchall()
    return {
        pk: sql.instance(Account, id=pk, kind=kind, status=status, balance=balance)
        for pk, kind, status, balance in rows
    }


def _split(settlement, amount, accounts, sources):
    """Return the unsaved payments that cover as much of `amount` as the sources' balances allow."""
    payments, remaining = [], amount
    for source in sources:
        account = accounts.get(source.account_id)
        if remaining == 0:
            break
        if account is None or account.status != Account.Status.ACTIVE or account.balance <= 0:
            continue
        paid = min(account.balance, remaining)
        remaining -= paid
        payments.append(
            SettlementPayment(
                settlement=settlement,
                position=len(payments) + 1,
                account=account,
                holder=source.holder,
                binding=source.binding,
                relation=source.relation,
                amount=paid,
            )
        )
    return payments


def _settlement_words(settlement):
    return _("医药费结算 %(id)s：%(institution)s（%(category)s）") % {
        "id": settlement.pk,
        "institution": settlement.institution.name,
        "category": _category_words(settlement),
    }


def _category_words(settlement):
    # The enum's label, not get_category_display(), which hashes every choice's lazy label on each call.
    return Settlement.Category(settlement.category).label


def _moment_words(moment):
    moment = timezone.localtime(moment, CITIZENS_TIME_ZONE)
    return _("%(year)d年%(month)d月%(day)d日 %(time)s") % {
        "year": moment.year,
        "month": moment.month,
        "day": moment.day,
        "time": f"{moment:%H:%M}",
    }


def _relative_words(binding, patient):
    return _("%(name)s（您的%(relation)s）") % {
        "name": patient.masked_name,
        "relation": Relation(binding.relation).label,
    }


def _source_words(payment):
    return _("为其划拨的共济额度") if payment.account.kind == Account.Kind.QUOTA else _("个人账户")


def _notify_paid(settlement, payment):
    """Return the notice (unsaved: the settlement inserts them together) telling a payer what they paid."""
    return Notice(
        person=payment.holder,
        title=_("已为亲属支付医药费"),
        body=_(
            "%(moment)s，%(relative)s在%(institution)s结算%(category)s费用，"
            "从您的%(source)s支付 ¥%(amount)s。钱可以共济、卡不能共用：如果不是亲属本人就医，"
            "请拨打12393反映。每一笔支付都可以在“家庭共济”中查看。"
        )
        % {
            "moment": _moment_words(settlement.created_at),
            "relative": _relative_words(payment.binding, settlement.patient),
            "institution": settlement.institution.name,
            "category": _category_words(settlement),
            "source": _source_words(payment),
            "amount": f"{payment.amount:,.2f}",
        },
        link=SHARING_PAGE,
    )


# Refunds ------------------------------------------------------------------------------------------


def refund_settlement(*, settlement, actor=None, note=""):
    """Refund a whole settlement to the accounts and quotas that paid; a second call changes nothing.

    Returns (settlement, refunded_now). Money goes back where it came from; a quota whose binding has
    ended goes to the payer's personal account (or stays in the quota, held for the payer, when that
    account cannot take it); a closed or transferred-out account's part goes to the holder's current
    account. When some part has nowhere to go (a frozen account) nothing moves and the refund is refused.
    """
    if actor is not None and not actor.has_perm(REFUND):
        raise ServiceError(_("您没有办理结算退款的权限。"), code="no_permission")
    with transaction.atomic():
        locked = (
            # Lock the settlement row only (`of=("self",)`): locking the joined institution and patient too
            # would make every concurrent settlement of that institution wait at its COMMIT (deferred
            # foreign-key checks) while it holds a payer's account row this refund also needs: a deadlock.
            Settlement.objects.select_for_update(of=("self",))
            .select_related("institution", "patient")
            .get(pk=settlement.pk)
        )
        if locked.is_refunded:
            return locked, False
        payments = list(
            locked.payments.select_related(
                "account", "holder", "binding__payer", "binding__region__province"
            ).order_by("position")
        )
        if payments:
            locked.refund_journal = _post_refund(locked, payments, actor=actor, note=note)
        locked.status = Settlement.Status.REFUNDED
        locked.refunded_at = timezone.now()
        locked.save(update_fields=["status", "refunded_at", "refund_journal"])
        for payment in payments:
            if payment.binding is not None:
                _notify_refunded(locked, payment)
    return locked, True


def _post_refund(settlement, payments, *, actor, note):
    back = {}
    for payment in payments:
        destination = _refund_destination(payment)
        if destination is None:
            raise ServiceError(
                _(
                    "%(holder)s的%(account)s当前为“%(status)s”状态，款项无法退回，本次退款未办理。"
                    "请经办机构处理账户状态后再退款。"
                )
                % {
                    "holder": payment.holder.masked_name,
                    "account": payment.account.get_kind_display(),
                    "status": payment.account.get_status_display(),
                },
                code="refund_account_unavailable",
            )
        payment.refunded_to = destination
        line = back.setdefault(destination.pk, [destination, ZERO])
        line[1] += payment.amount
    payable = (
        LedgerEntry.objects.select_related("account")
        .get(transaction_id=settlement.journal_id, amount__gt=0)
        .account
    )
    description = _("结算退款 %(id)s：%(institution)s") % {
        "id": settlement.pk,
        "institution": settlement.institution.name,
    }
    if note:
        description = f"{description}（{note}）"[:200]
    try:
        return ledger.post(
            kind=JournalTransaction.Kind.REFUND,
            lines=[ledger.Line(payable, -settlement.paid)]
            + [ledger.Line(account, amount) for account, amount in back.values()],
            description=description,
            idempotency_key=f"settlement-refund:{settlement.pk}",
            actor=actor,
        )
    except ledger.AccountUnavailable as error:
        # Frozen between our look and the ledger's lock.
        raise ServiceError(error.message, code="refund_account_unavailable") from None


def _refund_destination(payment):
    """Return the account a payment goes back to, or None when none can take it now."""
    account = payment.account
    if account.kind == Account.Kind.QUOTA:
        if payment.binding.is_active and account.can_spend:
            return account
        # The binding has ended and its quota gone back (or waits to go back) to the payer: so does this.
        target = _payer_account(payment.binding)
        if target is not None:
            return target
        # The quota account still holds for the payer what could not go back yet; bindings' own
        # `return_held_quota` moves it once the payer's account can take it.
        return account if account.can_spend else None
    if account.can_spend:
        return account
    if account.status in (Account.Status.CLOSED, Account.Status.TRANSFERRED_OUT):
        current = personal_account_of(payment.holder)
        if current is not None and current.can_spend:
            return current
    return None


def _payer_account(binding):
    """The payer's usable personal account in the binding's pool, as an ended quota returns to."""
    account = personal_account_of(binding.payer)
    if account is None or not account.can_spend:
        return None
    region = binding.region
    same_pool = account.region_id == region.pk or (
        region.province.accounts_province_wide and account.region.province_id == region.province_id
    )
    return account if same_pool else None


def _notify_refunded(settlement, payment):
    where = _("个人账户") if payment.refunded_to.kind == Account.Kind.PERSONAL else _("共济额度")
    notify(
        person=payment.holder,
        title=_("亲属的医药费已退款"),
        body=_(
            "%(relative)s %(moment)s在%(institution)s的结算已由机构退款，"
            "您支付的 ¥%(amount)s 已退回您的%(where)s。"
        )
        % {
            "relative": _relative_words(payment.binding, settlement.patient),
            "moment": _moment_words(settlement.created_at),
            "institution": settlement.institution.name,
            "amount": f"{payment.amount:,.2f}",
            "where": where,
        },
        link=SHARING_PAGE,
    )


# Suspected misuse and suspensions -----------------------------------------------------------------


def record_misuse(*, institution, patient, enrolment, card_number, amount, reference, idempotency_key=""):
    """Record a suspected 冒名就医 for the clerks of the patient's region; a retried request is kept once."""
    case = MisuseCase(
        institution=institution,
        patient=patient,
        card_number=card_number,
        card_holder=Person.objects.filter(card_number=card_number).first(),
        region_id=_region_of(patient, enrolment, institution),
        amount=amount,
        reference=reference,
        idempotency_key=idempotency_key,
    )
    if (
        idempotency_key
        and MisuseCase.objects.filter(institution=institution, idempotency_key=idempotency_key).exists()
    ):
        return None
    try:
        with transaction.atomic():
            case.save()
    except IntegrityError:
        # The same request retried at the same moment: the first one's record stands.
        return None
    return case


def _region_of(patient, enrolment, institution):
    """The patient's region: of the active enrolment, else of the latest one, else the institution's."""
    if enrolment is not None:
        return enrolment.region_id
    latest = Enrolment.objects.filter(person=patient).order_by("-started_on", "-id").first()
    return latest.region_id if latest is not None else institution.region_id


def confirm_misuse(*, case, actor, note, suspend=None, months=None):
    """Confirm a case; with `suspend` (the card holder or the patient) suspend their direct settlement."""
    note = (note or "").strip()
    if suspend is not None and suspend.pk not in (case.card_holder_id, case.patient_id):
        raise ServiceError(_("只能暂停卡主或就诊人的联网结算。"), code="bad_person")
    if suspend is not None and months not in SUSPENSION_MONTHS:
        raise ServiceError(_("暂停期限须为3至12个月。"), code="bad_months")
    with transaction.atomic():
        locked = _decide(case, actor=actor, status=MisuseCase.Status.CONFIRMED, note=note)
        suspension = None
        if suspend is not None:
            starts_on = today()
            suspension = Suspension.objects.create(
                person=suspend,
                case=locked,
                months=months,
                starts_on=starts_on,
                ends_on=add_months(starts_on, months),
                created_by=actor,
            )
            _notify_suspended(suspension, locked)
    return locked, suspension


def dismiss_misuse(*, case, actor, note):
    """Dismiss a case after checking it (an institution's mistake, a card swapped at the till, ...)."""
    with transaction.atomic():
        return _decide(case, actor=actor, status=MisuseCase.Status.DISMISSED, note=(note or "").strip())


def _decide(case, *, actor, status, note):
    if not actor.has_perm(DECIDE_MISUSE):
        raise ServiceError(_("您没有核查疑似冒名就医的权限。"), code="no_permission")
    if not note:
        raise ServiceError(_("请填写核查说明。"), code="note_required")
    locked = MisuseCase.objects.select_for_update().get(pk=case.pk)
    if not regions_of(actor).filter(pk=locked.region_id).exists():
        raise ServiceError(_("这条记录不属于您服务的统筹区。"), code="not_in_region")
    # Two clerks deciding at once: the second one waits on the lock, then finds it decided.
    if locked.status != MisuseCase.Status.OPEN:
        raise ServiceError(
            _("这条记录已由其他经办人员处理（%(status)s），请刷新页面。")
            % {"status": locked.get_status_display()},
            code="already_decided",
        )
    locked.status, locked.decided_by, locked.decided_at = status, actor, timezone.now()
    locked.decision_note = note[:200]
    locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    case.status, case.decided_by, case.decided_at = locked.status, locked.decided_by, locked.decided_at
    case.decision_note = locked.decision_note
    return locked


def day_words(day):
    return _("%(year)d年%(month)d月%(day)d日") % {"year": day.year, "month": day.month, "day": day.day}


def add_months(day, months):
    """Return the same day `months` later, or the month's last day when it has no such day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _notify_suspended(suspension, case):
    notify(
        person=suspension.person,
        title=_("您的医保联网结算已暂停"),
        body=_(
            "经核查，%(moment)s在%(institution)s发生的冒用他人医保卡就医（冒名就医）属实。依据《医疗保障基金使用"
            "监督管理条例》，自%(start)s起暂停您的医保联网结算%(months)d个月，%(end)s起恢复。暂停期间就医购药请先"
            "按自费结算。如有异议，请携带身份证到参保地医保服务大厅咨询，或拨打12393。"
        )
        % {
            "moment": _moment_words(case.created_at),
            "institution": case.institution.name,
            "start": day_words(suspension.starts_on),
            "months": suspension.months,
            "end": day_words(suspension.ends_on),
        },
    )


# Institutions -------------------------------------------------------------------------------------


@transaction.atomic
def rotate_institution_token(*, institution, actor):
    """Give the institution a new API token and return it; the old one stops working at once."""
    if not actor.has_perm(ROTATE_TOKEN):
        raise ServiceError(_("您没有重置机构接口令牌的权限。"), code="no_permission")
    locked = Institution.objects.select_for_update().get(pk=institution.pk)
    token = locked.set_token()
    locked.save(update_fields=["token_hash", "token_hint", "token_rotated_at"])
    institution.token_hash, institution.token_hint = locked.token_hash, locked.token_hint
    institution.token_rotated_at = locked.token_rotated_at
    return token
