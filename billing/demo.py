"""Demo billing set-up for `seed_demo` (after the clinical and scheduling demos, inside the
practice's scope): `seed_billing_setup(practice) -> dict`.

- The billing identity (a valid NPI made with `make_npi`, TIN, the first location's address with
  ZIP+4, a PO-box pay-to address, submitter id).
- Rendering providers for the clinicians, taxonomy by credential: psychologist 103T00000X,
  social worker 1041C0700X, counselor 101YP2500X, MFT 106H00000X, psychiatric NP 363LP0808X
  (prescriber) — billing.md §2 taxonomy list.
- Four payers: a Blue Cross plan (BL), a commercial plan requiring prior authorization for 90837
  (CI), Medicare Part B with the CMS telehealth convention (MB) and a Medicaid plan requiring the
  supervising provider for pre-licensed clinicians (MC).
- A fee schedule for each payer and a self-pay schedule (every code in billing/cpt.py), and
  three sliding-scale tiers.
- Coverage for most patients: a minor as a dependent with the guardian as subscriber (2000C),
  one patient with secondary coverage, a few self-pay (some on a sliding-scale tier).
- Two prior authorizations on commercial coverage (one healthy, one with one visit left once its
  past 90837 visits are charged); other commercial patients have none (the scrubber and the
  booking warning show it).
- One eligibility check: a 270 for the dependent's coverage and a 271 answer imported.

Deterministic and idempotent: rows are found by their natural keys and never duplicated; a second
run changes nothing.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from billing.cpt import CPT_CODES
from billing.eligibility import eligibility_request, eligibility_response_import
from billing.models import (
    BillingProfile,
    Coverage,
    EligibilityCheck,
    FeeSchedule,
    FeeScheduleEntry,
    PatientBillingSettings,
    Payer,
    PriorAuthorization,
    RenderingProvider,
    SlidingScaleTier,
)
from billing.validators import make_npi
from clinical.models import Patient
from practice.models import Location, Membership, Practice
from practice.permissions import Role

CLINICAL_ROLES = (Role.OWNER, Role.CLINICIAN, Role.SUPERVISOR)

# (name, payer id, SBR09, timely filing days, telehealth, auth-required CPTs, supervising, fee factor)
PAYERS = [
    ("Blue Cross Blue Shield (demo)", "BCBSDEMO1", "BL", 180, "office_95", [], False, 1.00),
    ("Acme Health Commercial (demo)", "ACMEDEMO1", "CI", 90, "office_95", ["90837"], False, 1.10),
    ("Medicare Part B (demo MAC)", "MCAREDEMO", "MB", 365, "cms", [], False, 0.80),
    ("State Medicaid (demo)", "MCAIDDEMO", "MC", 365, "cms", [], True, 0.65),
]
# Self-pay list prices in dollars; payer schedules scale them by the payer's factor.
LIST_PRICES = {
    "90791": 220,
    "90792": 260,
    "90832": 110,
    "90834": 150,
    "90837": 200,
    "90833": 80,
    "90836": 100,
    "90838": 130,
    "90785": 25,
    "90839": 240,
    "90840": 110,
    "90846": 150,
    "90847": 160,
    "90853": 60,
    "96127": 15,
    "96130": 180,
    "96131": 150,
    "96136": 90,
    "96137": 80,
}
TIERS = [("Tier A: income under 300% FPL", 25), ("Tier B: under 200% FPL", 50), ("Tier C: under 138% FPL", 75)]
TAXONOMY_BY_CREDENTIAL = [
    (("PMHNP", "NP", "APRN"), "363LP0808X", True),  # NP, psych/mental health (prescriber)
    (("MD", "DO"), "2084P0800X", True),  # psychiatry
    (("PSYD", "PHD"), "103T00000X", False),  # psychologist
    (("LCSW", "CSWA", "LICSW", "MSW"), "1041C0700X", False),  # clinical social worker
    (("LMFT", "MFT"), "106H00000X", False),  # marriage & family therapist
    (("LPC", "LCMHC", "LMHC", "LPCC"), "101YP2500X", False),  # professional counselor
]


def _digits(seed: str, n: int) -> str:
    return str(int(hashlib.sha256(seed.encode()).hexdigest(), 16) % 10**n).zfill(n)


def _taxonomy(title: str) -> tuple[str, bool, str]:
    words = title.upper().replace("-", " ").replace(",", " ").split()
    for credentials, code, prescriber in TAXONOMY_BY_CREDENTIAL:
        if any(w in credentials for w in words):
            return code, prescriber, next(w for w in words if w in credentials)
    return "101YP2500X", False, title[:20]


def _profile(practice: Practice) -> int:
    if BillingProfile.objects.exists():
        return 0
    location = Location.objects.exclude(address_line1="").order_by("id").first()
    zip5 = ((location.postal_code if location else "") or "97205")[:5]
    BillingProfile.objects.create(
        practice=practice,
        legal_name=f"{practice.name} LLC"[:60],
        npi=make_npi("1" + _digits(f"npi:{practice.slug}", 8)),
        tin="8" + _digits(f"tin:{practice.slug}", 8),
        taxonomy="261QM0801X",  # mental health clinic (billing.md §2)
        address_line1=(location.address_line1 if location else "100 Main Street")[:55],
        city=(location.city if location else "Portland")[:30] or "Portland",
        state=(location.state if location else "OR") or "OR",
        zip_code=zip5 + "1234",
        pay_to_address_line1="PO Box 4410",
        pay_to_city=(location.city if location else "Portland")[:30] or "Portland",
        pay_to_state=(location.state if location else "OR") or "OR",
        pay_to_zip_code=zip5,
        submitter_id=practice.slug.upper()[:15],
        contact_name="Billing Office",
        contact_phone="5035550100",
    )
    return 1


def _providers(practice: Practice) -> int:
    created = 0
    members = Membership.objects.filter(is_active=True, role__in=CLINICAL_ROLES).select_related("user")
    have = set(RenderingProvider.objects.values_list("membership_id", flat=True))
    for member in members.order_by("id"):
        if member.pk in have:
            continue
        taxonomy, prescriber, credential = _taxonomy(member.title or "")
        names = (member.user.full_name or "Demo Clinician").split()
        RenderingProvider.objects.create(
            practice=practice,
            membership=member,
            npi=make_npi("1" + _digits(f"npi:{practice.slug}:{member.user.email}", 8)),
            taxonomy=taxonomy,
            credential=credential,
            is_prescriber=prescriber,
            first_name=names[0][:35],
            last_name=names[-1][:60],
        )
        created += 1
    return created


def _payers(practice: Practice) -> tuple[list[Payer], int]:
    created = 0
    payers = []
    for name, payer_id, sbr09, days, telehealth, auth_cpts, supervising, _factor in PAYERS:
        payer, made = Payer.objects.get_or_create(
            practice=practice,
            payer_id=payer_id,
            defaults={
                "name": name,
                "filing_indicator": sbr09,
                "timely_filing_days": days,
                "telehealth": telehealth,
                "auth_required_cpts": auth_cpts,
                "requires_supervising_provider": supervising,
                "accepted_frequency_codes": ["1", "7", "8"],
                "excluded_credentials": ["LMFT"] if sbr09 == "MB" else [],
            },
        )
        created += made
        payers.append(payer)
    return payers, created


def _schedule(practice: Practice, *, name: str, payer: Payer | None, factor: float) -> int:
    kind = FeeSchedule.Kind.PAYER if payer else FeeSchedule.Kind.SELF_PAY
    schedule, made = FeeSchedule.objects.get_or_create(
        practice=practice,
        name=name,
        defaults={"kind": kind, "payer": payer, "effective_from": date(timezone.localdate().year - 1, 1, 1)},
    )
    have = set(FeeScheduleEntry.objects.filter(schedule=schedule).values_list("cpt", flat=True))
    rows = [
        FeeScheduleEntry(
            practice=practice,
            schedule=schedule,
            cpt=code,
            amount_cents=round(LIST_PRICES.get(code, 120) * factor) * 100,
        )
        for code in CPT_CODES
        if code not in have
    ]
    FeeScheduleEntry.objects.bulk_create(rows)
    return int(made) + len(rows)


def _fees(practice: Practice, payers: list[Payer]) -> int:
    created = 0
    for payer, spec in zip(payers, PAYERS, strict=True):
        created += _schedule(practice, name=f"{payer.name} contract", payer=payer, factor=spec[7])
    created += _schedule(practice, name="Self-pay list prices", payer=None, factor=1.0)
    for name, percent in TIERS:
        _, made = SlidingScaleTier.objects.get_or_create(
            practice=practice, name=name, defaults={"discount_percent": percent}
        )
        created += made
    return created


def _split_name(full: str, fallback_last: str) -> tuple[str, str]:
    parts = (full or "").split()
    if not parts:
        return "Alex", fallback_last
    return parts[0], parts[-1] if len(parts) > 1 else fallback_last


def _coverages(practice: Practice, payers: list[Payer]) -> dict:
    """Coverage for most patients (deterministic by MRN order). Returns the patients by role."""
    from integrations.models import ExternalRecord

    blue, acme, medicare, medicaid = payers
    # Patients migrated by the demo's CSV import (integrations/demo_data.py) keep what the import gave them.
    imported = ExternalRecord.objects.filter(kind="patients").values("object_public_id")
    patients = list(Patient.objects.exclude(public_id__in=imported).order_by("mrn", "id"))
    covered = set(Coverage.objects.values_list("patient_id", flat=True))
    tiers = list(SlidingScaleTier.objects.order_by("discount_percent"))
    today = timezone.localdate()
    out: dict = {"created": 0, "acme": [], "dependent": None}
    minor = next((p for p in patients if p.guardian_name), None)
    for index, patient in enumerate(patients):
        age = (today - patient.date_of_birth).days // 365 if patient.date_of_birth else 40
        if patient.pk in covered:
            existing = Coverage.objects.filter(patient=patient, is_active=True, priority="P").first()
            if existing and existing.payer_id == acme.pk:
                out["acme"].append(patient)
            if existing and existing.relationship != Coverage.Relationship.SELF:
                out["dependent"] = existing
            continue
        if index % 7 == 6 and patient != minor:  # self-pay, every other one on a sliding-scale tier
            PatientBillingSettings.objects.get_or_create(
                practice=practice,
                patient=patient,
                defaults={"self_pay": True, "sliding_scale_tier": tiers[index % len(tiers)] if index % 2 else None},
            )
            continue
        payer = medicare if age >= 65 else [blue, acme, medicaid, acme, blue][index % 5]
        fields = {
            "practice": practice,
            "patient": patient,
            "payer": payer,
            "priority": Coverage.Priority.PRIMARY,
            "member_id": f"{payer.payer_id[:3]}{_digits(f'member:{practice.slug}:{patient.mrn}', 9)}",
            "group_number": "" if payer.filing_indicator in ("MB", "MC") else f"GRP{100 + index % 7}",
            "plan_name": {"BL": "PPO Blue", "CI": "Acme Choice HMO", "MB": "Part B", "MC": "Medicaid"}[
                payer.filing_indicator
            ],
            "starts_on": date(today.year - 1, 1, 1),
            "copay_cents": {"BL": 3000, "CI": 4000, "MB": 0, "MC": 0}[payer.filing_indicator],
            "coinsurance_percent": 20 if payer.filing_indicator == "MB" else 0,
        }
        if patient == minor:
            first, last = _split_name(patient.guardian_name, patient.legal_last_name)
            fields |= {
                "payer": blue,
                "member_id": f"BCB{_digits(f'member:{practice.slug}:{patient.mrn}', 9)}",
                "group_number": "GRP100",
                "plan_name": "PPO Blue (family)",
                "copay_cents": 3000,
                "coinsurance_percent": 0,
                "relationship": Coverage.Relationship.CHILD,
                "subscriber_first_name": first,
                "subscriber_last_name": last,
                "subscriber_date_of_birth": date(patient.date_of_birth.year - 30, 3, 14),
                "subscriber_sex": "F",
                "subscriber_address_line1": (patient.address_line1 or "1 Main Street")[:55],
                "subscriber_city": (patient.city or "Portland")[:30],
                "subscriber_state": patient.state or "OR",
                "subscriber_zip_code": (patient.postal_code or "97211")[:5],
            }
        coverage = Coverage.objects.create(**fields)
        out["created"] += 1
        if coverage.relationship != Coverage.Relationship.SELF:
            out["dependent"] = coverage
        if coverage.payer_id == acme.pk:
            out["acme"].append(patient)
        if index % 7 == 3 and coverage.payer_id != medicaid.pk:  # one in seven also has a secondary plan
            Coverage.objects.create(
                practice=practice,
                patient=patient,
                payer=medicaid if coverage.payer_id == medicare.pk else blue if coverage.payer_id == acme.pk else acme,
                priority=Coverage.Priority.SECONDARY,
                member_id=f"SEC{_digits(f'secondary:{practice.slug}:{patient.mrn}', 9)}",
                starts_on=date(today.year - 1, 1, 1),
            )
            out["created"] += 1
    return out


def _past_90837_visits(patient: Patient, since: date) -> int:
    from scheduling.models import Attendee

    return Attendee.objects.filter(
        patient=patient,
        status=Attendee.Status.ATTENDED,
        starts_at__date__gte=since,
        appointment__appointment_type__default_service_code="90837",
    ).count()


def _authorizations(practice: Practice, acme_patients: list[Patient]) -> int:
    """Two authorizations for 90837 on the commercial plan: one healthy, one with one visit left
    once the patient's past 90837 visits are charged. The other commercial patients have none."""
    if PriorAuthorization.objects.filter(number__startswith="DEMO-AUTH-").exists() or not acme_patients:
        return 0
    today = timezone.localdate()
    starts = today - timedelta(days=90)
    created = 0
    for number, patient in enumerate(acme_patients[:2], start=1):
        coverage = Coverage.objects.filter(patient=patient, priority="P", is_active=True).first()
        if coverage is None:
            continue
        nearly_exhausted = number == 2
        visits = _past_90837_visits(patient, starts) + 1 if nearly_exhausted else 24
        PriorAuthorization.objects.create(
            practice=practice,
            patient=patient,
            coverage=coverage,
            number=f"DEMO-AUTH-{number:03d}",
            cpt_codes=["90837", "90834"],
            visits_authorized=max(visits, 2),
            starts_on=starts,
            ends_on=starts + timedelta(days=180),
            notes="Nearly used: request more visits" if nearly_exhausted else "",
        )
        created += 1
    return created


