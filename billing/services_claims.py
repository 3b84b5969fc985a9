"""Claims: built from unbilled insurance charges, moved through their lifecycle, corrected or voided.

- `claims_build` groups charges per patient + coverage + date of service (+ rendering clinician)
  into draft claims; 96127 charges of one day merge into one line with units = instruments
  (billing.md P7) and join that day's session claim.
- `claim_transition` is the only place a claim's status changes; every change is a ClaimEvent
  (who, when, from, to, why). Allowed moves are in TRANSITIONS.
- `claim_mark_ready` runs the scrubber (helper B3) and moves the claim only when no error is left.
- `claim_correct` / `claim_void` make a frequency-7 / -8 copy carrying the payer's claim number
  (REF*F8, billing.md C2); `claim_build_secondary` bills the secondary payer once the primary
  adjudicated.
- `claim_edit_lines` is the biller's fix: each change re-totals and invalidates the last scrub.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing import cpt as cpt_catalog
from billing.models import Charge, Claim, ClaimEvent, ClaimLine, Coverage, ScrubFinding
from billing.validators import icd10_is_well_formed
from practice.errors import DomainError
from practice.models import Membership
from practice.permissions import Perm

S = Claim.Status
MAX_DIAGNOSES = 12  # billing.md D4
MAX_POINTERS = 4  # billing.md D6
MAX_MODIFIERS = 4  # billing.md C5
MAX_LINES = 50  # 2400 repeats per claim (billing.md §2)
CONTROL_NUMBER_MAX = 20  # CLM01 ≤ 20 characters (billing.md §2.1, C3)
MERGED_CPTS = frozenset({"96127"})  # per-instrument units on one line (billing.md P7)

NON_FINAL = (S.DRAFT, S.READY, S.SUBMITTED, S.ACCEPTED, S.REJECTED, S.PARTIALLY_PAID, S.DENIED, S.APPEALED)
TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.READY, S.VOID}),
    S.READY: frozenset({S.DRAFT, S.SUBMITTED, S.VOID}),
    S.SUBMITTED: frozenset({S.ACCEPTED, S.REJECTED, S.PAID, S.PARTIALLY_PAID, S.DENIED, S.VOID}),
    S.ACCEPTED: frozenset({S.REJECTED, S.PAID, S.PARTIALLY_PAID, S.DENIED, S.VOID}),
    S.REJECTED: frozenset({S.DRAFT, S.VOID}),
    S.PAID: frozenset({S.CLOSED, S.PARTIALLY_PAID}),
    S.PARTIALLY_PAID: frozenset({S.PAID, S.CLOSED, S.APPEALED, S.VOID}),
    S.DENIED: frozenset({S.APPEALED, S.CLOSED, S.PAID, S.PARTIALLY_PAID, S.VOID}),
    S.APPEALED: frozenset({S.PAID, S.PARTIALLY_PAID, S.DENIED, S.CLOSED, S.VOID}),
    S.CLOSED: frozenset(),
    S.VOID: frozenset(),
}
# The payer has the claim (and its ICN): only these may be corrected or voided by a 7/8 claim.
AT_PAYER = (S.SUBMITTED, S.ACCEPTED, S.PAID, S.PARTIALLY_PAID, S.DENIED, S.APPEALED)
ADJUDICATED = (S.PAID, S.PARTIALLY_PAID, S.DENIED)
NO_ICN_MESSAGE = "The payer's claim number is needed for a corrected claim."


def _require(by: Membership | None, claim_or_practice_id: Any = None) -> None:
    if by is None:
        return
    if not by.has_perm(Perm.BILLING_MANAGE):
        raise DomainError("You do not have permission to manage claims.", code="forbidden")
    practice_id = getattr(claim_or_practice_id, "practice_id", claim_or_practice_id)
    if practice_id is not None and practice_id != by.practice_id:
        raise DomainError("Not found.", code="not_found")


def _locked(claim: Claim) -> Claim:
    return Claim.objects.select_for_update().get(pk=claim.pk)


def control_number_for(claim: Claim) -> str:
    """CLM01: deterministic and unique (the claim id is), ≤ 20 characters (billing.md §2.1)."""
    value = f"T{claim.practice_id}C{claim.pk:08d}"
    if len(value) > CONTROL_NUMBER_MAX:
        value = f"T{claim.pk:019d}"
    return value


def _new_claim(**fields: Any) -> Claim:
    claim = Claim.objects.create(control_number=f"tmp{uuid.uuid4().hex[:17]}", **fields)
    claim.control_number = control_number_for(claim)
    claim.save(update_fields=["control_number"])
    return claim


def _event(claim: Claim, *, from_status: str, to_status: str, by, source: str, note: str = "") -> ClaimEvent:
    if from_status != to_status:  # outbound webhooks (issue 9): ids and statuses only, sent on commit
        from integrations.webhooks import webhook_emit

        data = {
            "object": "claim",
            "id": str(claim.public_id),
            "status": to_status,
            "previous_status": from_status or None,
        }
        webhook_emit(claim.practice_id, "claim.status_changed", data)
    return ClaimEvent.objects.create(
        practice_id=claim.practice_id,
        claim=claim,
        from_status=from_status,
        to_status=to_status,
        by=by,
        source=source,
        note=note,
    )


def _invalidate_scrub(claim: Claim) -> None:
    ScrubFinding.objects.filter(claim=claim).delete()
    claim.scrubbed_at = None
    claim.error_count = 0
    claim.warning_count = 0


# --- Build ------------------------------------------------------------------------------------


def _merge_diagnoses(charges: list[Charge]) -> list[str]:
    codes: list[str] = []
    for charge in charges:
        pointed = [
            charge.diagnosis_codes[p - 1] for p in charge.diagnosis_pointers if 0 < p <= len(charge.diagnosis_codes)
        ]
        for code in pointed + list(charge.diagnosis_codes):  # pointed codes first so they fit in 12
            if code not in codes:
                codes.append(code)
    return codes[:MAX_DIAGNOSES]


def _remap_pointers(charge: Charge, codes: list[str]) -> list[int]:
    pointers: list[int] = []
    for p in charge.diagnosis_pointers:
        if 0 < p <= len(charge.diagnosis_codes):
            code = charge.diagnosis_codes[p - 1]
            if code in codes and codes.index(code) + 1 not in pointers:
                pointers.append(codes.index(code) + 1)
    if not pointers and codes:
        pointers = [1]
    return pointers[:MAX_POINTERS]


def _line_groups(charges: list[Charge]) -> list[list[Charge]]:
    """Charges → lines: 96127 charges of the same code merge into one line (units = count)."""
    lines: OrderedDict[Any, list[Charge]] = OrderedDict()
    for charge in charges:
        key = ("merge", charge.cpt, tuple(charge.modifiers)) if charge.cpt in MERGED_CPTS else ("one", charge.pk)
        lines.setdefault(key, []).append(charge)
    return list(lines.values())


def _claim_from_charges(*, practice_id: int, charges: list[Charge], by, source: str) -> Claim:
    first = next((c for c in charges if c.source == "note"), charges[0])
    coverage = first.coverage
    codes = _merge_diagnoses(charges)
    claim = _new_claim(
        practice_id=practice_id,
        patient_id=first.patient_id,
        coverage=coverage,
        payer_id=coverage.payer_id,
        service_date=first.service_date,
        rendering_id=first.rendering_id,
        supervising_id=next((c.supervising_id for c in charges if c.supervising_id), None),
        location_id=first.location_id,
        place_of_service=first.place_of_service or "11",
        diagnosis_codes=codes,
        prior_authorization_number=next(
            (c.prior_authorization.number for c in charges if c.prior_authorization_id), ""
        ),
    )
    total = 0
    ordered = sorted(charges, key=lambda c: (c.source != "note", c.id))
    for number, group in enumerate(_line_groups(ordered)[:MAX_LINES], start=1):
        head = group[0]
        units = sum(c.units for c in group)
        amount = sum(c.fee_cents for c in group)
        ClaimLine.objects.create(
            practice_id=practice_id,
            claim=claim,
            charge=head,
            line_number=number,
            service_date=head.service_date,
            cpt=head.cpt,
            modifiers=list(head.modifiers),
            units=units,
            charge_cents=amount,
            place_of_service="" if head.place_of_service == claim.place_of_service else head.place_of_service,
            diagnosis_pointers=_remap_pointers(head, codes),
            minutes=head.minutes,
        )
        total += amount
        Charge.objects.filter(pk__in=[c.pk for c in group]).update(
            status=Charge.Status.ON_CLAIM, updated_at=timezone.now()
        )
    claim.total_cents = total
    claim.save(update_fields=["total_cents", "updated_at"])
    _event(claim, from_status="", to_status=S.DRAFT, by=by, source=source, note=f"Built from {len(charges)} charges.")
    return claim


@transaction.atomic
def claims_build(*, practice_id: int, by: Membership | None = None, charge_ids: list[int] | None = None) -> list[Claim]:
    """Draft claims from the practice's unbilled insurance charges (locked, so two builds never
    bill a charge twice)."""
    _require(by, practice_id)
    rows = (
        Charge.objects.select_for_update(of=("self",))
        .filter(
            practice_id=practice_id,
            kind=Charge.Kind.INSURANCE,
            status=Charge.Status.UNBILLED,
            coverage__isnull=False,
        )
        .exclude(cpt="")
        .select_related("coverage", "prior_authorization")
        .order_by("patient_id", "service_date", "id")
    )
    if charge_ids is not None:
        rows = rows.filter(pk__in=charge_ids)
    groups: OrderedDict[tuple, list[Charge]] = OrderedDict()
    day_keys: dict[tuple, tuple] = {}
    assessments: list[Charge] = []
    for charge in rows:
        if charge.source == "assessment":
            assessments.append(charge)
            continue
        key = (charge.patient_id, charge.coverage_id, charge.service_date, charge.rendering_id)
        groups.setdefault(key, []).append(charge)
        day_keys.setdefault(key[:3], key)
    for charge in assessments:  # 96127 joins that day's session claim when there is one
        day = (charge.patient_id, charge.coverage_id, charge.service_date)
        key = day_keys.get(day) or (*day, charge.rendering_id)
        groups.setdefault(key, []).append(charge)
    source = "staff" if by else "system"
    claims = []
    for charges in groups.values():
        for start in range(0, len(charges), MAX_LINES):
            claims.append(
                _claim_from_charges(
                    practice_id=practice_id, charges=charges[start : start + MAX_LINES], by=by, source=source
                )
            )
    return claims


# --- Lifecycle --------------------------------------------------------------------------------


@transaction.atomic
def claim_transition(*, claim: Claim, to: str, by: Membership | None, source: str = "staff", note: str = "") -> Claim:
    """Move a claim to `to` if TRANSITIONS allows it, recording who, when and why."""
    if source == "staff":
        _require(by, claim)
    locked = _locked(claim)
    current = locked.status
    if to not in S.values:
        raise DomainError("Unknown claim status.", field="status")
    if to not in TRANSITIONS.get(current, frozenset()):
        raise DomainError(
            f"A {S(current).label.lower()} claim cannot become {S(to).label.lower()}.", code="invalid_transition"
        )
    if to == S.READY and (locked.scrubbed_at is None or locked.error_count):
        raise DomainError("Scrub the claim and fix its errors before marking it ready.", code="not_scrubbed")
    now = timezone.now()
    locked.status = to
    locked.status_changed_at = now
    fields = ["status", "status_changed_at", "updated_at"]
    if to == S.SUBMITTED:
        locked.submitted_at = now
        fields.append("submitted_at")
    if to == S.REJECTED and note:
        locked.rejection_reason = note
        fields.append("rejection_reason")
    if current == S.REJECTED and to == S.DRAFT and locked.claim_file_id:
        # Resubmitting on purpose: the fixed claim goes into a new 837 file (a rejected claim
        # was never filed, billing.md C8); its old file stays on record in the event.
        note = (note + " " if note else "") + f"(was in 837 file {locked.claim_file.filename})"
        locked.claim_file = None
        locked.submitted_at = None
        fields += ["claim_file", "submitted_at"]
    locked.save(update_fields=fields)
    _event(locked, from_status=current, to_status=to, by=by, source=source, note=note)
    if to == S.ACCEPTED and locked.frequency == Claim.Frequency.VOID and locked.original_id:
        original = Claim.objects.select_for_update().get(pk=locked.original_id)
        if S.VOID in TRANSITIONS.get(original.status, frozenset()):
            claim_transition(
                claim=original, to=S.VOID, by=None, source="system", note=f"Voided by claim {locked.control_number}."
            )
    claim.refresh_from_db()
    return claim


@dataclass
class ReadyResult:
    ready: list[Claim]
    blocked: dict[int, list[str]]


def claim_mark_ready(*, claim: Claim, by: Membership | None) -> Claim:
    """Scrub, then draft → ready only when no error is left. Not one transaction on purpose: the
    scrub's findings are kept (the biller needs them) when the move is refused."""
    _require(by, claim)
    if claim.status != S.DRAFT:
        raise DomainError(
            f"Only a draft claim can be marked ready; this one is {claim.get_status_display().lower()}.",
            code="invalid_transition",
        )
    try:
        from billing.services_scrub import claim_scrub
    except ImportError as exc:
        raise DomainError("The claim scrubber is not available yet.", code="no_scrubber") from exc
    result = claim_scrub(claim=claim, by=by)
    errors = list(getattr(result, "errors", []) or [])
    if errors:
        listed = "; ".join(_finding_text(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise DomainError(
            f"{len(errors)} error{'s' if len(errors) != 1 else ''} to fix first: {listed}{more}.", code="scrub_errors"
        )
    return claim_transition(claim=claim, to=S.READY, by=by, note="Scrubbed clean.")


def _finding_text(finding: Any) -> str:
    code = getattr(finding, "rule_code", "") or getattr(finding, "code", "")
    message = getattr(finding, "message", "") or str(finding)
    return f"{code} {message}".strip().rstrip(".")


def claims_mark_ready(*, practice_id: int, claim_ids: list[int], by: Membership | None) -> ReadyResult:
    """The bulk action: each claim on its own (one claim's errors do not stop the others)."""
    _require(by, practice_id)
    out = ReadyResult(ready=[], blocked={})
    for claim in Claim.objects.filter(practice_id=practice_id, pk__in=claim_ids).order_by("id"):
        try:
            out.ready.append(claim_mark_ready(claim=claim, by=by))
        except DomainError as exc:
            out.blocked[claim.pk] = [exc.message]
    return out


def _copy(claim: Claim, *, frequency: str, payer_claim_number: str, by, note: str) -> Claim:
    copy = _new_claim(
        practice_id=claim.practice_id,
        patient_id=claim.patient_id,
        coverage_id=claim.coverage_id,
        payer_id=claim.payer_id,
        service_date=claim.service_date,
        frequency=frequency,
        original=claim,
        payer_claim_number=payer_claim_number,
        rendering_id=claim.rendering_id,
        supervising_id=claim.supervising_id,
        location_id=claim.location_id,
        place_of_service=claim.place_of_service,
        diagnosis_codes=list(claim.diagnosis_codes),
        prior_authorization_number=claim.prior_authorization_number,
        total_cents=claim.total_cents,
    )
    ClaimLine.objects.bulk_create(
        [
            ClaimLine(
                practice_id=claim.practice_id,
                claim=copy,
                charge_id=line.charge_id,
                line_number=line.line_number,
                service_date=line.service_date,
                cpt=line.cpt,
                modifiers=list(line.modifiers),
                units=line.units,
                charge_cents=line.charge_cents,
                place_of_service=line.place_of_service,
                diagnosis_pointers=list(line.diagnosis_pointers),
                minutes=line.minutes,
            )
            for line in claim.lines.all()
        ]
    )
    _event(copy, from_status="", to_status=S.DRAFT, by=by, source="staff" if by else "system", note=note)
    _event(
        claim,
        from_status=claim.status,
        to_status=claim.status,
        by=by,
        source="staff" if by else "system",
        note=f"{Claim.Frequency(frequency).label} claim {copy.control_number} created.",
    )
    return copy


def _open_copy(claim: Claim, frequency: str) -> Claim | None:
    return (
        Claim.objects.filter(original=claim, frequency=frequency)
        .exclude(status__in=(S.VOID, S.REJECTED, S.CLOSED))
        .first()
    )


def _icn(claim: Claim, payer_claim_number: str) -> str:
    icn = (payer_claim_number or claim.payer_claim_number or "").strip()
    if not icn:
        raise DomainError(NO_ICN_MESSAGE, field="payer_claim_number", code="no_icn")
    return icn[:50]


@transaction.atomic
def claim_correct(*, claim: Claim, by: Membership | None, payer_claim_number: str = "") -> Claim:
    """A replacement (frequency 7) draft of a claim the payer has, carrying its ICN in REF*F8."""
    _require(by, claim)
    claim = _locked(claim)
    if claim.status not in AT_PAYER:
        raise DomainError(
            "Only a claim the payer has received can be corrected; fix a draft or rejected claim directly.",
            code="invalid_transition",
        )
    icn = _icn(claim, payer_claim_number)
    if _open_copy(claim, Claim.Frequency.REPLACEMENT):
        raise DomainError("This claim already has a corrected claim in progress.", code="duplicate")
    if not claim.payer_claim_number:
        claim.payer_claim_number = icn
        claim.save(update_fields=["payer_claim_number", "updated_at"])
    return _copy(claim, frequency=Claim.Frequency.REPLACEMENT, payer_claim_number=icn, by=by, note="Corrected claim.")


@transaction.atomic
def claim_void(*, claim: Claim, by: Membership | None, payer_claim_number: str = "", note: str = "") -> Claim:
    """Void a claim. Never sent (draft/ready/rejected): it is voided here and its charges are
    voided too. At the payer: a frequency-8 copy with the ICN is created; the original becomes
    void when the payer accepts it. Returns the voided claim or the frequency-8 copy."""
    _require(by, claim)
    claim = _locked(claim)
    if claim.status in (S.DRAFT, S.READY, S.REJECTED):
        charge_ids = list(claim.lines.values_list("charge_id", flat=True))
        if claim.frequency == Claim.Frequency.ORIGINAL and not claim.original_id:
            still_used = (
                ClaimLine.objects.filter(charge_id__in=charge_ids).exclude(claim=claim).exclude(claim__status=S.VOID)
            )
            free = set(charge_ids) - set(still_used.values_list("charge_id", flat=True))
            Charge.objects.filter(pk__in=free).update(status=Charge.Status.VOID, updated_at=timezone.now())
            from billing.services_charges import charge_ledger_void  # issue 7: the ledger follows

            for charge in Charge.objects.filter(pk__in=free):
                charge_ledger_void(charge=charge, by=by, memo=f"Charge voided with claim {claim.control_number}")
        return claim_transition(claim=claim, to=S.VOID, by=by, note=note or "Voided before submission.")
    if claim.status not in AT_PAYER:
        raise DomainError(f"A {claim.get_status_display().lower()} claim cannot be voided.", code="invalid_transition")
    icn = (payer_claim_number or claim.payer_claim_number or "").strip()
    if not icn:
        raise DomainError("The payer's claim number is needed to void a claim.", field="payer_claim_number")
    if _open_copy(claim, Claim.Frequency.VOID):
        raise DomainError("This claim already has a void claim in progress.", code="duplicate")
    return _copy(claim, frequency=Claim.Frequency.VOID, payer_claim_number=icn[:50], by=by, note=note or "Void claim.")


@transaction.atomic
def claim_build_secondary(*, primary_claim: Claim, by: Membership | None) -> Claim:
    """Bill the patient's secondary coverage for a primary claim the payer adjudicated."""
    _require(by, primary_claim)
    primary = _locked(primary_claim)
    if primary.status not in ADJUDICATED:
        raise DomainError(
            "A secondary claim can be built only after the primary payer paid or denied the claim.",
            code="not_adjudicated",
        )
    if primary.coverage.priority != Coverage.Priority.PRIMARY:
        raise DomainError("This claim is not a primary-coverage claim.", code="invalid")
    secondary = (
        Coverage.objects.filter(patient_id=primary.patient_id, priority=Coverage.Priority.SECONDARY, is_active=True)
        .exclude(starts_on__gt=primary.service_date)
        .exclude(ends_on__lt=primary.service_date)
        .order_by("-starts_on", "-id")
        .first()
    )
    if secondary is None:
        raise DomainError("The patient has no secondary coverage on the date of service.", code="no_secondary")
    exists = (
        Claim.objects.filter(patient_id=primary.patient_id, service_date=primary.service_date, coverage=secondary)
        .exclude(status=S.VOID)
        .exists()
    )
    if exists:
        raise DomainError("A secondary claim for this date of service already exists.", code="duplicate")
    claim = _new_claim(
        practice_id=primary.practice_id,
        patient_id=primary.patient_id,
        coverage=secondary,
        payer_id=secondary.payer_id,
        service_date=primary.service_date,
        rendering_id=primary.rendering_id,
        supervising_id=primary.supervising_id,
        location_id=primary.location_id,
        place_of_service=primary.place_of_service,
        diagnosis_codes=list(primary.diagnosis_codes),
        prior_authorization_number="",
        total_cents=primary.total_cents,
    )
    ClaimLine.objects.bulk_create(
        [
            ClaimLine(
                practice_id=primary.practice_id,
                claim=claim,
                charge_id=line.charge_id,
                line_number=line.line_number,
                service_date=line.service_date,
                cpt=line.cpt,
                modifiers=list(line.modifiers),
                units=line.units,
                charge_cents=line.charge_cents,
                place_of_service=line.place_of_service,
                diagnosis_pointers=list(line.diagnosis_pointers),
                minutes=line.minutes,
            )
            for line in primary.lines.all()
        ]
    )
    _event(
        claim,
        from_status="",
        to_status=S.DRAFT,
        by=by,
        source="staff" if by else "system",
        note=f"Secondary claim after primary claim {primary.control_number}.",
    )
    return claim


# --- Biller's fixes ---------------------------------------------------------------------------


def _clean_modifiers(values: Any) -> list[str]:
    mods = [str(m).strip().upper() for m in (values or []) if str(m).strip()]
    if len(mods) > MAX_MODIFIERS:
        raise DomainError("At most 4 modifiers per line.", field="modifiers")
    if len(set(mods)) != len(mods):
        raise DomainError("A modifier appears twice on a line.", field="modifiers")
    for mod in mods:
        if len(mod) != 2 or not mod.isalnum():
            raise DomainError(f"Modifier {mod} is not two letters or digits.", field="modifiers")
    return mods


def _clean_pointers(values: Any, n_codes: int) -> list[int]:
    try:
        pointers = [int(p) for p in (values or [])]
    except (TypeError, ValueError) as exc:
        raise DomainError("Diagnosis pointers are numbers 1-12.", field="diagnosis_pointers") from exc
    if not pointers:
        raise DomainError("Every line points at one diagnosis or more.", field="diagnosis_pointers")
    if len(pointers) > MAX_POINTERS or len(set(pointers)) != len(pointers):
        raise DomainError("1 to 4 different diagnosis pointers per line.", field="diagnosis_pointers")
    for p in pointers:
        if not 1 <= p <= n_codes:
            raise DomainError(f"Pointer {p} does not point at a diagnosis on the claim.", field="diagnosis_pointers")
    return pointers


@transaction.atomic
def claim_edit_lines(
    *,
    claim: Claim,
    by: Membership | None,
    lines: list[dict[str, Any]],
    diagnosis_codes: list[str] | None = None,
    place_of_service: str | None = None,
) -> Claim:
    """The biller's fixes on a draft claim: per line CPT (from the catalog), modifiers, units,
    pointers, place of service; the claim's diagnosis order. A changed CPT, modifier or unit count
    re-prices the line from the fee schedule. Re-totals; the last scrub no longer counts.

    `lines`: [{"id": line pk, "cpt", "modifiers", "units", "diagnosis_pointers", "place_of_service"}]
    """
    _require(by, claim)
    claim = _locked(claim)
    if claim.status != S.DRAFT:
        raise DomainError("Only a draft claim can be edited; move a rejected claim back to draft first.")
    changes: list[str] = []
    if diagnosis_codes is not None:
        codes = [c.strip().upper() for c in diagnosis_codes if c and c.strip()]
        if not codes:
            raise DomainError("A claim needs a diagnosis.", field="diagnosis_codes")
        if len(codes) > MAX_DIAGNOSES:
            raise DomainError("At most 12 diagnoses on a claim.", field="diagnosis_codes")
        if len(set(codes)) != len(codes):
            raise DomainError("A diagnosis appears twice.", field="diagnosis_codes")
        for code in codes:
            if not icd10_is_well_formed(code):
                raise DomainError(f"{code} is not an ICD-10-CM code (e.g. F33.1).", field="diagnosis_codes")
        if codes != claim.diagnosis_codes:
            changes.append("diagnoses " + ", ".join(codes))
            claim.diagnosis_codes = codes
    if place_of_service is not None and place_of_service != claim.place_of_service:
        if not (len(place_of_service) == 2 and place_of_service.isdigit()):
            raise DomainError("Place of service is a two-digit code.", field="place_of_service")
        changes.append(f"place of service {place_of_service}")
        claim.place_of_service = place_of_service
    by_id = {line.pk: line for line in ClaimLine.objects.filter(claim=claim).select_related("charge")}
    for data in lines:
        line = by_id.get(data.get("id"))
        if line is None:
            raise DomainError("That line is not on this claim.", code="not_found")
        before = (line.cpt, list(line.modifiers), line.units)
        if "cpt" in data:
            code = (data["cpt"] or "").strip().upper()
            if cpt_catalog.cpt_or_none(code) is None:
                raise DomainError(f"{code or 'An empty code'} is not a CPT code Tend bills.", field="cpt")
            line.cpt = code
        if "modifiers" in data:
            line.modifiers = _clean_modifiers(data["modifiers"])
        if "units" in data:
            try:
                units = int(data["units"])
            except (TypeError, ValueError) as exc:
                raise DomainError("Units are a whole number.", field="units") from exc
            if not 1 <= units <= 99:
                raise DomainError("Units are between 1 and 99.", field="units")
            line.units = units
        if "diagnosis_pointers" in data:
            line.diagnosis_pointers = _clean_pointers(data["diagnosis_pointers"], len(claim.diagnosis_codes))
        else:
            _clean_pointers(line.diagnosis_pointers, len(claim.diagnosis_codes))
        if "place_of_service" in data:
            pos = (data["place_of_service"] or "").strip()
            if pos and not (len(pos) == 2 and pos.isdigit()):
                raise DomainError("Place of service is a two-digit code.", field="place_of_service")
            line.place_of_service = "" if pos == claim.place_of_service else pos
        after = (line.cpt, list(line.modifiers), line.units)
        if after != before:
            line.charge_cents = _price(claim, line)
        if after != before or "diagnosis_pointers" in data or "place_of_service" in data:
            line.save()
            changes.append(
                f"line {line.line_number}: {line.cpt}"
                + (":" + ":".join(line.modifiers) if line.modifiers else "")
                + f" x{line.units}, pointers {','.join(map(str, line.diagnosis_pointers))}"
            )
    for line in by_id.values():  # a diagnosis removed or reordered must not leave a dangling pointer
        _clean_pointers(line.diagnosis_pointers, len(claim.diagnosis_codes))
    claim.total_cents = sum(line.charge_cents for line in by_id.values())
    _invalidate_scrub(claim)
    claim.save()
    if changes:
        _event(
            claim,
            from_status=claim.status,
            to_status=claim.status,
            by=by,
            source="staff" if by else "system",
            note="Edited: " + "; ".join(changes),
        )
    return claim


def _price(claim: Claim, line: ClaimLine) -> int:
    try:
        from billing.selectors_setup import fee_for
    except ImportError as exc:
        raise DomainError("Fee schedules are not set up yet.", code="no_fee") from exc
    unit = fee_for(
        coverage=claim.coverage, cpt=line.cpt, modifiers=line.modifiers, patient=claim.patient, on=line.service_date
    )
    return unit * line.units
