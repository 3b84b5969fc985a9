"""The seed_demo helper imports the shipped samples through the real import and builds one export,
and running it again changes nothing."""

from __future__ import annotations

import pytest

from clinical.models import Patient
from integrations.demo_data import seed_data_demo
from integrations.models import ExportJob, ImportJob
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import LocationFactory
from scheduling.models import Appointment
from scheduling.tests.factories import AppointmentTypeFactory

pytestmark = pytest.mark.django_db


def test_demo_imports_the_samples_and_builds_an_export_once(practice_a, make_member):
    owner = make_member(practice_a, Role.OWNER, email="owner@riverside.test")
    admin = make_member(practice_a, Role.ADMIN, email="admin@riverside.test")
    for email in ("elena.petrova@cedarbh.example", "david.kim@cedarbh.example"):
        make_member(practice_a, Role.CLINICIAN, email=email)
    with practice_scope(practice_a):
        LocationFactory(practice=practice_a, name="Downtown", timezone="America/Los_Angeles")
        for name, minutes in (("Intake", 60), ("Psychotherapy 45 min", 45)):
            AppointmentTypeFactory(practice=practice_a, name=name, duration_minutes=minutes)
        first = seed_data_demo(admin=admin, owner=owner)
        assert first == {"patients": "imported", "appointments": "imported", "balances": "imported", "export": "ready"}
        counts = (Patient.objects.count(), Appointment.objects.count(), ImportJob.objects.count())
        assert counts == (8, 8, 3)
        assert seed_data_demo(admin=admin, owner=owner) == first
        assert (Patient.objects.count(), Appointment.objects.count(), ImportJob.objects.count()) == counts
        assert ExportJob.objects.count() == 1
