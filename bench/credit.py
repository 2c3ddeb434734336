"""The monthly-credit benchmark: a fresh PostgreSQL database, a province of accounts, the run, the audit.

    .venv/bin/python bench/credit.py [--accounts 1000000] [--history-months 9] [--chunk-size 5000]

BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/portal_bench) names the database, which is
dropped and created again; its name must end in "_bench". The steps:
  1. migrate; seed --accounts active employee accounts with set-based SQL over five regions (one in seven
     retired, one in two hundred frozen), with --history-months months of credits already in the ledger,
     as the credit writes them (for a million accounts and nine months, 10,000,000 entries with the run's);
  2. `audit_ledger --full`, the checkpoint the default audit starts from;
  3. `credit_monthly` for this month, timed, and the same again (it must credit nothing);
  4. `audit_ledger` (from the checkpoint) and `audit_ledger --full`, timed.
Each command runs as its own process; its peak memory and that of its PostgreSQL backend are measured
(VmHWM from /proc; the backend's private memory apart from the shared buffers it touched). The last line:
`credited N accounts in S s (R/s); second run T s; peak memory M MB; audit D s, full F s`.
"""

import argparse
import datetime
import os
import re
import subprocess
import sys
import threading
import time
import zoneinfo
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import DEFAULT_DATABASE_URL, ROOT, process_memory, recreate_database, step  # noqa: E402

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
REGIONS = ["330200", "330100", "441900", "320100", "131100"]  # 宁波, 杭州, 东莞, 南京, 衡水
APPLICATION_NAME = "credit_bench"
TARGET_SECONDS, TARGET_SECOND_RUN, TARGET_MEMORY_MB, TARGET_AUDIT = 60, 10, 500, 30


def main():
    parser = argparse.ArgumentParser(description="Monthly-credit benchmark (see bench/credit.py).")
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--history-months", type=int, default=9, help="months already credited before the run")
    parser.add_argument("--chunk-size", type=int, default=None, help="credit_monthly --chunk-size")
    parser.add_argument("--workers", type=int, default=2, help="credit_monthly --workers (default: 2, the CPUs here)")
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
    if not urlsplit(database_url).path.rstrip("/").endswith("_bench"):
        sys.exit("BENCH_DATABASE_URL must name a throwaway database ending in _bench: it is dropped and created again.")
    env = {
        **os.environ,
        # Production settings; the commands' connection is named so that its backend can be found.
        "DATABASE_URL": with_application_name(database_url),
        "DEBUG": "false",
        "SECRET_KEY": "bench-credit-" + "x" * 50,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }

    step(f"fresh database {urlsplit(database_url).path.lstrip('/')}")
    recreate_database(database_url)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    month = datetime.datetime.now(SHANGHAI).date().replace(day=1)
    step(f"seeding {args.accounts:,} accounts and {args.history_months} months of credits")
    started = time.monotonic()
    entries = seed(database_url, args.accounts, month, args.history_months)
    print(f"   {entries:,} ledger entries in {time.monotonic() - started:.0f} s", flush=True)

    step("audit_ledger --full (the checkpoint)")
    first_audit = timed(env, database_url, "audit_ledger", "--full")
    chunk = ["--chunk-size", str(args.chunk_size)] if args.chunk_size else []
    chunk += ["--workers", str(args.workers)]
    step(f"credit_monthly --month {month:%Y-%m} {' '.join(chunk)}")
    first = timed(env, database_url, "credit_monthly", "--month", f"{month:%Y-%m}", *chunk)
    step("credit_monthly again: nothing more to credit")
    second = timed(env, database_url, "credit_monthly", "--month", f"{month:%Y-%m}", *chunk)
    step("audit_ledger (from the checkpoint)")
    audit = timed(env, database_url, "audit_ledger")
    step("audit_ledger --full")
    full = timed(env, database_url, "audit_ledger", "--full")
    report(args, first_audit, first, second, audit, full, total_entries(database_url))
    ok = all(run["status"] == 0 for run in (first_audit, first, second, audit, full))
    return 0 if ok else 1


def with_application_name(url):
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["application_name"] = APPLICATION_NAME
    return parts._replace(query=urlencode(query)).geturl()


# Seeding ------------------------------------------------------------------------------------------


