"""Posting 835 remittances (billing.md §4): whole file in one transaction, or rejected whole.

- Malformed (pyx12 validation or parse error) or unbalanced (billing.md §4 balancing) → a
  Remittance with status rejected whose error names "segment N (SEG): reason"; nothing posted.
- Same payer (TRN03) + trace (TRN02) already posted → the existing remittance, nothing posted.
- Each CLP → RemittanceClaim matched by CLP01 = Claim.control_number (unmatched → work queue),
  lines matched by REF*6R (ClaimLine pk) else CPT + modifiers + DOS.
- Ledger (billing/ledger.py conventions): payment Dr cash / Cr insurance_ar; CO Dr contractual;
  PR Dr patient_ar; OA/PI Dr other_adjustment; each Cr insurance_ar. PLB: Dr cash / Cr
  provider_adjustment for negative amounts (L6 interest), reverse for positive (WO recoupment).
- CLP02 = 22 reverses the earlier posting of that claim (`ledger_reverse`); the correction CLP
  that follows posts as new (X12 RFI 288). CLP02 = 19/20/21: forwarded, no secondary built.
- Denials from adjustments and zero pay (billing.md §4 rules 2-4), never from CLP02 alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.era import ZERO, Era, EraClaim, EraError, EraLine, balance_problems, parse_835
from billing.ledger import credit, debit, ledger_post, ledger_reverse
from billing.models import (
    Claim,
    ClaimLine,
    Coverage,
    DenialCase,
    InboundFile,
    LedgerAccount,
    LedgerTransaction,
    Payer,
    ProviderAdjustment,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
)
from billing.x12_validate import validate_x12
from clinical.models import Patient
from practice.audit import audit_batch
from practice.errors import DomainError

logger = logging.getLogger(__name__)
RC = RemittanceClaim.Outcome
S = Claim.Status
CLAIM_STATUS_FOR = {
    RC.PAID: S.PAID,
    RC.PATIENT_RESPONSIBILITY: S.PAID,
    RC.PARTIAL: S.PARTIALLY_PAID,
    RC.DENIED: S.DENIED,
}
ADJUSTMENT_ACCOUNT = {
    "CO": LedgerAccount.CONTRACTUAL,
    "PR": LedgerAccount.PATIENT_AR,
    "OA": LedgerAccount.OTHER_ADJUSTMENT,
    "PI": LedgerAccount.OTHER_ADJUSTMENT,
}


@dataclass
class ImportResult:
    remittances: list[Remittance] = field(default_factory=list)
    rejected: bool = False
    duplicate: bool = False
    error: str = ""

    @property
    def remittance(self) -> Remittance | None:
        return self.remittances[0] if self.remittances else None

    def summary(self) -> dict:
        out: dict[str, Any] = {
            "status": "rejected" if self.rejected else ("duplicate" if self.duplicate else "posted"),
            "error": self.error,
            "claims_matched": 0,
            "paid": 0,
            "partially_paid": 0,
            "denied": 0,
            "reversed": 0,
            "forwarded": 0,
            "unmatched": 0,
            "total_paid": "0.00",
            "claims": [],
        }
        total = ZERO
        for remittance in self.remittances:
            if remittance.status != Remittance.Status.POSTED:
                continue
            total += remittance.payment_amount
            for rc in remittance.claims.all():
                out["claims_matched" if rc.is_matched else "unmatched"] += 1
                key = {RC.PAID: "paid", RC.PARTIAL: "partially_paid", RC.DENIED: "denied", RC.REVERSED: "reversed"}
                if rc.outcome in key:
                    out[key[rc.outcome]] += 1
                if rc.outcome == RC.FORWARDED:
                    out["forwarded"] += 1
                out["claims"].append(claim_dict(rc))
        out["total_paid"] = str(total)
        return out


def claim_dict(rc: RemittanceClaim) -> dict:
    adjustments = list(rc.adjustments) + [a for line in rc.lines.all() for a in line.adjustments]
    return {
        "claim_id": rc.claim_control_number,
        "status": rc.outcome,
        "status_code": rc.status_code,
        "matched": rc.is_matched,
        "paid": str(rc.paid_amount),
        "patient_responsibility": str(rc.patient_responsibility),
        "adjustments": adjustments,
    }


def _reject(*, practice, era: Era | None, error: str, by, inbound_file) -> Remittance:
    return Remittance.objects.create(
        practice=practice,
        inbound_file=inbound_file,
        payer_name=(era.payer_name if era else "")[:60],
        payer_identifier=(era.payer_identifier if era else "")[:80],
        trace_number=(era.trace_number if era else "")[:50],
        payment_amount=era.payment_amount if era else ZERO,
        payment_method=(era.payment_method if era else "")[:3],
        payment_date=era.payment_date if era else None,
        status=Remittance.Status.REJECTED,
        error=error,
        posted_by=by,
    )


def _finish_inbound(inbound_file: InboundFile | None, result: ImportResult) -> None:
    if inbound_file is None:
        return
    inbound_file.status = InboundFile.Status.REJECTED if result.rejected else InboundFile.Status.PROCESSED
    inbound_file.error = result.error
    inbound_file.summary = {k: v for k, v in result.summary().items() if k != "claims"}
    inbound_file.processed_at = timezone.now()
    inbound_file.save(update_fields=["status", "error", "summary", "processed_at", "updated_at"])


def remittance_import(
    *, practice, content: str | bytes, filename: str = "", by=None, inbound_file: InboundFile | None = None
) -> ImportResult:
    """Check, then post every 835 transaction in `content` in one database transaction."""
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    result = ImportResult()
    ok, problems, _ = validate_x12(text)
    eras: list[Era] = []
    error = ""
    if not ok:
        first = problems[0] if problems else {"line": None, "segment": "", "message": "invalid X12"}
        error = f"segment {first.get('line')} ({first.get('segment') or '?'}): {first.get('message')}"
    else:
        try:
            eras = parse_835(text)
        except EraError as exc:
            error = str(exc)
        else:
            for era in eras:
                unbalanced = balance_problems(era)
                if unbalanced:
                    error = str(unbalanced[0])
                    break
    if error:
        result.rejected, result.error = True, error
        result.remittances.append(
            _reject(practice=practice, era=eras[0] if eras else None, error=error, by=by, inbound_file=inbound_file)
        )
        _finish_inbound(inbound_file, result)
        return result
    try:
        with transaction.atomic(), audit_batch(practice_id=practice.pk):
            for era in eras:
                existing = Remittance.objects.filter(
                    payer_identifier=era.payer_identifier,
                    trace_number=era.trace_number,
                    status=Remittance.Status.POSTED,
                ).first()
                if existing is not None:
                    result.duplicate = True
                    result.remittances.append(existing)
                    continue
                result.remittances.append(_post(practice=practice, era=era, by=by, inbound_file=inbound_file))
    except IntegrityError:  # the same trace was posted concurrently: that import won
        result = ImportResult(duplicate=True)
        for era in eras:
            result.remittances.extend(
                Remittance.objects.filter(
                    payer_identifier=era.payer_identifier, trace_number=era.trace_number, status="posted"
                )
            )
    _finish_inbound(inbound_file, result)
    return result


def _post(*, practice, era: Era, by, inbound_file) -> Remittance:
    payer = Payer.objects.filter(payer_id=era.payer_id).first() if era.payer_id else None
    remittance = Remittance.objects.create(  # first: the unique index serialises concurrent imports
        practice=practice,
        inbound_file=inbound_file,
        payer=payer,
        payer_name=era.payer_name[:60],
        payer_identifier=era.payer_identifier[:80],
        trace_number=era.trace_number[:50],
        payment_amount=era.payment_amount,
        payment_method=era.payment_method[:3],
        payment_date=era.payment_date,
        status=Remittance.Status.POSTED,
        posted_by=by,
    )
    # Lines are loaded for all claims at once (one query, not one per CLP).
    claims = {
        c.control_number: c
        for c in Claim.objects.select_for_update()
        .filter(control_number__in={clp.control_number for clp in era.claims})
        .prefetch_related("lines")
    }
    # Patients with a secondary coverage: for the others `_secondary` can only refuse (no_secondary).
    with_secondary = set(
        Coverage.objects.filter(
            patient_id__in={c.patient_id for c in claims.values()},
            priority=Coverage.Priority.SECONDARY,
            is_active=True,
        ).values_list("patient_id", flat=True)
    )
    for clp in era.claims:
        claim = claims.get(clp.control_number)
        if remittance.payer_id is None and claim is not None:
            remittance.payer_id = claim.payer_id
        rc, lines = _record_claim(practice=practice, remittance=remittance, clp=clp, claim=claim)
        if claim is not None:
            _apply_to_claim(
                rc=rc,
                claim=claim,
                by=by,
                on=era.payment_date,
                lines=lines,
                may_have_secondary=claim.patient_id in with_secondary,
            )
    for adj in era.provider_adjustments:
        _post_plb(practice=practice, remittance=remittance, adj=adj, by=by, on=era.payment_date)
    remittance.save(update_fields=["payer", "updated_at"])
    _apply_patient_credits(claims=claims, era=era, by=by)
    return remittance


def _apply_patient_credits(*, claims: dict[str, Claim], era: Era, by) -> None:
    """A copay taken at check-in waits as patient credit until the payer says what the patient
    owes; once this 835 moves that share to the patient's balance, the credit pays it."""
    from billing.services_patient_billing import credit_apply

    owing = {
        claims[c.control_number].patient_id
        for c in era.claims
        if c.control_number in claims and c.patient_responsibility > 0
    }
    for patient in Patient.objects.filter(pk__in=owing).order_by("pk"):
        credit_apply(patient=patient, by=by, on=era.payment_date)


