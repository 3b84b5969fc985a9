"""Outcome dashboard benchmark: 20,000 patients' MeasureSummary rows (PHQ-9 and GAD-7) and 400,000
Response rows in a throwaway practice, then the dashboard selector timed and its queries counted.

Run against PostgreSQL (not part of the test suite):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tend_bench_outcomes \\
        .venv/bin/python benchmarks/bench_outcomes.py [--patients 20000] [--responses 400000] [--runs 5]

It migrates the database, seeds a fresh practice with bulk_create (40 clinicians, 6 locations, 20,000
patients, 400,000 PHQ-9/GAD-7 responses, one MeasureSummary per patient-measure consistent with the
responses' first and last totals, 60,000 administrations), ANALYZEs, and prints the selector's wall
time (best / median of --runs, warm) and its query count. The practice is left in place (a fresh
practice per run; drop the database to clean up).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._result import emit  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

INSTRUMENTS = ("PHQ-9", "GAD-7")
MAX_TOTAL = {"PHQ-9": 27, "GAD-7": 21}
CASENESS = {"PHQ-9": 10, "GAD-7": 8}


def _check_env() -> str:
    db = os.environ.get("DATABASE_URL", "")
    if not db.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database (it is migrated and written to)")
    return db


def _severity(code: str, total: int) -> tuple[str, str]:
    from assessments.library import get_instrument

    band = get_instrument(code).band_for(total)
    return (band.key, band.label) if band else ("", "")


def seed(patients: int, responses: int, rng: random.Random):
    """Practice, clinicians, locations, patients, responses, summaries and administrations."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from assessments.models import Administration, MeasureSummary, Response
    from assessments.outcomes import classify_change
    from clinical.models import Patient
    from practice.models import Location, Membership, Practice, User
    from practice.permissions import Role

    tag = uuid.uuid4().hex[:8]
    now = timezone.now()
    practice = Practice.objects.create(name=f"Bench {tag}", slug=f"bench-{tag}", timezone="America/New_York")
    password = make_password(None)
    users = User.objects.bulk_create(
        [User(email=f"c{i}-{tag}@bench.test", full_name=f"Clinician {i}", password=password) for i in range(40)]
    )
    members = Membership.all_objects.bulk_create(
        [Membership(practice=practice, user=u, role=Role.CLINICIAN) for u in users]
    )
    locations = Location.all_objects.bulk_create(
        [
            Location(
                practice=practice,
                name=f"Office {i}",
                address_line1="1 Main St",
                city="Springfield",
                state="MA",
                postal_code="01101",
            )
            for i in range(6)
        ]
    )
    people = Patient.all_objects.bulk_create(
        [
            Patient(
                practice=practice,
                mrn=f"O{i:07d}",
                legal_first_name=f"Pat{i}",
                legal_last_name="Bench",
                date_of_birth=date(1985, 1, 1),
                primary_clinician=members[i % len(members)],
            )
            for i in range(patients)
        ],
        batch_size=5000,
    )
    per_measure = max(2, responses // (patients * len(INSTRUMENTS)))
    diagnoses = ("F32.1", "F33.0", "F41.1", "F43.10", "F32.0", "F41.0")
    response_rows, summary_rows, made = [], [], 0
    for n, patient in enumerate(people):
        start = now - timedelta(days=rng.randint(30, 700))
        step = timedelta(days=14)
        dx = diagnoses[n % len(diagnoses)]
        for code in INSTRUMENTS:
            high = MAX_TOTAL[code]
            baseline = rng.randint(3, high)
            trend = rng.choice((-1, -1, 0, 1))
            totals = [max(0, min(high, baseline + trend * k * rng.randint(0, 3))) for k in range(per_measure)]
            for k, total in enumerate(totals):
                key, label = _severity(code, total)
                response_rows.append(
                    Response(
                        practice=practice,
                        patient=patient,
                        instrument_code=code,
                        instrument_version="bench",
                        answers=[],
                        total=total,
                        severity=key,
                        severity_label=label,
                        mode="link",
                        completed_at=start + k * step,
                    )
                )
            made += len(totals)
            change = classify_change(code, totals[0], totals[-1])
            key, label = _severity(code, totals[-1])
            summary_rows.append(
                MeasureSummary(
                    practice=practice,
                    patient=patient,
                    instrument_code=code,
                    clinician_id=patient.primary_clinician_id,
                    location=locations[n % len(locations)],
                    primary_diagnosis=dx,
                    response_count=len(totals),
                    baseline_total=totals[0],
                    baseline_at=start,
                    latest_total=totals[-1],
                    latest_at=start + (len(totals) - 1) * step,
                    latest_severity=key,
                    latest_severity_label=label,
                    reliable_improvement=change.reliable_improvement,
                    reliable_deterioration=change.reliable_deterioration,
                    response=change.response,
                    remission=change.remission,
                    recovery=change.recovery,
                    reliable_recovery=change.reliable_recovery,
                    at_caseness_at_baseline=totals[0] >= CASENESS[code],
                )
            )
        if len(response_rows) >= 20000:
            Response.all_objects.bulk_create(response_rows, batch_size=5000)
            response_rows = []
    Response.all_objects.bulk_create(response_rows, batch_size=5000)
    MeasureSummary.all_objects.bulk_create(summary_rows, batch_size=5000)
    statuses = ("completed", "completed", "completed", "completed", "expired", "sent")
    Administration.all_objects.bulk_create(
        [
            Administration(
                practice=practice,
                patient=people[i % len(people)],
                instrument_code=INSTRUMENTS[i % 2],
                reason="bench",
                status=statuses[i % len(statuses)],
                due_at=now - timedelta(days=rng.randint(0, 700)),
            )
            for i in range(patients * 3)
        ],
        batch_size=5000,
    )
    return practice, made, len(summary_rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--responses", type=int, default=400_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    _check_env()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from assessments.models import Response
    from assessments.selectors_outcomes import default_filters, outcome_dashboard
    from practice.scoping import practice_scope

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    practice, _responses, summaries = seed(args.patients, args.responses, random.Random(5))
    seeded = time.perf_counter() - t0
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    total_responses = Response.all_objects.filter(practice=practice).count()
    print(f"seeded {summaries} summaries, {total_responses} responses in {seeded:.1f}s (practice {practice.pk})")

    today = timezone.localdate()
    cases = {
        "PHQ-9, last 12 months": default_filters(),
        "GAD-7, last 2 years": default_filters(instrument="GAD-7", start=today - timedelta(days=730)),
        "PHQ-9, F32 prefix, one location": default_filters(diagnosis_prefix="F32"),
    }
    results = []
    with practice_scope(practice):
        for name, filters in cases.items():
            if name.endswith("one location"):
                from practice.models import Location

                filters = default_filters(
                    diagnosis_prefix="F32", location_id=Location.objects.order_by("id").values_list("id", flat=True)[0]
                )
            outcome_dashboard(filters)  # warm
            times = []
            for _ in range(args.runs):
                with CaptureQueriesContext(connection) as ctx:
                    t = time.perf_counter()
                    d = outcome_dashboard(filters)
                    times.append(time.perf_counter() - t)
            results.append((name, min(times), statistics.median(times), len(ctx.captured_queries), d))
            print(
                f"{name}: best {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms, "
                f"{len(ctx.captured_queries)} queries; measured {d.overall.measured}, with outcome {d.overall.paired}, "
                f"paired PHQ-9+GAD-7 {d.paired.patients}"
            )
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        pg = cursor.fetchone()[0].split(",")[0]
    print(f"machine: {platform.machine()}, nproc {os.cpu_count()}, Python {platform.python_version()}, {pg}")
    name, _best, median, queries, _d = results[0]
    emit("outcomes", unit="dashboard render", units=1, elapsed_s=median, case=name, queries=queries)


if __name__ == "__main__":
    main()
