"""What the cross-tenant sweep covers. Every later issue adds its models and routes here.

The sweep fails when a model with a `practice` field, a page route taking an object id, or an
API endpoint exposing a model is missing from this file, so nothing new escapes it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from itertools import count

from django.db.models import Model
from django.utils.timezone import now

from assessments.tests import factories as af
from billing.tests import factories as bf
from clinical.tests import factories as cf
from integrations.tests import sweep_data, sweep_keys, sweep_webhooks
from notifications.tests import factories as nf
from portal.tests import factories as pf
from portal.tests import sweep_account, sweep_appointments, sweep_intake, sweep_messages, sweep_records
from practice.models import Practice
from practice.permissions import Role
from practice.tests import factories as f
from scheduling.tests import factories as sf

# model label -> how to make one row of it in a practice. `member`, when given, is the member the
# row belongs to (primary clinician, author, uploader), so the role matrix can test a route's
# permission without tripping over caseload or author-only rules.
Maker = Callable[..., Model]


def _patient(p: Practice, member=None):
    return cf.PatientFactory(practice=p, **({"primary_clinician": member} if member else {}))


def _by(member) -> dict:
    return {"author": member} if member else {}


def _note(p, member=None, **kw):
    return cf.ProgressNoteFactory(patient=_patient(p, member), **_by(member), **kw)


_appointment_hours = count()


def _appointment(p, member=None):
    """A member's appointment; each one an hour later, so one member's rows never overlap (PostgreSQL
    refuses a clinician's overlapping appointments)."""
    if member is None:
        return sf.appointment_with_patient(p)
    starts_at = sf.next_weekday_at(8) + timedelta(hours=next(_appointment_hours))
    return sf.appointment_with_patient(
        p, clinician=member, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=45)
    )


def _scrub_rule_setting(p):
    from billing.models import ScrubRuleSetting

    return ScrubRuleSetting.all_objects.create(practice=p, payer=bf.PayerFactory(practice=p), rule_code="C8")


def _plan(p, member=None):
    return cf.TreatmentPlanFactory(patient=_patient(p, member), **_by(member))


