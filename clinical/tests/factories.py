"""Factories for the clinical record. Create inside practice_scope(...) or scopes_disabled()."""

from __future__ import annotations

import hashlib
from datetime import date, time, timedelta

import factory
from django.utils import timezone

from clinical import models as m
from practice.permissions import Role
from practice.tests.factories import MembershipFactory, PracticeFactory


class ScopedFactory(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.all_objects.create(*args, **kwargs)


class PatientFactory(ScopedFactory):
    class Meta:
        model = m.Patient

    practice = factory.SubFactory(PracticeFactory)
    mrn = factory.Sequence(lambda n: f"P{n + 1:06d}")
    legal_first_name = factory.Faker("first_name")
    legal_last_name = factory.Faker("last_name")
    date_of_birth = factory.Faker("date_of_birth", minimum_age=19, maximum_age=80)
    phone = "(503) 555-0142"
    phone_digits = "5035550142"
    email = factory.LazyAttribute(lambda o: f"{o.legal_first_name.lower()}.{o.legal_last_name.lower()}@example.test")
    primary_clinician = factory.LazyAttribute(lambda o: MembershipFactory(practice=o.practice, role=Role.CLINICIAN))
    search_name = factory.LazyAttribute(lambda o: f"{o.legal_first_name} {o.legal_last_name}".lower())


class NoteTemplateFactory(ScopedFactory):
    class Meta:
        model = m.NoteTemplate
        django_get_or_create = ("practice", "name")

    practice = factory.SubFactory(PracticeFactory)
    name = "Progress note — SOAP"
    kind = m.NoteTemplate.Kind.PROGRESS_SOAP
    default_service_code = "90834"
    sections = factory.LazyFunction(
        lambda: [
            {"key": k, "label": label, "help": "", "required": True}
            for k, label in (
                ("subjective", "Subjective"),
                ("objective", "Objective"),
                ("assessment", "Assessment"),
                ("plan_next", "Plan"),
            )
        ]
    )

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        obj, _ = model_class.all_objects.get_or_create(
            practice=kwargs.pop("practice"), name=kwargs.pop("name"), defaults=kwargs
        )
        return obj


class ProgressNoteFactory(ScopedFactory):
    class Meta:
        model = m.ProgressNote

    patient = factory.SubFactory(PatientFactory)
    practice = factory.LazyAttribute(lambda o: o.patient.practice)
    author = factory.LazyAttribute(lambda o: o.patient.primary_clinician)
    template = factory.LazyAttribute(lambda o: NoteTemplateFactory(practice=o.practice))
    kind = m.NoteTemplate.Kind.PROGRESS_SOAP
    session_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=1))
    start_time = time(10, 0)
    end_time = time(10, 53)
    service_code = "90834"
    content = factory.LazyFunction(
        lambda: {
            "subjective": "Reports sleeping better; two panic episodes this week.",
            "objective": "Alert, oriented, affect anxious but reactive.",
            "assessment": "Panic symptoms decreasing with exposure work.",
            "plan_next": "Continue interoceptive exposure; next session in one week.",
        }
    )


class NoteAddendumFactory(ScopedFactory):
    class Meta:
        model = m.NoteAddendum

    note = factory.SubFactory(
        ProgressNoteFactory, status=m.ProgressNote.Status.SIGNED, signed_at=factory.LazyFunction(timezone.now)
    )
    practice = factory.LazyAttribute(lambda o: o.note.practice)
    author = factory.LazyAttribute(lambda o: o.note.author)
    reason = "Correction"
    text = "Session length was 53 minutes, not 45."


class PsychotherapyNoteFactory(ScopedFactory):
    class Meta:
        model = m.PsychotherapyNote

    patient = factory.SubFactory(PatientFactory)
    practice = factory.LazyAttribute(lambda o: o.patient.practice)
    author = factory.LazyAttribute(lambda o: o.patient.primary_clinician)
    session_on = factory.LazyFunction(timezone.localdate)
    body = "Process notes: transference themes around abandonment."


