import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from accounts import ledger
from accounts.ledger import AccountUnavailable, InsufficientFunds, InvalidPosting, Line
from accounts.models import Account, JournalTransaction, LedgerEntry
from accounts.services import change_account_status, system_account
from conftest import fund, make_employee, region

pytestmark = pytest.mark.django_db

SETTLEMENT = JournalTransaction.Kind.SETTLEMENT


def personal_account(balance="100.00", **overrides):
    return make_employee(balance=balance, **overrides).enrolments.get().account


@pytest.fixture
def account():
    return personal_account("100.00")


@pytest.fixture
def payable():
    return system_account(region(), Account.Kind.INSTITUTIONS_PAYABLE)


def pay(account, payable, amount, **kwargs):
    amount = Decimal(amount)
    return ledger.post(
        kind=SETTLEMENT, lines=[Line(account, -amount), Line(payable, amount)], description="药店结算", **kwargs
    )


def balance_of(account):
    return Account.objects.get(pk=account.pk).balance


def ledger_rows():
    return JournalTransaction.objects.count(), LedgerEntry.objects.count()


def test_balanced_posting_moves_money_and_records_balance_after(account, payable):
    journal = pay(account, payable, "30.50")

    assert journal.replayed is False
    assert balance_of(account) == Decimal("69.50")
    assert balance_of(payable) == Decimal("30.50")
    assert account.balance == Decimal("69.50")  # the caller's object follows the row
    entries = {entry.account_id: entry for entry in journal.entries.all()}
    assert entries[account.pk].amount == Decimal("-30.50")
    assert entries[account.pk].balance_after == Decimal("69.50")
    assert entries[payable.pk].amount == Decimal("30.50")
    assert ledger.audit() == []


def test_posting_over_three_accounts_balances_each(account, payable):
    other = personal_account("50.00")
    ledger.post(
        kind=SETTLEMENT,
        lines=[
            Line(account, Decimal("-20.00")),
            Line(other, Decimal("-5.25")),
            Line(payable, Decimal("25.25")),
        ],
        description="共济结算",
    )
    assert (balance_of(account), balance_of(other), balance_of(payable)) == (
        Decimal("80.00"), Decimal("44.75"), Decimal("25.25"),
    )


@pytest.mark.parametrize(
    "amounts",
    [
        pytest.param(["-30.00", "29.99"], id="unbalanced"),
        pytest.param(["0.00", "0.00"], id="zero"),
        pytest.param(["-1.005", "1.005"], id="three-decimals"),
        pytest.param(["-1.00"], id="one-line"),
        pytest.param(["-1.00", 1.0], id="float"),
    ],
)
def test_malformed_posting_is_refused_and_writes_nothing(account, payable, amounts):
    before = ledger_rows()
    accounts = [account, payable]
    lines = [Line(acc, Decimal(a) if isinstance(a, str) else a) for acc, a in zip(accounts, amounts)]

    with pytest.raises(InvalidPosting):
        ledger.post(kind=SETTLEMENT, lines=lines, description="坏的记账")

    assert ledger_rows() == before
    assert balance_of(account) == Decimal("100.00")


def test_same_account_twice_in_one_posting_is_refused(account):
    with pytest.raises(InvalidPosting):
        ledger.post(
            kind=SETTLEMENT,
            lines=[Line(account, Decimal("-1.00")), Line(account, Decimal("1.00"))],
            description="自己转自己",
        )


def test_debit_beyond_balance_is_refused_and_writes_nothing(account, payable):
    before = ledger_rows()

    with pytest.raises(InsufficientFunds) as refused:
        pay(account, payable, "100.01")

    assert refused.value.account.pk == account.pk
    assert "100.00" in refused.value.message and "100.01" in refused.value.message
    assert ledger_rows() == before
    assert balance_of(account) == Decimal("100.00")
    assert balance_of(payable) == Decimal("0.00")


def test_debit_of_the_whole_balance_leaves_zero(account, payable):
    pay(account, payable, "100.00")
    assert balance_of(account) == Decimal("0.00")


@pytest.mark.parametrize(
    "status", [Account.Status.FROZEN, Account.Status.CLOSED, Account.Status.TRANSFERRED_OUT]
)
@pytest.mark.parametrize("direction", ["debit", "credit"])
def test_unavailable_account_neither_pays_nor_receives(account, payable, reviewer, status, direction):
    change_account_status(account=account, to_status=status, actor=reviewer, reason="测试")
    before = ledger_rows()

    with pytest.raises(AccountUnavailable):
        pay(account, payable, "10.00" if direction == "debit" else "-10.00")

    assert ledger_rows() == before
    assert balance_of(account) == Decimal("100.00")


