"""Scrubbing services: run the rules (billing.scrubbing) and store what they found.

A scrub replaces the claim's ScrubFinding rows, sets its error/warning counts and `scrubbed_at`,
and records a ClaimEvent ("scrubbed: 2 errors, 1 warning") — in one transaction, with the claim
rows locked so two scrubs of the same claim never interleave. Batches write in bulk: scrubbing
N claims costs the same number of queries for N = 5 and N = 500.

Findings are derived data, replaced whole on every scrub; the ClaimEvent is the record that a
scrub happened, so the finding rows are replaced without per-row change-log entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from auditlog.context import disable_auditlog
from django.db import transaction
from django.utils import timezone

from billing.models import Claim, ClaimEvent, ScrubFinding
from billing.scrubbing import ERROR, WARNING, Finding, build_contexts, scrub
from practice.models import Membership

BATCH_CHUNK = 500  # claims per context build / bulk write


@dataclass
class ScrubResult:
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def is_clean(self) -> bool:
        return not self.errors


def _summary(errors: int, warnings: int) -> str:
    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return f"scrubbed: {plural(errors, 'error')}, {plural(warnings, 'warning')}"


def _scrub_locked(*, claim_ids: list[int], by: Membership | None, today: date | None) -> dict[int, ScrubResult]:
    """Lock the claims, run the rules, replace findings, update counts, record events (bulk)."""
    locked = list(Claim.objects.select_for_update(of=("self",)).filter(pk__in=claim_ids).order_by("pk"))
    if not locked:
        return {}
    contexts = build_contexts([c.pk for c in locked], today=today)
    now = timezone.now()
    results: dict[int, ScrubResult] = {}
    rows: list[ScrubFinding] = []
    events: list[ClaimEvent] = []
    claims: list[Claim] = []
    for ctx in contexts:
        claim = ctx.claim
        findings = scrub(ctx)
        result = ScrubResult(
            errors=[f for f in findings if f.severity == ERROR],
            warnings=[f for f in findings if f.severity == WARNING],
        )
        results[claim.pk] = result
        rows.extend(
            ScrubFinding(
                practice_id=claim.practice_id,
                claim_id=claim.pk,
                line_id=f.line.pk if f.line is not None else None,
                rule_code=f.rule_code,
                severity=f.severity,
                message=f.message,
                fix=f.fix[:300],
                fix_url=f.fix_url[:300],
            )
            for f in findings
        )
        claim.error_count = min(len(result.errors), 32767)
        claim.warning_count = min(len(result.warnings), 32767)
        claim.scrubbed_at = now
        claim.updated_at = now
        claims.append(claim)
        events.append(
            ClaimEvent(
                practice_id=claim.practice_id,
                claim_id=claim.pk,
                from_status=claim.status,
                to_status=claim.status,
                by=by,
                source="staff" if by is not None else "system",
                note=_summary(len(result.errors), len(result.warnings)),
            )
        )
    with disable_auditlog():
        ScrubFinding.objects.filter(claim_id__in=[c.pk for c in claims]).delete()
        ScrubFinding.objects.bulk_create(rows, batch_size=1000)
    Claim.objects.bulk_update(claims, ["error_count", "warning_count", "scrubbed_at", "updated_at"], batch_size=1000)
    ClaimEvent.objects.bulk_create(events, batch_size=1000)
    return results


@transaction.atomic
def claim_scrub(*, claim: Claim, by: Membership | None = None, today: date | None = None) -> ScrubResult:
    """Scrub one claim: store its findings and counts and record the scrub. Returns the findings
    split into errors (block submission) and warnings."""
    if by is not None and by.practice_id != claim.practice_id:
        from practice.errors import DomainError

        raise DomainError("That clinician is not a member of this claim's practice.")
    results = _scrub_locked(claim_ids=[claim.pk], by=by, today=today)
    claim.refresh_from_db(fields=["error_count", "warning_count", "scrubbed_at", "updated_at"])
    return results.get(claim.pk, ScrubResult())


def claims_scrub_batch(
    *, practice_id: int, claim_ids: list[int], by: Membership | None = None, today: date | None = None
) -> dict[int, ScrubResult]:
    """Scrub many claims of one practice (inside its scope): contexts are prefetched per chunk and
    each chunk is written in its own transaction. Ids of other practices are ignored by the scope;
    running it twice gives the same findings and counts."""
    results: dict[int, ScrubResult] = {}
    ids = sorted({int(i) for i in claim_ids})
    for start in range(0, len(ids), BATCH_CHUNK):
        chunk = ids[start : start + BATCH_CHUNK]
        with transaction.atomic():
            chunk_ids = list(Claim.objects.filter(pk__in=chunk, practice_id=practice_id).values_list("pk", flat=True))
            results.update(_scrub_locked(claim_ids=chunk_ids, by=by, today=today))
    return results
