"""Working a denial: assign, note, appeal, corrected claim, write-off, resolve.

Every action is one transaction that writes a DenialNote (who, what, why) and stamps
`last_worked_at`; DenialCase and DenialNote are registered with auditlog, so the field changes are
in the audit log too. Claim status moves go through Billing I's `claim_transition` /
`claim_correct`; money moves only through `ledger_post` (billing/ledger.py conventions:
write-off = Dr write_off / Cr insurance_ar).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from billing import carc
from billing.ledger import credit, debit, ledger_post, money
from billing.models import Claim, DenialCase, DenialNote, LedgerAccount, LedgerEntry, LedgerTransaction
from billing.services_claims import TRANSITIONS, claim_correct, claim_transition
from practice.errors import DomainError
from practice.models import Membership
from practice.permissions import Perm

D = DenialCase.Status
CLOSED = (D.WRITTEN_OFF, D.RESOLVED)


def _require(by: Membership, case: DenialCase) -> None:
    if by is None or not by.has_perm(Perm.BILLING_MANAGE):
        raise DomainError("You do not have permission to work denials.", code="forbidden")
    if by.practice_id != case.practice_id:
        raise DomainError("Not found.", code="not_found")


def _locked(case: DenialCase) -> DenialCase:
    return DenialCase.objects.select_for_update().get(pk=case.pk)


def _open(case: DenialCase) -> None:
    if case.status in CLOSED:
        raise DomainError(f"This denial is already {case.get_status_display().lower()}.", code="invalid_transition")


def _note(case: DenialCase, *, by: Membership, text: str, action: str) -> DenialNote:
    case.last_worked_at = timezone.now()
    case.save(update_fields=["last_worked_at", "status", "assigned_to", "resolution_note", "updated_at"])
    return DenialNote.objects.create(practice_id=case.practice_id, case=case, author=by, text=text, action=action)


@transaction.atomic
def denial_add_note(*, case: DenialCase, by: Membership, text: str) -> DenialNote:
    _require(by, case)
    text = (text or "").strip()
    if not text:
        raise DomainError("Write a note first.", field="text")
    return _note(_locked(case), by=by, text=text, action="note")


@transaction.atomic
def denial_assign(*, case: DenialCase, by: Membership, assignee: Membership | None) -> DenialCase:
    """Assign to a member who may work denials (BILLING_MANAGE), or unassign with None."""
    _require(by, case)
    case = _locked(case)
    if assignee is not None and (
        assignee.practice_id != case.practice_id or not assignee.is_active or not assignee.has_perm(Perm.BILLING_MANAGE)
    ):
        raise DomainError("Assign the denial to an active billing team member.", field="assignee")
    case.assigned_to = assignee
    name = assignee.user.display_name if assignee else "nobody"
    _note(case, by=by, text=f"Assigned to {name}.", action="assigned")
    return case


@transaction.atomic
def denial_appeal(*, case: DenialCase, by: Membership, note: str = "") -> DenialCase:
    """Mark the case and its claim appealed (the letter is `billing.appeals.appeal_letter_pdf`)."""
    _require(by, case)
    case = _locked(case)
    _open(case)
    if case.status == D.APPEALED:
        raise DomainError("This denial is already appealed.", code="invalid_transition")
    claim = Claim.objects.get(pk=case.claim_id)
    if claim.status != Claim.Status.APPEALED:
        if Claim.Status.APPEALED not in TRANSITIONS.get(claim.status, frozenset()):
            raise DomainError(
                f"A {claim.get_status_display().lower()} claim cannot be appealed.", code="invalid_transition"
            )
        claim_transition(claim=claim, to=Claim.Status.APPEALED, by=by, note=f"Appeal of denial {case.reason_code}.")
    case.status = D.APPEALED
    _note(case, by=by, text=("Appealed. " + note.strip()).strip(), action="appealed")
    return case


@transaction.atomic
def denial_correct(*, case: DenialCase, by: Membership, payer_claim_number: str = "") -> Claim:
    """Create Billing I's corrected (frequency 7) claim; the case becomes `resubmitted`."""
    _require(by, case)
    case = _locked(case)
    _open(case)
    claim = Claim.objects.get(pk=case.claim_id)
    icn = payer_claim_number or claim.payer_claim_number or case.remittance_claim.payer_claim_number
    copy = claim_correct(claim=claim, by=by, payer_claim_number=icn)
    case.status = D.RESUBMITTED
    _note(case, by=by, text=f"Corrected claim {copy.control_number} created.", action="resubmitted")
    return copy


