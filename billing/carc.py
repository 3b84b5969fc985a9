"""Claim adjustment reason codes (CARC) and common remark codes (RARC) for the denials queue.

The descriptions are OUR OWN short plain-language paraphrases, not the licensed X12/WPC texts.
Which codes matter for behavioral health, and the typical action for each, come from
../shared/reference/billing.md §4 ("CARCs that matter for BH posting and denial reporting" and the
RARC paragraph). Each CARC carries a reason group used by the queue's filter and by the appeal
letter's paragraph: auth, timely, coding, eligibility, duplicate, other.
"""

from __future__ import annotations

from dataclasses import dataclass

AUTH, TIMELY, CODING, ELIGIBILITY, DUPLICATE, OTHER = "auth", "timely", "coding", "eligibility", "duplicate", "other"
REASON_GROUPS: dict[str, str] = {
    AUTH: "Authorization",
    TIMELY: "Timely filing",
    CODING: "Coding",
    ELIGIBILITY: "Eligibility",
    DUPLICATE: "Duplicate",
    OTHER: "Other",
}

GROUP_CODES: dict[str, str] = {  # CAS group codes, billing.md §4
    "CO": "Contractual obligation (the practice's to adjust, never the patient's)",
    "PR": "Patient responsibility",
    "OA": "Other adjustment",
    "PI": "Payer-initiated reduction (not the patient's)",
}


@dataclass(frozen=True)
class Carc:
    code: str
    description: str
    group: str
    next_step: str


def _c(code: str, description: str, group: str, next_step: str) -> Carc:
    return Carc(code, description, group, next_step)


# billing.md §4 table: CARC, meaning, typical action (paraphrased).
CARCS: dict[str, Carc] = {
    c.code: c
    for c in (
        _c("1", "Deductible not yet met.", OTHER, "Bill the patient (or the secondary payer)."),
        _c("2", "Coinsurance share.", OTHER, "Bill the patient (or the secondary payer)."),
        _c("3", "Copay share.", OTHER, "Bill the patient (or the secondary payer)."),
        _c(
            "4",
            "A modifier is missing or does not fit the service.",
            CODING,
            "Fix the modifier and send a corrected claim.",
        ),
        _c(
            "11",
            "The diagnosis does not support the service billed.",
            CODING,
            "Review the coding with the clinician; correct and resubmit or appeal with the note.",
        ),
        _c(
            "16",
            "The claim is missing information (see the remark code).",
            CODING,
            "Add what the remark code asks for and send a corrected claim.",
        ),
        _c(
            "18",
            "The payer already has this exact claim.",
            DUPLICATE,
            "Find the original claim and its status; do not resend it.",
        ),
        _c(
            "22",
            "Another payer may be primary (coordination of benefits).",
            ELIGIBILITY,
            "Bill the primary payer or ask the patient to update coordination of benefits.",
        ),
        _c(
            "27",
            "Coverage had ended before the date of service.",
            ELIGIBILITY,
            "Check eligibility; bill the new coverage or the patient.",
        ),
        _c(
            "29",
            "The filing deadline had passed.",
            TIMELY,
            "Write it off unless you can prove timely filing (e.g. a clearinghouse acceptance report).",
        ),
        _c(
            "45",
            "The charge is above the contracted fee.",
            OTHER,
            "Contractual write-off; nothing to work.",
        ),
        _c(
            "50",
            "The payer judged the service not medically necessary.",
            CODING,
            "Appeal with the treatment plan and progress notes showing medical necessity.",
        ),
        _c(
            "96",
            "The service is not covered (see the remark code).",
            ELIGIBILITY,
            "Read the remark code; bill the patient if they agreed in advance, or appeal.",
        ),
        _c("97", "Paid as part of another service (bundled).", CODING, "Check the code pair and modifiers; correct."),
        _c(
            "109",
            "This payer does not cover this claim.",
            ELIGIBILITY,
            "Send the claim to the correct payer.",
        ),
        _c(
            "119",
            "The plan's benefit maximum was reached.",
            ELIGIBILITY,
            "Check the session limit; bill the patient or request more visits.",
        ),
        _c(
            "167",
            "The diagnosis is not covered.",
            CODING,
            "Review the diagnosis with the clinician; correct or appeal.",
        ),
        _c(
            "197",
            "Prior authorization or precertification was missing.",
            AUTH,
            "Get a retro-authorization if the payer allows it, add it and appeal or resubmit.",
        ),
        _c(
            "198",
            "More visits than the authorization allowed.",
            AUTH,
            "Request an extension of the authorization and appeal.",
        ),
        _c(
            "204",
            "The benefit plan does not cover this service.",
            ELIGIBILITY,
            "Bill the patient if they agreed in advance; otherwise write off.",
        ),
        _c(
            "252",
            "The payer needs an attachment.",
            CODING,
            "Send the requested documentation and resubmit.",
        ),
    )
}

# Common RARCs (billing.md §4): LQ*HE on a line or MOA on the claim.
RARCS: dict[str, str] = {
    "M62": "Authorization number missing or invalid.",
    "N14": "Payment based on a contractual amount or agreement.",
    "N206": "The payer needs more information about the service.",
    "N211": "This decision cannot be appealed.",
}


def split_reason(reason_code: str) -> tuple[str, str]:
    """'CO-197' -> ('CO', '197'); '197' -> ('', '197')."""
    text = (reason_code or "").strip().upper()
    if "-" in text:
        group, _, code = text.partition("-")
        return group, code
    return "", text


def carc(code: str) -> Carc | None:
    return CARCS.get(split_reason(code)[1])


def describe(reason_code: str) -> str:
    known = carc(reason_code)
    return known.description if known else "Reason code not in our list; see the payer's remittance."


def next_step(reason_code: str) -> str:
    known = carc(reason_code)
    return known.next_step if known else "Read the payer's remittance and call the payer if it is unclear."


def reason_group(reason_code: str) -> str:
    known = carc(reason_code)
    return known.group if known else OTHER


def codes_in_group(group: str) -> list[str]:
    return [c.code for c in CARCS.values() if c.group == group]


def rarc_text(code: str) -> str:
    return RARCS.get((code or "").strip().upper(), "")


def explain_adjustments(adjustments: list[dict]) -> list[dict]:
    """CAS [{group, reason, amount}] with the group and reason in words."""
    rows = []
    for adj in adjustments or []:
        group = str(adj.get("group", "")).upper()
        reason = str(adj.get("reason", ""))
        rows.append(
            {
                "group": group,
                "reason": reason,
                "amount": adj.get("amount"),
                "group_text": GROUP_CODES.get(group, ""),
                "reason_text": describe(reason),
            }
        )
    return rows
