"""The double-entry ledger: the one place where balances change."""

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, F, Sum
from django.db.models.functions import Coalesce, Round
from django.utils.translation import gettext as _

from . import sql
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

    Inside the caller's transaction the posting takes no savepoint of its own (two more round trips on
    every settlement): a refusal is raised before anything is written and leaves that transaction as it
    was; a database error once the posting has begun dooms it, as `atomic(savepoint=False)` does.
    """
    _check_lines(lines)
    posting = {
        "kind": kind,
        "lines": lines,
        "description": description,
        "idempotency_key": idempotency_key,
        "actor": actor,
        "reverses": reverses,
    }
    if connection.in_atomic_block:
        return _post(**posting)
    with transaction.atomic():
        return _post(**posting)


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


# Writing a posting ---------------------------------------------------------------------------------
#
# Every posting runs as four plain SQL statements (the ORM would spend several times longer building them
# than PostgreSQL spends running them, on the path every settlement takes):
#
#   1. SELECT ... FOR UPDATE the citizens' accounts (personal accounts and quotas) in id order, and check
#      them under that lock: frozen, closed or transferred-out accounts and debits beyond the balance are
#      refused. Which accounts are citizens' is read from the database, never taken from the caller.
#   2. INSERT the journal row, ON CONFLICT of its unique idempotency key DO NOTHING: a key used before (or
#      by a posting committing at this moment, which the insert waits for) writes nothing, and the earlier
#      posting is answered instead. So is a refused posting whose key was used before.
#   3. UPDATE every balance by `balance + amount ... RETURNING balance`: the citizens' rows (already ours)
#      together with the first system account, then any further system account, one statement each in id
#      order. The system accounts (a region's institutions payable, credit source, transit, ...) may go
#      negative and have no funds to check, so they are not locked up front: each is locked by its own
#      UPDATE and held only from there to COMMIT. Every settlement in a region credits the same
#      institutions account, and holding it for the whole posting would serialise them all.
#   4. INSERT the entries, each with the balance its account's UPDATE returned.
#
# No deadlock: every posting takes its locks in one global order, the citizens' rows first (one
# statement, id order), then the system rows (id order), and never a citizen row after a system row.
# Callers that lock accounts before posting lock citizens' rows only, which keeps that order.
#
# Exact balances after: a system row's UPDATE waits for the lock of any other transaction that updated
# the row, and then (READ COMMITTED) adds to the balance that transaction committed; RETURNING gives the
# result of this very UPDATE. The entry is inserted after it while the row is still locked, so in entry
# id order every entry's balance_after is the previous one's plus its amount, as for citizens' rows,
# which are locked from the start. On SQLite a transaction holds the whole database, so all of this
# holds trivially; ROUND keeps SQLite's floating-point arithmetic at whole cents.

ACCOUNTS = Account._meta.db_table
JOURNAL = JournalTransaction._meta.db_table


def _post(*, kind, lines, description, idempotency_key, actor, reverses):
    amounts = {line.account.pk: line.amount for line in lines}
    with transaction.atomic(savepoint=False):
        citizens = _lock_citizen_accounts(amounts)
    try:
        for pk, (status, balance) in citizens.items():
            _check_citizen_account(pk, status, balance, amounts[pk])
    except LedgerError:
        earlier = _posted_under(idempotency_key)
        if earlier is None:
            raise
        return _replay(earlier, kind, lines)
    with transaction.atomic(savepoint=False):
        journal = _insert_journal(kind, description, idempotency_key, actor, reverses)
        if journal is not None:
            balances = _add_to_balances(amounts, citizens)
            entries = [
                LedgerEntry(transaction=journal, account_id=pk, amount=amount, balance_after=balances[pk])
                for pk, amount in sorted(amounts.items())
            ]
            sql.insert(entries)
    if journal is None:
        # The key's row is committed (the insert waited for it), so this statement's snapshot sees it.
        return _replay(_posted_under(idempotency_key), kind, lines)
    for line in lines:
        # Keep the caller's objects in step with the rows just written.
        line.account.balance = balances[line.account.pk]
    journal.replayed = False
    return journal


def _posted_under(idempotency_key):
    if idempotency_key is None:
        return None
    return JournalTransaction.objects.filter(idempotency_key=idempotency_key).first()


def _lock_citizen_accounts(amounts):
    """Lock the citizens' accounts among `amounts` in id order; return {id: (status, balance)}."""
    ids = sorted(amounts)
    query = (
        f"SELECT id, status, balance FROM {ACCOUNTS} "
        f"WHERE id IN ({sql.marks(ids)}) AND kind IN ({sql.marks(Account.CITIZEN_KINDS)}) ORDER BY id"
    )
    if connection.features.has_select_for_update:
        query += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(query, [*ids, *Account.CITIZEN_KINDS])
        return {pk: (status, sql.money(balance)) for pk, status, balance in cursor.fetchall()}


