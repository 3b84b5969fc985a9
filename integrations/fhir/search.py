"""FHIR search parameter parsing (pure functions): date with prefixes, references, tokens, _count.

Malformed values raise ``SearchError`` (a 400 OperationOutcome); well-formed values that match
nothing simply filter everything out, as FHIR search does.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from django.db.models import Q

DEFAULT_COUNT = 50
MAX_COUNT = 200
DATE_PREFIXES = ("eq", "gt", "lt", "ge", "le")

_DATE_RE = re.compile(
    r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


class SearchError(Exception):
    """A search parameter FHIR would reject: 400 with an OperationOutcome."""

    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class DateRange:
    """[start, end) of a date search value at its own precision (a day, a month, an instant)."""

    start: datetime
    end: datetime


def parse_date_value(raw: str, *, tz: tzinfo) -> DateRange:
    """A FHIR date/dateTime at any precision; values without an offset are in the practice's
    time zone."""
    match = _DATE_RE.match(raw)
    if not match:
        raise SearchError(f"Not a FHIR date: {raw!r}.")
    try:
        year = int(match["year"])
        if match["time"]:
            stamp = datetime.fromisoformat(f"{raw[:10]}T{match['time']}")
            if match["tz"]:
                offset = "+00:00" if match["tz"] == "Z" else match["tz"]
                stamp = datetime.fromisoformat(f"{stamp.isoformat()}{offset}")
            else:
                stamp = stamp.replace(tzinfo=tz)
            precision = timedelta(seconds=1) if match["time"].count(":") == 2 else timedelta(minutes=1)
            return DateRange(stamp, stamp + precision)
        if match["day"]:
            day = date(year, int(match["month"]), int(match["day"]))
            start = datetime.combine(day, time.min, tzinfo=tz)
            return DateRange(start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz))
        if match["month"]:
            month = int(match["month"])
            first = date(year, month, 1)
            following = date(year + month // 12, month % 12 + 1, 1)
            return DateRange(
                datetime.combine(first, time.min, tzinfo=tz), datetime.combine(following, time.min, tzinfo=tz)
            )
        return DateRange(
            datetime.combine(date(year, 1, 1), time.min, tzinfo=tz),
            datetime.combine(date(year + 1, 1, 1), time.min, tzinfo=tz),
        )
    except ValueError as exc:
        raise SearchError(f"Not a FHIR date: {raw!r}.") from exc


def date_q(field: str, raw: str, *, tz: tzinfo) -> Q:
    """A ``date`` search value (``ge2025-01-01``, ``lt2025-03``, ``2025-02-03``) as a filter on a
    datetime field, comparing against the value's whole precision range."""
    prefix = raw[:2] if raw[:2].isalpha() else "eq"
    if raw[:2].isalpha() and prefix not in DATE_PREFIXES:
        raise SearchError(f"Unsupported date prefix {prefix!r}: use one of {', '.join(DATE_PREFIXES)}.")
    value = parse_date_value(raw[2:] if raw[:2].isalpha() else raw, tz=tz)
    if prefix == "eq":
        return Q(**{f"{field}__gte": value.start, f"{field}__lt": value.end})
    if prefix == "gt":
        return Q(**{f"{field}__gte": value.end})
    if prefix == "ge":
        return Q(**{f"{field}__gte": value.start})
    if prefix == "lt":
        return Q(**{f"{field}__lt": value.start})
    return Q(**{f"{field}__lt": value.end})  # le


def parse_reference(raw: str, *, resource_type: str) -> uuid.UUID | None:
    """``Patient/<id>``, a bare ``<id>`` or an absolute URL ending in ``Patient/<id>``. A
    reference to another type is an error; an id that is not one of ours matches nothing (None)."""
    value = raw.strip()
    if "/" in value:
        parts = value.rstrip("/").split("/")
        if len(parts) < 2 or parts[-2] != resource_type:
            raise SearchError(f"Expected a reference to {resource_type}, got {raw!r}.")
        value = parts[-1]
    return parse_uuid(value)


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def parse_token(raw: str) -> tuple[str | None, str]:
    """``system|code`` -> (system, code); ``|code`` -> ("", code); ``code`` -> (None, code)."""
    if "|" in raw:
        system, _, code = raw.partition("|")
        return system, code
    return None, raw


def parse_count(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_COUNT
    try:
        count = int(raw)
    except ValueError as exc:
        raise SearchError(f"_count must be a whole number, got {raw!r}.") from exc
    if count < 0:
        raise SearchError("_count must not be negative.")
    return min(count, MAX_COUNT)


def parse_page(raw: str | None) -> int:
    if raw is None or raw == "":
        return 1
    try:
        page = int(raw)
    except ValueError as exc:
        raise SearchError(f"_page must be a whole number, got {raw!r}.") from exc
    if page < 1:
        raise SearchError("_page starts at 1.")
    return page


def split_or(values: list[str]) -> list[str]:
    """FHIR ORs comma-separated values of one parameter."""
    return [part for value in values for part in value.split(",") if part]
