"""Reading an 835 (005010X221A1) into plain dataclasses, and its balancing checks (billing.md §4).

Parsing walks pyx12's `X12ContextReader` segment by segment (billing.md §1.2 / §5: pyx12 is the
reader that does not fail on valid files). Validation (`billing.x12_validate.validate_x12`) runs
first; pyx12 does NOT check balancing, so `balance_problems` does (X12 RFI 2601, TR3 p. 12):

- line:        SVC02 - Σ line CAS = SVC03
- claim:       CLP03 - Σ (claim + line) CAS = CLP04
- transaction: Σ CLP04 - Σ PLB = BPR02

Segment numbers are positions inside the transaction set (ST = 1), as a 999 counts them.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

import pyx12.error_handler
import pyx12.params
import pyx12.x12context

logging.getLogger("pyx12").addHandler(logging.NullHandler())

ZERO = Decimal("0.00")
# CAS groups valid in 5010 (billing.md §4; CR is not valid in 5010).
CAS_GROUPS = ("CO", "PR", "OA", "PI")
# CLP02 codes (billing.md §4, pyx12 835.5010.X221.A1 map).
REVERSAL = "22"
CROSSOVER = ("19", "20", "21")
NOT_RECOGNISED = "4"


class EraError(Exception):
    """The file cannot be posted; `str()` names the segment number and the reason."""

    def __init__(self, message: str, *, segment: int | None = None, seg_id: str = "") -> None:
        self.segment = segment
        self.seg_id = seg_id
        self.reason = message
        where = f"segment {segment} ({seg_id}): " if segment is not None else ""
        super().__init__(f"{where}{message}")


@dataclass
class Adjustment:
    group: str
    reason: str
    amount: Decimal
    quantity: Decimal | None = None

    @property
    def code(self) -> str:
        return f"{self.group}-{self.reason}"

    def as_dict(self) -> dict:
        return {"group": self.group, "reason": self.reason, "amount": str(self.amount)}


@dataclass
class EraLine:
    segment: int
    cpt: str
    modifiers: list[str]
    charge: Decimal
    paid: Decimal
    units: Decimal
    service_date: date | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    line_control: str = ""  # REF*6R
    allowed: Decimal | None = None

    def denial_reason(self) -> str:
        """billing.md §4 rule 2: SVC03 = 0, SVC02 > 0 and not only PR, not only CO-45."""
        if self.paid != 0 or self.charge <= 0:
            return ""
        return first_denial_code(self.adjustments)


@dataclass
class EraClaim:
    segment: int
    index: int
    control_number: str
    status_code: str
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    payer_claim_number: str = ""
    patient_name: str = ""
    service_date: date | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    lines: list[EraLine] = field(default_factory=list)

    def all_adjustments(self) -> list[Adjustment]:
        return [*self.adjustments, *(a for line in self.lines for a in line.adjustments)]

    @property
    def is_reversal(self) -> bool:
        return self.status_code == REVERSAL

    def outcome(self) -> str:
        """paid / partial / denied / patient / reversed / forwarded / other (billing.md §4 rules 2-5)."""
        if self.is_reversal:
            return "reversed"
        if self.status_code in CROSSOVER:
            return "forwarded"
        return self.money_outcome()

    def money_outcome(self) -> str:
        if self.status_code == NOT_RECOGNISED:
            return "denied"
        if self.lines:
            denied = [line for line in self.lines if line.denial_reason()]
            if denied and self.paid == 0 and len(denied) == len(self.lines):
                return "denied"
            if denied and self.paid > 0:
                return "partial"
        elif self.paid == 0 and self.charge > 0 and first_denial_code(self.adjustments):
            return "denied"
        if self.paid > 0:
            return "paid"
        if self.paid == 0 and self.patient_responsibility > 0:
            return "patient"
        return "other"

    def denial_reason(self) -> str:
        for line in self.lines:
            code = line.denial_reason()
            if code:
                return code
        return first_denial_code(self.adjustments) or ("CLP02-4" if self.status_code == NOT_RECOGNISED else "")

    def denied_amount(self) -> Decimal:
        if self.money_outcome() == "denied":
            return self.charge
        return sum((line.charge for line in self.lines if line.denial_reason()), ZERO)


@dataclass
class ProviderAdj:
    segment: int
    reason: str
    reference: str
    amount: Decimal


@dataclass
class Era:
    """One 835 transaction set (ST/SE)."""

    segment: int = 0
    payment_amount: Decimal = ZERO
    credit_debit: str = "C"
    payment_method: str = ""
    payment_date: date | None = None
    trace_number: str = ""
    payer_identifier: str = ""
    payer_name: str = ""
    payer_id: str = ""
    payee_npi: str = ""
    claims: list[EraClaim] = field(default_factory=list)
    provider_adjustments: list[ProviderAdj] = field(default_factory=list)
    bpr_segment: int = 0


def first_denial_code(adjustments: list[Adjustment]) -> str:
    """The first adjustment that is neither PR nor CO-45, as GROUP-CARC (billing.md §4 rule 2)."""
    for adj in adjustments:
        if adj.amount == 0 or adj.group == "PR" or (adj.group == "CO" and adj.reason == "45"):
            continue
        return adj.code
    return ""


def _amount(value: str | None, *, segment: int, seg_id: str, name: str, required: bool = True) -> Decimal:
    if value in (None, ""):
        if required:
            raise EraError(f"{name} is missing.", segment=segment, seg_id=seg_id)
        return ZERO
    try:
        return Decimal(value).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise EraError(f"{name} '{value}' is not an amount.", segment=segment, seg_id=seg_id) from exc


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return None


def _cas(seg, *, number: int) -> list[Adjustment]:
    group = seg.get_value("CAS01") or ""
    if group not in CAS_GROUPS:
        raise EraError(f"CAS group '{group}' is not one of CO, PR, OA, PI.", segment=number, seg_id="CAS")
    out = []
    for i in range(6):  # CAS02..CAS19: up to six reason/amount/quantity triplets
        reason = seg.get_value(f"CAS{2 + 3 * i:02d}")
        if not reason:
            continue
        amount = _amount(seg.get_value(f"CAS{3 + 3 * i:02d}"), segment=number, seg_id="CAS", name="CAS amount")
        qty = seg.get_value(f"CAS{4 + 3 * i:02d}")
        out.append(Adjustment(group, reason, amount, Decimal(qty) if qty else None))
    return out


def parse_835(text: str) -> list[Era]:
    """Every 835 transaction set in the file. Raises EraError on content we cannot post."""
    try:
        reader = pyx12.x12context.X12ContextReader(
            pyx12.params.params(), pyx12.error_handler.errh_null(), io.StringIO(text)
        )
        segments = [node.seg_data for node in reader.iter_segments()]
    except Exception as exc:  # pyx12 raises on unreadable envelopes
        raise EraError(f"pyx12 could not read the file: {exc}") from exc
    eras: list[Era] = []
    era: Era | None = None
    clp: EraClaim | None = None
    svc: EraLine | None = None
    n = 0
    entity = ""
    for seg in segments:
        seg_id = seg.get_seg_id()
        if seg_id == "ST":
            if seg.get_value("ST01") != "835":
                raise EraError("The transaction set is not an 835.", segment=1, seg_id="ST")
            era, clp, svc, n = Era(segment=1), None, None, 1
            eras.append(era)
            continue
        if era is None:
            continue
        n += 1
        if seg_id == "SE":
            era = None
            continue
        if seg_id == "BPR":
            era.bpr_segment = n
            era.credit_debit = seg.get_value("BPR03") or "C"
            era.payment_amount = _amount(seg.get_value("BPR02"), segment=n, seg_id=seg_id, name="BPR02")
            era.payment_method = seg.get_value("BPR04") or ""
            era.payment_date = _date(seg.get_value("BPR16"))
        elif seg_id == "TRN":
            era.trace_number = seg.get_value("TRN02") or ""
            era.payer_identifier = seg.get_value("TRN03") or ""
        elif seg_id == "N1":
            entity = seg.get_value("N101") or ""
            if entity == "PR":
                era.payer_name = seg.get_value("N102") or ""
                era.payer_id = seg.get_value("N104") or ""
            elif entity == "PE":
                era.payee_npi = seg.get_value("N104") or ""
        elif seg_id == "REF" and svc is None and clp is None and entity == "PR" and seg.get_value("REF01") == "2U":
            era.payer_id = era.payer_id or seg.get_value("REF02") or ""
        elif seg_id == "CLP":
            clp = EraClaim(
                segment=n,
                index=len(era.claims) + 1,
                control_number=seg.get_value("CLP01") or "",
                status_code=seg.get_value("CLP02") or "",
                charge=_amount(seg.get_value("CLP03"), segment=n, seg_id=seg_id, name="CLP03"),
                paid=_amount(seg.get_value("CLP04"), segment=n, seg_id=seg_id, name="CLP04"),
                patient_responsibility=_amount(
                    seg.get_value("CLP05"), segment=n, seg_id=seg_id, name="CLP05", required=False
                ),
                payer_claim_number=seg.get_value("CLP07") or "",
            )
            era.claims.append(clp)
            svc = None
        elif seg_id == "CAS" and clp is not None:
            (svc.adjustments if svc is not None else clp.adjustments).extend(_cas(seg, number=n))
        elif seg_id == "NM1" and clp is not None and seg.get_value("NM101") == "QC":
            parts = [seg.get_value("NM103") or "", seg.get_value("NM104") or ""]
            clp.patient_name = ", ".join(p for p in parts if p)
        elif seg_id == "MOA" and clp is not None:
            clp.remarks.extend(v for v in (seg.get_value(f"MOA{i:02d}") for i in (3, 4, 5, 6, 7)) if v)
        elif seg_id == "DTM" and clp is not None:
            qualifier, value = seg.get_value("DTM01"), _date(seg.get_value("DTM02"))
            if svc is not None and qualifier in ("472", "150"):
                svc.service_date = value
            elif svc is None and qualifier in ("232", "050") and clp.service_date is None:
                clp.service_date = value
        elif seg_id == "SVC" and clp is not None:
            units = seg.get_value("SVC05")
            svc = EraLine(
                segment=n,
                cpt=seg.get_value("SVC01-2") or "",
                modifiers=[m for m in (seg.get_value(f"SVC01-{i}") for i in range(3, 7)) if m],
                charge=_amount(seg.get_value("SVC02"), segment=n, seg_id=seg_id, name="SVC02"),
                paid=_amount(seg.get_value("SVC03"), segment=n, seg_id=seg_id, name="SVC03"),
                units=Decimal(units) if units else Decimal("1"),
            )
            clp.lines.append(svc)
        elif seg_id == "REF" and svc is not None and seg.get_value("REF01") == "6R":
            svc.line_control = seg.get_value("REF02") or ""
        elif seg_id == "AMT" and svc is not None and seg.get_value("AMT01") == "B6":
            svc.allowed = _amount(seg.get_value("AMT02"), segment=n, seg_id=seg_id, name="AMT02")
        elif seg_id == "LQ" and svc is not None and seg.get_value("LQ01") == "HE":
            svc.remarks.append(seg.get_value("LQ02") or "")
        elif seg_id == "PLB":
            clp, svc = None, None
            for i in range(6):  # PLB03..PLB14: reason:reference / amount pairs
                reason = seg.get_value(f"PLB{3 + 2 * i:02d}-1")
                if not reason:
                    continue
                era.provider_adjustments.append(
                    ProviderAdj(
                        segment=n,
                        reason=reason,
                        reference=seg.get_value(f"PLB{3 + 2 * i:02d}-2") or "",
                        amount=_amount(seg.get_value(f"PLB{4 + 2 * i:02d}"), segment=n, seg_id=seg_id, name="PLB"),
                    )
                )
    for era in eras:
        for claim in era.claims:
            if claim.service_date is None and claim.lines:
                claim.service_date = min((x.service_date for x in claim.lines if x.service_date), default=None)
    if not eras:
        raise EraError("The file holds no 835 transaction.")
    return eras


def balance_problems(era: Era) -> list[EraError]:
    """The three balancing rules of billing.md §4 (X12 RFI 2601); empty when the remit balances."""
    problems: list[EraError] = []
    for claim in era.claims:
        for line in claim.lines:
            adjusted = line.charge - sum((a.amount for a in line.adjustments), ZERO)
            if adjusted != line.paid:
                problems.append(
                    EraError(
                        f"line does not balance: SVC02 {line.charge} - adjustments "
                        f"{line.charge - adjusted} = {adjusted}, but SVC03 is {line.paid}.",
                        segment=line.segment,
                        seg_id="SVC",
                    )
                )
        adjusted = claim.charge - sum((a.amount for a in claim.all_adjustments()), ZERO)
        if adjusted != claim.paid:
            problems.append(
                EraError(
                    f"claim {claim.control_number} does not balance: CLP03 {claim.charge} - adjustments "
                    f"{claim.charge - adjusted} = {adjusted}, but CLP04 is {claim.paid}.",
                    segment=claim.segment,
                    seg_id="CLP",
                )
            )
    expected = sum((c.paid for c in era.claims), ZERO) - sum((p.amount for p in era.provider_adjustments), ZERO)
    if expected != era.payment_amount:
        problems.append(
            EraError(
                f"remittance does not balance: Σ CLP04 - Σ PLB = {expected}, but BPR02 is {era.payment_amount}.",
                segment=era.bpr_segment,
                seg_id="BPR",
            )
        )
    return problems
