"""Appeal letter PDF for a denial (WeasyPrint via clinical/pdf.py): practice letterhead from the
billing profile, payer, claim and payer claim numbers, patient, dates of service, CPT/ICD-10, the
denial reason in words and a reasoned paragraph for its reason group, and a signature block."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from billing import carc
from billing.models import BillingProfile, DenialCase
from clinical.pdf import render_pdf
from practice.models import Membership

# One reasoned paragraph per reason group (carc.REASON_GROUPS); the biller edits the PDF's
# wording by adding a note before printing if the case needs more.
PARAGRAPHS: dict[str, str] = {
    carc.AUTH: (
        "The services were medically necessary and were delivered in good faith. Where a prior "
        "authorization was required, we ask that you review the authorization on file or accept the "
        "retroactive authorization requested for these dates of service, and reprocess the claim."
    ),
    carc.TIMELY: (
        "This claim was first submitted within the filing limit. Our clearinghouse acceptance records "
        "show the original submission date; we ask that you honor that date and reprocess the claim."
    ),
    carc.CODING: (
        "The procedure and diagnosis codes billed are supported by the clinical documentation for "
        "these dates of service, which shows the medical necessity of the treatment. We ask that you "
        "review the enclosed documentation and reprocess the claim."
    ),
    carc.ELIGIBILITY: (
        "Our records show the patient's coverage with your plan was in effect on the dates of service. "
        "We ask that you verify the eligibility and coordination-of-benefits information and reprocess "
        "the claim."
    ),
    carc.DUPLICATE: (
        "This claim is not a duplicate: it is for a separate and distinct service on the date shown. "
        "We ask that you review the claim history and reprocess the claim."
    ),
    carc.OTHER: (
        "We believe this claim was denied in error. We ask that you review the claim and the enclosed "
        "information and reprocess it according to the patient's benefits."
    ),
}


def appeal_context(*, case: DenialCase, by: Membership | None) -> dict[str, Any]:
    claim = case.claim
    group = carc.reason_group(case.reason_code)
    return {
        "case": case,
        "claim": claim,
        "patient": claim.patient,
        "payer": claim.payer,
        "coverage": claim.coverage,
        "lines": list(claim.lines.all()),
        "profile": BillingProfile.objects.filter(practice_id=case.practice_id).first(),
        "practice": case.practice,
        "payer_claim_number": claim.payer_claim_number or case.remittance_claim.payer_claim_number,
        "reason_text": carc.describe(case.reason_code),
        "group_label": carc.REASON_GROUPS[group],
        "paragraph": PARAGRAPHS[group],
        "remarks": [(code, carc.rarc_text(code)) for code in case.remittance_claim.remarks or []],
        "signer": by,
        "today": timezone.localdate(),
    }


def appeal_letter_pdf(*, case: DenialCase, by: Membership | None) -> bytes:
    return render_pdf("billing/denials/appeal_letter.html", appeal_context(case=case, by=by))
