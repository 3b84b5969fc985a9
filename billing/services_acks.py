"""Importing inbound X12 files (uploaded by hand or collected from the clearinghouse): 999 and 277CA
acknowledgements are applied to our 837 files and claims; 835s are posted by billing.services_remittance;
271s go to the eligibility import (billing.md §2.2).

The same bytes twice return the existing row and apply nothing again. A file we cannot read is
stored as rejected with the segment that failed, and changes nothing.
"""

from __future__ import annotations

import hashlib
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import acks
from billing.models import Claim, ClaimEvent, ClaimFile, InboundFile
from billing.x12 import X12Error
from practice.errors import DomainError

logger = logging.getLogger(__name__)

try:  # helper B2's lifecycle service
    from billing.services_claims import claim_transition as _claim_transition
except ImportError:  # pragma: no cover - depends on landing order
    _claim_transition = None

MAX_CONTENT_BYTES = 20 * 1024 * 1024


def _text(content: str | bytes) -> str:
    if isinstance(content, bytes):
        return content.decode("utf-8", errors="replace")
    return content


def _transition(*, claim: Claim, to: str, by, source: str, note: str) -> bool:
    """Move the claim (B2's claim_transition when present); False when the move is not allowed."""
    if _claim_transition is not None:
        try:
            _claim_transition(claim=claim, to=to, by=by, source=source, note=note)
        except DomainError:
            return False
        return True
    allowed = {
        Claim.Status.SUBMITTED: {Claim.Status.ACCEPTED, Claim.Status.REJECTED},
        Claim.Status.ACCEPTED: {Claim.Status.REJECTED},
    }
    if to not in allowed.get(claim.status, set()):
        return False
    ClaimEvent.objects.create(
        practice_id=claim.practice_id,
        claim=claim,
        from_status=claim.status,
        to_status=to,
        by=by,
        source=source,
        note=note,
    )
    claim.status = to
    claim.status_changed_at = timezone.now()
    fields = ["status", "status_changed_at", "updated_at"]
    if to == Claim.Status.REJECTED:
        claim.rejection_reason = note
        fields.append("rejection_reason")
    claim.save(update_fields=fields)
    return True


def inbound_file_import(*, practice, filename: str, content: str | bytes, by=None) -> InboundFile:
    """Store an inbound X12 file once (sha256 per practice) and apply it. Returns the row."""
    raw = content if isinstance(content, bytes) else content.encode("utf-8")
    if len(raw) > MAX_CONTENT_BYTES:
        raise DomainError("The file is larger than 20 MB.", field="file", code="too_large")
    digest = hashlib.sha256(raw).hexdigest()
    existing = InboundFile.objects.filter(practice=practice, sha256=digest).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return _import(practice=practice, filename=filename, text=_text(content), digest=digest, by=by)
    except IntegrityError:  # the same bytes imported concurrently: the other import won
        existing = InboundFile.objects.filter(practice=practice, sha256=digest).first()
        if existing is None:
            raise
        return existing


def _import(*, practice, filename: str, text: str, digest: str, by) -> InboundFile:
    row = InboundFile(
        practice=practice,
        filename=(filename or "inbound.x12")[:200],
        content=text,
        sha256=digest,
        received_by=by,
        kind=InboundFile.Kind.UNKNOWN,
    )
    try:
        row.kind = acks.identify_kind(text)
    except X12Error as exc:
        row.status = InboundFile.Status.REJECTED
        row.error = str(exc)
        row.save()
        return row
    row.save()
    try:
        with transaction.atomic():  # a failure half-way changes nothing
            if row.kind == InboundFile.Kind.ACK_999:
                row.summary = _apply_999(practice=practice, text=text, by=by, row=row)
            elif row.kind == InboundFile.Kind.CLAIM_STATUS_277CA:
                row.summary = _apply_277ca(practice=practice, text=text, by=by, row=row)
            elif row.kind == InboundFile.Kind.ELIGIBILITY_271:
                row.summary = _apply_271(practice=practice, text=text, by=by)
            elif row.kind == InboundFile.Kind.REMITTANCE_835:
                from billing.services_remittance import remittance_import

                # Posted with the same checks as an upload; a rejected 835 marks this row rejected.
                remittance_import(practice=practice, content=text, filename=row.filename, by=by, inbound_file=row)
                row.refresh_from_db()
                return row
            else:
                raise X12Error("The file is not a 999, 277CA, 835 or 271.")
    except (X12Error, DomainError) as exc:
        row.status = InboundFile.Status.REJECTED
        row.error = getattr(exc, "message", None) or str(exc)
        row.summary = {}
        row.save(update_fields=["status", "error", "summary", "updated_at"])
        return row
    row.status = InboundFile.Status.PROCESSED
    row.processed_at = timezone.now()
    row.save(update_fields=["status", "summary", "processed_at", "updated_at"])
    return row


