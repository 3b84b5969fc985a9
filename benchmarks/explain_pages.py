"""Every list, search and dashboard page of the staff UI, the portal and the API, requested through
Django's test Client against a seeded PostgreSQL database, with each page's SQL captured and the
slowest queries explained. This is how the query plans on the scale data set are re-checked.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tend_scale \\
        .venv/bin/python benchmarks/explain_pages.py [--practice scale] [--only REGEX] [--runs 2]
        [--explain 5] [--slow-ms 50] [--plans plans.txt] [--json pages.json]

Each page is requested `--runs` times as the role that uses it (the first run warms caches); the
last run's wall time, query count, summed SQL time and slowest query are printed, then the
`--explain` slowest distinct queries of the whole run are re-run under
`EXPLAIN (ANALYZE, BUFFERS)`. Every request runs in a transaction that is rolled back, so the access
log, session and audit rows a page writes do not accumulate in the database (and nothing is sent).

`--repeat 5` instead times the named pages (default: the four dashboards) warm, five times each,
and prints median / best wall time and the query count.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

DASHBOARDS = ("admin home", "outcome dashboard", "a/r dashboard", "portal home")


@dataclass
class Page:
    label: str
    actor: str  # key into the actors dict
    url: str


@dataclass
class Result:
    page: Page
    status: int
    wall_ms: float
    sql_ms: float
    queries: list[tuple[float, str]] = field(default_factory=list)

    @property
    def slowest(self) -> tuple[float, str]:
        return max(self.queries, default=(0.0, ""))


def _check_env() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL to a seeded PostgreSQL database (e.g. tend_scale)")


class _Rollback(Exception):
    pass


def _actors(practice) -> dict:
    """One signed-in-able member per role (the busiest clinician), and a portal user."""
    from django.db.models import Count

    from portal.models import PortalAccess
    from practice.models import Membership
    from practice.permissions import Role

    members = Membership.objects.filter(is_active=True, user__is_active=True).select_related("user")

    def first(*roles):
        return members.filter(role__in=roles).order_by("id").first()

    clinician = (
        members.filter(role__in=(Role.CLINICIAN, Role.SUPERVISOR))
        .annotate(n=Count("appointments"))
        .order_by("-n", "id")
        .first()
    )
    supervisor = (
        members.filter(role=Role.SUPERVISOR).annotate(n=Count("supervisees")).order_by("-n", "id").first()
        if hasattr(Membership, "supervisees")
        else first(Role.SUPERVISOR)
    )
    access = PortalAccess.objects.filter(is_active=True).select_related("user").order_by("id").first()
    return {
        "admin": first(Role.ADMIN, Role.OWNER),
        "owner": first(Role.OWNER, Role.ADMIN),
        "clinician": clinician,
        "supervisor": supervisor or clinician,
        "desk": first(Role.FRONT_DESK) or first(Role.ADMIN, Role.OWNER),
        "biller": first(Role.BILLER) or first(Role.ADMIN, Role.OWNER),
        "portal": access,
    }


def _samples(actors: dict) -> dict:
    """Ids for detail pages: the clinician's busiest patient, a claim, a denial, a remittance..."""
    from django.db.models import Count

    from billing.models import Claim, DenialCase, Payer, Remittance
    from clinical.models import Patient, ProgressNote
    from practice.models import Location
    from scheduling.models import Appointment

    clinician = actors["clinician"]
    patient = (
        Patient.objects.filter(primary_clinician=clinician)
        .annotate(n=Count("attendances"))
        .order_by("-n", "id")
        .first()
    ) or Patient.objects.order_by("id").first()
    note = ProgressNote.objects.filter(patient=patient).order_by("-session_on", "-id").first()
    appointment = Appointment.objects.filter(clinician=clinician).order_by("-starts_at").first()
    claim = Claim.objects.filter(patient=patient).order_by("-id").first() or Claim.objects.order_by("-id").first()
    denial = DenialCase.objects.order_by("-id").first()
    remittance = Remittance.objects.annotate(n=Count("claims")).order_by("-n", "-id").first()
    payer = Payer.objects.annotate(n=Count("claims")).order_by("-n", "id").first()
    location = Location.objects.filter(is_active=True).order_by("id").first()
    clinicians = list(
        actors["clinician"]
        .__class__.objects.filter(role__in=("clinician", "supervisor"), is_active=True)
        .order_by("id")
        .values_list("pk", flat=True)[:10]
    )
    return {
        "patient": patient,
        "note": note,
        "appointment": appointment,
        "claim": claim,
        "denial": denial,
        "remittance": remittance,
        "payer": payer,
        "location": location,
        "clinicians": clinicians,
    }