SWEPT_MODELS: dict[str, Maker] = {
    "practice.Location": lambda p, member=None: f.LocationFactory(practice=p),
    "practice.Membership": lambda p, member=None: f.MembershipFactory(practice=p, role=Role.CLINICIAN),
    "practice.Invitation": lambda p, member=None: f.InvitationFactory(practice=p),
    "practice.ApiToken": lambda p, member=None: f.ApiTokenFactory(
        practice=p, **({"membership": member} if member else {})
    ),
    "clinical.Patient": lambda p, member=None: _patient(p, member),
    "clinical.CommunicationConsent": lambda p, member=None: cf.CommunicationConsentFactory(patient=_patient(p, member)),
    "clinical.Diagnosis": lambda p, member=None: cf.DiagnosisFactory(patient=_patient(p, member)),
    "clinical.NoteTemplate": lambda p, member=None: cf.NoteTemplateFactory(practice=p, name=f"Custom {p.slug}"),
    "clinical.ProgressNote": lambda p, member=None: _note(p, member),
    "clinical.NoteAddendum": lambda p, member=None: cf.NoteAddendumFactory(
        note=_note(p, member, status="signed", signed_at=now()), **_by(member)
    ),
    "clinical.PsychotherapyNote": lambda p, member=None: cf.PsychotherapyNoteFactory(
        patient=_patient(p, member), **_by(member)
    ),
    "clinical.TreatmentPlan": lambda p, member=None: _plan(p, member),
    "clinical.TreatmentProblem": lambda p, member=None: cf.TreatmentProblemFactory(plan=_plan(p, member)),
    "clinical.TreatmentGoal": lambda p, member=None: cf.TreatmentGoalFactory(
        problem=cf.TreatmentProblemFactory(plan=_plan(p, member))
    ),
    "clinical.TreatmentObjective": lambda p, member=None: cf.TreatmentObjectiveFactory(
        goal=cf.TreatmentGoalFactory(problem=cf.TreatmentProblemFactory(plan=_plan(p, member)))
    ),
    "clinical.Medication": lambda p, member=None: cf.MedicationFactory(patient=_patient(p, member)),
    "clinical.Prescription": lambda p, member=None: cf.PrescriptionFactory(
        medication=cf.MedicationFactory(patient=_patient(p, member)),
        **({"prescriber": member} if member else {}),
    ),
    "clinical.Document": lambda p, member=None: cf.DocumentFactory(patient=_patient(p, member)),
    "scheduling.Room": lambda p, member=None: sf.RoomFactory(practice=p),
    "scheduling.AppointmentType": lambda p, member=None: sf.AppointmentTypeFactory(practice=p),
    "scheduling.AvailabilityRule": lambda p, member=None: sf.AvailabilityRuleFactory(
        practice=p, **({"clinician": member} if member else {})
    ),
    "scheduling.AvailabilityException": lambda p, member=None: sf.AvailabilityExceptionFactory(
        practice=p, **({"clinician": member} if member else {})
    ),
    "scheduling.AppointmentSeries": lambda p, member=None: sf.AppointmentSeriesFactory(practice=p),
    "scheduling.Appointment": lambda p, member=None: _appointment(p, member),
    "scheduling.Attendee": lambda p, member=None: _appointment(p, member).attendees.first(),
    "scheduling.StatusChange": lambda p, member=None: sf.StatusChangeFactory(
        appointment=sf.AppointmentFactory(practice=p)
    ),
    "scheduling.WaitlistEntry": lambda p, member=None: sf.WaitlistEntryFactory(practice=p, patient=_patient(p, member)),
    "scheduling.WaitlistOffer": lambda p, member=None: sf.WaitlistOfferFactory(
        entry=sf.WaitlistEntryFactory(practice=p)
    ),
    "scheduling.CalendarFeed": lambda p, member=None: sf.CalendarFeedFactory(
        practice=p, **({"clinician": member} if member else {})
    ),
    "notifications.MessageTemplate": lambda p, member=None: nf.MessageTemplateFactory(practice=p),
    "notifications.Message": lambda p, member=None: nf.MessageFactory(practice=p),
    "notifications.ReminderRule": lambda p, member=None: nf.ReminderRuleFactory(practice=p),
    "notifications.Reminder": lambda p, member=None: nf.ReminderFactory(
        attendee=sf.appointment_with_patient(p).attendees.first()
    ),
    "notifications.InboundMessage": lambda p, member=None: nf.InboundMessageFactory(practice=p),
    "assessments.Protocol": lambda p, member=None: af.ProtocolFactory(practice=p),
    "assessments.ProtocolAssignment": lambda p, member=None: af.ProtocolAssignmentFactory(
        practice=p, patient=_patient(p, member)
    ),
    "assessments.Administration": lambda p, member=None: af.AdministrationFactory(
        practice=p, patient=_patient(p, member)
    ),
    "assessments.Response": lambda p, member=None: af.ResponseFactory(practice=p, patient=_patient(p, member)),
    "assessments.RiskAlert": lambda p, member=None: af.RiskAlertFactory(practice=p, patient=_patient(p, member)),
    # billing (issue 6)
    "billing.RenderingProvider": lambda p, member=None: bf.RenderingProviderFactory(
        practice=p, **({"membership": member} if member else {})
    ),
    "billing.Payer": lambda p, member=None: bf.PayerFactory(practice=p),
    "billing.ScrubRuleSetting": lambda p, member=None: _scrub_rule_setting(p),
    "billing.FeeSchedule": lambda p, member=None: bf.FeeScheduleFactory(practice=p),
    "billing.FeeScheduleEntry": lambda p, member=None: bf.FeeScheduleEntryFactory(practice=p),
    "billing.SlidingScaleTier": lambda p, member=None: bf.SlidingScaleTierFactory(practice=p),
    "billing.Coverage": lambda p, member=None: bf.CoverageFactory(practice=p, patient=_patient(p, member)),
    "billing.PriorAuthorization": lambda p, member=None: bf.PriorAuthorizationFactory(
        practice=p, coverage=bf.CoverageFactory(practice=p, patient=_patient(p, member))
    ),
    "billing.EligibilityCheck": lambda p, member=None: bf.EligibilityCheckFactory(
        practice=p, coverage=bf.CoverageFactory(practice=p, patient=_patient(p, member))
    ),
    "billing.Charge": lambda p, member=None: bf.ChargeFactory(practice=p),
    "billing.Claim": lambda p, member=None: bf.claim_with_lines(p),
    "billing.ClaimLine": lambda p, member=None: bf.claim_with_lines(p).lines.first(),
    "billing.ClaimFile": lambda p, member=None: bf.ClaimFileFactory(practice=p),
    # finished, so any number can be made (one queued/running request per practice)
    "billing.ClaimExportRequest": lambda p, member=None: bf.ClaimExportRequestFactory(practice=p),
    "billing.Transmission": lambda p, member=None: bf.TransmissionFactory(practice=p),
    "billing.InboundFile": lambda p, member=None: bf.InboundFileFactory(practice=p),
    # billing II (issue 7)
    "billing.LedgerTransaction": lambda p, member=None: bf.ledger_charge(bf.ChargeFactory(practice=p)),
    "billing.Remittance": lambda p, member=None: bf.RemittanceFactory(practice=p),
    "billing.RemittanceClaim": lambda p, member=None: bf.RemittanceClaimFactory(practice=p),
    "billing.PatientPayment": lambda p, member=None: bf.PatientPaymentFactory(practice=p, patient=_patient(p, member)),
    "billing.DenialCase": lambda p, member=None: bf.DenialCaseFactory(practice=p),
    "billing.Statement": lambda p, member=None: bf.StatementFactory(practice=p, patient=_patient(p, member)),
    "clinical.EmergencyAccess": lambda p, member=None: cf.EmergencyAccessFactory(
        patient=_patient(p), **({"membership": member} if member else {})
    ),
    # portal (issue 8)
    "portal.PortalSettings": lambda p, member=None: pf.PortalSettingsFactory(practice=p),
    "portal.PortalAccess": lambda p, member=None: pf.PortalAccessFactory(practice=p, patient=_patient(p, member)),
    "portal.PortalInvitation": lambda p, member=None: pf.PortalInvitationFactory(
        practice=p, patient=_patient(p, member)
    ),
    "portal.PortalAppointmentEvent": lambda p, member=None: pf.PortalAppointmentEventFactory(
        practice=p, appointment=_appointment(p, member)
    ),
    "portal.ConsentDocument": lambda p, member=None: pf.ConsentDocumentFactory(practice=p),
    "portal.IntakePacket": lambda p, member=None: pf.IntakePacketFactory(practice=p),
    "portal.IntakeStep": lambda p, member=None: pf.IntakeStepFactory(practice=p),
    "portal.IntakeSubmission": lambda p, member=None: pf.IntakeSubmissionFactory(
        practice=p, patient=_patient(p, member)
    ),
    "portal.IntakeSignature": lambda p, member=None: pf.IntakeSignatureFactory(
        practice=p, submission=pf.IntakeSubmissionFactory(practice=p, patient=_patient(p, member))
    ),
    "portal.IntakeUpload": lambda p, member=None: pf.IntakeUploadFactory(
        practice=p, submission=pf.IntakeSubmissionFactory(practice=p, patient=_patient(p, member))
    ),
    "portal.PatientMessaging": lambda p, member=None: pf.PatientMessagingFactory(
        practice=p, patient=_patient(p, member)
    ),
    "portal.MessageThread": lambda p, member=None: pf.MessageThreadFactory(practice=p, patient=_patient(p, member)),
    "portal.ThreadMessage": lambda p, member=None: pf.ThreadMessageFactory(
        practice=p, thread=pf.MessageThreadFactory(practice=p, patient=_patient(p, member))
    ),
    "portal.ThreadMessageRead": lambda p, member=None: pf.ThreadMessageReadFactory(practice=p),
    "portal.ThreadAttachment": lambda p, member=None: pf.ThreadAttachmentFactory(
        practice=p,
        message=pf.ThreadMessageFactory(
            practice=p, thread=pf.MessageThreadFactory(practice=p, patient=_patient(p, member))
        ),
    ),
}