def test_same_idempotency_key_posts_once(account, payable):
    first = pay(account, payable, "10.00", idempotency_key="settlement:ph1:abc")
    again = pay(account, payable, "10.00", idempotency_key="settlement:ph1:abc")

    assert again.pk == first.pk
    assert again.replayed is True
    assert JournalTransaction.objects.filter(idempotency_key="settlement:ph1:abc").count() == 1
    assert balance_of(account) == Decimal("90.00")


def test_same_key_with_the_same_lines_in_another_order_is_a_replay(account, payable):
    first = pay(account, payable, "10.00", idempotency_key="settlement:ph1:abc")
    again = ledger.post(
        kind=SETTLEMENT,
        lines=[Line(payable, Decimal("10")), Line(account, Decimal("-10.00"))],
        description="药店结算（重发）",
        idempotency_key="settlement:ph1:abc",
    )
    assert (again.pk, again.replayed) == (first.pk, True)
    assert balance_of(account) == Decimal("90.00")


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"amount": "12.00"}, id="another-amount"),
        pytest.param({"kind": JournalTransaction.Kind.PREMIUM}, id="another-kind"),
        pytest.param({"other_account": True}, id="another-account"),
    ],
)
def test_same_key_with_different_lines_is_refused_as_a_conflict(account, payable, change):
    first = pay(account, payable, "10.00", idempotency_key="settlement:ph1:abc")
    source = personal_account("50.00") if change.get("other_account") else account
    amount = Decimal(change.get("amount", "10.00"))
    before = ledger_rows()

    with pytest.raises(ledger.IdempotencyConflict) as refused:
        ledger.post(
            kind=change.get("kind", SETTLEMENT),
            lines=[Line(source, -amount), Line(payable, amount)],
            description="药店结算",
            idempotency_key="settlement:ph1:abc",
        )

    assert refused.value.code == "idempotency_conflict"
    assert isinstance(refused.value, ledger.LedgerError)
    assert f"交易 #{first.pk}" in refused.value.message
    assert ledger_rows() == before
    assert (balance_of(account), balance_of(payable)) == (Decimal("90.00"), Decimal("10.00"))


def test_a_conflict_found_only_at_insert_time_is_refused_too(account, payable, monkeypatch):
    # Another request inserted the key between this one's look-up and its insert.
    pay(account, payable, "10.00", idempotency_key="settlement:ph1:abc")
    real_filter = JournalTransaction.objects.filter
    looked_up = []

    def miss_the_first_look_up(*args, **kwargs):
        if "idempotency_key" in kwargs and not looked_up:
            looked_up.append(True)
            return JournalTransaction.objects.none()
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(JournalTransaction.objects, "filter", miss_the_first_look_up)

    with pytest.raises(ledger.IdempotencyConflict):
        pay(account, payable, "11.00", idempotency_key="settlement:ph1:abc")

    assert balance_of(account) == Decimal("90.00")


def test_reverse_posts_the_opposite_and_restores_balances(account, payable, reviewer):
    journal = pay(account, payable, "30.00")

    reversal = ledger.reverse(journal=journal, description="冲正：结算撤销", actor=reviewer)

    assert reversal.kind == JournalTransaction.Kind.REVERSAL
    assert reversal.reverses_id == journal.pk
    assert reversal.created_by == reviewer
    assert {e.account_id: e.amount for e in reversal.entries.all()} == {
        account.pk: Decimal("30.00"),
        payable.pk: Decimal("-30.00"),
    }
    assert balance_of(account) == Decimal("100.00")
    assert balance_of(payable) == Decimal("0.00")
    assert ledger.audit() == []


def test_second_reversal_of_the_same_transaction_is_refused(account, payable):
    journal = pay(account, payable, "30.00")
    ledger.reverse(journal=journal, description="冲正")
    before = ledger_rows()

    with pytest.raises(InvalidPosting):
        ledger.reverse(journal=journal, description="再次冲正")

    assert ledger_rows() == before
    assert balance_of(account) == Decimal("100.00")


def test_reversal_replayed_with_its_key_returns_the_first(account, payable):
    journal = pay(account, payable, "30.00")
    first = ledger.reverse(journal=journal, description="冲正", idempotency_key="reverse:1")
    again = ledger.reverse(journal=journal, description="冲正", idempotency_key="reverse:1")
    assert again.pk == first.pk and again.replayed is True
    assert balance_of(account) == Decimal("100.00")


def test_database_refuses_a_negative_personal_balance(account):
    # The CHECK constraint holds even for writes that bypass the ledger.
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Account._meta.db_table} SET balance = -1 WHERE id = %s", [account.pk])
    assert balance_of(account) == Decimal("100.00")


@pytest.mark.postgresql
@pytest.mark.parametrize(
    "statement", ["UPDATE {table} SET amount = 1 WHERE id = %s", "DELETE FROM {table} WHERE id = %s"]
)
def test_postgresql_trigger_refuses_changing_a_ledger_entry(account, statement):
    entry = LedgerEntry.objects.filter(account=account).first()
    refused = pytest.raises(IntegrityError, match="append-only")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement.format(table=LedgerEntry._meta.db_table), [entry.pk])
    assert LedgerEntry.objects.get(pk=entry.pk).amount == Decimal("100.00")


