"""Build the scale data set (SPEC §10) into the current database: `manage.py seed_scale [--fraction F]`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tend_scale .venv/bin/python manage.py seed_scale --fraction 0.1

One practice ("Summit Behavioral Health Group", slug `scale`) with 200 clinicians, 20,000 patients,
1,000,000 appointments, 400,000 assessment responses and 500,000 claims at --fraction 1 (every
count scales; small fractions keep a working minimum). Rows are bulk inserted (COPY on PostgreSQL);
see practice/scale/build.py for what each phase writes. Refuses to run twice: build into a fresh
database. SQLite only for tiny fractions (tests).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from practice.scale import SCALE_PASSWORD, SCALE_SLUG, STAFF_DOMAIN, clinician_email, patient_email
from practice.scale.build import PhaseTiming, Plan, ScaleSeedError, build_scale

SQLITE_MAX_FRACTION = 0.05


class Command(BaseCommand):
    help = "Build the scale data set (one 200-clinician practice) with bulk inserts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fraction", type=float, default=1.0, help="Share of the full data set (default 1.0).")
        parser.add_argument("--seed", type=int, default=2026, help="Random seed (same seed, same data).")

    def handle(self, *args: Any, fraction: float, seed: int, **options: Any) -> None:
        if not 0 < fraction <= 1:
            raise CommandError("--fraction must be in (0, 1].")
        if connection.vendor != "postgresql" and fraction > SQLITE_MAX_FRACTION:
            # SQLite has no COPY, serialises writers and lacks the exclusion constraints the data
            # set is meant to exercise: only tiny builds (tests) make sense there.
            raise CommandError(
                f"Use PostgreSQL for --fraction above {SQLITE_MAX_FRACTION} (this is {connection.vendor})."
            )
        plan = Plan.for_fraction(fraction)
        self.stdout.write(
            f"seed_scale: fraction {fraction}: {plan.clinicians} clinicians, {plan.locations} locations, "
            f"{plan.patients} patients, {plan.appointments} appointments over {plan.weeks_back} weeks back + "
            f"{plan.weeks_ahead} ahead, up to {plan.claims} claims, {plan.responses} responses"
        )
        started = time.perf_counter()
        try:
            world, timings = build_scale(fraction=fraction, seed=seed, report=self._report)
        except ScaleSeedError as exc:
            raise CommandError(str(exc)) from exc
        total = time.perf_counter() - started
        rows = sum(t.rows for t in timings)
        self.stdout.write("")
        self.stdout.write(f"Built in {total:.1f} s ({rows:,} rows, {rows / total:,.0f} rows/s).")
        for label, count in sorted(world.writer.counts.items()):
            seconds = world.writer.db_seconds.get(label)
            spent = f"  {seconds:7.1f} s writing" if seconds is not None else ""
            self.stdout.write(f"  {label:<32} {count:>10,}{spent}")
        self.stdout.write("")
        self.stdout.write(f"Practice: {world.practice.name} (/p/{SCALE_SLUG}/)")
        self.stdout.write(f"Password for every account: {SCALE_PASSWORD}")
        self.stdout.write(
            f"  owner@{STAFF_DOMAIN}, admin@{STAFF_DOMAIN}, biller01..{plan.billers:02d}@{STAFF_DOMAIN} (TOTP)"
        )
        self.stdout.write(
            f"  {clinician_email(1)} .. {clinician_email(plan.clinicians)}, frontdesk01..{plan.front_desk:02d}@{STAFF_DOMAIN}"
        )
        self.stdout.write(f"  portal: {patient_email(1)} .. {patient_email(plan.portal_patients)} at /portal/login/")
        self.stdout.write("  TOTP: practice.scale.SCALE_TOTP_KEY; current code: practice.scale.scale_totp_code(email)")

    def _report(self, timing: PhaseTiming) -> None:
        rate = f", {timing.rows / timing.seconds:,.0f} rows/s" if timing.rows and timing.seconds else ""
        self.stdout.write(f"  {timing.name:<12} {timing.seconds:8.1f} s  {timing.rows:>10,} rows{rate}")
        self.stdout.flush()