def _pages(practice, actors: dict, s: dict) -> list[Page]:
    from django.urls import reverse
    from django.utils import timezone

    slug = practice.slug

    def p(name, **kw):
        return reverse(name, kwargs={"practice_slug": slug, **kw})

    today = timezone.localdate()
    patient = s["patient"]
    clinician = actors["clinician"]
    week_ten = "&".join(f"clinician={pk}" for pk in s["clinicians"])
    name_token = (patient.legal_last_name or "a")[:3]
    pages = [
        # Practice administration
        Page("admin home", "admin", p("practice_dashboard")),
        Page("admin home (clinician)", "clinician", p("practice_dashboard")),
        Page("admin home (front desk)", "desk", p("practice_dashboard")),
        Page("admin home (biller)", "biller", p("practice_dashboard")),
        Page("staff list", "admin", p("staff_list")),
        Page("audit log: access", "admin", p("audit_log")),
        Page("audit log: changes", "admin", p("audit_log") + "?tab=changes"),
        Page("audit log: by patient", "admin", p("audit_log") + f"?patient_id={patient.public_id}"),
        Page("audit log: by member", "admin", p("audit_log") + f"?member={clinician.pk}"),
        Page("audit log: date range", "admin", p("audit_log") + f"?start={today.replace(day=1)}&end={today}"),
        Page("break-glass log", "admin", p("break_glass_log")),
        # Patients and chart
        Page("patients list", "admin", p("patient_list")),
        Page("patients list page 40", "admin", p("patient_list") + "?page=40"),
        Page("patients list (clinician)", "clinician", p("patient_list")),
        Page("patient search: name", "admin", p("patient_list") + f"?q={name_token}"),
        Page(
            "patient search: two names", "admin", p("patient_list") + f"?q={name_token}+{patient.legal_first_name[:2]}"
        ),
        Page("patient search: MRN", "admin", p("patient_list") + f"?q={patient.mrn}"),
        Page("patient search: DOB", "admin", p("patient_list") + f"?q={patient.date_of_birth:%m/%d/%Y}"),
        Page(
            "patient search: phone last 4", "admin", p("patient_list") + f"?q={(patient.phone_digits or '0000')[-4:]}"
        ),
        Page("patient search: phone 7", "admin", p("patient_list") + f"?q={(patient.phone_digits or '0000000')[-7:]}"),
        Page("patient search (clinician)", "clinician", p("patient_list") + f"?q={name_token}"),
        Page("chart", "clinician", p("patient_chart", patient_id=patient.public_id)),
        Page("chart: assessments", "clinician", p("patient_assessments", patient_id=patient.public_id)),
        Page("chart: psychotherapy notes", "clinician", p("psychotherapy_note_list", patient_id=patient.public_id)),
        Page("chart: coverage", "biller", p("patient_coverage", patient_id=patient.public_id)),
        Page("chart: balance + statements", "biller", p("patient_balance", patient_id=patient.public_id)),
        Page("chart: portal", "admin", p("patient_portal", patient_id=patient.public_id)),
        Page("diagnosis code search", "clinician", p("diagnosis_code_search") + "?q=major+depress"),
        # Notes
        Page("my work (unsigned notes)", "clinician", p("my_work")),
        Page("co-sign queue", "supervisor", p("cosign_queue")),
        # Scheduling
        Page("calendar day (clinician)", "clinician", p("calendar")),
        Page("calendar week (clinician)", "clinician", p("calendar") + f"?view=week&date={today}"),
        Page("calendar day (front desk)", "desk", p("calendar") + f"?view=day&date={today}"),
        Page("calendar week, 10 clinicians", "desk", p("calendar") + f"?view=week&date={today}&{week_ten}"),
        Page(
            "calendar week, one location",
            "desk",
            p("calendar") + f"?view=week&date={today}&location={s['location'].pk}",
        ),
        Page("appointment", "desk", p("appointment_detail", appointment_id=s["appointment"].public_id)),
        Page("booking: patient search", "desk", p("appointment_patient_search") + f"?q={name_token}"),
        Page("booking: open slots", "desk", p("appointment_open_slots") + f"?clinician={clinician.pk}&day={today}"),
        Page("waitlist", "desk", p("waitlist")),
        Page("outbox", "admin", p("outbox")),
        # Assessments
        Page("risk alerts", "clinician", p("risk_alert_list")),
        Page("risk alerts (admin)", "admin", p("risk_alert_list")),
        Page("outcome dashboard", "admin", p("outcome_dashboard")),
        Page("outcome dashboard: one clinician", "admin", p("outcome_dashboard") + f"?clinician={clinician.pk}"),
        Page("outcome dashboard: GAD-7", "admin", p("outcome_dashboard") + "?instrument=GAD-7"),
        Page("quality reports", "admin", p("quality_reports")),
        # Billing
        Page("claim queue", "biller", p("claim_queue")),
        Page("claim queue page 200", "biller", p("claim_queue") + "?page=200"),
        *[
            Page(f"claim queue: {status}", "biller", p("claim_queue") + f"?status={status}")
            for status in ("draft", "ready", "submitted", "denied", "paid")
        ],
        Page("claim queue: payer", "biller", p("claim_queue") + f"?payer={s['payer'].public_id}"),
        Page("claim queue: clinician", "biller", p("claim_queue") + f"?clinician={clinician.public_id}"),
        Page("claim queue: 91-120 days", "biller", p("claim_queue") + "?age=91-120"),
        Page("claim queue: with errors", "biller", p("claim_queue") + "?has_errors=on"),
        Page("claim", "biller", p("claim_detail", claim_id=s["claim"].public_id)),
        Page("charges", "biller", p("charge_list")),
        Page("denial queue", "biller", p("denial_queue")),
        Page("denial queue: payer", "biller", p("denial_queue") + f"?payer={s['payer'].public_id}"),
        Page("remittances", "biller", p("remittance_list")),
        Page("unmatched remittances", "biller", p("unmatched_remittances")),
        Page("x12 files", "biller", p("x12_files")),
        Page("transmission log", "biller", p("transmission_log")),
        Page("a/r dashboard", "biller", p("ar_dashboard")),
        Page("a/r dashboard: last 90 days", "biller", p("ar_dashboard") + "?period=90d"),
        Page("revenue leakage", "biller", p("revenue_leakage")),
        # Portal, staff side
        Page("message inbox", "clinician", p("message_inbox")),
        Page("intake queue", "desk", p("intake_queue")),
        # Portal, patient side
        Page("portal home", "portal", "/portal/"),
        Page("portal appointments", "portal", "/portal/appointments/"),
        Page("portal messages", "portal", "/portal/messages/"),
        Page("portal billing / statements", "portal", "/portal/billing/"),
        Page("portal questionnaires", "portal", "/portal/questionnaires/"),
    ]
    if s["denial"]:
        pages.append(Page("denial", "biller", p("denial_detail", case_id=s["denial"].public_id)))
    if s["remittance"]:
        pages.append(Page("remittance", "biller", p("remittance_detail", remittance_id=s["remittance"].public_id)))
    if s["note"]:
        pages.append(Page("note", "clinician", p("note_detail", note_id=s["note"].public_id)))
    api = (
        "patients", "diagnoses", "notes", "treatment-plans", "medications", "documents", "appointments",
        "waitlist", "assignments", "administrations", "responses", "alerts", "coverages", "authorizations",
        "charges", "claims", "remittances", "remittance-claims", "denials", "payments", "statements", "messages",
        "message-threads", "webhook-deliveries",
    )  # fmt: skip
    pages += [Page(f"api {name}", "admin", f"/api/v1/{name}/") for name in api]
    pages += [
        Page("api patients ?search", "admin", f"/api/v1/patients/?search={name_token}"),
        Page("api appointments page 500", "admin", "/api/v1/appointments/?page=500"),
        Page("api claims page 500", "admin", "/api/v1/claims/?page=500"),
        Page("api responses page 500", "admin", "/api/v1/responses/?page=500"),
        Page("api ar summary", "biller", "/api/v1/ar/summary/"),
    ]
    return pages


