"""A practice day in Tend for Locust: clinicians, front desk, patients, billers and admins.

Run it through `benchmarks/load/run_load.py`, which starts gunicorn, a Celery worker and Locust and
writes the report. The accounts come from the JSON file named by TEND_LOAD_ACCOUNTS (run_load.py reads
them from the database: one practice's active staff by role, its portal patients and the staff TOTP
keys), so the same file drives the scale data set and the demo practice.

Every simulated user signs in through the real pages (password, then the TOTP step when the account
has a device) with its own account while the pool lasts. Pages are read and forms are posted the way a
browser does: links and form fields come from the HTML, every POST carries the form's CSRF token. A
POST that does not redirect (a form re-rendered with errors) is a failure, as is any page that bounces
to the sign-in page.

Requests are named by page (`name=`), so Locust's statistics are per page. Every user class spends
the same share of its task picks (BASELINE_WEIGHT of TASK_WEIGHT_TOTAL) on the baseline page, the
lightest authenticated page (the signed-in user's account page), so each page's latency can be read as
a ratio to the baseline measured under the same load.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import random
import re
import struct
import time
from html import unescape
from html.parser import HTMLParser
from itertools import count
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import gevent
from locust import HttpUser, between, events, task
from locust.exception import StopUser

BASELINE_NAME = "baseline: account page"
# Each class's task weights add up to TASK_WEIGHT_TOTAL, the baseline's share included.
TASK_WEIGHT_TOTAL = 20
BASELINE_WEIGHT = 2
TOTP_STEP_SECONDS = 30
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


# --- Accounts --------------------------------------------------------------------------------


def _load_accounts() -> dict[str, Any]:
    path = os.environ.get("TEND_LOAD_ACCOUNTS", "")
    if not path:
        return {"practice": "", "password": "", "staff": {}, "patients": []}
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


ACCOUNTS = _load_accounts()
_next_index: dict[str, count] = {}


def take_account(pool: str) -> dict[str, Any]:
    """The pool's next account; round-robin once every account has a user."""
    accounts = ACCOUNTS["patients"] if pool == "patient" else ACCOUNTS["staff"].get(pool, [])
    if not accounts:
        raise StopUser(f"no {pool} accounts in {os.environ.get('TEND_LOAD_ACCOUNTS')}")
    index = next(_next_index.setdefault(pool, count()))
    return accounts[index % len(accounts)]


# --- TOTP (RFC 6238) -------------------------------------------------------------------------

_TOTP_STATE_PATH = os.environ.get("TEND_LOAD_TOTP_STATE", "")
# email -> the last time step whose code was used. A device refuses a code it has already accepted
# (replay protection), so two users sharing an account, or the next step of run_load.py signing the
# same account in again within 30 s, take the next step's code (the device allows one step of drift)
# or wait for it.
_totp_last_step: dict[str, int] = {}
if _TOTP_STATE_PATH and os.path.exists(_TOTP_STATE_PATH):
    with open(_TOTP_STATE_PATH, encoding="utf-8") as _fh:
        _totp_last_step.update(json.load(_fh))


