"""Factories for the portal. Create inside practice_scope(...) or scopes_disabled()."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import factory
from django.core.files.base import ContentFile
from django.utils import timezone

from clinical.tests.factories import PatientFactory, ScopedFactory
from portal import models as m
from practice.permissions import Role
from practice.tests.factories import MembershipFactory, PracticeFactory, UserFactory

# A 1x1 PNG: the smallest real image the upload sniffing accepts.
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class PortalSettingsFactory(ScopedFactory):
    class Meta:
        model = m.PortalSettings
        django_get_or_create = ("practice",)

    practice = factory.SubFactory(PracticeFactory)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.all_objects.get_or_create(practice=kwargs.pop("practice"), defaults=kwargs)[0]


class PortalAccessFactory(ScopedFactory):
    """A portal user (no membership) with access to one patient's record."""

    class Meta:
        model = m.PortalAccess

    practice = factory.SubFactory(PracticeFactory)
    patient = factory.SubFactory(PatientFactory, practice=factory.SelfAttribute("..practice"))
    user = factory.SubFactory(UserFactory, email=factory.Sequence(lambda n: f"patient{n}@example.test"))
    relationship = m.Relationship.SELF


class PortalInvitationFactory(ScopedFactory):
    class Meta:
        model = m.PortalInvitation

    practice = factory.SubFactory(PracticeFactory)
    patient = factory.SubFactory(PatientFactory, practice=factory.SelfAttribute("..practice"))
    invited_by = factory.SubFactory(
        MembershipFactory, practice=factory.SelfAttribute("..practice"), role=Role.FRONT_DESK
    )
    recipient_name = factory.LazyAttribute(lambda o: o.patient.display_name)
    email = factory.LazyAttribute(lambda o: o.patient.email or "invitee@example.test")
    token_hash = factory.LazyFunction(lambda: _sha(secrets.token_urlsafe(32)))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


class PortalAppointmentEventFactory(ScopedFactory):
    class Meta:
        model = m.PortalAppointmentEvent

    practice = factory.SubFactory(PracticeFactory)
    appointment = factory.LazyAttribute(lambda o: _appointment(o.practice))
    patient = factory.LazyAttribute(lambda o: o.appointment.attendees.first().patient)
    user = factory.SubFactory(UserFactory, email=factory.Sequence(lambda n: f"booker{n}@example.test"))
    action = m.PortalAppointmentEvent.Action.BOOKED


def _appointment(practice):
    from scheduling.tests.factories import appointment_with_patient

    return appointment_with_patient(practice)


class ConsentDocumentFactory(ScopedFactory):
    class Meta:
        model = m.ConsentDocument

    practice = factory.SubFactory(PracticeFactory)
    key = factory.Sequence(lambda n: f"consent-{n}")
    title = "Consent to treatment"
    version = 1
    body = "I consent to outpatient mental-health treatment. I understand the limits of confidentiality."
    body_sha256 = factory.LazyAttribute(lambda o: _sha(o.body))


class IntakePacketFactory(ScopedFactory):
    class Meta:
        model = m.IntakePacket

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"New patient intake {n}")


class IntakeStepFactory(ScopedFactory):
    class Meta:
        model = m.IntakeStep

    practice = factory.SubFactory(PracticeFactory)
    packet = factory.SubFactory(IntakePacketFactory, practice=factory.SelfAttribute("..practice"))
    position = factory.Sequence(lambda n: n + 1)
    kind = m.IntakeStep.Kind.DEMOGRAPHICS
    title = "About you"


def intake_packet_with_steps(practice) -> m.IntakePacket:
    """The standard packet: demographics, insurance, consent, history, questionnaires."""
    packet = IntakePacketFactory(practice=practice, name="New patient intake")
    consent = ConsentDocumentFactory(practice=practice, key="informed-consent")
    kinds = [
        (m.IntakeStep.Kind.DEMOGRAPHICS, "About you", {}),
        (m.IntakeStep.Kind.INSURANCE, "Insurance", {}),
        (m.IntakeStep.Kind.CONSENT, "Consent to treatment", {"consent": consent}),
        (m.IntakeStep.Kind.HISTORY, "Health history", {}),
        (m.IntakeStep.Kind.QUESTIONNAIRES, "Questionnaires", {"instrument_codes": ["PHQ-9", "GAD-7"]}),
    ]
    for position, (kind, title, extra) in enumerate(kinds, start=1):
        IntakeStepFactory(practice=practice, packet=packet, position=position, kind=kind, title=title, **extra)
    return packet


class IntakeSubmissionFactory(ScopedFactory):
    class Meta:
        model = m.IntakeSubmission

    practice = factory.SubFactory(PracticeFactory)
    patient = factory.SubFactory(PatientFactory, practice=factory.SelfAttribute("..practice"))
    packet = factory.SubFactory(IntakePacketFactory, practice=factory.SelfAttribute("..practice"))
    started_by = factory.SubFactory(UserFactory, email=factory.Sequence(lambda n: f"intake{n}@example.test"))


