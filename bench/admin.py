"""The admin-list benchmark: the lists a clerk lives in, at the demo size and at a province's size.

    .venv/bin/python bench/admin.py [--people 1000000] [--loads 5] [--reuse]

BENCH_ADMIN_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/portal_admin_bench) names the database,
which is dropped and created again; its name must end in "_bench" (DATABASE_URL is never read). Steps:
  1. migrate, `seed_demo`, serve with gunicorn (production settings, one worker) and time every list below;
  2. grow the database to --people persons with set-based SQL (bench/admin_seed.py), `audit_ledger --full`,
     serve again and time every list again;
  3. print, for each list, the median and p95 of --loads warm loads and the statements it ran, at both sizes.
--reuse skips the demo step and the growing: it migrates the database as it is and times it at its size, for
measuring a change of code or indexes against the same data. BENCH_CACHE_URL, when set, is the server's
CACHE_URL (sessions then live in Redis, as in production).
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.admin_seed import grow  # noqa: E402
from bench.browser import Browser  # noqa: E402
from bench.queries import HEADER  # noqa: E402
from bench.run import ROOT, bench_database_url, recreate_database, server_environment, step, wait_until_up  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_admin_bench"
PASSWORD = "Demo@2026"
# The RFC 6238 test key every demo staff login's authenticator has (DESIGN.md, Identity).
TOTP_KEY = "3132333435363738393031323334353637383930"
TARGET_P95_MS = 300
# The last page a list offers: LargeListPaginator counts 5,000 rows, 100 a page (50 in the queues).
DEEP_PAGE = {"persons": 50, "queue": 100}

# (name, login, path and query); the searched values and the deep pages are filled from the data (sample_values).
LISTS = [
    ("journal transactions", "reviewer_nb", "/admin/accounts/journaltransaction/"),
    ("journal transactions, filter 每月划入", "reviewer_nb", "/admin/accounts/journaltransaction/?kind__exact=credit"),
    ("persons", "reviewer_nb", "/admin/accounts/person/"),
    ("persons, exact ID-number search", "reviewer_nb", "/admin/accounts/person/?q={id_number}"),
    ("persons, name search", "reviewer_nb", "/admin/accounts/person/?q={name}"),
    ("persons, deep page", "reviewer_nb", "/admin/accounts/person/?p={deep_persons}"),
    ("enrolments", "reviewer_nb", "/admin/accounts/enrolment/"),
    ("enrolments, exact ID-number search", "reviewer_nb", "/admin/accounts/enrolment/?q={id_number}"),
    ("personal accounts", "reviewer_nb", "/admin/accounts/account/?kind__exact=personal"),
    ("ledger entries, filter 每月划入", "reviewer_nb", "/admin/accounts/ledgerentry/?transaction__kind__exact=credit"),
    ("notices", "reviewer_nb", "/admin/accounts/notice/"),
    ("notices, exact ID-number search", "reviewer_nb", "/admin/accounts/notice/?q={notice_id_number}"),
    ("withdrawal queue", "reviewer_nb", "/admin/withdrawals/withdrawalapplication/"),
    ("withdrawal queue, filter submitted", "reviewer_nb",
     "/admin/withdrawals/withdrawalapplication/?status__exact=submitted"),
    ("withdrawal queue, search by ID", "reviewer_nb", "/admin/withdrawals/withdrawalapplication/?q={id_number}"),
    ("withdrawal queue, deep page", "reviewer_nb", "/admin/withdrawals/withdrawalapplication/?p={deep_queue}"),
    ("transfers", "reviewer_nb", "/admin/transfers/transferapplication/"),
    ("transfers, search by ID", "reviewer_nb", "/admin/transfers/transferapplication/?q={transfer_id_number}"),
    ("events (superuser)", "admin", "/admin/review/event/"),
    ("events (superuser), search", "admin", "/admin/review/event/?q={withdrawal_id}"),
]


def main():
    parser = argparse.ArgumentParser(description="Admin-list benchmark (see bench/admin.py).")
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--loads", type=int, default=5, help="warm loads timed per list")
    parser.add_argument("--bind", default="127.0.0.1:8766")
    parser.add_argument("--reuse", action="store_true", help="time the database as it is (see above)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    database_url = bench_database_url("BENCH_ADMIN_DATABASE_URL", DEFAULT_DATABASE_URL)
    work = Path(tempfile.mkdtemp(prefix="portal-admin-bench-"))
    env = server_environment(database_url, args.bind, work)
    env["GUNICORN_WORKERS"] = "1"
    if os.environ.get("BENCH_CACHE_URL"):
        env["CACHE_URL"] = os.environ["BENCH_CACHE_URL"]
    figures = {}
    # Production settings serve static files from whitenoise's manifest, which pages need to render.
    run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], env)

    if args.reuse:
        run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env)
    else:
        step(f"fresh database {urlsplit(database_url).path.lstrip('/')}: migrate, seed_demo")
        recreate_database(database_url)
        run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env)
        run([sys.executable, "manage.py", "seed_demo", "--force"], env, quiet=True)
        figures["demo"] = measure(database_url, env, args, "demo")
        step(f"growing to {args.people:,} people (bench/admin_seed.py)")
        started = time.perf_counter()
        with psycopg.connect(database_url, autocommit=True) as connection:
            timings = grow(connection, args.people)
        for words, seconds in timings:
            if seconds >= 1:
                print(f"   {' '.join(words)[:60]:60} {seconds:7.1f} s")
        print(f"   seeded in {time.perf_counter() - started:.0f} s", flush=True)
        step("audit_ledger --full")
        started = time.perf_counter()
        run([sys.executable, "manage.py", "audit_ledger", "--full"], env)
        print(f"   audited in {time.perf_counter() - started:.0f} s", flush=True)
    people = table_size(database_url)
    figures["large"] = measure(database_url, env, args, f"{people:,} people")
    report(figures, people, args)
    if args.json:
        args.json.write_text(json.dumps({"people": people, **figures}, ensure_ascii=False, indent=1))
    return 0


def run(command, env, quiet=False):
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL if quiet else None)


def table_size(database_url):
    with psycopg.connect(database_url) as connection:
        return connection.execute("SELECT count(*) FROM accounts_person").fetchone()[0]


def sample_values(database_url):
    """Values for the searches, each found in the list it is typed into at either size.

    A search that finds something records the look in the access log (statements of its own), so the demo and the
    large database are searched for people the list shows by default: a 宁波 applicant whose withdrawal waits for
    first review (reviewer_nb's queue), a transfer waiting on 宁波's staff, a 宁波 person with notices.
    """
    with psycopg.connect(database_url) as connection:
        id_number, name, withdrawal_id = connection.execute(
            "SELECT p.id_number, p.name, w.id FROM withdrawals_withdrawalapplication w "
            "JOIN accounts_person p ON p.id = w.applicant_id JOIN accounts_region r ON r.id = w.region_id "
            "WHERE r.code = '330200' AND w.status = 'submitted' ORDER BY w.id DESC LIMIT 1"
        ).fetchone()
        transfer = connection.execute(
            "SELECT p.id_number FROM transfers_transferapplication t JOIN accounts_person p ON p.id = t.applicant_id "
            "JOIN accounts_region n ON n.id = t.new_region_id JOIN accounts_region o ON o.id = t.old_region_id "
            "WHERE (n.code = '330200' AND t.status IN ('submitted', 'transferred_out')) "
            "OR (o.code = '330200' AND t.status = 'accepted') ORDER BY t.id DESC LIMIT 1"
        ).fetchone()
        notice = connection.execute(
            "SELECT p.id_number FROM accounts_notice n JOIN accounts_person p ON p.id = n.person_id "
            "WHERE EXISTS (SELECT 1 FROM accounts_enrolment e JOIN accounts_region r ON r.id = e.region_id "
            "WHERE e.person_id = p.id AND r.code = '330200') ORDER BY n.id DESC LIMIT 1"
        ).fetchone()
    return {
        "id_number": id_number,
        "name": urllib.parse.quote(name),
        "withdrawal_id": withdrawal_id,
        "transfer_id_number": transfer[0],
        "notice_id_number": notice[0],
        "deep_persons": DEEP_PAGE["persons"],
        "deep_queue": DEEP_PAGE["queue"],
    }


def measure(database_url, env, args, label):
    """Serve the database with gunicorn and time every list; return {name: figures}."""
    values = sample_values(database_url)
    step(f"gunicorn, one worker, on {args.bind}: {len(LISTS)} lists at {label}, {args.loads} warm loads each")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "config/gunicorn.conf.py", "config.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=open(Path(env["GUNICORN_ACCESS_LOG"]).parent / "gunicorn.out", "a"),
        stderr=subprocess.STDOUT,
    )
    results = {}
    try:
        base = f"http://{args.bind}"
        wait_until_up(f"{base}/healthz", server)
        browsers = {username: StaffBrowser(base, username) for username in {login for _n, login, _p in LISTS}}
        for name, login, path in LISTS:
            results[name] = browsers[login].time(path.format(**values), args.loads)
            figures = results[name]
            print(
                f"   {name:48} median {figures['median_ms']:7.0f} ms, p95 {figures['p95_ms']:7.0f} ms, "
                f"{figures['queries']} queries, HTTP {figures['status']}",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=60)
    return results


class StaffBrowser(Browser):
    """A member of staff's session: logs in with the password and the current TOTP code, then reads lists."""

    def __init__(self, base, username):
        super().__init__(base)
        from django_otp.oath import totp

        answer = self.post_form("/admin/login/", {
            "username": username, "password": PASSWORD,
            "otp_token": f"{totp(bytes.fromhex(TOTP_KEY)):06d}", "next": "/admin/",
        })
        if answer.status != 302 or answer.headers["Location"] != "/admin/":
            raise SystemExit(f"{username} could not log in to the admin: HTTP {answer.status}")

    def time(self, path, loads):
        """Load `path` once to warm up, then `loads` times; return the median, p95 and the statement count."""
        durations, queries, status = [], set(), None
        for attempt in range(loads + 1):
            started = time.perf_counter()
            response = self.open(path)
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            status = response.status
            if attempt:
                durations.append(elapsed)
                queries.add(int(response.headers.get(HEADER, -1)))
        durations.sort()
        return {
            "median_ms": statistics.median(durations),
            "p95_ms": durations[max(0, math.ceil(0.95 * len(durations)) - 1)],
            "queries": max(queries),
            "status": status,
        }


def report(figures, people, args):
    demo, large = figures.get("demo", {}), figures["large"]
    print(f"\n================ admin lists: demo and {people:,} people ================")
    print(f"median and p95 of {args.loads} warm loads (ms), statements per load; gunicorn, one worker")
    print(f"{'list':48} {'demo':>20} {f'{people:,} people':>22}")
    for name, _login, _path in LISTS:
        small = demo.get(name)
        big = large[name]
        left = f"{small['median_ms']:.0f}/{small['p95_ms']:.0f} ({small['queries']} q)" if small else "—"
        right = f"{big['median_ms']:.0f}/{big['p95_ms']:.0f} ({big['queries']} q)"
        flag = "" if big["status"] == 200 else f"  HTTP {big['status']}"
        print(f"{name:48} {left:>20} {right:>22}{flag}")
    worst_name = max(large, key=lambda name: large[name]["p95_ms"])
    flat = all(demo[name]["queries"] == large[name]["queries"] for name in large) if demo else None
    print(f"all answers 200: {'yes' if all(f['status'] == 200 for f in large.values()) else 'no'}")
    print(
        f"worst list: {worst_name} {large[worst_name]['p95_ms']:.0f} ms p95 at {people} people; "
        f"query counts flat: {'yes' if flat else 'no' if flat is False else 'not compared (--reuse)'}"
    )


if __name__ == "__main__":
    sys.exit(main())