class DiagnosisFactory(ScopedFactory):
    class Meta:
        model = m.Diagnosis

    patient = factory.SubFactory(PatientFactory)
    practice = factory.LazyAttribute(lambda o: o.patient.practice)
    code = factory.LazyFunction(lambda: m.DiagnosisCode.objects.get(code="F41.1"))
    is_primary = True
    added_by = factory.LazyAttribute(lambda o: o.patient.primary_clinician)


class TreatmentPlanFactory(ScopedFactory):
    class Meta:
        model = m.TreatmentPlan

    patient = factory.SubFactory(PatientFactory)
    practice = factory.LazyAttribute(lambda o: o.patient.practice)
    author = factory.LazyAttribute(lambda o: o.patient.primary_clinician)
    status = m.TreatmentPlan.Status.ACTIVE
    review_on = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=90))


class TreatmentProblemFactory(ScopedFactory):
    class Meta:
        model = m.TreatmentProblem

    plan = factory.SubFactory(TreatmentPlanFactory)
    practice = factory.LazyAttribute(lambda o: o.plan.practice)
    description = "Panic attacks limit work attendance."


class TreatmentGoalFactory(ScopedFactory):
    class Meta:
        model = m.TreatmentGoal

    problem = factory.SubFactory(TreatmentProblemFactory)
    practice = factory.LazyAttribute(lambda o: o.problem.practice)
    description = "GAD-7 below 10 for four consecutive weeks."


class TreatmentObjectiveFactory(ScopedFactory):
    class Meta:
        model = m.TreatmentObjective

    goal = factory.SubFactory(TreatmentGoalFactory)
    practice = factory.LazyAttribute(lambda o: o.goal.practice)
    description = "Practise interoceptive exposure 4 days a week."
    target_on = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=60))


class MedicationFactory(ScopedFactory):
    class Meta:
        model = m.Medication

    patient = factory.SubFactory(PatientFactory)
    practice = factory.LazyAttribute(lambda o: o.patient.practice)
    name = "Sertraline"
    dose = "50 mg"
    frequency = "once daily"
    prescriber_name = "Dr. R. Osei (PCP)"
    started_on = date(2026, 3, 1)
    recorded_by = factory.LazyAttribute(lambda o: o.patient.primary_clinician)


class PrescriptionFactory(ScopedFactory):
    class Meta:
        model = m.Prescription

    medication = factory.SubFactory(MedicationFactory)
    practice = factory.LazyAttribute(lambda o: o.medication.practice)
    patient = factory.LazyAttribute(lambda o: o.medication.patient)
    prescriber = factory.LazyAttribute(lambda o: o.medication.recorded_by)
    sig = "Take one tablet by mouth every morning."
    quantity = "30 tablets"


class DocumentFactory(ScopedFactory):
    class Meta:
        model = m.Document

    patient = factory.SubFactory(PatientFactory)
    practice = factory.LazyAttribute(lambda o: o.patient.practice)
    title = "Consent for treatment"
    category = m.Document.Category.CONSENT
    file = factory.django.FileField(filename="consent.pdf", data=b"%PDF-1.4\n%test\n")
    content_type = "application/pdf"
    size_bytes = 15
    sha256 = hashlib.sha256(b"%PDF-1.4\n%test\n").hexdigest()
    uploaded_by = factory.LazyAttribute(lambda o: o.patient.primary_clinician)


class CommunicationConsentFactory(ScopedFactory):
    class Meta:
        model = m.CommunicationConsent

    patient = factory.SubFactory(PatientFactory)
    practice = factory.LazyAttribute(lambda o: o.patient.practice)
    channel = m.CommunicationConsent.Channel.SMS
    is_granted = True


class EmergencyAccessFactory(ScopedFactory):
    class Meta:
        model = m.EmergencyAccess

    patient = factory.SubFactory(PatientFactory)
    practice = factory.LazyAttribute(lambda o: o.patient.practice)
    membership = factory.LazyAttribute(lambda o: MembershipFactory(practice=o.practice, role=Role.CLINICIAN))
    reason = "Covering on-call; patient called in crisis."
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=4))


class MrnCounterFactory(ScopedFactory):
    class Meta:
        model = m.MrnCounter
        django_get_or_create = ("practice",)

    practice = factory.SubFactory(PracticeFactory)
