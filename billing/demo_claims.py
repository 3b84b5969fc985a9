"""Demo charges and claims for `seed_demo` (after the billing set-up seed: payers, fee schedules,
coverage): charges from the signed demo notes and scored questionnaires through the capture
service, draft claims built from them, two with scrubbing findings (a 90837 whose note documents
45 minutes; a service needing a prior authorization that has none), some marked ready, and — when
the 837 export is present — one exported file. Idempotent: a second run changes nothing."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from billing import services_charges as capture
from billing import services_claims as claims_services
from billing.models import Claim, ClaimFile, ClaimLine
from practice.errors import DomainError
from practice.scoping import practice_scope

logger = logging.getLogger(__name__)
DEMO_DAYS = 90


def _capture(practice) -> int:
    from assessments.models import Response
    from clinical.models import ProgressNote

    since = timezone.localdate() - timedelta(days=DEMO_DAYS)
    created = 0
    note_ids = ProgressNote.objects.filter(
        status=ProgressNote.Status.SIGNED, session_on__gte=since, session_on__lte=timezone.localdate()
    ).exclude(service_code="")
    for note_id in note_ids.order_by("session_on", "id").values_list("pk", flat=True):
        created += len(capture.charges_for_note(note_id=note_id).created)
    responses = Response.objects.filter(charge_recorded_at__isnull=True, is_complete=True).exclude(billable_cpt="")
    for response_id in responses.order_by("completed_at", "id").values_list("pk", flat=True):
        try:
            created += capture.charge_for_response(response_id=response_id) is not None
        except DomainError as exc:
            logger.info("demo: 96127 for response %s not charged: %s", response_id, exc.message)
    return created


def _flag_time_mismatch(claims: list[Claim]) -> Claim | None:
    """A 90834 line documented at 38-52 minutes billed as 90837 (billing.md P1 flags it)."""
    for claim in claims:
        line = (
            ClaimLine.objects.filter(claim=claim, cpt="90834", minutes__gte=38, minutes__lte=52)
            .order_by("line_number")
            .first()
        )
        if line is None:
            continue
        amount = line.charge_cents
        try:
            from billing.selectors_setup import fee_for

            amount = fee_for(
                coverage=claim.coverage,
                cpt="90837",
                modifiers=line.modifiers,
                patient=claim.patient,
                on=line.service_date,
            )
        except (ImportError, DomainError):
            pass
        line.cpt, line.charge_cents = "90837", amount * line.units
        line.save(update_fields=["cpt", "charge_cents", "updated_at"])
        claim.total_cents = sum(claim.lines.values_list("charge_cents", flat=True))
        claim.save(update_fields=["total_cents", "updated_at"])
        return claim
    return None


def _flag_missing_authorization(claims: list[Claim], skip: Claim | None) -> Claim | None:
    """A claim for a code its payer authorizes, with no authorization number (billing.md C9)."""
    for claim in claims:
        if claim == skip:
            continue
        required = set(claim.payer.auth_required_cpts or [])
        if required & set(claim.lines.values_list("cpt", flat=True)):
            claim.prior_authorization_number = ""
            claim.save(update_fields=["prior_authorization_number", "updated_at"])
            ClaimLine.objects.filter(claim=claim).update(updated_at=timezone.now())
            from billing.models import Charge

            Charge.objects.filter(claim_lines__claim=claim).update(prior_authorization=None)
            return claim
    return None


def _scrub(claims: list[Claim]) -> dict[int, int]:
    """Errors per claim after scrubbing (empty when the scrubber is not there)."""
    try:
        from billing.services_scrub import claim_scrub
    except ImportError:
        return {}
    out = {}
    for claim in claims:
        result = claim_scrub(claim=claim)
        out[claim.pk] = len(result.errors)
    return out


def seed_billing_claims(practice) -> dict:
    """Charges, claims (some flagged, some ready) and one exported 837 for the demo practice."""
    with practice_scope(practice):
        counts = {"charges": _capture(practice), "claims": 0, "flagged": 0, "ready": 0, "files": 0}
        built = claims_services.claims_build(practice_id=practice.pk)
        counts["claims"] = len(built)
        if not built:
            return counts
        claims = list(
            Claim.objects.filter(pk__in=[c.pk for c in built]).select_related("payer").order_by("service_date", "id")
        )
        mismatch = _flag_time_mismatch(claims)
        missing = _flag_missing_authorization(claims, mismatch)
        counts["flagged"] = sum(1 for c in (mismatch, missing) if c is not None)
        errors = _scrub(claims)
        clean = [c for c in claims if c.pk in errors and errors[c.pk] == 0]
        for claim in clean[: max(1, len(clean) // 2)]:
            try:
                claims_services.claim_mark_ready(claim=claim, by=None)
                counts["ready"] += 1
            except DomainError as exc:
                logger.info("demo: claim %s not ready: %s", claim.pk, exc.message)
        if counts["ready"] and not ClaimFile.objects.exists():
            try:
                from billing.services_export import claims_export
            except ImportError:
                return counts
            first = Claim.objects.filter(status=Claim.Status.READY, claim_file__isnull=True).order_by("id").first()
            ready = list(  # claims of one payer: one interchange, one file
                Claim.objects.filter(status=Claim.Status.READY, claim_file__isnull=True, payer_id=first.payer_id)
                .order_by("id")
                .values_list("pk", flat=True)[:2]
            )
            try:
                files = claims_export(practice=practice, by=None, claim_ids=ready)
            except DomainError as exc:
                logger.info("demo: export skipped: %s", exc.message)
                files = []
            counts["files"] = sum(1 for f in files if f.status == ClaimFile.Status.RELEASED)
        return counts
