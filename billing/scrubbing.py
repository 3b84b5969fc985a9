"""The claim scrubber: an explainable rules engine (issue 6; billing.md §3).

Each `Rule` has a code, a title, a default severity ("error" blocks submission, "warning"
informs), the source it comes from and a `check(ctx) -> list[Hit]`. A `Hit` says exactly what is
wrong with the real values, how to fix it, and links the page where it is fixed.

`build_contexts(claims)` reads everything the rules need for many claims in a fixed number of
queries (not per claim); `scrub(ctx)` runs the rules. This module reads the database and writes
nothing: `billing.services_scrub` stores the findings.

Rules are switched off, given another severity or configured per practice (`ScrubRuleSetting`
with no payer) or per payer (a payer's row wins over the practice-wide one). Configurable keys are
listed in `Rule.config` with their defaults (see docs/scrubbing.md, generated from `RULES`).

Rules marked [U] rest on a fact billing.md §3 / §7 lists as UNCONFIRMED; their defaults are
configuration, not hard facts.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Prefetch
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from billing import models as bm
from billing.cpt import CPT_CODES, EM_OFFICE, MODIFIERS, PSYCHOTHERAPY, PSYCHOTHERAPY_WITH_EM, cpt_or_none
from billing.validators import icd10_is_well_formed, npi_is_valid, taxonomy_is_valid

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)

# Claim statuses that are not a live billing of the service (billing.md C7: "not denied, voided
# or rejected").
DEAD_STATUSES = frozenset({bm.Claim.Status.VOID, bm.Claim.Status.REJECTED, bm.Claim.Status.DENIED})
# A primary claim counts as adjudicated once the payer answered with money or a denial (S1).
ADJUDICATED_STATUSES = frozenset(
    {bm.Claim.Status.PAID, bm.Claim.Status.PARTIALLY_PAID, bm.Claim.Status.DENIED, bm.Claim.Status.CLOSED}
)
MEDICARE = bm.Payer.FilingIndicator.MEDICARE_B


# --------------------------------------------------------------------------------------------
# Registry


@dataclass(frozen=True)
class Hit:
    message: str
    fix: str
    fix_url: str = ""
    line: bm.ClaimLine | None = None
    severity: str | None = None  # None: the rule's (or the configured) severity


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    severity: str
    source: str
    check: Callable[[ScrubContext], list[Hit]]
    config: dict[str, Any] = field(default_factory=dict)  # configurable keys and their defaults
    unconfirmed: bool = False  # [U]: rests on a fact billing.md marks UNCONFIRMED


@dataclass(frozen=True)
class Finding:
    rule_code: str
    severity: str
    message: str
    fix: str
    fix_url: str
    line: bm.ClaimLine | None


RULES: dict[str, Rule] = {}


def rule(
    code: str,
    title: str,
    severity: str,
    source: str,
    *,
    config: dict[str, Any] | None = None,
    unconfirmed: bool = False,
) -> Callable[[Callable[[ScrubContext], list[Hit]]], Callable[[ScrubContext], list[Hit]]]:
    assert severity in SEVERITIES, severity  # noqa: S101 - a programming error at import time
    assert code not in RULES, code  # noqa: S101

    def register(check: Callable[[ScrubContext], list[Hit]]) -> Callable[[ScrubContext], list[Hit]]:
        RULES[code] = Rule(code, title, severity, source, check, dict(config or {}), unconfirmed)
        return check

    return register


# --------------------------------------------------------------------------------------------
# Context


@dataclass
class ScrubContext:
    claim: bm.Claim
    lines: list[bm.ClaimLine]
    coverage: bm.Coverage
    payer: bm.Payer
    patient: Any
    profile: bm.BillingProfile | None
    rendering: bm.RenderingProvider | None  # the rendering member's billing identity
    supervising: bm.RenderingProvider | None
    authorizations: list[bm.PriorAuthorization]
    auth_visit_dates: dict[int, list[date]]  # authorization id -> sorted distinct dates of its non-void charges
    same_day_claims: list[bm.Claim]  # the patient's OTHER claims on the claim's service date(s), lines attached
    diagnosis_codes: dict[str, Any]  # dotted code -> clinical.DiagnosisCode
    instruments_by_day: dict[date, set[str]]  # distinct billable instruments scored per day
    settings: dict[str, bm.ScrubRuleSetting]  # rule code -> effective setting (payer over practice)
    practice_slug: str
    today: date

    def cfg(self, code: str, key: str) -> Any:
        setting = self.settings.get(code)
        if setting is not None and isinstance(setting.config, dict) and key in setting.config:
            return setting.config[key]
        return RULES[code].config.get(key)

    # Convenience -------------------------------------------------------------------------

    def pos(self, line: bm.ClaimLine) -> str:
        return line.place_of_service or self.claim.place_of_service

    def dates(self) -> set[date]:
        return {line.service_date for line in self.lines} | {self.claim.service_date}

    def codes_on(self, day: date, *, same_rendering: bool = False, include_self: bool = True) -> list[str]:
        """CPT codes billed for this patient on `day`: this claim's lines and the patient's other
        live claims (not void/rejected/denied)."""
        codes = [line.cpt for line in self.lines if line.service_date == day] if include_self else []
        for other in self.live_same_coverage_claims():
            if same_rendering and other.rendering_id != self.claim.rendering_id:
                continue
            codes.extend(line.cpt for line in other.lines_cache if line.service_date == day)
        return codes

    def live_same_coverage_claims(self) -> list[bm.Claim]:
        """The patient's other claims that bill the same services to the same coverage: not void,
        rejected or denied, not a void (8), and not this claim's original or replacement (a
        secondary claim repeats the primary's lines on purpose)."""
        return [
            other
            for other in self.same_day_claims
            if other.coverage_id == self.claim.coverage_id
            and other.status not in DEAD_STATUSES
            and other.frequency != bm.Claim.Frequency.VOID
            and other.pk != self.claim.original_id
            and other.original_id != self.claim.pk
        ]

    def rendering_name(self) -> str:
        if self.rendering is not None:
            return f"{self.rendering.first_name} {self.rendering.last_name}".strip()
        member = self.claim.rendering
        return member.user.full_name if member is not None else "the rendering clinician"

    def supervising_name(self) -> str:
        if self.supervising is not None:
            return f"{self.supervising.first_name} {self.supervising.last_name}".strip()
        member = self.claim.supervising
        return member.user.full_name if member is not None else "the supervising clinician"

    # Fix links (a page another helper has not built yet gives "", never an exception) ----

    def url(self, name: str, **kwargs: Any) -> str:
        try:
            return reverse(name, kwargs={"practice_slug": self.practice_slug, **kwargs})
        except NoReverseMatch:
            return ""

    def url_setup(self) -> str:
        return self.url("billing_setup")

    def url_provider(self, member: Any) -> str:
        return self.url("rendering_provider_edit", member_id=member.public_id) if member else self.url_setup()

    def url_payer(self) -> str:
        return self.url("payer_edit", payer_id=self.payer.public_id)

    def url_coverage(self) -> str:
        return self.url("coverage_edit", patient_id=self.patient.public_id, coverage_id=self.coverage.public_id)

    def url_patient(self) -> str:
        return self.url("patient_chart", patient_id=self.patient.public_id)

    def url_claim(self) -> str:
        return self.url("claim_edit", claim_id=self.claim.public_id)

    def url_auth_new(self) -> str:
        return self.url("authorization_new", patient_id=self.patient.public_id, coverage_id=self.coverage.public_id)

    def url_note(self, line: bm.ClaimLine) -> str:
        note = line.charge.note if line.charge_id else None
        return self.url("note_detail", note_id=note.public_id) if note is not None else self.url_claim()


def _practice_zone(practice: Any) -> ZoneInfo:
    try:
        return ZoneInfo(practice.timezone)
    except (ValueError, KeyError):  # an unknown zone name falls back to the server zone
        return ZoneInfo(timezone.get_current_timezone_name())


