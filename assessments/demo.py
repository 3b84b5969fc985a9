"""Demo measurement-based care for `seed_demo` (after the clinical and scheduling demos, inside the
practice's scope).

- A protocol in force: "Depression & anxiety — PHQ-9 and GAD-7 at intake and every 2nd session,
  email link", auto-assigned to patients with an F32/F33/F41 diagnosis (through
  `services_delivery.protocol_create` and `protocols_auto_assign`, which also schedules the
  questionnaires of their booked appointments).
- Up to 12 patients with 3-6 months of PHQ-9 and GAD-7 history every 2-3 weeks, each time point an
  emailed administration completed through `assessments.services.response_record` (by link, by the
  clinician in session or entered from paper) or left to expire, so the completion rate is
  realistic (~80 %). Trajectories: improving, flat, deteriorating, recovered-then-relapsed.
- Risk: exactly one unacknowledged alert (a recent PHQ-9 with item 9 = 1 for one of Elena
  Petrova's patients at Cedar; the first clinician's elsewhere) and two older acknowledged ones.
- A few questionnaires sent and still open; one of them has a deterministic token
  (`demo_questionnaire_token`) so a tester can open `/q/<token>/` as the patient.

Deterministic (seeded RNG, dates anchored on today) and idempotent: nothing happens when the
practice already has responses.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from assessments.models import Administration, DeliveryChannel, Protocol, Response, RiskAlert
from assessments.services import response_record
from assessments.services_alerts import risk_alert_acknowledge
from assessments.services_delivery import protocol_create, protocols_auto_assign, token_hash
from clinical.models import Diagnosis, Patient
from practice.models import Membership, Practice
from practice.permissions import Perm, Role

PROTOCOL_NAME = "Depression & anxiety — PHQ-9 and GAD-7 at intake and every 2nd session, email link"
PREFIXES = ["F32", "F33", "F41"]
HISTORY_PATIENTS = 12
ALERT_CLINICIAN_EMAIL = "elena.petrova@cedarbh.example"

# Item preference per instrument (0-based): which symptoms carry the score first. PHQ-9 item 9
# (index 8) is never filled by the profile: it is set explicitly where the demo wants a risk flag.
PHQ9_PROFILES = ((1, 0, 3, 2, 6, 5, 4, 7), (0, 3, 1, 2, 5, 6, 4, 7), (3, 2, 1, 0, 6, 4, 5, 7))
GAD7_PROFILES = ((0, 1, 2, 4, 3, 6, 5), (1, 2, 0, 3, 6, 4, 5), (2, 0, 1, 6, 3, 4, 5))


@dataclass(frozen=True)
class Trajectory:
    """Totals from the first to the last time point, by shape."""

    key: str
    phq9: tuple[int, int]
    gad7: tuple[int, int]
    shape: str  # linear | flat | relapse


# Twelve patients: five improving, three flat, two deteriorating, two recovered then relapsed.
TRAJECTORIES = (
    Trajectory("improving", (18, 6), (15, 5), "linear"),
    Trajectory("flat", (12, 12), (10, 10), "flat"),
    Trajectory("deteriorating", (9, 17), (8, 15), "linear"),
    Trajectory("improving", (15, 4), (12, 4), "linear"),
    Trajectory("relapse", (16, 15), (13, 12), "relapse"),
    Trajectory("improving", (21, 8), (17, 6), "linear"),
    Trajectory("flat", (14, 14), (11, 11), "flat"),
    Trajectory("improving", (12, 3), (11, 3), "linear"),
    Trajectory("deteriorating", (8, 16), (6, 13), "linear"),
    Trajectory("flat", (10, 10), (9, 9), "flat"),
    Trajectory("improving", (17, 7), (14, 6), "linear"),
    Trajectory("relapse", (19, 17), (15, 14), "relapse"),
)


def demo_questionnaire_token(practice_slug: str) -> str:
    """The fixed link token of the demo's open PHQ-9 (public by design, like the demo password)."""
    return "demo-" + hashlib.sha256(f"tend-demo-questionnaire-{practice_slug}".encode()).hexdigest()[:32]


