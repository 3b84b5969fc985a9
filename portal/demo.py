"""Demo patient portal for `seed_demo` (Cedar only, after the billing history, inside the practice's
scope), all through the real portal services:

- Portal settings: online booking on, Elena Petrova bookable, PHQ-9 and GAD-7 scores shared with
  patients, the default intake packet installed (`portal_settings_update`, `install_default_intake`).
- One of Elena's adult patients (the one who owed the most at the end of last month) gets a login:
  the chart email becomes `<first>.<last>@patient.cedarbh.example` (`patient_update` by the front
  desk), an invitation is sent and accepted with the demo password (`portal_invitation_send`,
  `portal_invitation_accept`; seed_demo passes the staff accounts' hash of the demo password, so the
  account is made with it and the invitation accepted into it).
- A completed intake: every step saved as the patient would (answers validated by the intake forms;
  insurance as on file, or self-pay), the consent signed with the legal name, PHQ-9 and GAD-7
  answered in the portal, submitted, and accepted by the front desk (Maria Santos), so the chart has
  the consent and history documents.
- Messages both ways: the patient's "Question about my next appointment" with Elena's reply (read),
  a note from Elena the patient has not opened (the unread badge), and a patient message still
  waiting for a reply in the staff inbox. Dated over the last few days.
- A PHQ-9 requested by Elena for the portal and sent (due now, not answered), last month's statement
  (`statement_issue`, unless the billing history already gave this patient one), and a telehealth
  visit booked by the patient in the portal in Elena's first open slot a week or more ahead.

Idempotent: nothing happens when the practice already has the demo patient's portal account; the
login is returned either way, for seed_demo's output.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from django.utils import timezone

from practice.errors import DomainError
from practice.models import Membership, Practice, User
from practice.permissions import Role

PATIENT_EMAIL_DOMAIN = "patient.cedarbh.example"
CLINICIAN_EMAIL = "elena.petrova@cedarbh.example"
FRONT_DESK_EMAIL = "maria.santos@cedarbh.example"
SHARED_INSTRUMENTS = ["PHQ-9", "GAD-7"]
FIRST_SUBJECT = "Question about my next appointment"
UNREAD_SUBJECT = "Something to try before our next session"
WAITING_SUBJECT = "Receipt for my HSA"
# Intake questionnaire answers (0-3 per item): PHQ-9 total 9 (mild, item 9 = 0: no risk flag) and
# GAD-7 total 7 (mild); cut-offs from Kroenke 2001 and Spitzer 2006 as scored by assessments.scoring.
PHQ9_ANSWERS = [1, 2, 1, 2, 1, 1, 1, 0, 0]
GAD7_ANSWERS = [1, 1, 2, 1, 1, 0, 1]
TELEHEALTH_AFTER_DAYS = 7


def portal_email(patient) -> str:
    first = "".join(c for c in patient.legal_first_name.lower() if c.isalnum())
    last = "".join(c for c in patient.legal_last_name.lower() if c.isalnum())
    return f"{first}.{last}@{PATIENT_EMAIL_DOMAIN}"


def _member(email: str, role: str | None = None) -> Membership | None:
    members = Membership.objects.filter(is_active=True).select_related("user").order_by("pk")
    found = members.filter(user__email=email).first()
    if found is None and role is not None:
        found = members.filter(role=role).first()
    return found


def _last_month_end(practice: Practice):
    from zoneinfo import ZoneInfo

    today = timezone.localdate(timezone.now(), ZoneInfo(practice.timezone))
    return today.replace(day=1) - timedelta(days=1)


def _choose_patient(clinician: Membership, period_end):
    """Elena's adult patient who owed the most at the end of last month (else her first adult)."""
    from billing.selectors_patient_billing import patient_balance
    from clinical.models import Patient

    patients = [p for p in Patient.objects.filter(primary_clinician=clinician).order_by("pk") if not p.is_minor]
    if not patients:
        return None
    return max(patients, key=lambda p: (patient_balance(patient=p, as_of=period_end), -p.pk))


def _login(access) -> dict[str, Any]:
    patient = access.patient
    return {
        "practice": access.practice.slug,
        "email": access.user.email,
        "name": patient.display_name,
        "patient_mrn": patient.mrn,
    }


def existing_login(practice: Practice) -> dict[str, Any] | None:
    from portal.models import PortalAccess

    access = (
        PortalAccess.objects.filter(practice=practice, user__email__endswith="@" + PATIENT_EMAIL_DOMAIN, is_active=True)
        .select_related("user", "patient", "practice")
        .order_by("pk")
        .first()
    )
    return _login(access) if access is not None else None


