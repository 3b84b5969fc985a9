"""Write X12 835 remittance text from parts: used by the demo seed, the benchmark and the tests.

`era()` assembles the envelope (ISA/GS/ST ... SE/GE/IEA) with correct segment counts around the
claim loops that `clp()` builds. Every file these helpers make validates with pyx12
(billing/tests/test_era_parse.py checks it). Segment layouts follow the 835 TR3 (005010X221A1).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal


def clp(
    cn: str,
    status: str,
    charge,
    paid,
    pr="",
    *,
    icn="ICN1",
    cas=(),
    lines=(),
    patient=("DOE", "JANE"),
    member_id="XYZ123456789",
) -> list[str]:
    """A 2100 loop. `cas` = [(group, carc, amount)]; `lines` = [(cpt, charge, paid, dos, cas, rarcs)].

    A line's `cpt` may carry its modifiers as SVC01's composite does ("90834:95"); `member_id` is
    the patient's id at the payer (NM109)."""
    segs = [f"CLP*{cn}*{status}*{charge}*{paid}*{pr}*12*{icn}*11*1"]
    segs += [f"CAS*{g}*{r}*{a}" for g, r, a in cas]
    segs.append(f"NM1*QC*1*{patient[0]}*{patient[1]}****MI*{member_id}")
    for cpt, lc, lp, dos, lcas, rarcs in lines:
        units = "-1" if Decimal(str(lc)) < 0 else "1"
        segs += [f"SVC*HC:{cpt}*{lc}*{lp}**{units}", f"DTM*472*{dos:%Y%m%d}"]
        segs += [f"CAS*{g}*{r}*{a}" for g, r, a in lcas]
        segs += [f"LQ*HE*{x}" for x in rarcs]
    return segs


def era(
    clps: list[list[str]],
    bpr02,
    *,
    trace="EFT0001",
    plb=(),
    payer_tin="1512345678",
    payer_name="EXAMPLE HEALTH PLAN",
    payee_name="EXAMPLE BEHAVIORAL HEALTH",
    payee_npi="1234567893",
    payee_tin="371234567",
    paid_on: date = date(2025, 2, 3),
    payer_id: str = "",
) -> str:
    """A whole 835 interchange around `clps`; BPR16 (the payment date) is `paid_on`. With
    `payer_id`, the payer loop (1000A) names it in REF*2U, which posting matches to
    `Payer.payer_id`."""
    produced = paid_on - timedelta(days=2)
    body = [
        f"BPR*I*{bpr02}*C*ACH*CCP*01*999999992*DA*123456789*{payer_tin}**01*999999992*DA*987654321*{paid_on:%Y%m%d}",
        f"TRN*1*{trace}*{payer_tin}",
        f"DTM*405*{produced:%Y%m%d}",
        f"N1*PR*{payer_name}",
        "N3*PO BOX 1000",
        "N4*CHICAGO*IL*606010000",
        *([f"REF*2U*{payer_id}"] if payer_id else []),
        "PER*BL*PROVIDER SERVICES*TE*8005550100",
        f"N1*PE*{payee_name}*XX*{payee_npi}",
        f"REF*TJ*{payee_tin}",
    ]
    for i, block in enumerate(clps, start=1):
        body += [f"LX*{i}", *block]
    body += [f"PLB*{payee_npi}*{paid_on.year}1231*{reason}*{amount}" for reason, amount in plb]
    st = ["ST*835*0001", *body]
    segs = [
        f"ISA*00*          *00*          *ZZ*EXAMPLEPAYER   *ZZ*EXAMPLEBH      *{produced:%y%m%d}*0900*^*00501*000000501*0*T*:",
        f"GS*HP*EXAMPLEPAYER*EXAMPLEBH*{produced:%Y%m%d}*0900*501*X*005010X221A1",
        *st,
        f"SE*{len(st) + 1}*0001",
        "GE*1*501",
        "IEA*1*000000501",
    ]
    return "~\n".join(segs) + "~\n"
