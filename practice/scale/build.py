"""Build the scale practice (`manage.py seed_scale`): set-up through the services, volume by COPY.

Phases, each in its own transaction with one audit entry (`scale.seed.<phase>`) on the practice:

1. practice — `practice_create` (its set-up hooks: note templates, notification defaults, intake
   packet), locations through `location_save`, billing profile, payers, fee schedules, sliding
   scale, appointment types, the PHQ-9/GAD-7 protocol, portal and scheduling settings.
2. staff — users (one precomputed PBKDF2 hash), memberships, TOTP devices for MFA roles,
   rendering providers (valid NPIs), one office per clinician, weekday availability.
3. patients — patients with MRNs in the practice format (counter kept consistent), consents,
   diagnoses, primary coverage (~85 %), protocol assignments, portal accounts.
4. schedule — appointments on an hourly grid per clinician (no double booking by construction),
   one attendee each, signed notes for completed sessions in the last NOTE_DAYS days, a few drafts.
5. billing — charges posted to the ledger, claims and lines, scrub events, weekly 835 remittances
   per payer (paid / partial / denied), denial cases, patient payments; rows as the services write
   them (see billing/services_charges.py, services_remittance.py, services_patient_billing.py).
6. assessments — PHQ-9 and GAD-7 responses scored by `score_answers` at the patient's sessions,
   administrations, MeasureSummary rows consistent with them, open risk alerts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from auditlog.context import disable_auditlog
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone

from clinical.demo import FIRST as DEMO_FIRST_NAMES
from clinical.demo import LAST as DEMO_LAST_NAMES
from practice.models import AuditLogEntry, Location, Membership, Practice, User
from practice.permissions import Role
from practice.scale import (
    SCALE_NAME,
    SCALE_PASSWORD,
    SCALE_SLUG,
    SCALE_TOTP_KEY,
    STAFF_DOMAIN,
    TOTP_DEVICE_NAME,
    clinician_email,
    patient_email,
)
from practice.scale.writer import BulkWriter, money_str
from practice.scoping import practice_scope, scopes_disabled

TIMEZONE = "America/Denver"
NOTE_DAYS = 90  # signed notes only for recent sessions, to bound the size of the note table
SLOT_HOURS = (8, 9, 10, 11, 13, 14, 15, 16)  # local start times; lunch at noon
SESSIONS_PER_WEEK = 31.25  # booked slots per clinician-week (about 26 completed)
TARGETS = {"clinicians": 200, "patients": 20_000, "appointments": 1_000_000, "responses": 400_000, "claims": 500_000}

LOCATIONS = (
    ("Denver — Cherry Creek", "3200 E 1st Ave", "Suite 300", "Denver", "CO", "80206", "(303) 555-0140"),
    ("Boulder", "1800 Broadway", "Suite 210", "Boulder", "CO", "80302", "(303) 555-0141"),
    ("Colorado Springs", "102 S Tejon St", "Suite 500", "Colorado Springs", "CO", "80903", "(719) 555-0142"),
    ("Fort Collins", "215 W Oak St", "Suite 120", "Fort Collins", "CO", "80521", "(970) 555-0143"),
    ("Aurora", "14200 E Alameda Ave", "Suite 240", "Aurora", "CO", "80012", "(303) 555-0144"),
)
# (name, payer id, SBR09, timely filing days, telehealth, fee factor, share of covered patients, copay cents)
PAYERS = (
    ("Anthem Blue Cross Blue Shield", "00050", "BL", 180, "office_95", 1.00, 26, 3000),
    ("UnitedHealthcare", "87726", "CI", 90, "office_95", 1.05, 18, 4000),
    ("Aetna", "60054", "CI", 120, "office_95", 1.02, 12, 3500),
    ("Cigna Behavioral Health", "62308", "CI", 90, "office_95", 0.98, 9, 2500),
    ("Kaiser Permanente Colorado", "91617", "HM", 365, "office_95", 0.95, 7, 2000),
    ("Medicare Part B (Novitas)", "04412", "MB", 365, "cms", 0.80, 14, 0),
    ("Health First Colorado (Medicaid)", "COMCD", "MC", 365, "cms", 0.65, 14, 0),
)
MEDICARE_COINSURANCE = Decimal("0.20")
# (key, name, minutes, CPT, weight) — individual sessions; intakes are booked for a first visit.
TYPES = (
    ("intake", "Intake assessment", 60, "90791", 0),
    ("therapy53", "Individual therapy (53 min)", 53, "90837", 38),
    ("therapy45", "Individual therapy (45 min)", 45, "90834", 46),
    ("therapy30", "Individual therapy (30 min)", 30, "90832", 8),
    ("family", "Family therapy (50 min)", 50, "90847", 8),
)
TITLES = ("LCSW", "LPC", "LPC", "LMFT", "PsyD", "PhD", "LCSW", "LPC", "PMHNP-BC", "LCSW")
DIAGNOSES = ("F32.1", "F33.1", "F41.1", "F43.10", "F43.23", "F32.0", "F33.0", "F41.0", "F43.22", "F90.0")
DIAGNOSIS_WEIGHTS = (16, 14, 20, 8, 12, 6, 6, 6, 7, 5)
MEASURED_PREFIXES = ("F32", "F33", "F41")  # the protocol's audience
# The demo's names and more: 20,000 patients want a wider spread.
FIRST_NAMES = [
    *DEMO_FIRST_NAMES,
    "Grace",
    "Daniel",
    "Chloe",
    "Samuel",
    "Layla",
    "Henry",
    "Riley",
    "Owen",
    "Nova",
    "Caleb",
    "Stella",
    "Isaac",
    "Aurora",
    "Wyatt",
    "Violet",
    "Julian",
    "Hannah",
    "Adrian",
    "Lily",
    "Aaron",
    "Naomi",
    "Xavier",
    "Aaliyah",
    "Diego",
    "Leah",
    "Marcus",
    "Priya",
    "Tomas",
    "Yara",
    "Andre",
    "Keiko",
    "Rafael",
    "Sienna",
]
LAST_NAMES = [
    *DEMO_LAST_NAMES,
    "Anderson",
    "Baker",
    "Carter",
    "Davis",
    "Edwards",
    "Fischer",
    "Gonzalez",
    "Hughes",
    "Ito",
    "Jensen",
    "Kim",
    "Lopez",
    "Martin",
    "Nakamura",
    "Olsen",
    "Price",
    "Reyes",
    "Sullivan",
    "Torres",
    "Walsh",
    "Young",
    "Bennett",
    "Coleman",
    "Delgado",
    "Foster",
    "Greene",
    "Howard",
    "Ortiz",
    "Romero",
    "Shah",
    "Tran",
    "Vega",
    "Wallace",
]
STREETS = ("Colfax Ave", "Pearl St", "Speer Blvd", "Federal Blvd", "Broadway", "Cherry St", "Elm Ct", "Aspen Way")


@dataclass(frozen=True)
class Plan:
    """How many of everything a fraction of the full data set means."""

    fraction: float
    clinicians: int
    locations: int
    patients: int
    appointments: int
    weeks_back: int
    weeks_ahead: int
    claims: int
    responses: int
    portal_patients: int
    front_desk: int
    billers: int
    supervisors: int

    @classmethod
    def for_fraction(cls, fraction: float) -> Plan:
        clinicians = max(10, round(TARGETS["clinicians"] * fraction))
        patients = max(4 * clinicians, round(TARGETS["patients"] * fraction))
        appointments = max(round(12 * SESSIONS_PER_WEEK * clinicians), round(TARGETS["appointments"] * fraction))
        weeks = max(12, round(appointments / (clinicians * SESSIONS_PER_WEEK)))
        ahead = max(1, round(weeks / 40))
        return cls(
            fraction=fraction,
            clinicians=clinicians,
            locations=min(len(LOCATIONS), max(1, clinicians // 4)),
            patients=patients,
            appointments=appointments,
            weeks_back=weeks - ahead,
            weeks_ahead=ahead,
            claims=max(appointments // 2, round(TARGETS["claims"] * fraction)),
            responses=max(100, round(TARGETS["responses"] * fraction)),
            portal_patients=min(patients, max(5, round(500 * min(1.0, fraction * 10)))),
            front_desk=max(2, min(10, clinicians // 20)),
            billers=max(1, min(5, clinicians // 40)),
            supervisors=max(1, clinicians // 20),
        )


@dataclass
class Clinician:
    membership_id: int
    user_id: int
    location_index: int
    room_id: int
    name: str
    patients: list[int] = field(default_factory=list)  # patient indexes


@dataclass
class PatientRow:
    id: int
    clinician: int  # index into World.clinicians
    dx: str
    name: str
    coverage_id: int | None = None
    payer: int | None = None  # index into World.payers
    copay_cents: int = 0
    sessions: list[tuple[int, datetime]] = field(default_factory=list)  # completed (appointment id, start)


@dataclass
class World:
    """What later phases need from earlier ones (ids and compact tuples, no model instances)."""

    plan: Plan
    rng: random.Random
    now: datetime
    practice: Practice | None = None
    owner: Membership | None = None
    locations: list[tuple[int, str, str]] = field(default_factory=list)  # (id, name, zone)
    payers: list[dict[str, Any]] = field(default_factory=list)
    types: dict[str, dict[str, Any]] = field(default_factory=dict)
    fees: dict[tuple[int | None, str], int] = field(default_factory=dict)  # (payer index|None, cpt) -> cents
    templates: dict[str, tuple[int, list[str]]] = field(default_factory=dict)  # kind -> (id, section keys)
    protocol_id: int | None = None
    clinicians: list[Clinician] = field(default_factory=list)
    front_desk: list[int] = field(default_factory=list)
    billers: list[int] = field(default_factory=list)
    patients: list[PatientRow] = field(default_factory=list)
    assignments: dict[int, int] = field(default_factory=dict)  # patient id -> protocol assignment id
    billable: list[tuple] = field(default_factory=list)  # completed sessions that can be charged
    writer: BulkWriter | None = None


@dataclass
class PhaseTiming:
    name: str
    seconds: float
    rows: int


class ScaleSeedError(Exception):
    pass


def password_hash() -> str:
    return make_password(SCALE_PASSWORD)


# --- Driver ---------------------------------------------------------------------------------------


def build_scale(
    *, fraction: float, seed: int = 2026, report: Callable[[PhaseTiming], None] | None = None
) -> tuple[World, list[PhaseTiming]]:
    """Build the scale practice. Refuses when it exists (drop the database to start again)."""
    with scopes_disabled():
        if Practice.objects.filter(slug=SCALE_SLUG).exists():
            raise ScaleSeedError(
                f"The '{SCALE_SLUG}' practice exists already. Build into a fresh database "
                "(dropdb/createdb + migrate): deleting a million audited, PROTECTed rows is slower than that."
            )
        if User.objects.filter(email__endswith=f"@{STAFF_DOMAIN}").exists():
            raise ScaleSeedError(f"Accounts @{STAFF_DOMAIN} exist already; use a fresh database.")
    world = World(plan=Plan.for_fraction(fraction), rng=random.Random(seed), now=timezone.now())  # noqa: S311 - synthetic data
    timings: list[PhaseTiming] = []
    phases = (
        ("practice", _phase_practice),
        ("staff", _phase_staff),
        ("patients", _phase_patients),
        ("schedule", _phase_schedule),
        ("billing", _phase_billing),
        ("assessments", _phase_assessments),
    )
    for name, phase in phases:
        started = time.perf_counter()
        before = sum(world.writer.counts.values()) if world.writer else 0
        with scopes_disabled(), transaction.atomic(), disable_auditlog():
            extra = phase(world) or 0
            assert world.writer is not None  # noqa: S101 - set by the first phase
            rows = sum(world.writer.counts.values()) - before + extra
            world.writer.reset_sequences()
            _audit(world, name, rows)
        timing = PhaseTiming(name, time.perf_counter() - started, rows)
        timings.append(timing)
        if report:
            report(timing)
    started = time.perf_counter()
    _analyze()
    timings.append(PhaseTiming("analyze", time.perf_counter() - started, 0))
    if report:
        report(timings[-1])
    return world, timings


def _audit(world: World, phase: str, rows: int) -> None:
    """One hash-chained audit entry per phase instead of one per row (bulk inserts send no signals)."""
    from practice.audit import chain_append

    practice = world.practice
    assert practice is not None  # noqa: S101
    chain_append(
        AuditLogEntry,
        {
            "practice_id": practice.pk,
            "content_type": ContentType.objects.get_for_model(Practice),
            "object_pk": str(practice.pk),
            "object_id": practice.pk,
            "object_repr": str(practice),
            "action": AuditLogEntry.Action.CREATE,
            "changes_text": f"scale.seed.{phase}: {rows} rows",
            "changes": {},
            "additional_data": {
                "event": f"scale.seed.{phase}",
                "rows": rows,
                "tables": dict(sorted(world.writer.counts.items())) if world.writer else {},
            },
        },
    )


def _analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# --- Helpers --------------------------------------------------------------------------------------


def _weighted(rng: random.Random, values: tuple, weights: tuple) -> Any:
    return rng.choices(values, weights=weights, k=1)[0]


def _npi(seed: int) -> str:
    from billing.validators import make_npi

    return make_npi(f"1{seed:08d}")


def _local(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, dtime(hour, minute), tzinfo=zone).astimezone(UTC)


# --- 1. Practice and set-up (services; a few hundred rows) -----------------------------------------


def _phase_practice(world: World) -> int:
    from assessments.models import Protocol
    from billing.demo import LIST_PRICES, TIERS, _profile, _schedule
    from billing.models import FeeScheduleEntry, Payer, SlidingScaleTier
    from clinical.models import NoteTemplate
    from portal.access import portal_settings_for
    from practice import services
    from scheduling.models import AppointmentType, SchedulingSettings

    plan = world.plan
    owner_user = User.objects.create(email=f"owner@{STAFF_DOMAIN}", full_name="Dana Whitcomb", password=password_hash())
    practice = services.practice_create(name=SCALE_NAME, owner=owner_user, slug=SCALE_SLUG, timezone_name=TIMEZONE)
    practice.phone, practice.email = "(303) 555-0140", f"frontdesk@{STAFF_DOMAIN}"
    practice.save(update_fields=["phone", "email", "updated_at"])
    world.practice = practice
    world.writer = BulkWriter(practice_id=practice.pk, now=world.now, rng=world.rng)
    with practice_scope(practice):
        owner = Membership.objects.get(user=owner_user)
        owner.title = "PsyD, Clinical Director"
        owner.save(update_fields=["title", "updated_at"])
        world.owner = owner
        for name, line1, line2, city, state, zip5, phone in LOCATIONS[: plan.locations]:
            loc = services.location_save(
                by=owner,
                name=name,
                address_line1=line1,
                address_line2=line2,
                city=city,
                state=state,
                postal_code=zip5,
                phone=phone,
                timezone=TIMEZONE,
                place_of_service=Location.PlaceOfService.OFFICE,
            )
            world.locations.append((loc.pk, name, TIMEZONE))
        _profile(practice)
        total_share = sum(p[6] for p in PAYERS)
        for index, (name, payer_id, sbr09, days, telehealth, factor, share, copay) in enumerate(PAYERS):
            payer = Payer.objects.create(
                practice=practice,
                name=name,
                payer_id=payer_id,
                filing_indicator=sbr09,
                timely_filing_days=days,
                telehealth=telehealth,
                accepted_frequency_codes=["1", "7", "8"],
                requires_supervising_provider=sbr09 == "MC",
                excluded_credentials=["LMFT"] if sbr09 == "MB" else [],
            )
            _schedule(practice, name=f"{name} contract", payer=payer, factor=factor)
            world.payers.append(
                {"id": payer.pk, "name": name, "sbr09": sbr09, "share": share / total_share, "copay": copay}
            )
            for entry in FeeScheduleEntry.objects.filter(schedule__payer=payer, modifier=""):
                world.fees[(index, entry.cpt)] = entry.amount_cents
        _schedule(practice, name="Self-pay list prices", payer=None, factor=1.0)
        for cpt, dollars in LIST_PRICES.items():
            world.fees[(None, cpt)] = dollars * 100
        for name, percent in TIERS:
            SlidingScaleTier.objects.create(practice=practice, name=name, discount_percent=percent)
        for key, name, minutes, cpt, _weight in TYPES:
            t = AppointmentType.objects.create(
                practice=practice,
                name=name,
                duration_minutes=minutes,
                default_service_code=cpt,
                new_patient_only=key == "intake",
                is_bookable_online=key in ("therapy45", "therapy53"),
            )
            world.types[key] = {"id": t.pk, "cpt": cpt, "minutes": minutes}
        SchedulingSettings.objects.get_or_create(practice=practice, defaults={"late_cancel_hours": 24})
        for t in NoteTemplate.objects.filter(is_builtin=True, kind__in=("soap", "intake")):
            world.templates[t.kind] = (t.pk, [s["key"] for s in t.sections])
        protocol = Protocol.objects.create(
            practice=practice,
            name="Measurement-based care — PHQ-9 and GAD-7 at intake and every 2nd session",
            instrument_codes=["PHQ-9", "GAD-7"],
            audience=Protocol.Audience.DIAGNOSIS,
            diagnosis_prefixes=list(MEASURED_PREFIXES),
            at_intake=True,
            every_n_sessions=2,
            created_by=owner,
        )
        world.protocol_id = protocol.pk
        settings = portal_settings_for(practice)
        settings.shared_instruments = ["PHQ-9", "GAD-7"]
        settings.save(update_fields=["shared_instruments", "updated_at"])
    return 0


# --- 2. Staff ----------------------------------------------------------------------------------------


def _phase_staff(world: World) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from billing.demo import _taxonomy
    from billing.models import RenderingProvider
    from scheduling.models import AvailabilityRule, Room

    plan, rng, w = world.plan, world.rng, world.writer
    assert w is not None and world.practice is not None and world.owner is not None  # noqa: S101
    encoded = world.owner.user.password
    people: list[tuple[str, str, str, str]] = []  # (email, name, role, title)
    for n in range(1, plan.clinicians + 1):
        role = Role.SUPERVISOR if n <= plan.supervisors else Role.CLINICIAN
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        people.append((clinician_email(n), name, role, TITLES[n % len(TITLES)]))
    for n in range(1, plan.front_desk + 1):
        people.append(
            (
                f"frontdesk{n:02d}@{STAFF_DOMAIN}",
                f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                Role.FRONT_DESK,
                "",
            )
        )
    for n in range(1, plan.billers + 1):
        people.append(
            (f"biller{n:02d}@{STAFF_DOMAIN}", f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", Role.BILLER, "CPC")
        )
    people.append((f"admin@{STAFF_DOMAIN}", "Morgan Ellery", Role.ADMIN, "Practice Manager"))

    user_ids = w.ids(User, len(people))
    w.write(
        User,
        ["id", "public_id", "email", "full_name", "password", "is_active", "is_staff", "is_superuser", "date_joined"],
        (
            (uid, w.public_id(), email, name, encoded, True, False, False, world.now)
            for uid, (email, name, _r, _t) in zip(user_ids, people, strict=True)
        ),
    )
    member_ids = w.ids(Membership, len(people))
    w.write(
        Membership,
        ["id", "user_id", "role", "is_active", "is_licensed", "supervisor_id", "title", "deactivated_at"],
        (
            (mid, uid, role, True, True, None, title, None)
            for mid, uid, (_e, _n, role, title) in zip(member_ids, user_ids, people, strict=True)
        ),
    )
    mfa_users = [world.owner.user_id] + [
        uid for uid, (_e, _n, role, _t) in zip(user_ids, people, strict=True) if role in (Role.ADMIN, Role.BILLER)
    ]
    TOTPDevice.objects.bulk_create(
        [TOTPDevice(user_id=uid, name=TOTP_DEVICE_NAME, key=SCALE_TOTP_KEY, confirmed=True) for uid in mfa_users]
    )
    w.counts["otp_totp.TOTPDevice"] = len(mfa_users)

    room_ids = w.ids(Room, plan.clinicians)
    providers, rooms, rules = [], [], []
    for i in range(plan.clinicians):
        _email, name, role, title = people[i]
        loc_index = i % len(world.locations)
        world.clinicians.append(Clinician(member_ids[i], user_ids[i], loc_index, room_ids[i], name))
        taxonomy, prescriber, credential = _taxonomy(title)
        first, last = name.split(" ", 1)
        providers.append(
            (
                w.next_id(RenderingProvider),
                member_ids[i],
                _npi(10_000_000 + i),
                taxonomy,
                credential,
                prescriber,
                first,
                last,
            )
        )
        rooms.append((room_ids[i], world.locations[loc_index][0], f"Office {100 + i}", 2, True))
        start_on = (world.now - timedelta(weeks=plan.weeks_back + 1)).date()
        for weekday in range(5):
            rules.append(
                (
                    w.next_id(AvailabilityRule),
                    member_ids[i],
                    world.locations[loc_index][0],
                    weekday,
                    dtime(8),
                    dtime(17),
                    start_on,
                    None,
                )
            )
    w.write(
        RenderingProvider,
        ["id", "membership_id", "npi", "taxonomy", "credential", "is_prescriber", "first_name", "last_name"],
        providers,
    )
    w.write(Room, ["id", "location_id", "name", "capacity", "is_active"], rooms)
    w.write(
        AvailabilityRule,
        ["id", "clinician_id", "location_id", "weekday", "start_time", "end_time", "valid_from", "valid_until"],
        rules,
    )
    offset = plan.clinicians
    world.front_desk = list(member_ids[offset : offset + plan.front_desk])
    world.billers = list(member_ids[offset + plan.front_desk : offset + plan.front_desk + plan.billers])


# --- 3. Patients ------------------------------------------------------------------------------------


def _phase_patients(world: World) -> None:
    from assessments.models import ProtocolAssignment
    from billing.models import Coverage, PatientBillingSettings
    from clinical.models import CommunicationConsent, Diagnosis, DiagnosisCode, MrnCounter, Patient
    from portal.models import PortalAccess

    plan, rng, w = world.plan, world.rng, world.writer
    assert w is not None and world.owner is not None  # noqa: S101
    today = world.now.date()
    codes = dict(DiagnosisCode.objects.filter(code__in=DIAGNOSES).values_list("code", "pk"))
    patient_ids = w.ids(Patient, plan.patients)
    desk = world.front_desk or [world.owner.pk]
    rows, consents, diagnoses, coverages, billing_settings, assignments = [], [], [], [], [], []
    payer_weights = [p["share"] for p in world.payers]
    for n, pid in enumerate(patient_ids, start=1):
        clinician = (n - 1) % plan.clinicians
        world.clinicians[clinician].patients.append(n - 1)
        sex = "female" if rng.random() < 0.6 else "male"
        first, middle, last = rng.choice(FIRST_NAMES), rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        age = rng.choice((rng.randint(8, 17), rng.randint(18, 44), rng.randint(18, 44), rng.randint(45, 80)))
        dob = today - timedelta(days=age * 365 + rng.randint(0, 364))
        phone = f"(303) 555-{rng.randint(0, 9999):04d}"
        email = (
            patient_email(n)
            if n <= plan.portal_patients
            else f"{first}.{last}{n}@mail.example".lower().replace("'", "")
        )
        minor = age < 18
        rows.append(
            (
                pid,
                f"P{n:06d}",
                first,
                middle,
                last,
                "",
                "she/her" if sex == "female" else "he/him",
                dob,
                sex,
                "Woman" if sex == "female" else "Man",
                f"{rng.randint(100, 9999)} {rng.choice(STREETS)}",
                "",
                LOCATIONS[world.clinicians[clinician].location_index][3],
                "CO",
                f"80{rng.randint(100, 999)}",
                phone,
                "".join(c for c in phone if c.isdigit()),
                email,
                f"{rng.choice(FIRST_NAMES)} {last}",
                f"(303) 555-{rng.randint(0, 9999):04d}",
                "Spouse" if not minor else "Parent",
                f"{rng.choice(FIRST_NAMES)} {last}" if minor else "",
                phone if minor else "",
                "",
                "Mother" if minor else "",
                world.clinicians[clinician].membership_id,
                "active",
                world.now,
                "",
                f"{first} {middle} {last}".lower(),
            )
        )
        dx = _weighted(rng, DIAGNOSES, DIAGNOSIS_WEIGHTS)
        patient = PatientRow(id=pid, clinician=clinician, dx=dx, name=f"{first} {last}")
        world.patients.append(patient)
        recorded = world.now - timedelta(days=rng.randint(30, 1100))
        for channel in ("email", "sms"):
            consents.append(
                (
                    w.next_id(CommunicationConsent),
                    pid,
                    channel,
                    channel == "email" or rng.random() < 0.8,
                    recorded,
                    rng.choice(desk),
                    "staff",
                    "",
                )
            )
        onset = recorded.date() - timedelta(days=rng.randint(30, 400))
        diagnoses.append(
            (w.next_id(Diagnosis), pid, codes[dx], onset, None, True, 1, "", world.clinicians[clinician].membership_id)
        )
        if rng.random() < 0.85:
            payer_index = rng.choices(range(len(world.payers)), weights=payer_weights, k=1)[0]
            payer = world.payers[payer_index]
            patient.coverage_id, patient.payer, patient.copay_cents = w.next_id(Coverage), payer_index, payer["copay"]
            dependent = minor
            coverages.append(
                (
                    patient.coverage_id,
                    pid,
                    payer["id"],
                    "P",
                    f"{payer['sbr09']}{rng.randint(10**8, 10**9 - 1)}",
                    f"GRP{rng.randint(1000, 9999)}" if payer["sbr09"] not in ("MB", "MC") else "",
                    "",
                    "19" if dependent else "18",
                    rows[-1][21].split()[0] if dependent else "",
                    last if dependent else "",
                    dob - timedelta(days=30 * 365) if dependent else None,
                    "F" if dependent else "",
                    rows[-1][10][:55] if dependent else "",
                    rows[-1][12][:30] if dependent else "",
                    "CO" if dependent else "",
                    rows[-1][14] if dependent else "",
                    date(today.year - 4, 1, 1),
                    None,
                    payer["copay"],
                    20 if payer["sbr09"] == "MB" else 0,
                    True,
                )
            )
        else:
            billing_settings.append((w.next_id(PatientBillingSettings), pid, None, True))
        if dx.startswith(MEASURED_PREFIXES):
            aid = w.next_id(ProtocolAssignment)
            world.assignments[pid] = aid
            assignments.append((aid, world.protocol_id, pid, "active", onset, None, world.owner.pk))

    w.write(
        Patient,
        [
            "id",
            "mrn",
            "legal_first_name",
            "legal_middle_name",
            "legal_last_name",
            "preferred_name",
            "pronouns",
            "date_of_birth",
            "sex_assigned_at_birth",
            "gender_identity",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "postal_code",
            "phone",
            "phone_digits",
            "email",
            "emergency_contact_name",
            "emergency_contact_phone",
            "emergency_contact_relationship",
            "guardian_name",
            "guardian_phone",
            "guardian_email",
            "guardian_relationship",
            "primary_clinician_id",
            "status",
            "status_changed_at",
            "chart_alert",
            "search_name",
        ],
        rows,
    )
    MrnCounter.all_objects.update_or_create(practice=world.practice, defaults={"next_number": plan.patients + 1})
    w.write(
        CommunicationConsent,
        ["id", "patient_id", "channel", "is_granted", "recorded_at", "recorded_by_id", "source", "note"],
        consents,
    )
    w.write(
        Diagnosis,
        ["id", "patient_id", "code_id", "onset_on", "resolved_on", "is_primary", "rank", "notes", "added_by_id"],
        diagnoses,
    )
    w.write(
        Coverage,
        [
            "id",
            "patient_id",
            "payer_id",
            "priority",
            "member_id",
            "group_number",
            "plan_name",
            "relationship",
            "subscriber_first_name",
            "subscriber_last_name",
            "subscriber_date_of_birth",
            "subscriber_sex",
            "subscriber_address_line1",
            "subscriber_city",
            "subscriber_state",
            "subscriber_zip_code",
            "starts_on",
            "ends_on",
            "copay_cents",
            "coinsurance_percent",
            "is_active",
        ],
        coverages,
    )
    w.write(PatientBillingSettings, ["id", "patient_id", "sliding_scale_tier_id", "self_pay"], billing_settings)
    w.write(
        ProtocolAssignment,
        ["id", "protocol_id", "patient_id", "status", "started_on", "ended_at", "assigned_by_id"],
        assignments,
    )
    portal_user_ids = w.ids(User, plan.portal_patients)
    w.write(
        User,
        ["id", "public_id", "email", "full_name", "password", "is_active", "is_staff", "is_superuser", "date_joined"],
        (
            (
                uid,
                w.public_id(),
                patient_email(n),
                world.patients[n - 1].name,
                world.owner.user.password,
                True,
                False,
                False,
                world.now,
            )
            for n, uid in enumerate(portal_user_ids, start=1)
        ),
    )
    w.write(
        PortalAccess,
        ["id", "user_id", "patient_id", "relationship", "is_active", "granted_at", "revoked_at", "revoked_by_id"],
        (
            (w.next_id(PortalAccess), uid, world.patients[n].id, "self", True, world.now, None, None)
            for n, uid in enumerate(portal_user_ids)
        ),
    )


# --- 4. Schedule and notes --------------------------------------------------------------------------


def _phase_schedule(world: World) -> None:
    from clinical.models import ProgressNote
    from scheduling.models import Appointment, Attendee

    plan, rng, w = world.plan, world.rng, world.writer
    assert w is not None  # noqa: S101
    zone = ZoneInfo(TIMEZONE)
    today = world.now.astimezone(zone).date()
    first_day = today - timedelta(days=today.weekday()) - timedelta(weeks=plan.weeks_back)
    last_day = today - timedelta(days=today.weekday()) + timedelta(weeks=plan.weeks_ahead, days=4)
    days = [first_day + timedelta(days=d) for d in range((last_day - first_day).days + 1)]
    days = [d for d in days if d.weekday() < 5]
    slots = [(d, h) for d in days for h in SLOT_HOURS]
    note_since = world.now - timedelta(days=NOTE_DAYS)
    draft_since = world.now - timedelta(days=2)
    desk = world.front_desk or [world.owner.pk]
    type_keys = tuple(t[0] for t in TYPES if t[4])
    type_weights = tuple(t[4] for t in TYPES if t[4])
    soap_id, soap_keys = world.templates["soap"]
    intake_id, intake_keys = world.templates.get("intake", world.templates["soap"])
    per_clinician = [plan.appointments // plan.clinicians] * plan.clinicians
    for i in range(plan.appointments % plan.clinicians):
        per_clinician[i] += 1

    appointment_columns = [
        "id",
        "clinician_id",
        "appointment_type_id",
        "location_id",
        "room_id",
        "starts_at",
        "ends_at",
        "status",
        "status_changed_at",
        "is_telehealth",
        "telehealth_url",
        "series_id",
        "occurrence_start",
        "is_exception",
        "cancel_reason",
        "fee_due",
        "admin_note",
        "ical_sequence",
        "created_by_id",
        "created_at",
    ]
    attendee_columns = [
        "id",
        "appointment_id",
        "patient_id",
        "status",
        "starts_at",
        "ends_at",
        "checked_in_at",
        "progress_note_id",
        "created_at",
    ]
    note_columns = [
        "id",
        "patient_id",
        "author_id",
        "template_id",
        "kind",
        "status",
        "session_on",
        "start_time",
        "end_time",
        "service_code",
        "modality",
        "place_of_service",
        "location_id",
        "participants",
        "content",
        "risk_ideation",
        "risk_plan",
        "risk_intent",
        "risk_means",
        "risk_protective_factors",
        "risk_level",
        "interventions",
        "plan",
        "content_hash",
        "revision",
        "signed_at",
        "cosigner_id",
        "cosigned_at",
        "created_at",
    ]
    attendee_status = {
        "completed": "attended",
        "no_show": "no_show",
        "late_cancelled": "late_cancelled",
        "cancelled": "cancelled",
        "scheduled": "expected",
        "confirmed": "confirmed",
    }

    def generate():
        appointments, attendees, notes = [], [], []
        for ci, clinician in enumerate(world.clinicians):
            location_id = world.locations[clinician.location_index][0]
            chosen = sorted(rng.sample(range(len(slots)), min(len(slots), per_clinician[ci])))
            seen: set[int] = set()
            caseload = clinician.patients
            for slot_index in chosen:
                day, hour = slots[slot_index]
                p_index = rng.choice(caseload)
                patient = world.patients[p_index]
                key = "intake" if patient.id not in seen else _weighted(rng, type_keys, type_weights)
                seen.add(patient.id)
                kind = world.types[key]
                starts = _local(day, hour, 0, zone)
                ends = starts + timedelta(minutes=kind["minutes"])
                telehealth = key != "intake" and rng.random() < 0.25
                if ends <= world.now:
                    roll = rng.random()
                    status = (
                        "completed"
                        if roll < 0.85
                        else "no_show"
                        if roll < 0.89
                        else "late_cancelled"
                        if roll < 0.93
                        else "cancelled"
                    )
                else:
                    status = (
                        "confirmed" if starts - world.now < timedelta(days=2) and rng.random() < 0.6 else "scheduled"
                    )
                created = min(world.now, starts - timedelta(days=rng.randint(2, 28)))
                changed = {
                    "completed": ends,
                    "cancelled": starts - timedelta(days=2),
                    "late_cancelled": starts - timedelta(hours=6),
                    "no_show": starts + timedelta(minutes=15),
                }.get(status, created)
                aid, tid = w.next_id(Appointment), w.next_id(Attendee)
                appointments.append(
                    (
                        aid,
                        clinician.membership_id,
                        kind["id"],
                        location_id,
                        None if telehealth else clinician.room_id,
                        starts,
                        ends,
                        status,
                        changed,
                        telehealth,
                        f"https://meet.scale.tend.example/{aid}" if telehealth else "",
                        None,
                        None,
                        False,
                        "Patient request" if status == "cancelled" else "",
                        False,
                        "",
                        0,
                        rng.choice(desk),
                        created,
                    )
                )
                note_id = None
                if status == "completed":
                    patient.sessions.append((aid, starts))
                    if starts >= note_since and not (starts >= draft_since and rng.random() < 0.15):
                        note_id = w.next_id(ProgressNote)
                        notes.append(
                            _note_row(
                                world,
                                note_id,
                                patient,
                                clinician,
                                key,
                                kind,
                                starts,
                                ends,
                                telehealth,
                                location_id,
                                intake_id if key == "intake" else soap_id,
                                intake_keys if key == "intake" else soap_keys,
                                signed=True,
                            )
                        )
                    elif starts >= draft_since:
                        draft_id = w.next_id(ProgressNote)
                        notes.append(
                            _note_row(
                                world,
                                draft_id,
                                patient,
                                clinician,
                                key,
                                kind,
                                starts,
                                ends,
                                telehealth,
                                location_id,
                                soap_id,
                                soap_keys,
                                signed=False,
                            )
                        )
                        note_id = draft_id
                    if starts < note_since or (note_id is not None and notes[-1][5] == "signed"):
                        world.billable.append(
                            (starts, aid, tid, p_index, ci, key, telehealth, note_id if starts >= note_since else None)
                        )
                attendees.append(
                    (
                        tid,
                        aid,
                        patient.id,
                        attendee_status[status],
                        starts,
                        ends,
                        starts - timedelta(minutes=7) if status == "completed" else None,
                        note_id,
                        created,
                    )
                )
            if len(appointments) >= 50_000:
                yield appointments, attendees, notes
                appointments, attendees, notes = [], [], []
        yield appointments, attendees, notes

    for appointments, attendees, notes in generate():
        w.write(Appointment, appointment_columns, appointments)
        w.write(ProgressNote, note_columns, notes)
        w.write(Attendee, attendee_columns, attendees)
    world.billable.sort()


def _note_row(
    world,
    note_id,
    patient,
    clinician,
    key,
    kind,
    starts,
    ends,
    telehealth,
    location_id,
    template_id,
    section_keys,
    *,
    signed,
):
    from clinical.models import ProgressNote

    zone = ZoneInfo(TIMEZONE)
    local_start, local_end = starts.astimezone(zone), ends.astimezone(zone)
    content = (
        {k: f"Session {local_start:%b %d}: {k} documented." for k in section_keys}
        if signed
        else {section_keys[0]: "Draft"}
    )
    signed_at = min(world.now, ends + timedelta(minutes=world.rng.randint(10, 600))) if signed else None
    values = {
        "patient_id": patient.id,
        "author_id": clinician.membership_id,
        "template_id": template_id,
        "kind": "intake" if key == "intake" else "soap",
        "session_on": local_start.date(),
        "start_time": local_start.time().replace(tzinfo=None),
        "end_time": local_end.time().replace(tzinfo=None),
        "service_code": kind["cpt"],
        "modality": "telehealth" if telehealth else "in_person",
        "place_of_service": "10" if telehealth else "11",
        "location_id": location_id,
        "participants": "Patient and family" if key == "family" else "Patient",
        "content": content,
        "risk_ideation": "none" if signed else "",
        "risk_plan": None,
        "risk_intent": None,
        "risk_means": None,
        "risk_protective_factors": "Engaged in treatment; supportive family." if signed else "",
        "risk_level": "low" if signed else "",
        "interventions": ["Cognitive behavioural therapy (CBT)"] if signed else [],
        "plan": "Continue weekly sessions." if signed else "",
        "signed_at": signed_at,
    }
    content_hash = ProgressNote(**values).compute_content_hash() if signed else ""
    return (
        note_id,
        values["patient_id"],
        values["author_id"],
        template_id,
        values["kind"],
        "signed" if signed else "draft",
        values["session_on"],
        values["start_time"],
        values["end_time"],
        values["service_code"],
        values["modality"],
        values["place_of_service"],
        location_id,
        values["participants"],
        content,
        values["risk_ideation"],
        None,
        None,
        None,
        values["risk_protective_factors"],
        values["risk_level"],
        values["interventions"],
        values["plan"],
        content_hash,
        1 if signed else 0,
        signed_at,
        None,
        None,
        ends,
    )


# --- 5. Billing -------------------------------------------------------------------------------------


@dataclass
class _Ledger:
    """LedgerTransaction + LedgerEntry rows, balanced per transaction (checked as they are added)."""

    world: World
    txns: list[tuple] = field(default_factory=list)
    entries: list[tuple] = field(default_factory=list)

    def post(
        self,
        *,
        kind: str,
        key: str,
        on: date,
        memo: str,
        legs: list[tuple[str, Decimal, dict]],
        by: int | None = None,
        created: datetime | None = None,
    ) -> int | None:
        from billing.models import LedgerEntry, LedgerTransaction

        legs = [leg for leg in legs if leg[1] != 0]
        if not legs:
            return None
        if sum(leg[1] for leg in legs) != 0:
            raise ScaleSeedError(f"unbalanced ledger transaction {key}")
        w = self.world.writer
        tid = w.next_id(LedgerTransaction)
        self.txns.append((tid, kind, on, memo[:300], key, None, by, created or self.world.now))
        for account, amount, dims in legs:
            self.entries.append(
                (
                    w.next_id(LedgerEntry),
                    tid,
                    account,
                    amount,
                    on,
                    dims.get("patient_id"),
                    dims.get("payer_id"),
                    dims.get("claim_id"),
                    dims.get("claim_line_id"),
                    dims.get("charge_id"),
                    dims.get("rendering_id"),
                    dims.get("adjustment_group", ""),
                    dims.get("adjustment_reason", ""),
                )
            )
        return tid


def _phase_billing(world: World) -> None:
    from billing.demo_remittance import ALLOWED_SHARE, PAY_LAG_DAYS, PAY_WEEKDAY
    from billing.models import (
        Charge,
        Claim,
        ClaimEvent,
        ClaimLine,
        DenialCase,
        LedgerEntry,
        LedgerTransaction,
        PatientPayment,
        PaymentAllocation,
        Remittance,
        RemittanceClaim,
        RemittanceLine,
    )

    plan, rng, w = world.plan, world.rng, world.writer
    assert w is not None and world.practice is not None  # noqa: S101
    zone = ZoneInfo(TIMEZONE)
    today = world.now.astimezone(zone).date()
    covered = [b for b in world.billable if world.patients[b[3]].coverage_id is not None]
    claimed = covered[-plan.claims :] if plan.claims < len(covered) else covered
    since = claimed[0][0] if claimed else world.now
    self_pay = [b for b in world.billable if world.patients[b[3]].coverage_id is None and b[0] >= since]
    ledger = _Ledger(world)
    charges, claims, lines, events, denials = [], [], [], [], []
    rcs, rlines, payments, allocations = [], [], [], []
    remits: dict[tuple[int, date], dict] = {}
    claim_rows: dict[int, int] = {}  # claim id -> index in `claims` (status set after the remittance)

    def charge(
        patient: PatientRow,
        clin: Clinician,
        b: tuple,
        cpt: str,
        cents: int,
        mods: list,
        minutes,
        pos: str,
        kind: str,
        on: date,
    ) -> int:
        starts, aid, tid, _p, _c, _k, _tele, note_id = b
        cid = w.next_id(Charge)
        key = f"note:{note_id}:{cpt}" if note_id else f"scale:{aid}:{cpt}"
        charges.append(
            (
                cid,
                patient.id,
                kind,
                "on_claim" if kind == "insurance" else "patient",
                patient.coverage_id,
                note_id,
                aid,
                tid,
                None,
                "note",
                on,
                cpt,
                mods,
                1,
                minutes,
                pos,
                [patient.dx],
                [1],
                clin.membership_id,
                None,
                world.locations[clin.location_index][0],
                None,
                cents,
                "" if kind == "insurance" else f"Session {cpt}",
                key,
                starts + timedelta(hours=3),
            )
        )
        account = "insurance_ar" if kind == "insurance" else "patient_ar"
        amount = money_str(cents)
        dims = {"patient_id": patient.id, "charge_id": cid, "rendering_id": clin.membership_id}
        ledger.post(
            kind="charge",
            key=f"charge:{cid}",
            on=on,
            memo=cpt,
            legs=[(account, amount, dims), ("charges", -amount, dims)],
            created=starts + timedelta(hours=3),
        )
        return cid

    for b in claimed:
        starts, _aid, _tid, p_index, c_index, key, telehealth, _note_id = b
        patient, clin = world.patients[p_index], world.clinicians[c_index]
        payer = world.payers[patient.payer]
        on = starts.astimezone(zone).date()
        cpt = world.types[key]["cpt"]
        pos = "10" if telehealth else "11"
        mods = ["95"] if telehealth else []
        minutes = world.types[key]["minutes"] if key != "intake" else None
        wanted = [(cpt, mods, minutes)]
        if key in ("therapy45", "therapy53") and rng.random() < 0.06:
            wanted.append(("90785", [], None))
        claim_id = w.next_id(Claim)
        line_rows = []
        for number, (code, m, mins) in enumerate(wanted, start=1):
            cents = world.fees.get((patient.payer, code), world.fees[(None, code)])
            cid = charge(patient, clin, b, code, cents, m, mins, pos, "insurance", on)
            line_id = w.next_id(ClaimLine)
            line_rows.append((line_id, cid, code, m, cents))
            lines.append(
                (line_id, claim_id, cid, number, on, code, m, 1, cents, "", [1], mins, starts + timedelta(days=1))
            )
        total = sum(r[4] for r in line_rows)
        created = starts + timedelta(days=1)
        submitted = starts + timedelta(days=2) if starts + timedelta(days=2) < world.now else None
        claim_rows[claim_id] = len(claims)
        claims.append(
            [
                claim_id,
                patient.id,
                patient.coverage_id,
                payer["id"],
                on,
                "submitted" if submitted else "ready",
                submitted or created,
                f"S{world.practice.pk}-{claim_id}",
                "1",
                None,
                "",
                clin.membership_id,
                None,
                world.locations[clin.location_index][0],
                pos,
                [patient.dx],
                "",
                total,
                created,
                0,
                0,
                None,
                submitted,
                "",
                created,
            ]
        )
        events.append(
            (
                w.next_id(ClaimEvent),
                claim_id,
                "draft",
                "ready",
                None,
                "system",
                "scrubbed: 0 errors, 0 warnings",
                created,
            )
        )
        # The payer's answer: weekly 835s on the payer's weekday, PAY_LAG_DAYS after the visit.
        lag = PAY_LAG_DAYS.get(payer["sbr09"], 21) + rng.randint(-3, 6)
        pay_on = on + timedelta(days=lag)
        pay_on += timedelta(days=(PAY_WEEKDAY.get(payer["sbr09"], 3) - pay_on.weekday()) % 7)
        if not submitted or pay_on >= today:
            continue
        remit = remits.setdefault(
            (patient.payer, pay_on), {"id": w.next_id(Remittance), "paid": Decimal(0), "count": 0}
        )
        remit["count"] += 1
        roll = rng.random()
        outcome = "denied" if roll < 0.06 else "partial" if roll < 0.09 and len(line_rows) > 1 else "paid"
        share = ALLOWED_SHARE.get(payer["sbr09"], Decimal("0.85"))
        rc_id = w.next_id(RemittanceClaim)
        base = {
            "patient_id": patient.id,
            "payer_id": payer["id"],
            "claim_id": claim_id,
            "rendering_id": clin.membership_id,
        }
        legs: list[tuple[str, Decimal, dict]] = []
        paid_total = pr_total = Decimal(0)
        charge_total = money_str(total)
        pr_charges: list[tuple[int, Decimal]] = []
        denial_code = rng.choice(("CO-197", "CO-16", "CO-50", "CO-29")) if outcome == "denied" else "CO-197"
        for number, (line_id, cid, code, m, cents) in enumerate(line_rows, start=1):
            fee = money_str(cents)
            denied = outcome == "denied" or (outcome == "partial" and number == 2)
            if denied:
                group, reason = denial_code.split("-")
                adjustments = [{"group": group, "reason": reason, "amount": str(fee)}]
                rlines.append(
                    (
                        w.next_id(RemittanceLine),
                        rc_id,
                        line_id,
                        code,
                        m,
                        fee,
                        Decimal("0.00"),
                        None,
                        Decimal(1),
                        on,
                        adjustments,
                        ["N54"],
                        True,
                        denial_code,
                    )
                )
                continue
            allowed = (fee * share).quantize(Decimal("0.01"))
            contractual = fee - allowed
            if number == 1 and payer["sbr09"] == "MB":
                pr = (allowed * MEDICARE_COINSURANCE).quantize(Decimal("0.01"))
            elif number == 1:
                pr = min(allowed, money_str(patient.copay_cents))
            else:
                pr = Decimal(0)
            paid = allowed - pr
            adjustments = [{"group": "CO", "reason": "45", "amount": str(contractual)}]
            if pr:
                adjustments.append({"group": "PR", "reason": "2" if payer["sbr09"] == "MB" else "3", "amount": str(pr)})
                pr_charges.append((cid, pr))
            rlines.append(
                (
                    w.next_id(RemittanceLine),
                    rc_id,
                    line_id,
                    code,
                    m,
                    fee,
                    paid,
                    allowed,
                    Decimal(1),
                    on,
                    adjustments,
                    [],
                    False,
                    "",
                )
            )
            dims = base | {"claim_line_id": line_id}
            if paid:
                legs += [("cash", paid, dims), ("insurance_ar", -paid, dims)]
            for a in adjustments:
                amount = Decimal(a["amount"])
                tagged = dims | {"adjustment_group": a["group"], "adjustment_reason": a["reason"]}
                legs += [
                    ("contractual" if a["group"] == "CO" else "patient_ar", amount, tagged),
                    ("insurance_ar", -amount, tagged),
                ]
            paid_total += paid
            pr_total += pr
        status_code = "4" if outcome == "denied" else "1"
        icn = f"{payer['sbr09']}{pay_on:%y%j}{rc_id:08d}"
        rcs.append(
            (
                rc_id,
                remit["id"],
                claim_id,
                f"S{world.practice.pk}-{claim_id}",
                status_code,
                outcome,
                charge_total,
                paid_total,
                pr_total,
                icn,
                patient.name.upper()[:120],
                on,
                [],
                [],
                True,
                None,
                None,
                datetime.combine(pay_on, dtime(15), tzinfo=UTC),
            )
        )
        remit["paid"] += paid_total
        ledger.post(
            kind="remittance",
            key=f"remittance-claim:{rc_id}",
            on=pay_on,
            memo=f"835 claim S{world.practice.pk}-{claim_id} ({outcome})",
            legs=legs,
            created=datetime.combine(pay_on, dtime(15), tzinfo=UTC),
        )
        row = claims[claim_rows[claim_id]]
        row[5], row[6], row[10] = (
            {"paid": "paid", "partial": "partial", "denied": "denied"}[outcome],
            datetime.combine(pay_on, dtime(15), tzinfo=UTC),
            icn,
        )
        if outcome in ("denied", "partial"):
            amount = charge_total if outcome == "denied" else money_str(line_rows[1][4])
            case_id = w.next_id(DenialCase)
            old = (today - pay_on).days > 120
            assignee = rng.choice(world.billers) if world.billers and (old or rng.random() < 0.5) else None
            denials.append(
                (
                    case_id,
                    claim_id,
                    rc_id,
                    denial_code,
                    amount,
                    "written_off" if old else "open",
                    assignee,
                    None,
                    "Timely appeal window passed; written off." if old else "",
                    datetime.combine(pay_on, dtime(16), tzinfo=UTC),
                )
            )
            if old:
                group, reason = denial_code.split("-")
                dims = base | {"adjustment_group": group, "adjustment_reason": reason}
                ledger.post(
                    kind="write_off",
                    key=f"denial-write-off:scale-{case_id}",
                    on=pay_on + timedelta(days=90),
                    memo=f"Denial {denial_code} written off on claim S{world.practice.pk}-{claim_id}",
                    legs=[("write_off", amount, dims), ("insurance_ar", -amount, dims)],
                    by=assignee,
                )
                if outcome == "denied":
                    row[5] = "closed"
        # Most patients pay what the payer moved to them within a few weeks.
        for cid, pr in pr_charges:
            paid_on = pay_on + timedelta(days=rng.randint(5, 30))
            if paid_on < today and rng.random() < 0.7:
                _patient_payment(world, ledger, payments, allocations, patient, clin, cid, pr, paid_on)

    for b in self_pay:
        starts, _aid, _tid, p_index, c_index, key, _tele, _note_id = b
        patient, clin = world.patients[p_index], world.clinicians[c_index]
        on = starts.astimezone(zone).date()
        cpt = world.types[key]["cpt"]
        cents = world.fees[(None, cpt)]
        cid = charge(patient, clin, b, cpt, cents, [], world.types[key]["minutes"], "11", "patient", on)
        if on < today and rng.random() < 0.9:
            _patient_payment(world, ledger, payments, allocations, patient, clin, cid, money_str(cents), on)

    remittance_rows = []
    for (payer_index, pay_on), r in remits.items():
        payer = world.payers[payer_index]
        remittance_rows.append(
            (
                r["id"],
                None,
                payer["id"],
                payer["name"][:60],
                f"1{840000000 + payer_index}",
                f"{payer['sbr09']}{pay_on:%Y%m%d}{payer_index}",
                r["paid"],
                "ACH",
                pay_on,
                "posted",
                "",
                {"claims": r["count"], "paid": str(r["paid"])},
                None,
                datetime.combine(pay_on, dtime(14), tzinfo=UTC),
            )
        )
    w.write(
        Charge,
        [
            "id",
            "patient_id",
            "kind",
            "status",
            "coverage_id",
            "note_id",
            "appointment_id",
            "attendee_id",
            "assessment_response_id",
            "source",
            "service_date",
            "cpt",
            "modifiers",
            "units",
            "minutes",
            "place_of_service",
            "diagnosis_codes",
            "diagnosis_pointers",
            "rendering_id",
            "supervising_id",
            "location_id",
            "prior_authorization_id",
            "fee_cents",
            "description",
            "idempotency_key",
            "created_at",
        ],
        charges,
    )
    w.write(
        Claim,
        [
            "id",
            "patient_id",
            "coverage_id",
            "payer_id",
            "service_date",
            "status",
            "status_changed_at",
            "control_number",
            "frequency",
            "original_id",
            "payer_claim_number",
            "rendering_id",
            "supervising_id",
            "location_id",
            "place_of_service",
            "diagnosis_codes",
            "prior_authorization_number",
            "total_cents",
            "scrubbed_at",
            "error_count",
            "warning_count",
            "claim_file_id",
            "submitted_at",
            "rejection_reason",
            "created_at",
        ],
        claims,
    )
    w.write(
        ClaimLine,
        [
            "id",
            "claim_id",
            "charge_id",
            "line_number",
            "service_date",
            "cpt",
            "modifiers",
            "units",
            "charge_cents",
            "place_of_service",
            "diagnosis_pointers",
            "minutes",
            "created_at",
        ],
        lines,
    )
    w.write(ClaimEvent, ["id", "claim_id", "from_status", "to_status", "by_id", "source", "note", "created_at"], events)
    w.write(
        Remittance,
        [
            "id",
            "inbound_file_id",
            "payer_id",
            "payer_name",
            "payer_identifier",
            "trace_number",
            "payment_amount",
            "payment_method",
            "payment_date",
            "status",
            "error",
            "summary",
            "posted_by_id",
            "created_at",
        ],
        remittance_rows,
    )
    w.write(
        RemittanceClaim,
        [
            "id",
            "remittance_id",
            "claim_id",
            "claim_control_number",
            "status_code",
            "outcome",
            "charge_amount",
            "paid_amount",
            "patient_responsibility",
            "payer_claim_number",
            "patient_name",
            "service_date",
            "adjustments",
            "remarks",
            "is_matched",
            "resolved_at",
            "resolved_by_id",
            "created_at",
        ],
        rcs,
    )
    w.write(
        RemittanceLine,
        [
            "id",
            "remittance_claim_id",
            "claim_line_id",
            "cpt",
            "modifiers",
            "charge_amount",
            "paid_amount",
            "allowed_amount",
            "units",
            "service_date",
            "adjustments",
            "remarks",
            "is_denied",
            "denial_reason",
        ],
        rlines,
    )
    w.write(
        DenialCase,
        [
            "id",
            "claim_id",
            "remittance_claim_id",
            "reason_code",
            "amount",
            "status",
            "assigned_to_id",
            "last_worked_at",
            "resolution_note",
            "created_at",
        ],
        denials,
    )
    w.write(
        LedgerTransaction,
        ["id", "kind", "occurred_on", "memo", "idempotency_key", "reverses_id", "created_by_id", "created_at"],
        ledger.txns,
    )
    w.write(
        LedgerEntry,
        [
            "id",
            "transaction_id",
            "account",
            "amount",
            "occurred_on",
            "patient_id",
            "payer_id",
            "claim_id",
            "claim_line_id",
            "charge_id",
            "rendering_id",
            "adjustment_group",
            "adjustment_reason",
        ],
        ledger.entries,
    )
    w.write(
        PatientPayment,
        [
            "id",
            "patient_id",
            "kind",
            "amount",
            "method",
            "reference",
            "received_on",
            "is_copay",
            "appointment_id",
            "recorded_by_id",
            "ledger_transaction_id",
            "note",
            "created_at",
        ],
        payments,
    )
    w.write(PaymentAllocation, ["id", "payment_id", "charge_id", "amount"], allocations)


def _patient_payment(world, ledger, payments, allocations, patient, clin, charge_id, amount, on) -> None:
    from billing.models import PatientPayment, PaymentAllocation

    w = world.writer
    pid = w.next_id(PatientPayment)
    created = datetime.combine(on, dtime(17), tzinfo=UTC)
    method = world.rng.choice(("card", "card", "card", "check", "cash"))
    txn = ledger.post(
        kind="patient_payment",
        key=f"patient_payment:{pid}",
        on=on,
        memo=f"Patient payment ({method})",
        legs=[
            ("cash", amount, {"patient_id": patient.id}),
            (
                "patient_ar",
                -amount,
                {"patient_id": patient.id, "charge_id": charge_id, "rendering_id": clin.membership_id},
            ),
        ],
        by=world.front_desk[0] if world.front_desk else None,
        created=created,
    )
    payments.append(
        (
            pid,
            patient.id,
            "payment",
            amount,
            method,
            "",
            on,
            False,
            None,
            world.front_desk[0] if world.front_desk else None,
            txn,
            "",
            created,
        )
    )
    allocations.append((w.next_id(PaymentAllocation), pid, charge_id, amount))


# --- 6. Assessments ---------------------------------------------------------------------------------


def _phase_assessments(world: World) -> None:
    from assessments.demo import _gad7, _phq9, _totals
    from assessments.library import get_instrument
    from assessments.models import Administration, MeasureSummary, Response, RiskAlert
    from assessments.outcomes import classify_change
    from assessments.scoring import score_answers
    from assessments.services_alerts import ALERT_FLAGS
    from assessments.services_alerts import _summary as alert_summary

    plan, rng, w = world.plan, world.rng, world.writer
    assert w is not None  # noqa: S101
    measured = [p for p in world.patients if p.id in world.assignments and len(p.sessions) >= 2]
    per_measure = max(2, round(plan.responses / (2 * max(1, len(measured)))))
    scored: dict[tuple, Any] = {}
    administrations, responses, summaries, alerts = [], [], [], []
    made = 0
    shapes = ("improving", "improving", "improving", "flat", "relapse")
    alert_every = max(1, len(measured) // max(1, round(300 * min(1.0, plan.fraction * 2) or 1)))
    for index, patient in enumerate(measured):
        if made >= plan.responses:
            break
        # Every 2nd session, the most recent ones (the protocol's cadence), as many as the target needs.
        points = patient.sessions[::-2][:per_measure][::-1]
        clin = world.clinicians[patient.clinician]
        location_id = world.locations[clin.location_index][0]
        risk_now = index % alert_every == 0
        for code, start, end, items in (
            ("PHQ-9", rng.randint(10, 24), None, _phq9),
            ("GAD-7", rng.randint(8, 19), None, _gad7),
        ):
            high = 27 if code == "PHQ-9" else 21
            shape = rng.choice(shapes)
            end = (
                max(0, min(high, start - rng.randint(3, 12)))
                if shape == "improving"
                else max(0, min(high, start + rng.randint(-2, 4)))
            )
            totals = _totals(
                start,
                end,
                "flat" if shape == "flat" else "relapse" if shape == "relapse" else "linear",
                len(points),
                rng,
            )
            totals = [max(0, min(high, t)) for t in totals]
            first = last = None
            for k, ((aid, at), total) in enumerate(zip(points, totals, strict=True)):
                risk = 1 if (risk_now and code == "PHQ-9" and k == len(points) - 1) else 0
                answers = items(max(total, risk), index, risk=risk) if code == "PHQ-9" else items(total, index)
                cache_key = (code, tuple(answers))
                score = scored.get(cache_key) or scored.setdefault(
                    cache_key, score_answers(code, answers, difficulty=1 if code == "PHQ-9" else None)
                )
                completed = at - timedelta(minutes=rng.randint(10, 60))  # in the waiting room, before the session
                adm_id, resp_id = w.next_id(Administration), w.next_id(Response)
                administrations.append(
                    (
                        adm_id,
                        patient.id,
                        code,
                        world.assignments[patient.id],
                        aid,
                        "every 2nd session",
                        "email",
                        "completed",
                        completed - timedelta(hours=30),
                        None,
                        completed + timedelta(hours=42),
                        completed - timedelta(hours=30),
                        completed,
                        completed,
                        None,
                        None,
                    )
                )
                responses.append(
                    (
                        resp_id,
                        patient.id,
                        adm_id,
                        code,
                        score.instrument_version,
                        answers,
                        score.difficulty,
                        "",
                        score.total,
                        score.severity or "",
                        score.severity_label,
                        sorted(score.flags),
                        score.positive_screen,
                        score.is_complete,
                        score.subscores,
                        "link",
                        None,
                        completed,
                        None,
                        "",
                        "",
                        None,
                        completed,
                    )
                )
                made += 1
                first = first or (score.total, completed)
                last = (score.total, completed, score.severity or "", score.severity_label)
                flags = sorted(set(score.flags) & ALERT_FLAGS)
                if flags:
                    summary = alert_summary(Response(instrument_code=code, answers=answers), flags)
                    alerts.append(
                        (
                            w.next_id(RiskAlert),
                            patient.id,
                            resp_id,
                            clin.membership_id,
                            flags,
                            summary,
                            "open",
                            0,
                            None,
                            None,
                            None,
                            None,
                            "",
                            "",
                            None,
                            completed,
                        )
                    )
            instrument = get_instrument(code)
            change = classify_change(code, first[0], last[0]) if len(points) > 1 else None
            summaries.append(
                (
                    w.next_id(MeasureSummary),
                    patient.id,
                    code,
                    clin.membership_id,
                    location_id,
                    patient.dx,
                    len(points),
                    first[0],
                    first[1],
                    last[0],
                    last[1],
                    last[2],
                    last[3],
                    *(
                        getattr(change, n) if change else None
                        for n in (
                            "reliable_improvement",
                            "reliable_deterioration",
                            "response",
                            "remission",
                            "recovery",
                            "reliable_recovery",
                        )
                    ),
                    None if instrument.caseness is None else first[0] >= instrument.caseness,
                )
            )
    w.write(
        Administration,
        [
            "id",
            "patient_id",
            "instrument_code",
            "assignment_id",
            "appointment_id",
            "reason",
            "channel",
            "status",
            "due_at",
            "token_hash",
            "expires_at",
            "sent_at",
            "claimed_at",
            "completed_at",
            "message_id",
            "requested_by_id",
        ],
        administrations,
    )
    w.write(
        Response,
        [
            "id",
            "patient_id",
            "administration_id",
            "instrument_code",
            "instrument_version",
            "answers",
            "difficulty",
            "sex",
            "total",
            "severity",
            "severity_label",
            "flags",
            "positive_screen",
            "is_complete",
            "subscores",
            "mode",
            "administered_by_id",
            "completed_at",
            "corrects_id",
            "correction_reason",
            "billable_cpt",
            "charge_recorded_at",
            "created_at",
        ],
        responses,
    )
    w.write(
        MeasureSummary,
        [
            "id",
            "patient_id",
            "instrument_code",
            "clinician_id",
            "location_id",
            "primary_diagnosis",
            "response_count",
            "baseline_total",
            "baseline_at",
            "latest_total",
            "latest_at",
            "latest_severity",
            "latest_severity_label",
            "reliable_improvement",
            "reliable_deterioration",
            "response",
            "remission",
            "recovery",
            "reliable_recovery",
            "at_caseness_at_baseline",
        ],
        summaries,
    )
    w.write(
        RiskAlert,
        [
            "id",
            "patient_id",
            "response_id",
            "clinician_id",
            "flags",
            "summary",
            "status",
            "escalation_level",
            "escalated_at",
            "escalated_to_id",
            "acknowledged_by_id",
            "acknowledged_at",
            "action",
            "action_note",
            "addressed_by_note_id",
            "created_at",
        ],
        alerts,
    )