def _record_claim(
    *, practice, remittance: Remittance, clp: EraClaim, claim: Claim | None
) -> tuple[RemittanceClaim, list[RemittanceLine]]:
    rc = RemittanceClaim.objects.create(
        practice=practice,
        remittance=remittance,
        claim=claim,
        claim_control_number=clp.control_number[:38],
        status_code=clp.status_code[:2],
        outcome=clp.outcome(),
        charge_amount=clp.charge,
        paid_amount=clp.paid,
        patient_responsibility=clp.patient_responsibility,
        payer_claim_number=clp.payer_claim_number[:50],
        patient_name=clp.patient_name[:120],
        service_date=clp.service_date,
        adjustments=[a.as_dict() for a in clp.adjustments],
        remarks=clp.remarks,
        is_matched=claim is not None,
    )
    claim_lines = list(claim.lines.all()) if claim is not None else []
    used: set[int] = set()
    rows = []
    for line in clp.lines:
        match = _match_line(line, claim_lines, used, line.line_control)
        if match is not None:
            used.add(match.pk)
        rows.append((line, match))
    created = RemittanceLine.objects.bulk_create(
        [
            RemittanceLine(
                practice=practice,
                remittance_claim=rc,
                claim_line=match,
                cpt=line.cpt[:5],
                modifiers=line.modifiers,
                charge_amount=line.charge,
                paid_amount=line.paid,
                allowed_amount=line.allowed,
                units=line.units,
                service_date=line.service_date,
                adjustments=[a.as_dict() for a in line.adjustments],
                remarks=line.remarks,
                is_denied=bool(line.denial_reason()),
                denial_reason=line.denial_reason()[:8],
            )
            for line, match in rows
        ]
    )
    return rc, created


