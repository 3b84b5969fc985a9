"""Eligibility: the X12 270 request we write and the 271 response we read (005010X279A1).

270 layout (TR3 005010X279A1; delimiters as in billing.md §2: `*` element, `:` component,
`^` repetition, `~` segment):

    ISA … GS*HS*<sender>*<receiver>*…*X*005010X279A1
    ST*270*<ST02>*005010X279A1
    BHT*0022*13*<reference>*CCYYMMDD*HHMM          0022 information source/receiver/subscriber; 13 request
    HL*1**20*1   NM1*PR*2*<payer>*****PI*<payer id>                       2000A/2100A information source
    HL*2*1*21*1  NM1*1P*2*<billing provider>*****XX*<NPI>                 2000B/2100B information receiver
    HL*3*2*22*<0|1>                                                       2000C subscriber
      [TRN*1*<trace>*1<TIN>]  NM1*IL*1*<last>*<first>****MI*<member id>  DMG*D8*<dob>*<sex>
      [DTP*291*D8*<date>  EQ*30  EQ*MH]                                   (when the patient is the subscriber)
    [HL*4*3*23*0  TRN  NM1*03*1*<last>*<first>  DMG  DTP*291  EQ*30  EQ*MH]   2000D dependent
    SE … GE … IEA

Control numbers (ISA13, GS06, ST02) come from the shared per-practice counters (billing.md §2.1);
the trace number (TRN02) from the "trn" counter, and the 271 is matched back by its TRN02.

pyx12 4.0.0 ships only the 004010X092A1 270/271 maps, not 005010X279A1, so the 270 is not
machine-validated here (the 837 is); tests check its structure and counts instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from billing.control_numbers import next_control_number
from billing.models import BillingProfile, ClearinghouseConnection, Coverage, EligibilityCheck
from practice.errors import DomainError

IMPLEMENTATION = "005010X279A1"
# Service type codes (X12 element 1365) we ask about and keep: 30 plan coverage, MH mental health,
# A4 psychiatric, A6 psychotherapy.
SERVICE_TYPES = ("30", "MH", "A4", "A6")
SERVICE_TYPE_LABELS = {
    "30": "Health benefit plan coverage",
    "MH": "Mental health",
    "A4": "Psychiatric",
    "A6": "Psychotherapy",
}
# EB01 eligibility or benefit information codes (element 1390) we interpret.
EB_KINDS = {
    "1": "Active coverage",
    "6": "Inactive",
    "A": "Co-insurance",
    "B": "Co-payment",
    "C": "Deductible",
    "G": "Out of pocket (stop loss)",
}
NETWORK_LABELS = {"Y": "In network", "N": "Out of network", "W": "Both", "U": "Unknown", "": ""}
TIME_PERIODS = {
    "6": "hour",
    "7": "day",
    "21": "years",
    "22": "service year",
    "23": "calendar year",
    "24": "year to date",
    "25": "contract",
    "26": "episode",
    "27": "visit",
    "29": "remaining",
    "32": "lifetime",
}  # EB06 (element 615)

_CLEAN = re.compile(r"[^A-Z0-9 .,&'/-]")


def _x12(value: str, limit: int | None = None) -> str:
    """Upper-case and strip the delimiters (and anything outside the X12 basic character set)."""
    text = _CLEAN.sub("", (value or "").upper()).strip()
    return text[:limit] if limit else text


# --- 270 writer -------------------------------------------------------------------------------


def _envelope_ids(coverage: Coverage, profile: BillingProfile) -> tuple[str, str, str]:
    """(sender id, receiver id, usage indicator) for ISA06/ISA08/ISA15 and GS02/GS03."""
    connection = ClearinghouseConnection.objects.filter(is_active=True).first()
    if connection is not None:
        return profile.submitter_id, connection.receiver_id, connection.usage_indicator
    return profile.submitter_id, coverage.payer.payer_id, "T"


def build_270(
    *,
    coverage: Coverage,
    profile: BillingProfile,
    trace: str,
    isa: int,
    gs: int,
    st: int,
    on=None,
    now=None,
    sender: str,
    receiver: str,
    usage: str = "T",
) -> str:
    """The 270 text for one coverage (pure: control numbers and ids passed in)."""
    now = now or timezone.localtime()
    on = on or timezone.localdate()
    patient = coverage.patient
    payer = coverage.payer
    is_self = coverage.relationship == Coverage.Relationship.SELF
    segs: list[str] = []
    segs.append(f"ST*270*{st:04d}*{IMPLEMENTATION}")
    segs.append(f"BHT*0022*13*{trace}*{now:%Y%m%d}*{now:%H%M}")
    segs.append("HL*1**20*1")
    segs.append(f"NM1*PR*2*{_x12(payer.name, 60)}*****PI*{_x12(payer.payer_id, 80)}")
    segs.append("HL*2*1*21*1")
    if profile.entity_type == BillingProfile.EntityType.INDIVIDUAL:
        last, _, first = profile.legal_name.rpartition(" ")
        segs.append(f"NM1*1P*1*{_x12(last or first, 60)}*{_x12(first if last else '', 35)}****XX*{profile.npi}")
    else:
        segs.append(f"NM1*1P*2*{_x12(profile.legal_name, 60)}*****XX*{profile.npi}")
    segs.append(f"HL*3*2*22*{0 if is_self else 1}")
    trn = f"TRN*1*{trace}*1{profile.tin}"  # TRN03: "1" + EIN identifies the originator (TR3 2000C/D TRN)
    eqs = [f"DTP*291*D8*{on:%Y%m%d}", *(f"EQ*{code}" for code in ("30", "MH"))]
    if is_self:
        segs.append(trn)
        segs.append(
            f"NM1*IL*1*{_x12(patient.legal_last_name, 60)}*{_x12(patient.legal_first_name, 35)}****MI*"
            f"{_x12(coverage.member_id, 80)}"
        )
        segs.append(f"DMG*D8*{patient.date_of_birth:%Y%m%d}*{_sex(patient.sex_assigned_at_birth)}")
        segs.extend(eqs)
    else:
        segs.append(
            f"NM1*IL*1*{_x12(coverage.subscriber_last_name, 60)}*{_x12(coverage.subscriber_first_name, 35)}****MI*"
            f"{_x12(coverage.member_id, 80)}"
        )
        if coverage.subscriber_date_of_birth:
            segs.append(f"DMG*D8*{coverage.subscriber_date_of_birth:%Y%m%d}*{coverage.subscriber_sex or 'U'}")
        segs.append("HL*4*3*23*0")
        segs.append(trn)
        segs.append(f"NM1*03*1*{_x12(patient.legal_last_name, 60)}*{_x12(patient.legal_first_name, 35)}")
        segs.append(f"DMG*D8*{patient.date_of_birth:%Y%m%d}*{_sex(patient.sex_assigned_at_birth)}")
        segs.extend(eqs)
    segs.append(f"SE*{len(segs) + 1}*{st:04d}")  # SE01 counts ST through SE inclusive (billing.md §2.1)
    isa_line = (
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{_x12(sender, 15):<15}*ZZ*{_x12(receiver, 15):<15}*"
        f"{now:%y%m%d}*{now:%H%M}*^*00501*{isa:09d}*0*{usage}*:"
    )
    gs_line = f"GS*HS*{_x12(sender, 15)}*{_x12(receiver, 15)}*{now:%Y%m%d}*{now:%H%M}*{gs}*X*{IMPLEMENTATION}"
    return "~\n".join([isa_line, gs_line, *segs, f"GE*1*{gs}", f"IEA*1*{isa:09d}"]) + "~\n"


def _sex(value: str) -> str:
    return {"female": "F", "male": "M", "F": "F", "M": "M"}.get(value or "", "U")


@transaction.atomic
def eligibility_request(*, coverage: Coverage, by=None, service_type: str = "MH") -> EligibilityCheck:
    """Write a 270 for the coverage (control numbers from the shared counters) and record it."""
    profile = BillingProfile.objects.filter(practice_id=coverage.practice_id).first()
    if profile is None:
        raise DomainError("Set up the billing identity (NPI, TIN) before checking eligibility.", code="no_profile")
    if not coverage.member_id:
        raise DomainError("The coverage has no member ID.", field="member_id", code="invalid")
    patient = coverage.patient
    if not patient.date_of_birth:
        raise DomainError("The patient's date of birth is required for a 270.", code="invalid")
    sender, receiver, usage = _envelope_ids(coverage, profile)
    practice_id = coverage.practice_id
    trace = f"TEND{next_control_number(practice_id, 'trn'):09d}"
    content = build_270(
        coverage=coverage,
        profile=profile,
        trace=trace,
        isa=next_control_number(practice_id, "isa"),
        gs=next_control_number(practice_id, "gs"),
        st=next_control_number(practice_id, "st"),  # ST02: 4-9 characters, zero-padded to 4
        sender=sender,
        receiver=receiver,
        usage=usage,
    )
    return EligibilityCheck.objects.create(
        practice_id=practice_id, coverage=coverage, trace_number=trace, request_x12=content, requested_by=by
    )


# --- 271 parser -------------------------------------------------------------------------------


class X12ParseError(DomainError):
    pass


@dataclass
class Parsed271:
    traces: list[str]
    is_active: bool | None
    benefits: list[dict]
    rejections: list[str]


def split_segments(content: str) -> tuple[list[list[str]], str]:
    """Split an interchange into segments (lists of elements) using the delimiters its ISA declares."""
    text = (content or "").lstrip("\ufeff \r\n\t")
    if not text.startswith("ISA") or len(text) < 106:
        raise X12ParseError("Not an X12 file: it must start with a 106-character ISA segment.", code="invalid")
    element = text[3]
    component = text[104]
    terminator = text[105]
    segments = []
    for raw in text.split(terminator):
        raw = raw.strip("\r\n\t ")
        if raw:
            segments.append(raw.split(element))
    return segments, component


def _money_cents(value: str, *, where: str) -> int | None:
    if not value:
        return None
    try:
        return int((Decimal(value) * 100).quantize(Decimal("1")))
    except InvalidOperation as exc:
        raise X12ParseError(f"{where}: '{value}' is not an amount.", code="invalid") from exc


def _percent(value: str, *, where: str) -> int | None:
    # EB08 is a decimal fraction: .2 = 20% (TR3 005010X279A1 2110C EB08).
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise X12ParseError(f"{where}: '{value}' is not a percentage.", code="invalid") from exc
    return int((number * 100 if number <= 1 else number).quantize(Decimal("1")))


def parse_271(content: str) -> Parsed271:
    segments, _component = split_segments(content)
    repetition = "^"
    if segments and len(segments[0]) > 11 and segments[0][11] and not segments[0][11].isalnum():
        repetition = segments[0][11]  # ISA11 repetition separator (00501)
    ids = [s[0] for s in segments]
    if "ST" not in ids:
        raise X12ParseError("No ST segment: the file holds no transaction.", code="invalid")
    kinds = {s[1] for s in segments if s[0] == "ST" and len(s) > 1}
    if kinds != {"271"}:
        raise X12ParseError(
            f"ST01 is {', '.join(sorted(kinds))}: this is not a 271 eligibility response.", code="wrong_kind"
        )
    traces: list[str] = []
    benefits: list[dict] = []
    rejections: list[str] = []
    active = inactive = False
    for number, seg in enumerate(segments, start=1):
        tag = seg[0]
        el = seg + [""] * 14  # pad so missing trailing elements read as empty
        where = f"Segment {number} ({tag})"
        if tag == "TRN" and el[1] in ("2", "1") and el[2]:
            # 271 2000C/2000D TRN*2 echoes our 270 trace number (TRN*1 is the payer's own).
            if el[1] == "2":
                traces.append(el[2])
        elif tag == "AAA":
            # AAA03 reject reason (element 901), e.g. 72 invalid member ID, 73 invalid name, 75 not found.
            rejections.append(f"Request rejected (AAA reason {el[3] or '?'})")
        elif tag == "EB":
            code = el[1]
            if not code:
                raise X12ParseError(f"{where}: EB01 is empty.", code="invalid")
            service_types = [s for s in el[3].split(repetition) if s] if el[3] else []
            if code == "1" and (not service_types or set(service_types) & set(SERVICE_TYPES)):
                active = True
            if code == "6":
                inactive = True
            if code not in EB_KINDS:
                continue
            relevant = [s for s in service_types if s in SERVICE_TYPES]
            if service_types and not relevant:
                continue
            benefits.append(
                {
                    "code": code,
                    "kind": EB_KINDS[code],
                    "coverage_level": el[2],
                    "service_types": relevant or ["30"],
                    "plan": el[5],
                    "time_period": TIME_PERIODS.get(el[6], el[6]),
                    "amount_cents": _money_cents(el[7], where=f"{where} EB07"),
                    "percent": _percent(el[8], where=f"{where} EB08"),
                    "auth_required": el[11],
                    "network": el[12],
                    "network_label": NETWORK_LABELS.get(el[12], el[12]),
                }
            )
    if not traces:
        raise X12ParseError("No TRN*2 segment: the 271 carries no trace number to match.", code="invalid")
    is_active = True if active else (False if inactive else None)
    return Parsed271(traces=traces, is_active=is_active, benefits=benefits, rejections=rejections)


@transaction.atomic
def eligibility_response_import(*, practice_id: int, content: str, by=None) -> EligibilityCheck:
    """Read a 271, match it to our 270 by trace number (TRN02) and store what it says."""
    parsed = parse_271(content)
    check = (
        EligibilityCheck.objects.select_for_update()
        .filter(practice_id=practice_id, trace_number__in=parsed.traces)
        .order_by("-created_at")
        .first()
    )
    if check is None:
        raise DomainError(
            f"No eligibility request with trace number {', '.join(parsed.traces)} (TRN02) in this practice.",
            code="not_found",
        )
    check.response_x12 = content
    check.status = EligibilityCheck.Status.ANSWERED
    check.is_active_coverage = parsed.is_active
    check.benefits = parsed.benefits
    check.error = "; ".join(parsed.rejections)[:300]
    check.answered_at = timezone.now()
    check.save()
    return check


def benefit_rows(check: EligibilityCheck) -> list[dict]:
    """The check's benefits for the coverage page table (copay/coinsurance/deductible first)."""
    order = {"B": 0, "A": 1, "C": 2, "G": 3, "1": 4, "6": 5}
    rows = []
    for b in sorted(check.benefits or [], key=lambda b: order.get(b.get("code"), 9)):
        if b.get("code") in ("1", "6"):
            continue
        value = ""
        if b.get("amount_cents") is not None:
            value = f"${b['amount_cents'] / 100:,.2f}"
        elif b.get("percent") is not None:
            value = f"{b['percent']}%"
        rows.append(
            {
                **b,
                "services": ", ".join(SERVICE_TYPE_LABELS.get(s, s) for s in b.get("service_types", [])),
                "value": value,
            }
        )
    return rows