def demo_questionnaire_path(practice: Practice) -> str | None:
    """`/q/<token>/` of the demo's open questionnaire, while it is still open."""
    token = demo_questionnaire_token(practice.slug)
    still_open = Administration.all_objects.filter(
        practice=practice,
        token_hash=token_hash(token),
        status=Administration.Status.SENT,
        expires_at__gt=timezone.now(),
    ).exists()
    return f"/q/{token}/" if still_open else None


def seed_assessments(*, practice: Practice) -> int:
    """Seed one practice's measurement data; returns how many responses were recorded (0 on a
    re-run: skipped when the practice already has responses). One transaction; alert e-mails and
    questionnaire dispatch that the services defer to commit run after it."""
    if Response.objects.exists():
        return 0
    with transaction.atomic():
        return _seed(practice)


def _seed(practice: Practice) -> int:
    rng = random.Random(f"tend-demo-assessments-{practice.slug}")  # noqa: S311 - demo data, not security
    members = list(Membership.objects.filter(is_active=True).select_related("user"))
    manager = next(
        (
            m
            for m in sorted(members, key=lambda m: m.role != Role.OWNER)
            if m.has_perm(Perm.ASSESSMENT_MANAGE_PROTOCOLS)
        ),
        None,
    )
    patients = _history_patients()
    if manager is None or not patients:
        return 0
    now = timezone.now()
    recorded = 0
    alert_patient = _alert_patient(patients, members)
    acknowledged_for = [p for p in patients if p != alert_patient][:2]
    for index, patient in enumerate(patients):
        trajectory = TRAJECTORIES[index % len(TRAJECTORIES)]
        risk_at = "early" if patient in acknowledged_for else None
        recorded += _history(patient, trajectory, rng, now, index=index, risk_at=risk_at)
    if alert_patient is not None:
        recorded += _open_alert_response(alert_patient, now)
    _acknowledge_older_alerts(now)
    _pending(practice, patients, rng, now)
    _protocol(practice, manager)
    return recorded


def _history_patients() -> list[Patient]:
    """Active patients with a clinician, those with a depressive or anxiety diagnosis first."""
    matching_ids = set(
        Diagnosis.objects.filter(resolved_on__isnull=True)
        .filter(code__code__regex=r"^(F32|F33|F41)")
        .values_list("patient_id", flat=True)
    )
    candidates = list(
        Patient.objects.filter(status=Patient.Status.ACTIVE, primary_clinician__isnull=False)
        .select_related("primary_clinician__user")
        .order_by("mrn")
    )
    ordered = [p for p in candidates if p.pk in matching_ids] + [p for p in candidates if p.pk not in matching_ids]
    return ordered[:HISTORY_PATIENTS]


def _alert_patient(patients: list[Patient], members: list[Membership]) -> Patient | None:
    """One of Elena Petrova's patients at Cedar; elsewhere the last history patient."""
    elena = next((m for m in members if m.user.email == ALERT_CLINICIAN_EMAIL), None)
    if elena is not None:
        mine = [p for p in patients if p.primary_clinician_id == elena.pk]
        if not mine:
            extra = (
                Patient.objects.filter(primary_clinician=elena, status=Patient.Status.ACTIVE)
                .select_related("primary_clinician__user")
                .order_by("mrn")
                .first()
            )
            if extra is not None:
                patients[-1] = extra
                mine = [extra]
        if mine:
            return mine[0]
    return patients[-1] if patients else None


# --- Scores and answers ------------------------------------------------------------------------