def totp_code(key_hex: str, step: int, digits: int = 6) -> str:
    digest = hmac.new(bytes.fromhex(key_hex), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def next_totp(email: str, key_hex: str) -> str:
    now_step = int(time.time()) // TOTP_STEP_SECONDS
    step = max(now_step, _totp_last_step.get(email, -1) + 1)
    if step > now_step + 1:  # beyond the device's tolerance: wait for the window before it
        gevent.sleep((step - 1) * TOTP_STEP_SECONDS - time.time() + 0.5)
    _totp_last_step[email] = step
    return totp_code(key_hex, step)


@events.test_stop.add_listener
def _save_totp_state(**_kwargs: Any) -> None:
    if _TOTP_STATE_PATH:
        with open(_TOTP_STATE_PATH, "w", encoding="utf-8") as fh:
            json.dump(_totp_last_step, fh)


# --- The measured window ------------------------------------------------------------------------

# run_load.py sets this: once every user has signed in, statistics are reset (sign-ins and start-up
# are not measured) and the run stops this many seconds later. Unset (plain `locust -t ...`), nothing
# is reset and -t alone bounds the run.
MEASURE_SECONDS = float(os.environ.get("TEND_LOAD_MEASURE_SECONDS", "0") or 0)
_ready_users = count(1)
_measuring = False


def _user_ready(environment: Any) -> None:
    global _measuring
    runner = environment.runner
    if not MEASURE_SECONDS or _measuring or runner is None:
        return
    if next(_ready_users) >= runner.target_user_count:
        _measuring = True
        runner.stats.reset_all()
        if marker := os.environ.get("TEND_LOAD_MEASURE_MARK"):  # run_load.py samples CPU from here on
            with open(marker, "w", encoding="utf-8") as fh:
                fh.write(str(time.time()))
        gevent.spawn_later(MEASURE_SECONDS, runner.quit)


# --- HTML ------------------------------------------------------------------------------------


class _FormParser(HTMLParser):
    """Every <form> of a page with the fields a browser would submit (no JavaScript)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self._form: dict[str, Any] | None = None
        self._select: dict[str, Any] | None = None
        self._textarea: dict[str, Any] | None = None
        self._ids: dict[str, dict[str, Any]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._form = self._by_id(a.get("id", ""))
            self._form.update(attrs=a, action=a.get("action", ""))
            self.forms.append(self._form)
        # A field belongs to its <form>, or to the form its `form` attribute names (before or after it).
        form = self._by_id(a["form"]) if a.get("form") else self._form
        if form is None:
            return
        if tag == "input" and a.get("name") and "disabled" not in a:
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                form["fields"].append(
                    {"name": a["name"], "value": a.get("value", "on"), "kind": kind, "checked": "checked" in a}
                )
            elif kind not in ("submit", "button", "image", "file", "reset"):
                form["fields"].append(
                    {"name": a["name"], "value": a.get("value", ""), "kind": kind, "required": "required" in a}
                )
        elif tag == "textarea" and a.get("name"):
            self._textarea = {"name": a["name"], "value": "", "kind": "textarea", "required": "required" in a}
            form["fields"].append(self._textarea)
        elif tag == "select" and a.get("name"):
            self._select = {"name": a["name"], "kind": "select", "options": [], "multiple": "multiple" in a}
            form["fields"].append(self._select)
            form["selects"][a["name"]] = self._select
        elif tag == "option" and self._select is not None:
            self._select["options"].append({"value": a.get("value", ""), "selected": "selected" in a})

    def _by_id(self, form_id: str) -> dict[str, Any]:
        if form_id and form_id in self._ids:
            return self._ids[form_id]
        form: dict[str, Any] = {"attrs": {}, "action": "", "fields": [], "selects": {}, "text": ""}
        if form_id:
            self._ids[form_id] = form
        return form

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea["value"] += data
        if self._form is not None:
            self._form["text"] += data


def forms_of(html: str) -> list[dict[str, Any]]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def find_form(html: str, action_contains: str = "", field: str = "") -> dict[str, Any] | None:
    for form in forms_of(html):
        if action_contains and action_contains not in form["action"]:
            continue
        if field and not any(f["name"] == field for f in form["fields"]):
            continue
        return form
    return None


def form_data(form: dict[str, Any], fill: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The pairs a browser submits: checked boxes, selected options (else the first), text as is."""
    fill = fill or {}
    data: list[tuple[str, str]] = []
    for f in form["fields"]:
        name = f["name"]
        if name in fill:
            continue
        if f["kind"] in ("checkbox", "radio"):
            if f["checked"]:
                data.append((name, f["value"]))
        elif f["kind"] == "select":
            chosen = [o["value"] for o in f["options"] if o["selected"]]
            if not chosen and f["options"] and not f["multiple"]:
                chosen = [f["options"][0]["value"]]
            data.extend((name, v) for v in chosen)
        else:
            data.append((name, f["value"]))
    data.extend(fill.items())
    return data


def links(html: str, pattern: str) -> list[str]:
    """Distinct hrefs matching a regular expression, in page order."""
    seen: dict[str, None] = {}
    for href in re.findall(r'href="([^"]+)"', html):
        href = unescape(href)
        if re.search(pattern, href):
            seen.setdefault(href, None)
    return list(seen)


def options(form: dict[str, Any] | None, name: str) -> list[str]:
    if form is None or name not in form["selects"]:
        return []
    return [o["value"] for o in form["selects"][name]["options"] if o["value"]]


# --- Pages ----------------------------------------------------------------------------------

# Every path the tasks request, as templates: {p} is /p/<practice>/, {id} an object's UUID. Ids come
# from the pages themselves (LINKS), never from the database. tests/test_load_locustfile.py resolves
# each against the URLconf, so a renamed route fails the suite instead of the load test.
PAGES: dict[str, str] = {
    "login": "/login/",
    "portal_login": "/portal/login/",
    "baseline": "/account/",
    "dashboard": "{p}",
    "calendar": "{p}schedule/",
    "patients": "{p}patients/",
    "note_new": "{p}patients/{id}/notes/new/",
    "patient_assessments": "{p}patients/{id}/assessments/",
    "my_work": "{p}my-work/",
    "booking": "{p}schedule/new/",
    "booking_patients": "{p}schedule/new/patients/",
    "booking_slots": "{p}schedule/new/slots/",
    "portal_home": "/portal/",
    "portal_appointments": "/portal/appointments/",
    "portal_messages": "/portal/messages/",
    "portal_billing": "/portal/billing/",
    "claims": "{p}billing/claims/",
    "denials": "{p}billing/denials/",
    "remittances": "{p}billing/remittances/",
    "outcomes": "{p}outcomes/",
    "ar": "{p}billing/ar/",
    "staff": "{p}staff/",
}

# Links and form actions picked from pages: (pattern, the route it must match, its URL kwargs).
LINKS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "chart": (rf"/patients/{UUID}/$", "patient_chart", ("patient_id",)),
    "note": (rf"/notes/{UUID}/$", "note_detail", ("note_id",)),
    "note_edit": (rf"/notes/{UUID}/edit/$", "note_edit", ("note_id",)),
    "note_sign": (rf"/notes/{UUID}/sign/$", "note_sign", ("note_id",)),
    "appointment": (rf"/appointments/{UUID}/$", "appointment_detail", ("appointment_id",)),
    "start_note": (
        rf"/appointments/{UUID}/attendees/{UUID}/note/$",
        "appointment_start_note",
        ("appointment_id", "attendee_id"),
    ),
    "check_in": (rf"/appointments/{UUID}/check-in/$", "appointment_check_in", ("appointment_id",)),
    "portal_thread": (rf"^/portal/messages/{UUID}/$", "portal_thread", ("thread_id",)),
    "claim": (rf"/billing/claims/{UUID}/$", "claim_detail", ("claim_id",)),
    "denial": (rf"/billing/denials/{UUID}/$", "denial_detail", ("case_id",)),
}

