"""The double-entry ledger: the one place where balances change."""

from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Sum
from django.db.models.functions import Coalesce, Round
from django.utils.translation import gettext as _

from .models import ZERO, Account, JournalTransaction, LedgerEntry

CENT = Decimal("0.01")


class LedgerError(Exception):
    """A posting was refused; `message` is shown to people, `code` to programs."""

    code = "ledger_error"

    def __init__(self, message, *, account=None):
        super().__init__(message)
        self.message = message
        self.account = account


class InvalidPosting(LedgerError):
    code = "invalid_posting"


class AccountUnavailable(LedgerError):
    code = "account_unavailable"


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"


class IdempotencyConflict(LedgerError):
    """The idempotency key was already used for a posting that moved other money."""

    code = "idempotency_conflict"


@dataclass(frozen=True)
class Line:
    """One side of a posting: money into (positive) or out of (negative) an account."""

    account: Account
    amount: Decimal


def post(*, kind, lines, description, idempotency_key=None, actor=None, reverses=None):
    """Post one balanced journal transaction and return it.

    With an idempotency key that was already used for the same kind and lines, return the earlier
    transaction untouched (its `replayed` attribute is then True) instead of posting again; with the key of
    a different posting, raise IdempotencyConflict.
    """
    _check_lines(lines)
    if idempotency_key is not None:
        earlier = JournalTransaction.objects.filter(idempotency_key=idempotency_key).first()
        if earlier is not None:
            return _replay(earlier, kind, lines)
    try:
        with transaction.atomic():
            journal = _post_locked(
                kind=kind,
                lines=lines,
                description=description,
                idempotency_key=idempotency_key,
                actor=actor,
                reverses=reverses,
            )
    except IntegrityError:
        # Another request posted the same key between our look-up and our insert.
        if idempotency_key is None:
            raise
        earlier = JournalTransaction.objects.filter(idempotency_key=idempotency_key).first()
        if earlier is None:
            raise
        return _replay(earlier, kind, lines)
    journal.replayed = False
    return journal


def _replay(earlier, kind, lines):
    """Return the transaction posted earlier under the same key, if it moved the same money."""
    recorded = set(earlier.entries.values_list("account_id", "amount"))
    requested = {(line.account.pk, line.amount) for line in lines}
    if earlier.kind != kind or recorded != requested:
        raise IdempotencyConflict(
            _("幂等键已用于另一笔内容不同的记账（交易 #%(pk)s），不能重复使用。") % {"pk": earlier.pk}
        )
    earlier.replayed = True
    return earlier


def reverse(*, journal, description, actor=None, idempotency_key=None):
    """Post the exact opposite of `journal`; a transaction is reversed at most once."""
    earlier = JournalTransaction.objects.filter(reverses=journal).first()
    if earlier is not None and (idempotency_key is None or earlier.idempotency_key != idempotency_key):
        # The unique `reverses` column would refuse it too, but as a bare IntegrityError.
        raise InvalidPosting(_("交易 #%(pk)s 已冲正过，不能再次冲正。") % {"pk": journal.pk})
    entries = list(journal.entries.select_related("account"))
    lines = [Line(entry.account, -entry.amount) for entry in entries]
    return post(
        kind=JournalTransaction.Kind.REVERSAL,
        lines=lines,
        description=description,
        idempotency_key=idempotency_key,
        actor=actor,
        reverses=journal,
    )


def _check_lines(lines):
    if len(lines) < 2:
        raise InvalidPosting(_("一笔记账至少涉及两个账户。"))
    account_ids = [line.account.pk for line in lines]
    if len(set(account_ids)) != len(account_ids):
        raise InvalidPosting(_("同一账户在一笔记账中只能出现一次。"))
    for line in lines:
        if not isinstance(line.amount, Decimal) or not line.amount.is_finite():
            raise InvalidPosting(_("金额必须是有效的数字。"))
        if line.amount == 0:
            raise InvalidPosting(_("金额不能为零。"))
        if line.amount != line.amount.quantize(CENT):
            raise InvalidPosting(_("金额最多保留两位小数。"))
    if sum(line.amount for line in lines) != 0:
        raise InvalidPosting(_("借贷不平衡：各分录金额之和必须为零。"))


