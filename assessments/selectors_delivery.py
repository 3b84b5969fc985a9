"""Reads for questionnaire delivery: protocol lists in words, a patient's assignments and
administrations (for the chart), and a response laid out item by item."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from assessments.library import Instrument, instrument_or_none
from assessments.models import Administration, Protocol, ProtocolAssignment, Response
from clinical.models import Patient


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


CHANNEL_WORDS = {"email": "by email link", "sms": "by text message link", "portal": "in the patient portal"}


def protocol_describe(protocol: Protocol, clinician_names: list[str] | None = None) -> str:
    """e.g. "PHQ-9 + GAD-7 at intake and every 2nd session, by email link; patients with F32*, F33*"."""
    codes = " + ".join(protocol.instrument_codes or [])
    when = []
    if protocol.at_intake:
        when.append("at intake")
    if protocol.every_n_sessions:
        when.append(
            "every session"
            if protocol.every_n_sessions == 1
            else f"every {_ordinal(protocol.every_n_sessions)} session"
        )
    if protocol.every_n_weeks:
        when.append("every week" if protocol.every_n_weeks == 1 else f"every {protocol.every_n_weeks} weeks")
    when_text = " and ".join([", ".join(when[:-1]), when[-1]] if len(when) > 1 else when)
    if protocol.audience == Protocol.Audience.DIAGNOSIS:
        who = "patients with " + ", ".join(f"{p}*" for p in protocol.diagnosis_prefixes or [])
    elif protocol.audience == Protocol.Audience.CLINICIANS:
        who = "patients of " + (", ".join(clinician_names or []) or "chosen clinicians")
    else:
        who = "all patients"
    return f"{codes} {when_text}, {CHANNEL_WORDS.get(protocol.channel, protocol.channel)}; {who}"


def protocols_with_counts() -> list[Protocol]:
    """Every protocol of the practice with `active_assignments` and `description` (3 queries)."""
    protocols = list(
        Protocol.objects.annotate(
            active_assignments=Count("assignments", filter=Q(assignments__status=ProtocolAssignment.Status.ACTIVE))
        )
        .prefetch_related("clinicians__user")
        .order_by("-is_active", "name")
    )
    for protocol in protocols:
        names = [c.user.display_name for c in protocol.clinicians.all()]
        protocol.description = protocol_describe(protocol, names)
    return protocols


def protocol_get(*, protocol_id) -> Protocol:
    return Protocol.objects.get(public_id=protocol_id)


def assignable_protocols() -> QuerySet[Protocol]:
    return Protocol.objects.filter(is_active=True).order_by("name")


def patient_assignments(patient: Patient) -> list[ProtocolAssignment]:
    rows = list(
        ProtocolAssignment.objects.filter(patient=patient)
        .select_related("protocol", "assigned_by__user")
        .order_by("status", "-started_on", "-id")
    )
    for row in rows:
        row.protocol.description = protocol_describe(row.protocol)
    return rows


def administrations_for_patient(
    patient: Patient, *, limit: int = 50, include_closed: bool = True
) -> list[Administration]:
    """Upcoming and recent questionnaires of a patient (for the chart): instrument, due, status,
    channel and, when sent as a message, that message's status (e.g. suppressed: no consent).
    Scheduled and sent first (soonest first), then (unless `include_closed` is false) the rest,
    newest first. Two queries at most; one without the closed rows."""
    open_rows = list(
        Administration.objects.filter(
            patient=patient, status__in=(Administration.Status.SCHEDULED, Administration.Status.SENT)
        )
        .select_related("message", "appointment")
        .order_by("due_at", "pk")[:limit]
    )
    closed_rows: list[Administration] = []
    if include_closed:
        closed_rows = list(
            Administration.objects.filter(patient=patient)
            .exclude(status__in=(Administration.Status.SCHEDULED, Administration.Status.SENT))
            .select_related("message", "appointment")
            .order_by("-due_at", "-pk")[: max(0, limit - len(open_rows))]
        )
    rows = open_rows + closed_rows
    for row in rows:
        instrument = instrument_or_none(row.instrument_code)
        row.instrument_name = instrument.name if instrument else row.instrument_code
        row.message_status = row.message.get_status_display() if row.message_id else ""
        row.message_note = row.message.last_error if row.message_id else ""
    return rows


@dataclass(frozen=True)
class AnsweredItem:
    key: str
    text: str
    value: int | None
    label: str
    is_risk_item: bool
    shown: bool


def response_items(response: Response, instrument: Instrument) -> list[AnsweredItem]:
    """Each item with the chosen answer's label (the stored scored value mapped back)."""
    from assessments.library import visible_items

    answers = list(response.answers or [])
    by_key = {item.key: (answers[i] if i < len(answers) else None) for i, item in enumerate(instrument.items)}
    shown = {item.key for item in visible_items(instrument, by_key)}
    out = []
    for item in instrument.items:
        value = by_key[item.key]
        label = next((o.label for o in item.options if o.value == value), "—" if value is None else str(value))
        out.append(AnsweredItem(item.key, item.text, value, label, item.is_risk_item, item.key in shown))
    return out


def difficulty_label(response: Response, instrument: Instrument) -> str:
    if instrument.difficulty_item is None or response.difficulty is None:
        return ""
    return next((o.label for o in instrument.difficulty_item.options if o.value == response.difficulty), "")


def response_chain(response: Response) -> list[Response]:
    """The response's correction chain, oldest first (the original, its corrections...)."""
    chain = [response]
    current = response
    while current.corrects_id:
        current = Response.objects.select_related("administered_by__user").get(pk=current.corrects_id)
        chain.insert(0, current)
    current = response
    while True:
        nxt = Response.objects.select_related("administered_by__user").filter(corrects=current).first()
        if nxt is None:
            break
        chain.append(nxt)
        current = nxt
    return chain


def response_get(*, patient: Patient, response_id) -> Response:
    return Response.objects.select_related("administered_by__user", "administration").get(
        patient=patient, public_id=response_id
    )
