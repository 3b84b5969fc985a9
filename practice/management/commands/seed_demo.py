"""Seed the demo: two practices with staff in every role, idempotently.

    python manage.py seed_demo                 # a readable table of demo logins
    python manage.py seed_demo --json          # the same, as JSON for scripts
    python manage.py seed_demo --password ...  # the shared password of every demo account

Running it twice changes nothing: every row is looked up by its natural key (practice slug,
user email, location name, invitation email) and only written when it is missing or differs.

Accounts whose role requires MFA get a confirmed TOTP device with a fixed secret derived from
their email, so the demo can be signed into; ``manage.py demo_totp_code <email>`` prints the
current code. These secrets are public: never run this command against a real deployment.

Later issues add patients, appointments, assessments and claims: each domain is one small
``_seed_<domain>()`` function called from ``handle()``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled

from practice import services
from practice.models import Invitation, Location, Membership, Practice, User
from practice.permissions import MFA_REQUIRED_ROLES, Role
from practice.scoping import practice_scope

DEFAULT_PASSWORD = "tend-demo-2026"  # noqa: S105 - a published demo password, by design
DEMO_DEVICE_NAME = "Demo authenticator"
_TOTP_SALT = b"tend-demo-totp-v1:"


# --- The demo world, as data ------------------------------------------------------------------


@dataclass(frozen=True)
class StaffSpec:
    email: str
    full_name: str
    role: str
    title: str = ""
    is_licensed: bool = True
    supervisor_email: str | None = None


@dataclass(frozen=True)
class LocationSpec:
    name: str
    address_line1: str
    city: str
    state: str
    postal_code: str
    phone: str
    timezone: str
    place_of_service: str
    address_line2: str = ""


@dataclass(frozen=True)
class PracticeSpec:
    slug: str
    name: str
    timezone: str
    phone: str
    email: str
    staff: tuple[StaffSpec, ...]  # the first is the owner
    locations: tuple[LocationSpec, ...] = ()
    pending_invitations: tuple[tuple[str, str], ...] = ()  # (email, role)


# One person works in both practices (owner of her own solo practice, clinician at Cedar),
# so switching practice can be demonstrated.
SHARED_CLINICIAN = "hannah.whitfield@maplecounseling.example"

MAPLE = PracticeSpec(
    slug="maple",
    name="Maple Counseling",
    timezone="America/New_York",
    phone="(802) 555-0142",
    email="hello@maplecounseling.example",
    staff=(StaffSpec(SHARED_CLINICIAN, "Hannah Whitfield", Role.OWNER, title="LCMHC"),),
    locations=(
        LocationSpec(
            name="Main office",
            address_line1="86 St. Paul Street",
            address_line2="Suite 2B",
            city="Burlington",
            state="VT",
            postal_code="05401",
            phone="(802) 555-0142",
            timezone="America/New_York",
            place_of_service=Location.PlaceOfService.OFFICE,
        ),
    ),
)

_CEDAR_DOMAIN = "cedarbh.example"


def _cedar(local: str) -> str:
    return f"{local}@{_CEDAR_DOMAIN}"


CEDAR = PracticeSpec(
    slug="cedar",
    name="Cedar Behavioral Health",
    timezone="America/Los_Angeles",
    phone="(503) 555-0187",
    email="frontdesk@cedarbh.example",
    staff=(
        StaffSpec(_cedar("renata.alvarez"), "Renata Alvarez", Role.OWNER, title="PsyD"),
        StaffSpec(_cedar("marcus.chen"), "Marcus Chen", Role.ADMIN, title="Practice Manager"),
        StaffSpec(_cedar("priya.raman"), "Priya Raman", Role.SUPERVISOR, title="PhD"),
        StaffSpec(_cedar("jonathan.okafor"), "Jonathan Okafor", Role.SUPERVISOR, title="LCSW"),
        StaffSpec(_cedar("elena.petrova"), "Elena Petrova", Role.CLINICIAN, title="LPC"),
        StaffSpec(_cedar("david.kim"), "David Kim", Role.CLINICIAN, title="LMFT"),
        StaffSpec(_cedar("aisha.bello"), "Aisha Bello", Role.CLINICIAN, title="LCSW"),
        StaffSpec(_cedar("samuel.ortiz"), "Samuel Ortiz", Role.CLINICIAN, title="PMHNP-BC"),
        StaffSpec(
            _cedar("grace.liu"),
            "Grace Liu",
            Role.CLINICIAN,
            title="LPC Associate",
            is_licensed=False,
            supervisor_email=_cedar("priya.raman"),
        ),
        StaffSpec(
            _cedar("tyler.brooks"),
            "Tyler Brooks",
            Role.CLINICIAN,
            title="CSWA",
            is_licensed=False,
            supervisor_email=_cedar("jonathan.okafor"),
        ),
        StaffSpec(SHARED_CLINICIAN, "Hannah Whitfield", Role.CLINICIAN, title="LCMHC"),
        StaffSpec(_cedar("maria.santos"), "Maria Santos", Role.FRONT_DESK),
        StaffSpec(_cedar("kevin.walsh"), "Kevin Walsh", Role.FRONT_DESK),
        StaffSpec(_cedar("linda.nguyen"), "Linda Nguyen", Role.BILLER, title="CPC"),
    ),
    locations=(
        LocationSpec(
            name="Downtown",
            address_line1="1020 SW Taylor Street",
            address_line2="Suite 450",
            city="Portland",
            state="OR",
            postal_code="97205",
            phone="(503) 555-0187",
            timezone="America/Los_Angeles",
            place_of_service=Location.PlaceOfService.OFFICE,
        ),
        LocationSpec(
            name="Telehealth",
            address_line1="1020 SW Taylor Street",
            address_line2="Suite 450",
            city="Portland",
            state="OR",
            postal_code="97205",
            phone="(503) 555-0188",
            timezone="America/Los_Angeles",
            place_of_service=Location.PlaceOfService.TELEHEALTH_HOME,
        ),
    ),
    pending_invitations=((_cedar("noah.fischer"), Role.CLINICIAN),),
)

PRACTICES: tuple[PracticeSpec, ...] = (MAPLE, CEDAR)


# --- Helpers ----------------------------------------------------------------------------------


def demo_totp_secret(email: str) -> bytes:
    """The fixed 20-byte TOTP secret of a demo account (public by design)."""
    return hashlib.sha256(_TOTP_SALT + email.lower().encode()).digest()[:20]


def demo_totp_base32(email: str) -> str:
    return base64.b32encode(demo_totp_secret(email)).decode().rstrip("=")


@dataclass
class SeedResult:
    password: str
    practices: list[Practice] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    mfa: dict[str, tuple[str, str]] = field(default_factory=dict)  # email -> (base32, otpauth URL)
    portal_patients: list[dict[str, Any]] = field(default_factory=list)
    questionnaire_links: list[tuple[str, str]] = field(default_factory=list)  # (practice name, /q/<token>/)
    changes: int = 0


class _Passwords:
    """All demo accounts share one password; hash it once and reuse the hash.

    PBKDF2 is deliberately slow, so checking and setting ~15 accounts one by one would take a
    noticeable while; a re-run compares hash strings and verifies each distinct hash once.
    """

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self._hash: str | None = None
        self._verified: dict[str, bool] = {}

    def matches(self, encoded: str) -> bool:
        if encoded not in self._verified:
            self._verified[encoded] = check_password(self.raw, encoded)
        if self._verified[encoded] and self._hash is None:
            self._hash = encoded
        return self._verified[encoded]

    def encoded(self) -> str:
        if self._hash is None:
            self._hash = make_password(self.raw)
            self._verified[self._hash] = True
        return self._hash


# --- Seeding, one small function per domain ---------------------------------------------------


def _seed_user(spec: StaffSpec, passwords: _Passwords, result: SeedResult) -> User:
    user = User.objects.filter(email=spec.email).first()
    if user is None:
        user = User(email=spec.email, full_name=spec.full_name, password=passwords.encoded())
        user.save()
        result.changes += 1
        return user
    dirty = []
    if user.full_name != spec.full_name:
        user.full_name = spec.full_name
        dirty.append("full_name")
    if not user.is_active:
        user.is_active = True
        dirty.append("is_active")
    if not passwords.matches(user.password):
        user.password = passwords.encoded()
        dirty.append("password")
    if dirty:
        user.save(update_fields=dirty)
        result.changes += 1
    return user


def _seed_practice(spec: PracticeSpec, owner: User, result: SeedResult) -> Practice:
    practice = Practice.objects.filter(slug=spec.slug).first()
    if practice is None:
        practice = services.practice_create(name=spec.name, owner=owner, slug=spec.slug, timezone_name=spec.timezone)
        result.changes += 1
    wanted = {"name": spec.name, "timezone": spec.timezone, "phone": spec.phone, "email": spec.email}
    dirty = [name for name, value in wanted.items() if getattr(practice, name) != value]
    if dirty:
        for name in dirty:
            setattr(practice, name, wanted[name])
        practice.full_clean()
        practice.save(update_fields=[*dirty, "updated_at"])
        result.changes += 1
    return practice


def _seed_membership(practice: Practice, spec: StaffSpec, user: User, result: SeedResult) -> Membership:
    supervisor = None
    if spec.supervisor_email:
        supervisor = Membership.objects.get(user__email=spec.supervisor_email)
    wanted = {
        "role": spec.role,
        "title": spec.title,
        "is_licensed": spec.is_licensed,
        "supervisor": supervisor,
        "is_active": True,
        "deactivated_at": None,
    }
    membership = Membership.objects.filter(user=user).first()
    if membership is None:
        membership = Membership(practice=practice, user=user, **wanted)
        membership.full_clean()
        membership.save()
        result.changes += 1
        return membership
    dirty = [name for name, value in wanted.items() if getattr(membership, name) != value]
    if dirty:
        for name in dirty:
            setattr(membership, name, wanted[name])
        membership.full_clean()
        membership.save(update_fields=[*dirty, "updated_at"])
        result.changes += 1
    return membership


def _seed_staff(practice: Practice, spec: PracticeSpec, passwords: _Passwords, result: SeedResult) -> Membership:
    """Every staff member of the practice; returns the owner's membership."""
    owner = None
    # Supervisors first, so supervisees can point at them.
    for staff in sorted(spec.staff, key=lambda s: s.supervisor_email is not None):
        user = _seed_user(staff, passwords, result)
        membership = _seed_membership(practice, staff, user, result)
        if staff.role == Role.OWNER and owner is None:
            owner = membership
    for staff in spec.staff:
        result.accounts.append(
            {
                "practice": practice.slug,
                "email": staff.email,
                "role": staff.role,
                "name": staff.full_name,
                "title": staff.title,
                "is_licensed": staff.is_licensed,
            }
        )
    assert owner is not None, f"{spec.slug} needs an owner"  # noqa: S101 - a bug in the data above
    return owner