def build_contexts(claims: Iterable[bm.Claim | int], *, today: date | None = None) -> list[ScrubContext]:
    """Scrub contexts for claims of ONE practice (ids or rows), in a fixed number of queries:
    claims with coverage/payer/patient/members, lines with charges and notes, billing profile,
    rendering providers, rule settings, diagnosis codes, authorizations and their usage, the
    patients' other claims on the same days with their lines, and the day's assessment responses.
    Must run inside the practice's scope."""
    from assessments.models import Response
    from clinical.models import DiagnosisCode

    ids = [c if isinstance(c, int) else c.pk for c in claims]
    if not ids:
        return []
    line_qs = bm.ClaimLine.objects.select_related("charge", "charge__note").order_by("line_number")
    rows = list(
        bm.Claim.objects.filter(pk__in=ids)
        .select_related("practice", "coverage", "payer", "patient", "rendering", "rendering__user", "supervising__user")
        .prefetch_related(Prefetch("lines", queryset=line_qs, to_attr="lines_cache"))
        .order_by("pk")
    )
    if not rows:
        return []
    practice = rows[0].practice
    zone = _practice_zone(practice)
    today = today or timezone.localdate(timezone=zone)

    member_ids = {c.rendering_id for c in rows if c.rendering_id} | {c.supervising_id for c in rows if c.supervising_id}
    providers = {rp.membership_id: rp for rp in bm.RenderingProvider.objects.filter(membership_id__in=member_ids)}
    profile = bm.BillingProfile.objects.first()

    settings_rows = list(bm.ScrubRuleSetting.objects.filter(payer_id__isnull=True)) + list(
        bm.ScrubRuleSetting.objects.filter(payer_id__in={c.payer_id for c in rows})
    )
    practice_wide = {s.rule_code: s for s in settings_rows if s.payer_id is None}
    per_payer: dict[int, dict[str, bm.ScrubRuleSetting]] = defaultdict(dict)
    for s in settings_rows:
        if s.payer_id is not None:
            per_payer[s.payer_id][s.rule_code] = s

    all_dx = {code for c in rows for code in (c.diagnosis_codes or []) if isinstance(code, str)}
    dx_rows = {d.code: d for d in DiagnosisCode.objects.filter(code__in=all_dx)} if all_dx else {}

    coverage_ids = {c.coverage_id for c in rows}
    auths = list(bm.PriorAuthorization.objects.filter(coverage_id__in=coverage_ids).order_by("starts_on", "pk"))
    auths_by_coverage: dict[int, list[bm.PriorAuthorization]] = defaultdict(list)
    for a in auths:
        auths_by_coverage[a.coverage_id].append(a)
    visit_dates: dict[int, set[date]] = defaultdict(set)
    if auths:
        for auth_id, day in (
            bm.Charge.objects.filter(prior_authorization_id__in=[a.pk for a in auths])
            .exclude(status=bm.Charge.Status.VOID)
            .values_list("prior_authorization_id", "service_date")
            .distinct()
        ):
            visit_dates[auth_id].add(day)

    # The patients' other claims on the same days (duplicates, same-day code pairs, secondary).
    patient_ids = {c.patient_id for c in rows}
    all_days = {line.service_date for c in rows for line in c.lines_cache} | {c.service_date for c in rows}
    first_day, last_day = min(all_days), max(all_days)
    others = list(
        bm.Claim.objects.filter(patient_id__in=patient_ids, service_date__range=(first_day, last_day))
        .select_related("coverage")
        .prefetch_related(
            Prefetch("lines", queryset=bm.ClaimLine.objects.order_by("line_number"), to_attr="lines_cache")
        )
        .order_by("pk")
    )
    others_by_key: dict[tuple[int, date], list[bm.Claim]] = defaultdict(list)
    for other in others:
        for day in {line.service_date for line in other.lines_cache} | {other.service_date}:
            others_by_key[(other.patient_id, day)].append(other)

    # Billable instruments scored per patient per local day (billing.md P7); corrected responses
    # no longer count (assessments.Response docstring).
    start = datetime.combine(first_day - timedelta(days=1), datetime.min.time(), tzinfo=zone)
    end = datetime.combine(last_day + timedelta(days=2), datetime.min.time(), tzinfo=zone)
    instruments: dict[tuple[int, date], set[str]] = defaultdict(set)
    for patient_id, code, completed_at in Response.objects.filter(
        patient_id__in=patient_ids,
        completed_at__gte=start,
        completed_at__lt=end,
        is_complete=True,
        corrected_by__isnull=True,
    ).values_list("patient_id", "instrument_code", "completed_at"):
        instruments[(patient_id, completed_at.astimezone(zone).date())].add(code)

    contexts = []
    for claim in rows:
        days = {line.service_date for line in claim.lines_cache} | {claim.service_date}
        seen: set[int] = set()
        same_day: list[bm.Claim] = []
        for day in sorted(days):
            for other in others_by_key.get((claim.patient_id, day), []):
                if other.pk != claim.pk and other.pk not in seen:
                    seen.add(other.pk)
                    same_day.append(other)
        contexts.append(
            ScrubContext(
                claim=claim,
                lines=list(claim.lines_cache),
                coverage=claim.coverage,
                payer=claim.payer,
                patient=claim.patient,
                profile=profile,
                rendering=providers.get(claim.rendering_id) if claim.rendering_id else None,
                supervising=providers.get(claim.supervising_id) if claim.supervising_id else None,
                authorizations=auths_by_coverage.get(claim.coverage_id, []),
                auth_visit_dates={
                    a.pk: sorted(visit_dates.get(a.pk, set())) for a in auths_by_coverage.get(claim.coverage_id, [])
                },
                same_day_claims=same_day,
                diagnosis_codes=dx_rows,
                instruments_by_day={day: instruments.get((claim.patient_id, day), set()) for day in days},
                settings={**practice_wide, **per_payer.get(claim.payer_id, {})},
                practice_slug=practice.slug,
                today=today,
            )
        )
    return contexts


def build_context(claim: bm.Claim, *, today: date | None = None) -> ScrubContext:
    return build_contexts([claim], today=today)[0]


def scrub(ctx: ScrubContext) -> list[Finding]:
    """Run every enabled rule on one claim; settings decide which rules run and their severity."""
    findings: list[Finding] = []
    for code, r in RULES.items():
        setting = ctx.settings.get(code)
        if setting is not None and not setting.is_enabled:
            continue
        override = setting.severity if setting is not None and setting.severity in SEVERITIES else ""
        for hit in r.check(ctx):
            severity = override or hit.severity or r.severity
            findings.append(Finding(code, severity, hit.message, hit.fix, hit.fix_url, hit.line))
    return findings


# --------------------------------------------------------------------------------------------
# Helpers


def _money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def _day(d: date) -> str:
    return d.strftime("%b %-d, %Y")


def _line_label(line: bm.ClaimLine) -> str:
    return f"line {line.line_number} ({line.cpt})"


def _pointers(line: bm.ClaimLine) -> list[Any]:
    return line.diagnosis_pointers if isinstance(line.diagnosis_pointers, list) else []


def _modifiers(line: bm.ClaimLine) -> list[str]:
    return [str(m).strip().upper() for m in (line.modifiers or [])]


def _pointed_codes(ctx: ScrubContext, line: bm.ClaimLine) -> list[str]:
    dx = ctx.claim.diagnosis_codes or []
    out = []
    for p in _pointers(line):
        if isinstance(p, int) and 1 <= p <= len(dx):
            out.append(dx[p - 1])
    return out


def _dx_ok(code: Any) -> bool:
    """Stored as ICD-10-CM writes it: upper case, with its dot (billing.md D1)."""
    return isinstance(code, str) and code == code.strip().upper() and icd10_is_well_formed(code)


MENTAL_HEALTH_KINDS = frozenset({"evaluation", "psychotherapy", "addon", "crisis", "family", "group"})


# --------------------------------------------------------------------------------------------
# 3.1 Identity, provider and structure


@rule("R1", "NPIs pass the check digit", ERROR, "billing.md §3.1 R1 (CMS NPI check-digit spec; NPI final rule)")
def check_npis(ctx: ScrubContext) -> list[Hit]:
    hits = []
    if ctx.profile is None:
        return [
            Hit(
                "The practice has no billing identity (billing NPI, TIN, taxonomy, address), so no claim can be sent.",
                "Fill in the billing identity on Billing setup.",
                ctx.url_setup(),
            )
        ]
    if not npi_is_valid(ctx.profile.npi):
        hits.append(
            Hit(
                f"Billing NPI {ctx.profile.npi or '(empty)'} fails the NPI check digit (loop 2010AA).",
                "Correct the billing NPI on Billing setup.",
                ctx.url_setup(),
            )
        )
    for who, provider, member, name in (
        ("rendering", ctx.rendering, ctx.claim.rendering, ctx.rendering_name),
        ("supervising", ctx.supervising, ctx.claim.supervising, ctx.supervising_name),
    ):
        if provider is not None and not npi_is_valid(provider.npi):
            hits.append(
                Hit(
                    f"NPI {provider.npi or '(empty)'} on the {who} provider ({name()}) fails the check digit.",
                    "Correct the NPI on Billing setup → Rendering providers.",
                    ctx.url_provider(member),
                )
            )
    return hits


