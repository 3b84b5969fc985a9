"""Claims benchmark (issue 6): scrub 10,000 claims, write them as 837P and validate with pyx12.

Run against PostgreSQL (not part of the test suite):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tend_bench_claims \\
        .venv/bin/python benchmarks/bench_claims.py [--claims 10000] [--skip-export]

It migrates the database and seeds a throwaway practice with bulk_create: a billing profile, 40
clinicians with NPIs, 5 payers, one patient + coverage per claim (one in five a dependent: loop
2000C), and 10,000 ready claims of one or two lines (90834 / 90837 + 90785 / telehealth 90834:95 on
POS 10). Then it times, printing claims per second for each step:

1. scrubbing (`billing.services_scrub.claims_scrub_batch`, helper B3's rules engine, all claims);
2. writing 837P (`billing.x12_837.build_837`, files of at most 5,000 claims — the TR3's
   recommended CLM-per-transaction limit — and at most 100 claims per 2000B, enforced inside);
3. validating every file with pyx12 (`billing.x12_validate.validate_x12`);
4. the whole export service end to end (`billing.services_export.claims_export`: lock, control
   numbers, write, validate, release, claim transitions + events), unless --skip-export.

The practice is left in place (a fresh one per run; drop the database to clean up).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._result import emit  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

PAYERS = 5
CLINICIANS = 40
FILE_LIMIT = 5000  # claims per 837 transaction (billing.x12_837.MAX_CLAIMS_PER_TRANSACTION)


def _check_env() -> str:
    db = os.environ.get("DATABASE_URL", "")
    if not db.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database (it is migrated and written to)")
    return db


def seed(count: int, rng: random.Random):
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from billing import models as m
    from billing.validators import make_npi
    from clinical.models import Patient
    from practice.models import Membership, Practice, User
    from practice.permissions import Role

    tag = uuid.uuid4().hex[:6]
    practice = Practice.objects.create(name=f"Bench claims {tag}", slug=f"bench-claims-{tag}")
    m.BillingProfile.all_objects.create(
        practice=practice,
        legal_name="Bench Behavioral Health",
        npi="1234567893",
        tin="371234567",
        taxonomy="261QM0801X",
        address_line1="100 Main Street",
        city="Portland",
        state="OR",
        zip_code="972051234",
        submitter_id=f"BENCH{tag}".upper(),
        contact_name="Billing Office",
        contact_phone="5035550100",
    )
    password = make_password(None)
    users = User.objects.bulk_create(
        [User(email=f"c{i}-{tag}@bench.test", full_name=f"Clinician {i}", password=password) for i in range(CLINICIANS)]
    )
    members = Membership.all_objects.bulk_create(
        [Membership(practice=practice, user=u, role=Role.CLINICIAN) for u in users]
    )
    m.RenderingProvider.all_objects.bulk_create(
        [
            m.RenderingProvider(
                practice=practice,
                membership=member,
                npi=make_npi(f"1{i:08d}"),
                taxonomy="101YP2500X",
                credential="LPC",
                first_name="Alex",
                last_name=f"Clinician{i}",
            )
            for i, member in enumerate(members)
        ]
    )
    payers = m.Payer.all_objects.bulk_create(
        [
            m.Payer(practice=practice, name=f"Bench Health Plan {i}", payer_id=f"{70000 + i}", timely_filing_days=365)
            for i in range(PAYERS)
        ]
    )
    today = timezone.localdate()
    patients = Patient.all_objects.bulk_create(
        [
            Patient(
                practice=practice,
                mrn=f"B{i:07d}",
                legal_first_name=f"Pat{i}",
                legal_last_name=f"Bench{i}",
                date_of_birth=date(1960 + i % 50, 1 + i % 12, 1 + i % 28),
                sex_assigned_at_birth="female" if i % 2 else "male",
                address_line1=f"{i} Oak Avenue",
                city="Portland",
                state="OR",
                postal_code="97204",
                search_name=f"pat{i} bench{i}",
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    coverages = []
    for i, patient in enumerate(patients):
        dependent = i % 5 == 0
        coverages.append(
            m.Coverage(
                practice=practice,
                patient=patient,
                payer=payers[i % PAYERS],
                member_id=f"M{tag}{i:08d}",
                group_number="GRP1001",
                starts_on=date(today.year - 1, 1, 1),
                relationship="19" if dependent else "18",
                subscriber_first_name="Richard" if dependent else "",
                subscriber_last_name=f"Parent{i}" if dependent else "",
                subscriber_date_of_birth=date(1975, 7, 20) if dependent else None,
                subscriber_sex="M" if dependent else "",
                subscriber_address_line1="300 Elm Street" if dependent else "",
                subscriber_city="Portland" if dependent else "",
                subscriber_state="OR" if dependent else "",
                subscriber_zip_code="972020000" if dependent else "",
            )
        )
    coverages = m.Coverage.all_objects.bulk_create(coverages, batch_size=2000)
    claims, plans = [], []
    for i, coverage in enumerate(coverages):
        kind = rng.choice(("90834", "90837+90785", "tele"))
        service_date = today - timedelta(days=rng.randint(2, 40))
        member = members[i % CLINICIANS]
        if kind == "90834":
            lines = [("90834", 15000, [], 45)]
        elif kind == "90837+90785":
            lines = [("90837", 25000, [], 55), ("90785", 2500, [], None)]
        else:
            lines = [("90834", 15000, ["95"], 45)]
        plans.append((service_date, member, lines))
        claims.append(
            m.Claim(
                practice=practice,
                patient_id=coverage.patient_id,
                coverage=coverage,
                payer_id=coverage.payer_id,
                service_date=service_date,
                status=m.Claim.Status.READY,
                control_number=f"B{tag}{i:08d}",
                rendering=member,
                place_of_service="10" if kind == "tele" else "11",
                diagnosis_codes=["F33.1", "F41.1"],
                total_cents=sum(cents for _c, cents, _m, _n in lines),
            )
        )
    claims = m.Claim.all_objects.bulk_create(claims, batch_size=2000)
    charges, line_rows = [], []
    for i, (claim, (service_date, member, lines)) in enumerate(zip(claims, plans, strict=True)):
        for number, (cpt, cents, modifiers, minutes) in enumerate(lines, start=1):
            charges.append(
                m.Charge(
                    practice=practice,
                    patient_id=claim.patient_id,
                    coverage_id=claim.coverage_id,
                    status=m.Charge.Status.ON_CLAIM,
                    source="note",
                    service_date=service_date,
                    cpt=cpt,
                    modifiers=modifiers,
                    minutes=minutes,
                    place_of_service=claim.place_of_service,
                    diagnosis_codes=["F33.1", "F41.1"],
                    diagnosis_pointers=[1, 2] if number == 1 else [1],
                    rendering=member,
                    fee_cents=cents,
                    idempotency_key=f"bench-{tag}-{i}-{number}",
                )
            )
            line_rows.append((claim, number, cpt, cents, modifiers, minutes))
    charges = m.Charge.all_objects.bulk_create(charges, batch_size=2000)
    m.ClaimLine.all_objects.bulk_create(
        [
            m.ClaimLine(
                practice=practice,
                claim=claim,
                charge=charge,
                line_number=number,
                service_date=claim.service_date,
                cpt=cpt,
                modifiers=modifiers,
                units=1,
                charge_cents=cents,
                diagnosis_pointers=[1, 2] if number == 1 else [1],
                minutes=minutes,
            )
            for charge, (claim, number, cpt, cents, modifiers, minutes) in zip(charges, line_rows, strict=True)
        ],
        batch_size=2000,
    )
    return practice, [c.id for c in claims], len(line_rows)


def _rate(count: int, seconds: float, unit: str = "claims") -> str:
    return f"{seconds:8.2f} s  {count / seconds:9.1f} {unit}/second" if seconds else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--skip-export", action="store_true", help="skip step 4 (it changes claim statuses)")
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    _check_env()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from billing.models import BillingProfile, ClaimFile
    from billing.services_export import claims_export, claims_for_837
    from billing.x12_837 import build_837
    from billing.x12_validate import validate_x12
    from practice.scoping import practice_scope

    call_command("migrate", verbosity=0)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    practice, claim_ids, line_count = seed(args.claims, rng)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"seeded {len(claim_ids):,} claims / {line_count:,} lines in {time.perf_counter() - started:.1f} s")

    results: list[tuple[str, str]] = []
    with practice_scope(practice):
        try:
            from billing.services_scrub import claims_scrub_batch
        except ImportError:
            claims_scrub_batch = None
        if claims_scrub_batch is not None:
            t0 = time.perf_counter()
            scrubbed = claims_scrub_batch(practice_id=practice.id, claim_ids=claim_ids)
            elapsed = time.perf_counter() - t0
            errors = sum(len(r.errors) for r in scrubbed.values())
            results.append(("1. scrub (claims_scrub_batch)", _rate(len(claim_ids), elapsed)))
            emit("claims_scrub", unit="claim", units=len(claim_ids), elapsed_s=elapsed)
            print(f"scrubbed {len(scrubbed):,} claims, {errors:,} error findings")
        else:
            results.append(("1. scrub", "skipped: billing.services_scrub not available"))

        profile = BillingProfile.objects.get()
        chunks = [claim_ids[i : i + FILE_LIMIT] for i in range(0, len(claim_ids), FILE_LIMIT)]
        t0 = time.perf_counter()
        texts = []
        for number, chunk in enumerate(chunks, start=1):
            texts.append(
                build_837(
                    claims=claims_for_837(chunk),
                    profile=profile,
                    receiver_id="CLEARINGHOUSE",
                    receiver_name="Bench Clearinghouse",
                    usage_indicator="T",
                    isa13=900_000 + number,
                    gs06=900_000 + number,
                    st02=number,
                    created_at=timezone.localtime(),
                )
            )
        write_elapsed = time.perf_counter() - t0
        results.append((f"2. write 837P ({len(texts)} files, load included)", _rate(len(claim_ids), write_elapsed)))
        results.append(("   the same, per service line (SV1)", _rate(line_count, write_elapsed, "lines")))
        emit("claims_837_write", unit="service line", units=line_count, elapsed_s=write_elapsed, claims=len(claim_ids))
        size = sum(len(t) for t in texts)
        print(f"wrote {len(texts)} files, {size / 1e6:.1f} MB, {sum(t.count('~') for t in texts):,} segments")

        t0 = time.perf_counter()
        for text in texts:
            ok, errors, _ = validate_x12(text)
            if not ok:
                sys.exit(f"pyx12 rejected a generated file: {errors[:5]}")
        validate_elapsed = time.perf_counter() - t0
        results.append(("3. pyx12 validation", _rate(len(claim_ids), validate_elapsed)))
        emit("claims_837_validate", unit="claim", units=len(claim_ids), elapsed_s=validate_elapsed)
        results.append(("2+3. write + validate", _rate(len(claim_ids), write_elapsed + validate_elapsed)))

        if not args.skip_export:
            t0 = time.perf_counter()
            files = claims_export(practice=practice, by=None)
            export_elapsed = time.perf_counter() - t0
            released = [f for f in files if f.status == ClaimFile.Status.RELEASED]
            exported = sum(f.claim_count for f in released)
            if exported != len(claim_ids):
                sys.exit(f"export released {exported} of {len(claim_ids)} claims")
            results.append((f"4. claims_export end to end ({len(files)} files)", _rate(exported, export_elapsed)))
            emit("claims_export", unit="claim", units=exported, elapsed_s=export_elapsed)

    print()
    print(f"{len(claim_ids):,} claims ({line_count:,} lines), practice {practice.slug}")
    for label, value in results:
        print(f"  {label:<48} {value}")
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {connection.vendor}")


if __name__ == "__main__":
    main()