def _seed_locations(spec: PracticeSpec, owner: Membership, result: SeedResult) -> None:
    for loc in spec.locations:
        fields = {name: getattr(loc, name) for name in LocationSpec.__dataclass_fields__}
        existing = Location.objects.filter(name=loc.name).first()
        if existing is not None and all(getattr(existing, k) == v for k, v in fields.items()):
            continue
        services.location_save(by=owner, location=existing, **fields)
        result.changes += 1


def _seed_invitations(spec: PracticeSpec, by: Membership, result: SeedResult) -> None:
    for email, role in spec.pending_invitations:
        pending = [
            inv
            for inv in Invitation.objects.filter(email=email, accepted_at__isnull=True, revoked_at__isnull=True)
            if inv.status == Invitation.Status.PENDING
        ]
        if pending or Membership.objects.filter(user__email=email).exists():
            continue
        services.invitation_create(by=by, email=email, role=role)
        result.changes += 1


def _seed_mfa(result: SeedResult) -> None:
    """A confirmed TOTP device with a known secret for every account whose role requires MFA."""
    emails = sorted({a["email"] for a in result.accounts if a["role"] in MFA_REQUIRED_ROLES})
    for email in emails:
        user = User.objects.get(email=email)
        key = demo_totp_secret(email).hex()
        device = TOTPDevice.objects.filter(user=user, name=DEMO_DEVICE_NAME).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name=DEMO_DEVICE_NAME, key=key, confirmed=True)
            result.changes += 1
        elif device.key != key or not device.confirmed:
            device.key, device.confirmed = key, True
            device.save(update_fields=["key", "confirmed"])
            result.changes += 1
        result.mfa[email] = (demo_totp_base32(email), device.config_url)