def _totals(start: int, end: int, shape: str, points: int, rng: random.Random) -> list[int]:
    """Totals over `points` time points; first and last are exact, the middle a little noisy."""
    if points == 1:
        return [start]
    out = []
    for i in range(points):
        t = i / (points - 1)
        if shape == "flat":
            value = start + (0 if i in (0, points - 1) else rng.choice((-2, -1, 0, 1, 2)))
        elif shape == "relapse":  # down to about a third of baseline by two thirds of the way, then back up
            low = max(2, round(start * 0.3))
            value = start + (low - start) * (t / 0.6) if t <= 0.6 else low + (end - low) * ((t - 0.6) / 0.4)
            value = round(value) + (0 if i in (0, points - 1) else rng.choice((-1, 0, 1)))
        else:
            value = round(start + (end - start) * t) + (0 if i in (0, points - 1) else rng.choice((-1, 0, 1)))
        out.append(int(value))
    return out


def _answers(total: int, items: int, profile: tuple[int, ...], *, risk_item: int | None = None, risk: int = 0) -> list:
    """Item values (0-3) summing to `total`, filling the profile's symptoms first, one point per
    round, so the leading symptoms are the most severe (a plausible item profile)."""
    answers = [0] * items
    if risk_item is not None:
        answers[risk_item] = risk
    remaining = max(0, total - risk)
    capacity = 3 * len(profile)
    remaining = min(remaining, capacity)
    while remaining:
        for index in profile:
            if remaining and answers[index] < 3:
                answers[index] += 1
                remaining -= 1
    return answers


def _phq9(total: int, profile_index: int, risk: int = 0) -> list[int]:
    return _answers(total, 9, PHQ9_PROFILES[profile_index % 3], risk_item=8, risk=risk)


def _gad7(total: int, profile_index: int) -> list[int]:
    return _answers(total, 7, GAD7_PROFILES[profile_index % 3])


# --- History -------------------------------------------------------------------------------------


