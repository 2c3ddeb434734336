"""The monthly credit in set-based SQL: a chunk of accounts credited in a few statements.

One chunk is one database transaction and one balanced journal transaction (see
`accounts.credits.credit_monthly`):

  1. `fill_chunk`: find, in one statement, the people of the chunk's accounts who are due the month's credit
     (the one-per-person rule of DOMAIN.md), compute each amount, and copy the rows into the connection's
     work table `credit_chunk`. On PostgreSQL the same statement locks the accounts, in id order.
  2. `chunk_totals`: the count and sum per region, for the region's source account.
  3. `insert_journal`: the chunk's journal transaction.
  4. `add_to_personal_balances`, `insert_personal_entries`: every account of the chunk in one UPDATE, and
     its entry, with the balance after it, in one INSERT.
  5. `insert_credits`: the MonthlyCredit rows, each linked to its account's entry.
  6. `take_from_source`: each region's credit-source account, once per chunk and not once per account:
     its balance and its one entry for the chunk's total.

Amounts are worked in whole cents with integer arithmetic (half-up: `(cents x basis points + 5000) /
10000`), never in floating point, so SQLite, whose decimals are floats, credits exactly what PostgreSQL
does; `accounts.credits.monthly_amount` is the same rule in Python and the tests hold one to the other.
Each statement passes a handful of parameters however many accounts it covers, so no statement comes near
PostgreSQL's 65,535-parameter limit.

Locks (see the notes in `accounts.ledger`): a chunk locks its citizens' accounts in one statement in id
order, then each source account, a system account, by its UPDATE, as late as it can; every posting takes
citizens' rows first in id order and system rows last, so a chunk and a settlement on the same accounts
queue, never deadlock. A source's entry is inserted while its row is locked, with the balance its UPDATE
returned: the same running balance the ledger keeps.
"""

from django.db import connection

from .models import Account, Enrolment, JournalTransaction, LedgerEntry, MonthlyCredit

ACCOUNTS = Account._meta.db_table
ENROLMENTS = Enrolment._meta.db_table
JOURNAL = JournalTransaction._meta.db_table
ENTRIES = LedgerEntry._meta.db_table
CREDITS = MonthlyCredit._meta.db_table
RETIRED = Enrolment.Employment.RETIRED
EMPLOYEE = Enrolment.InsuranceType.EMPLOYEE


def typed(sql_type):
    """A placeholder whose type PostgreSQL cannot infer from a column (a value in a SELECT list)."""
    return f"CAST(%s AS {sql_type})" if connection.vendor == "postgresql" else "%s"


def prepare(policies):
    """Create this connection's work tables and load `policies`: (region, version, rate %, retiree ¥).

    Temporary tables are private to the connection, so concurrent runs (and tests) never see each
    other's rows. On PostgreSQL the chunk table empties itself at each commit.
    """
    on_commit = " ON COMMIT DELETE ROWS" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS credit_policy ("
            "region_id bigint PRIMARY KEY, version_id bigint NOT NULL, rate numeric(5, 2) NOT NULL, "
            "rate_bp bigint NOT NULL, retiree_cents bigint NOT NULL)"
        )
        cursor.execute("DELETE FROM credit_policy")
        cursor.executemany(
            "INSERT INTO credit_policy (region_id, version_id, rate, rate_bp, retiree_cents) "
            "VALUES (%s, %s, %s, %s, %s)",
            [
                (region_id, version_id, rate, int(rate * 100), int(retiree * 100))
                for region_id, version_id, rate, retiree in policies
            ],
        )
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS credit_chunk ("
            "account_id bigint PRIMARY KEY, person_id bigint NOT NULL, region_id bigint NOT NULL, "
            "version_id bigint NOT NULL, base numeric(14, 2), rate numeric(5, 2), "
            f"amount_cents bigint NOT NULL, balance_after numeric(14, 2) NOT NULL){on_commit}"
        )