def _insert_journal(kind, description, idempotency_key, actor, reverses):
    """Insert the journal row and return it, or None when the idempotency key was used already."""
    journal = JournalTransaction(
        kind=kind,
        description=description,
        idempotency_key=idempotency_key,
        created_by=actor,
        reverses=reverses,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {JOURNAL} "
            "(kind, description, idempotency_key, reverses_id, created_by_id, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            [
                journal.kind,
                journal.description,
                journal.idempotency_key,
                journal.reverses_id,
                journal.created_by_id,
                connection.ops.adapt_datetimefield_value(journal.created_at),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    journal.pk = row[0]
    journal._state.adding, journal._state.db = False, connection.alias
    return journal


def _add_to_balances(amounts, citizens):
    """Add each amount to its account's balance (see the notes above); return {id: balance after}."""
    citizen_ids = sorted(citizens)
    system_ids = sorted(pk for pk in amounts if pk not in citizens)
    batches = [(citizen_ids, system_ids[:1])] + [([], [pk]) for pk in system_ids[1:]]
    balances = {}
    for own, system in batches:
        ids = own + system
        if not ids:
            continue
        where, params = [], []
        if own:
            where.append(f"id IN ({sql.marks(own)})")
            params += own
        if system:
            # Guarded by kind: an account that is not a system account is never updated unchecked.
            citizen_kinds = Account.CITIZEN_KINDS
            where.append(f"(id IN ({sql.marks(system)}) AND kind NOT IN ({sql.marks(citizen_kinds)}))")
            params += [*system, *citizen_kinds]
        cases = " ".join("WHEN %s THEN %s" for _pk in ids)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {ACCOUNTS} SET balance = ROUND(balance + CASE id {cases} END, 2) "
                f"WHERE {' OR '.join(where)} RETURNING id, balance",
                [value for pk in ids for value in (pk, amounts[pk])] + params,
            )
            updated = {pk: sql.money(balance) for pk, balance in cursor.fetchall()}
        if len(updated) != len(ids):
            # Only a caller's mistake (an unsaved or deleted account) gets here, after the journal row:
            # the enclosing atomic(savepoint=False) dooms the transaction.
            raise InvalidPosting(_("记账涉及的账户不存在。"))
        balances.update(updated)
    return balances


def _check_citizen_account(pk, status, balance, amount):
    """Refuse an unusable account, or a debit beyond `balance` (read under the lock)."""
    if status != Account.Status.ACTIVE:
        messages = {
            Account.Status.FROZEN: _("该账户已冻结，暂不能使用。"),
            Account.Status.CLOSED: _("该账户已关闭。"),
            Account.Status.TRANSFERRED_OUT: _("该账户已转出。"),
        }
        raise AccountUnavailable(messages[status], account=Account.objects.get(pk=pk))
    if balance + amount < ZERO:
        raise InsufficientFunds(
            _("账户余额不足：可用 ¥%(available)s，需要 ¥%(needed)s。")
            % {"available": balance, "needed": -amount},
            account=Account.objects.get(pk=pk),
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