def _match_line(
    line: RemittanceLine | EraLine, claim_lines: list[ClaimLine], used: set[int], line_control: str = ""
) -> ClaimLine | None:
    if line_control.isdigit():
        for cl in claim_lines:
            if cl.pk == int(line_control) and cl.pk not in used:
                return cl
    for cl in claim_lines:
        if cl.pk in used or cl.cpt != line.cpt or list(cl.modifiers or []) != list(line.modifiers or []):
            continue
        if line.service_date and cl.service_date and cl.service_date != line.service_date:
            continue
        return cl
    return None


def _earlier_posting(claim: Claim, rc: RemittanceClaim) -> LedgerTransaction | None:
    """The latest not-yet-reversed remittance posting of this claim, before `rc`."""
    earlier = (
        RemittanceClaim.objects.filter(claim=claim, pk__lt=rc.pk)
        .exclude(outcome=RC.REVERSED)
        .order_by("-pk")
        .values_list("pk", flat=True)
    )
    for pk in earlier:
        txn = LedgerTransaction.objects.filter(idempotency_key=_ledger_key(pk), reversed_by__isnull=True).first()
        if txn is not None:
            return txn
    return None


def _ledger_key(rc_pk: int) -> str:
    return f"remittance-claim:{rc_pk}"


def _apply_to_claim(
    *,
    rc: RemittanceClaim,
    claim: Claim,
    by,
    on,
    lines: list[RemittanceLine] | None = None,
    may_have_secondary: bool = True,
) -> None:
    """Lines matched, ledger posted, claim status/ICN updated, denial case opened, secondary built.
    `lines` are rc's lines when the caller just created them; `may_have_secondary=False` when the
    patient has no secondary coverage (so no secondary claim can be built)."""
    lines = list(rc.lines.all()) if lines is None else lines
    claim_lines = list(claim.lines.all())
    used: set[int] = {x.claim_line_id for x in lines if x.claim_line_id}
    for line in (x for x in lines if x.claim_line_id is None):
        match = _match_line(line, claim_lines, used)
        if match is not None:
            used.add(match.pk)
            line.claim_line = match
            line.save(update_fields=["claim_line", "updated_at"])
    if rc.payer_claim_number and claim.payer_claim_number != rc.payer_claim_number:
        claim.payer_claim_number = rc.payer_claim_number
        claim.save(update_fields=["payer_claim_number", "updated_at"])
    occurred = on or timezone.localdate()
    if rc.outcome == RC.REVERSED:
        original = _earlier_posting(claim, rc)
        if original is not None:
            ledger_reverse(
                original=original, by=by, occurred_on=occurred, memo=f"835 reversal of {claim.control_number}"
            )
            return
    _post_claim_ledger(rc=rc, claim=claim, lines=lines, by=by, on=occurred)
    if rc.outcome == RC.REVERSED:
        return
    outcome = _money_outcome(rc, lines)
    to = CLAIM_STATUS_FOR.get(outcome)
    if to and to != claim.status:
        from billing.services_claims import claim_transition

        try:
            claim_transition(claim=claim, to=to, by=None, source="835", note=f"835 trace {rc.remittance.trace_number}")
        except DomainError as exc:
            logger.info("835 could not move claim %s: %s", claim.pk, exc)
    if outcome in (RC.DENIED, RC.PARTIAL):
        reason = next((x.denial_reason for x in lines if x.denial_reason), "") or _claim_denial(rc)
        denied = (
            rc.charge_amount if outcome == RC.DENIED else sum((x.charge_amount for x in lines if x.is_denied), ZERO)
        )
        DenialCase.objects.get_or_create(
            remittance_claim=rc,
            defaults={
                "practice_id": rc.practice_id,
                "claim": claim,
                "reason_code": reason[:8] or "OTHER",
                "amount": denied,
            },
        )
    if (
        may_have_secondary
        and rc.outcome != RC.FORWARDED
        and outcome in (RC.PAID, RC.PARTIAL, RC.DENIED, RC.PATIENT_RESPONSIBILITY)
    ):
        _secondary(claim)


