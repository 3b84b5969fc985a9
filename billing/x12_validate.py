"""Validate X12 with pyx12's Python API (billing.md §1.2). Never the `x12valid` exit status, which
is meaningless (§1.1). pyx12 checks structure, counts, control numbers, required elements and code
values; business rules (NPI Luhn, pointers, totals, ZIP+4 ...) are the scrubber's (§1.3)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
from dataclasses import dataclass

import pyx12.error_handler
import pyx12.params
import pyx12.x12n_document


@dataclass(frozen=True)
class X12Problem:
    line: int | None
    segment: str
    message: str

    def as_dict(self) -> dict:
        return {"line": self.line, "segment": self.segment, "message": self.message}


def _walk(node, out: list[X12Problem]) -> None:
    if isinstance(node, dict):
        segment = node.get("seg_id") or ""
        line = node.get("cur_line")
        for err in node.get("errors") or []:
            out.append(X12Problem(_int(line), segment, _message(err)))
        for element in node.get("elements") or []:
            for err in (element or {}).get("errors") or []:
                out.append(X12Problem(_int(line), segment, _message(err)))
        for key, value in node.items():
            if key in {"errors", "elements"}:
                continue
            if isinstance(value, (list, dict)):
                _walk(value, out)
    elif isinstance(node, list):
        for item in node:
            _walk(item, out)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _message(err) -> str:
    if isinstance(err, dict):
        code = err.get("err_cde") or ""
        text = err.get("err_str") or ""
        return f"{text} (code {code})" if code else str(text)
    return str(err)


class _Capture(logging.Handler):
    """pyx12 logs every error as 'ERROR Line:<n> ...'; keep them as a fallback source. The pyx12
    logger is process-wide, so a capture keeps only its own thread's records (files are validated
    concurrently by gunicorn threads and Celery)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.thread_id = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread_id:
            self.messages.append(record.getMessage())


def _drop_999_build_failure(record: logging.LogRecord) -> bool:
    """pyx12 cannot build a 999 for some valid 835s ('Cannot create AK2') and logs it as an ERROR
    with a traceback. Tend never sends that 999, so the noise would only hide real errors."""
    return not record.getMessage().startswith("Failed to create 999 response")


# Installed once: adding and removing them per call raced between concurrent validations.
logging.getLogger("pyx12").addHandler(logging.NullHandler())
logging.getLogger("pyx12").addFilter(_drop_999_build_failure)


def _readable(message: str) -> str:
    """pyx12 names the in-memory file it was given (`"<_io.StringIO object at 0x…>"`)."""
    if "does not look like an X12 data file" in message:
        return "The file does not look like an X12 file: it must start with an ISA segment."
    return message


def validate_x12(text: str) -> tuple[bool, list[dict], str]:
    """(ok, problems as dicts with line/segment/message, the 999 pyx12 generates)."""
    fd_999, fd_json = io.StringIO(), io.StringIO()
    capture = _Capture()
    logger = logging.getLogger("pyx12")
    logger.addHandler(capture)
    try:
        ok = pyx12.x12n_document.x12n_document(
            param=pyx12.params.params(),
            src_file=io.StringIO(text),
            fd_997=fd_999,
            fd_html=None,
            fd_xmldoc=None,
            fd_json=fd_json,
        )
    except Exception as exc:  # pyx12 raises on unreadable envelopes and unknown versions
        return False, [X12Problem(None, "", f"pyx12 could not read the file: {exc}").as_dict()], ""
    finally:
        logger.removeHandler(capture)
    problems: list[X12Problem] = []
    with contextlib.suppress(ValueError):
        _walk(json.loads(fd_json.getvalue() or "{}"), problems)
    if not ok and not problems:
        problems = [X12Problem(None, "", _readable(message)) for message in capture.messages] or [
            X12Problem(None, "", "pyx12 reported a failure without details.")
        ]
    return bool(ok), [p.as_dict() for p in problems], fd_999.getvalue()
