"""Factories for assessments. Create inside practice_scope(...) or scopes_disabled().

Responses made here carry hand-set scores (no scoring call): tests that check scoring go through
`assessments.services.response_record`, which scores with `assessments.scoring`.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import factory
from django.utils import timezone

from assessments import models as m
from clinical.tests.factories import PatientFactory, ScopedFactory
from practice.permissions import Role
from practice.tests.factories import MembershipFactory, PracticeFactory


class AssessmentSettingsFactory(ScopedFactory):
    class Meta:
        model = m.AssessmentSettings

    practice = factory.SubFactory(PracticeFactory)


class ProtocolFactory(ScopedFactory):
    class Meta:
        model = m.Protocol

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"Depression and anxiety follow-up #{n}")
    instrument_codes = factory.LazyFunction(lambda: ["PHQ-9", "GAD-7"])
    at_intake = True
    every_n_sessions = 2
    channel = m.DeliveryChannel.EMAIL
    created_by = factory.LazyAttribute(lambda o: MembershipFactory(practice=o.practice, role=Role.ADMIN))


class ProtocolAssignmentFactory(ScopedFactory):
    class Meta:
        model = m.ProtocolAssignment

    practice = factory.SubFactory(PracticeFactory)
    protocol = factory.LazyAttribute(lambda o: ProtocolFactory(practice=o.practice))
    patient = factory.LazyAttribute(lambda o: PatientFactory(practice=o.practice))


class AdministrationFactory(ScopedFactory):
    class Meta:
        model = m.Administration

    practice = factory.SubFactory(PracticeFactory)
    patient = factory.LazyAttribute(lambda o: PatientFactory(practice=o.practice))
    instrument_code = "PHQ-9"
    reason = "requested"
    due_at = factory.LazyFunction(timezone.now)
    status = m.Administration.Status.SENT
    sent_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=72))
    token_hash = factory.Sequence(lambda n: hashlib.sha256(f"administration-token-{n}".encode()).hexdigest())


class ResponseFactory(ScopedFactory):
    """A completed PHQ-9 of 'moderate' severity (total 12) by default."""

    class Meta:
        model = m.Response

    practice = factory.SubFactory(PracticeFactory)
    patient = factory.LazyAttribute(lambda o: PatientFactory(practice=o.practice))
    instrument_code = "PHQ-9"
    instrument_version = "2001"
    answers = factory.LazyFunction(lambda: [2, 2, 1, 2, 1, 1, 2, 1, 0])
    total = 12
    severity = "moderate"
    severity_label = "Moderate"
    flags = factory.LazyFunction(list)
    positive_screen = True
    mode = m.Response.Mode.CLINICIAN
    completed_at = factory.LazyFunction(timezone.now)
    billable_cpt = "96127"


class RiskAlertFactory(ScopedFactory):
    class Meta:
        model = m.RiskAlert

    practice = factory.SubFactory(PracticeFactory)
    patient = factory.LazyAttribute(lambda o: PatientFactory(practice=o.practice))
    response = factory.LazyAttribute(
        lambda o: ResponseFactory(
            practice=o.practice,
            patient=o.patient,
            answers=[2, 2, 1, 2, 1, 1, 2, 1, 1],
            total=13,
            flags=["suicide_risk"],
        )
    )
    clinician = factory.LazyAttribute(
        lambda o: o.patient.primary_clinician or MembershipFactory(practice=o.practice, role=Role.CLINICIAN)
    )
    flags = factory.LazyFunction(lambda: ["suicide_risk"])
    summary = "PHQ-9 item 9 (thoughts of self-harm) answered “several days”"


class MeasureSummaryFactory(ScopedFactory):
    class Meta:
        model = m.MeasureSummary

    practice = factory.SubFactory(PracticeFactory)
    patient = factory.LazyAttribute(lambda o: PatientFactory(practice=o.practice))
    instrument_code = "PHQ-9"
    response_count = 2
    baseline_total = 16
    baseline_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=60))
    latest_total = 8
    latest_at = factory.LazyFunction(timezone.now)
