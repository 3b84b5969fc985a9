"""Our own 837P (ASC X12 005010X222A1) writer, following the skeleton in billing.md §2.

`build_837` turns claims (with their lines, coverage, patient, payer and providers loaded) into
one interchange: ISA / GS / one ST, the billing provider (2000A), one subscriber loop (2000B) per
subscriber and payer with at most 100 claims each (TR3 repeat limit, billing.md §2), a patient loop
(2000C) when the patient is not the subscriber, and per claim 2300 / 2310B-D / 2320-2330 / 2400.
Control numbers come from the caller (billing.control_numbers). Every file is validated with pyx12
(billing.x12_validate) before it is released.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from billing.validators import icd10_for_wire
from billing.x12 import REPETITION, SegmentWriter, amount, clean, d8, digits, hhmm, yymmdd

VERSION = "005010X222A1"  # GS08 / ST03 (billing.md §1: pyx12 ships only the A1 map)
MAX_CLAIMS_PER_SUBSCRIBER = 100  # 2300 repeats per 2000B (billing.md §2)
MAX_CLAIMS_PER_TRANSACTION = 5000  # TR3 1.4.1 recommendation for CLM per ST-SE
MAX_LINES_PER_CLAIM = 50  # 2400 repeats per 2300
TELEHEALTH_POS = {"02", "10"}  # no 2310C service facility for telehealth (billing.md P8)
SEX = {"female": "F", "male": "M", "F": "F", "M": "M"}


@dataclass
class _Person:
    last: str
    first: str
    dob: object | None
    sex: str
    address1: str
    city: str
    state: str
    zip_code: str


@dataclass
class _SubscriberGroup:
    coverage: object
    is_self: bool
    claims: list = field(default_factory=list)


def _isa_pad(value: str, width: int) -> str:
    return clean(value, width).ljust(width)


def _patient_person(patient) -> _Person:
    return _Person(
        last=patient.legal_last_name,
        first=patient.legal_first_name,
        dob=patient.date_of_birth,
        sex=SEX.get(patient.sex_assigned_at_birth, "U"),
        address1=patient.address_line1,
        city=patient.city,
        state=patient.state,
        zip_code=digits(patient.postal_code),
    )


def _subscriber_person(coverage, patient) -> _Person:
    if coverage.relationship == "18":
        return _patient_person(patient)
    return _Person(
        last=coverage.subscriber_last_name,
        first=coverage.subscriber_first_name,
        dob=coverage.subscriber_date_of_birth,
        sex=coverage.subscriber_sex or "U",
        address1=coverage.subscriber_address_line1,
        city=coverage.subscriber_city,
        state=coverage.subscriber_state,
        zip_code=digits(coverage.subscriber_zip_code),
    )


def _address(w: SegmentWriter, person: _Person) -> None:
    """N3/N4 when the address is complete (N3 55, N401 30, N402 2, N403 15 characters)."""
    if person.address1 and person.city and person.state and person.zip_code:
        w.add("N3", clean(person.address1, 55))
        w.add("N4", clean(person.city, 30), clean(person.state, 2), person.zip_code[:15])


def _dmg(w: SegmentWriter, person: _Person) -> None:
    if person.dob:
        w.add("DMG", "D8", d8(person.dob), person.sex if person.sex in {"F", "M", "U"} else "U")


def _identity(membership):
    """The RenderingProvider of a membership, or None (the scrubber reports it missing)."""
    if membership is None:
        return None
    try:
        return membership.billing_identity
    except Exception:  # RelatedObjectDoesNotExist
        return None


def _subscriber_key(claim) -> tuple:
    coverage = claim.coverage
    if coverage.relationship == "18":
        return ("self", claim.payer_id, coverage.priority, coverage.member_id, claim.patient_id)
    return (
        "dependent",
        claim.payer_id,
        coverage.priority,
        coverage.member_id,
        coverage.subscriber_last_name.upper(),
        coverage.subscriber_first_name.upper(),
        coverage.subscriber_date_of_birth,
    )


def _other_coverage(claim):
    """For a secondary (or tertiary) claim: the patient's primary coverage (2320/2330 loops)."""
    if claim.coverage.priority == "P":
        return None
    candidates = [
        c for c in claim.patient.coverages.all() if c.priority == "P" and c.id != claim.coverage_id and c.is_active
    ]
    return candidates[0] if candidates else None


def group_subscribers(claims: Iterable) -> list[_SubscriberGroup]:
    """Claims of the same subscriber and payer share a 2000B (at most 100 claims each)."""
    groups: dict[tuple, list] = {}
    order: list[tuple] = []
    for claim in claims:
        key = _subscriber_key(claim)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(claim)
    result = []
    for key in order:
        members = groups[key]
        for start in range(0, len(members), MAX_CLAIMS_PER_SUBSCRIBER):
            chunk = members[start : start + MAX_CLAIMS_PER_SUBSCRIBER]
            result.append(_SubscriberGroup(coverage=chunk[0].coverage, is_self=key[0] == "self", claims=chunk))
    return result