@rule("R2", "Taxonomy codes are well formed", ERROR, "billing.md §3.1 R2 (NUCC via PHIN VADS; WPC)")
def check_taxonomy(ctx: ScrubContext) -> list[Hit]:
    hits = []
    if ctx.profile is not None and not taxonomy_is_valid(ctx.profile.taxonomy):
        hits.append(
            Hit(
                f"Billing taxonomy {ctx.profile.taxonomy or '(empty)'} is not a 10-character NUCC code "
                "(3 digits, 6 letters or digits, ending in X; PRV*BI in 2000A).",
                "Correct the billing taxonomy on Billing setup, e.g. 261QM0801X.",
                ctx.url_setup(),
            )
        )
    for who, provider, member, name in (
        ("rendering", ctx.rendering, ctx.claim.rendering, ctx.rendering_name),
        ("supervising", ctx.supervising, ctx.claim.supervising, ctx.supervising_name),
    ):
        if provider is not None and not taxonomy_is_valid(provider.taxonomy):
            hits.append(
                Hit(
                    f"Taxonomy {provider.taxonomy or '(empty)'} on the {who} provider ({name()}) is not a "
                    "10-character NUCC code ending in X.",
                    "Correct the taxonomy on Billing setup → Rendering providers, e.g. 101YP2500X.",
                    ctx.url_provider(member),
                )
            )
    return hits


@rule("R3", "Rendering provider present", ERROR, "billing.md §3.1 R3 (TR3 2310B situational rule)")
def check_rendering(ctx: ScrubContext) -> list[Hit]:
    hits = []
    if ctx.claim.rendering_id is None:
        return [
            Hit(
                "The claim has no rendering clinician (loop 2310B).",
                "Set the rendering clinician on the claim.",
                ctx.url_claim(),
            )
        ]
    if ctx.rendering is None:
        hits.append(
            Hit(
                f"{ctx.rendering_name()} has no billing identity (NPI and taxonomy), so loop 2310B cannot be sent.",
                "Add the clinician's NPI and taxonomy on Billing setup → Rendering providers.",
                ctx.url_provider(ctx.claim.rendering),
            )
        )
    if ctx.claim.supervising_id is not None and ctx.supervising is None:
        hits.append(
            Hit(
                f"Supervising clinician {ctx.supervising_name()} has no billing identity (NPI and taxonomy; 2310D).",
                "Add the supervisor's NPI and taxonomy on Billing setup → Rendering providers.",
                ctx.url_provider(ctx.claim.supervising),
            )
        )
    return hits


@rule(
    "R4",
    "Rendering credential allowed",
    ERROR,
    "billing.md §3.1 R4 (CARC 8; credential matrix per payer); 90792 is checked by P5",
)
def check_credential(ctx: ScrubContext) -> list[Hit]:
    hits: list[Hit] = []
    provider, member = ctx.rendering, ctx.claim.rendering
    if member is None:
        return hits
    if provider is not None:
        for line in ctx.lines:
            code = cpt_or_none(line.cpt)
            if code and code.prescriber_only and code.code != "90792" and not provider.is_prescriber:
                hits.append(
                    Hit(
                        f"{line.cpt} on {_line_label(line)} is billed by prescribers only (MD/DO/NP/PA), and "
                        f"{ctx.rendering_name()} ({provider.credential or 'no credential'}) is not marked as one.",
                        "Bill a code the clinician may use, or mark the clinician as a prescriber on Billing setup → "
                        "Rendering providers if that is wrong.",
                        ctx.url_claim(),
                        line=line,
                    )
                )
        excluded = {str(c).strip().upper() for c in (ctx.payer.excluded_credentials or [])}
        if provider.credential and provider.credential.strip().upper() in excluded:
            hits.append(
                Hit(
                    f"{ctx.payer.name} does not pay services rendered by a {provider.credential} "
                    f"({ctx.rendering_name()}).",
                    "Bill the patient or another payer, or have an eligible clinician render the service.",
                    ctx.url_payer(),
                )
            )
    if ctx.payer.requires_supervising_provider and not member.is_licensed and ctx.claim.supervising_id is None:
        hits.append(
            Hit(
                f"{ctx.rendering_name()} is pre-licensed and {ctx.payer.name} requires a supervising provider "
                "(loop 2310D), but the claim has none.",
                "Set the clinician's supervisor in the practice team settings, then rebuild or edit the claim.",
                ctx.url_claim(),
            )
        )
    return hits


PO_BOX_RE = re.compile(r"\b(P\.?\s*O\.?\s*B(OX|X)|POST\s+OFFICE\s+BOX|LOCK\s*BOX|BOX\s+\d+)\b", re.IGNORECASE)


@rule(
    "R5",
    "Billing address is a street address with ZIP+4",
    ERROR,
    "billing.md §3.1 R5 (Stedi claim edit; ACP Internist 2011; 5010 9-digit ZIP)",
)
def check_billing_address(ctx: ScrubContext) -> list[Hit]:
    p = ctx.profile
    if p is None:
        return []
    hits = []
    for text in (p.address_line1, p.address_line2):
        if text and PO_BOX_RE.search(text):
            hits.append(
                Hit(
                    f'The billing address "{text}" is a PO box; loop 2010AA needs a physical street address.',
                    "Enter the street address on Billing setup and put the PO box in the pay-to address (2010AB).",
                    ctx.url_setup(),
                )
            )
    if not re.fullmatch(r"[0-9]{9}", p.zip_code or ""):
        hits.append(
            Hit(
                f"The billing ZIP code {p.zip_code or '(empty)'} is not the 9-digit ZIP+4 that 5010 requires.",
                "Enter the ZIP+4 (9 digits, no dash) on Billing setup.",
                ctx.url_setup(),
            )
        )
    return hits


@rule("R6", "TIN is 9 digits", ERROR, "billing.md §3.1 R6 (REF*EI in 2010AA)")
def check_tin(ctx: ScrubContext) -> list[Hit]:
    p = ctx.profile
    if p is None or (re.fullmatch(r"[0-9]{9}", p.tin or "") and p.tin != "000000000"):
        return []
    return [
        Hit(
            f"The billing TIN {p.tin or '(empty)'} is not a 9-digit tax id (REF*EI).",
            "Enter the practice's EIN, 9 digits without the dash, on Billing setup.",
            ctx.url_setup(),
        )
    ]


# CMS "Understanding the Medicare Beneficiary Identifier (MBI) format": 11 characters; positions
# 2, 5, 8, 9 letters; 1 digit 1-9; 4, 7, 10, 11 digits; 3, 6 letter or digit; letters exclude
# S, L, O, I, B, Z (billing.md R7).
_MBI_ALPHA = "AC-HJKMNP-RT-Y"
MBI_RE = re.compile(
    rf"^[1-9][{_MBI_ALPHA}][{_MBI_ALPHA}0-9][0-9][{_MBI_ALPHA}][{_MBI_ALPHA}0-9][0-9][{_MBI_ALPHA}]{{2}}[0-9]{{2}}$"
)


@rule(
    "R7",
    "Subscriber member id present and well formed",
    ERROR,
    "billing.md §3.1 R7 (NGS CEDI top-10 A7/164; CMS MBI format)",
)
def check_member_id(ctx: ScrubContext) -> list[Hit]:
    member_id = (ctx.coverage.member_id or "").strip()
    if not member_id:
        return [
            Hit(
                f"The coverage with {ctx.payer.name} has no member id (2010BA NM109).",
                "Enter the member id from the insurance card on the patient's coverage.",
                ctx.url_coverage(),
            )
        ]
    if ctx.payer.filing_indicator == MEDICARE and not MBI_RE.match(member_id.upper()):
        hint = " Remove the dashes." if "-" in member_id else ""
        return [
            Hit(
                f"Member id {member_id} is not a Medicare Beneficiary Identifier: an MBI is 11 characters "
                f"like 1EG4TE5MK73 (no S, L, O, I, B or Z).{hint}",
                "Copy the MBI from the patient's Medicare card onto the coverage.",
                ctx.url_coverage(),
            )
        ]
    return []


@rule(
    "R8",
    "Subscriber details present when the patient is not the subscriber",
    ERROR,
    "billing.md §3.1 R8 (2000C loop; TR3 via pyx12 map)",
)
def check_subscriber(ctx: ScrubContext) -> list[Hit]:
    c = ctx.coverage
    if c.relationship == bm.Coverage.Relationship.SELF:
        return []
    missing = [
        label
        for label, value in (
            ("first name", c.subscriber_first_name),
            ("last name", c.subscriber_last_name),
            ("date of birth", c.subscriber_date_of_birth),
            ("sex", c.subscriber_sex),
            ("street address", c.subscriber_address_line1),
            ("city", c.subscriber_city),
            ("state", c.subscriber_state),
            ("ZIP code", c.subscriber_zip_code),
        )
        if not value
    ]
    if not missing:
        return []
    return [
        Hit(
            f"The patient is the subscriber's {c.get_relationship_display().lower()} (not the subscriber), and the "
            f"coverage lacks the subscriber's {', '.join(missing)} (loop 2010BA).",
            "Fill in the subscriber's details on the patient's coverage.",
            ctx.url_coverage(),
        )
    ]


