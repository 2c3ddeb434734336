import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

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


def test_a_conflict_found_only_at_insert_time_is_refused_too(account, payable):
    # Another request inserted the key a moment ago. There is no look-up before the insert for it to slip
    # past (an earlier version looked the key up first, and this test simulated a miss of that look-up):
    # the journal row's insert meets the unique key, before any balance moves.
    pay(account, payable, "10.00", idempotency_key="settlement:ph1:abc")

    with CaptureQueriesContext(connection) as queries, pytest.raises(ledger.IdempotencyConflict):
        pay(account, payable, "11.00", idempotency_key="settlement:ph1:abc")

    assert not [q["sql"] for q in queries if q["sql"].startswith(f"UPDATE {Account._meta.db_table}")]
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


# Postings without a savepoint of their own, system accounts updated last -------------------------


def running_balances_disagree():
    """Entries whose balance_after is not the one before plus their amount, per account in id order."""
    wrong, last = [], {}
    for entry in LedgerEntry.objects.order_by("id").only("id", "account_id", "amount", "balance_after"):
        expected = last.get(entry.account_id, Decimal("0.00")) + entry.amount
        if entry.balance_after != expected:
            wrong.append((entry.pk, entry.account_id, entry.balance_after, expected))
        last[entry.account_id] = entry.balance_after
    return wrong


def test_a_refused_posting_under_a_used_key_answers_the_earlier_posting(account, payable, reviewer):
    first = pay(account, payable, "10.00", idempotency_key="settlement:ph1:frozen")
    change_account_status(account=account, to_status=Account.Status.FROZEN, actor=reviewer, reason="测试")

    again = pay(Account.objects.get(pk=account.pk), payable, "10.00", idempotency_key="settlement:ph1:frozen")

    assert again.pk == first.pk and again.replayed is True
    assert balance_of(account) == Decimal("90.00")


def test_a_refusal_inside_the_callers_transaction_leaves_it_usable(account, payable):
    with transaction.atomic():
        with pytest.raises(InsufficientFunds):
            pay(account, payable, "500.00")
        journal = pay(account, payable, "30.00")
        assert not transaction.get_rollback()
    assert journal.entries.count() == 2
    assert (balance_of(account), balance_of(payable)) == (Decimal("70.00"), Decimal("30.00"))
    assert ledger.audit() == [] and running_balances_disagree() == []


def test_an_account_that_does_not_exist_is_refused_and_dooms_the_callers_transaction(account):
    before = ledger_rows()
    unused_id = Account.objects.order_by("-pk").first().pk + 1000
    missing = Account(pk=unused_id, kind=Account.Kind.INSTITUTIONS_PAYABLE)
    with transaction.atomic():
        with pytest.raises(InvalidPosting):
            pay(account, missing, "10.00")
        # The journal row was written before the missing account showed: nothing of it may be committed.
        assert transaction.get_rollback()
    assert ledger_rows() == before
    assert balance_of(account) == Decimal("100.00")


def test_a_citizens_account_passed_as_a_system_account_is_still_checked(account, payable):
    # Which accounts are citizens' is read from the database, whatever the caller's object says.
    disguised = Account(pk=account.pk, kind=Account.Kind.INSTITUTIONS_PAYABLE)
    with pytest.raises(InsufficientFunds):
        ledger.post(
            kind=SETTLEMENT,
            lines=[Line(disguised, Decimal("-100.01")), Line(payable, Decimal("100.01"))],
            description="药店结算",
        )
    assert balance_of(account) == Decimal("100.00")


def test_a_posting_between_two_system_accounts_records_each_balance_after(payable):
    paid_out = system_account(region(), Account.Kind.PAID_OUT)
    ledger.post(
        kind=JournalTransaction.Kind.PAYOUT,
        lines=[Line(payable, Decimal("-12.34")), Line(paid_out, Decimal("12.34"))],
        description="支付",
    )
    journal = ledger.post(
        kind=JournalTransaction.Kind.PAYOUT,
        lines=[Line(paid_out, Decimal("-2.34")), Line(payable, Decimal("2.34"))],
        description="退回",
    )

    assert {e.account_id: e.balance_after for e in journal.entries.all()} == {
        payable.pk: Decimal("-10.00"),
        paid_out.pk: Decimal("10.00"),
    }
    assert (payable.balance, paid_out.balance) == (Decimal("-10.00"), Decimal("10.00"))
    assert ledger.audit() == [] and running_balances_disagree() == []


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_postings_of_many_citizens_through_one_system_account_keep_balances_exact():
    """Twelve threads post 240 settlements and refunds for 24 citizens through one institutions account.

    The institutions account is locked only by each posting's last UPDATE: every entry's balance_after must
    still be the running balance in entry id order, for it and for every citizen, and nothing may deadlock
    although the refunds (money out of the system account) cross the settlements.
    """
    accounts = [personal_account("1000.00") for _ in range(24)]
    payable = system_account(region(), Account.Kind.INSTITUTIONS_PAYABLE)
    fund(payable, Decimal("500.00"))  # so that refunds may come first
    start = threading.Barrier(12)

    def post(number):
        if number < 12:
            start.wait()
        account = Account.objects.get(pk=accounts[number % len(accounts)].pk)
        amount = Decimal(number % 7 + 1) + Decimal("0.01") * (number % 100)
        try:
            if number % 5 == 4:  # a refund: from the institutions account back to the citizen
                ledger.post(
                    kind=JournalTransaction.Kind.REFUND,
                    lines=[Line(Account.objects.get(pk=payable.pk), -amount), Line(account, amount)],
                    description="退款",
                )
                return -amount
            pay(account, Account.objects.get(pk=payable.pk), str(amount))
            return amount
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=12) as pool:
        moved = sum(pool.map(post, range(240)), Decimal("0.00"))

    assert balance_of(payable) == Decimal("500.00") + moved
    assert sum(balance_of(account) for account in accounts) == Decimal("24000.00") - moved
    assert ledger.audit() == []
    assert running_balances_disagree() == []


def test_a_posting_of_any_size_goes_through_in_several_statements():
    # 25,000 lines: as one statement the entries alone would need 100,000 parameters, past the limits of
    # both PostgreSQL (65,535) and SQLite (32,766).
    quotas = Account.objects.bulk_create(
        [Account(kind=Account.Kind.QUOTA, region=region()) for _n in range(25_000)]
    )
    source = system_account(region(), Account.Kind.CREDIT_SOURCE)
    lines = [Line(quota, Decimal("0.01")) for quota in quotas]

    journal = ledger.post(
        kind=JournalTransaction.Kind.OPENING, lines=[Line(source, Decimal("-250.00")), *lines], description="批量"
    )

    assert journal.entries.count() == 25_001
    assert Account.objects.filter(kind=Account.Kind.QUOTA, balance=Decimal("0.01")).count() == 25_000
    assert balance_of(source) == Decimal("-250.00")
    replayed_key = ledger.post(
        kind=JournalTransaction.Kind.OPENING, lines=[Line(source, Decimal("-250.00")), *lines], description="批量",
        idempotency_key="batch:1",
    )
    again = ledger.post(
        kind=JournalTransaction.Kind.OPENING, lines=[Line(source, Decimal("-250.00")), *lines], description="批量",
        idempotency_key="batch:1",
    )
    assert again.pk == replayed_key.pk and again.replayed
    assert ledger.audit() == []