# Two-letter name prefixes for the patient searches (common starts of names).
SEARCH_PREFIXES = ["ma", "jo", "sm", "br", "ga", "ro", "wi", "da", "le", "mi", "an", "ca", "he", "pa", "th"]
NOTE_TEXT = "Engaged; reviewed coping plan and homework. Mood improving; no safety concerns voiced."


def link(key: str) -> str:
    return LINKS[key][0]


# --- The users -------------------------------------------------------------------------------


class TendUser(HttpUser):
    """Signs in on start; the subclasses' tasks are one role's day. Every subclass has the baseline
    task at BASELINE_WEIGHT and its other weights add up to TASK_WEIGHT_TOTAL with it."""

    abstract = True
    wait_time = between(1, 3)
    pool = ""
    login_page = "login"

    def on_start(self) -> None:
        self.account = take_account(self.pool)
        self.email = self.account["email"]
        self.slug = ACCOUNTS["practice"]
        self.sign_in()
        self.setup()
        _user_ready(self.environment)

    def setup(self) -> None:
        """Per-user discovery after sign-in (ids the tasks need)."""

    def url(self, page: str, id: str = "") -> str:
        return PAGES[page].format(p=f"/p/{self.slug}/", id=id)

    @task(BASELINE_WEIGHT)
    def baseline(self) -> None:
        self.page(self.url("baseline"), BASELINE_NAME)

    # -- requests -----------------------------------------------------------------------------

    def page(self, path: str, name: str, params: Any = None) -> str | None:
        """GET a page that must answer 200 (a redirect, e.g. to a sign-in page, is a failure)."""
        with self.client.get(path, params=params, name=name, catch_response=True, allow_redirects=False) as r:
            if r.status_code != 200:
                where = r.headers.get("Location", "")
                r.failure(f"HTTP {r.status_code}" + (f" to {urlsplit(where).path}" if where else ""))
                return None
            return r.text

    def submit(self, path: str, data: list[tuple[str, str]], name: str, *, referer: str = "") -> str | None:
        """POST a form; success is the app's redirect after a write. Returns the Location."""
        headers = {"Referer": urljoin(self.host, referer or path)}
        with self.client.post(
            path, data=data, name=name, headers=headers, catch_response=True, allow_redirects=False
        ) as r:
            if r.status_code in (301, 302, 303):
                location = r.headers.get("Location", "")
                if urlsplit(location).path in (PAGES["login"], PAGES["portal_login"]):
                    r.failure("bounced to sign-in")
                    return None
                return location
            # The first field or form error shown (templates/partials/field.html, form_errors.html).
            errors = re.findall(
                r'class="(?:field-errors|alert alert--error)".*?<li>([^<]{1,160})</li>', r.text or "", re.DOTALL
            )
            r.failure(f"HTTP {r.status_code}: {errors[0].strip() if errors else 'no redirect'}")
            return None

    # -- sign-in ------------------------------------------------------------------------------

    def sign_in(self) -> None:
        path = self.url(self.login_page)
        form = find_form(self.page(path, "sign-in: form") or "", field="email")
        if form is None:
            raise StopUser("no sign-in form")
        data = form_data(form, {"email": self.email, "password": ACCOUNTS["password"]})
        location = self.submit(path, data, "sign-in: password")
        if location is None:
            raise StopUser(f"password step refused for {self.email}")
        if "/verify/" in location:
            self.totp_step(location)

    def totp_step(self, verify_path: str) -> None:
        key = self.account.get("totp")
        if not key:
            raise StopUser(f"{self.email} needs a TOTP code but has no key")
        for _attempt in range(3):
            form = find_form(self.page(verify_path, "sign-in: code form") or "", field="code")
            if form is None:
                raise StopUser("no code form")
            code = next_totp(self.email, key)
            if self.submit(verify_path, form_data(form, {"code": code}), "sign-in: code") is not None:
                return
            # Another client used this step's code (or the device is throttling): try the next step.
            gevent.sleep(TOTP_STEP_SECONDS - time.time() % TOTP_STEP_SECONDS + 1)
        raise StopUser(f"TOTP step refused for {self.email}")