@rule(
    "R9",
    "Date of birth and coverage dates fit the service date",
    ERROR,
    "billing.md §3.1 R9 (PM help center; CARC 27)",
)
def check_dates_of_coverage(ctx: ScrubContext) -> list[Hit]:
    hits = []
    dob = ctx.patient.date_of_birth
    dos = ctx.claim.service_date
    if dob is None:
        hits.append(Hit("The patient has no date of birth.", "Add it on the patient's chart.", ctx.url_patient()))
    elif dob > dos:
        hits.append(
            Hit(
                f"The patient's date of birth ({_day(dob)}) is after the service date ({_day(dos)}).",
                "Correct the date of birth on the patient's chart.",
                ctx.url_patient(),
            )
        )
    c = ctx.coverage
    if c.starts_on and dos < c.starts_on:
        hits.append(
            Hit(
                f"The coverage with {ctx.payer.name} starts on {_day(c.starts_on)}, after the service date "
                f"({_day(dos)}).",
                "Check the coverage dates, or bill the coverage that was active that day.",
                ctx.url_coverage(),
            )
        )
    if c.ends_on and dos > c.ends_on:
        hits.append(
            Hit(
                f"The coverage with {ctx.payer.name} ended on {_day(c.ends_on)}, before the service date "
                f"({_day(dos)}; CARC 27).",
                "Bill the coverage active on the service date, or the patient.",
                ctx.url_coverage(),
            )
        )
    if not c.is_active:
        hits.append(
            Hit(
                f"The coverage with {ctx.payer.name} is marked inactive.",
                "Check eligibility; reactivate the coverage or bill the active one.",
                ctx.url_coverage(),
                severity=WARNING,
            )
        )
    return hits


@rule(
    "R10",
    "Claim filing indicator fits the payer",
    ERROR,
    "billing.md §3.1 R10 (SBR09 code list in the pyx12 map; PM help center)",
    config={"name_hints": {"medicare": "MB", "medicaid": "MC", "blue cross": "BL", "blue shield": "BL", "bcbs": "BL"}},
)
def check_filing_indicator(ctx: ScrubContext) -> list[Hit]:
    indicator = ctx.payer.filing_indicator
    if indicator not in bm.Payer.FilingIndicator.values:
        return [
            Hit(
                f"{ctx.payer.name} has claim filing indicator {indicator or '(empty)'}, not an SBR09 code.",
                "Choose the payer's filing indicator on the payer's page.",
                ctx.url_payer(),
            )
        ]
    name = ctx.payer.name.lower()
    if "advantage" in name:  # Medicare Advantage plans file as HMO/PPO/commercial, never MB
        if indicator == MEDICARE:
            return [
                Hit(
                    f"{ctx.payer.name} looks like a Medicare Advantage plan, which is not billed as Medicare Part B "
                    "(MB).",
                    "Set the payer's filing indicator to HM, 12 or CI as its payer guide says.",
                    ctx.url_payer(),
                )
            ]
        return []
    hints = ctx.cfg("R10", "name_hints") or {}
    for word, expected in hints.items():
        if word in name and indicator != expected:
            label = (
                bm.Payer.FilingIndicator(expected).label if expected in bm.Payer.FilingIndicator.values else expected
            )
            return [
                Hit(
                    f'{ctx.payer.name} is filed with indicator {indicator}, but a "{word}" payer is usually {label}.',
                    "Check the filing indicator on the payer's page (or configure this rule for the payer).",
                    ctx.url_payer(),
                )
            ]
    if indicator == MEDICARE and "medicare" not in name:
        return [
            Hit(
                f"{ctx.payer.name} is filed as Medicare Part B (MB) but its name does not say Medicare.",
                "Check the filing indicator on the payer's page.",
                ctx.url_payer(),
                severity=WARNING,
            )
        ]
    return []


# --------------------------------------------------------------------------------------------
# 3.2 Diagnoses


@rule("D1", "ICD-10-CM codes are well formed", ERROR, "billing.md §3.2 D1 (CMS data specs; ICD-10-CM conventions)")
def check_icd_format(ctx: ScrubContext) -> list[Hit]:
    hits = []
    for position, code in enumerate(ctx.claim.diagnosis_codes or [], start=1):
        if _dx_ok(code):
            continue
        shown = code if isinstance(code, str) else repr(code)
        hint = ""
        if isinstance(code, str) and re.fullmatch(r"[A-Za-z][0-9][0-9A-Za-z][0-9A-Za-z]{1,4}", code.strip()):
            hint = f" It is stored without its decimal point: store it as {code[:3].upper()}.{code[3:].upper()}."
        hits.append(
            Hit(
                f"Diagnosis {position} ({shown}) is not a well-formed ICD-10-CM code "
                f"(a letter, a digit, a digit or letter, then an optional dot and 1-4 characters).{hint}",
                "Pick the diagnosis from the ICD-10-CM list on the claim.",
                ctx.url_claim(),
            )
        )
    return hits


@rule(
    "D2",
    "ICD-10-CM codes exist and are billable",
    ERROR,
    "billing.md §3.2 D2 (CMS ICD-10-CM table; 277CA A7/254-255)",
)
def check_icd_billable(ctx: ScrubContext) -> list[Hit]:
    hits = []
    for position, code in enumerate(ctx.claim.diagnosis_codes or [], start=1):
        if not _dx_ok(code):
            continue  # D1 reports it
        row = ctx.diagnosis_codes.get(code)
        if row is None:
            hits.append(
                Hit(
                    f"Diagnosis {position} ({code}) is not in the ICD-10-CM code table.",
                    "Replace it with a current ICD-10-CM code on the patient's diagnoses and the claim.",
                    ctx.url_claim(),
                )
            )
        elif not row.is_billable:
            hits.append(
                Hit(
                    f"Diagnosis {position} ({code}) is a category, not a billable code: it is not coded to the full "
                    "number of characters.",
                    f"Use a full-length code under {code} (e.g. {code}.x) on the patient's diagnoses and the claim.",
                    ctx.url_claim(),
                )
            )
    return hits


@rule(
    "D3",
    "At least one diagnosis",
    ERROR,
    "billing.md §3.2 D3 (HI with ABK/ABF; the qualifiers themselves are asserted on the 837 writer)",
)
def check_has_diagnosis(ctx: ScrubContext) -> list[Hit]:
    if ctx.claim.diagnosis_codes:
        return []
    return [
        Hit(
            "The claim has no diagnosis (HI segment, principal ABK).",
            "Add the patient's diagnoses to the chart, then add them to the claim.",
            ctx.url_claim(),
        )
    ]


@rule("D4", "At most 12 diagnoses, none repeated", ERROR, "billing.md §3.2 D4 (TR3 HI limit; EDISS)")
def check_diagnosis_count(ctx: ScrubContext) -> list[Hit]:
    codes = ctx.claim.diagnosis_codes or []
    hits = []
    if len(codes) > 12:
        hits.append(
            Hit(
                f"The claim has {len(codes)} diagnoses; an 837P carries at most 12.",
                "Keep the 12 most relevant diagnoses on the claim.",
                ctx.url_claim(),
            )
        )
    repeated = sorted({c for c in codes if isinstance(c, str) and codes.count(c) > 1})
    if repeated:
        hits.append(
            Hit(
                f"Diagnosis {', '.join(repeated)} appears more than once on the claim.",
                "Remove the repeated diagnosis and re-point the lines.",
                ctx.url_claim(),
            )
        )
    return hits


def _is_mental_health_dx(code: str) -> bool:
    """ICD-10-CM chapter 5, F01-F99 (billing.md D5; icd.codes chapter 5)."""
    return bool(re.match(r"^F(0[1-9]|[1-9][0-9])", (code or "").upper()))


