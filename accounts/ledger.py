"""The double-entry ledger: the one place where balances change."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, F, Max, Min, Q, Sum
from django.db.models.functions import Coalesce, Round
from django.utils import timezone
from django.utils.translation import gettext as _

from . import sql
from .models import ZERO, Account, JournalTransaction, LedgerAudit, LedgerEntry

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


def post(*, kind, lines, description, idempotency_key=None, actor=None, reverses=None, booked_at=None):
    """Post one balanced journal transaction and return it.

    `booked_at` dates the transaction (default: now); only the demo data's past year needs another date.

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
        "booked_at": booked_at,
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
# than PostgreSQL spends running them, on the path every settlement takes); a posting of thousands of lines
# splits each into statements of at most `sql.MAX_PARAMETERS` parameters, so postings of any size work:
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


def _post(*, kind, lines, description, idempotency_key, actor, reverses, booked_at):
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
        journal = _insert_journal(kind, description, idempotency_key, actor, reverses, booked_at)
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
    found = {}
    # A posting of any size: a few thousand ids a statement, the batches in id order, so the locks are
    # still taken in one ascending order.
    for ids in sql.batches(sorted(amounts)):
        query = (
            f"SELECT id, status, balance FROM {ACCOUNTS} "
            f"WHERE id IN ({sql.marks(ids)}) AND kind IN ({sql.marks(Account.CITIZEN_KINDS)}) ORDER BY id"
        )
        if connection.features.has_select_for_update:
            query += " FOR UPDATE"
        with connection.cursor() as cursor:
            cursor.execute(query, [*ids, *Account.CITIZEN_KINDS])
            found.update({pk: (status, sql.money(balance)) for pk, status, balance in cursor.fetchall()})
    return found