def check_constraints_at_once():
    """Check the chunk's foreign keys as its rows are written, not at COMMIT (PostgreSQL).

    Django's foreign keys are deferred to COMMIT; a chunk's are a million checks a million accounts, and
    at COMMIT they would run while the chunk holds its source accounts, which other workers and postings
    then wait for.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def chunk_bounds(*, after, size, region_ids=None):
    """Return the id of the `size`-th personal account after id `after` (None: the rest is one chunk)."""
    where, params = _account_scope(region_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {ACCOUNTS} WHERE {where} AND id > %s ORDER BY id LIMIT 1 OFFSET %s",
            [*params, after, size - 1],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def count_accounts(region_ids=None):
    """Return how many personal accounts a run goes through (for its progress)."""
    where, params = _account_scope(region_ids)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {ACCOUNTS} WHERE {where}", params)
        return cursor.fetchone()[0]


def _account_scope(region_ids):
    where, params = "kind = %s", [Account.Kind.PERSONAL]
    if region_ids is not None:
        where += f" AND region_id IN ({', '.join(['%s'] * len(region_ids))})"
        params += list(region_ids)
    return where, params


# The month's amount of an enrolment in whole cents, under its region's policy `p`.
AMOUNT_CENTS = (
    f"(CASE WHEN e.employment = '{RETIRED}' THEN p.retiree_cents "
    "ELSE (CAST(ROUND(e.contribution_base * 100) AS BIGINT) * p.rate_bp + 5000) / 10000 END)"
)


def _due(month, decisive_day, *, low, high, person_ids, account_status):
    """FROM ... WHERE of the enrolments whose person is due the month's credit, and its parameters.

    The person's target is the employee enrolment active during the month (from its first day to the
    decisive day: the month's last, or today for the current month) that began last: the one active on
    the decisive day if there is one, else the last one active in the month. A person credited for the
    month already, by any account, is not due.
    """
    clauses = [
        "a.kind = %s", "a.status = %s" if account_status == "active" else "a.status <> %s",
        "e.insurance_type = %s", "e.started_on <= %s", "(e.ended_on IS NULL OR e.ended_on >= %s)",
        "a.id > %s",
    ]
    first, decisive = (connection.ops.adapt_datefield_value(day) for day in (month, decisive_day))
    params = [Account.Kind.PERSONAL, Account.Status.ACTIVE, EMPLOYEE, decisive, first, low]
    if high is not None:
        clauses.append("a.id <= %s")
        params.append(high)
    if person_ids is not None:
        clauses.append(f"e.person_id IN ({', '.join(['%s'] * len(person_ids))})")
        params += list(person_ids)
    clauses += [
        f"""NOT EXISTS (
            SELECT 1 FROM {ENROLMENTS} later
             WHERE later.person_id = e.person_id AND later.id <> e.id AND later.insurance_type = %s
               AND later.started_on <= %s AND (later.ended_on IS NULL OR later.ended_on >= %s)
               AND (later.started_on > e.started_on
                    OR (later.started_on = e.started_on AND later.id > e.id)))""",
        # One index lookup per person. OFFSET 0 keeps PostgreSQL from turning this into an anti-join over
        # all of the month's credits: during a run their number grows from none to a million faster than
        # the statistics follow, and an anti-join planned for "none" took 45 s a chunk at a million.
        f"""NOT EXISTS (
            SELECT 1 FROM {CREDITS} c WHERE c.month = %s AND c.person_id = e.person_id AND NOT c.repeated
             LIMIT 1 OFFSET 0)""",
    ]
    # `NOT c.repeated` is written out, not a parameter: PostgreSQL then matches the partial unique index.
    params += [EMPLOYEE, decisive, first, first]
    sql = (
        f"FROM {ACCOUNTS} a JOIN {ENROLMENTS} e ON e.personal_account_id = a.id "
        f"JOIN credit_policy p ON p.region_id = e.region_id WHERE {' AND '.join(clauses)}"
    )
    return sql, params


def fill_chunk(*, month, decisive_day, low, high, person_ids):
    """Copy the chunk's due credits into `credit_chunk`, locking their accounts; return how many."""
    due, params = _due(
        month, decisive_day, low=low, high=high, person_ids=person_ids, account_status="active"
    )
    lock = " FOR UPDATE OF a" if connection.features.has_select_for_update_of else ""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM credit_chunk")
        cursor.execute(
            "INSERT INTO credit_chunk (account_id, person_id, region_id, version_id, base, rate, "
            "amount_cents, balance_after) "
            f"SELECT a.id, e.person_id, e.region_id, p.version_id, "
            f"CASE WHEN e.employment = '{RETIRED}' THEN NULL ELSE e.contribution_base END, "
            f"CASE WHEN e.employment = '{RETIRED}' THEN NULL ELSE p.rate END, "
            f"{AMOUNT_CENTS}, ROUND(a.balance + {AMOUNT_CENTS} / 100.0, 2) {due} AND {AMOUNT_CENTS} > 0 "
            f"ORDER BY a.id{lock}",
            params,
        )
        return cursor.rowcount