@rule(
    "D5",
    "Mental-health services point first at an F01-F99 diagnosis",
    WARNING,
    "billing.md §3.2 D5 (ICD-10-CM chapter 5; CARC 11/167)",
    config={"accepted_prefixes": []},
)
def check_primary_dx(ctx: ScrubContext) -> list[Hit]:
    accepted = tuple(str(p).upper() for p in (ctx.cfg("D5", "accepted_prefixes") or []))
    hits = []
    for line in ctx.lines:
        code = cpt_or_none(line.cpt)
        if code is None or code.kind not in MENTAL_HEALTH_KINDS:
            continue
        pointed = _pointed_codes(ctx, line)
        if not pointed:
            continue  # D6 reports it
        if pointed and all(p.upper().startswith("Z") for p in pointed) and code.kind in {"psychotherapy", "addon"}:
            hits.append(
                Hit(
                    f"{_line_label(line)} points only to Z codes ({', '.join(pointed)}); most payers deny "
                    "psychotherapy without a mental-health diagnosis.",
                    "Point the line at the F-code diagnosis the service treated.",
                    ctx.url_claim(),
                    line=line,
                )
            )
            continue
        first = pointed[0]
        if not _is_mental_health_dx(first) and not (accepted and first.upper().startswith(accepted)):
            hits.append(
                Hit(
                    f"{_line_label(line)} points first at {first}, which is not a mental-health diagnosis (F01-F99).",
                    "Put the F-code diagnosis first in the line's pointers, or configure the codes this payer accepts.",
                    ctx.url_claim(),
                    line=line,
                )
            )
    return hits


@rule(
    "D6",
    "Diagnosis pointers valid",
    ERROR,
    "billing.md §3.2 D6 (pyx12 map SV107; Stedi edit; X12 RFI 433)",
)
def check_pointers(ctx: ScrubContext) -> list[Hit]:
    n = len(ctx.claim.diagnosis_codes or [])
    hits = []
    for line in ctx.lines:
        raw = line.diagnosis_pointers
        pointers = _pointers(line)
        problems = []
        if not pointers:
            problems.append("has no diagnosis pointer")
        if len(pointers) > 4:
            problems.append(f"has {len(pointers)} pointers (at most 4)")
        bad = [p for p in pointers if not isinstance(p, int) or isinstance(p, bool) or not 1 <= p <= min(n, 12)]
        if bad:
            problems.append(
                f"points at {', '.join(str(b) for b in bad)} but the claim has {n} diagnos{'is' if n == 1 else 'es'}"
            )
        dupes = sorted({p for p in pointers if isinstance(p, int) and pointers.count(p) > 1})
        if dupes:
            problems.append(f"repeats pointer {', '.join(str(d) for d in dupes)}")
        if problems or not isinstance(raw, list):
            hits.append(
                Hit(
                    f"{_line_label(line)} {'; '.join(problems) or 'has unreadable pointers'}.",
                    "Edit the line's diagnosis pointers: 1 to 4 different diagnoses listed on the claim.",
                    ctx.url_claim(),
                    line=line,
                )
            )
    return hits


# --------------------------------------------------------------------------------------------
# 3.3 Claim and line mechanics


@rule("C1", "Claim total equals the sum of its lines", ERROR, "billing.md §3.3 C1 (Stedi claim edit; RDPCrystal)")
def check_total(ctx: ScrubContext) -> list[Hit]:
    if not ctx.lines:
        return [Hit("The claim has no service lines.", "Add the charges to the claim, or void it.", ctx.url_claim())]
    total = sum(line.charge_cents for line in ctx.lines)
    hits = []
    if ctx.claim.total_cents != total:
        hits.append(
            Hit(
                f"The claim total is {_money(ctx.claim.total_cents)} but its lines add up to {_money(total)} "
                "(CLM02 must equal the sum of SV102).",
                "Re-total the claim (edit and save its lines).",
                ctx.url_claim(),
            )
        )
    for line in ctx.lines:
        if line.charge_cents <= 0 and ctx.claim.frequency != bm.Claim.Frequency.VOID:
            hits.append(
                Hit(
                    f"{_line_label(line)} has no charge amount.",
                    "Set the fee for this code on the payer's fee schedule, then rebuild the line.",
                    ctx.url_claim(),
                    line=line,
                )
            )
    return hits


def _valid_pos(ctx: ScrubContext) -> set[str]:
    from practice.models import Location

    return set(Location.PlaceOfService.values) | {"02", "10"} | {str(p) for p in ctx.cfg("C2", "extra_pos") or []}


@rule(
    "C2",
    "Place of service and claim frequency valid",
    ERROR,
    "billing.md §3.3 C2 (CMS POS set; X12 RFI 1538; payer companion guides)",
    config={"extra_pos": []},
)
def check_pos_frequency(ctx: ScrubContext) -> list[Hit]:
    valid = _valid_pos(ctx)
    hits = []
    if ctx.claim.place_of_service not in valid:
        hits.append(
            Hit(
                f"Place of service {ctx.claim.place_of_service or '(empty)'} is not one Tend bills "
                f"({', '.join(sorted(valid))}).",
                "Set the claim's place of service.",
                ctx.url_claim(),
            )
        )
    for line in ctx.lines:
        if line.place_of_service and line.place_of_service not in valid:
            hits.append(
                Hit(
                    f"{_line_label(line)} has place of service {line.place_of_service}, not a valid code.",
                    "Set the line's place of service.",
                    ctx.url_claim(),
                    line=line,
                )
            )
    freq = ctx.claim.frequency
    if freq not in bm.Claim.Frequency.values:
        hits.append(
            Hit(f"Claim frequency {freq or '(empty)'} is not 1, 7 or 8.", "Rebuild the claim.", ctx.url_claim())
        )
    elif freq in (bm.Claim.Frequency.REPLACEMENT, bm.Claim.Frequency.VOID) and not ctx.claim.payer_claim_number.strip():
        hits.append(
            Hit(
                f"A {bm.Claim.Frequency(freq).label.lower()} claim (frequency {freq}) needs the payer's claim number "
                "(REF*F8), and this one has none.",
                "Enter the payer's claim number from the remittance or 277CA on the claim.",
                ctx.url_claim(),
            )
        )
    accepted = [str(f) for f in (ctx.payer.accepted_frequency_codes or [])]
    if accepted and freq not in accepted:
        hits.append(
            Hit(
                f"{ctx.payer.name} does not accept claim frequency {freq} (accepts {', '.join(accepted)}).",
                "Send it the way the payer's guide says (e.g. a void and a new claim), or update the payer.",
                ctx.url_payer(),
            )
        )
    return hits


@rule("C3", "Claim control number valid", ERROR, "billing.md §3.3 C3 and §2.1 (CLM01 ≤20 chars [U]; unique)")
def check_control_number(ctx: ScrubContext) -> list[Hit]:
    number = ctx.claim.control_number or ""
    hits = []
    if not number or len(number) > 20 or re.search(r"[^0-9A-Za-z\-]", number):
        hits.append(
            Hit(
                f'Claim control number "{number}" is not 1-20 letters, digits or dashes (CLM01).',
                "Rebuild the claim so it gets a new control number.",
                ctx.url_claim(),
            )
        )
    if any(other.control_number == number for other in ctx.same_day_claims):
        hits.append(
            Hit(
                f"Claim control number {number} is used by another claim.",
                "Rebuild the claim so it gets a new control number.",
                ctx.url_claim(),
            )
        )
    return hits


@rule("C4", "Service dates present and not in the future", ERROR, "billing.md §3.3 C4 (DTP*472; logical rule [U])")
def check_service_dates(ctx: ScrubContext) -> list[Hit]:
    hits = []
    if ctx.claim.service_date > ctx.today:
        hits.append(
            Hit(
                f"The claim's service date {_day(ctx.claim.service_date)} is in the future (today is "
                f"{_day(ctx.today)}); services are billed after they are rendered.",
                "Wait until the service has happened, or correct the date.",
                ctx.url_claim(),
            )
        )
    for line in ctx.lines:
        if line.service_date is None:
            hits.append(Hit(f"{_line_label(line)} has no service date.", "Set it.", ctx.url_claim(), line=line))
        elif line.service_date > ctx.today:
            hits.append(
                Hit(
                    f"{_line_label(line)} has a future service date ({_day(line.service_date)}).",
                    "Correct the line's date, or bill it after the service.",
                    ctx.url_claim(),
                    line=line,
                )
            )
    return hits


