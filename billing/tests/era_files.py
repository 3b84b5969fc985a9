"""Hand-written 835s for the ERA tests: segment text assembled with correct SE/GE/IEA counts.

Every file these helpers make validates with pyx12 (test_era_parse checks it)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

DATA = Path(__file__).parent / "data" / "era"


def clp(
    cn: str, status: str, charge, paid, pr="", *, icn="ICN1", cas=(), lines=(), patient=("DOE", "JANE")
) -> list[str]:
    """A 2100 loop. `cas` = [(group, carc, amount)]; `lines` = [(cpt, charge, paid, dos, cas, rarcs)]."""
    segs = [f"CLP*{cn}*{status}*{charge}*{paid}*{pr}*12*{icn}*11*1"]
    segs += [f"CAS*{g}*{r}*{a}" for g, r, a in cas]
    segs.append(f"NM1*QC*1*{patient[0]}*{patient[1]}****MI*XYZ123456789")
    for cpt, lc, lp, dos, lcas, rarcs in lines:
        units = "-1" if Decimal(str(lc)) < 0 else "1"
        segs += [f"SVC*HC:{cpt}*{lc}*{lp}**{units}", f"DTM*472*{dos:%Y%m%d}"]
        segs += [f"CAS*{g}*{r}*{a}" for g, r, a in lcas]
        segs += [f"LQ*HE*{x}" for x in rarcs]
    return segs


def era(clps: list[list[str]], bpr02, *, trace="EFT0001", plb=(), payer_tin="1512345678") -> str:
    body = [
        f"BPR*I*{bpr02}*C*ACH*CCP*01*999999992*DA*123456789*{payer_tin}**01*999999992*DA*987654321*20250203",
        f"TRN*1*{trace}*{payer_tin}",
        "DTM*405*20250201",
        "N1*PR*EXAMPLE HEALTH PLAN",
        "N3*PO BOX 1000",
        "N4*CHICAGO*IL*606010000",
        "PER*BL*PROVIDER SERVICES*TE*8005550100",
        "N1*PE*EXAMPLE BEHAVIORAL HEALTH*XX*1234567893",
        "REF*TJ*371234567",
    ]
    for i, block in enumerate(clps, start=1):
        body += [f"LX*{i}", *block]
    body += [f"PLB*1234567893*20251231*{reason}*{amount}" for reason, amount in plb]
    st = ["ST*835*0001", *body]
    segs = [
        "ISA*00*          *00*          *ZZ*EXAMPLEPAYER   *ZZ*EXAMPLEBH      *250201*0900*^*00501*000000501*0*T*:",
        "GS*HP*EXAMPLEPAYER*EXAMPLEBH*20250201*0900*501*X*005010X221A1",
        *st,
        f"SE*{len(st) + 1}*0001",
        "GE*1*501",
        "IEA*1*000000501",
    ]
    return "~\n".join(segs) + "~\n"
