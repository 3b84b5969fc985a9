"""Reads of risk alerts: the alert list, one alert, the badge count, the dashboard card, and what
an open alert asks of the patient's next progress note. Every queryset names its joins."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from assessments.models import RiskAlert
from assessments.services_alerts import ADMIN_ROLES, LEVEL_ADMINS, LEVEL_CLINICIAN, LEVEL_SUPERVISOR
from practice.models import Membership
from practice.permissions import Perm

RECENT_ACKNOWLEDGED_DAYS = 30
LIST_LIMIT = 200

_JOINS = ("patient", "clinician__user", "response", "escalated_to__user", "acknowledged_by__user")


def visible_q(member: Membership) -> Q | None:
    """Alerts the member may open (None: all of the practice's). Owners/admins see every alert;
    others their own patients' alerts, alerts escalated to them and their supervisees' alerts."""
    if member.role in ADMIN_ROLES:
        return None
    return Q(clinician=member) | Q(escalated_to=member) | Q(clinician__supervisor=member)


def actionable_q(member: Membership) -> Q:
    """Open alerts the member must act on now: their own patients', escalated to them (or to a
    supervisor they are: level 1 of a supervisee), and, for owners/admins, those at level 2."""
    q = (
        Q(clinician=member)
        | Q(escalated_to=member)
        | Q(clinician__supervisor=member, escalation_level__gte=LEVEL_SUPERVISOR)
    )
    if member.role in ADMIN_ROLES:
        q |= Q(escalation_level=LEVEL_ADMINS)
    return q


def alerts_visible_to(member: Membership) -> QuerySet[RiskAlert]:
    if not member.has_perm(Perm.RISK_ALERT_ACKNOWLEDGE):
        return RiskAlert.objects.none()
    q = visible_q(member)
    qs = RiskAlert.objects.all()
    return qs if q is None else qs.filter(q)


def open_alerts_on_chart(*, patient, member: Membership) -> list[RiskAlert]:
    """The patient's open alerts for the chart header (one query); `can_open` says whether the
    viewer may open the alert page (the same rule as `visible_q`)."""
    alerts = list(
        RiskAlert.objects.filter(patient=patient, status=RiskAlert.Status.OPEN)
        .select_related("clinician")
        .order_by("-created_at", "-id")
    )
    may_act = member.has_perm(Perm.RISK_ALERT_ACKNOWLEDGE)
    for alert in alerts:
        alert.can_open = may_act and (
            member.role in ADMIN_ROLES
            or member.pk in (alert.clinician_id, alert.escalated_to_id)
            or (alert.clinician is not None and alert.clinician.supervisor_id == member.pk)
        )
    return alerts


def risk_alert_list(*, member: Membership, status: str = "") -> list[RiskAlert]:
    """Open alerts first (oldest waiting first), then those acknowledged in the last 30 days
    (newest first). Bounded: three queries, at most LIST_LIMIT rows of each."""
    qs = alerts_visible_to(member).select_related(*_JOINS)
    since = timezone.now() - timedelta(days=RECENT_ACKNOWLEDGED_DAYS)
    rows: list[RiskAlert] = []
    if status in ("", RiskAlert.Status.OPEN):
        rows += list(qs.filter(status=RiskAlert.Status.OPEN).order_by("created_at", "id")[:LIST_LIMIT])
    if status in ("", RiskAlert.Status.ACKNOWLEDGED):
        rows += list(
            qs.filter(status=RiskAlert.Status.ACKNOWLEDGED, acknowledged_at__gte=since).order_by(
                "-acknowledged_at", "-id"
            )[:LIST_LIMIT]
        )
    actionable = _actionable_ids(member, [a.pk for a in rows if a.status == RiskAlert.Status.OPEN])
    for alert in rows:
        alert.needs_me = alert.pk in actionable
    return rows


def _actionable_ids(member: Membership, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    return set(RiskAlert.objects.filter(pk__in=ids).filter(actionable_q(member)).values_list("pk", flat=True))


def risk_alert_get(*, member: Membership, alert_id: Any) -> RiskAlert:
    """One alert the member may open, by public_id (DoesNotExist otherwise: a 404)."""
    return alerts_visible_to(member).select_related(*_JOINS, "clinician__supervisor__user").get(public_id=alert_id)


def open_alert_count(member: Membership) -> int:
    """The sidebar badge: open alerts the member must act on (one COUNT; 0 without the perm)."""
    if member is None or not member.has_perm(Perm.RISK_ALERT_ACKNOWLEDGE):
        return 0
    return RiskAlert.objects.filter(status=RiskAlert.Status.OPEN).filter(actionable_q(member)).count()


def open_alerts_for(member: Membership) -> list[RiskAlert]:
    """My work: open alerts the member must act on, oldest first (one query)."""
    if not member.has_perm(Perm.RISK_ALERT_ACKNOWLEDGE):
        return []
    rows = list(
        RiskAlert.objects.filter(status=RiskAlert.Status.OPEN)
        .filter(actionable_q(member))
        .select_related("patient")
        .order_by("created_at", "id")[:LIST_LIMIT]
    )
    now = timezone.now()
    for alert in rows:
        alert.waiting = now - alert.created_at
    return rows


def dashboard_card(member: Membership) -> dict[str, Any] | None:
    """The dashboard's "Risk alerts" card: open, escalated, oldest waiting (one aggregate query).
    Owners/admins see the practice's; others the alerts they may open. None without the perm."""
    if not member.has_perm(Perm.RISK_ALERT_ACKNOWLEDGE):
        return None
    row = (
        alerts_visible_to(member)
        .filter(status=RiskAlert.Status.OPEN)
        .aggregate(
            open=Count("id"),
            escalated=Count("id", filter=Q(escalation_level__gt=LEVEL_CLINICIAN)),
            oldest=Min("created_at"),
        )
    )
    row["oldest_waiting"] = (timezone.now() - row["oldest"]) if row["oldest"] else None
    return row


