"""The citizen-page benchmark: every page a citizen reads against the bare Django view, in one run.

    .venv/bin/python bench/pages.py [--duration 10] [--connections 10] [--workers 2] [--reuse]

BENCH_PAGES_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/portal_pages_bench) names the database,
dropped and created again with the demo data unless --reuse (then it is migrated and `seed_demo` adds what is
missing); its name must end in "_bench". BENCH_CACHE_URL is the server's CACHE_URL (default
redis://127.0.0.1:6379/0): sessions live there, as in production. gunicorn serves with production settings;
wrk drives each page for --duration seconds with 张伟's session cookie, the bare view and the home page also
without one. Prints req/s, latency and the ratio to the bare view without a session, and what a session
cookie costs the bare view.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.browser import Browser  # noqa: E402
from bench.run import Load, ROOT, bench_database_url, find_wrk, recreate_database, server_environment, step, wait_until_up  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_pages_bench"
DEFAULT_CACHE_URL = "redis://127.0.0.1:6379/0"
CITIZEN, PASSWORD = "330203198501011238", "Demo@2026"
TARGET_RATIO = 0.15
TARGET_SESSION_COST = 0.20
PAGES = ["/", "/account/", "/account/access-log/", "/sharing/", "/withdrawals/", "/transfers/", "/notices/"]


def main():
    parser = argparse.ArgumentParser(description="Citizen-page benchmark (see bench/pages.py).")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=10, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--bind", default="127.0.0.1:8767")
    parser.add_argument("--reuse", action="store_true", help="keep the database's rows (see above)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    database_url = bench_database_url("BENCH_PAGES_DATABASE_URL", DEFAULT_DATABASE_URL)
    wrk = find_wrk()
    work = Path(tempfile.mkdtemp(prefix="portal-pages-bench-"))
    env = server_environment(database_url, args.bind, work)
    env["GUNICORN_WORKERS"] = str(args.workers)
    env["CACHE_URL"] = os.environ.get("BENCH_CACHE_URL") or DEFAULT_CACHE_URL

    if not args.reuse:
        step(f"fresh database {urlsplit(database_url).path.lstrip('/')}")
        recreate_database(database_url)
    for command in (["migrate", "--noinput", "-v", "0"], ["seed_demo", "--force"],
                    ["collectstatic", "--noinput", "-v", "0"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)

    step(f"gunicorn, {args.workers} workers, on {args.bind}; wrk -c {args.connections}, {args.duration} s a run")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "config/gunicorn.conf.py", "config.wsgi"],
        cwd=ROOT, env=env, stdout=open(work / "gunicorn.out", "w"), stderr=subprocess.STDOUT,
    )
    results = {}
    try:
        base = f"http://{args.bind}"
        wait_until_up(f"{base}/healthz", server)
        cookie = log_in(base)
        runs = [("bare view", "/bench/bare", None), ("bare view, with a session", "/bench/bare", cookie),
                ("/ (no session)", "/", None)]
        runs += [(path, path, cookie) for path in PAGES]
        for label, path, session in runs:
            load = Load(wrk, args, "bare.lua", f"{base}{path}")
            if session:
                load.command[1:1] = ["-H", f"Cookie: {session}"]
            print(f"   {label}: 3 s warm-up, then {args.duration} s measured", flush=True)
            load.drive(3)
            results[label] = load.drive(args.duration)
    finally:
        server.terminate()
        server.wait(timeout=60)
    report(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    return 0


def log_in(base):
    """Log 张伟 in through the login form; return his session cookie as a Cookie header value."""
    browser = Browser(base)
    answer = browser.post_form("/accounts/login/", {"username": CITIZEN, "password": PASSWORD})
    if answer.status != 302:
        sys.exit(f"the citizen could not log in: HTTP {answer.status}")
    page = browser.open("/account/")
    if page.status != 200:
        sys.exit(f"/account/ answered {page.status} after the login")
    return "; ".join(f"{name}={value}" for name, value in browser.cookies.items())


def report(results, args):
    bare = results["bare view"]["rate"]
    print("\n================ citizen pages against the bare view ================")
    print(f"gunicorn {args.workers} workers, production settings, sessions in {os.environ.get('BENCH_CACHE_URL') or DEFAULT_CACHE_URL}")
    print(f"{'page':28} {'req/s':>8} {'x bare':>7} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>8}")
    for label, figures in results.items():
        non_2xx = figures["requests"] - figures["s2xx"]
        print(
            f"{label:28} {figures['rate']:8.0f} {figures['rate'] / bare:7.3f} {figures['p50_ms']:7.1f} "
            f"{figures['p99_ms']:7.1f} {non_2xx:8d}"
        )
    pages = {label: figures for label, figures in results.items() if label in PAGES}
    lowest = min(pages, key=lambda label: pages[label]["rate"])
    cost = 1 - results["bare view, with a session"]["rate"] / bare
    every_2xx = all(figures["requests"] == figures["s2xx"] for figures in results.values())
    print(f"every answer 2xx: {'yes' if every_2xx else 'no'}")
    print(
        f"targets: every page >= {TARGET_RATIO}x bare {'met' if pages[lowest]['rate'] / bare >= TARGET_RATIO else 'MISSED'}, "
        f"session cost <= {TARGET_SESSION_COST:.0%} {'met' if cost <= TARGET_SESSION_COST else 'MISSED'}"
    )
    print(f"lowest page: {lowest} {pages[lowest]['rate'] / bare:.3f}x bare; session cost {cost * 100:.0f}%")


if __name__ == "__main__":
    sys.exit(main())
