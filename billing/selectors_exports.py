"""Reads for the 837 export requests shown on the EDI files page."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from billing.models import ClaimExportRequest, ClaimFile

RECENT_FINISHED = 5


def _with_people() -> QuerySet[ClaimExportRequest]:
    return ClaimExportRequest.objects.select_related("requested_by__user")


def export_requests_open() -> list[ClaimExportRequest]:
    return list(
        _with_people()
        .filter(status__in=(ClaimExportRequest.Status.QUEUED, ClaimExportRequest.Status.RUNNING))
        .order_by("created_at")
    )


def export_requests_recent() -> list[ClaimExportRequest]:
    """The last few finished requests with their files (content left out) and a one-line summary."""
    files = ClaimFile.objects.defer("content").order_by("interchange_control_number")
    rows = list(
        _with_people()
        .filter(status__in=(ClaimExportRequest.Status.DONE, ClaimExportRequest.Status.FAILED))
        .prefetch_related(Prefetch("files", queryset=files, to_attr="file_list"))
        .order_by("-finished_at", "-id")[:RECENT_FINISHED]
    )
    for row in rows:
        row.summary, row.problems = _summary(row)
    return rows


def export_request_get(public_id) -> ClaimExportRequest:
    return _with_people().get(public_id=public_id)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _summary(row: ClaimExportRequest) -> tuple[str, list[str]]:
    if row.status == ClaimExportRequest.Status.FAILED:
        return "", []
    released = [f for f in row.file_list if f.status != ClaimFile.Status.INVALID]
    invalid = [f for f in row.file_list if f.status == ClaimFile.Status.INVALID]
    if not row.file_list:
        return "No ready claims were left to export.", []
    summary = ""
    if released:
        summary = (
            f"{_plural(len(released), '837 file')} released with {_plural(row.claims_count, 'claim')}; "
            "the claims are now submitted."
        )
    problems = []
    for claim_file in invalid:
        first = claim_file.validation_errors[0]["message"] if claim_file.validation_errors else "see the file"
        stay = "s stay" if claim_file.claim_count != 1 else " stays"
        problems.append(
            f"{claim_file.filename} failed validation and was NOT released; its {claim_file.claim_count} "
            f"claim{stay} ready. First problem: {first}"
        )
    return summary, problems