def seed(database_url, count, month, history_months):
    """Persons, enrolments and accounts, then `history_months` of credits as the credit writes them."""
    with psycopg.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id, code FROM accounts_region WHERE code = ANY(%s)", [REGIONS])
        regions = [pk for pk, _code in sorted(cursor.fetchall(), key=lambda row: REGIONS.index(row[1]))]
        cursor.execute(
            "INSERT INTO accounts_person (name, id_number, phone, card_number, created_at) "
            "SELECT '压测' || n, '9' || lpad(n::text, 17, '0'), '13800000000', 'B' || n, now() "
            "FROM generate_series(1, %s) n",
            [count],
        )
        # One in seven retired; bases from 3,000.00 to about 30,000.00 with cents, so rounding is exercised.
        cursor.execute(
            "INSERT INTO accounts_enrolment (person_id, region_id, insurance_type, status, employment, "
            "contribution_base, contribution_months, started_on) "
            "SELECT p.id, (%s::bigint[])[(p.id %% 5) + 1], 'employee', 'active', "
            "CASE WHEN p.id %% 7 = 0 THEN 'retired' ELSE 'in_service' END, "
            "CASE WHEN p.id %% 7 = 0 THEN NULL ELSE 3000 + (p.id * 7919 %% 27000) + (p.id %% 100) / 100.0 END, "
            "120, DATE '2010-01-01' FROM accounts_person p",
            [regions],
        )
        cursor.execute(
            "INSERT INTO accounts_account (kind, region_id, enrolment_id, status, balance, hold, hold_reference, "
            "created_at) SELECT 'personal', e.region_id, e.id, "
            "CASE WHEN e.id % 200 = 0 THEN 'frozen' ELSE 'active' END, 0, '', '', now() FROM accounts_enrolment e"
        )
        cursor.execute(
            "UPDATE accounts_enrolment e SET personal_account_id = a.id FROM accounts_account a "
            "WHERE a.enrolment_id = e.id"
        )
        cursor.execute(
            "INSERT INTO accounts_account (kind, region_id, status, balance, hold, hold_reference, created_at) "
            "SELECT 'credit_source', id, 'active', 0, '', '', now() FROM accounts_region WHERE id = ANY(%s)",
            [regions],
        )
        connection.commit()
        for back in range(history_months, 0, -1):
            seed_credits(connection, months_before(month, back), history_months - back + 1)
        cursor.execute("ANALYZE")
        connection.commit()
        cursor.execute("SELECT count(*) FROM accounts_ledgerentry")
        return cursor.fetchone()[0]


def months_before(month, count):
    index = month.year * 12 + month.month - 1 - count
    return datetime.date(index // 12, index % 12 + 1, 1)


def seed_credits(connection, month, ordinal):
    """Credit `month` to every active account as the credit writes it: a transaction per region here."""
    booked = datetime.datetime(month.year, month.month, 1, 9, tzinfo=SHANGHAI)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS seed_credit")
        # The region's version in force on the month's first day: the migrated one, 2% and a fixed amount.
        cursor.execute(
            "CREATE TEMPORARY TABLE seed_credit AS "
            "SELECT a.id AS account_id, e.person_id, e.region_id, v.id AS version_id, s.id AS source_id, "
            "CASE WHEN e.employment = 'retired' THEN NULL ELSE e.contribution_base END AS base, "
            "CASE WHEN e.employment = 'retired' THEN NULL ELSE v.employee_credit_rate END AS rate, "
            "CASE WHEN e.employment = 'retired' THEN round(v.retiree_monthly_credit * 100)::bigint "
            "ELSE (round(e.contribution_base * 100)::bigint * round(v.employee_credit_rate * 100)::bigint + 5000) "
            "/ 10000 END AS amount_cents "
            "FROM accounts_account a JOIN accounts_enrolment e ON e.personal_account_id = a.id "
            "JOIN LATERAL (SELECT * FROM accounts_policyversion pv WHERE pv.region_id = e.region_id "
            "AND pv.effective_from <= %s ORDER BY pv.effective_from DESC LIMIT 1) v ON true "
            "JOIN accounts_account s ON s.region_id = e.region_id AND s.kind = 'credit_source' "
            "WHERE a.kind = 'personal' AND a.status = 'active'",
            [month],
        )
        cursor.execute("SELECT source_id, SUM(amount_cents) FROM seed_credit GROUP BY source_id ORDER BY source_id")
        for source_id, cents in cursor.fetchall():
            cursor.execute(
                "INSERT INTO accounts_journaltransaction (kind, description, created_at) "
                "VALUES ('credit', %s, %s) RETURNING id",
                [f"{month.year}年{month.month}月 每月划入", booked],
            )
            (journal_id,) = cursor.fetchone()
            # Every month credits the same amounts, so an account's balance after month k is k times it.
            cursor.execute(
                "INSERT INTO accounts_ledgerentry (transaction_id, account_id, amount, balance_after) "
                "SELECT %s, account_id, amount_cents / 100.0, amount_cents * %s / 100.0 FROM seed_credit "
                "WHERE source_id = %s ORDER BY account_id",
                [journal_id, ordinal, source_id],
            )
            cursor.execute(
                "INSERT INTO accounts_monthlycredit (account_id, person_id, month, amount, contribution_base, "
                "rate, version_id, entry_id, repeated) "
                "SELECT c.account_id, c.person_id, %s, c.amount_cents / 100.0, c.base, c.rate, c.version_id, e.id, "
                "false FROM seed_credit c JOIN accounts_ledgerentry e "
                "ON e.transaction_id = %s AND e.account_id = c.account_id WHERE c.source_id = %s",
                [month, journal_id, source_id],
            )
            cursor.execute(
                "UPDATE accounts_account SET balance = balance - %s / 100.0 WHERE id = %s RETURNING balance",
                [cents, source_id],
            )
            (after,) = cursor.fetchone()
            cursor.execute(
                "INSERT INTO accounts_ledgerentry (transaction_id, account_id, amount, balance_after) "
                "VALUES (%s, %s, -%s / 100.0, %s)",
                [journal_id, source_id, cents, after],
            )
        cursor.execute(
            "UPDATE accounts_account a SET balance = c.amount_cents * %s / 100.0 FROM seed_credit c "
            "WHERE a.id = c.account_id",
            [ordinal],
        )
    connection.commit()
    print(f"   {month:%Y-%m} credited", flush=True)


def total_entries(database_url):
    with psycopg.connect(database_url) as connection:
        return connection.execute("SELECT count(*) FROM accounts_ledgerentry").fetchone()[0]


# Measuring ------------------------------------------------------------------------------------------


def timed(env, database_url, *command):
    """Run one manage.py command; return its seconds, output, exit status, load average and peak memory."""
    load_before = os.getloadavg()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "manage.py", *command], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )
    backend = BackendSampler(database_url)
    backend.start()
    output = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    backend.stop()
    process.returncode = os.waitstatus_to_exitcode(status)
    run = {
        "seconds": seconds,
        "output": output.strip(),
        "status": process.returncode,
        "memory_mb": usage.ru_maxrss / 1024,
        "backend_mb": backend.peak_total / 1024,
        "backend_private_mb": backend.peak_private / 1024,
        "load": (load_before[0], os.getloadavg()[0]),
    }
    print(f"   {run['output'].splitlines()[-1] if run['output'] else ''}")
    print(
        f"   {seconds:.1f} s, exit {run['status']}, peak memory {run['memory_mb']:.0f} MB, PostgreSQL backend "
        f"{run['backend_mb']:.0f} MB ({run['backend_private_mb']:.0f} MB private), "
        f"load average {run['load'][0]:.2f} -> {run['load'][1]:.2f}",
        flush=True,
    )
    return run