def risk_requirements_for_note(note) -> list[RiskAlert]:
    """Alerts of the note's patient that the note must answer before it is signed: not yet
    addressed by a signed note, and not acknowledged as "not clinically significant". One query."""
    if note is None or note.patient_id is None:
        return []
    return list(
        RiskAlert.objects.filter(patient_id=note.patient_id, addressed_by_note__isnull=True)
        .exclude(status=RiskAlert.Status.ACKNOWLEDGED, action=RiskAlert.Action.NOT_SIGNIFICANT)
        .select_related("response")
        .order_by("created_at", "id")
    )


def escalation_trail(alert: RiskAlert) -> list[dict[str, Any]]:
    """What happened to the alert, oldest first, from its own columns."""
    trail: list[dict[str, Any]] = [
        {
            "at": alert.created_at,
            "text": (
                f"Opened for {alert.clinician.user.display_name}"
                if alert.clinician_id
                else "Opened for the owners and admins (the patient has no primary clinician)"
            ),
        }
    ]
    if alert.escalated_at and alert.clinician_id:
        if alert.escalation_level == LEVEL_SUPERVISOR and alert.escalated_to_id:
            text = f"Escalated to the supervisor, {alert.escalated_to.user.display_name}"
        elif alert.escalated_to_id:
            text = f"Escalated to the owners and admins (after {alert.escalated_to.user.display_name})"
        else:
            text = "Escalated to the owners and admins (no active supervisor)"
        trail.append({"at": alert.escalated_at, "text": text})
    if alert.acknowledged_at:
        trail.append(
            {
                "at": alert.acknowledged_at,
                "text": f"Acknowledged by {alert.acknowledged_by.user.display_name}: {alert.get_action_display()}",
            }
        )
    return trail


# --- The safety loop -------------------------------------------------------------------------

EARLIER_SLOT_DAYS = 7
EARLIER_SLOT_LIMIT = 6


def next_booked_attendance(patient):
    """The patient's next active appointment (an Attendee with its appointment), or None."""
    from scheduling.models import Attendee

    return (
        Attendee.objects.filter(patient=patient, status__in=Attendee.ACTIVE_STATUSES, starts_at__gt=timezone.now())
        .select_related("appointment__appointment_type", "appointment__clinician__user", "appointment__location")
        .order_by("starts_at", "id")
        .first()
    )


def earlier_slots(*, alert: RiskAlert, next_attendance=None) -> list:
    """The clinician's open slots in the next 7 days that come before the patient's next booked
    appointment (all of them when none is booked), of the next appointment's type (else the
    practice's first individual type). At most EARLIER_SLOT_LIMIT."""
    from scheduling.models import AppointmentType
    from scheduling.selectors import open_slots

    clinician = alert.clinician or alert.patient.primary_clinician
    if clinician is None or not clinician.is_active:
        return []
    appointment_type = None
    if next_attendance is not None:
        appointment_type = next_attendance.appointment.appointment_type
    if appointment_type is None or appointment_type.is_group:
        appointment_type = (
            AppointmentType.objects.filter(is_active=True, is_group=False).order_by("duration_minutes", "name").first()
        )
    if appointment_type is None:
        return []
    today = timezone.localdate()
    slots = open_slots(
        clinician=clinician,
        appointment_type=appointment_type,
        start=today,
        end=today + timedelta(days=EARLIER_SLOT_DAYS),
    )
    if next_attendance is not None:
        slots = [s for s in slots if s.starts_at < next_attendance.starts_at]
    return slots[:EARLIER_SLOT_LIMIT]