@rule(
    "C5",
    "Units and modifiers valid",
    ERROR,
    "billing.md §3.3 C5 (NGS CEDI A7/453; TR3 SV101-03..06)",
    config={"extra_modifiers": []},
)
def check_units_modifiers(ctx: ScrubContext) -> list[Hit]:
    allowed = set(MODIFIERS) | {str(m).upper() for m in ctx.cfg("C5", "extra_modifiers") or []}
    hits = []
    for line in ctx.lines:
        mods = _modifiers(line)
        if line.units is None or line.units <= 0:
            hits.append(
                Hit(
                    f"{_line_label(line)} has {line.units} units; it needs at least 1.",
                    "Edit the line's units.",
                    ctx.url_claim(),
                    line=line,
                )
            )
        if len(mods) > 4:
            hits.append(
                Hit(
                    f"{_line_label(line)} has {len(mods)} modifiers ({', '.join(mods)}); at most 4 fit on a line.",
                    "Keep the 4 modifiers that matter.",
                    ctx.url_claim(),
                    line=line,
                )
            )
        dupes = sorted({m for m in mods if mods.count(m) > 1})
        if dupes:
            hits.append(
                Hit(
                    f"{_line_label(line)} repeats modifier {', '.join(dupes)} (277CA A7/453).",
                    "Remove the repeated modifier.",
                    ctx.url_claim(),
                    line=line,
                )
            )
        unknown = [m for m in mods if m not in allowed]
        if unknown:
            hits.append(
                Hit(
                    f"{_line_label(line)} has modifier {', '.join(unknown)}, which Tend does not know.",
                    f"Use one of {', '.join(sorted(allowed))}, or add it for this payer in the rule settings.",
                    ctx.url_claim(),
                    line=line,
                )
            )
    return hits


@rule("C6", "Service lines numbered 1..n, at most 50", ERROR, "billing.md §3.3 C6 and §2 (LX01; 2400 repeat 50)")
def check_line_numbers(ctx: ScrubContext) -> list[Hit]:
    numbers = [line.line_number for line in ctx.lines]
    hits = []
    if numbers != list(range(1, len(numbers) + 1)):
        hits.append(
            Hit(
                f"The claim's lines are numbered {', '.join(map(str, numbers))}; they must run 1 to {len(numbers)}.",
                "Save the claim's lines again so they are renumbered.",
                ctx.url_claim(),
            )
        )
    if len(numbers) > 50:
        hits.append(
            Hit(
                f"The claim has {len(numbers)} lines; an 837P claim carries at most 50.",
                "Split the services over two claims.",
                ctx.url_claim(),
            )
        )
    return hits


def _line_key(claim: bm.Claim, line: bm.ClaimLine) -> tuple:
    return (line.service_date, line.cpt, tuple(sorted(_modifiers(line))), claim.rendering_id, line.units)


@rule("C7", "Not a duplicate of another claim to the same coverage", ERROR, "billing.md §3.3 C7 (CARC 18)")
def check_duplicate(ctx: ScrubContext) -> list[Hit]:
    if ctx.claim.frequency in (bm.Claim.Frequency.REPLACEMENT, bm.Claim.Frequency.VOID):
        return []
    hits = []
    for line in ctx.lines:
        key = _line_key(ctx.claim, line)
        for other in ctx.live_same_coverage_claims():
            if any(_line_key(other, o) == key for o in other.lines_cache):
                hits.append(
                    Hit(
                        f"{_line_label(line)} on {_day(line.service_date)} is already billed on claim "
                        f"{other.control_number} ({other.get_status_display().lower()}); a payer denies it as a "
                        "duplicate (CARC 18).",
                        "Void one of the two claims, or send a corrected claim (frequency 7) instead.",
                        ctx.url("claim_detail", claim_id=other.public_id) or ctx.url_claim(),
                        line=line,
                    )
                )
                break
    return hits


@rule(
    "C8",
    "Within the payer's timely-filing limit",
    WARNING,
    "billing.md §3.3 C8 (42 CFR 424.44 for Medicare; payer table otherwise): warning at 80 %, error past it",
    config={"warn_percent": 80},
)
def check_timely_filing(ctx: ScrubContext) -> list[Hit]:
    if ctx.claim.status not in (bm.Claim.Status.DRAFT, bm.Claim.Status.READY, bm.Claim.Status.REJECTED):
        return []  # already filed
    limit = ctx.payer.timely_filing_days or 365
    if ctx.payer.filing_indicator == MEDICARE:
        limit = 365  # one calendar year from the date of service (42 CFR 424.44)
    first = min([line.service_date for line in ctx.lines] or [ctx.claim.service_date])
    elapsed = (ctx.today - first).days
    deadline = first + timedelta(days=limit)
    if elapsed > limit:
        return [
            Hit(
                f"The service on {_day(first)} is {elapsed} days old; {ctx.payer.name} accepts claims for {limit} days "
                f"(deadline {_day(deadline)}). It will be denied for timely filing (CARC 29).",
                "Send it only with proof of timely filing (e.g. an earlier rejection); otherwise write it off.",
                ctx.url_payer(),
                severity=ERROR,
            )
        ]
    warn_percent = float(ctx.cfg("C8", "warn_percent") or 80)
    if elapsed >= limit * warn_percent / 100:
        return [
            Hit(
                f"The service on {_day(first)} is {elapsed} of {limit} days into {ctx.payer.name}'s filing limit; "
                f"submit by {_day(deadline)}.",
                "Fix any errors and submit this claim first.",
                ctx.url_claim(),
            )
        ]
    return []


def _find_auth(ctx: ScrubContext, line: bm.ClaimLine) -> tuple[bm.PriorAuthorization | None, str]:
    """The authorization for a line: the one its charge is linked to, the one whose number is on
    the claim, else one of the coverage's covering this CPT and date. Returns (auth, how)."""
    by_id = {a.pk: a for a in ctx.authorizations}
    if line.charge_id and line.charge.prior_authorization_id in by_id:
        return by_id[line.charge.prior_authorization_id], "linked"
    number = (ctx.claim.prior_authorization_number or "").strip()
    if number:
        for a in ctx.authorizations:
            if a.number == number:
                return a, "claim"
    candidates = [a for a in ctx.authorizations if not a.cpt_codes or line.cpt in a.cpt_codes]
    inside = [a for a in candidates if a.starts_on <= line.service_date <= a.ends_on]
    if inside:
        return inside[0], "coverage"
    return (candidates[-1], "coverage") if candidates else (None, "")


@rule(
    "C9",
    "Prior authorization present, in date and not exhausted",
    ERROR,
    "billing.md §3.3 C9 (CARC 197/198/15; which codes need auth is payer data)",
)
def check_prior_auth(ctx: ScrubContext) -> list[Hit]:
    required = {str(c).strip().upper() for c in (ctx.payer.auth_required_cpts or [])}
    hits = []
    for line in ctx.lines:
        if line.cpt not in required:
            continue
        auth, _how = _find_auth(ctx, line)
        if auth is None:
            hits.append(
                Hit(
                    f"{ctx.payer.name} requires prior authorization for {line.cpt}, and none is on file for this "
                    "coverage (CARC 197).",
                    "Obtain the authorization from the payer and record it on the patient's coverage.",
                    ctx.url_auth_new(),
                    line=line,
                )
            )
            continue
        if not auth.starts_on <= line.service_date <= auth.ends_on:
            hits.append(
                Hit(
                    f"Authorization {auth.number} runs {_day(auth.starts_on)} to {_day(auth.ends_on)}; "
                    f"{_line_label(line)} is on {_day(line.service_date)}, outside it.",
                    "Ask the payer for an extension or a new authorization and record it.",
                    ctx.url_auth_new(),
                    line=line,
                )
            )
            continue
        visits = [d for d in ctx.auth_visit_dates.get(auth.pk, []) if d <= line.service_date]
        if line.service_date not in visits:
            visits.append(line.service_date)
        if len(visits) > auth.visits_authorized:
            hits.append(
                Hit(
                    f"Authorization {auth.number} allows {auth.visits_authorized} visits; the visit on "
                    f"{_day(line.service_date)} is visit {len(visits)} (CARC 198).",
                    "Ask the payer for more visits and record the new authorization.",
                    ctx.url_auth_new(),
                    line=line,
                )
            )
            continue
        if not (ctx.claim.prior_authorization_number or "").strip():
            hits.append(
                Hit(
                    f"Authorization {auth.number} covers {_line_label(line)} but its number is not on the claim "
                    "(REF*G1; CARC 15).",
                    f"Enter {auth.number} as the claim's prior authorization number.",
                    ctx.url_claim(),
                    line=line,
                )
            )
    return hits


# --------------------------------------------------------------------------------------------
# 3.4 Psychotherapy and behavioural-health code logic


@rule(
    "P0",
    "CPT/HCPCS code known",
    ERROR,
    "billing.md §2.2 (277CA A7/507 invalid procedure code); billing/cpt.py catalog",
    config={"extra_codes": []},
)
def check_cpt(ctx: ScrubContext) -> list[Hit]:
    extra = {str(c).upper() for c in ctx.cfg("P0", "extra_codes") or []}
    return [
        Hit(
            f"{_line_label(line)}: {line.cpt or '(empty)'} is not a code in Tend's CPT/HCPCS catalog.",
            "Pick the code from the catalog on the claim, or allow it for this payer in the rule settings.",
            ctx.url_claim(),
            line=line,
        )
        for line in ctx.lines
        if line.cpt not in CPT_CODES and line.cpt not in extra
    ]