def seed(password: str, *, clinical: bool = True) -> SeedResult:
    result = SeedResult(password=password)
    passwords = _Passwords(password)
    with scopes_disabled():
        for spec in PRACTICES:
            owner_user = _seed_user(spec.staff[0], passwords, result)
            practice = _seed_practice(spec, owner_user, result)
            result.practices.append(practice)
            with practice_scope(practice):
                owner = _seed_staff(practice, spec, passwords, result)
                _seed_locations(spec, owner, result)
                _seed_invitations(spec, owner, result)
        _seed_mfa(result)
        for practice in result.practices if clinical else ():
            with practice_scope(practice):
                _seed_clinical(practice, passwords, result)
                _seed_scheduling(practice, result)
                _seed_billing_setup(practice, result)
                _seed_assessments(practice, result)
                _seed_billing_claims(practice, result)
                if practice.slug == CEDAR.slug:
                    _seed_billing_history(practice, result)
                    _seed_portal(practice, passwords, result)
                    _seed_integrations(practice, result)
    return result


def _seed_clinical(practice: Practice, passwords: _Passwords, result: SeedResult) -> None:
    from clinical.demo import seed_clinical
    from clinical.services.templates import note_templates_install_builtin

    note_templates_install_builtin(practice=practice)
    members = {m.user.email: m for m in Membership.objects.select_related("user", "supervisor").filter(is_active=True)}
    created = seed_clinical(practice=practice, password=passwords.raw, encoded_ok=passwords.matches, by_email=members)
    result.changes += created