class BackendSampler:
    """Find the command's PostgreSQL backend by its application name; keep its peak memory (kB)."""

    def __init__(self, database_url):
        self.database_url = database_url
        self.peak_total = self.peak_private = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _loop(self):
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            while not self._stop.wait(0.2):
                rows = connection.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [APPLICATION_NAME]
                ).fetchall()
                for (pid,) in rows:
                    memory = process_memory(pid, ("VmHWM", "RssAnon"))
                    self.peak_total = max(self.peak_total, memory.get("VmHWM", 0))
                    self.peak_private = max(self.peak_private, memory.get("RssAnon", 0))


def credited(output):
    match = re.search(r"划入 (\d+) 个账户", output)
    return int(match[1]) if match else 0


def report(args, checkpoint, first, second, audit, full, entries):
    count = credited(first["output"])
    rate = count / first["seconds"] if first["seconds"] else 0
    memory = max(first["memory_mb"], second["memory_mb"])
    print("\n================ monthly-credit benchmark ================")
    print(f"machine: {os.cpu_count()} CPUs; {args.accounts:,} accounts; ledger {entries:,} entries after the run")
    print(f"{'':34} {'seconds':>8} {'process MB':>11} {'backend MB':>11} {'load avg':>12}")
    for label, run in [
        ("audit_ledger --full (checkpoint)", checkpoint), ("credit_monthly", first),
        ("credit_monthly again", second), ("audit_ledger", audit), ("audit_ledger --full", full),
    ]:
        load = f"{run['load'][0]:.2f}->{run['load'][1]:.2f}"
        print(
            f"{label:34} {run['seconds']:8.1f} {run['memory_mb']:11.0f} "
            f"{run['backend_mb']:6.0f} ({run['backend_private_mb']:.0f}) {load:>12}"
        )
    verdicts = [
        (f"{count:,} accounts in <= {TARGET_SECONDS} s", first["seconds"] <= TARGET_SECONDS),
        (f"second run <= {TARGET_SECOND_RUN} s, nothing credited",
         second["seconds"] <= TARGET_SECOND_RUN and credited(second["output"]) == 0),
        (f"peak memory <= {TARGET_MEMORY_MB} MB", memory <= TARGET_MEMORY_MB),
        (f"default audit <= {TARGET_AUDIT} s", audit["seconds"] <= TARGET_AUDIT),
        ("every command exited 0", all(run["status"] == 0 for run in (checkpoint, first, second, audit, full))),
    ]
    print("targets: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in verdicts))
    print(
        f"credited {count} accounts in {first['seconds']:.1f} s ({rate:.0f}/s); second run {second['seconds']:.1f} s; "
        f"peak memory {memory:.0f} MB; audit {audit['seconds']:.1f} s, full {full['seconds']:.1f} s"
    )


if __name__ == "__main__":
    sys.exit(main())
