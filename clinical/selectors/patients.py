"""Reads for patients: search, consents, and everything the chart page shows.

Search is confined to clinical.access.patients_visible_to(membership). Break-the-glass search
(members with CHART_BREAK_GLASS) returns a separate, minimal list of patients outside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, Q, QuerySet, Window
from django.utils import timezone

from clinical import access
from clinical.models import (
    CommunicationConsent,
    Diagnosis,
    DiagnosisCode,
    Document,
    Medication,
    Patient,
    ProgressNote,
    PsychotherapyNote,
    TreatmentPlan,
)
from practice.models import Membership
from practice.permissions import Perm

SEARCH_PAGE_SIZE = 25
OUTSIDE_CASELOAD_LIMIT = 10
CHART_NOTE_LIMIT = 20
CHART_DOCUMENT_LIMIT = 50

_MRN_RE = re.compile(r"^[Pp]\d{3,}$")
_PHONE_RE = re.compile(r"^[\d\s().+-]+$")
_DATE_FORMATS = ("%m/%d/%Y", "%Y-%m-%d", "%m-%d-%Y")


@dataclass(frozen=True)
class ParsedQuery:
    kind: str  # "all" | "mrn" | "dob" | "phone" | "name"
    value: object = None


def parse_query(query: str) -> ParsedQuery:
    """Decide what a search box entry is: an MRN, a date of birth, phone digits, or name words."""
    q = (query or "").strip()
    if not q:
        return ParsedQuery("all")
    if _MRN_RE.match(q):
        return ParsedQuery("mrn", q.upper())
    for fmt in _DATE_FORMATS:
        try:
            return ParsedQuery("dob", datetime.strptime(q, fmt).date())  # noqa: DTZ007 (a date, no time)
        except ValueError:
            continue
    if _PHONE_RE.match(q):
        digits = re.sub(r"\D", "", q)
        if len(digits) >= 4:
            return ParsedQuery("phone", digits[-10:] if len(digits) == 11 and digits[0] == "1" else digits)
    tokens = [t for t in re.split(r"[\s,]+", q) if t][:5]
    return ParsedQuery("name", tokens)


def _match_q(parsed: ParsedQuery) -> Q:
    if parsed.kind == "mrn":
        return Q(mrn=parsed.value)
    if parsed.kind == "dob":
        return Q(date_of_birth=parsed.value)
    if parsed.kind == "phone":
        digits = str(parsed.value)
        # The last four digits are what people say on the phone; longer runs match anywhere.
        return Q(phone_digits__endswith=digits) if len(digits) <= 4 else Q(phone_digits__contains=digits)
    if parsed.kind == "name":
        q = Q()
        for token in parsed.value:  # type: ignore[attr-defined]
            q &= (
                Q(legal_last_name__istartswith=token)
                | Q(legal_first_name__istartswith=token)
                | Q(preferred_name__istartswith=token)
            )
        return q
    return Q()


def patient_search(*, membership: Membership, query: str) -> QuerySet[Patient]:
    """Patients this member may see that match the query, ordered by name (paginate the result)."""
    parsed = parse_query(query)
    return (
        access.patients_visible_to(membership)
        .filter(_match_q(parsed))
        .select_related("primary_clinician__user")
        .order_by("legal_last_name", "legal_first_name", "id")
    )


def patient_search_outside_caseload(*, membership: Membership, query: str) -> list[Patient]:
    """For members who may break the glass: up to 10 matches they cannot otherwise see.

    Minimal fields only (name, date of birth, MRN); nothing clinical.
    """
    parsed = parse_query(query)
    if parsed.kind == "all" or not membership.has_perm(Perm.CHART_BREAK_GLASS):
        return []
    if membership.has_perm(Perm.PATIENT_VIEW_ALL_PATIENTS):
        return []  # everyone is in their list already (the chart offers emergency access)
    visible = access.patients_visible_to(membership).values("pk")
    return list(
        Patient.objects.filter(_match_q(parsed))
        .exclude(pk__in=visible)
        .only("public_id", "mrn", "legal_first_name", "legal_last_name", "preferred_name", "date_of_birth")
        .order_by("legal_last_name", "legal_first_name", "id")[:OUTSIDE_CASELOAD_LIMIT]
    )


# --- Consents --------------------------------------------------------------------------------


@dataclass
class ChannelConsent:
    channel: str
    label: str
    current: CommunicationConsent | None
    history: list[CommunicationConsent] = field(default_factory=list)

    @property
    def is_granted(self) -> bool:
        return bool(self.current and self.current.is_granted)


def consent_overview(patient: Patient) -> list[ChannelConsent]:
    """Every channel with its current decision (newest row) and its history, in one query."""
    rows = list(
        CommunicationConsent.objects.filter(patient=patient)
        .select_related("recorded_by__user")
        .order_by("-recorded_at", "-id")
    )
    overview = []
    for channel, label in CommunicationConsent.Channel.choices:
        history = [r for r in rows if r.channel == channel]
        overview.append(ChannelConsent(channel, label, history[0] if history else None, history))
    return overview


def current_consents(patient: Patient) -> dict[str, CommunicationConsent | None]:
    """channel -> the newest consent row for it (None when never recorded)."""
    return {c.channel: c.current for c in consent_overview(patient)}


# --- Diagnosis codes -------------------------------------------------------------------------


def diagnosis_code_search(query: str, *, limit: int = 30) -> QuerySet[DiagnosisCode]:
    """ICD-10-CM codes by code prefix ("F41", "f41.1") or description words ("generalized anx")."""
    q = (query or "").strip()
    if not q:
        return DiagnosisCode.objects.none()
    if re.match(r"^[A-Za-z]\d", q):
        return DiagnosisCode.objects.filter(code__istartswith=q.upper()).order_by("code")[:limit]
    words = [w for w in re.split(r"\s+", q) if len(w) >= 2][:6]
    if not words:
        return DiagnosisCode.objects.none()
    match = Q()
    for word in words:
        match &= Q(description__icontains=word)
    return DiagnosisCode.objects.filter(match).order_by("-is_billable", "code")[:limit]


# --- Chart -----------------------------------------------------------------------------------


@dataclass
class Chart:
    patient: Patient
    can_view_clinical: bool
    can_break_glass: bool
    emergency_access: object | None
    consents: list[ChannelConsent]
    diagnoses: list[Diagnosis] = field(default_factory=list)
    resolved_diagnoses: list[Diagnosis] = field(default_factory=list)
    notes: list[ProgressNote] = field(default_factory=list)
    note_count: int = 0
    active_plan: TreatmentPlan | None = None
    medications: list[Medication] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    psychotherapy_notes: list[PsychotherapyNote] = field(default_factory=list)
    # {"next": Appointment | None, "upcoming": [...], "past": [...]} for members with SCHEDULE_VIEW
    appointments: dict | None = None
    # Latest PHQ-9 / GAD-7 (assessments.selectors_patient.Headline) for members who see results;
    # None hides the section.
    assessments: list | None = None
    # Open risk alerts on this patient, each with `can_open` for the viewer (safety: every clinician
    # who opens the chart sees them, not only the one who must acknowledge).
    open_risk_alerts: list = field(default_factory=list)
    # Active coverage and billing settings (billing.selectors_setup.chart_billing) for members with
    # COVERAGE_MANAGE or BILLING_VIEW; None hides the section.
    billing: dict | None = None

    @property
    def primary_diagnosis(self) -> Diagnosis | None:
        return next((d for d in self.diagnoses if d.is_primary), None)

    @property
    def active_medications(self) -> list[Medication]:
        return [m for m in self.medications if m.is_active]

    @property
    def past_medications(self) -> list[Medication]:
        return [m for m in self.medications if not m.is_active]


def chart_get(*, patient: Patient, membership: Membership) -> Chart:
    """Everything the chart page shows, in a fixed number of queries whatever the chart's size.

    Members without clinical access get the header and demographics only: no clinical query runs.
    Psychotherapy notes: only the viewer's own, as a link list.
    """
    clinical = access.can_view_clinical(membership, patient)
    chart = Chart(
        patient=patient,
        can_view_clinical=clinical,
        can_break_glass=(not clinical) and membership.has_perm(Perm.CHART_BREAK_GLASS),
        emergency_access=access.active_emergency_access(membership, patient) if clinical else None,
        consents=consent_overview(patient),
        appointments=chart_appointments(patient=patient, membership=membership),
    )
    if membership.has_perm(Perm.COVERAGE_MANAGE) or membership.has_perm(Perm.BILLING_VIEW):
        from billing.selectors_setup import chart_billing

        chart.billing = chart_billing(patient=patient, membership=membership)  # two queries
    if not clinical:
        return chart
    diagnoses = list(
        Diagnosis.objects.filter(patient=patient).select_related("code").order_by("-is_primary", "rank", "id")
    )
    chart.diagnoses = [d for d in diagnoses if d.resolved_on is None]
    chart.resolved_diagnoses = sorted(
        (d for d in diagnoses if d.resolved_on is not None), key=lambda d: d.resolved_on or date.min, reverse=True
    )
    visible_notes = ProgressNote.objects.filter(patient=patient).filter(
        ~Q(status=ProgressNote.Status.DRAFT) | Q(author=membership)
    )
    # The total rides on the page's rows (COUNT(*) OVER ()): no second query once a chart has more
    # notes than the page shows.
    chart.notes = list(
        visible_notes.select_related("author__user", "cosigner__user")
        .defer("content", "plan", "risk_protective_factors", "interventions", "participants")
        .annotate(visible_total=Window(Count("id")))
        .order_by("-session_on", "-start_time", "-id")[:CHART_NOTE_LIMIT]
    )
    chart.note_count = chart.notes[0].visible_total if chart.notes else 0
    chart.active_plan = (
        TreatmentPlan.objects.filter(patient=patient, status=TreatmentPlan.Status.ACTIVE)
        .select_related("author__user")
        .annotate(problem_count=Count("problems", distinct=True))
        .first()
    )
    chart.medications = list(
        Medication.objects.filter(patient=patient).select_related("prescribed_by__user").order_by("name", "id")
    )
    chart.documents = list(
        Document.objects.filter(patient=patient)
        .select_related("uploaded_by__user")
        .defer("sha256")
        .order_by("-created_at", "-id")[:CHART_DOCUMENT_LIMIT]
    )
    chart.psychotherapy_notes = list(
        PsychotherapyNote.objects.filter(patient=patient, author=membership)
        .only("public_id", "session_on", "created_at")
        .order_by("-session_on", "-id")
    )
    if membership.has_perm(Perm.ASSESSMENT_VIEW_RESULTS):
        from assessments.selectors_patient import chart_headlines

        chart.assessments = chart_headlines(patient=patient)  # one query
    if membership.has_perm(Perm.ASSESSMENT_VIEW_RESULTS):
        from assessments.selectors_alerts import open_alerts_on_chart

        chart.open_risk_alerts = open_alerts_on_chart(patient=patient, member=membership)  # one query
    return chart


CHART_APPOINTMENT_LIMIT = 5


def chart_appointments(*, patient: Patient, membership: Membership) -> dict | None:
    """The patient's next appointment and a short list around today (one query; scheduling
    detail only, no clinical content). None for members who cannot see the schedule."""
    if not membership.has_perm(Perm.SCHEDULE_VIEW):
        return None
    from scheduling.models import Appointment

    now = timezone.now()
    rows = list(
        Appointment.objects.filter(attendees__patient=patient, starts_at__gte=now - timedelta(days=120))
        .select_related("appointment_type", "clinician__user", "location")
        .order_by("starts_at", "id")[:40]
    )
    upcoming = [a for a in rows if a.ends_at >= now]
    past = [a for a in reversed(rows) if a.ends_at < now]
    return {
        "next": next((a for a in upcoming if a.status in Appointment.ACTIVE_STATUSES), None),
        "upcoming": upcoming[:CHART_APPOINTMENT_LIMIT],
        "past": past[:CHART_APPOINTMENT_LIMIT],
    }


def primary_clinician_choices() -> QuerySet[Membership]:
    """Active members who can hold a caseload (clinicians, supervisors, owners)."""
    from clinical.services.patients import PRIMARY_CLINICIAN_ROLES

    return (
        Membership.objects.filter(is_active=True, role__in=PRIMARY_CLINICIAN_ROLES)
        .select_related("user")
        .order_by("user__full_name", "id")
    )


def share_candidates(*, patient: Patient, exclude: Membership) -> QuerySet[Membership]:
    """Colleagues a patient can be shared with: active members with clinical access."""
    from practice.permissions import Role, role_has_perm

    roles = [r for r in Role.values if role_has_perm(r, Perm.CHART_VIEW_CLINICAL)]
    return (
        Membership.objects.filter(is_active=True, role__in=roles)
        .exclude(pk=exclude.pk)
        .select_related("user")
        .order_by("user__full_name", "id")
    )


def patient_shares(patient: Patient) -> QuerySet[Membership]:
    """Members this patient is explicitly shared with (django-guardian view_patient grants)."""
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import UserObjectPermission

    user_ids = UserObjectPermission.objects.filter(
        content_type=ContentType.objects.get_for_model(Patient),
        object_pk=str(patient.pk),
        permission__codename="view_patient",
    ).values("user_id")
    return Membership.objects.filter(user_id__in=user_ids).select_related("user").order_by("user__full_name")


def break_glass_log() -> QuerySet:
    from clinical.models import EmergencyAccess

    return EmergencyAccess.objects.select_related("membership__user", "patient", "reviewed_by__user").order_by(
        "-created_at", "-id"
    )
