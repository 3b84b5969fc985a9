"""One load-test run on loopback: gunicorn + a Celery worker + Locust (headless), then a Markdown report.

    .venv/bin/python benchmarks/load/run_load.py --database tend_scale --users 60 --steps 3 \\
        --spawn-rate 2 --duration 120 --out /tmp/load.md

Needs the `bench` extra (`.venv/bin/pip install -e '.[bench]'`), PostgreSQL with a seeded practice
(`manage.py seed_scale`, slug `scale`; `--practice cedar --password tend-demo-2026` runs it against
`seed_demo`'s data) and Redis. Each step is one Locust run at a higher user count (users/steps,
2*users/steps, ..., users): `--spawn-rate` users a second; once every user has signed in, statistics
are reset and `--duration` seconds are measured (sign-ins are not in the figures). The report has requests/s per step (saturation: where requests/s stops
rising while latency climbs) and, per page, p50/p95/p99, requests and errors of the chosen step, each
latency also as a ratio to the baseline page (the lightest authenticated page, requested at the same
share by every user class) of that same step.

Server: DEBUG=0 production settings (`benchmarks.load.settings` = config.settings.base with STATIC_ROOT
in a temporary directory for `collectstatic`). Only for this loopback http run, the environment turns
off the HTTPS-only parts that config.settings.base already lets the environment set (secure cookies,
the HTTPS redirect): a client on plain http cannot send a Secure cookie back. Production defaults are
unchanged. Gunicorn runs 2*nproc+1 sync workers: Django does its work synchronously and most of a
request is CPU (templates, ORM) on this machine, so threads would mostly wait on the GIL, and on loopback
no slow clients tie a sync worker up; the extra workers cover the time spent waiting on PostgreSQL.
Persistent database connections (`--conn-max-age`, default 60 s) as a deployment with sync workers
sets them; 0 measures a new PostgreSQL connection per request.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
BASELINE_NAME = "baseline: account page"
STAFF_POOLS = {
    "clinician": "clinician",
    "supervisor": "clinician",
    "front_desk": "frontdesk",
    "frontdesk": "frontdesk",
    "biller": "biller",
    "admin": "admin",
    "owner": "admin",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", default="tend_scale", help="database name or postgres:// URL")
    ap.add_argument("--practice", default="scale", help="practice slug whose accounts sign in")
    ap.add_argument("--password", default="tend-scale-2026", help="the shared password of those accounts")
    ap.add_argument("--users", type=int, default=40, help="simulated users in the last step")
    ap.add_argument("--steps", type=int, default=1, help="steps of users/steps, 2*users/steps, ... users")
    ap.add_argument("--spawn-rate", type=float, default=2.0, help="users started per second")
    ap.add_argument("--duration", type=int, default=60, help="seconds measured per step (after spawning)")
    ap.add_argument("--out", default="", help="Markdown report (default: printed only)")
    ap.add_argument("--port", type=int, default=8100)
    ap.add_argument("--redis-db", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    ap.add_argument("--conn-max-age", type=int, default=60)
    ap.add_argument("--work-dir", default="", help="keep logs and CSVs here (default: a temporary directory)")
    ap.add_argument(
        "--table-step",
        type=int,
        default=0,
        help="step whose per-page table is shown (default: the first step and the saturation step)",
    )
    return ap.parse_args(argv)


def database_url(database: str) -> str:
    return database if "://" in database else f"postgres://postgres@127.0.0.1:5432/{database}"


def app_name(args: argparse.Namespace) -> str:
    return f"tend-load-{args.port}"


def _with_app_name(url: str, name: str) -> str:
    return url + ("&" if "?" in url else "?") + f"application_name={name}"


def _postgres_sched(env: dict[str, str], name: str) -> dict[int, tuple[float, float]]:
    """(on CPU, waiting for a CPU) seconds of each PostgreSQL backend serving this run (same host)."""
    psql = shutil.which("psql")
    if psql is None:
        return {}
    found = subprocess.run(  # noqa: S603 (psql with a fixed query)
        [
            psql,
            env["DATABASE_URL"].split("?")[0],
            "-AtF",
            " ",
            "-c",
            "SELECT pid, application_name FROM pg_stat_activity",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    backends = {}
    for line in found.stdout.splitlines():
        pid, _, app = line.partition(" ")
        if app == name and pid.isdigit():
            backends[int(pid)] = _sched([int(pid)])
    return backends


def server_env(args: argparse.Namespace, static_root: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "benchmarks.load.settings",
            "TEND_LOAD_STATIC_ROOT": static_root,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            # Named, so the report can add up the CPU of this server's PostgreSQL backends.
            "DATABASE_URL": _with_app_name(database_url(args.database), app_name(args)),
            "REDIS_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
            "CONN_MAX_AGE": str(args.conn_max_age),
            # Loopback http only (see the module docstring); production keeps the secure defaults.
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_HSTS_SECONDS": "0",
            "LOG_LEVEL": "WARNING",
            "TEND_EMAIL_BACKEND_KIND": "outbox",
            "TEND_SMS_BACKEND": "outbox",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def export_accounts(args: argparse.Namespace, env: dict[str, str], path: Path) -> dict[str, int]:
    """The practice's active staff by pool (with TOTP keys) and portal patients, as JSON for Locust."""
    script = f"""
import json
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled
from practice.models import Membership, Practice
from portal.models import PortalAccess
pools = {STAFF_POOLS!r}
with scopes_disabled():
    practice = Practice.objects.get(slug={args.practice!r})
    keys = {{d.user_id: d.key for d in TOTPDevice.objects.filter(confirmed=True, user__memberships__practice=practice)}}
    staff = {{}}
    for m in Membership.objects.filter(practice=practice, is_active=True, user__is_active=True).select_related("user").order_by("user__email"):
        pool = pools.get(m.role)
        if pool:
            staff.setdefault(pool, []).append({{"email": m.user.email, "member": str(m.public_id), "totp": keys.get(m.user_id, "")}})
    patients = [
        {{"email": a.user.email}}
        for a in PortalAccess.objects.filter(practice=practice, is_active=True, user__is_active=True)
        .select_related("user").order_by("user__email")
        if not TOTPDevice.objects.filter(user=a.user, confirmed=True).exists()
    ][:2000]
print(json.dumps({{"practice": practice.slug, "staff": staff, "patients": patients}}))
"""
    out = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    accounts = json.loads(out.strip().splitlines()[-1])
    accounts["password"] = args.password
    path.write_text(json.dumps(accounts))
    sizes = {pool: len(rows) for pool, rows in accounts["staff"].items()}
    sizes["patient"] = len(accounts["patients"])
    return sizes


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    # A process group of its own, so stopping it also stops gunicorn's workers / Celery's children.
    with log.open("wb") as fh:
        return subprocess.Popen(  # noqa: S603 (commands built here from the venv's own executables)
            cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_ready(url: str, procs: list[subprocess.Popen], deadline_s: float = 90) -> dict:
    deadline = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise SystemExit("gunicorn or the Celery worker exited during start-up (see the logs)")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 (loopback http by design)
                last = json.loads(r.read())
                if last.get("status") == "ok":
                    return last
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"not ready within {deadline_s} s: {last}")