# Models with a practice field that no route exposes by id, and why.
NOT_EXPOSED_BY_ID: dict[str, str] = {
    "practice.AuditLogEntry": "append-only; shown only in the practice's own audit list and CSV",
    "practice.AccessEvent": "append-only; shown only in the practice's own audit list and CSV",
    "clinical.MrnCounter": "internal sequence row of the practice; never shown",
    "scheduling.SchedulingSettings": "one row per practice, edited on the practice's settings page (no id in URLs)",
    "notifications.NotificationSettings": "one row per practice, edited on the practice's settings page (no id in URLs)",
    "assessments.AssessmentSettings": "one row per practice, edited on the practice's settings page (no id in URLs)",
    "assessments.MeasureSummary": "derived per patient-measure rows read only in aggregate by the outcome dashboard",
    "billing.ARAgingCell": "derived A/R aging sums (billing.ar_rollup), read only in aggregate by the A/R pages",
    "billing.ARRollupState": "one row per practice saying what the aging cells cover; never shown",
    "billing.BillingProfile": "one row per practice, edited on the billing settings page (no id in URLs)",
    "billing.ClearinghouseConnection": "one row per practice, edited on the billing settings page (no id in URLs)",
    "billing.ControlNumberCounter": "internal X12 control-number counters; never shown",
    "billing.PatientBillingSettings": "one row per patient, edited on the patient's billing page (patient id in URLs)",
    "billing.ClaimEvent": "append-only history shown inside its claim's page",
    "billing.ScrubFinding": "shown inside its claim's page; replaced on every scrub",
    "billing.LedgerEntry": "immutable ledger rows shown inside their transaction, claim or patient balance",
    "billing.RemittanceLine": "shown inside its remittance claim's page",
    "billing.ProviderAdjustment": "shown inside its remittance's page",
    "billing.PaymentAllocation": "shown inside its payment's page",
    "billing.DenialNote": "append-only notes shown inside their denial case",
}