def _post_locked(*, kind, lines, description, idempotency_key, actor, reverses):
    amounts = {line.account.pk: line.amount for line in lines}
    # Lock every touched row in id order, so two postings over the same accounts never deadlock.
    locked = list(Account.objects.select_for_update().filter(pk__in=amounts).order_by("pk"))
    if len(locked) != len(amounts):
        raise InvalidPosting(_("记账涉及的账户不存在。"))
    for account in locked:
        account.balance += amounts[account.pk]
        if account.is_citizen_money:
            _check_citizen_account(account, amounts[account.pk])

    journal = JournalTransaction.objects.create(
        kind=kind,
        description=description,
        idempotency_key=idempotency_key,
        created_by=actor,
        reverses=reverses,
    )
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            transaction=journal,
            account=account,
            amount=amounts[account.pk],
            balance_after=account.balance,
        )
        for account in locked
    )
    Account.objects.bulk_update(locked, ["balance"])
    for line in lines:
        # Keep the caller's objects in step with the rows just written.
        line.account.balance = next(a.balance for a in locked if a.pk == line.account.pk)
    return journal


def _check_citizen_account(account, amount):
    if account.status != Account.Status.ACTIVE:
        messages = {
            Account.Status.FROZEN: _("该账户已冻结，暂不能使用。"),
            Account.Status.CLOSED: _("该账户已关闭。"),
            Account.Status.TRANSFERRED_OUT: _("该账户已转出。"),
        }
        raise AccountUnavailable(messages[account.status], account=account)
    if account.balance < ZERO:
        raise InsufficientFunds(
            _("账户余额不足：可用 ¥%(available)s，需要 ¥%(needed)s。")
            % {"available": account.balance - amount, "needed": -amount},
            account=account,
        )


@dataclass(frozen=True)
class Discrepancy:
    what: str

    def __str__(self):
        return self.what


def _sum_to_cent(field):
    # SQLite stores decimals as floating point, so a sum of cents may be off by 1e-17. Every stored amount
    # has two places, so rounding the sum to the cent removes that noise and nothing else.
    return Coalesce(Round(Sum(field), 2), ZERO)


def audit():
    """Return every way the ledger disagrees with itself; an empty list means it is exact."""
    return _unbalanced_transactions() + _lopsided_transactions() + _differing_balances() + _negative_balances()


def _unbalanced_transactions():
    unbalanced = (
        JournalTransaction.objects.annotate(total=_sum_to_cent("entries__amount"))
        .exclude(total=0)
        .values_list("pk", "total")
    )
    return [
        Discrepancy(_("交易 #%(pk)s 的分录合计为 %(total)s，不为 0.00") % {"pk": pk, "total": f"{total:.2f}"})
        for pk, total in unbalanced
    ]


def _lopsided_transactions():
    lopsided = JournalTransaction.objects.annotate(count=Count("entries")).filter(count__lt=2)
    return [
        Discrepancy(_("交易 #%(pk)s 的分录少于两条") % {"pk": pk})
        for pk in lopsided.values_list("pk", flat=True)
    ]


def _differing_balances():
    differing = (
        Account.objects.annotate(entries_total=_sum_to_cent("entries__amount"))
        .exclude(balance=F("entries_total"))
        .values_list("pk", "kind", "balance", "entries_total")
    )
    return [
        Discrepancy(
            _("账户 #%(pk)s（%(kind)s）余额为 %(balance)s，但其分录合计为 %(total)s")
            % {"pk": pk, "kind": Account.Kind(kind).label, "balance": f"{balance:.2f}", "total": f"{total:.2f}"}
        )
        for pk, kind, balance, total in differing
    ]


def _negative_balances():
    negative = Account.objects.filter(kind__in=Account.CITIZEN_KINDS, balance__lt=0)
    return [
        Discrepancy(
            _("账户 #%(pk)s（%(kind)s）余额为负数 %(balance)s")
            % {"pk": pk, "kind": Account.Kind(kind).label, "balance": f"{balance:.2f}"}
        )
        for pk, kind, balance in negative.values_list("pk", "kind", "balance")
    ]
