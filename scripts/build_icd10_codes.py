"""Build clinical/data/icd10cm_behavioral.csv from the official ICD-10-CM code set.

Source: the CMS/NCHS ICD-10-CM tabular list (public domain), as shipped in the PyPI package
`simple-icd-10-cm` (MIT licence), version 1.5.0 = the April 1, 2026 update of FY2026
(file `icd10c-tabular-April-1-2026.xml` inside the package).

Run:  .venv/bin/pip install simple-icd-10-cm==1.5.0 && .venv/bin/python scripts/build_icd10_codes.py
"""

import csv
import re
from pathlib import Path

import simple_icd_10_cm as icd

OUT = Path(__file__).resolve().parent.parent / "clinical" / "data" / "icd10cm_behavioral.csv"

# Chapter 5 (F01-F99) in full, plus the Z and R codes a behavioural-health practice uses.
PREFIXES = (
    "F",
    "R45",  # symptoms involving emotional state, incl. R45.851 suicidal ideations
    "R41.8",  # other cognitive symptoms
    "Z03.89",
    "Z04.6",  # general psychiatric examination, requested by authority
    "Z09",
    "Z13.3",  # screening for mental health and behavioral disorders
    "Z13.4",  # developmental screening
    "Z55",
    "Z56",
    "Z57",
    "Z58",
    "Z59",
    "Z60",
    "Z62",
    "Z63",
    "Z64",
    "Z65",  # psychosocial circumstances
    "Z69",  # encounter for mental health services for victim/perpetrator of abuse
    "Z70",
    "Z71",  # counseling
    "Z72",  # problems related to lifestyle
    "Z73",  # problems related to life management difficulty
    "Z75",
    "Z76.5",  # malingerer
    "Z81",  # family history of mental and behavioral disorders
    "Z86.5",  # personal history of mental and behavioral disorders
    "Z87.890",
    "Z91.1",  # noncompliance with treatment
    "Z91.4",  # personal history of psychological trauma
    "Z91.5",  # personal history of self-harm
    "Z91.8",
)

RANGE = re.compile(r"^[A-Z]\d\d-[A-Z]\d\d$")


def main() -> None:
    rows = []
    for code in icd.get_all_codes(with_dots=True):
        if RANGE.match(code) or not code.startswith(PREFIXES):
            continue
        rows.append((code, icd.get_description(code), "1" if icd.is_leaf(code) else "0"))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["code", "description", "is_billable"])
        writer.writerows(sorted(rows))
    print(f"wrote {len(rows)} codes to {OUT}")  # noqa: T201


if __name__ == "__main__":
    main()