def _seed_scheduling(practice: Practice, result: SeedResult) -> None:
    """Types, rooms, availability, a month of appointments each way, a group, the waitlist and
    reminders (scheduling/demo.py); skipped when the practice already has appointments."""
    from scheduling.demo import seed_scheduling

    result.changes += seed_scheduling(practice=practice)


def _seed_billing_setup(practice: Practice, result: SeedResult) -> None:
    """Billing identity, rendering providers, four payers with fee schedules, sliding-scale tiers,
    coverage for most patients, prior authorizations, an eligibility check (billing/demo.py).
    Before the assessments demo, so its scored questionnaires find coverage and fees for 96127."""
    from billing.demo import seed_billing_setup

    result.changes += seed_billing_setup(practice)["changes"]


def _seed_billing_claims(practice: Practice, result: SeedResult) -> None:
    """Charges from the signed notes, claims (two with scrubbing findings, some ready) and one
    exported 837 file (billing/demo_claims.py); idempotent."""
    from billing.demo_claims import seed_billing_claims

    result.changes += sum(seed_billing_claims(practice).values())


def _seed_billing_history(practice: Practice, result: SeedResult) -> None:
    """Months of 837 batches and posted 835s, two denials, a reversal, patient payments and a
    statement (billing/demo_remittance.py); Cedar only (each X12 file costs pyx12 ~0.5 s);
    skipped when the practice has remittances."""
    from billing.demo_remittance import seed_billing_history

    counts = seed_billing_history(practice)
    result.changes += sum(counts.values())
    if counts["remittances"]:
        sys.stderr.write(
            f"{practice.name}: {counts['submitted']} claims sent in {counts['files_837']} 837 files, "
            f"{counts['remittances']} 835s posted ({counts['claims_paid']} paid, {counts['denials']} denied, "
            f"{counts['reversals']} reversed, {counts['unanswered']} unanswered), "
            f"{counts['patient_payments']} patient payments, {counts['statements']} statement.\n"
        )


def _seed_portal(practice: Practice, passwords: _Passwords, result: SeedResult) -> None:
    """One patient of Elena Petrova with a portal login (the shared demo password), a completed and
    accepted intake, messages both ways, a due PHQ-9 and a statement (portal/demo.py); Cedar only,
    after the billing history; skipped when the demo patient already has a portal account."""
    from portal.demo import seed_portal

    seeded = seed_portal(practice, password=passwords.raw, encoded_password=passwords.encoded())
    result.changes += seeded["changes"]
    result.portal_patients += seeded["patients"]
    for login in seeded["patients"]:  # a re-run with another --password updates the patient's too
        user = User.objects.get(email=login["email"])
        if not passwords.matches(user.password):
            User.objects.filter(pk=user.pk).update(password=passwords.encoded())
            result.changes += 1