def _insert_journal(kind, description, idempotency_key, actor, reverses, booked_at):
    """Insert the journal row and return it, or None when the idempotency key was used already."""
    journal = JournalTransaction(
        kind=kind,
        description=description,
        idempotency_key=idempotency_key,
        created_by=actor,
        reverses=reverses,
        created_at=booked_at or timezone.now(),
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
    system_ids = sorted(pk for pk in amounts if pk not in citizens)
    # The citizens' rows (three parameters each) a few thousand a statement, the first system row with
    # the last of them, then each further system row on its own, in id order.
    citizen_batches = sql.batches(sorted(citizens), per_item=3) or [[]]
    batches = [(own, []) for own in citizen_batches[:-1]]
    batches += [(citizen_batches[-1], system_ids[:1])] + [([], [pk]) for pk in system_ids[1:]]
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


def audit(*, since_entry=0, since_transaction=0):
    """Return every way the ledger disagrees with itself; an empty list means it is exact.

    Without `since_*`, everything: every transaction sums to zero and has two entries or more, every
    entry's balance_after continues its account's running balance, every balance equals the sum of its
    entries, no citizen's balance is negative. With them, what was posted after those ids: the newer
    transactions, the newer entries (each continuing from the entry before it, older or not), and the
    balances of the accounts they touched, which must equal their last entry's balance_after (by the
    running balances checked up to the checkpoint, that is the sum of all their entries).
    """
    full = not (since_entry or since_transaction)
    return (
        _bad_transactions(since_transaction)
        + _broken_running_balances(since_entry)
        + (_differing_balances() if full else _stale_balances(since_entry))
        + _negative_balances(None if full else since_entry)
    )


def _bad_transactions(since):
    checked = (
        JournalTransaction.objects.filter(pk__gt=since)
        .annotate(total=_sum_to_cent("entries__amount"), count=Count("entries"))
        .filter(~Q(total=0) | Q(count__lt=2))
        .values_list("pk", "total", "count")
    )
    found = []
    for pk, total, count in checked:
        if total != 0:
            found.append(
                Discrepancy(_("交易 #%(pk)s 的分录合计为 %(total)s，不为 0.00") % {"pk": pk, "total": f"{total:.2f}"})
            )
        if count < 2:
            found.append(Discrepancy(_("交易 #%(pk)s 的分录少于两条") % {"pk": pk}))
    return found


ENTRIES = LedgerEntry._meta.db_table

# Each entry after `since` against the one before it on the same account: the window's previous row, or for
# an account's first entry after `since` its last one up to `since` (COALESCE evaluates that subquery only
# then). ROUND keeps SQLite's floating point at whole cents.
RUNNING_BALANCES_SQL = f"""
    SELECT s.id, s.account_id, s.balance_after, s.expected FROM (
        SELECT e.id, e.account_id, e.balance_after,
               ROUND(COALESCE(
                   LAG(e.balance_after) OVER (PARTITION BY e.account_id ORDER BY e.id),
                   (SELECT p.balance_after FROM {ENTRIES} p
                     WHERE p.account_id = e.account_id AND p.id <= %s ORDER BY p.id DESC LIMIT 1),
                   0
               ) + e.amount, 2) AS expected
          FROM {ENTRIES} e WHERE e.id > %s
    ) s
    WHERE ROUND(s.balance_after, 2) <> s.expected
"""


def _broken_running_balances(since):
    with connection.cursor() as cursor:
        cursor.execute(RUNNING_BALANCES_SQL, [since, since])
        rows = cursor.fetchall()
    return [
        Discrepancy(
            _("明细 #%(pk)s（账户 #%(account)s）的记账后余额为 %(after)s，按上一笔应为 %(expected)s")
            % {
                "pk": pk, "account": account, "after": f"{sql.money(after):.2f}",
                "expected": f"{sql.money(expected):.2f}",
            }
        )
        for pk, account, after, expected in rows
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


STALE_BALANCES_SQL = f"""
    SELECT a.id, a.kind, a.balance, last.balance_after
      FROM (SELECT account_id, MAX(id) AS last_id FROM {ENTRIES} WHERE id > %s GROUP BY account_id) touched
      JOIN {ACCOUNTS} a ON a.id = touched.account_id
      JOIN {ENTRIES} last ON last.id = touched.last_id
     WHERE ROUND(a.balance, 2) <> ROUND(last.balance_after, 2)
"""


def _stale_balances(since):
    with connection.cursor() as cursor:
        cursor.execute(STALE_BALANCES_SQL, [since])
        rows = cursor.fetchall()
    return [
        Discrepancy(
            _("账户 #%(pk)s（%(kind)s）余额为 %(balance)s，但其最后一笔明细的记账后余额为 %(after)s")
            % {
                "pk": pk, "kind": Account.Kind(kind).label, "balance": f"{sql.money(balance):.2f}",
                "after": f"{sql.money(after):.2f}",
            }
        )
        for pk, kind, balance, after in rows
    ]


def _negative_balances(since):
    negative = Account.objects.filter(kind__in=Account.CITIZEN_KINDS, balance__lt=0)
    if since is not None:
        negative = negative.filter(pk__in=LedgerEntry.objects.filter(pk__gt=since).values("account"))
    return [
        Discrepancy(
            _("账户 #%(pk)s（%(kind)s）余额为负数 %(balance)s")
            % {"pk": pk, "kind": Account.Kind(kind).label, "balance": f"{balance:.2f}"}
        )
        for pk, kind, balance in negative.values_list("pk", "kind", "balance")
    ]


# Audits with a checkpoint -------------------------------------------------------------------------

# A transaction posted shortly before an audit may commit after it, with ids below those the audit saw:
# the next audit starts early enough to see again everything posted this long before its checkpoint.
IN_FLIGHT = datetime.timedelta(minutes=10)


@dataclass
class AuditRun:
    """What one run of the audit checked, from where, and what it found."""

    discrepancies: list
    checkpoint: LedgerAudit | None
    since_entry: int
    since_transaction: int
    transactions: int
    entries: int
    accounts: int
    last_transaction: int = 0
    last_entry: int = 0
    record: LedgerAudit | None = None


def run_audit(*, full=False):
    """Audit what was posted since the last clean audit (everything with `full`, or when there is none).

    A clean run is recorded and becomes the next run's checkpoint; a run that finds discrepancies leaves
    the checkpoint where it was, so the next run looks at the same postings again.
    """
    started = timezone.now()
    checkpoint = None if full else LedgerAudit.objects.order_by("-pk").first()
    if connection.in_atomic_block:
        run = _audit_from(checkpoint)
    else:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # One snapshot for every query: postings committing meanwhile are left to the next run.
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            run = _audit_from(checkpoint)
    if not run.discrepancies:
        run.record = LedgerAudit.objects.create(
            full=checkpoint is None,
            since_entry_id=run.since_entry,
            last_transaction_id=run.last_transaction,
            last_entry_id=run.last_entry,
            transactions=run.transactions,
            entries=run.entries,
            accounts=run.accounts,
            started_at=started,
        )
    return run


def _audit_from(checkpoint):
    since_transaction, since_entry = _start_after(checkpoint)
    last_transaction = JournalTransaction.objects.aggregate(last=Max("pk"))["last"] or 0
    last_entry = LedgerEntry.objects.aggregate(last=Max("pk"))["last"] or 0
    entries = LedgerEntry.objects.filter(pk__gt=since_entry)
    return AuditRun(
        discrepancies=audit(since_entry=since_entry, since_transaction=since_transaction),
        checkpoint=checkpoint,
        since_entry=since_entry,
        since_transaction=since_transaction,
        transactions=JournalTransaction.objects.filter(pk__gt=since_transaction).count(),
        entries=entries.count(),
        accounts=(
            Account.objects.count() if checkpoint is None else entries.values("account").distinct().count()
        ),
        last_transaction=last_transaction,
        last_entry=last_entry,
    )


def _start_after(checkpoint):
    """Return the (transaction id, entry id) after which an audit from `checkpoint` starts."""
    if checkpoint is None:
        return 0, 0
    recent = JournalTransaction.objects.filter(
        created_at__gte=checkpoint.started_at - IN_FLIGHT, pk__lte=checkpoint.last_transaction_id
    )
    first = recent.aggregate(transaction=Min("pk"), entry=Min("entries__pk"))
    since_transaction = checkpoint.last_transaction_id
    since_entry = checkpoint.last_entry_id
    if first["transaction"] is not None:
        since_transaction = min(since_transaction, first["transaction"] - 1)
    if first["entry"] is not None:
        since_entry = min(since_entry, first["entry"] - 1)
    return since_transaction, since_entry