def _weights(**tasks: int) -> dict[str, int]:
    if sum(tasks.values()) + BASELINE_WEIGHT != TASK_WEIGHT_TOTAL:
        raise ValueError(f"task weights must add up to {TASK_WEIGHT_TOTAL - BASELINE_WEIGHT}: {tasks}")
    return tasks


class Clinician(TendUser):
    """Their day's schedule, charts, notes and assessments; writes progress notes and signs some."""

    weight = 40
    pool = "clinician"
    W = _weights(schedule=4, chart=5, note_read=3, assessments=2, write_note=3, my_work=1)

    def setup(self) -> None:
        self.me = self.account.get("member", "")
        self.patients: list[str] = []
        self.schedule()
        # Last week's appointments: the completed ones may still need their note.
        last_week = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=7)).isoformat()
        params = {"view": "week", "clinician": self.me, "date": last_week}
        html = self.page(self.url("calendar"), "calendar: my week", params)
        self.past = links(html or "", link("appointment"))
        random.shuffle(self.past)

    @task(W["schedule"])
    def schedule(self) -> None:
        """The dashboard, then the calendar's day view of their own column."""
        self.page(self.url("dashboard"), "dashboard")
        html = self.page(self.url("calendar"), "calendar: my day", {"view": "day", "clinician": self.me})
        self.patients = links(html or "", link("chart")) or self.patients

    def _a_patient(self) -> str | None:
        if not self.patients:
            html = self.page(self.url("patients"), "patient list")
            self.patients = links(html or "", link("chart"))
        return random.choice(self.patients) if self.patients else None

    @task(W["chart"])
    def chart(self) -> None:
        if patient := self._a_patient():
            self.page(patient, "chart")

    @task(W["note_read"])
    def note_read(self) -> None:
        patient = self._a_patient()
        notes = links((self.page(patient, "chart") if patient else None) or "", link("note"))
        if notes:
            self.page(random.choice(notes), "note (read)")

    @task(W["assessments"])
    def assessments(self) -> None:
        if patient := self._a_patient():
            self.page(patient + "assessments/", "chart: assessments")

    @task(W["my_work"])
    def my_work(self) -> None:
        self.page(self.url("my_work"), "my work")

    def _start_note(self) -> str | None:
        """A new note's editor URL: from a completed appointment of last week that has no note yet,
        else (all documented) started from the chart of one of their patients."""
        for _ in range(2):  # most of them already have one: a clinician looks at a couple, not all
            if not self.past:
                break
            url = self.past.pop()
            html = self.page(url, "appointment detail") or ""
            form = find_form(html, action_contains="/note/")
            if form is not None and "Start progress note" in html and "badge--success" in html:
                return self.submit(form["action"], form_data(form), "note: start from appointment", referer=url)
        patient = self._a_patient()
        if patient is None:
            return None
        path = self.url("note_new", patient.rstrip("/").rsplit("/", 1)[-1])
        form = find_form(self.page(path, "note: new (form)") or "", field="session_on")
        return self.submit(path, form_data(form), "note: new", referer=path) if form else None

    @task(W["write_note"])
    def write_note(self) -> None:
        """Start a note, fill the empty sections, save the draft; sign one in four."""
        location = self._start_note()
        editor = self.page(location, "note editor") if location else None
        form = find_form(editor or "", action_contains="/edit/")
        if form is None:
            return
        fill = {}
        for f in form["fields"]:
            if f["kind"] == "textarea" and not f["value"].strip():
                fill[f["name"]] = NOTE_TEXT
            elif (
                f["kind"] == "select"
                and f["name"].startswith("risk_")  # required to sign
                and not any(o["selected"] and o["value"] for o in f["options"])
            ):
                fill[f["name"]] = next((o["value"] for o in f["options"] if o["value"]), "")
        saved = self.submit(form["action"], form_data(form, fill), "note: save draft", referer=location)
        if saved is None or random.random() >= 0.25:
            return
        editor = self.page(saved, "note editor")
        form = find_form(editor or "", action_contains="/edit/")
        sign = re.search(r'formaction="([^"]+/sign/)"', editor or "")  # the editor's "Sign note" button
        if form is not None and sign:
            data = form_data(form, {"credential": ACCOUNTS["password"]})
            self.submit(sign.group(1), data, "note: sign", referer=saved)


