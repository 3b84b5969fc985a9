"""PDF renderings written to the chart when staff accept an intake: a signed consent (the exact text
that was signed plus the signature block) and the health-history answers. WeasyPrint via clinical.pdf."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from clinical.pdf import html_to_pdf
from portal.forms_intake import HISTORY_LABELS


def consent_pdf(*, signature, patient) -> bytes:
    html = render_to_string(
        "portal/staff/intake/pdf_consent.html",
        {
            "signature": signature,
            "consent": signature.consent,
            "patient": patient,
            "practice": patient.practice,
            "body_paragraphs": [p.strip() for p in signature.consent.body.split("\n\n") if p.strip()],
        },
    )
    return html_to_pdf(html)


def history_rows(answers: dict[str, Any]) -> list[tuple[str, str]]:
    return [(label, answers.get(name) or "—") for name, label in HISTORY_LABELS.items() if name in answers]


def history_pdf(*, submission, patient, answers: list[dict[str, Any]]) -> bytes:
    html = render_to_string(
        "portal/staff/intake/pdf_history.html",
        {
            "submission": submission,
            "patient": patient,
            "practice": patient.practice,
            "sections": [history_rows(a) for a in answers],
            "printed_at": timezone.now(),
        },
    )
    return html_to_pdf(html)