def build_837(
    *,
    claims: Sequence,
    profile,
    receiver_id: str,
    receiver_name: str,
    usage_indicator: str,
    isa13: int,
    gs06: int,
    st02: int,
    created_at: datetime,
    primary_paid_cents: dict[int, int] | None = None,
) -> str:
    """One 837P interchange for `claims` (all of one receiver). Claims need `lines`, `coverage`,
    `patient` (with `coverages` for secondary claims), `payer`, `rendering`, `supervising`,
    `location`, `original` loaded; `primary_paid_cents` maps claim id -> what the primary paid
    (2320 AMT*D; 0 when unknown)."""
    if not claims:
        raise ValueError("An 837 needs at least one claim.")
    if len(claims) > MAX_CLAIMS_PER_TRANSACTION:
        raise ValueError(f"At most {MAX_CLAIMS_PER_TRANSACTION} claims per transaction.")
    primary_paid_cents = primary_paid_cents or {}
    w = SegmentWriter()
    isa13_text = f"{int(isa13):09d}"
    sender = clean(profile.submitter_id, 15)
    receiver = clean(receiver_id, 15)
    # ISA: fixed-width elements (billing.md §2); ISA11 repetition '^', ISA16 component ':'.
    w.add(
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        "ZZ",
        _isa_pad(sender, 15),
        "ZZ",
        _isa_pad(receiver, 15),
        yymmdd(created_at),
        hhmm(created_at),
        REPETITION,
        "00501",
        isa13_text,
        "0",
        usage_indicator if usage_indicator in {"T", "P"} else "T",
        ":",
    )
    w.add("GS", "HC", sender, receiver, d8(created_at), hhmm(created_at), str(int(gs06)), "X", VERSION)
    st02_text = f"{int(st02):04d}"
    w.start_transaction()
    w.add("ST", "837", st02_text, VERSION)
    # BHT: 0019 structure, 00 original, BHT03 batch id echoed in acks, CH chargeable.
    w.add("BHT", "0019", "00", f"B{isa13_text}", d8(created_at), hhmm(created_at), "CH")
    # 1000A submitter (PER required), 1000B receiver.
    w.add("NM1", "41", "2", clean(profile.legal_name, 60), "", "", "", "", "46", sender)
    w.add("PER", "IC", clean(profile.contact_name, 60), "TE", digits(profile.contact_phone)[:10])
    w.add("NM1", "40", "2", clean(receiver_name, 60) or receiver, "", "", "", "", "46", receiver)
    # 2000A billing provider.
    hl = 1
    w.add("HL", "1", "", "20", "1")
    w.add("PRV", "BI", "PXC", clean(profile.taxonomy, 10))
    entity = profile.entity_type if profile.entity_type in {"1", "2"} else "2"
    w.add("NM1", "85", entity, clean(profile.legal_name, 60), "", "", "", "", "XX", digits(profile.npi))
    w.add("N3", clean(profile.address_line1, 55), clean(profile.address_line2, 55))
    w.add("N4", clean(profile.city, 30), clean(profile.state, 2), digits(profile.zip_code))
    w.add("REF", "EI", digits(profile.tin))
    if profile.pay_to_address_line1:
        # 2010AB pay-to address (PO boxes belong here, billing.md R5).
        w.add("NM1", "87", "2")
        w.add("N3", clean(profile.pay_to_address_line1, 55), clean(profile.pay_to_address_line2, 55))
        w.add("N4", clean(profile.pay_to_city, 30), clean(profile.pay_to_state, 2), digits(profile.pay_to_zip_code))

    for group in group_subscribers(claims):
        hl += 1
        subscriber_hl = hl
        coverage = group.coverage
        first_claim = group.claims[0]
        w.add("HL", str(subscriber_hl), "1", "22", "0" if group.is_self else "1")
        # SBR02 = 18 only when the patient is the subscriber (billing.md R8).
        w.add(
            "SBR",
            coverage.priority,
            "18" if group.is_self else "",
            clean(coverage.group_number, 50),
            "",
            "",
            "",
            "",
            "",
            first_claim.payer.filing_indicator,
        )
        subscriber = _subscriber_person(coverage, first_claim.patient)
        w.add(
            "NM1",
            "IL",
            "1",
            clean(subscriber.last, 60),
            clean(subscriber.first, 35),
            "",
            "",
            "",
            "MI",
            clean(coverage.member_id, 80),
        )
        _address(w, subscriber)
        _dmg(w, subscriber)
        payer = first_claim.payer
        w.add("NM1", "PR", "2", clean(payer.name, 60), "", "", "", "", "PI", clean(payer.payer_id, 80))
        if group.is_self:
            for claim in group.claims:
                _claim(w, claim, profile, primary_paid_cents)
            continue
        by_patient: dict[int, list] = {}
        for claim in group.claims:
            by_patient.setdefault(claim.patient_id, []).append(claim)
        for patient_claims in by_patient.values():
            hl += 1
            patient = patient_claims[0].patient
            w.add("HL", str(hl), str(subscriber_hl), "23", "0")
            w.add("PAT", patient_claims[0].coverage.relationship)
            person = _patient_person(patient)
            if not person.address1:  # 2010CA N3/N4 are required: a dependent usually lives with the subscriber
                person.address1, person.city = subscriber.address1, subscriber.city
                person.state, person.zip_code = subscriber.state, subscriber.zip_code
            w.add("NM1", "QC", "1", clean(person.last, 60), clean(person.first, 35))
            _address(w, person)
            _dmg(w, person)
            for claim in patient_claims:
                _claim(w, claim, profile, primary_paid_cents)

    w.add("SE", str(w.transaction_segment_count()), st02_text)
    w.add("GE", "1", str(int(gs06)))
    w.add("IEA", "1", isa13_text)
    return w.text()


