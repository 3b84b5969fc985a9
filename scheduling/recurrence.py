"""Recurring appointments: a small, validated subset of RFC 5545 RRULE, expanded in the
location's time zone so a 3:00 PM weekly session stays 3:00 PM local across DST changes.

Supported: FREQ=WEEKLY or DAILY, INTERVAL 1-4, and exactly one of COUNT (at most 52) or UNTIL
(at most a year after the first occurrence). Everything else is refused with a clear message.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from practice.errors import DomainError

MAX_OCCURRENCES = 52
MAX_SPAN = timedelta(days=366)
ALLOWED_FREQ = ("WEEKLY", "DAILY")
ALLOWED_KEYS = ("FREQ", "INTERVAL", "COUNT", "UNTIL")


def _error(message: str) -> DomainError:
    return DomainError(message, field="rrule", code="invalid")


def parse_rrule(rrule: str) -> dict[str, str]:
    """The rule's parts (upper-cased keys), without an optional leading ``RRULE:``."""
    text = (rrule or "").strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text:
        raise _error("The repeat rule is empty.")
    parts: dict[str, str] = {}
    for chunk in text.split(";"):
        if not chunk.strip():
            continue
        key, sep, value = chunk.partition("=")
        key, value = key.strip().upper(), value.strip().upper()
        if not sep or not value:
            raise _error(f"Repeat rule part '{chunk}' is not KEY=VALUE.")
        if key in parts:
            raise _error(f"Repeat rule names {key} twice.")
        parts[key] = value
    return parts


def _format(parts: dict[str, str]) -> str:
    order = [k for k in ALLOWED_KEYS if k in parts]
    return ";".join(f"{k}={parts[k]}" for k in order)


def _parse_until(value: str, tz: ZoneInfo) -> datetime:
    """UNTIL as an aware UTC datetime. A date (``20261231``) or a floating local time means the
    location's wall clock (a date: the end of that day)."""
    try:
        if len(value) == 8:
            day = datetime.strptime(value, "%Y%m%d").date()  # noqa: DTZ007 - a date only
            return datetime.combine(day, time(23, 59, 59), tzinfo=tz).astimezone(UTC)
        if value.endswith("Z"):
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=tz).astimezone(UTC)
    except ValueError:
        raise _error("UNTIL must be a date like 20261231 or a UTC time like 20261231T235959Z.") from None


def _utc_stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def validate_rrule(rrule: str, *, dtstart: datetime, tz: ZoneInfo) -> str:
    """Check the rule against what Tend supports and return it normalised (UNTIL in UTC)."""
    parts = parse_rrule(rrule)
    unknown = sorted(set(parts) - set(ALLOWED_KEYS))
    if unknown:
        raise _error(f"Repeat rules may only use FREQ, INTERVAL, COUNT and UNTIL (not {', '.join(unknown)}).")
    if parts.get("FREQ") not in ALLOWED_FREQ:
        raise _error("Appointments can repeat weekly or daily only (FREQ=WEEKLY or FREQ=DAILY).")
    interval = parts.get("INTERVAL", "1")
    if not interval.isdigit() or not 1 <= int(interval) <= 4:
        raise _error("INTERVAL must be a whole number from 1 to 4 (e.g. 2 for every other week).")
    parts["INTERVAL"] = str(int(interval))
    if ("COUNT" in parts) == ("UNTIL" in parts):
        raise _error("Give either COUNT (how many sessions) or UNTIL (an end date), not both or neither.")
    if "COUNT" in parts:
        count = parts["COUNT"]
        if not count.isdigit() or not 1 <= int(count) <= MAX_OCCURRENCES:
            raise _error(f"COUNT must be between 1 and {MAX_OCCURRENCES}.")
        parts["COUNT"] = str(int(count))
    else:
        until = _parse_until(parts["UNTIL"], tz)
        if until < dtstart:
            raise _error("UNTIL is before the first appointment.")
        if until - dtstart > MAX_SPAN:
            raise _error("A repeating appointment can run for at most one year (UNTIL too late).")
        parts["UNTIL"] = _utc_stamp(until)
    return _format(parts)


def expand(rrule: str, *, dtstart: datetime, tz: ZoneInfo, limit: int = MAX_OCCURRENCES) -> list[datetime]:
    """Occurrence starts (aware, UTC) of a validated rule. The rule repeats the wall-clock time of
    ``dtstart`` in ``tz``; a wall time that does not exist on a spring-forward day moves forward
    by the gap (zoneinfo's fold=0), as calendar programs do."""
    local_start = dtstart.astimezone(tz)
    rule = rrulestr(rrule, dtstart=local_start)
    starts: list[datetime] = []
    for occurrence in rule:
        # dateutil keeps the wall clock and the tzinfo: re-derive the UTC offset for each date.
        wall = occurrence.replace(tzinfo=None)
        starts.append(wall.replace(tzinfo=tz).astimezone(UTC))
        if len(starts) >= limit:
            break
    return starts


def with_until(rrule: str, until: datetime) -> str:
    """The same rule ending at ``until`` (COUNT dropped): how a series is cut short."""
    parts = parse_rrule(rrule)
    parts.pop("COUNT", None)
    parts["UNTIL"] = _utc_stamp(until)
    return _format(parts)


def with_count(rrule: str, count: int) -> str:
    parts = parse_rrule(rrule)
    parts.pop("UNTIL", None)
    parts["COUNT"] = str(max(1, count))
    return _format(parts)


def describe(rrule: str) -> str:
    """A short human phrase: 'Weekly, 10 times', 'Every 2 weeks until 2026-12-31'."""
    parts = parse_rrule(rrule)
    interval = int(parts.get("INTERVAL", "1"))
    unit = "week" if parts.get("FREQ") == "WEEKLY" else "day"
    head = ("Weekly" if unit == "week" else "Daily") if interval == 1 else f"Every {interval} {unit}s"
    if "COUNT" in parts:
        return f"{head}, {parts['COUNT']} times"
    if "UNTIL" in parts:
        until: date = datetime.strptime(parts["UNTIL"][:8], "%Y%m%d").date()  # noqa: DTZ007
        return f"{head} until {until.isoformat()}"
    return head