class FrontDesk(TendUser):
    """The calendar for a group of clinicians, patient search, booking and check-in."""

    weight = 12
    pool = "frontdesk"
    W = _weights(week=5, day=4, search=3, book=4, check_in=2)

    def setup(self) -> None:
        html = self.page(self.url("calendar"), "calendar: week (default)")
        form = find_form(html or "", field="clinician")
        self.clinicians = options(form, "clinician")

    def _group(self) -> list[tuple[str, str]]:
        return [("clinician", c) for c in random.sample(self.clinicians, min(10, len(self.clinicians)))]

    @task(W["week"])
    def week(self) -> None:
        url = self.url("calendar") + "?" + urlencode([("view", "week"), *self._group()])
        self.page(url, "calendar: week (10 clinicians)")

    @task(W["day"])
    def day(self) -> None:
        url = self.url("calendar") + "?" + urlencode([("view", "day"), *self._group()])
        self.page(url, "calendar: day (10 clinicians)")

    @task(W["search"])
    def search(self) -> None:
        self.page(self.url("patients"), "patient search", {"q": random.choice(SEARCH_PREFIXES)})

    @task(W["book"])
    def book(self) -> None:
        """The booking form: find a patient, list a clinician's open slots, book one, open it."""
        path = self.url("booking")
        form = find_form(self.page(path, "booking: form") or "", field="appointment_type")
        if form is None:
            return
        q = {"q": random.choice(SEARCH_PREFIXES)}
        found = self.page(self.url("booking_patients"), "booking: patient search", q) or ""
        patients = re.findall(rf'name="patient"[^>]*value="({UUID})"', found)
        patients += re.findall(rf'value="({UUID})"[^>]*name="patient"', found)
        types, clinicians = options(form, "appointment_type"), options(form, "clinician")
        if not (patients and types and clinicians):
            return
        clinician, kind = random.choice(clinicians), random.choice(types)
        params = {"clinician": clinician, "appointment_type": kind}
        slots_html = self.page(self.url("booking_slots"), "booking: open slots", params)
        slots = re.findall(r'data-day="([0-9-]{10})"\s+data-time="([0-9:]{5})"', slots_html or "")
        if not slots:
            return
        day, start = random.choice(slots)
        fill = {"patient": random.choice(patients), "appointment_type": kind, "clinician": clinician}
        fill |= {"day": day, "start_time": start, "repeat": "none"}
        data = [(k, v) for k, v in form_data(form, fill) if k not in ("location", "room")]
        if location := self.submit(path, data, "booking: book", referer=path):
            self.page(location, "appointment detail")

    @task(W["check_in"])
    def check_in(self) -> None:
        """Today for a group of clinicians; check in one of the appointments that offer it."""
        url = self.url("calendar") + "?" + urlencode([("view", "day"), *self._group()])
        forms = [
            f for f in forms_of(self.page(url, "calendar: day (10 clinicians)") or "") if "/check-in/" in f["action"]
        ]
        if forms:
            form = random.choice(forms)
            self.submit(form["action"], form_data(form), "appointment: check in", referer=url)