def _claim(w: SegmentWriter, claim, profile, primary_paid_cents: dict[int, int]) -> None:
    lines = sorted(claim.lines.all(), key=lambda line: line.line_number)[:MAX_LINES_PER_CLAIM]
    pos = claim.place_of_service
    w.add(
        "CLM",
        clean(claim.control_number, 38),
        amount(claim.total_cents),
        "",
        "",
        w.composite(pos, "B", claim.frequency),
        "Y",
        "A",
        "Y",
        "Y",
    )
    if claim.prior_authorization_number:
        w.add("REF", "G1", clean(claim.prior_authorization_number, 50))
    if claim.frequency in {"7", "8"}:
        # Replacement / void carries the payer's claim number of the original (billing.md C2).
        icn = claim.payer_claim_number or (claim.original.payer_claim_number if claim.original_id else "")
        w.add("REF", "F8", clean(icn, 50))
    w.add("REF", "EA", clean(claim.patient.mrn, 50))
    codes = [icd10_for_wire(code) for code in claim.diagnosis_codes[:12]]
    if codes:
        w.add("HI", *[w.composite("ABK" if i == 0 else "ABF", code) for i, code in enumerate(codes)])
    rendering = _identity(claim.rendering)
    if rendering is not None and rendering.npi != profile.npi:
        # 2310B rendering provider when it differs from the billing provider (billing.md R3).
        w.add(
            "NM1",
            "82",
            "1",
            clean(rendering.last_name, 60),
            clean(rendering.first_name, 35),
            "",
            "",
            "",
            "XX",
            rendering.npi,
        )
        w.add("PRV", "PE", "PXC", clean(rendering.taxonomy, 10))
    location = claim.location
    if (
        location is not None
        and pos not in TELEHEALTH_POS
        and location.address_line1
        and clean(location.address_line1) != clean(profile.address_line1)
    ):
        # 2310C service facility when the service location is not the billing address.
        w.add("NM1", "77", "2", clean(location.name, 60))
        w.add("N3", clean(location.address_line1, 55), clean(location.address_line2, 55))
        w.add("N4", clean(location.city, 30), clean(location.state, 2), digits(location.postal_code))
    supervising = _identity(claim.supervising)
    if supervising is not None:
        # 2310D supervising provider (pre-licensed clinicians, billing.md R4).
        w.add(
            "NM1",
            "DQ",
            "1",
            clean(supervising.last_name, 60),
            clean(supervising.first_name, 35),
            "",
            "",
            "",
            "XX",
            supervising.npi,
        )
    other = _other_coverage(claim)
    if other is not None:
        # 2320 other subscriber (the primary payer) + 2330A subscriber + 2330B payer.
        relationship = other.relationship if other.relationship else "18"
        w.add("SBR", "P", relationship, clean(other.group_number, 50), "", "", "", "", "", other.payer.filing_indicator)
        w.add("AMT", "D", amount(primary_paid_cents.get(claim.id, 0)))
        w.add("OI", "", "", "Y", "", "", "Y")
        other_person = _subscriber_person(other, claim.patient)
        w.add(
            "NM1",
            "IL",
            "1",
            clean(other_person.last, 60),
            clean(other_person.first, 35),
            "",
            "",
            "",
            "MI",
            clean(other.member_id, 80),
        )
        w.add("NM1", "PR", "2", clean(other.payer.name, 60), "", "", "", "", "PI", clean(other.payer.payer_id, 80))
    for number, line in enumerate(lines, start=1):
        w.add("LX", str(number))
        procedure = w.composite("HC", clean(line.cpt, 5), *[clean(mod, 2) for mod in (line.modifiers or [])[:4]])
        pointers = w.composite(*[str(p) for p in (line.diagnosis_pointers or [])[:4]])
        line_pos = line.place_of_service if line.place_of_service and line.place_of_service != pos else ""
        w.add("SV1", procedure, amount(line.charge_cents), "UN", str(line.units), line_pos, "", pointers)
        w.add("DTP", "472", "D8", d8(line.service_date))
        w.add("REF", "6R", str(line.pk))
