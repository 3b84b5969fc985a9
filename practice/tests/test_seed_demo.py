"""The demo seed: runs, is idempotent, and prints machine-readable logins."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled

from practice.management.commands.demo_totp_code import current_code
from practice.management.commands.seed_demo import DEFAULT_PASSWORD, SHARED_CLINICIAN
from practice.models import AuditLogEntry, Invitation, Location, Membership, Practice, User
from practice.permissions import MFA_REQUIRED_ROLES, Role

pytestmark = pytest.mark.django_db


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _counts() -> dict[str, int]:
    with scopes_disabled():
        return {
            "practices": Practice.objects.count(),
            "users": User.objects.count(),
            "memberships": Membership.all_objects.count(),
            "locations": Location.all_objects.count(),
            "invitations": Invitation.all_objects.count(),
            "totp_devices": TOTPDevice.objects.count(),
            "audit_entries": AuditLogEntry.all_objects.count(),
            "password_hashes": len(set(User.objects.values_list("password", flat=True))),
        }


def test_seed_demo_creates_two_practices_with_staff_and_a_pending_invitation():
    _seed("--no-clinical")
    with scopes_disabled():
        assert set(Practice.objects.values_list("slug", flat=True)) == {"maple", "cedar"}
        cedar = Practice.objects.get(slug="cedar")
        assert Membership.all_objects.filter(practice__slug="maple").count() == 1
        cedar_roles = list(Membership.all_objects.filter(practice=cedar).values_list("role", flat=True))
        assert set(cedar_roles) == set(Role.values)
        clinical = [r for r in cedar_roles if r in (Role.OWNER, Role.CLINICIAN, Role.SUPERVISOR)]
        assert len(clinical) == 10
        prelicensed = Membership.all_objects.filter(practice=cedar, is_licensed=False)
        assert prelicensed.count() == 2
        assert all(m.supervisor and m.supervisor.role == Role.SUPERVISOR for m in prelicensed)
        assert dict(Location.all_objects.filter(practice=cedar).values_list("name", "place_of_service")) == {
            "Downtown": "11",
            "Telehealth": "10",
        }
        assert Membership.all_objects.filter(user__email=SHARED_CLINICIAN).count() == 2
        pending = Invitation.all_objects.filter(practice=cedar)
        assert [i.status for i in pending] == [Invitation.Status.PENDING]
        assert User.objects.get(email=SHARED_CLINICIAN).check_password(DEFAULT_PASSWORD)


def test_seed_demo_with_clinical_records_twice_changes_nothing():
    """The one full seed (~9 s: ~40 patients, ~160 notes through the services, twice)."""
    table = _seed()
    assert "Patient portal (sign in at /portal/login/):" in table  # the demo patient's login
    before = _counts()
    with scopes_disabled():
        from clinical.models import Patient, ProgressNote, PsychotherapyNote, TreatmentPlan

        statuses = set(ProgressNote.objects.values_list("status", flat=True))
        assert statuses == {"draft", "awaiting_cosign", "signed"}  # every state is in the demo
        assert Patient.objects.filter(practice__slug="cedar").count() >= 20
        assert TreatmentPlan.objects.filter(status="active").exists()
        assert PsychotherapyNote.objects.exists()
        before["patients"] = Patient.objects.count()
        before |= _scheduling_checks()
    with scopes_disabled():
        updated = dict(Membership.all_objects.values_list("pk", "updated_at"))
    _seed()
    with scopes_disabled():
        after = _counts() | {"patients": Patient.objects.count()} | _scheduling_checks()
    assert after == before
    assert before["password_hashes"] == 1
    with scopes_disabled():
        assert dict(Membership.all_objects.values_list("pk", "updated_at")) == updated


def _scheduling_checks() -> dict[str, int]:
    """The demo schedule (scheduling/demo.py): every clinician booked weeks back and ahead,
    recurring clients, outcomes, a group of five, six waitlist entries per practice, reminders."""
    from datetime import timedelta

    from django.utils import timezone

    from notifications.models import Message, ReminderRule
    from scheduling.models import Appointment, AppointmentType, AvailabilityRule, Room, WaitlistEntry

    now = timezone.now()
    cedar = Practice.objects.get(slug="cedar")
    appointments = Appointment.all_objects.filter(practice=cedar)
    clinicians = Membership.all_objects.filter(practice=cedar, role__in=["owner", "clinician", "supervisor"])
    for clinician in clinicians:
        mine = appointments.filter(clinician=clinician)
        assert mine.filter(starts_at__lt=now - timedelta(days=14)).exists(), clinician.pk
        assert mine.filter(starts_at__gt=now + timedelta(days=14)).exists(), clinician.pk
        assert AvailabilityRule.all_objects.filter(clinician=clinician).count() == 5
    assert appointments.filter(series__isnull=False).values("series").distinct().count() >= 10
    assert {"completed", "no_show", "late_cancelled", "scheduled"} <= set(appointments.values_list("status", flat=True))
    assert not appointments.filter(status="scheduled", ends_at__lt=now).exists()
    groups = appointments.filter(appointment_type__is_group=True)
    assert [g.attendees.count() for g in groups] == [5]
    assert set(AppointmentType.all_objects.filter(practice=cedar).values_list("default_service_code", flat=True)) >= {
        "90791",
        "90834",
        "90837",
        "90847",
        "90853",
    }
    assert Room.all_objects.filter(practice=cedar).count() >= 4
    assert WaitlistEntry.all_objects.filter(practice=cedar).count() == 6
    assert ReminderRule.all_objects.filter(practice=cedar).count() == 2
    assert Message.all_objects.filter(practice=cedar, template_key="reminder").exists()
    return {
        "appointments": Appointment.all_objects.count(),
        "waitlist": WaitlistEntry.all_objects.count(),
        "messages": Message.all_objects.count(),
    }


def test_seed_demo_password_option_sets_every_account():
    _seed("--no-clinical", "--password", "another-demo-pass")
    assert all(u.check_password("another-demo-pass") for u in User.objects.all())


def test_seed_demo_json_lists_every_role_and_mfa_secrets_that_work():
    data = json.loads(_seed("--no-clinical", "--json"))
    assert data["password"] == DEFAULT_PASSWORD
    assert {p["slug"] for p in data["practices"]} == {"maple", "cedar"}
    assert {a["role"] for a in data["accounts"]} == set(Role.values)
    # No clinical records, no portal patient (the full seed prints one: portal/tests/test_demo_portal.py).
    assert data["portal_patients"] == []
    for account in data["accounts"]:
        assert set(account) == {"practice", "email", "role", "mfa_secret", "name"}
        if account["role"] in MFA_REQUIRED_ROLES:
            assert account["mfa_secret"]
    admin = next(a for a in data["accounts"] if a["practice"] == "cedar" and a["role"] == Role.ADMIN)
    device = TOTPDevice.objects.get(user__email=admin["email"], confirmed=True)
    assert device.verify_token(current_code(device))
    # The secret printed is the device's key: an authenticator app would show the same codes.
    import base64

    assert base64.b32encode(device.bin_key).decode().rstrip("=") == admin["mfa_secret"]


def test_demo_totp_code_prints_the_current_code():
    _seed("--no-clinical")
    out = StringIO()
    call_command("demo_totp_code", "MARCUS.CHEN@cedarbh.example", stdout=out)
    device = TOTPDevice.objects.get(user__email="marcus.chen@cedarbh.example")
    assert out.getvalue().strip() == current_code(device)
    assert len(out.getvalue().strip()) == 6