def _band(cpt: str) -> str:
    c = CPT_CODES[cpt]
    return f"{c.min_minutes}-{c.max_minutes}" if c.max_minutes else f"{c.min_minutes} or more"


_ADDON_FOR = {"90832": "90833", "90834": "90836", "90837": "90838"}


@rule(
    "P1",
    "Psychotherapy time code fits the documented minutes",
    ERROR,
    "billing.md §3.4 P1 (Bonfire, Alma, BCBS-IL: 90832 16-37, 90834 38-52, 90837 53+; one per day is a payer rule)",
)
def check_psychotherapy_time(ctx: ScrubContext) -> list[Hit]:
    from billing.cpt import psychotherapy_code_for_minutes

    hits = []
    for line in ctx.lines:
        if line.cpt not in PSYCHOTHERAPY and line.cpt not in PSYCHOTHERAPY_WITH_EM:
            continue
        minutes = line.minutes if line.minutes is not None else (line.charge.minutes if line.charge_id else None)
        if minutes is None:
            hits.append(
                Hit(
                    f"{_line_label(line)} is a time-based code but no psychotherapy minutes are documented.",
                    "Record the session's psychotherapy minutes on the note.",
                    ctx.url_note(line),
                    line=line,
                    severity=WARNING,
                )
            )
            continue
        code = CPT_CODES[line.cpt]
        if code.min_minutes <= minutes and (code.max_minutes is None or minutes <= code.max_minutes):
            continue
        right = psychotherapy_code_for_minutes(minutes)
        if right and line.cpt in PSYCHOTHERAPY_WITH_EM:
            right = _ADDON_FOR[right]
        should = f"; {minutes} minutes is {right}" if right else "; under 16 minutes no psychotherapy code applies"
        hits.append(
            Hit(
                f"{_line_label(line)} needs {_band(line.cpt)} minutes, but the note documents {minutes}{should}.",
                f"Change the code to {right} on the claim"
                if right
                else "Remove the line, or correct the minutes on the note if they are wrong.",
                ctx.url_claim() if right else ctx.url_note(line),
                line=line,
            )
        )
    for day in sorted(ctx.dates()):
        codes = [c for c in ctx.codes_on(day) if c in PSYCHOTHERAPY]
        if len(codes) > 1:
            hits.append(
                Hit(
                    f"{len(codes)} individual psychotherapy codes ({', '.join(codes)}) are billed for this patient on "
                    f"{_day(day)}; most payers pay one per day.",
                    "Bill one code for the day's total psychotherapy time unless the payer allows more.",
                    ctx.url_claim(),
                    severity=WARNING,
                )
            )
    return hits


@rule(
    "P2",
    "Psychotherapy add-ons 90833/90836/90838 ride on an E/M",
    ERROR,
    "billing.md §3.4 P2 (BCBS-IL; Kayal Health; CMS LCD L34616)",
)
def check_em_addons(ctx: ScrubContext) -> list[Hit]:
    conflicts = PSYCHOTHERAPY | {"90839", "90840", "90846", "90847"}
    hits = []
    for line in ctx.lines:
        if line.cpt not in PSYCHOTHERAPY_WITH_EM:
            continue
        same_day = ctx.codes_on(line.service_date, same_rendering=True)
        if not any(c in EM_OFFICE for c in same_day):
            hits.append(
                Hit(
                    f"{line.cpt} is an add-on to an E/M visit, but no E/M (99202-99215) by the same clinician is billed "
                    f"on {_day(line.service_date)}.",
                    "Add the E/M line, or bill a stand-alone psychotherapy code (90832/90834/90837) instead.",
                    ctx.url_claim(),
                    line=line,
                )
            )
        clash = sorted({c for c in ctx.codes_on(line.service_date) if c in conflicts})
        if clash:
            hits.append(
                Hit(
                    f"{line.cpt} is never billed with {', '.join(clash)} on the same day.",
                    "Keep one way of billing the psychotherapy and remove the other line.",
                    ctx.url_claim(),
                    line=line,
                )
            )
    return hits


@rule(
    "P3",
    "Interactive complexity 90785 only with its primaries",
    ERROR,
    "billing.md §3.4 P3 (rtwelter CPT 2013 guide; BCBS-IL)",
)
def check_interactive_complexity(ctx: ScrubContext) -> list[Hit]:
    primaries = CPT_CODES["90785"].primaries
    never = {"90839", "90840", "90846", "90847"}
    hits = []
    for line in ctx.lines:
        if line.cpt != "90785":
            continue
        same_day = ctx.codes_on(line.service_date)
        clash = sorted({c for c in same_day if c in never})
        if clash:
            hits.append(
                Hit(
                    f"90785 is never billed with {', '.join(clash)}.",
                    "Remove the 90785 line.",
                    ctx.url_claim(),
                    line=line,
                )
            )
        elif not any(c in primaries for c in same_day):
            others = [c for c in same_day if c != "90785"]
            hits.append(
                Hit(
                    f"90785 is an add-on and needs one of {', '.join(sorted(primaries))} the same day; "
                    + (f"the day has only {', '.join(others)}." if others else "it is billed alone."),
                    "Add the primary service line, or remove 90785.",
                    ctx.url_claim(),
                    line=line,
                )
            )
    return hits


@rule(
    "P4",
    "Crisis codes 90839/90840 paired and alone",
    ERROR,
    "billing.md §3.4 P4 (BCBS-IL, Headway, Carepatron)",
)
def check_crisis(ctx: ScrubContext) -> list[Hit]:
    never = {"90791", "90792", "90832", "90833", "90834", "90836", "90837", "90838", "90785"}
    hits = []
    for day in sorted(ctx.dates()):
        lines = [line for line in ctx.lines if line.service_date == day]
        day_codes = ctx.codes_on(day)
        crisis_lines = [line for line in lines if line.cpt in ("90839", "90840")]
        if not crisis_lines:
            continue
        for line in lines:
            if line.cpt == "90840" and "90839" not in day_codes:
                hits.append(
                    Hit(
                        f"90840 (each additional 30 minutes of crisis psychotherapy) needs 90839 on {_day(day)}.",
                        "Add the 90839 line for the first 30-74 minutes.",
                        ctx.url_claim(),
                        line=line,
                    )
                )
        units_90839 = sum(1 for c in day_codes if c == "90839") + sum(
            max((line.units or 1) - 1, 0) for line in lines if line.cpt == "90839"
        )
        if units_90839 > 1:
            hits.append(
                Hit(
                    f"90839 is billed {units_90839} times on {_day(day)}; it is once per day (time past 74 minutes is "
                    "90840).",
                    "Bill 90839 once with 1 unit and the extra time as 90840.",
                    ctx.url_claim(),
                )
            )
        clash = sorted({c for c in day_codes if c in never})
        if clash:
            hits.append(
                Hit(
                    f"Crisis psychotherapy (90839/90840) is never billed with {', '.join(clash)} on the same day.",
                    "Bill the session as crisis psychotherapy or as the other service, not both.",
                    ctx.url_claim(),
                    line=crisis_lines[0],
                )
            )
    return hits


@rule(
    "P5",
    "Diagnostic evaluations 90791/90792",
    ERROR,
    "billing.md §3.4 P5 (CMS LCD L34616: no E/M the same day; 90792 prescribers only, R4)",
)
def check_evaluations(ctx: ScrubContext) -> list[Hit]:
    hits = []
    for line in ctx.lines:
        if line.cpt not in ("90791", "90792"):
            continue
        em = sorted({c for c in ctx.codes_on(line.service_date, same_rendering=True) if c in EM_OFFICE})
        if em:
            hits.append(
                Hit(
                    f"{line.cpt} is not billed with an E/M visit ({', '.join(em)}) by the same clinician on the same "
                    "day.",
                    "Bill either the evaluation or the E/M visit.",
                    ctx.url_claim(),
                    line=line,
                )
            )
        if line.cpt == "90792" and ctx.rendering is not None and not ctx.rendering.is_prescriber:
            hits.append(
                Hit(
                    f"90792 (evaluation with medical services) is for prescribers, and {ctx.rendering_name()} "
                    f"({ctx.rendering.credential or 'no credential'}) is not marked as one.",
                    "Bill 90791 instead, or mark the clinician as a prescriber on Billing setup → Rendering providers.",
                    ctx.url_claim(),
                    line=line,
                )
            )
    return hits