def _claim_denial(rc: RemittanceClaim) -> str:
    for a in rc.adjustments:
        if a["group"] != "PR" and not (a["group"] == "CO" and a["reason"] == "45") and Decimal(a["amount"]) != 0:
            return f"{a['group']}-{a['reason']}"
    return "CLP02-4" if rc.status_code == "4" else ""


def _money_outcome(rc: RemittanceClaim, lines: list[RemittanceLine]) -> str:
    """The payment outcome (a crossover is still paid / partial / denied for our claim)."""
    if rc.outcome not in (RC.FORWARDED,):
        return rc.outcome
    denied = [x for x in lines if x.is_denied]
    if denied and rc.paid_amount == 0 and len(denied) == len(lines):
        return RC.DENIED
    if denied:
        return RC.PARTIAL
    if rc.paid_amount > 0:
        return RC.PAID
    return RC.PATIENT_RESPONSIBILITY if rc.patient_responsibility > 0 else RC.OTHER


def _post_claim_ledger(*, rc: RemittanceClaim, claim: Claim, lines: list[RemittanceLine], by, on) -> None:
    base = {"patient_id": claim.patient_id, "payer_id": claim.payer_id, "claim_id": claim.pk}
    if claim.rendering_id:
        base["rendering_id"] = claim.rendering_id
    legs = []
    # A denial is work, not a write-off: its non-PR, non-CO-45 adjustments stay in insurance A/R
    # (and in aging) until the denial is appealed, corrected or written off (billing.md §4, §6).
    sources: list[tuple[list[dict], dict, bool]] = [(rc.adjustments, base, rc.outcome == RC.DENIED)]
    for line in lines:
        dims = base | ({"claim_line_id": line.claim_line_id} if line.claim_line_id else {})
        sources.append((line.adjustments, dims, line.is_denied))
        if line.paid_amount:
            legs += [
                debit(LedgerAccount.CASH, line.paid_amount, **dims),
                credit(LedgerAccount.INSURANCE_AR, line.paid_amount, **dims),
            ]
    line_paid = sum((x.paid_amount for x in lines), ZERO)
    if rc.paid_amount != line_paid:  # claim-level payment without (or beyond) service lines
        rest = rc.paid_amount - line_paid
        legs += [debit(LedgerAccount.CASH, rest, **base), credit(LedgerAccount.INSURANCE_AR, rest, **base)]
    for adjustments, dims, denied in sources:
        for a in adjustments:
            if denied and _held_as_denial(a):
                continue
            amount = Decimal(a["amount"])
            tagged = dims | {"adjustment_group": a["group"], "adjustment_reason": a["reason"][:5]}
            legs += [
                debit(ADJUSTMENT_ACCOUNT[a["group"]], amount, **tagged),
                credit(LedgerAccount.INSURANCE_AR, amount, **tagged),
            ]
    if not any(leg.amount for leg in legs):
        return
    ledger_post(
        practice_id=rc.practice_id,
        kind=LedgerTransaction.Kind.REMITTANCE,
        legs=legs,
        idempotency_key=_ledger_key(rc.pk),
        occurred_on=on,
        memo=f"835 {rc.remittance.trace_number} claim {rc.claim_control_number} ({rc.get_outcome_display()})",
        by=by,
    )