class IntakeSignatureFactory(ScopedFactory):
    class Meta:
        model = m.IntakeSignature

    practice = factory.SubFactory(PracticeFactory)
    submission = factory.SubFactory(IntakeSubmissionFactory, practice=factory.SelfAttribute("..practice"))
    consent = factory.SubFactory(ConsentDocumentFactory, practice=factory.SelfAttribute("..practice"))
    consent_version = factory.LazyAttribute(lambda o: o.consent.version)
    consent_sha256 = factory.LazyAttribute(lambda o: o.consent.body_sha256)
    typed_name = factory.LazyAttribute(lambda o: o.submission.patient.legal_name)
    signer = factory.LazyAttribute(lambda o: o.submission.started_by)
    signer_relationship = m.Relationship.SELF
    ip_address = "203.0.113.7"


class IntakeUploadFactory(ScopedFactory):
    class Meta:
        model = m.IntakeUpload

    practice = factory.SubFactory(PracticeFactory)
    submission = factory.SubFactory(IntakeSubmissionFactory, practice=factory.SelfAttribute("..practice"))
    kind = m.IntakeUpload.Kind.CARD_FRONT
    file = factory.LazyFunction(lambda: ContentFile(PNG_BYTES, name="card-front.png"))
    content_type = "image/png"
    size_bytes = len(PNG_BYTES)
    sha256 = hashlib.sha256(PNG_BYTES).hexdigest()
    original_filename = "card-front.png"


class PatientMessagingFactory(ScopedFactory):
    class Meta:
        model = m.PatientMessaging

    practice = factory.SubFactory(PracticeFactory)
    patient = factory.SubFactory(PatientFactory, practice=factory.SelfAttribute("..practice"))
    is_enabled = False
    reason = "Please call the office instead."
    changed_by = factory.SubFactory(
        MembershipFactory, practice=factory.SelfAttribute("..practice"), role=Role.CLINICIAN
    )


class MessageThreadFactory(ScopedFactory):
    class Meta:
        model = m.MessageThread

    practice = factory.SubFactory(PracticeFactory)
    patient = factory.SubFactory(PatientFactory, practice=factory.SelfAttribute("..practice"))
    subject = "Question about my next appointment"


class ThreadMessageFactory(ScopedFactory):
    """A message from the patient (give `sender_member=...` and `sender_user=None` for staff)."""

    class Meta:
        model = m.ThreadMessage

    practice = factory.SubFactory(PracticeFactory)
    thread = factory.SubFactory(MessageThreadFactory, practice=factory.SelfAttribute("..practice"))
    sender_user = factory.SubFactory(UserFactory, email=factory.Sequence(lambda n: f"sender{n}@example.test"))
    body = "Can we move Thursday's session to the afternoon?"


class ThreadMessageReadFactory(ScopedFactory):
    class Meta:
        model = m.ThreadMessageRead

    practice = factory.SubFactory(PracticeFactory)
    message = factory.SubFactory(ThreadMessageFactory, practice=factory.SelfAttribute("..practice"))
    member = factory.SubFactory(MembershipFactory, practice=factory.SelfAttribute("..practice"), role=Role.CLINICIAN)


class ThreadAttachmentFactory(ScopedFactory):
    class Meta:
        model = m.ThreadAttachment

    practice = factory.SubFactory(PracticeFactory)
    message = factory.SubFactory(ThreadMessageFactory, practice=factory.SelfAttribute("..practice"))
    file = factory.LazyFunction(lambda: ContentFile(PNG_BYTES, name="photo.png"))
    content_type = "image/png"
    size_bytes = len(PNG_BYTES)
    sha256 = hashlib.sha256(PNG_BYTES).hexdigest()
    original_filename = "photo.png"


def open_mornings(practice, clinician):
    """A 'Main Street office' where `clinician` is open 9-12 every day, and a bookable in-person
    'Therapy session' type: what the portal's booking pages need. Returns (location, appointment type)."""
    from datetime import date, time

    from practice.tests.factories import LocationFactory
    from scheduling.tests.factories import AppointmentTypeFactory, AvailabilityRuleFactory

    location = LocationFactory(practice=practice, name="Main Street office", timezone=practice.timezone)
    for weekday in range(7):
        AvailabilityRuleFactory(
            practice=practice,
            clinician=clinician,
            location=location,
            weekday=weekday,
            start_time=time(9, 0),
            end_time=time(12, 0),
            valid_from=date(2020, 1, 1),
        )
    appointment_type = AppointmentTypeFactory(
        practice=practice, name="Therapy session", is_bookable_online=True, modality="in_person"
    )
    return location, appointment_type
