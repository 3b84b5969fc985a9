"""Reading acknowledgements (billing.md §2.2): the 999 implementation acknowledgment (005010X231A1,
syntax, per transaction set) and the 277CA claim acknowledgment (005010X214, front-end business
edits, per claim). Pure parsing: `services_acks` applies the results to files and claims.

Code meanings below are our own short wording of the X12 code lists (elements 716 IK304, 723
IK403, 718 IK501/IK502; health care claim status category codes 507 and status codes 508). The
common 277CA rejections are the ones billing.md §2.2 lists (A7:164, A7:562, A7:254-255, A7:453,
A8:496, A7:507).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from billing.x12 import Interchange, Segment, X12Error, parse

KIND_BY_GS01 = {"FA": "999", "HN": "277CA", "HP": "835", "HB": "271"}
KIND_BY_ST01 = {"999": "999", "277": "277CA", "835": "835", "271": "271"}

# 999 IK5/AK9 acknowledgment codes (element 717): A accepted, E accepted with errors; the rest reject.
ACCEPTED_999 = {"A", "E"}

IK304_SEGMENT_ERRORS = {
    "1": "unrecognized segment",
    "2": "unexpected segment",
    "3": "required segment missing",
    "4": "loop occurs over the maximum times",
    "5": "segment exceeds the maximum use",
    "6": "segment not in the defined transaction set",
    "7": "segment not in the proper sequence",
    "8": "segment has data element errors",
    "I4": "a segment marked not used is present",
    "I6": "an implementation-dependent segment is missing",
    "I7": "loop occurs under the minimum times",
    "I8": "segment below the minimum use",
    "I9": "an implementation-dependent not-used segment is present",
}
IK403_ELEMENT_ERRORS = {
    "1": "required data element missing",
    "2": "conditional required data element missing",
    "3": "too many data elements",
    "4": "data element too short",
    "5": "data element too long",
    "6": "invalid character in data element",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated",
    "12": "too many repetitions",
    "13": "too many components",
    "I6": "code value not used in this implementation",
    "I9": "an implementation-dependent data element is missing",
    "I10": "a data element marked not used is present",
    "I11": "too few repetitions",
    "I12": "pattern match failure",
    "I13": "an implementation-dependent not-used data element is present",
}
IK5_TRANSACTION_ERRORS = {
    "1": "transaction set not supported",
    "2": "transaction set trailer missing",
    "3": "control numbers in the ST and SE do not match",
    "4": "the segment count in SE is wrong",
    "5": "one or more segments are in error",
    "6": "missing or invalid transaction set identifier",
    "7": "missing or invalid transaction set control number",
    "23": "transaction set control number not unique within the group",
    "I5": "implementation convention not supported",
    "I6": "implementation convention reference not supported",
}

# 277CA STC01-1 claim status category codes (code source 507).
STC_ACCEPTED = {"A0", "A1", "A2", "A5"}
STC_REJECTED = {"A3", "A4", "A6", "A7", "A8"}
STC_CATEGORIES = {
    "A0": "forwarded to another entity",
    "A1": "received",
    "A2": "accepted into adjudication",
    "A3": "returned as unprocessable",
    "A4": "not found",
    "A5": "split",
    "A6": "rejected: missing information",
    "A7": "rejected: invalid information",
    "A8": "rejected: relational field in error",
}
# Common claim status codes (code source 508) on BH claims, in our words (billing.md §2.2).
STC_STATUS = {
    "19": "entity acknowledges receipt of the claim",
    "20": "accepted for processing",
    "21": "missing or invalid information",
    "33": "subscriber and subscriber id not found",
    "164": "the member (subscriber) id is invalid or does not match the payer's format",
    "145": "the subscriber's name is wrong",
    "158": "the date of birth is wrong",
    "187": "a date of service is wrong",
    "188": "the statement covers period is wrong",
    "254": "the principal diagnosis code is invalid or missing",
    "255": "a diagnosis code is invalid",
    "453": "the procedure code modifiers are invalid or duplicated on a line",
    "454": "the procedure code is invalid for the date of service",
    "496": "the billing provider is not linked to the submitter id",
    "507": "the procedure code and modifier pair is invalid",
    "562": "the provider's NPI is invalid or not on the payer's file",
    "400": "the claim is out of balance (total does not equal the lines)",
    "673": "the patient control number is invalid",
    "732": "the provider's taxonomy is invalid",
}
ENTITIES = {
    "IL": "subscriber",
    "QC": "patient",
    "85": "billing provider",
    "82": "rendering provider",
    "DQ": "supervising provider",
    "77": "service location",
    "PR": "payer",
    "40": "receiver",
    "41": "submitter",
    "87": "pay-to provider",
}


def identify_kind(text: str) -> str:
    """999, 277CA, 835, 271 (from GS01, else ST01) or unknown. Raises X12Error if unreadable."""
    interchange = parse(text)
    gs = next((s for s in interchange.segments if s.id == "GS"), None)
    if gs is not None and gs.get(1) in KIND_BY_GS01:
        return KIND_BY_GS01[gs.get(1)]
    st = next((s for s in interchange.segments if s.id == "ST"), None)
    return KIND_BY_ST01.get(st.get(1) if st else "", "unknown")


@dataclass
class TransactionAck:
    st02: str
    code: str  # IK501
    errors: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.code in ACCEPTED_999


@dataclass
class GroupAck:
    gs06: str  # AK102: the group control number of our 837
    code: str  # AK901
    transactions: list[TransactionAck] = field(default_factory=list)


def _segment_error_words(ik3: Segment) -> str:
    what = IK304_SEGMENT_ERRORS.get(ik3.get(4), f"error {ik3.get(4)}")
    loop = f", loop {ik3.get(3)}" if ik3.get(3) else ""
    return f"segment {ik3.get(1)} (position {ik3.get(2)}{loop}): {what}"


def _element_error_words(ik4: Segment) -> str:
    what = IK403_ELEMENT_ERRORS.get(ik4.get(3), f"error {ik4.get(3)}")
    bad = f" (sent {ik4.get(4)!r})" if ik4.get(4) else ""
    return f"element {ik4.get(1)} (data element {ik4.get(2)}): {what}{bad}"


def parse_999(text: str) -> list[GroupAck]:
    interchange: Interchange = parse(text)
    groups: list[GroupAck] = []
    group: GroupAck | None = None
    transaction: TransactionAck | None = None
    for seg in interchange.segments:
        if seg.id == "ST" and seg.get(1) != "999":
            raise X12Error(f"Segment {seg.line} (ST): not a 999 transaction ({seg.get(1)}).")
        if seg.id == "AK1":
            if seg.get(1) != "HC":
                raise X12Error(f"Segment {seg.line} (AK1): acknowledges {seg.get(1)!r}, not claims (HC).")
            if not seg.get(2).isdigit():
                raise X12Error(f"Segment {seg.line} (AK1): group control number {seg.get(2)!r} is not a number.")
            group = GroupAck(gs06=seg.get(2), code="")
            groups.append(group)
        elif seg.id == "AK2":
            if group is None:
                raise X12Error(f"Segment {seg.line} (AK2): comes before AK1.")
            transaction = TransactionAck(st02=seg.get(2), code="")
            group.transactions.append(transaction)
        elif seg.id == "IK3":
            if transaction is None:
                raise X12Error(f"Segment {seg.line} (IK3): comes before AK2.")
            transaction.errors.append(_segment_error_words(seg))
        elif seg.id == "IK4":
            if transaction is None:
                raise X12Error(f"Segment {seg.line} (IK4): comes before AK2.")
            transaction.errors.append(_element_error_words(seg))
        elif seg.id == "IK5":
            if transaction is None:
                raise X12Error(f"Segment {seg.line} (IK5): comes before AK2.")
            transaction.code = seg.get(1)
            for position in range(2, 7):
                code = seg.get(position)
                if code:
                    transaction.errors.append(IK5_TRANSACTION_ERRORS.get(code, f"transaction error {code}"))
            transaction = None
        elif seg.id == "AK9":
            if group is None:
                raise X12Error(f"Segment {seg.line} (AK9): comes before AK1.")
            group.code = seg.get(1)
    if not groups:
        raise X12Error("The 999 has no AK1 segment: nothing is acknowledged.")
    for group in groups:
        if not group.code:
            raise X12Error(f"The 999 for group {group.gs06} has no AK9 segment.")
        for transaction in group.transactions:
            if not transaction.code:
                raise X12Error(f"The 999 for transaction {transaction.st02} has no IK5 segment.")
    return groups


@dataclass
class ClaimAck:
    control_number: str  # CLM01, echoed in the 2200D TRN02
    payer_claim_number: str
    statuses: list[tuple[str, str, str]] = field(default_factory=list)  # (category, status, entity)

    @property
    def rejected(self) -> bool:
        return any(category in STC_REJECTED for category, _s, _e in self.statuses)

    @property
    def accepted(self) -> bool:
        return not self.rejected and any(category in STC_ACCEPTED for category, _s, _e in self.statuses)

    def reason(self) -> str:
        """The statuses in words, e.g. 'A7:164 rejected: invalid information — the member id ...'."""
        parts = []
        for category, status, entity in self.statuses:
            words = STC_CATEGORIES.get(category, category)
            detail = STC_STATUS.get(status, f"status code {status}" if status else "")
            who = f" ({ENTITIES.get(entity, entity)})" if entity else ""
            parts.append(f"{category}:{status} {words}" + (f" — {detail}{who}" if detail else who))
        return "; ".join(parts)


def _stc_composites(stc: Segment) -> list[tuple[str, str, str]]:
    result = []
    for position in (1, 10, 11):  # STC01, STC10, STC11 carry status composites
        if stc.get(position):
            result.append((stc.comp(position, 1), stc.comp(position, 2), stc.comp(position, 3)))
    return result


def parse_277ca(text: str) -> list[ClaimAck]:
    """Per-claim statuses from the patient level (HL03 PT, loop 2200D) of a 277CA."""
    interchange = parse(text)
    claims: list[ClaimAck] = []
    current: ClaimAck | None = None
    in_patient = False
    saw_st = False
    for seg in interchange.segments:
        if seg.id == "ST":
            if seg.get(1) != "277":
                raise X12Error(f"Segment {seg.line} (ST): not a 277 transaction ({seg.get(1)}).")
            saw_st = True
        elif seg.id == "HL":
            in_patient = seg.get(3) == "PT"
            current = None
        elif in_patient and seg.id == "TRN":
            if not seg.get(2):
                raise X12Error(f"Segment {seg.line} (TRN): the patient control number (TRN02) is empty.")
            current = ClaimAck(control_number=seg.get(2), payer_claim_number="")
            claims.append(current)
        elif in_patient and current is not None and seg.id == "STC":
            current.statuses.extend(_stc_composites(seg))
        elif in_patient and current is not None and seg.id == "REF" and seg.get(1) == "1K":
            current.payer_claim_number = seg.get(2)
        elif seg.id == "SVC":
            current = None  # line-level (2220D) statuses are not claim-level
    if not saw_st:
        raise X12Error("The file has no 277 transaction.")
    for claim in claims:
        if not claim.statuses:
            raise X12Error(f"Claim {claim.control_number} in the 277CA has no STC status.")
    return claims