@pytest.mark.postgresql
@pytest.mark.parametrize(
    "statement",
    ["UPDATE {table} SET description = 'changed' WHERE id = %s", "DELETE FROM {table} WHERE id = %s"],
)
def test_postgresql_trigger_refuses_changing_a_transaction(account, statement):
    journal = JournalTransaction.objects.filter(entries__account=account).first()
    refused = pytest.raises(IntegrityError, match="append-only")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement.format(table=JournalTransaction._meta.db_table), [journal.pk])
    assert JournalTransaction.objects.get(pk=journal.pk).description == journal.description


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_postings_with_one_key_move_the_money_once():
    """Eight threads post the same settlement under one idempotency key at the same moment.

    All but one find no earlier transaction, queue on the account locks and then hit the key's unique index:
    each must get the first transaction back as a replay, never a second posting or an error.
    """
    account = personal_account("100.00")
    payable = system_account(region(), Account.Kind.INSTITUTIONS_PAYABLE)
    start = threading.Barrier(8)

    def settle(_number):
        start.wait()
        try:
            journal = pay(
                Account.objects.get(pk=account.pk), Account.objects.get(pk=payable.pk), "30.00",
                idempotency_key="settlement:ph1:race",
            )
            return journal.pk, journal.replayed
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(settle, range(8)))

    assert len({pk for pk, _replayed in outcomes}) == 1
    assert sorted(replayed for _pk, replayed in outcomes) == [False] + [True] * 7
    assert JournalTransaction.objects.filter(idempotency_key="settlement:ph1:race").count() == 1
    assert (balance_of(account), balance_of(payable)) == (Decimal("70.00"), Decimal("30.00"))
    assert ledger.audit() == []


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_debits_never_overdraw_the_account():
    """200 debits of ¥1 race for ¥100 from 12 threads, each on its own database connection.

    This measures the row lock in ledger.post (SELECT ... FOR UPDATE): without it, two threads would read
    the same balance and both succeed, so more than 100 would pass or the CHECK would abort some with an
    IntegrityError instead of InsufficientFunds. Exactly 100 must succeed and 100 be refused.
    """
    account = personal_account("100.00")
    payable = system_account(region(), Account.Kind.INSTITUTIONS_PAYABLE)
    start = threading.Barrier(12)

    def debit(number):
        if number < 12:
            start.wait()  # the first round starts together, so the threads really contend
        try:
            pay(Account.objects.get(pk=account.pk), Account.objects.get(pk=payable.pk), "1.00")
            return "paid"
        except InsufficientFunds:
            return "refused"
        finally:
            connection.close()

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = Counter(pool.map(debit, range(200)))
    elapsed = time.monotonic() - began

    assert outcomes == {"paid": 100, "refused": 100}, f"outcomes {outcomes} in {elapsed:.2f}s"
    assert balance_of(account) == Decimal("0.00")
    assert balance_of(payable) == Decimal("100.00")
    assert LedgerEntry.objects.filter(account=account, amount=Decimal("-1.00")).count() == 100
    assert ledger.audit() == []


def test_audit_of_an_exact_ledger_with_cents_finds_nothing(payable):
    # Ten-cent amounts add up inexactly in floating point, which is how SQLite stores decimals.
    quota = Account.objects.create(kind=Account.Kind.QUOTA, region=region())
    fund(quota, Decimal("0.10"))
    fund(quota, Decimal("0.20"))
    pay(quota, payable, "0.30")
    assert ledger.audit() == []


def test_audit_names_an_account_whose_balance_was_tampered_with(account):
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Account._meta.db_table} SET balance = 90 WHERE id = %s", [account.pk])

    found = [str(d) for d in ledger.audit()]

    assert found == [f"账户 #{account.pk}（个人账户）余额为 90.00，但其分录合计为 100.00"]


def test_audit_names_the_transaction_and_account_of_a_tampered_entry(account):
    entry = LedgerEntry.objects.get(account=account)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The append-only trigger would refuse the tampering, so switch it off; the test's transaction
            # rolls that back. ALTER TABLE waits for no deferred foreign-key checks, so run those first.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            table = LedgerEntry._meta.db_table
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER accounts_ledgerentry_append_only")
        cursor.execute(f"UPDATE {LedgerEntry._meta.db_table} SET amount = 150 WHERE id = %s", [entry.pk])

    found = [str(d) for d in ledger.audit()]

    assert f"交易 #{entry.transaction_id} 的分录合计为 50.00，不为 0.00" in found
    assert f"账户 #{account.pk}（个人账户）余额为 100.00，但其分录合计为 150.00" in found
