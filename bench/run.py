"""The settlement benchmark: a fresh PostgreSQL database, 1,000 sharing families, gunicorn as in production,
wrk against a bare Django view and against POST /api/v1/settlements, then the ledger audit.

    .venv/bin/python bench/run.py [--duration 20] [--connections 10] [--payers 1000]

BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/portal_bench) names the database, which is
dropped and created again; its name must end in "_bench" (DATABASE_URL is never read, so the development
database is safe). Needs wrk (Debian: apt-get install wrk; installed here when missing and run as root).
Scenarios, each for --duration seconds on the same server:
  1. the bare view, then settlements spread at random over the 1,000 families (ratio = settlements / bare);
  2. every settlement for one relative of one payer: all of them queue for that payer's row lock.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_bench"
TOKEN = "bench-pharmacy-token"
TARGET_RATIO = 0.15
TARGET_HOT_RATE = 250
TARGET_HOT_P99_MS = 200


def main():
    parser = argparse.ArgumentParser(description="Settlement benchmark (see bench/run.py).")
    parser.add_argument("--duration", type=int, default=20, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=10, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--payers", type=int, default=1000)
    parser.add_argument("--bind", default="127.0.0.1:8765")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="gunicorn workers (default: config/gunicorn.conf.py's production formula, 2 x CPUs + 1)",
    )
    args = parser.parse_args()

    database_url = bench_database_url("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    wrk = find_wrk()
    work = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    env = server_environment(database_url, args.bind, work)
    if args.workers:
        env["GUNICORN_WORKERS"] = str(args.workers)

    step(f"fresh database {urlsplit(database_url).path.lstrip('/')}")
    recreate_database(database_url)
    run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env)
    run([sys.executable, "-m", "bench.seed", str(work), "--payers", str(args.payers)], env)

    step(f"gunicorn -c config/gunicorn.conf.py on {args.bind} (access log {work / 'access.log'})")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "config/gunicorn.conf.py", "config.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=open(work / "gunicorn.out", "w"),
        stderr=subprocess.STDOUT,
    )
    memory = MemorySampler(server.pid)
    results = {}
    try:
        wait_until_up(f"http://{args.bind}/healthz", server)
        memory.start()
        base = f"http://{args.bind}"
        settle = f"{base}/api/v1/settlements"
        bare = Load(wrk, args, "bare.lua", f"{base}/bench/bare")
        spread = Load(
            wrk, args, "settlements.lua", settle, TOKEN, work / "patients.txt", uuid.uuid4().hex[:8]
        )
        hot = Load(wrk, args, "settlements.lua", settle, TOKEN, work / "hot.txt", uuid.uuid4().hex[:8])

        step("warming up (5 s each, not counted)")
        bare.drive(5)
        spread.drive(5)

        step(f"scenario 1: bare view, {args.duration} s")
        memory.scenario("bare")
        results["bare"] = bare.drive(args.duration)
        step(f"scenario 1: settlements over {args.payers} families, {args.duration} s")
        memory.scenario("spread")
        results["spread"] = spread.drive(args.duration)
        step(f"scenario 2: settlements all for one payer, {args.duration} s")
        memory.scenario("hot")
        results["hot"] = hot.drive(args.duration)
    finally:
        memory.stop()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)

    step("audit_ledger")
    audit = subprocess.run(
        [sys.executable, "manage.py", "audit_ledger"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    print((audit.stdout + audit.stderr).strip())
    report(results, memory, audit.returncode, database_url, args)
    return 0 if audit.returncode == 0 and all(r["s5xx"] == 0 for r in results.values()) else 1


def step(text):
    print(f"\n== {text}", flush=True)


def find_wrk():
    wrk = shutil.which("wrk")
    if wrk is None and os.geteuid() == 0 and shutil.which("apt-get"):
        step("installing wrk (Debian package)")
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, stdout=subprocess.DEVNULL)
        wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("wrk is not installed: apt-get install wrk (Debian/Ubuntu) and run again.")
    return wrk


def bench_database_url(variable, default):
    """Return the database a benchmark may drop: from `variable`, never DATABASE_URL; its name ends in _bench.

    DATABASE_URL may name the development database; a benchmark drops and creates its own again, so it refuses
    any database whose name does not say it is throwaway.
    """
    database_url = os.environ.get(variable) or default
    if not urlsplit(database_url).path.rstrip("/").endswith("_bench"):
        sys.exit(f"{variable} must name a throwaway database ending in _bench: it is dropped and created again.")
    return database_url


def server_environment(database_url, bind, work):
    """Production settings (DEBUG off, a secret key, allowed hosts) on plain HTTP, with the bench URLs."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": f"bench-{uuid.uuid4().hex}{uuid.uuid4().hex}",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # wrk speaks plain HTTP to the server itself; in production TLS ends at the proxy in front.
        "SECURE_SSL_REDIRECT": "false",
        # No text leaves a benchmark; production settings refuse to start without a backend named.
        "SMS_BACKEND": "console",
        "GUNICORN_BIND": bind,
        "GUNICORN_ACCESS_LOG": str(work / "access.log"),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def recreate_database(database_url):
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def run(command, env):
    subprocess.run(command, cwd=ROOT, env=env, check=True)


