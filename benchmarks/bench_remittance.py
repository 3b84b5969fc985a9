"""Remittance benchmark (issue 7): post one 835 paying 10,000 claims, end to end.

Run against PostgreSQL (not part of the test suite):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tend_bench_era REDIS_URL=redis://127.0.0.1:6379/12 \\
        .venv/bin/python benchmarks/bench_remittance.py [--claims 10000]

It migrates the database and seeds a throwaway practice with bulk_create: a billing profile, 40
clinicians, one payer, one patient + primary coverage per claim and N submitted claims of one or two
lines (90834; 90837 + 90785; telehealth 90834:95), each line from its own charge. Every charge is on
the ledger (Dr insurance_ar / Cr charges), so the remittance posts against real A/R: by default as
bulk-created rows identical to what `billing.services_charges.charge_ledger_post` writes (minus its
audit row), or with `--post-charges service` through that service one charge at a time (slow: ~10
charges/s on a loaded 2-core host, because each posting writes a hash-chained audit entry).

The 835 (written with `billing.era_writer`, one ST/SE: the 835 TR3 sets no CLP-per-transaction
limit) pays every claim once: ~80 % paid (CO-45 contractual + PR-3 copay), ~10 % partially paid
(90837 paid, 90785 denied CO-197), ~5 % denied (CO-50 on every line, zero pay), ~5 % reversed and
corrected (CLP02 = 22 with negated amounts + a new CLP02 = 1 with a different copay; those claims
were paid by an earlier, untimed 835 first), plus a PLB with L6 interest and a WO recoupment.

Timed: `billing.services_remittance.remittance_import` (pyx12 validation, parse, balance checks,
posting in one transaction), then the same file again (a duplicate: must post nothing). Then it
asserts: every CLP matched its claim, every claim has the expected status, the ledger trial balance
is zero, the remittance's claim payments minus PLB equal BPR02, and cash equals the two BPR02s.

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
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._result import emit  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

CLINICIANS = 40
PAYER_TIN = "1512345678"
FEES = {"90834": Decimal("150.00"), "90837": Decimal("250.00"), "90785": Decimal("25.00")}
COPAY = Decimal("20.00")
CORRECTED_COPAY = Decimal("30.00")
CONTRACTUAL = Decimal("0.20")  # CO-45: the part of the charge above the payer's fee schedule
PLB = (("L6", Decimal("-12.34")), ("WO:ICN0000001", Decimal("50.00")))  # interest paid to us; a recoupment


def _check_env() -> str:
    db = os.environ.get("DATABASE_URL", "")
    if not db.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database (it is migrated and written to)")
    return db


def _x12(amount: Decimal) -> str:
    """An X12 R value: no exponent, no trailing zeros (150, 12.5, -30)."""
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _plan(count: int, rng: random.Random) -> list[tuple[str, str]]:
    """(outcome, kind) per claim; partially paid claims need two lines (one paid, one denied)."""
    plans = []
    for _ in range(count):
        roll = rng.random()
        outcome = "paid" if roll < 0.80 else "partial" if roll < 0.90 else "denied" if roll < 0.95 else "reversal"
        kind = "90837+90785" if outcome == "partial" else rng.choice(("90834", "90837+90785", "tele"))
        plans.append((outcome, kind))
    return plans


def seed(count: int, rng: random.Random, *, post_charges: str = "bulk"):
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from billing import models as m
    from billing.services_charges import charge_ledger_post
    from billing.validators import make_npi
    from clinical.models import Patient
    from practice.models import Membership, Practice, User
    from practice.permissions import Role

    tag = uuid.uuid4().hex[:6]
    practice = Practice.objects.create(name=f"Bench ERA {tag}", slug=f"bench-era-{tag}")
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
    payer = m.Payer.all_objects.create(
        practice=practice, name="Bench Health Plan", payer_id=f"7{tag[:4]}".upper(), timely_filing_days=365
    )
    today = timezone.localdate()
    patients = Patient.all_objects.bulk_create(
        [
            Patient(
                practice=practice,
                mrn=f"E{i:07d}",
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
    coverages = m.Coverage.all_objects.bulk_create(
        [
            m.Coverage(
                practice=practice,
                patient=patient,
                payer=payer,
                member_id=f"M{tag}{i:08d}",
                group_number="GRP1001",
                starts_on=date(today.year - 1, 1, 1),
                relationship="18",
            )
            for i, patient in enumerate(patients)
        ],
        batch_size=2000,
    )
    plans = _plan(count, rng)
    claims, shapes = [], []
    now = timezone.now()
    for i, (coverage, (_outcome, kind)) in enumerate(zip(coverages, plans, strict=True)):
        service_date = today - timedelta(days=rng.randint(20, 60))
        member = members[i % CLINICIANS]
        if kind == "90834":
            lines = [("90834", [], 45)]
        elif kind == "90837+90785":
            lines = [("90837", [], 55), ("90785", [], None)]
        else:
            lines = [("90834", ["95"], 45)]
        shapes.append((service_date, member, lines))
        claims.append(
            m.Claim(
                practice=practice,
                patient_id=coverage.patient_id,
                coverage=coverage,
                payer=payer,
                service_date=service_date,
                status=m.Claim.Status.SUBMITTED,
                submitted_at=now,
                control_number=f"E{tag}{i:08d}",
                rendering=member,
                place_of_service="10" if kind == "tele" else "11",
                diagnosis_codes=["F33.1", "F41.1"],
                total_cents=int(sum(FEES[cpt] for cpt, _m, _n in lines) * 100),
            )
        )
    claims = m.Claim.all_objects.bulk_create(claims, batch_size=2000)
    charges, line_rows = [], []
    for i, (claim, (service_date, member, lines)) in enumerate(zip(claims, shapes, strict=True)):
        for number, (cpt, modifiers, minutes) in enumerate(lines, start=1):
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
                    fee_cents=int(FEES[cpt] * 100),
                    idempotency_key=f"bench-era-{tag}-{i}-{number}",
                )
            )
            line_rows.append((claim, number, cpt, modifiers, minutes))
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
                charge_cents=charge.fee_cents,
                diagnosis_pointers=[1, 2] if number == 1 else [1],
                minutes=minutes,
            )
            for charge, (claim, number, cpt, modifiers, minutes) in zip(charges, line_rows, strict=True)
        ],
        batch_size=2000,
    )
    from practice.scoping import practice_scope

    t0 = time.perf_counter()
    if post_charges == "service":
        # Charges reach the ledger the way production posts them (one audited transaction each).
        from django.db import transaction

        with practice_scope(practice), transaction.atomic():
            for charge in charges:
                charge_ledger_post(charge=charge)
    else:
        # The same rows charge_ledger_post writes (Dr insurance_ar / Cr charges, key charge:<id>,
        # same dimensions), bulk-created: no audit row per transaction.
        txns = m.LedgerTransaction.all_objects.bulk_create(
            [
                m.LedgerTransaction(
                    practice=practice,
                    kind=m.LedgerTransaction.Kind.CHARGE,
                    occurred_on=charge.service_date,
                    memo=charge.cpt,
                    idempotency_key=f"charge:{charge.pk}",
                )
                for charge in charges
            ],
            batch_size=2000,
        )
        entries = []
        for txn, charge in zip(txns, charges, strict=True):
            dims = {"patient_id": charge.patient_id, "charge_id": charge.pk, "rendering_id": charge.rendering_id}
            amount = Decimal(charge.fee_cents) / 100
            for account, signed in ((m.LedgerAccount.INSURANCE_AR, amount), (m.LedgerAccount.CHARGES, -amount)):
                entries.append(
                    m.LedgerEntry(
                        practice=practice,
                        transaction=txn,
                        account=account,
                        amount=signed,
                        occurred_on=charge.service_date,
                        **dims,
                    )
                )
        m.LedgerEntry.all_objects.bulk_create(entries, batch_size=4000)
    print(
        f"posted {len(charges):,} charges to the ledger ({post_charges}) in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    return practice, claims, shapes, plans


def _paid_lines(lines, service_date, copay: Decimal, *, deny_second: bool = False):
    """SVC tuples for era_writer.clp: CO-45 on every line, the copay on the first, optional denial."""
    out, paid_total, pr_total, charge_total = [], Decimal(0), Decimal(0), Decimal(0)
    for number, (cpt, modifiers, _minutes) in enumerate(lines, start=1):
        fee = FEES[cpt]
        code = ":".join([cpt, *modifiers])
        charge_total += fee
        if deny_second and number == 2:
            out.append((code, _x12(fee), "0", service_date, [("CO", "197", _x12(fee))], ["N54"]))
            continue
        contractual = (fee * CONTRACTUAL).quantize(Decimal("0.01"))
        pr = copay if number == 1 else Decimal(0)
        paid = fee - contractual - pr
        cas = [("CO", "45", _x12(contractual))] + ([("PR", "3", _x12(pr))] if pr else [])
        out.append((code, _x12(fee), _x12(paid), service_date, cas, []))
        paid_total += paid
        pr_total += pr
    return out, charge_total, paid_total, pr_total


def _negate(lines):
    return [
        (code, _x12(-Decimal(c)), _x12(-Decimal(p)), dos, [(g, r, _x12(-Decimal(a))) for g, r, a in cas], [])
        for code, c, p, dos, cas, _rarcs in lines
    ]


def build_files(claims, shapes, plans, *, payee_npi: str, paid_on: date, tag: str):
    """(earlier 835 paying the claims to be reversed, main 835, main BPR02, earlier BPR02, CLP count)."""
    from billing.era_writer import clp, era

    earlier, main = [], []
    earlier_total = main_total = Decimal(0)
    for claim, (service_date, _member, lines), (outcome, _kind) in zip(claims, shapes, plans, strict=True):
        cn = claim.control_number
        name = (f"BENCH{claim.patient_id}", "PAT")
        if outcome == "denied":
            svc = [
                (":".join([cpt, *mods]), _x12(FEES[cpt]), "0", service_date, [("CO", "50", _x12(FEES[cpt]))], ["N115"])
                for cpt, mods, _n in lines
            ]
            total = sum(FEES[cpt] for cpt, _m, _n in lines)
            main.append(clp(cn, "1", _x12(total), "0", "", icn=f"D{cn}", lines=svc, patient=name))
            continue
        svc, charge, paid, pr = _paid_lines(lines, service_date, COPAY, deny_second=outcome == "partial")
        if outcome != "reversal":
            main.append(clp(cn, "1", _x12(charge), _x12(paid), _x12(pr), icn=f"P{cn}", lines=svc, patient=name))
            main_total += paid
            continue
        earlier.append(clp(cn, "1", _x12(charge), _x12(paid), _x12(pr), icn=f"R{cn}", lines=svc, patient=name))
        earlier_total += paid
        main.append(
            clp(cn, "22", _x12(-charge), _x12(-paid), _x12(-pr), icn=f"R{cn}", lines=_negate(svc), patient=name)
        )
        fixed, charge, paid2, pr2 = _paid_lines(lines, service_date, CORRECTED_COPAY)
        main.append(clp(cn, "1", _x12(charge), _x12(paid2), _x12(pr2), icn=f"C{cn}", lines=fixed, patient=name))
        main_total += paid2 - paid
    bpr02 = main_total - sum(amount for _r, amount in PLB)
    common = {"payer_tin": PAYER_TIN, "payee_npi": payee_npi, "payee_tin": "371234567"}
    earlier_text = (
        era(earlier, _x12(earlier_total), trace=f"EFT{tag}A", paid_on=paid_on - timedelta(days=14), **common)
        if earlier
        else ""
    )
    # One PLB segment carries both adjustments (pyx12's 835 map allows one PLB loop; a PLB holds up
    # to six reason/amount pairs), so the pairs are joined into era_writer's single (reason, amount).
    *head, (last_reason, last_amount) = PLB
    pairs = "".join(f"{reason}*{_x12(amount)}*" for reason, amount in head) + last_reason
    main_text = era(main, _x12(bpr02), trace=f"EFT{tag}B", plb=[(pairs, _x12(last_amount))], paid_on=paid_on, **common)
    return earlier_text, main_text, bpr02, earlier_total, len(main)


def _rate(count: int, seconds: float, unit: str) -> str:
    return f"{seconds:8.2f} s  {count / seconds:9.1f} {unit}/second" if seconds else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--post-charges",
        choices=("bulk", "service"),
        default="bulk",
        help="charges to the ledger: bulk-created rows (default) or charge_ledger_post one by one (~10/s here)",
    )
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the timed import to FILE")
    args = parser.parse_args()
    _check_env()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from billing import models as m
    from billing.ledger import balance, trial_balance
    from billing.services_remittance import remittance_import
    from practice.scoping import practice_scope

    call_command("migrate", verbosity=0)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    practice, claims, shapes, plans = seed(args.claims, rng, post_charges=args.post_charges)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    line_count = sum(len(lines) for _d, _m, lines in shapes)
    print(f"seeded {len(claims):,} claims / {line_count:,} lines in {time.perf_counter() - started:.1f} s")

    tag = practice.slug.rsplit("-", 1)[-1].upper()
    earlier_text, text, bpr02, earlier_bpr02, clp_count = build_files(
        claims, shapes, plans, payee_npi="1234567893", paid_on=timezone.localdate(), tag=tag
    )
    expected = Counter(outcome for outcome, _kind in plans)
    print(
        f"835: {clp_count:,} CLPs, {text.count('SVC*'):,} SVCs, {text.count('~'):,} segments, "
        f"{len(text) / 1e6:.1f} MB, BPR02 {bpr02}; outcomes planned {dict(expected)}"
    )

    results: list[tuple[str, str]] = []
    with practice_scope(practice):
        if earlier_text:
            t0 = time.perf_counter()
            first = remittance_import(practice=practice, content=earlier_text, filename="earlier.835")
            assert not first.rejected, first.error
            print(
                f"earlier 835 ({expected['reversal']:,} claims, to be reversed) posted in {time.perf_counter() - t0:.1f} s"
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        statements: Counter = Counter()

        def count_statement(execute, sql, params, many, context):
            statements[sql.split(None, 1)[0].upper()] += 1
            return execute(sql, params, many, context)

        t0 = time.perf_counter()
        with connection.execute_wrapper(count_statement):
            result = remittance_import(practice=practice, content=text, filename="bench.835")
        elapsed = time.perf_counter() - t0
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        assert not result.rejected, result.error
        assert not result.duplicate
        remittance = result.remittance
        svc_posted = m.RemittanceLine.objects.filter(remittance_claim__remittance=remittance).count()
        payments = (
            m.RemittanceLine.objects.filter(remittance_claim__remittance=remittance).exclude(paid_amount=0).count()
        )
        results.append((f"remittance_import, {clp_count:,} CLPs", _rate(clp_count, elapsed, "claims")))
        results.append((f"  {svc_posted:,} service lines (SVC) posted", _rate(svc_posted, elapsed, "lines")))
        results.append((f"  {payments:,} service-line payments (SVC03 != 0)", _rate(payments, elapsed, "payments")))
        per_claim = sum(statements.values()) / clp_count
        kinds = ", ".join(f"{kind} {n / clp_count:.1f}" for kind, n in statements.most_common())
        results.append((f"  SQL statements per CLP: {per_claim:.1f} ({kinds})", ""))

        counts = (
            m.LedgerTransaction.objects.count(),
            m.RemittanceClaim.objects.count(),
            m.RemittanceLine.objects.count(),
            m.LedgerEntry.objects.count(),
        )
        t0 = time.perf_counter()
        again = remittance_import(practice=practice, content=text, filename="bench-again.835")
        dup_elapsed = time.perf_counter() - t0
        assert again.duplicate and not again.rejected, (again.duplicate, again.error)
        assert again.remittance.pk == remittance.pk
        after = (
            m.LedgerTransaction.objects.count(),
            m.RemittanceClaim.objects.count(),
            m.RemittanceLine.objects.count(),
            m.LedgerEntry.objects.count(),
        )
        assert after == counts, f"the duplicate import posted something: {counts} -> {after}"
        results.append(("same file again (duplicate, posts nothing)", _rate(clp_count, dup_elapsed, "claims")))

        # Every CLP matched its claim; every claim ended where its CLP says.
        rcs = m.RemittanceClaim.objects.filter(remittance=remittance)
        assert rcs.count() == clp_count
        assert not rcs.filter(is_matched=False).exists(), "unmatched CLPs"
        assert set(rcs.values_list("claim_id", flat=True)) == {c.pk for c in claims}
        assert not m.RemittanceLine.objects.filter(remittance_claim__remittance=remittance, claim_line=None).exists()
        outcomes = Counter(rcs.values_list("outcome", flat=True))
        status = Counter(m.Claim.objects.filter(pk__in=[c.pk for c in claims]).values_list("status", flat=True))
        S = m.Claim.Status
        assert status[S.PAID] == expected["paid"] + expected["reversal"], status
        assert status[S.PARTIALLY_PAID] == expected["partial"], status
        assert status[S.DENIED] == expected["denied"], status
        assert outcomes["reversed"] == expected["reversal"], outcomes
        assert m.DenialCase.objects.filter(remittance_claim__remittance=remittance).count() == (
            expected["partial"] + expected["denied"]
        )
        # The ledger balances; the remittance equals BPR02; cash is the two payments.
        trial = trial_balance()
        assert sum(trial.values(), Decimal(0)) == 0, trial
        paid = sum(rcs.values_list("paid_amount", flat=True), Decimal(0))
        plb = sum(remittance.provider_adjustments.values_list("amount", flat=True), Decimal(0))
        assert remittance.payment_amount == bpr02 == paid - plb, (remittance.payment_amount, bpr02, paid, plb)
        assert balance(m.LedgerAccount.CASH) == bpr02 + earlier_bpr02
        print(f"checks passed: {dict(outcomes)}; claim statuses {dict(status)}; trial balance {trial}")
        emit("remittance_835", unit="claim payment (CLP)", units=clp_count, elapsed_s=elapsed, payments=payments)

    print()
    print(f"{len(claims):,} claims ({line_count:,} lines), one 835 of {clp_count:,} CLPs, practice {practice.slug}")
    for label, value in results:
        print(f"  {label:<48} {value}")
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {connection.vendor}")


if __name__ == "__main__":
    main()