def _history(
    patient: Patient, trajectory: Trajectory, rng: random.Random, now: datetime, *, index: int, risk_at: str | None
) -> int:
    clinician = patient.primary_clinician
    span_days = rng.randint(95, 180)
    first = now - timedelta(days=span_days)
    dates: list[datetime] = []
    when = first
    while when < now - timedelta(days=5):
        dates.append(when.replace(hour=15, minute=rng.randint(0, 59), second=0, microsecond=0))
        when += timedelta(days=rng.choice((14, 14, 17, 21)))
    phq = _totals(*trajectory.phq9, trajectory.shape, len(dates), rng)
    gad = _totals(*trajectory.gad7, trajectory.shape, len(dates), rng)
    # An older flagged PHQ-9 (item 9 = 1) at the first follow-up that was answered.
    risk_point = next((p for p in (1, 2, 3) if (p + index) % 5 != 0), 1) if risk_at == "early" else None
    recorded = 0
    for point, completed_at in enumerate(dates):
        # Every 5th follow-up went unanswered and expired (never the baseline or the latest).
        missed = 0 < point < len(dates) - 1 and (point + index) % 5 == 0
        mode = _mode(point, index)
        risk = 1 if point == risk_point else 0
        for code, answers in (
            ("PHQ-9", _phq9(max(phq[point], risk), index, risk=risk)),
            ("GAD-7", _gad7(gad[point], index)),
        ):
            administration = _administration(patient, code, completed_at, missed=missed)
            if missed:
                continue
            response_record(
                patient=patient,
                instrument_code=code,
                answers=answers,
                mode=mode,
                by=clinician if mode != Response.Mode.LINK else None,
                administration=administration,
                difficulty=min(3, phq[point] // 7) if code == "PHQ-9" else None,
                completed_at=completed_at,
            )
            recorded += 1
    return recorded


def _mode(point: int, index: int) -> str:
    slot = (point * 3 + index) % 8
    if slot in (0, 5):
        return Response.Mode.CLINICIAN
    if slot == 3:
        return Response.Mode.PAPER
    return Response.Mode.LINK


def _administration(patient: Patient, code: str, completed_at: datetime, *, missed: bool) -> Administration:
    sent_at = completed_at - timedelta(hours=30)
    return Administration.objects.create(
        practice_id=patient.practice_id,
        patient=patient,
        instrument_code=code,
        reason="every 2nd session",
        channel=DeliveryChannel.EMAIL,
        status=Administration.Status.EXPIRED if missed else Administration.Status.SENT,
        due_at=sent_at,
        sent_at=sent_at,
        expires_at=sent_at + timedelta(hours=72),
    )


def _open_alert_response(patient: Patient, now: datetime) -> int:
    """A PHQ-9 answered by link yesterday with item 9 = "several days": the one open alert."""
    completed_at = (now - timedelta(days=1)).replace(hour=19, minute=12, second=0, microsecond=0)
    administration = _administration(patient, "PHQ-9", completed_at, missed=False)
    latest = Response.objects.filter(patient=patient, instrument_code="PHQ-9").order_by("-completed_at").first()
    total = max(latest.total if latest and latest.total is not None else 12, 6)
    response_record(
        patient=patient,
        instrument_code="PHQ-9",
        answers=_phq9(total, 0, risk=1),
        mode=Response.Mode.LINK,
        administration=administration,
        difficulty=1,
        completed_at=completed_at,
    )
    return 1


def _acknowledge_older_alerts(now: datetime) -> None:
    """Every alert but the newest was reviewed by the clinician at the time."""
    alerts = list(RiskAlert.objects.select_related("clinician", "response").order_by("-response__completed_at"))
    actions = (RiskAlert.Action.SAFETY_PLAN_REVIEWED, RiskAlert.Action.CONTACTED_PATIENT)
    for n, alert in enumerate(alerts[1:]):
        by = alert.clinician or Membership.objects.filter(role=Role.OWNER, is_active=True).first()
        risk_alert_acknowledge(
            alert=alert,
            by=by,
            action=actions[n % 2],
            note="Reviewed the safety plan with the patient; no current intent or plan.",
        )
    # The demo's history is backdated: each alert opened when its questionnaire came in, and the
    # older ones were acknowledged within the afternoon.
    for alert in alerts:
        completed_at = alert.response.completed_at
        RiskAlert.objects.filter(pk=alert.pk).update(created_at=completed_at)
        RiskAlert.objects.filter(pk=alert.pk, acknowledged_at__isnull=False).update(
            acknowledged_at=completed_at + timedelta(hours=3)
        )


# --- Open questionnaires ------------------------------------------------------------------------


def _pending(practice: Practice, patients: list[Patient], rng: random.Random, now: datetime) -> None:
    """Three questionnaires sent yesterday and still open; the first has the demo's fixed token."""
    for n, patient in enumerate(patients[:3]):
        token = demo_questionnaire_token(practice.slug) if n == 0 else f"demo-unused-{rng.getrandbits(128):032x}"
        sent_at = now - timedelta(hours=20 + n)
        Administration.objects.create(
            practice_id=patient.practice_id,
            patient=patient,
            instrument_code="PHQ-9" if n != 1 else "GAD-7",
            reason="every 2nd session",
            channel=DeliveryChannel.EMAIL,
            status=Administration.Status.SENT,
            due_at=sent_at,
            sent_at=sent_at,
            expires_at=now + timedelta(days=14 if n == 0 else 2),
            token_hash=token_hash(token),
        )


# --- The protocol in force ----------------------------------------------------------------------


def _protocol(practice: Practice, manager: Membership) -> Protocol:
    protocol = Protocol.objects.filter(name=PROTOCOL_NAME).first() or protocol_create(
        by=manager,
        name=PROTOCOL_NAME,
        instrument_codes=["PHQ-9", "GAD-7"],
        audience=Protocol.Audience.DIAGNOSIS,
        diagnosis_prefixes=PREFIXES,
        at_intake=True,
        every_n_sessions=2,
        channel=DeliveryChannel.EMAIL,
        auto_assign=True,
    )
    protocols_auto_assign(practice_id=practice.pk)
    return protocol