# Where services_remittance posts a CAS adjustment, by group (billing.md §4 CAS groups).
REMIT_ADJUSTMENT_ACCOUNT = {
    "CO": LedgerAccount.CONTRACTUAL,
    "OA": LedgerAccount.OTHER_ADJUSTMENT,
    "PI": LedgerAccount.OTHER_ADJUSTMENT,
}


def _open_insurance_ar(claim: Claim) -> Decimal:
    """What the ledger still carries as insurance A/R for this claim: its charges' postings (which
    carry the charge, not the claim) plus every posting on the claim (remittances, write-offs)."""
    charge_ids = list(claim.lines.values_list("charge_id", flat=True))
    total = LedgerEntry.objects.filter(account=LedgerAccount.INSURANCE_AR).filter(
        Q(claim_id=claim.pk) | Q(charge_id__in=charge_ids)
    ).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    return max(money(total), Decimal("0.00"))


@transaction.atomic
def denial_write_off(*, case: DenialCase, by: Membership, reason: str, amount: Decimal | None = None) -> DenialCase:
    """Write the denied amount off: Dr write_off / Cr insurance_ar (ledger.py conventions), with the
    claim, patient and payer as dimensions and the CARC as the adjustment reason. Only what is
    still open in insurance A/R is credited there; the rest is reclassified from the adjustment
    account the 835 posting used (see REMIT_ADJUSTMENT_ACCOUNT)."""
    _require(by, case)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why the amount is written off.", field="reason")
    case = _locked(case)
    _open(case)
    value = money(case.amount if amount is None else amount)
    if value <= 0 or value > money(case.amount):
        raise DomainError(f"Write off between 0.01 and {money(case.amount)}.", field="amount")
    claim = Claim.objects.get(pk=case.claim_id)
    group, code = carc.split_reason(case.reason_code)
    dims = {
        "claim_id": claim.pk,
        "patient_id": claim.patient_id,
        "payer_id": claim.payer_id,
        "rendering_id": claim.rendering_id,
        "adjustment_group": group[:2],
        "adjustment_reason": code[:5],
    }
    from_ar = min(value, _open_insurance_ar(claim))
    legs = [debit(LedgerAccount.WRITE_OFF, value, **dims), credit(LedgerAccount.INSURANCE_AR, from_ar, **dims)]
    if value > from_ar:
        # The 835 posting already took the denied CAS amount off insurance A/R (Dr contractual or
        # other_adjustment by CAS group, services_remittance). Writing it off then reclassifies it
        # from that adjustment account instead of crediting A/R twice (A/R never goes negative).
        legs.append(
            credit(REMIT_ADJUSTMENT_ACCOUNT.get(group, LedgerAccount.OTHER_ADJUSTMENT), value - from_ar, **dims)
        )
    ledger_post(
        practice_id=case.practice_id,
        kind=LedgerTransaction.Kind.WRITE_OFF,
        legs=legs,
        idempotency_key=f"denial-write-off:{case.public_id}",
        memo=f"Denial {case.reason_code} written off on claim {claim.control_number}: {reason}"[:300],
        by=by,
    )
    case.status = D.WRITTEN_OFF
    case.resolution_note = reason
    _note(case, by=by, text=f"Wrote off {value}: {reason}", action="written_off")
    return case


@transaction.atomic
def denial_resolve(*, case: DenialCase, by: Membership, note: str) -> DenialCase:
    _require(by, case)
    note = (note or "").strip()
    if not note:
        raise DomainError("Say how the denial was resolved.", field="note")
    case = _locked(case)
    _open(case)
    case.status = D.RESOLVED
    case.resolution_note = note
    _note(case, by=by, text=f"Resolved: {note}", action="resolved")
    return case
