"""CSV import benchmark (issue 9): 20,000 patients through the dry run and the import.

Run against PostgreSQL (not part of the test suite):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tend_bench_import \\
        .venv/bin/python benchmarks/bench_import.py [--patients 20000] [--import-only]

It migrates the database, creates a throwaway practice with an admin and 20 clinicians, writes a
patients CSV in the import template's columns (names, birth dates, sex, email, phone, address,
primary clinician by email; every 50th patient a minor with a guardian) and runs the task body
(`integrations.csv_import.import_job_process`) twice: the dry run (everything through
`patient_create` in one transaction, rolled back) and the import (the same, committed), then the
same file again (a re-run: every row must come back unchanged). Each row goes through the real
service: duplicate check, MRN allocation, full_clean, the hash-chained audit entry.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._result import emit  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--import-only", action="store_true", help="skip the dry run and the re-run")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database (it is migrated and written to)")

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    import csv

    from django_scopes import scopes_disabled

    from clinical.models import Patient
    from integrations import csv_import
    from integrations.models import ImportJob
    from practice.models import Membership, Practice, User
    from practice.permissions import Role
    from practice.scoping import practice_scope

    tag = uuid.uuid4().hex[:6]
    with scopes_disabled():
        practice = Practice.objects.create(name=f"Bench import {tag}", slug=f"bench-import-{tag}")
        admin = Membership.objects.create(
            practice=practice, user=User.objects.create(email=f"admin-{tag}@bench.test"), role=Role.ADMIN
        )
        clinicians = [
            Membership.objects.create(
                practice=practice, user=User.objects.create(email=f"c{i}-{tag}@bench.test"), role=Role.CLINICIAN
            )
            for i in range(20)
        ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(csv_import.template_columns("patients"))
    columns = csv_import.template_columns("patients")
    for n in range(args.patients):
        minor = n % 50 == 0
        born = date(2012, 1, 1) + timedelta(days=n % 1500) if minor else date(1950, 1, 1) + timedelta(days=n % 20000)
        row = {
            "external_id": f"EXT{n:06d}",
            "first_name": f"First{n}",
            "last_name": f"Last{n % 997}",
            "date_of_birth": born.isoformat(),
            "sex": "FMU"[n % 3],
            "email": f"p{n}@example.test",
            "phone": f"(503) 555-{n % 10000:04d}",
            "address_line1": f"{n} Main St",
            "city": "Portland",
            "state": "OR",
            "postal_code": "97201",
            "guardian_name": "Parent Name" if minor else "",
            "primary_clinician_email": clinicians[n % 20].user.email,
            "status": "active",
        }
        writer.writerow([row.get(c, "") for c in columns])
    data = out.getvalue().encode()
    print(f"CSV: {args.patients} patients, {len(data) / 1e6:.1f} MB")

    with practice_scope(practice):
        job = csv_import.import_job_create(by=admin, kind="patients", filename="bench.csv", data=data)
        timings = {}
        passes = [("dry run", True), ("import", False), ("re-run (dry)", True)]
        if args.import_only:
            passes = [("import", False)]
        for label, dry_run in passes:
            if label.startswith("re-run"):
                job = csv_import.import_job_create(by=admin, kind="patients", filename="bench2.csv", data=data)
            status = ImportJob.Status.VALIDATING if dry_run else ImportJob.Status.IMPORTING
            ImportJob.objects.filter(pk=job.pk).update(status=status, report=csv_import.QUEUED)
            started = time.perf_counter()
            job = csv_import.import_job_process(job_id=job.pk, dry_run=dry_run)
            timings[label] = time.perf_counter() - started
            print(
                f"{label}: {timings[label]:.1f} s ({args.patients / timings[label]:.0f} rows/s) "
                f"counts={job.report['counts']} errors={job.report['error_count']}"
            )
            assert job.report["error_count"] == 0, job.report["errors"][:5]
        assert Patient.objects.count() == args.patients
    emit("import", unit="CSV row (patient)", units=args.patients, elapsed_s=timings["import"])
    print(f"host: {platform.node()} {os.cpu_count()} CPUs, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