def _client_for(who, practice):
    from django.test import Client

    from practice.tests.factories import sign_in

    client = Client()
    if who is None:
        return None
    from portal.models import PortalAccess

    if isinstance(who, PortalAccess):
        sign_in(client, who.user, verified=False)
        session = client.session
        session["tend_portal_access"] = str(who.public_id)
        session.save()
    else:
        sign_in(client, who)
        # the API's session authentication uses the practice last opened in the UI
        client.get(f"/p/{practice.slug}/", secure=True)
    return client


def _request(client, url: str) -> Result:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    out: dict = {}
    try:
        with transaction.atomic():
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                response = client.get(url, secure=True)
                if hasattr(response, "streaming_content"):
                    b"".join(response.streaming_content)
                out["wall"] = (time.perf_counter() - t0) * 1000
            out["status"] = response.status_code
            out["queries"] = [(float(q["time"]) * 1000, q["sql"]) for q in ctx.captured_queries]
            raise _Rollback
    except _Rollback:
        pass
    return Result(
        page=None,  # type: ignore[arg-type]
        status=out["status"],
        wall_ms=out["wall"],
        sql_ms=sum(t for t, _ in out["queries"]),
        queries=out["queries"],
    )


_NUMBERS = re.compile(r"\b\d+\b|'[^']*'")