def _seed_integrations(practice: Practice, result: SeedResult) -> None:
    """Cedar's integrations: a read-only API key (its raw value is never printed), a switched-off
    webhook endpoint with a delivery log, the sample CSVs imported through the real import and one
    full export waiting for the owner (integrations/demo_*.py); each skipped when already there."""
    from integrations.demo_data import seed_data_demo
    from integrations.demo_keys import seed_api_keys
    from integrations.demo_webhooks import seed_webhooks
    from integrations.models import ApiKey, ExportJob

    members = Membership.objects.filter(practice=practice, is_active=True).order_by("pk")
    owner = members.filter(role=Role.OWNER).first()
    admin = members.filter(role=Role.ADMIN).first() or owner
    if owner is None:
        return
    had_key, had_export = ApiKey.objects.exists(), ExportJob.objects.exists()
    seed_api_keys(practice, admin)
    result.changes += seed_webhooks(practice, admin)
    seed_data_demo(admin=admin, owner=owner)
    result.changes += (not had_key) + (not had_export)


def _seed_assessments(practice: Practice, result: SeedResult) -> None:
    """A PHQ-9/GAD-7 protocol in force, months of scored history, one open risk alert and a few
    open questionnaire links (assessments/demo.py); skipped when the practice has responses."""
    from assessments.demo import demo_questionnaire_path, seed_assessments

    result.changes += seed_assessments(practice=practice)
    path = demo_questionnaire_path(practice)
    if path:
        result.questionnaire_links.append((practice.name, path))


# --- Output -----------------------------------------------------------------------------------


def result_as_json(result: SeedResult) -> dict[str, Any]:
    return {
        "password": result.password,
        "practices": [{"slug": p.slug, "name": p.name} for p in result.practices],
        "accounts": [
            {
                "practice": a["practice"],
                "email": a["email"],
                "role": a["role"],
                "mfa_secret": result.mfa[a["email"]][0] if a["email"] in result.mfa else None,
                "name": a["name"],
            }
            for a in result.accounts
        ],
        "portal_patients": result.portal_patients,
        "questionnaire_links": [{"practice": name, "path": path} for name, path in result.questionnaire_links],
    }


def result_as_table(result: SeedResult) -> str:
    names = {p.slug: p.name for p in result.practices}
    rows = [("Practice", "Role", "Email", "Name", "MFA")]
    for a in result.accounts:
        role = Role(a["role"]).label
        if a["role"] in (Role.CLINICIAN, Role.SUPERVISOR) and not a["is_licensed"]:
            role += " (pre-licensed)"
        rows.append((names[a["practice"]], role, a["email"], a["name"], "TOTP" if a["email"] in result.mfa else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    out = [
        "",
        "Tend demo logins",
        "================",
        f"Password for every account: {result.password}",
        "",
        *lines,
        "",
        f"{SHARED_CLINICIAN} belongs to both practices: use it to try switching practice.",
        "",
        "TOTP secrets of accounts that require MFA (add to an authenticator app, or run",
        "`python manage.py demo_totp_code <email>` for the current code):",
    ]
    for email, (secret, url) in sorted(result.mfa.items()):
        out.append(f"  {email}")
        out.append(f"    secret: {secret}")
        out.append(f"    {url}")
    if result.portal_patients:
        out.append("")
        out.append("Patient portal (sign in at /portal/login/):")
        for login in result.portal_patients:
            out.append(f"  {names[login['practice']]}: {login['email']} ({login['name']}, MRN {login['patient_mrn']})")
        out.append(f"  Password: {result.password}")
    if result.questionnaire_links:
        out.append("")
        out.append("Open a demo questionnaire as the patient (PHQ-9 by email link, no sign-in):")
        for name, path in result.questionnaire_links:
            out.append(f"  {name}: {path}")
    out.append("")
    return "\n".join(out)


class Command(BaseCommand):
    help = "Create (or bring up to date) the demo practices and staff. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help="Password of every demo account.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print practices and accounts as JSON.")
        parser.add_argument(
            "--no-clinical",
            action="store_false",
            dest="clinical",
            help="Only practices and staff: no patients, notes, plans (faster; for scripts and tests).",
        )

    def handle(self, *args: Any, password: str, as_json: bool, clinical: bool = True, **options: Any) -> None:
        # Side effects (the console email backend prints the invitation email) go to stderr so
        # that stdout stays a clean table or JSON document.
        with contextlib.redirect_stdout(sys.stderr), transaction.atomic():
            result = seed(password, clinical=clinical)
        if as_json:
            self.stdout.write(json.dumps(result_as_json(result), indent=2))
        else:
            self.stdout.write(result_as_table(result))
            self.stderr.write(f"seed_demo: {result.changes} change(s).")