def wait_until_up(url, server, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited with {server.returncode}; see its output in the work folder.")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"{url} did not answer within {timeout} s")


class Load:
    """One wrk load: a Lua script (which prints BENCH_RESULT) against one URL."""

    def __init__(self, wrk, args, script, url, *script_args):
        self.command = [
            wrk,
            "-t",
            str(args.threads),
            "-c",
            str(args.connections),
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(BENCH / script),
            url,
        ]
        if script_args:
            self.command += ["--", *map(str, script_args)]
        self.round = 0

    def drive(self, seconds):
        """Run wrk for `seconds` and return the figures its script printed."""
        self.round += 1
        load_before = os.getloadavg()[0]
        command = [*self.command[:1], "-d", f"{seconds}s", *self.command[1:]]
        if "--" in command:
            # A different run id each round, so that no Idempotency-Key repeats.
            command[-1] = f"{command[-1]}r{self.round}"
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        line = next(line for line in output.splitlines() if line.startswith("BENCH_RESULT "))
        figures = json.loads(line.removeprefix("BENCH_RESULT "))
        figures["rate"] = figures["requests"] / figures["seconds"]
        # The host's 1-minute load average before and after: other work on the machine shows here.
        figures["load"] = (load_before, os.getloadavg()[0])
        print(
            f"   {figures['rate']:.0f} req/s, p50 {figures['p50_ms']:.1f} ms, "
            f"p99 {figures['p99_ms']:.1f} ms, "
            f"2xx {figures['s2xx']}, 4xx {figures['s4xx']}, 5xx {figures['s5xx']}, "
            f"socket errors {figures['socket_errors']}, "
            f"load average {figures['load'][0]:.1f} -> {figures['load'][1]:.1f}",
            flush=True,
        )
        return figures


class MemorySampler:
    """Sample every gunicorn worker's resident memory; keep each scenario's peak (VmHWM and sampled VmRSS)."""

    def __init__(self, master):
        self.master = master
        self.peaks = {}
        self.current = "start"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def scenario(self, name):
        self._sample()
        self.current = name

    def _loop(self):
        while not self._stop.wait(0.25):
            self._sample()

    def _sample(self):
        for pid in self._workers():
            status = process_memory(pid)
            if status:
                peak = max(status.get("VmHWM", 0), status.get("VmRSS", 0))
                key = self.current
                self.peaks[key] = max(self.peaks.get(key, 0), peak)

    def _workers(self):
        try:
            children = Path(f"/proc/{self.master}/task/{self.master}/children").read_text().split()
        except OSError:
            return []
        return [int(pid) for pid in children]


def process_memory(pid, keys=("VmHWM", "VmRSS")):
    """Return the memory figures `keys` of a process, in kB, from /proc (empty once it has gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    values = {}
    for line in lines:
        key, _colon, rest = line.partition(":")
        if key in keys:
            values[key] = int(rest.split()[0])  # kB
    return values


def ledger_figures(database_url):
    with psycopg.connect(database_url) as connection:
        return connection.execute(
            "SELECT count(*), coalesce(sum(amount), 0), coalesce(sum(paid), 0), coalesce(sum(cash_due), 0) "
            "FROM sharing_settlement"
        ).fetchone()


def report(results, memory, audit_status, database_url, args):
    bare, spread, hot = results["bare"], results["spread"], results["hot"]
    ratio = spread["rate"] / bare["rate"]
    count, amount, paid, cash = ledger_figures(database_url)
    print("\n================ settlement benchmark ================")
    workers = args.workers or f"{os.cpu_count() * 2 + 1} (production default)"
    print(
        f"machine: {os.cpu_count()} CPUs; gunicorn workers {workers}; "
        f"wrk -t {args.threads} -c {args.connections}, {args.duration} s per run"
    )
    rows = [
        ("bare view", bare),
        (f"settlements, {args.payers} families", spread),
        ("settlements, one payer", hot),
    ]
    print(f"{'':32} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'5xx':>5} {'load avg':>12}")
    for label, figures in rows:
        non_2xx = figures["requests"] - figures["s2xx"]
        load = f"{figures['load'][0]:.1f}->{figures['load'][1]:.1f}"
        print(
            f"{label:32} {figures['rate']:8.0f} {figures['p50_ms']:8.1f} {figures['p99_ms']:8.1f} "
            f"{non_2xx:8d} {figures['s5xx']:5d} {load:>12}"
        )
    print(f"ratio settlements / bare view: {ratio:.3f} (target >= {TARGET_RATIO})")
    print(
        f"one payer: {hot['rate']:.0f} settlements/s, p99 {hot['p99_ms']:.1f} ms "
        f"(target >= {TARGET_HOT_RATE}/s, p99 < {TARGET_HOT_P99_MS} ms)"
    )
    peaks = ", ".join(f"{name} {kilobytes / 1024:.0f} MB" for name, kilobytes in memory.peaks.items())
    print(f"peak RSS of one gunicorn worker: {peaks}")
    print(
        f"settlements stored: {count}; amounts {amount}, paid from accounts {paid}, cash {cash}, "
        f"paid + cash == amounts: {paid + cash == amount}"
    )
    print(f"audit_ledger: {'passed' if audit_status == 0 else 'FAILED'}")
    verdicts = [
        ("ratio", ratio >= TARGET_RATIO),
        ("one-payer rate", hot["rate"] >= TARGET_HOT_RATE),
        ("one-payer p99", hot["p99_ms"] < TARGET_HOT_P99_MS),
        ("no 5xx", all(figures["s5xx"] == 0 for figures in results.values())),
        ("exact ledger", audit_status == 0),
    ]
    print("targets: " + ", ".join(f"{name} {'met' if ok else 'MISSED'}" for name, ok in verdicts))


if __name__ == "__main__":
    sys.exit(main())
