"""Risk alerts: opened from a flagged response, acknowledged with a chosen action, escalated
when they wait too long.

Who acts on an alert (`can_act_on`): the alert's clinician, the member it was escalated to, the
clinician's supervisor, and the practice's owners and admins. Escalation: level 0 (the clinician)
-> level 1 (the clinician's active supervisor) after the practice's `escalate_after_minutes`,
-> level 2 (the active owners and admins) after as long again; no supervisor: 0 -> 2. Alerts for
a patient without a primary clinician open at level 2.

Emails never carry PHI: they say that a questionnaire response needs review and link to the
alert (the reader signs in to see it).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from assessments.library import instrument_or_none
from assessments.models import Response, RiskAlert
from practice.errors import DomainError
from practice.models import Membership
from practice.permissions import Perm, Role

logger = logging.getLogger(__name__)

# Flags that open a risk alert (scoring.py defines them from the published sources).
ALERT_FLAGS = frozenset({"suicide_risk", "self_harm_risk"})

ADMIN_ROLES = (Role.OWNER, Role.ADMIN)
LEVEL_CLINICIAN, LEVEL_SUPERVISOR, LEVEL_ADMINS = 0, 1, 2
LEVEL_LABELS = {
    LEVEL_CLINICIAN: "Clinician",
    LEVEL_SUPERVISOR: "Supervisor",
    LEVEL_ADMINS: "Owners and admins",
}


# --- Opening -----------------------------------------------------------------------------------


def flagged_items(response: Response) -> list[tuple[str, str, str]]:
    """(item key, item text, chosen answer label) of the response's risk items answered above 0."""
    instrument = instrument_or_none(response.instrument_code)
    if instrument is None:
        return []
    answers = list(response.answers or [])
    out = []
    for item in instrument.items:
        if not item.is_risk_item or item.number > len(answers):
            continue
        value = answers[item.number - 1]
        if value in (None, 0):
            continue
        label = next((o.label for o in item.options if o.value == value), str(value))
        out.append((item.key, item.text, label))
    return out


def _summary(response: Response, flags: list[str]) -> str:
    """Instrument, item and answer: never the patient's name."""
    items = flagged_items(response)
    if items:
        parts = [f"item {key} answered “{label}”" for key, _text, label in items]
        text = f"{response.instrument_code} {', '.join(parts)}"
    else:
        text = f"{response.instrument_code}: {', '.join(f.replace('_', ' ') for f in flags)}"
    return text[:200]


def risk_alert_open_for_response(*, response: Response) -> RiskAlert | None:
    """Open one alert for a response carrying a risk flag (at most one per response).

    Called inside `response_record`'s transaction; the email to the clinician (or, with none, the
    admins) is queued on commit.
    """
    flags = sorted(set(response.flags or []) & ALERT_FLAGS)
    if not flags:
        return None
    patient = response.patient
    clinician_id = patient.primary_clinician_id or response.administered_by_id
    if clinician_id is not None:
        clinician = Membership.objects.filter(pk=clinician_id, is_active=True).first()
        clinician_id = clinician.pk if clinician is not None else None
    alert, created = RiskAlert.objects.get_or_create(
        response=response,
        defaults={
            "practice_id": response.practice_id,
            "patient_id": response.patient_id,
            "clinician_id": clinician_id,
            "flags": flags,
            "summary": _summary(response, flags),
            # nobody's patient: straight to the practice's admins, never dropped
            "escalation_level": LEVEL_CLINICIAN if clinician_id else LEVEL_ADMINS,
        },
    )
    if created:
        _notify_on_commit(alert)
        from integrations.webhooks import webhook_emit  # ids only, sent on commit

        webhook_emit(alert.practice_id, "risk_alert.created", {"object": "risk_alert", "id": str(alert.public_id)})
    return alert


def _notify_on_commit(alert: RiskAlert) -> None:
    practice_id, alert_id, level = alert.practice_id, alert.pk, alert.escalation_level

    def queue() -> None:
        from assessments.tasks_alerts import risk_alert_notify_task

        try:
            risk_alert_notify_task.delay(practice_id=practice_id, alert_id=alert_id, level=level)
        except Exception:  # broker trouble must not fail the committed response; beat escalates
            logger.exception("could not queue the risk alert email for alert %s", alert_id)

    transaction.on_commit(queue)


# --- Who may act -------------------------------------------------------------------------------


def can_act_on(member: Membership, alert: RiskAlert) -> bool:
    """The alert's clinician, its escalation target, the clinician's supervisor, or an owner/admin."""
    if not member.has_perm(Perm.RISK_ALERT_ACKNOWLEDGE) or member.practice_id != alert.practice_id:
        return False
    if member.role in ADMIN_ROLES:
        return True
    if member.pk in (alert.clinician_id, alert.escalated_to_id):
        return True
    clinician = alert.clinician
    return clinician is not None and clinician.supervisor_id == member.pk


def recipients_for(alert: RiskAlert, level: int) -> list[Membership]:
    """Who is told at a level: the clinician, the supervisor (escalated_to), or the active admins."""
    if level == LEVEL_CLINICIAN and alert.clinician_id:
        found = Membership.objects.filter(pk=alert.clinician_id, is_active=True).select_related("user")
        return list(found)
    if level == LEVEL_SUPERVISOR and alert.escalated_to_id:
        found = Membership.objects.filter(pk=alert.escalated_to_id, is_active=True).select_related("user")
        return list(found)
    return list(Membership.objects.filter(is_active=True, role__in=ADMIN_ROLES).select_related("user").order_by("pk"))


# --- Acknowledging -----------------------------------------------------------------------------


