"""What each role may do: the one readable place views, the API and tests consult.

Caseload (which patients) is decided per object with django-guardian grants and the
`*_ALL_PATIENTS` permissions below; this matrix decides which *kinds* of action a role has.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Practice admin"
    CLINICIAN = "clinician", "Clinician"
    SUPERVISOR = "supervisor", "Supervisor"
    FRONT_DESK = "front_desk", "Front desk"
    BILLER = "biller", "Biller"


class Perm(StrEnum):
    # Practice administration
    PRACTICE_VIEW_DASHBOARD = "practice.view_dashboard"
    PRACTICE_MANAGE_SETTINGS = "practice.manage_settings"
    PRACTICE_MANAGE_LOCATIONS = "practice.manage_locations"
    STAFF_VIEW = "staff.view"
    STAFF_MANAGE = "staff.manage"
    AUDIT_VIEW = "audit.view"
    AUDIT_EXPORT = "audit.export"
    LOCATION_VIEW = "location.view"
    # Patients and the chart
    PATIENT_VIEW_DEMOGRAPHICS = "patient.view_demographics"
    PATIENT_EDIT_DEMOGRAPHICS = "patient.edit_demographics"
    PATIENT_VIEW_ALL_PATIENTS = "patient.view_all_patients"  # otherwise caseload only
    CHART_VIEW_CLINICAL = "chart.view_clinical"  # note content, plans, diagnoses
    NOTE_WRITE = "note.write"
    NOTE_COSIGN = "note.cosign"
    CHART_BREAK_GLASS = "chart.break_glass"
    CHART_EXPORT = "chart.export"
    # Scheduling
    SCHEDULE_VIEW = "schedule.view"
    SCHEDULE_MANAGE = "schedule.manage"
    # Assessments and outcomes
    ASSESSMENT_VIEW_RESULTS = "assessment.view_results"
    ASSESSMENT_ASSIGN = "assessment.assign"
    ASSESSMENT_MANAGE_PROTOCOLS = "assessment.manage_protocols"
    RISK_ALERT_ACKNOWLEDGE = "assessment.acknowledge_risk_alert"
    OUTCOMES_VIEW_DASHBOARD = "outcomes.view_dashboard"
    # Billing
    BILLING_VIEW = "billing.view"
    BILLING_MANAGE = "billing.manage"
    BILLING_SETUP = "billing.setup"  # payers, fee schedules, billing identity, clearinghouse
    COVERAGE_MANAGE = "billing.manage_coverage"  # insurance cards, authorizations, eligibility
    AR_VIEW_DASHBOARD = "ar.view_dashboard"
    # Patient portal (issue 8)
    PORTAL_INVITE = "portal.invite"  # send a patient or guardian a portal invitation
    PORTAL_MANAGE_SETTINGS = "portal.manage_settings"  # online booking rules, intake packets, consents
    INTAKE_REVIEW = "portal.review_intake"  # accept submitted intake into the chart
    MESSAGES_VIEW = "portal.view_messages"  # the staff inbox: read, reply, assign (caseload rules apply)
    MESSAGING_MANAGE = "portal.manage_messaging"  # turn portal messaging off or on for a patient
    # Integrations (issue 9)
    INTEGRATIONS_MANAGE = "integrations.manage"  # API keys and webhook endpoints
    DATA_IMPORT = "integrations.import"  # CSV migration from another system
    DATA_EXPORT = "integrations.export"  # the full practice export (owner only: it is every record)


_EVERYONE = {Perm.PRACTICE_VIEW_DASHBOARD, Perm.LOCATION_VIEW, Perm.STAFF_VIEW}
_CLINICAL = {
    Perm.PATIENT_VIEW_DEMOGRAPHICS,
    Perm.PATIENT_EDIT_DEMOGRAPHICS,
    Perm.CHART_VIEW_CLINICAL,
    Perm.NOTE_WRITE,
    Perm.CHART_BREAK_GLASS,
    Perm.CHART_EXPORT,
    Perm.SCHEDULE_VIEW,
    Perm.SCHEDULE_MANAGE,
    Perm.ASSESSMENT_VIEW_RESULTS,
    Perm.ASSESSMENT_ASSIGN,
    Perm.RISK_ALERT_ACKNOWLEDGE,
    Perm.PORTAL_INVITE,
    Perm.INTAKE_REVIEW,
    Perm.MESSAGES_VIEW,
    Perm.MESSAGING_MANAGE,
}
_PRACTICE_ADMIN = {
    Perm.PRACTICE_MANAGE_SETTINGS,
    Perm.PRACTICE_MANAGE_LOCATIONS,
    Perm.STAFF_MANAGE,
    Perm.AUDIT_VIEW,
    Perm.AUDIT_EXPORT,
    Perm.OUTCOMES_VIEW_DASHBOARD,
    Perm.AR_VIEW_DASHBOARD,
    Perm.ASSESSMENT_MANAGE_PROTOCOLS,
    # Escalated risk alerts reach the admins: they must be able to close the loop.
    Perm.RISK_ALERT_ACKNOWLEDGE,
    Perm.PORTAL_INVITE,
    Perm.PORTAL_MANAGE_SETTINGS,
    Perm.INTAKE_REVIEW,
    Perm.MESSAGES_VIEW,
    Perm.INTEGRATIONS_MANAGE,
    Perm.DATA_IMPORT,
}

ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    # The owner is usually the clinical director too: everything, every patient.
    Role.OWNER: frozenset(Perm),
    # Runs the practice: staff, settings, audit, dashboards, demographics and billing; note
    # content only through break-the-glass.
    Role.ADMIN: frozenset(
        _EVERYONE
        | _PRACTICE_ADMIN
        | {
            Perm.PATIENT_VIEW_DEMOGRAPHICS,
            Perm.PATIENT_EDIT_DEMOGRAPHICS,
            Perm.PATIENT_VIEW_ALL_PATIENTS,
            Perm.CHART_BREAK_GLASS,
            Perm.SCHEDULE_VIEW,
            Perm.SCHEDULE_MANAGE,
            Perm.BILLING_VIEW,
            Perm.BILLING_MANAGE,
            Perm.BILLING_SETUP,
            Perm.COVERAGE_MANAGE,
        }
    ),
    # Own caseload and patients explicitly shared with them.
    Role.CLINICIAN: frozenset(_EVERYONE | _CLINICAL),
    # A clinician who also sees supervisees' patients and co-signs their notes.
    Role.SUPERVISOR: frozenset(
        _EVERYONE | _CLINICAL | {Perm.NOTE_COSIGN, Perm.OUTCOMES_VIEW_DASHBOARD, Perm.ASSESSMENT_MANAGE_PROTOCOLS}
    ),
    # Demographics and the schedule of every patient; never note content.
    Role.FRONT_DESK: frozenset(
        _EVERYONE
        | {
            Perm.PATIENT_VIEW_DEMOGRAPHICS,
            Perm.PATIENT_EDIT_DEMOGRAPHICS,
            Perm.PATIENT_VIEW_ALL_PATIENTS,
            Perm.SCHEDULE_VIEW,
            Perm.SCHEDULE_MANAGE,
            Perm.COVERAGE_MANAGE,
            Perm.PORTAL_INVITE,
            Perm.INTAKE_REVIEW,
            Perm.MESSAGES_VIEW,
        }
    ),
    # What billing needs: demographics, coverage, claims; never psychotherapy notes.
    Role.BILLER: frozenset(
        _EVERYONE
        | {
            Perm.PATIENT_VIEW_DEMOGRAPHICS,
            Perm.PATIENT_VIEW_ALL_PATIENTS,
            Perm.SCHEDULE_VIEW,
            Perm.BILLING_VIEW,
            Perm.BILLING_MANAGE,
            Perm.BILLING_SETUP,
            Perm.COVERAGE_MANAGE,
            Perm.AR_VIEW_DASHBOARD,
        }
    ),
}

# Roles that must use TOTP multi-factor authentication (SPEC 2; ASVS 5.0 V6.3.2).
MFA_REQUIRED_ROLES: frozenset[str] = frozenset({Role.OWNER, Role.ADMIN, Role.BILLER})

# Who may grant which role: nobody hands out a role above their own.
ASSIGNABLE_ROLES: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(Role.values),
    Role.ADMIN: frozenset(Role.values) - {Role.OWNER},
}


def role_has_perm(role: str, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS.get(role, frozenset())


def role_requires_mfa(role: str) -> bool:
    return role in MFA_REQUIRED_ROLES
