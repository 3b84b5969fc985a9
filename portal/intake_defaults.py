"""The default intake packet for a practice: an informed-consent text (version 1) and the five-step
packet (about you, insurance, consent, health history, PHQ-9 + GAD-7). Idempotent: a practice that
already has it gets the existing packet back. Used by the demo seed and for new practices."""

from __future__ import annotations

from django.db import transaction
from django_scopes import scope

from portal.models import ConsentDocument, IntakePacket, IntakeStep
from portal.services_intake import sha256_text

DEFAULT_PACKET_NAME = "New patient intake"
CONSENT_KEY = "informed-consent"
CONSENT_TITLE = "Informed consent for outpatient mental-health treatment"
# PHQ-9 (depression) and GAD-7 (anxiety): the usual intake screeners; both in assessments.library.
DEFAULT_INSTRUMENTS = ["PHQ-9", "GAD-7"]

CONSENT_BODY = """\
Treatment. I agree to outpatient mental-health assessment and treatment with this practice. My clinician will \
explain the proposed treatment, its expected benefits and risks, and other options. I may ask questions, decline \
any part of treatment, or stop at any time.

Confidentiality. What I share is confidential and is released only with my written authorization, except where \
the law requires or allows disclosure: a serious threat to my safety or another person's, suspected abuse or \
neglect of a child, an elder or a dependent adult, a court order, or as otherwise permitted by HIPAA for \
treatment, payment and health-care operations. The practice's Notice of Privacy Practices describes these uses.

Emergencies. The practice is not an emergency service. In a crisis I will call or text 988 (Suicide & Crisis \
Lifeline), call 911, or go to the nearest emergency room. Portal messages are not monitored around the clock.

Electronic communication and telehealth. Portal messages, e-mail, text reminders and video sessions carry some \
risk to privacy. The practice uses secure tools; I can ask to change how I am contacted.

Fees and cancellations. I understand the fees, my insurance responsibilities, and the cancellation policy \
explained to me. I am responsible for charges my insurance does not pay.

Records. The practice keeps records of my care as the law requires. I may ask to see or receive a copy of them.

By signing, I confirm that I have read this consent, had the chance to ask questions, and agree to treatment."""


@transaction.atomic
def install_default_intake(practice) -> IntakePacket:
    """Create (once) the default consent and packet, and make it the practice's intake packet if none is set."""
    from portal.access import portal_settings_for

    with scope(practice=practice):
        consent = ConsentDocument.objects.filter(practice=practice, key=CONSENT_KEY, is_current=True).first()
        if consent is None:
            consent = ConsentDocument.objects.create(
                practice=practice,
                key=CONSENT_KEY,
                title=CONSENT_TITLE,
                version=1,
                body=CONSENT_BODY,
                body_sha256=sha256_text(CONSENT_BODY),
            )
        packet = IntakePacket.objects.filter(practice=practice, name=DEFAULT_PACKET_NAME).first()
        if packet is None:
            packet = IntakePacket.objects.create(
                practice=practice,
                name=DEFAULT_PACKET_NAME,
                description="About you, insurance, consent to treatment, health history and two short questionnaires.",
            )
            steps = [
                (IntakeStep.Kind.DEMOGRAPHICS, "About you", {}),
                (IntakeStep.Kind.INSURANCE, "Insurance", {}),
                (IntakeStep.Kind.CONSENT, "Consent to treatment", {"consent": consent}),
                (IntakeStep.Kind.HISTORY, "Health history", {}),
                (IntakeStep.Kind.QUESTIONNAIRES, "Questionnaires", {"instrument_codes": DEFAULT_INSTRUMENTS}),
            ]
            for position, (kind, title, extra) in enumerate(steps, start=1):
                IntakeStep.objects.create(
                    practice=practice, packet=packet, position=position, kind=kind, title=title, **extra
                )
        settings = portal_settings_for(practice)
        if settings.intake_packet_id is None:
            settings.intake_packet = packet
            settings.save(update_fields=["intake_packet", "updated_at"])
    return packet