def seed_portal(practice: Practice, *, password: str, encoded_password: str = "") -> dict[str, Any]:
    """Seed the portal demo (module docstring). Returns {"changes": n, "patients": [login]}; the
    login dicts carry practice, email, name and patient_mrn. `encoded_password` (the staff accounts'
    hash of `password`) is given to the patient account too, so every demo account shares one hash."""
    found = existing_login(practice)
    if found is not None:
        return {"changes": 0, "patients": [found]}
    clinician = _member(CLINICIAN_EMAIL)
    front_desk = _member(FRONT_DESK_EMAIL, Role.FRONT_DESK)
    manager = _member("", Role.ADMIN) or _member("", Role.OWNER)
    biller = _member("", Role.BILLER)
    if clinician is None or front_desk is None or manager is None:
        return {"changes": 0, "patients": []}
    period_end = _last_month_end(practice)
    patient = _choose_patient(clinician, period_end)
    if patient is None:
        return {"changes": 0, "patients": []}

    _settings(practice, manager, clinician)
    access = _account(patient, front_desk, password, encoded_password)
    _intake(practice, access, front_desk)
    _messages(access, clinician)
    _due_questionnaire(access.patient, clinician)
    _statement(access.patient, period_end, biller)
    _telehealth_visit(access, clinician)
    access.refresh_from_db()
    return {"changes": 1, "patients": [_login(access)]}


def _settings(practice: Practice, manager: Membership, clinician: Membership) -> None:
    from portal.access import portal_settings_for
    from portal.intake_defaults import install_default_intake
    from portal.services_booking import portal_settings_update

    packet = install_default_intake(practice)
    current = portal_settings_for(practice)
    bookable = list(current.bookable_clinicians.all())
    if clinician not in bookable:
        bookable.append(clinician)
    portal_settings_update(
        by=manager,
        bookable_clinicians=bookable,
        online_booking_enabled=True,
        shared_instruments=sorted(set(current.shared_instruments or []) | set(SHARED_INSTRUMENTS)),
        intake_packet=current.intake_packet or packet,
    )


def _account(patient, front_desk: Membership, password: str, encoded_password: str):
    """The chart email set to the portal address, then an invitation sent and accepted."""
    from clinical.services.patients import patient_update
    from portal.models import PortalInvitation, Relationship
    from portal.services_accounts import portal_invitation_accept, portal_invitation_send

    email = portal_email(patient)
    if patient.email != email:
        patient = patient_update(patient=patient, by=front_desk, email=email)
    _invitation, token = portal_invitation_send(
        patient=patient,
        by=front_desk,
        relationship=Relationship.SELF,
        channel=PortalInvitation.Channel.EMAIL,
        email=email,
    )
    if encoded_password:
        # The staff accounts' hash of the same password (seed_demo hashes it once: PBKDF2 is slow on
        # purpose); the account is made first and the invitation accepted into it.
        user = User(email=email, full_name=patient.display_name, password=encoded_password)
        user.save()
        return portal_invitation_accept(token=token, user=user)
    return portal_invitation_accept(token=token, password=password, full_name=patient.display_name, email=email)


