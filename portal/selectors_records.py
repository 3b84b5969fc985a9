"""Reads for the portal's questionnaires and billing pages (the patient's own rows only)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from assessments.charts import LineChart, line_chart
from assessments.library import Instrument, instrument_or_none
from assessments.models import Administration, Response
from clinical.models import Patient

A = Administration.Status


def due_administrations(*, patient: Patient) -> list[Administration]:
    """Questionnaires the patient may complete now: scheduled (due) or sent, not expired, any channel."""
    now = timezone.now()
    return list(
        Administration.objects.filter(patient=patient)
        .filter(Q(status=A.SENT) | Q(status=A.SCHEDULED, due_at__lte=now))
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("due_at", "id")[:50]
    )


def administration_is_open(administration: Administration) -> bool:
    now = timezone.now()
    if administration.expires_at and administration.expires_at <= now:
        return False
    return administration.status == A.SENT or (administration.status == A.SCHEDULED and administration.due_at <= now)


@dataclass
class SharedMeasure:
    instrument: Instrument
    responses: list[Response] = field(default_factory=list)  # oldest first
    chart: LineChart | None = None


def shared_results(*, patient: Patient, codes: list[str]) -> list[SharedMeasure]:
    """Completed scores of the instruments the practice shares with patients (one query)."""
    codes = [c for c in codes if instrument_or_none(c) is not None]
    if not codes:
        return []
    rows = (
        Response.objects.filter(patient=patient, instrument_code__in=codes, is_complete=True)
        .exclude(Exists(Response.objects.filter(corrects=OuterRef("pk"))))
        .only("public_id", "instrument_code", "total", "severity_label", "completed_at")
        .order_by("completed_at", "id")
    )
    measures = {code: SharedMeasure(instrument=instrument_or_none(code)) for code in codes}
    for row in rows:
        measures[row.instrument_code].responses.append(row)
    out = []
    for measure in measures.values():
        if not measure.responses:
            continue
        if measure.instrument.has_total:
            series = [
                (r.completed_at, r.total, r.severity_label, r.public_id)
                for r in measure.responses
                if r.total is not None
            ]
            if series:
                measure.chart = line_chart(measure.instrument, series)
        out.append(measure)
    return out


def statements_of(*, patient: Patient) -> QuerySet:
    from billing.models import Statement

    return Statement.objects.filter(patient=patient).order_by("-issued_on", "-id")[:24]
