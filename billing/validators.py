"""Identifier checks used by forms, services and the scrubber."""

from __future__ import annotations

import re

NPI_RE = re.compile(r"^[12][0-9]{9}$")
TAXONOMY_RE = re.compile(r"^[0-9]{3}[0-9A-Z]{6}X$")
ICD10_RE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")  # billing.md D1, on the dotted form


def npi_check_digit(first_nine: str) -> int:
    """The NPI check digit: Luhn mod 10 over the prefix 80840 followed by the first nine digits
    (CMS "Requirements for the NPI check digit"; billing.md R1). Equivalently: Luhn over the nine
    digits plus the constant 24."""
    total = 24
    for position, char in enumerate(reversed(first_nine)):
        digit = int(char)
        if position % 2 == 0:  # every second digit from the right, starting with the rightmost
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def npi_is_valid(npi: str) -> bool:
    npi = (npi or "").strip()
    return bool(NPI_RE.match(npi)) and npi_check_digit(npi[:9]) == int(npi[9])


def make_npi(first_nine: str) -> str:
    """A valid NPI from nine digits (test and demo data)."""
    return first_nine + str(npi_check_digit(first_nine))


def taxonomy_is_valid(code: str) -> bool:
    return bool(TAXONOMY_RE.match((code or "").strip()))


def icd10_is_well_formed(code: str) -> bool:
    return bool(ICD10_RE.match((code or "").strip().upper()))


def icd10_for_wire(code: str) -> str:
    """ICD-10-CM on an X12 claim: no decimal point (F33.1 -> F331; billing.md D1)."""
    return (code or "").replace(".", "").strip().upper()