# UI route name -> model label of the route's own object: the LAST id kwarg of its URL. Other id
# kwargs are filled from that object (`patient_id` -> obj.patient), see tests/test_tenant_sweep.py.
UI_ROUTES: dict[str, str] = {
    "location_detail": "practice.Location",
    "staff_detail": "practice.Membership",
    "staff_deactivate": "practice.Membership",
    "staff_reactivate": "practice.Membership",
    "invitation_revoke": "practice.Invitation",
    "invitation_resend": "practice.Invitation",
    # clinical: patients (patient_list, patient_create, diagnosis_code_search, break_glass_log take no id)
    "patient_chart": "clinical.Patient",
    "patient_edit": "clinical.Patient",
    "patient_consent": "clinical.Patient",
    "patient_break_glass": "clinical.Patient",
    "patient_share": "clinical.Patient",
    "diagnosis_add": "clinical.Patient",
    "diagnosis_resolve": "clinical.Diagnosis",
    "diagnosis_make_primary": "clinical.Diagnosis",
    # clinical: records (treatment plans, medications, prescriptions, documents, chart PDF, export)
    "plan_create": "clinical.Patient",
    "plan_detail": "clinical.TreatmentPlan",
    "plan_edit": "clinical.TreatmentPlan",
    "plan_sign": "clinical.TreatmentPlan",
    "plan_revise": "clinical.TreatmentPlan",
    "plan_patient_sign": "clinical.TreatmentPlan",
    "plan_objective_status": "clinical.TreatmentPlan",
    "medication_create": "clinical.Patient",
    "medication_edit": "clinical.Medication",
    "prescription_create": "clinical.Medication",
    "prescription_pdf": "clinical.Prescription",
    "document_upload": "clinical.Patient",
    "document_download": "clinical.Document",
    "chart_pdf": "clinical.Patient",
    "patient_export": "clinical.Patient",
    # clinical: notes (cosign_queue, my_work, note_template_list take no id)
    "note_create": "clinical.Patient",
    "note_detail": "clinical.ProgressNote",
    "note_edit": "clinical.ProgressNote",
    "note_autosave": "clinical.ProgressNote",
    "note_sign": "clinical.ProgressNote",
    "note_cosign": "clinical.ProgressNote",
    "note_addendum": "clinical.ProgressNote",
    "note_template_copy": "clinical.NoteTemplate",
    "note_template_edit": "clinical.NoteTemplate",
    "psychotherapy_note_list": "clinical.Patient",
    "psychotherapy_note_create": "clinical.Patient",
    "psychotherapy_note_detail": "clinical.PsychotherapyNote",
    # scheduling: waitlist and calendar feeds (waitlist, waitlist_entry_new, calendar_feeds take no id;
    # the public ical_feed and waitlist_offer_respond take a token, not an id)
    "waitlist_entry": "scheduling.WaitlistEntry",
    "calendar_feed_revoke": "scheduling.CalendarFeed",
    # notifications (outbox, message_templates, reminder_rules, notification_settings take no id)
    "message_detail": "notifications.Message",
    "message_template_edit": "notifications.MessageTemplate",
    "reminder_rule_toggle": "notifications.ReminderRule",
    # scheduling: calendar area (calendar, appointment_new, availability, type/room lists take no id)
    "appointment_detail": "scheduling.Appointment",
    "appointment_reschedule": "scheduling.Appointment",
    "appointment_cancel": "scheduling.Appointment",
    "appointment_status": "scheduling.Appointment",
    "appointment_check_in": "scheduling.Appointment",
    "appointment_start_note": "scheduling.Attendee",
    "availability_rule_edit": "scheduling.AvailabilityRule",
    "availability_exception_edit": "scheduling.AvailabilityException",
    "appointment_type_edit": "scheduling.AppointmentType",
    "room_edit": "scheduling.Room",
    # assessments H3: risk alerts (risk_alert_list takes no id)
    "risk_alert_detail": "assessments.RiskAlert",
    # assessments, H2 delivery (protocol_list, protocol_new, assessment_settings take no id; the
    # public questionnaire_link takes a token)
    "protocol_edit": "assessments.Protocol",
    "assessment_administer": "clinical.Patient",
    "assessment_assign": "clinical.Patient",
    "assessment_send": "clinical.Patient",
    "response_detail": "assessments.Response",
    "response_correct": "assessments.Response",
    "assignment_end": "assessments.ProtocolAssignment",
    # assessments H4: outcomes (outcome_dashboard, quality_reports and their CSVs take no object id)
    "patient_assessments": "clinical.Patient",
    # billing B2: claims (claim_queue, claim_bulk, charge_list take no id)
    "claim_detail": "billing.Claim",
    "claim_action": "billing.Claim",
    "claim_edit": "billing.Claim",
    # billing B1: set-up and coverage (billing_setup, rendering_provider_list, payer_list, payer_new,
    # scrub_rule_settings, fee_schedule_list, fee_schedule_new, sliding_scale_tiers take no id)
    "rendering_provider_edit": "practice.Membership",
    "payer_edit": "billing.Payer",
    "fee_schedule_edit": "billing.FeeSchedule",
    "eligibility_download": "billing.EligibilityCheck",
    "patient_coverage": "clinical.Patient",
    "coverage_edit": "billing.Coverage",
    "authorization_new": "billing.Coverage",
    "authorization_edit": "billing.PriorAuthorization",
    # billing B4: EDI files (x12_files, x12_files_export, inbound_file_upload take no id)
    "x12_file_download": "billing.ClaimFile",
    "x12_export_status": "billing.ClaimExportRequest",
    "inbound_file_detail": "billing.InboundFile",
    # billing II R3: denials (denial_queue takes no id)
    "denial_detail": "billing.DenialCase",
    "denial_action": "billing.DenialCase",
    "appeal_letter_pdf": "billing.DenialCase",
    # billing II R1: remittances (remittance_list, remittance_upload, unmatched_remittances take no id)
    "remittance_detail": "billing.Remittance",
    "remittance_claim_match": "billing.RemittanceClaim",
    "remittance_claim_dismiss": "billing.RemittanceClaim",
    # billing II R2: patient billing
    "patient_balance": "clinical.Patient",
    "statement_pdf": "billing.Statement",
    "superbill_pdf": "clinical.Patient",
    "appointment_copay": "scheduling.Appointment",
    # not under /p/<slug>/: the caller's own tokens only
    "account_token_revoke": "practice.ApiToken",
}

# Staff-side portal routes (intake review, inbox, invitations, settings) join the page sweep.
for _area in (sweep_account, sweep_appointments, sweep_intake, sweep_messages, sweep_records):
    UI_ROUTES.update(_area.STAFF_ROUTES)

# Integrations (issue 9): each area keeps its own entries.
for _area in (sweep_keys, sweep_webhooks, sweep_data):
    SWEPT_MODELS.update(_area.SWEPT_MODELS)
    NOT_EXPOSED_BY_ID.update(_area.NOT_EXPOSED_BY_ID)
    UI_ROUTES.update(_area.STAFF_ROUTES)