def _held_as_denial(adjustment: dict) -> bool:
    """Adjustments of a denied line or claim that are the denial itself (not the patient's share
    and not the contractual fee-schedule reduction CO-45)."""
    return adjustment["group"] != "PR" and not (adjustment["group"] == "CO" and adjustment["reason"] == "45")


def _post_plb(*, practice, remittance: Remittance, adj, by, on) -> None:
    row = ProviderAdjustment.objects.create(
        practice=practice, remittance=remittance, reason=adj.reason[:2], reference=adj.reference[:50], amount=adj.amount
    )
    # A positive PLB reduces the payment; a negative one (L6 interest) is money to us (billing.md §4).
    ledger_post(
        practice_id=practice.pk,
        kind=LedgerTransaction.Kind.PROVIDER_ADJUSTMENT,
        legs=[debit(LedgerAccount.PROVIDER_ADJUSTMENT, adj.amount), credit(LedgerAccount.CASH, adj.amount)],
        idempotency_key=f"plb:{row.pk}",
        occurred_on=on or timezone.localdate(),
        memo=f"PLB {adj.reason} {adj.reference}".strip(),
        by=by,
    )


def _secondary(claim: Claim) -> None:
    """Billing I's secondary rule: build the secondary claim and try to make it ready."""
    if claim.coverage is None or claim.coverage.priority != Coverage.Priority.PRIMARY:
        return
    from billing.services_claims import claim_build_secondary, claim_mark_ready

    try:
        secondary = claim_build_secondary(primary_claim=claim, by=None)
    except DomainError:
        return
    try:
        with transaction.atomic():
            claim_mark_ready(claim=secondary, by=None)
    except DomainError as exc:
        logger.info("Secondary claim %s stays draft: %s", secondary.pk, exc)


@transaction.atomic
def remittance_claim_match(*, remittance_claim: RemittanceClaim, control_number: str, by) -> RemittanceClaim:
    """Match an unmatched CLP to our claim by hand, then post its claim-level effects."""
    rc = RemittanceClaim.objects.select_for_update().get(pk=remittance_claim.pk)
    if rc.is_matched or rc.resolved_at is not None:
        raise DomainError("This remittance claim is already matched or dismissed.", code="resolved")
    claim = Claim.objects.select_for_update().filter(control_number=control_number.strip()).first()
    if claim is None:
        raise DomainError("No claim has that control number.", field="control_number")
    rc.claim, rc.is_matched, rc.resolved_at, rc.resolved_by = claim, True, timezone.now(), by
    rc.save(update_fields=["claim", "is_matched", "resolved_at", "resolved_by", "updated_at"])
    _apply_to_claim(rc=rc, claim=claim, by=by, on=rc.remittance.payment_date)
    return rc


@transaction.atomic
def remittance_claim_dismiss(*, remittance_claim: RemittanceClaim, by) -> RemittanceClaim:
    rc = RemittanceClaim.objects.select_for_update().get(pk=remittance_claim.pk)
    if rc.is_matched or rc.resolved_at is not None:
        raise DomainError("This remittance claim is already matched or dismissed.", code="resolved")
    rc.resolved_at, rc.resolved_by = timezone.now(), by
    rc.save(update_fields=["resolved_at", "resolved_by", "updated_at"])
    return rc