def _form_answers(form_class, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Parse the answers the way the intake page does; a demo value the form rejects is a bug here."""
    form = form_class(data=data, **kwargs)
    if not form.is_valid():
        raise DomainError(f"Demo intake answers rejected: {form.errors.as_json()}")
    return form.answers()


def _demographics(patient) -> dict[str, Any]:
    from portal.forms_intake import DemographicsForm

    data = {
        "legal_first_name": patient.legal_first_name,
        "legal_middle_name": patient.legal_middle_name,
        "legal_last_name": patient.legal_last_name,
        "preferred_name": patient.preferred_name,
        "pronouns": patient.pronouns,
        "address_line1": patient.address_line1 or "1020 SW Taylor Street",
        "address_line2": patient.address_line2,
        "city": patient.city or "Portland",
        "state": patient.state or "OR",
        "postal_code": patient.postal_code or "97205",
        "phone": patient.phone or "(503) 555-0100",
        "email": patient.email,
        "emergency_contact_name": patient.emergency_contact_name or "Sam Lee",
        "emergency_contact_phone": patient.emergency_contact_phone or "(503) 555-0101",
        "emergency_contact_relationship": patient.emergency_contact_relationship or "Partner",
    }
    return _form_answers(DemographicsForm, data, is_minor=False)


def _insurance(patient) -> dict[str, Any]:
    """The primary coverage on file as the patient would type it; no coverage: self-pay."""
    from billing.models import Coverage, Payer
    from portal.forms_intake import InsuranceForm

    payers = list(Payer.objects.filter(is_active=True).order_by("name"))
    coverage = (
        Coverage.objects.filter(patient=patient, is_active=True, priority=Coverage.Priority.PRIMARY)
        .select_related("payer")
        .order_by("-id")
        .first()
    )
    if coverage is None or coverage.payer not in payers:
        return _form_answers(InsuranceForm, {"has_insurance": "no"}, payers=payers)
    data = {
        "has_insurance": "yes",
        "payer": str(coverage.payer.public_id),
        "member_id": coverage.member_id,
        "group_number": coverage.group_number,
        "relationship": coverage.relationship,
    }
    if coverage.relationship != Coverage.Relationship.SELF:
        data |= {
            "subscriber_first_name": coverage.subscriber_first_name,
            "subscriber_last_name": coverage.subscriber_last_name,
            "subscriber_date_of_birth": coverage.subscriber_date_of_birth.isoformat()
            if coverage.subscriber_date_of_birth
            else "",
            "subscriber_sex": coverage.subscriber_sex,
        }
    return _form_answers(InsuranceForm, data, payers=payers)


def _history() -> dict[str, Any]:
    from portal.forms_intake import HistoryForm

    data = {
        "presenting_concerns": (
            "Low mood and poor sleep since a job change this spring; I worry a lot about work and find it hard "
            "to switch off in the evening."
        ),
        "previous_treatment": "yes",
        "previous_treatment_detail": "Six sessions of counseling in 2019; learning to plan my week helped.",
        "medications": "None",
        "hospitalisations": "no",
        "substance_use": "no",
        "family_history": "My mother has had depression.",
    }
    return _form_answers(HistoryForm, data)


def _intake(practice: Practice, access, front_desk: Membership) -> None:
    """The default packet filled in step by step, submitted and accepted into the chart."""
    from assessments.models import Response
    from assessments.services import response_record
    from portal.access import portal_settings_for
    from portal.models import IntakeStep
    from portal.services_intake import (
        consent_sign,
        intake_accept,
        questionnaires_ensure,
        step_save,
        submission_start,
        submission_submit,
    )

    packet = portal_settings_for(practice).intake_packet
    if packet is None:
        return
    patient = access.patient
    submission = submission_start(access=access, packet=packet)
    answers = {
        IntakeStep.Kind.DEMOGRAPHICS: _demographics(patient),
        IntakeStep.Kind.INSURANCE: _insurance(patient),
        IntakeStep.Kind.HISTORY: _history(),
    }
    questionnaire_answers = {"PHQ-9": PHQ9_ANSWERS, "GAD-7": GAD7_ANSWERS}
    for step in packet.steps.all().order_by("position"):
        if step.kind in answers:
            submission = step_save(submission=submission, step=step, answers=answers[step.kind])
        elif step.kind == IntakeStep.Kind.CONSENT:
            consent_sign(
                submission=submission,
                step=step,
                access=access,
                typed_name=patient.legal_name,
                agreed=True,
                ip_address=None,
                user_agent="Tend demo seed",
            )
        elif step.kind == IntakeStep.Kind.QUESTIONNAIRES:
            for code, administration in questionnaires_ensure(submission=submission, step=step).items():
                if code in questionnaire_answers:
                    response = response_record(
                        patient=patient,
                        instrument_code=code,
                        answers=questionnaire_answers[code],
                        mode=Response.Mode.PORTAL,
                        administration=administration,
                    )
                    _screening_charge(response)
            questionnaires_ensure(submission=submission, step=step)
        submission.refresh_from_db()
    submission = submission_submit(submission=submission)
    intake_accept(submission=submission, by=front_desk)


def _screening_charge(response) -> None:
    """The 96127 charge billing records after commit (billing.tasks_charges), recorded now as
    billing/demo_claims.py does, so the demo is complete before seed_demo's transaction commits
    (the task then finds it recorded and adds nothing)."""
    from billing.services_charges import charge_for_response

    # Not billable here (e.g. no fee for 96127): the task would skip it too.
    with contextlib.suppress(DomainError):
        charge_for_response(response_id=response.pk)


def _messages(access, clinician: Membership) -> None:
    """Three threads, dated over the last days: answered and read, unread by the patient, waiting
    for the practice's reply."""
    from portal.models import MessageThread, ThreadMessage
    from portal.services_messages import (
        message_reply_by_staff,
        thread_mark_read_by_patient,
        thread_mark_read_by_staff,
        thread_start_by_patient,
        thread_start_by_staff,
    )

    patient, user = access.patient, access.user
    first = patient.preferred_name or patient.legal_first_name
    now = timezone.now()

    asked = thread_start_by_patient(
        patient=patient,
        user=user,
        subject=FIRST_SUBJECT,
        body=(
            "Hi Elena, is my next appointment still on at the usual time? I may have a work trip that week "
            "and wanted to check before I book anything."
        ),
    )
    reply = message_reply_by_staff(
        thread=asked,
        by=clinician,
        body=(
            f"Hi {first}, yes, it is still on. If the trip clashes, you can move it under Appointments in the "
            "portal up to a day before, or we can meet by video that week."
        ),
    )
    thread_mark_read_by_staff(thread=asked, by=clinician)
    thread_mark_read_by_patient(thread=asked)

    note = thread_start_by_staff(
        patient=patient,
        by=clinician,
        subject=UNREAD_SUBJECT,
        body=(
            f"Hi {first}, as we discussed, try writing down one thing each evening that went the way you wanted. "
            "Bring the list next time and we will look at it together."
        ),
    )
    waiting = thread_start_by_patient(
        patient=patient,
        user=user,
        subject=WAITING_SUBJECT,
        body="Could you send me a receipt for my sessions this year? My HSA needs one with the dates and codes.",
    )

    # Date the conversation like a real week: asked two days ago, answered the next morning.
    def at(delta: timedelta):
        return now - delta

    asked_at, replied_at, read_at = (
        at(timedelta(days=2, hours=3)),
        at(timedelta(days=1, hours=8)),
        at(timedelta(days=1)),
    )
    ThreadMessage.objects.filter(thread=asked, sender_user__isnull=False).update(sent_at=asked_at)
    ThreadMessage.objects.filter(pk=reply.pk).update(sent_at=replied_at, read_by_patient_at=read_at)
    MessageThread.objects.filter(pk=asked.pk).update(last_message_at=replied_at)
    for thread, when in ((note, at(timedelta(hours=5))), (waiting, at(timedelta(hours=2)))):
        ThreadMessage.objects.filter(thread=thread).update(sent_at=when)
        MessageThread.objects.filter(pk=thread.pk).update(last_message_at=when)


def _due_questionnaire(patient, clinician: Membership) -> None:
    """A PHQ-9 Elena sends to the portal now (sent, not answered: it shows as due)."""
    from assessments.models import DeliveryChannel
    from assessments.services_delivery import administration_request, administration_send

    administration = administration_request(
        patient=patient, instrument_code="PHQ-9", channel=DeliveryChannel.PORTAL, by=clinician
    )
    administration_send(administration_id=administration.pk)


def _statement(patient, period_end, biller: Membership | None) -> None:
    from billing.models import Statement
    from billing.services_patient_billing import statement_issue

    if not Statement.objects.filter(patient=patient).exists():
        statement_issue(patient=patient, period_end=period_end, by=biller)


def _telehealth_visit(access, clinician: Membership) -> None:
    """The patient books a video visit in Elena's first open slot a week or more ahead (optional:
    skipped when no type that can be telehealth is open to online booking or no slot is free)."""
    from portal import selectors_booking as sel
    from portal.access import portal_settings_for
    from portal.services_booking import portal_appointment_book
    from scheduling.models import AppointmentType
    from scheduling.selectors import scheduling_settings

    portal = portal_settings_for(access.practice)
    types = [
        t
        for t in sel.bookable_types(patient=access.patient, portal=portal)
        if t.modality != AppointmentType.Modality.IN_PERSON
    ]
    if not types:
        return
    window = sel.booking_window(portal=portal, sched=scheduling_settings(access.practice_id))
    start = timezone.localdate() + timedelta(days=TELEHEALTH_AFTER_DAYS)
    for appointment_type in sorted(types, key=lambda t: (t.modality != AppointmentType.Modality.EITHER, t.name)):
        for slot in sel.slots_for(
            clinician=clinician, appointment_type=appointment_type, window=window, start=start, days=14
        ):
            try:
                portal_appointment_book(
                    access=access,
                    appointment_type=appointment_type,
                    clinician=clinician,
                    starts_at=slot.starts_at,
                    location=slot.location,
                    is_telehealth=True,
                )
            except DomainError:
                continue  # e.g. the patient already has a visit at that time
            return