def count_unavailable(*, month, decisive_day, person_ids):
    """Return how many people are due the month's credit in an account that is frozen, closed or moved."""
    due, params = _due(month, decisive_day, low=0, high=None, person_ids=person_ids, account_status="other")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) {due}", params)
        return cursor.fetchone()[0]


def chunk_totals():
    """Return [(region id, credits, cents)] of the chunk, by region."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT region_id, COUNT(*), SUM(amount_cents) FROM credit_chunk "
            "GROUP BY region_id ORDER BY region_id"
        )
        return cursor.fetchall()


def insert_journal(*, description, created_at):
    """The chunk's one journal transaction; return its id."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {JOURNAL} (kind, description, created_at) VALUES (%s, %s, %s) RETURNING id",
            [
                JournalTransaction.Kind.CREDIT,
                description,
                connection.ops.adapt_datetimefield_value(created_at),
            ],
        )
        return cursor.fetchone()[0]


def add_to_personal_balances():
    # The rows are locked since fill_chunk; ROUND keeps SQLite's floating point at whole cents.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ACCOUNTS} SET balance = ROUND({ACCOUNTS}.balance + c.amount_cents / 100.0, 2) "
            f"FROM credit_chunk c WHERE {ACCOUNTS}.id = c.account_id"
        )


def insert_personal_entries(journal_id):
    """One entry per credited account, with the balance after it (read under the lock)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ENTRIES} (transaction_id, account_id, amount, balance_after) "
            f"SELECT {typed('bigint')}, account_id, amount_cents / 100.0, balance_after "
            "FROM credit_chunk ORDER BY account_id",
            [journal_id],
        )


def insert_credits(month, journal_id):
    """The MonthlyCredit rows, each with its own entry in the chunk's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {CREDITS} (account_id, person_id, month, amount, contribution_base, rate, version_id, "
            "entry_id, repeated) "
            f"SELECT c.account_id, c.person_id, {typed('date')}, c.amount_cents / 100.0, c.base, c.rate, "
            f"c.version_id, e.id, {typed('boolean')} FROM credit_chunk c "
            f"JOIN {ENTRIES} e ON e.transaction_id = %s AND e.account_id = c.account_id",
            [connection.ops.adapt_datefield_value(month), False, journal_id],
        )


def take_from_source(*, journal_id, source_id, amount):
    """Post a chunk's `amount` (Decimal) out of a region's source account: its balance, then its entry."""
    with connection.cursor() as cursor:
        # The UPDATE locks the row until COMMIT, so the entry written next has the exact balance after.
        cursor.execute(
            f"UPDATE {ACCOUNTS} SET balance = ROUND(balance - %s, 2) WHERE id = %s RETURNING balance",
            [amount, source_id],
        )
        (after,) = cursor.fetchone()
        cursor.execute(
            f"INSERT INTO {ENTRIES} (transaction_id, account_id, amount, balance_after) VALUES (%s, %s, %s, %s)",
            [journal_id, source_id, -amount, after],
        )