class Patient(TendUser):
    """The portal: home, appointments, messages and statements."""

    weight = 30
    pool = "patient"
    login_page = "portal_login"
    W = _weights(home=6, appointments=5, messages=4, thread=1, billing=2)
    threads: list[str] = []

    @task(W["home"])
    def home(self) -> None:
        self.page(self.url("portal_home"), "portal: home")

    @task(W["appointments"])
    def appointments(self) -> None:
        self.page(self.url("portal_appointments"), "portal: appointments")

    @task(W["messages"])
    def messages(self) -> None:
        html = self.page(self.url("portal_messages"), "portal: messages")
        self.threads = links(html or "", link("portal_thread"))

    @task(W["thread"])
    def thread(self) -> None:
        if self.threads:
            self.page(random.choice(self.threads), "portal: message thread")

    @task(W["billing"])
    def billing(self) -> None:
        self.page(self.url("portal_billing"), "portal: statements")


class Biller(TendUser):
    """Claim queue with filters, denial queue, a claim, a denial, remittances."""

    weight = 8
    pool = "biller"
    W = _weights(queue=5, queue_filtered=4, denials=3, claim=3, remittances=2, denial=1)
    cases: list[str] = []

    def setup(self) -> None:
        html = self.page(self.url("claims"), "claims: queue")
        self.payers = options(find_form(html or "", field="payer"), "payer")
        self.claims = links(html or "", link("claim"))

    @task(W["queue"])
    def queue(self) -> None:
        status = random.choice(["", "ready", "submitted", "denied", "rejected"])
        html = self.page(self.url("claims"), "claims: queue", {"status": status} if status else None)
        self.claims = links(html or "", link("claim")) or self.claims

    @task(W["queue_filtered"])
    def queue_filtered(self) -> None:
        params = {"age": random.choice(["0-30", "31-60", "61-90", "91-120", "120+"])}
        if self.payers:
            params["payer"] = random.choice(self.payers)
        self.page(self.url("claims"), "claims: queue (payer + age)", params)

    @task(W["claim"])
    def claim(self) -> None:
        if self.claims:
            self.page(random.choice(self.claims), "claim detail")

    @task(W["denials"])
    def denials(self) -> None:
        html = self.page(self.url("denials"), "denials: queue")
        self.cases = links(html or "", link("denial"))

    @task(W["denial"])
    def denial(self) -> None:
        if self.cases:
            self.page(random.choice(self.cases), "denial detail")

    @task(W["remittances"])
    def remittances(self) -> None:
        self.page(self.url("remittances"), "remittances")


class Admin(TendUser):
    """Dashboards: the practice home, outcomes, A/R, the staff list."""

    weight = 3
    pool = "admin"
    W = _weights(home=6, outcomes=5, ar=5, staff=2)

    @task(W["home"])
    def home(self) -> None:
        self.page(self.url("dashboard"), "dashboard")

    @task(W["outcomes"])
    def outcomes(self) -> None:
        self.page(self.url("outcomes"), "outcome dashboard")

    @task(W["ar"])
    def ar(self) -> None:
        self.page(self.url("ar"), "A/R dashboard")

    @task(W["staff"])
    def staff(self) -> None:
        self.page(self.url("staff"), "staff list")