@rule("P6", "Family psychotherapy 90846/90847 at least 26 minutes", ERROR, "billing.md §3.4 P6 (Alma: 26 min)")
def check_family(ctx: ScrubContext) -> list[Hit]:
    hits = []
    for line in ctx.lines:
        if line.cpt not in ("90846", "90847"):
            continue
        minutes = line.minutes if line.minutes is not None else (line.charge.minutes if line.charge_id else None)
        if minutes is None:
            hits.append(
                Hit(
                    f"{_line_label(line)} needs at least 26 minutes, and no minutes are documented.",
                    "Record the session's minutes on the note.",
                    ctx.url_note(line),
                    line=line,
                    severity=WARNING,
                )
            )
        elif minutes < 26:
            hits.append(
                Hit(
                    f"{_line_label(line)} needs at least 26 minutes; the note documents {minutes}.",
                    "Remove the line, or correct the minutes on the note if they are wrong.",
                    ctx.url_note(line),
                    line=line,
                )
            )
    return hits


@rule(
    "P7",
    "96127 units match the instruments scored",
    ERROR,
    "billing.md §3.4 P7 (RVUDoc, Carepatron: one unit per instrument); MUE 3/day [U]",
    config={"max_units": 3},
    unconfirmed=True,
)
def check_brief_assessments(ctx: ScrubContext) -> list[Hit]:
    max_units = int(ctx.cfg("P7", "max_units") or 3)
    hits = []
    for day in sorted(ctx.dates()):
        lines = [line for line in ctx.lines if line.service_date == day and line.cpt == "96127"]
        if not lines:
            continue
        units = sum(line.units or 0 for line in lines)
        scored = ctx.instruments_by_day.get(day, set())
        if units > len(scored):
            names = ", ".join(sorted(scored)) if scored else "none"
            hits.append(
                Hit(
                    f"96127 is billed for {units} unit{'s' if units != 1 else ''} on {_day(day)}, but {len(scored)} "
                    f"distinct instrument{'s were' if len(scored) != 1 else ' was'} scored that day ({names}).",
                    "Bill one unit per instrument scored and documented that day.",
                    ctx.url_claim(),
                    line=lines[0],
                )
            )
        if units > max_units:
            hits.append(
                Hit(
                    f"96127 is billed for {units} units on {_day(day)}; {ctx.payer.name} allows {max_units} per day "
                    "(MUE).",
                    f"Bill at most {max_units} units, or change this payer's limit in the rule settings.",
                    ctx.url_claim(),
                    line=lines[0],
                )
            )
    return hits


TELEHEALTH_POS = {"02", "10"}
TELEHEALTH_MODS = {"95", "93", "GT"}


@rule(
    "P8",
    "Telehealth place of service and modifier fit the payer",
    ERROR,
    "billing.md §3.4 P8 (NGS 2024 telehealth; CMS Transmittal 12671; GT retired for Medicare since 2018)",
)
def check_telehealth(ctx: ScrubContext) -> list[Hit]:
    convention = ctx.payer.telehealth
    medicare = ctx.payer.filing_indicator == MEDICARE
    hits = []
    for line in ctx.lines:
        pos, mods = ctx.pos(line), set(_modifiers(line))
        tele_mods = mods & TELEHEALTH_MODS
        if pos not in TELEHEALTH_POS and not tele_mods:
            continue
        label = _line_label(line)
        if "GT" in mods and medicare:
            hits.append(
                Hit(
                    f"{label}: GT is retired for Medicare professional claims; use 95 (or 93 audio-only).",
                    "Replace GT with 95 (93 for audio-only) on the line.",
                    ctx.url_claim(),
                    line=line,
                )
            )
            continue
        if convention == bm.Payer.TelehealthConvention.CMS:
            if pos in TELEHEALTH_POS and not mods & {"95", "93"}:
                hits.append(
                    Hit(
                        f"{label} is telehealth (POS {pos}) without modifier 95 or 93, which {ctx.payer.name} expects.",
                        "Add 95 (audio and video) or 93 (audio-only) to the line.",
                        ctx.url_claim(),
                        line=line,
                    )
                )
            elif pos not in TELEHEALTH_POS and mods & {"95", "93"}:
                hits.append(
                    Hit(
                        f"{label} has telehealth modifier {', '.join(sorted(mods & {'95', '93'}))} with in-person POS "
                        f"{pos}; {ctx.payer.name} wants POS 10 (patient at home) or 02 for telehealth.",
                        "Set the line's place of service to 10 or 02, or remove the modifier if it was in person.",
                        ctx.url_claim(),
                        line=line,
                    )
                )
            elif "GT" in mods:
                hits.append(
                    Hit(
                        f"{label} carries GT; {ctx.payer.name} follows the CMS convention (95 or 93).",
                        "Replace GT with 95 (or 93 audio-only).",
                        ctx.url_claim(),
                        line=line,
                    )
                )
        elif convention == bm.Payer.TelehealthConvention.OFFICE_95:
            if pos != "11" or "95" not in mods or "GT" in mods:
                hits.append(
                    Hit(
                        f"{label} is billed as telehealth with POS {pos} and modifier "
                        f"{', '.join(sorted(tele_mods)) or 'none'}; {ctx.payer.name} wants POS 11 with modifier 95.",
                        "Set the line's place of service to 11 and its modifier to 95.",
                        ctx.url_claim(),
                        line=line,
                    )
                )
        elif convention == bm.Payer.TelehealthConvention.GT and (
            pos != "02" or "GT" not in mods or mods & {"95", "93"}
        ):
            hits.append(
                Hit(
                    f"{label} is billed as telehealth with POS {pos} and modifier "
                    f"{', '.join(sorted(tele_mods)) or 'none'}; {ctx.payer.name} wants POS 02 with modifier GT.",
                    "Set the line's place of service to 02 and its modifier to GT.",
                    ctx.url_claim(),
                    line=line,
                )
            )
    return hits


@rule(
    "S1",
    "Secondary claim only after the primary is adjudicated",
    ERROR,
    "billing.md §3.5 / issue 6 (COB: the secondary needs the primary's 835; CARC 22)",
)
def check_secondary(ctx: ScrubContext) -> list[Hit]:
    if ctx.coverage.priority == bm.Coverage.Priority.PRIMARY:
        return []
    want = bm.Coverage.Priority.PRIMARY if ctx.coverage.priority == bm.Coverage.Priority.SECONDARY else "S"
    primaries = [
        o
        for o in ctx.same_day_claims
        if o.coverage.priority == want and o.service_date == ctx.claim.service_date and o.status != bm.Claim.Status.VOID
    ]
    if any(o.status in ADJUDICATED_STATUSES for o in primaries):
        return []
    which = "primary" if want == bm.Coverage.Priority.PRIMARY else "secondary"
    if primaries:
        states = ", ".join(f"{o.control_number} is {o.get_status_display().lower()}" for o in primaries)
        message = f"This {ctx.coverage.get_priority_display().lower()} claim waits for the {which} payer: {states}."
    else:
        message = (
            f"This is a {ctx.coverage.get_priority_display().lower()} claim, and there is no {which} claim for "
            f"{_day(ctx.claim.service_date)}."
        )
    return [
        Hit(
            message,
            f"Bill the {which} payer first; send this claim once its remittance (paid or denied) is posted.",
            ctx.url("patient_coverage", patient_id=ctx.patient.public_id) or ctx.url_coverage(),
        )
    ]


# --------------------------------------------------------------------------------------------
# The rule catalogue (docs/scrubbing.md is generated from RULES; a test fails when they differ)

CATALOGUE_HEADER = """# Claim scrubbing rules

Generated from `billing.scrubbing.RULES` by `python manage.py shell --no-imports -c "from billing.scrubbing
import catalogue; print(catalogue(), end='')" > docs/scrubbing.md`; `billing/tests/
test_scrub_rules.py` fails when this file and the registry disagree.

Severity: **error** blocks submission, **warning** informs. Every rule can be switched off, given
another severity or configured for the practice or for one payer (Billing setup → scrub rule
settings, or a payer's page): a payer's setting wins over the practice-wide one. Each finding
says what is wrong with the real values, how to fix it, and links the page where it is fixed.
[U] marks a default that billing.md lists as unconfirmed: set it per payer.

| Code | Severity | Rule | Configuration (default) | Source |
|---|---|---|---|---|
"""


def catalogue() -> str:
    rows = []
    for r in RULES.values():
        config = ", ".join(f"`{k}` ({v!r})" for k, v in r.config.items()) or "—"
        title = f"{r.title} [U]" if r.unconfirmed else r.title
        rows.append(f"| {r.code} | {r.severity} | {title} | {config} | {r.source.replace('|', '/')} |")
    return CATALOGUE_HEADER + "\n".join(rows) + "\n"