def read_stats(prefix: Path) -> list[dict[str, str]]:
    with open(f"{prefix}_stats.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _sched(pids: list[int]) -> tuple[float, float]:
    """Seconds on a CPU and seconds runnable but waiting for one (Linux /proc/<pid>/schedstat), summed."""
    on_cpu = waiting = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/schedstat").read_text().split()
        except OSError:  # gone, or not Linux
            continue
        on_cpu += int(fields[0]) / 1e9
        waiting += int(fields[1]) / 1e9
    return on_cpu, waiting


def _server_sched(pid: int) -> tuple[float, float]:
    """gunicorn's master and workers."""
    import psutil  # a dependency of locust

    try:
        master = psutil.Process(pid)
        return _sched([pid, *(c.pid for c in master.children(recursive=True))])
    except psutil.NoSuchProcess:
        return 0.0, 0.0


def run_step(
    args: argparse.Namespace, users: int, work: Path, host: str, env: dict[str, str], n: int, server_pid: int
) -> dict:
    prefix = work / f"step{n}"
    spawn_seconds = int(users / args.spawn_rate) + 1
    cmd = [
        str(Path(sys.executable).parent / "locust"),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        host,
        "-u",
        str(users),
        "-r",
        str(args.spawn_rate),
        # An upper bound only: the locustfile stops the run `duration` s after the last sign-in.
        "-t",
        f"{spawn_seconds * 4 + args.duration + 120}s",
        "--csv",
        str(prefix),
        "--only-summary",
        "--stop-timeout",
        "10",
        "--loglevel",
        "WARNING",
        "--logfile",
        str(prefix) + "_locust.log",
    ]
    mark = Path(f"{prefix}_measuring")
    env = dict(env, TEND_LOAD_MEASURE_SECONDS=str(args.duration), TEND_LOAD_MEASURE_MARK=str(mark))
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    proc = subprocess.Popen(  # noqa: S603 (the venv's locust)
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # CPU is sampled over the measured window only: from the locustfile's mark (every user signed in)
    # to Locust's exit. Locust's own CPU is its whole run (a child's CPU is known once it exits).
    locust_cpu = _children_cpu()
    window = None
    while proc.poll() is None:
        if window is None and mark.exists():
            window = (time.monotonic(), _server_sched(server_pid), _postgres_sched(env, args.app_name))
        time.sleep(0.5)
    ended = time.monotonic()
    wall = ended - started
    if window is None:
        window = (started, _server_sched(server_pid), {})
    span = max(ended - window[0], 0.001)
    server = _server_sched(server_pid)
    # Backends that ended inside the window are missed (CONN_MAX_AGE keeps them for the run).
    pg_end = _postgres_sched(env, args.app_name)
    pg = [sum(end[k] - window[2].get(pid, (0.0, 0.0))[k] for pid, end in pg_end.items()) / span for k in (0, 1)]
    sched = {
        "gunicorn_cpu": (server[0] - window[1][0]) / span,
        "gunicorn_wait": (server[1] - window[1][1]) / span,
        "postgres_cpu": pg[0],
        "postgres_wait": pg[1],
        "locust_cpu": (_children_cpu() - locust_cpu) / wall,
    }
    rows = read_stats(prefix)
    total = next(r for r in rows if r["Name"] == "Aggregated")
    pages = [r for r in rows if r["Name"] != "Aggregated" and int(r["Request Count"])]
    return {
        "step": n,
        "users": users,
        "wall_s": round(wall),
        "sched": sched,
        "load_avg": (load_before, os.getloadavg()[0]),
        "rps": float(total["Requests/s"]),
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "p50": float(total["50%"]),
        "p95": float(total["95%"]),
        "p99": float(total["99%"]),
        "pages": pages,
        "failures_csv": f"{prefix}_failures.csv",
    }


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.1f}" if base else "–"


def page_table(step: dict) -> list[str]:
    base = next((r for r in step["pages"] if r["Name"] == BASELINE_NAME), None)
    b = {k: float(base[k]) if base else 0.0 for k in ("50%", "95%", "99%")}
    lines = [
        "| page | method | requests | errors | p50 ms | p95 ms | p99 ms | p50 × | p95 × | p99 × |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    rows = sorted(step["pages"], key=lambda r: (r["Name"] != BASELINE_NAME, -float(r["95%"] or 0)))
    for r in rows:
        p50, p95, p99 = (float(r[k] or 0) for k in ("50%", "95%", "99%"))
        lines.append(
            f"| {r['Name']} | {r['Type']} | {r['Request Count']} | {r['Failure Count']} | {p50:.0f} | {p95:.0f} | "
            f"{p99:.0f} | {_ratio(p50, b['50%'])} | {_ratio(p95, b['95%'])} | {_ratio(p99, b['99%'])} |"
        )
    return lines


def failure_lines(step: dict) -> list[str]:
    try:
        with open(step["failures_csv"], encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError:
        return []
    return [f"- {r['Name']} ({r['Method']}): {r['Error']} × {r['Occurrences']}" for r in rows]


def saturation(steps: list[dict]) -> tuple[dict, str]:
    """The step with the most requests/s, and whether the last step stopped rising (+<10 %)."""
    best = max(steps, key=lambda s: s["rps"])
    if len(steps) < 2:
        return best, "one step only: no saturation claim"
    last, before = steps[-1], steps[-2]
    flat = last["rps"] < before["rps"] * 1.10 and last["p95"] > before["p95"]
    return best, ("saturated" if flat else "still rising at the last step: more users needed")


def report(args: argparse.Namespace, steps: list[dict], meta: dict) -> str:
    best, verdict = saturation(steps)
    shown = [steps[args.table_step - 1]] if args.table_step else [steps[0]] + ([best] if best is not steps[0] else [])
    lines = [
        f"Run {meta['date']} on {meta['machine']}; database `{meta['database']}` (practice `{args.practice}`), "
        f"gunicorn {args.workers} sync workers, CONN_MAX_AGE={args.conn_max_age}, 1 Celery worker, "
        f"Locust {meta['locust']} on the same machine. Accounts: {meta['accounts']}.",
        "",
        f"`{meta['command']}`",
        "",
        "CPU columns are seconds per second of the measured window (1.00 = one core busy); *wait* is time "
        "runnable but queued for a CPU (/proc/<pid>/schedstat): on a host busy with other work it says "
        "how much of the latency is the machine, not the app.",
        "",
        "| step | users | req/s | requests | errors | p50 ms | p95 ms | p99 ms | gunicorn CPU | gunicorn wait "
        "| PostgreSQL CPU | PostgreSQL wait | req/s per gunicorn core | Locust CPU | load avg (start→end) |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for s in steps:
        c = s["sched"]
        lines.append(
            f"| {s['step']} | {s['users']} | {s['rps']:.1f} | {s['requests']} | {s['failures']} | {s['p50']:.0f} | "
            f"{s['p95']:.0f} | {s['p99']:.0f} | {c['gunicorn_cpu']:.2f} | {c['gunicorn_wait']:.2f} | "
            f"{c['postgres_cpu']:.2f} | {c['postgres_wait']:.2f} | {s['rps'] / max(c['gunicorn_cpu'], 0.01):.1f} | "
            f"{c['locust_cpu']:.2f} | {s['load_avg'][0]:.1f}→{s['load_avg'][1]:.1f} |"
        )
    lines += [
        "",
        f"Saturation: **{best['rps']:.1f} req/s** (step {best['step']}, {best['users']} users; {verdict}).",
    ]
    for step in shown:
        lines += [
            "",
            f"Per page, step {step['step']} ({step['users']} users, {args.duration} s measured); × = ratio to "
            "the baseline page's same percentile in this step:",
            "",
            *page_table(step),
        ]
    errors = [line for s in steps for line in (f"step {s['step']}: {x}" for x in failure_lines(s))]
    if errors:
        lines += ["", "Errors:", "", *(f"- {e.lstrip('- ')}" for e in errors)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.app_name = app_name(args)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="tend-load-"))
    work.mkdir(parents=True, exist_ok=True)
    static_root = tempfile.mkdtemp(prefix="tend-load-static-")
    env = server_env(args, static_root)
    host = f"http://127.0.0.1:{args.port}"
    gunicorn = celery = None
    try:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "--verbosity", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        pending = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--check"], cwd=ROOT, env=env, capture_output=True, check=False
        )
        if pending.returncode:
            raise SystemExit(f"{args.database} has unapplied migrations: run `manage.py migrate` on it first")
        sizes = export_accounts(args, env, work / "accounts.json")
        print(f"accounts: {sizes}", flush=True)
        gunicorn = start(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{args.port}",
                "--workers",
                str(args.workers),
                "--worker-class",
                "sync",
                "--timeout",
                "60",
                "--access-logfile",
                "-",
            ],
            env,
            work / "gunicorn.log",
        )
        celery = start(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "config",
                "worker",
                "--concurrency",
                "1",
                "--loglevel",
                "WARNING",
                "--hostname",
                f"load-{args.port}@%h",
            ],
            env,
            work / "celery.log",
        )
        health = wait_ready(host + "/healthz", [gunicorn, celery])
        print(f"ready: {health['status']}", flush=True)
        locust_env = dict(env)
        locust_env["TEND_LOAD_ACCOUNTS"] = str(work / "accounts.json")
        locust_env["TEND_LOAD_TOTP_STATE"] = str(work / "totp_state.json")
        steps = []
        for n in range(1, args.steps + 1):
            users = max(1, round(args.users * n / args.steps))
            step = run_step(args, users, work, host, locust_env, n, gunicorn.pid)
            print(
                f"step {n}: {users} users, {step['rps']:.1f} req/s, p50 {step['p50']:.0f} ms, "
                f"p95 {step['p95']:.0f} ms, {step['failures']}/{step['requests']} errors",
                flush=True,
            )
            steps.append(step)
    finally:
        stop(celery)
        stop(gunicorn)
        shutil.rmtree(static_root, ignore_errors=True)
    import locust

    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} vCPU, {_mem_gb()} GB RAM, Python {sys.version.split()[0]}",
        "database": args.database if "://" not in args.database else "(URL)",
        "locust": locust.__version__,
        "accounts": ", ".join(f"{k} {v}" for k, v in sorted(sizes.items())),
        "command": "benchmarks/load/run_load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    text = report(args, steps, meta)
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    print(f"logs and CSVs: {work}")
    return 0


def _mem_gb() -> int:
    return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)


if __name__ == "__main__":
    sys.exit(main())
