"""X12 plumbing shared by the 837P writer and the acknowledgement readers: delimiters, text
sanitising, amounts, dates, and a tolerant segment reader.

Delimiters are the ones billing.md §2 fixes for what we send: element `*`, component `:` (ISA16),
repetition `^` (ISA11), segment `~`. Inbound files declare their own delimiters in the ISA, so the
reader takes them from there.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

ELEMENT = "*"
COMPONENT = ":"
REPETITION = "^"
SEGMENT = "~"
# Characters that may never appear inside data (they are our delimiters; billing.md §2).
FORBIDDEN = str.maketrans("", "", "*:^~")
# X12 basic + extended character set, upper-cased: letters, digits, space and common punctuation.
_NOT_ALLOWED = re.compile(r"[^A-Z0-9 !\"&'()+,\-./;?=%@\[\]_{}\\|<>#$]")


class X12Error(ValueError):
    """An inbound X12 file we cannot read."""


def clean(value: object, max_length: int | None = None) -> str:
    """Text for an X12 element: ASCII, upper-case, no delimiters, single spaces, truncated to the
    element's maximum length (TR3 element attributes)."""
    text = unicodedata.normalize("NFKD", str(value or "")).encode("ascii", "ignore").decode("ascii")
    text = text.upper().translate(FORBIDDEN)
    text = _NOT_ALLOWED.sub("", text)
    text = " ".join(text.split())
    if max_length is not None:
        text = text[:max_length].rstrip()
    return text


def digits(value: object) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def amount(cents: int) -> str:
    """An X12 decimal (R): no trailing zeros after the point, no point for whole amounts
    (15000 -> "150", 15050 -> "150.5", 15005 -> "150.05", -125 -> "-1.25")."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    if part == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{part:02d}".rstrip("0")


def parse_amount_cents(text: str) -> int:
    text = (text or "").strip()
    if not text:
        return 0
    negative = text.startswith("-")
    text = text.lstrip("+-")
    whole, _, frac = text.partition(".")
    cents = int(whole or "0") * 100 + int((frac + "00")[:2] or "0")
    return -cents if negative else cents


def d8(value: date) -> str:
    """CCYYMMDD (DTP D8, DMG02, GS04, BHT04)."""
    return value.strftime("%Y%m%d")


def yymmdd(value: date) -> str:
    return value.strftime("%y%m%d")


def hhmm(value: datetime) -> str:
    return value.strftime("%H%M")


def parse_d8(text: str) -> date | None:
    text = (text or "").strip()
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


class SegmentWriter:
    """Collects segments of one interchange; trailing empty elements are dropped, as X12 requires."""

    def __init__(self) -> None:
        self.segments: list[str] = []
        self._st_start: int | None = None

    def add(self, seg_id: str, *elements: object) -> None:
        values = ["" if v is None else str(v) for v in elements]
        while values and values[-1] == "":
            values.pop()
        self.segments.append(ELEMENT.join([seg_id, *values]))

    def composite(self, *parts: object) -> str:
        values = ["" if p is None else str(p) for p in parts]
        while values and values[-1] == "":
            values.pop()
        return COMPONENT.join(values)

    def start_transaction(self) -> None:
        self._st_start = len(self.segments)

    def transaction_segment_count(self) -> int:
        """Segments from ST to SE inclusive (SE01; billing.md §2.1) — call just before adding SE."""
        if self._st_start is None:
            raise ValueError("start_transaction() was not called")
        return len(self.segments) - self._st_start + 1

    def text(self) -> str:
        return SEGMENT.join(self.segments) + SEGMENT + "\n"


@dataclass
class Segment:
    id: str
    elements: list[str]
    line: int  # 1-based position in the file
    raw: str = ""
    components: str = ":"

    def get(self, position: int, default: str = "") -> str:
        """Element by its X12 position (ST02 -> get(2))."""
        if 1 <= position <= len(self.elements):
            return self.elements[position - 1]
        return default

    def comp(self, position: int, index: int) -> str:
        parts = self.get(position).split(self.components)
        return parts[index - 1] if 1 <= index <= len(parts) else ""


@dataclass
class Interchange:
    segments: list[Segment] = field(default_factory=list)
    element: str = "*"
    component: str = ":"
    segment: str = "~"


def parse(text: str) -> Interchange:
    """Split an X12 interchange into segments using the delimiters its ISA declares.
    Raises X12Error naming what is wrong when the envelope cannot be read."""
    text = (text or "").lstrip("\ufeff").lstrip()
    if not text.startswith("ISA") or len(text) < 106:
        raise X12Error("The file does not start with an ISA segment.")
    element = text[3]
    component = text[104]
    terminator = text[105]
    if element.isalnum() or terminator.isalnum():
        raise X12Error("The ISA segment has no readable delimiters.")
    result = Interchange(element=element, component=component, segment=terminator)
    for number, raw in enumerate(text.split(terminator), start=1):
        raw = raw.strip("\r\n ")
        if not raw:
            continue
        parts = raw.split(element)
        seg_id = parts[0].strip()
        if not re.fullmatch(r"[A-Z0-9]{2,3}", seg_id):
            raise X12Error(f"Segment {number} is not a segment: {raw[:40]!r}.")
        result.segments.append(Segment(seg_id, parts[1:], len(result.segments) + 1, raw, component))
    ids = [s.id for s in result.segments]
    if "IEA" not in ids or "ST" not in ids:
        raise X12Error("The interchange is incomplete (no ST or IEA segment).")
    return result