def _find_claim_file(*, practice, gs06: str, st02: str | None) -> ClaimFile | None:
    candidates = ClaimFile.objects.filter(practice=practice, group_control_number=str(int(gs06))).exclude(
        status=ClaimFile.Status.INVALID
    )
    for claim_file in candidates.select_for_update():
        if st02 is None or (st02.isdigit() and int(claim_file.transaction_control_number) == int(st02)):
            return claim_file
    return None


def _apply_999(*, practice, text: str, by, row: InboundFile) -> dict:
    groups = acks.parse_999(text)
    results = []
    now = timezone.now()
    for group in groups:
        transactions = group.transactions or [acks.TransactionAck(st02="", code=group.code)]
        for ack in transactions:
            claim_file = _find_claim_file(practice=practice, gs06=group.gs06, st02=ack.st02 or None)
            result = {
                "gs06": group.gs06,
                "st02": ack.st02,
                "code": ack.code,
                "accepted": ack.accepted,
                "errors": ack.errors,
                "file": claim_file.filename if claim_file else None,
                "file_id": str(claim_file.public_id) if claim_file else None,
                "claims": [],
            }
            results.append(result)
            if claim_file is None:
                continue
            claim_file.status = ClaimFile.Status.ACCEPTED if ack.accepted else ClaimFile.Status.REJECTED
            claim_file.acknowledged_at = now
            claim_file.save(update_fields=["status", "acknowledged_at", "updated_at"])
            if ack.accepted:
                continue
            reason = "999: the file was rejected for syntax — " + ("; ".join(ack.errors) or f"code {ack.code}")
            for claim in Claim.objects.filter(claim_file=claim_file).order_by("id"):
                moved = _transition(claim=claim, to=Claim.Status.REJECTED, by=by, source="999", note=reason)
                if moved:
                    Claim.objects.filter(pk=claim.pk).update(rejection_reason=reason)
                result["claims"].append(
                    {"control_number": claim.control_number, "status": "rejected" if moved else "unchanged"}
                )
    return {"kind": "999", "transactions": results, "matched": sum(1 for r in results if r["file"])}


def _apply_277ca(*, practice, text: str, by, row: InboundFile) -> dict:
    claim_acks = acks.parse_277ca(text)
    by_number = {
        claim.control_number: claim
        for claim in Claim.objects.select_for_update().filter(
            practice=practice, control_number__in=[a.control_number for a in claim_acks]
        )
    }
    results = []
    for ack in claim_acks:
        claim = by_number.get(ack.control_number)
        result = {
            "control_number": ack.control_number,
            "payer_claim_number": ack.payer_claim_number,
            "accepted": ack.accepted,
            "rejected": ack.rejected,
            "reason": ack.reason(),
            "claim_id": str(claim.public_id) if claim else None,
            "status": "not ours" if claim is None else "unchanged",
        }
        results.append(result)
        if claim is None:
            continue
        if ack.rejected:
            note = "277CA: " + ack.reason()
            if _transition(claim=claim, to=Claim.Status.REJECTED, by=by, source="277CA", note=note):
                Claim.objects.filter(pk=claim.pk).update(rejection_reason=note)
                result["status"] = "rejected"
        elif ack.accepted:
            if claim.status == Claim.Status.SUBMITTED and _transition(
                claim=claim, to=Claim.Status.ACCEPTED, by=by, source="277CA", note="277CA: " + ack.reason()
            ):
                result["status"] = "accepted"
            if ack.payer_claim_number:
                Claim.objects.filter(pk=claim.pk).update(payer_claim_number=ack.payer_claim_number[:50])
    return {
        "kind": "277CA",
        "claims": results,
        "accepted": sum(1 for r in results if r["status"] == "accepted"),
        "rejected": sum(1 for r in results if r["status"] == "rejected"),
        "unmatched": sum(1 for r in results if r["claim_id"] is None),
    }


def _apply_271(*, practice, text: str, by) -> dict:
    try:
        from billing.eligibility import eligibility_response_import
    except ImportError:  # helper B1's 271 import has not landed
        return {"kind": "271", "note": "Stored; the eligibility import is not available."}
    check = eligibility_response_import(practice_id=practice.id, content=text, by=by)
    return {"kind": "271", "eligibility_check": str(check.public_id), "active": check.is_active_coverage}
