"""Every benchmark at a small size, one summary table: `make bench` (about 10 minutes on 2 vCPUs).

    .venv/bin/python benchmarks/run_all.py [--units 300] [--fraction 0.01] [--load-users 20 --load-duration 60]

Needs PostgreSQL and Redis. It drops and re-creates one throwaway database (`tend_bench_small` on
127.0.0.1:5432 as postgres; override with BENCH_DATABASE_URL=postgres://user@host:port/name), migrates
it, and runs in it, each as its own process:

1. bench_deliveries.py --count U    (questionnaire deliveries: real worker, fake SMTP + Twilio)
2. bench_reminders.py --count U     (SMS reminders: real worker, fake Twilio)
3. bench_claims.py --claims U       (scrub, 837P write, pyx12 validation; --skip-export)
4. bench_remittance.py --claims U   (one 835 posted)
5. bench_import.py --patients U     (CSV import, --import-only)
6. bench_outcomes.py                (dashboard over 4*U patients, 40*U responses)
7. manage.py seed_scale --fraction F, when the command exists
8. benchmarks/load/run_load.py against that data, when the script exists

The workers use Redis db 13 (override with BENCH_REDIS_URL). A benchmark whose correctness check
fails (exactly-once deliveries, balanced ledger, every claim validated, ...) exits non-zero, and then
so does this script. The full run is `--units 10000 --fraction 1 --load-users 60 --load-duration 300`
(see benchmarks/RESULTS.md, "How to run").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
PREFIX = "BENCH-RESULT "
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/tend_bench_small"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
LOAD_PORT = 8120
# Celery's warning about running as root (containers): kept in the log, not echoed.
NOISE = re.compile(r"SecurityWarning|superuser privileges|--uid option|User information: uid=")


@dataclass
class Step:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    timeout: int = 900
    rc: int | None = None
    seconds: float = 0.0
    results: list[dict] = field(default_factory=list)
    note: str = ""


def _admin_url(db_url: str) -> tuple[str, str]:
    """(URL of the server's `postgres` database, the benchmark database's name)."""
    base, _, name = db_url.rpartition("/")
    if not base.startswith("postgres") or not name or "?" in name:
        sys.exit(f"BENCH_DATABASE_URL must look like postgres://user@host:port/name, not {db_url!r}")
    return f"{base}/postgres", name


def recreate_database(db_url: str) -> None:
    import psycopg2
    from psycopg2 import sql

    admin, name = _admin_url(db_url)
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn.close()


def run(step: Step, log_dir: Path) -> None:
    """Run one step in its own process group, echoing its output and collecting its result lines."""
    print(f"\n=== {step.name}: {' '.join(step.argv[1:])}", flush=True)
    log = log_dir / f"{step.name.replace(' ', '_')}.log"
    started = time.monotonic()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", "PYTHONUNBUFFERED": "1", **step.env}
    with log.open("w") as fh:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv
            step.argv,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

        def stop() -> None:
            step.note = f"timed out after {step.timeout} s"
            os.killpg(proc.pid, signal.SIGTERM)  # the benchmarks stop their workers on SIGTERM

        timer = threading.Timer(step.timeout, stop)
        timer.start()
        assert proc.stdout is not None
        for line in proc.stdout:
            fh.write(line)
            if line.startswith(PREFIX):
                step.results.append(json.loads(line[len(PREFIX) :]))
            elif line.strip() and not line.startswith((" ", "-", "[")) and not NOISE.search(line):
                print(f"  {line.rstrip()[:160]}", flush=True)
        try:
            step.rc = proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            step.rc = proc.wait()
        timer.cancel()
    step.seconds = time.monotonic() - started
    if step.rc and not step.note:
        tail = log.read_text().strip().splitlines()[-3:]
        step.note = " | ".join(t.strip() for t in tail)[:200]
    print(f"--- {step.name}: exit {step.rc} in {step.seconds:.0f} s (log {log})", flush=True)


def purge_queue(env: dict[str, str]) -> None:
    # Tasks queued by benchmarks that run no worker (on-commit side effects) must not reach the
    # load test's worker: they name rows of practices it knows nothing about.
    subprocess.run(  # noqa: S603 - fixed argv
        [str(Path(sys.executable).parent / "celery"), "-A", "config", "purge", "-f"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", **env},
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def load_args_supported(script: Path) -> str:
    out = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return out.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=300, help="claims / reminders / deliveries / rows per benchmark")
    parser.add_argument("--fraction", type=float, default=0.01, help="seed_scale --fraction")
    parser.add_argument("--load-users", type=int, default=20)
    parser.add_argument("--load-duration", type=int, default=60, help="seconds the load test measures")
    parser.add_argument("--skip", action="append", default=[], help="skip a step by name (repeatable)")
    args = parser.parse_args()

    db_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    py = sys.executable
    units = args.units
    log_dir = Path(tempfile.mkdtemp(prefix="tend-bench-"))
    began = time.monotonic()
    print(f"database {db_url} (re-created), redis {redis_url}, {units} units per benchmark, logs in {log_dir}")
    recreate_database(db_url)

    db = {"DATABASE_URL": db_url}
    worker = {**db, "REDIS_URL": redis_url}
    # A generous per-step limit: on a loaded 2-vCPU host the small runs take 1-3 minutes each.
    long = max(900, units * 2)
    steps = [
        Step("migrate", [py, "manage.py", "migrate", "--no-input", "-v", "0"], db, timeout=900),
        Step("deliveries", [py, "benchmarks/bench_deliveries.py", "--count", str(units)], worker, timeout=long),
        Step("reminders", [py, "benchmarks/bench_reminders.py", "--count", str(units)], worker, timeout=long),
        Step("claims", [py, "benchmarks/bench_claims.py", "--claims", str(units), "--skip-export"], db, timeout=long),
        Step("remittance", [py, "benchmarks/bench_remittance.py", "--claims", str(units)], worker, timeout=long),
        Step("import", [py, "benchmarks/bench_import.py", "--patients", str(units), "--import-only"], db, timeout=long),
        Step(
            "outcomes",
            [py, "benchmarks/bench_outcomes.py", "--patients", str(units * 4), "--responses", str(units * 40)],
            db,
            timeout=long,
        ),
    ]
    # Again: on a shared checkout a migration may have landed while the benchmarks ran.
    steps.append(Step("migrate again", [py, "manage.py", "migrate", "--no-input", "-v", "0"], db, timeout=900))
    if (ROOT / "practice/management/commands/seed_scale.py").exists():
        steps.append(
            Step("seed_scale", [py, "manage.py", "seed_scale", "--fraction", str(args.fraction)], db, timeout=3 * 3600)
        )
    load_script = BENCH / "load" / "run_load.py"
    load_report = log_dir / "load.md"
    if load_script.exists():
        argv = [py, str(load_script), "--database", db_url, "--users", str(args.load_users)]
        argv += ["--duration", str(args.load_duration), "--out", str(load_report)]
        help_text = load_args_supported(load_script)
        if "--redis-db" in help_text:
            argv += ["--redis-db", redis_url.rsplit("/", 1)[-1]]
        if "--port" in help_text:
            argv += ["--port", str(LOAD_PORT)]
        steps.append(Step("load", argv, {}, timeout=args.load_duration + 900))

    for step in steps:
        if step.name in args.skip:
            step.note = "skipped"
            continue
        if step.name == "load":
            purge_queue(worker)
        run(step, log_dir)
        if step.name == "load" and load_report.exists():
            step.results = load_results(load_report, step.seconds)
        if step.name.startswith("migrate") and step.rc:
            break  # nothing else can run
    purge_queue(worker)

    print_summary(steps, load_report, time.monotonic() - began)
    failed = [s.name for s in steps if s.rc]
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        sys.exit(1)


def load_results(report: Path, seconds: float) -> list[dict]:
    """The last step of run_load.py's Markdown report (| step | users | req/s | requests | errors |
    p50 | p95 | ...) as a summary row."""
    rows = re.findall(
        r"^\| (\d+) \| (\d+) \| ([\d.]+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|", report.read_text(), re.M
    )
    if not rows:
        return []
    _step, users, per_s, requests, errors, _p50, p95 = rows[-1]
    load = [round(x, 2) for x in os.getloadavg()]
    note = f"{users} users, p95 {p95} ms, {errors} errors"
    measured = int(requests) / float(per_s) if float(per_s) else seconds  # the measured window, not start-up
    return [
        {"job": "load", "unit": "request", "units": int(requests), "elapsed_s": measured, "per_s": float(per_s)}
        | {"load": load, "note": note}
    ]


def print_summary(steps: list[Step], load_report: Path, total: float) -> None:
    print(f"\n{'job':<22} {'unit':<24} {'units':>7} {'elapsed':>10} {'per second':>11}  {'load 1m':>7}  status")
    for step in steps:
        status = "ok" if step.rc == 0 else (step.note or f"exit {step.rc}")
        if not step.results:
            if step.rc is None and not step.note:
                continue
            print(f"{step.name:<22} {'':<24} {'':>7} {step.seconds:>9.1f}s {'':>11}  {'':>7}  {status}")
            continue
        for r in step.results:
            per = f"{r['per_s']:.1f}" if r.get("per_s") is not None else "n/a"
            elapsed = f"{r['elapsed_s'] * 1000:.0f} ms" if r["job"] == "outcomes" else f"{r['elapsed_s']:.1f}s"
            if r["job"] == "outcomes":
                per = f"{r.get('queries', '?')} queries"
            shown = f"{status}, {r['note']}" if r.get("note") else status
            print(
                f"{r['job']:<22} {r['unit']:<24} {r['units']:>7} {elapsed:>10} {per:>11}  {r['load'][0]:>7.2f}  {shown}"
            )
    if load_report.exists():
        print(f"load test report: {load_report}")
    print(f"total {total / 60:.1f} min, nproc {os.cpu_count()}, load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