@transaction.atomic
def risk_alert_acknowledge(*, alert: RiskAlert, by: Membership, action: str, note: str = "") -> RiskAlert:
    """Close the alert with a chosen action (audited by auditlog). "Not clinically significant"
    needs a note saying why."""
    if by.practice_id != alert.practice_id:
        raise DomainError("Not found.", code="not_found")
    if not by.has_perm(Perm.RISK_ALERT_ACKNOWLEDGE):
        raise DomainError("Your role does not allow this.", code="forbidden")
    alert = RiskAlert.objects.select_for_update(of=("self",)).select_related("clinician").get(pk=alert.pk)
    if not can_act_on(by, alert):
        raise DomainError("This alert is not yours to acknowledge.", code="forbidden")
    if alert.status != RiskAlert.Status.OPEN:
        raise DomainError("This alert has already been acknowledged.", code="acknowledged")
    if action not in RiskAlert.Action.values:
        raise DomainError("Choose what was done.", field="action")
    note = (note or "").strip()
    if action == RiskAlert.Action.NOT_SIGNIFICANT and not note:
        raise DomainError("Say why the answer is not clinically significant.", field="note")
    if len(note) > 2000:
        raise DomainError("Keep the note under 2,000 characters.", field="note")
    alert.status = RiskAlert.Status.ACKNOWLEDGED
    alert.action = action
    alert.action_note = note
    alert.acknowledged_by = by
    alert.acknowledged_at = timezone.now()
    alert.save(update_fields=["status", "action", "action_note", "acknowledged_by", "acknowledged_at", "updated_at"])
    return alert


# --- Escalation --------------------------------------------------------------------------------


def _active_supervisor(alert: RiskAlert) -> Membership | None:
    clinician = alert.clinician
    if clinician is None or clinician.supervisor_id is None:
        return None
    supervisor = clinician.supervisor
    if supervisor is None or not supervisor.is_active or supervisor.practice_id != alert.practice_id:
        return None
    return supervisor


def risk_alerts_escalate_due(*, now: datetime | None = None) -> int:
    """Escalate this practice's open alerts that waited past the practice's limit (run inside a
    practice scope). Each move is a conditional UPDATE on (status, level): two workers running at
    once never escalate an alert twice, and only the winner sends the email. Returns the moves."""
    from django_scopes import get_scope

    from assessments.services import assessment_settings_get

    now = now or timezone.now()
    practice = get_scope().get("practice")
    if practice is None or isinstance(practice, list | tuple):
        raise RuntimeError("risk_alerts_escalate_due runs inside one practice's scope")
    practice_id = practice if isinstance(practice, int) else practice.pk
    period = timedelta(minutes=assessment_settings_get(practice_id=practice_id).escalate_after_minutes)
    cutoff = now - period
    moved = 0
    open_alerts = RiskAlert.objects.filter(status=RiskAlert.Status.OPEN)
    level0 = list(
        open_alerts.filter(escalation_level=LEVEL_CLINICIAN, created_at__lte=cutoff).select_related(
            "clinician__supervisor"
        )
    )
    for alert in level0:
        supervisor = _active_supervisor(alert)
        level = LEVEL_SUPERVISOR if supervisor is not None else LEVEL_ADMINS
        won = RiskAlert.objects.filter(
            pk=alert.pk, status=RiskAlert.Status.OPEN, escalation_level=LEVEL_CLINICIAN
        ).update(escalation_level=level, escalated_at=now, escalated_to=supervisor, updated_at=now)
        if won:
            moved += 1
            alert.escalation_level = level
            _notify_on_commit(alert)
    level1 = list(open_alerts.filter(escalation_level=LEVEL_SUPERVISOR, escalated_at__lte=cutoff).only("pk"))
    for alert in level1:
        won = RiskAlert.objects.filter(
            pk=alert.pk, status=RiskAlert.Status.OPEN, escalation_level=LEVEL_SUPERVISOR
        ).update(escalation_level=LEVEL_ADMINS, escalated_at=now, updated_at=now)
        if won:
            moved += 1
            alert.escalation_level = LEVEL_ADMINS
            _notify_on_commit(alert)
    return moved


# --- Notifying ---------------------------------------------------------------------------------


def risk_alert_notify(*, alert_id: int, level: int) -> int:
    """Email the alert's recipients at `level` once (claimed with an atomic cache add; a failed
    send releases the claim so the retry sends it). No PHI: a link to the alert only."""
    from django.core.cache import cache
    from django.core.mail import send_mail
    from django.urls import reverse

    from practice.services import site_url

    alert = RiskAlert.objects.select_related("practice", "clinician").filter(pk=alert_id).first()
    if alert is None or alert.status != RiskAlert.Status.OPEN:
        return 0
    claim_key = f"tend:riskalert-notified:{alert.public_id}:{level}"
    if not cache.add(claim_key, 1, timeout=60 * 60 * 24 * 30):
        return 0
    recipients = sorted({m.user.email for m in recipients_for(alert, level) if m.user.email})
    if not recipients:
        logger.warning("risk alert %s at level %s: nobody to notify", alert.public_id, level)
        return 0
    path = reverse("risk_alert_detail", kwargs={"practice_slug": alert.practice.slug, "alert_id": alert.public_id})
    escalated = level > LEVEL_CLINICIAN and alert.clinician_id is not None
    try:
        send_mail(
            subject="A questionnaire response needs review" + (" (escalated)" if escalated else ""),
            message=(
                "A questionnaire response needs your review in Tend:\n"
                f"{site_url()}{path}\n\n"
                + ("It was not acknowledged in time and has been escalated to you.\n\n" if escalated else "")
                + "This email does not name the patient or the answers; the alert does, after you sign in.\n"
            ),
            from_email=None,
            recipient_list=recipients,
        )
    except Exception:
        cache.delete(claim_key)
        raise
    return len(recipients)