def _shape(sql: str) -> str:
    return _NUMBERS.sub("?", sql)


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--practice", default="scale")
    parser.add_argument("--only", default="", help="regex on page labels")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--explain", type=int, default=5, help="EXPLAIN ANALYZE the N slowest distinct queries")
    parser.add_argument("--slow-ms", type=float, default=50.0, help="print every query slower than this")
    parser.add_argument("--plans", default="", help="write the EXPLAIN output to this file")
    parser.add_argument("--json", default="", help="write per-page numbers to this file")
    parser.add_argument("--repeat", type=int, default=0, help="time pages warm N times (median/best)")
    args = parser.parse_args()
    _check_env()

    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import override_settings
    from django.utils import timezone

    from practice.models import Practice
    from practice.scoping import practice_scope

    # Production settings otherwise; no collected static files here, and any host name.
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    override_settings(ALLOWED_HOSTS=["*"], STORAGES=storages).enable()
    practice = Practice.objects.get(slug=args.practice)
    timezone.activate(practice.timezone)
    with practice_scope(practice):
        actors = _actors(practice)
        samples = _samples(actors)
        pages = _pages(practice, actors, samples)
    only = re.compile(args.only or ("^(" + "|".join(re.escape(d) for d in DASHBOARDS) + ")$" if args.repeat else ""))
    pages = [pg for pg in pages if only.search(pg.label)]
    clients = {key: _client_for(who, practice) for key, who in actors.items()}

    if args.repeat:
        print(f"{'page':44} {'median':>9} {'best':>9} {'queries':>7}")
        for page in pages:
            client = clients[page.actor]
            _request(client, page.url)  # warm
            runs = [_request(client, page.url) for _ in range(args.repeat)]
            walls = [r.wall_ms for r in runs]
            print(
                f"{page.label:44} {statistics.median(walls):8.0f}ms {min(walls):8.0f}ms {len(runs[-1].queries):7d}"
                f"  (status {runs[-1].status})"
            )
        return

    results: list[Result] = []
    print(f"{'page':44} {'status':>6} {'wall':>8} {'sql':>8} {'#q':>4} {'slowest':>8}")
    for page in pages:
        client = clients[page.actor]
        if client is None:
            print(f"{page.label:44} (no {page.actor} in this practice)")
            continue
        try:
            for _ in range(args.runs):
                result = _request(client, page.url)
        except Exception as exc:  # a broken page is reported, the others still run
            print(f"{page.label:44} ERROR {type(exc).__name__}: {str(exc)[:200]}")
            continue
        result.page = page
        results.append(result)
        slow_t, _sql = result.slowest
        print(
            f"{page.label:44} {result.status:6d} {result.wall_ms:7.0f}ms {result.sql_ms:7.0f}ms"
            f" {len(result.queries):4d} {slow_t:7.1f}ms"
        )
        for t, sql in sorted(result.queries, reverse=True):
            if t >= args.slow_ms:
                print(f"    {t:8.1f}ms  {sql[:300]}")

    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [
                    {
                        "page": r.page.label,
                        "url": r.page.url,
                        "status": r.status,
                        "wall_ms": round(r.wall_ms, 1),
                        "sql_ms": round(r.sql_ms, 1),
                        "queries": len(r.queries),
                        "slowest_ms": round(r.slowest[0], 1),
                        "slowest_sql": r.slowest[1],
                    }
                    for r in results
                ],
                indent=1,
            )
        )

    # The N slowest distinct query shapes of the run, explained.
    seen: dict[str, tuple[float, str, str]] = {}
    for r in results:
        for t, sql in r.queries:
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            key = _shape(sql)
            if key not in seen or seen[key][0] < t:
                seen[key] = (t, sql, r.page.label)
    worst = sorted(seen.values(), reverse=True)[: args.explain]
    chunks = []
    for t, sql, label in worst:
        plan = explain(sql)
        chunks.append(f"=== {label}: {t:.1f} ms\n{sql}\n\n{plan}\n")
    text = "\n".join(chunks)
    if args.plans:
        Path(args.plans).write_text(text)
        print(f"\n{len(worst)} plans written to {args.plans}")
    else:
        print("\n" + text)


if __name__ == "__main__":
    main()