DEMO_271 = """ISA*00*          *00*          *ZZ*{receiver:<15}*ZZ*{sender:<15}*{yymmdd}*1015*^*00501*000000901*0*T*:~
GS*HB*{receiver}*{sender}*{ymd}*1015*901*X*005010X279A1~
ST*271*0001*005010X279A1~
BHT*0022*11*{trace}*{ymd}*1015~
HL*1**20*1~
NM1*PR*2*{payer}*****PI*{payer_id}~
HL*2*1*21*1~
NM1*1P*2*{provider}*****XX*{npi}~
HL*3*2*22*1~
NM1*IL*1*{sub_last}*{sub_first}****MI*{member_id}~
HL*4*3*23*0~
TRN*2*{trace}*1{tin}~
NM1*03*1*{last}*{first}~
DMG*D8*{dob}~
EB*1*FAM*30^MH*PR*PPO BLUE~
EB*B*FAM*MH*PR**27*30*****Y~
EB*B*FAM*MH*PR**27*60*****N~
EB*A*FAM*A6*PR**27**.2****N~
EB*C*FAM*30*PR**23*1000*****Y~
EB*C*FAM*30*PR**29*420*****Y~
SE*19*0001~
GE*1*901~
IEA*1*000000901~
"""


def _eligibility(practice: Practice, dependent: Coverage | None) -> int:
    """A 270 for the dependent's coverage (else the first primary coverage) and the payer's 271."""
    if EligibilityCheck.objects.exists():
        return 0
    dependent = (
        dependent
        or Coverage.objects.filter(is_active=True, priority="P")
        .select_related("payer", "patient")
        .order_by("id")
        .first()
    )
    if dependent is None:
        return 0
    by = (
        Membership.objects.filter(is_active=True, role=Role.BILLER).order_by("id").first()
        or Membership.objects.filter(is_active=True, role=Role.OWNER).order_by("id").first()
    )
    check = eligibility_request(coverage=dependent, by=by)
    profile = BillingProfile.objects.get()
    now = timezone.localtime()
    patient = dependent.patient
    text = DEMO_271.format(
        receiver=dependent.payer.payer_id[:15],
        sender=profile.submitter_id[:15],
        yymmdd=f"{now:%y%m%d}",
        ymd=f"{now:%Y%m%d}",
        trace=check.trace_number,
        payer=dependent.payer.name.upper().replace("(", "").replace(")", "")[:60],
        payer_id=dependent.payer.payer_id,
        provider=profile.legal_name.upper()[:60],
        npi=profile.npi,
        sub_last=(dependent.subscriber_last_name or patient.legal_last_name).upper().replace("'", ""),
        sub_first=(dependent.subscriber_first_name or patient.legal_first_name).upper(),
        member_id=dependent.member_id,
        tin=profile.tin,
        last=patient.legal_last_name.upper().replace("'", ""),
        first=patient.legal_first_name.upper(),
        dob=f"{patient.date_of_birth:%Y%m%d}",
    )
    eligibility_response_import(practice_id=practice.pk, content=text, by=by)
    return 1


@transaction.atomic
def seed_billing_setup(practice: Practice) -> dict:
    """Seed the practice's billing set-up (call inside `practice_scope(practice)`). Returns counts
    of what was created this run (all zero on a second run)."""
    result = {"profile": _profile(practice), "providers": _providers(practice)}
    payers, result["payers"] = _payers(practice)
    result["fees"] = _fees(practice, payers)
    coverage = _coverages(practice, payers)
    result["coverages"] = coverage["created"]
    result["authorizations"] = _authorizations(practice, coverage["acme"])
    result["eligibility"] = _eligibility(practice, coverage["dependent"])
    result["changes"] = sum(v for v in result.values())
    return result
