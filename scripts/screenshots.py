#!/usr/bin/env python
"""Regenerate the README screenshots: `make screenshots`.

Starts the demo on a free port against a throw-away, freshly seeded SQLite database, signs in
as the Cedar practice admin (email + password, then the TOTP code of the seeded secret) with
Debian's chromium driven by Playwright, and saves docs/screenshots/{login,dashboard,staff,chart,note,calendar,outcomes,assessments,risk-alert,
questionnaire,claims,claim}.png.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 800}
PRACTICE = "cedar"


CLINICIAN = "elena.petrova@cedarbh.example"
FRONT_DESK = "maria.santos@cedarbh.example"


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"The demo server exited with code {server.returncode}.")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - http://127.0.0.1 only
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise SystemExit(f"The demo server did not answer on {url} within {timeout:.0f}s.")


def visit(page, url: str) -> None:
    """Open a page and refuse to photograph an error page."""
    response = page.goto(url)
    if response is None or response.status >= 400:
        raise SystemExit(f"{url} answered {response.status if response else 'nothing'}: not taking its screenshot.")
    page.wait_for_load_state("networkidle")


def take_screenshots(
    base: str,
    env: dict[str, str],
    account: dict[str, str],
    password: str,
    questionnaire_link: str = "",
    portal_email: str = "",
) -> None:
    from playwright.sync_api import expect, sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
            visit(page, f"{base}/login/")
            page.screenshot(path=OUT / "login.png")

            page.fill("input[name=email]", account["email"])
            page.fill("input[name=password]", password)
            page.locator("input[name=password]").press("Enter")
            page.wait_for_url("**/login/verify/**")
            code = manage(env, "demo_totp_code", account["email"]).strip()
            page.fill("input[name=code]", code)
            page.locator("input[name=code]").press("Enter")
            page.wait_for_url(f"**/p/{PRACTICE}/**")

            visit(page, f"{base}/p/{PRACTICE}/")
            expect(page).to_have_url(f"{base}/p/{PRACTICE}/")
            page.screenshot(path=OUT / "dashboard.png")

            visit(page, f"{base}/p/{PRACTICE}/staff/")
            expect(page).to_have_url(f"{base}/p/{PRACTICE}/staff/")
            page.screenshot(path=OUT / "staff.png")

            visit(page, f"{base}/p/{PRACTICE}/outcomes/")
            page.screenshot(path=OUT / "outcomes.png")

            # Billing: the claims queue filtered to flagged claims, and one flagged claim.
            visit(page, f"{base}/p/{PRACTICE}/billing/claims/?has_errors=1")
            page.screenshot(path=OUT / "claims.png")
            # the demo's planted time mismatch (a 90837 whose note documents 45 minutes), else any
            flagged = page.locator("tr", has_text="P1").locator("a.table__primary[href*='/billing/claims/']")
            claim = (
                flagged.first if flagged.count() else page.locator("a.table__primary[href*='/billing/claims/']").first
            )
            visit(page, base + claim.get_attribute("href"))
            page.screenshot(path=OUT / "claim.png")

            visit(page, f"{base}/p/{PRACTICE}/billing/ar/")
            page.screenshot(path=OUT / "ar-dashboard.png", full_page=True)

            clinician_screens(browser, base, password)
            front_desk_screens(browser, base, password)
            if questionnaire_link:
                questionnaire_screen(browser, base, questionnaire_link)
            if portal_email:
                portal_screens(browser, base, portal_email, password)
        finally:
            browser.close()


def _sign_in(browser, base: str, email: str, password: str):
    page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
    visit(page, f"{base}/login/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.locator("input[name=password]").press("Enter")
    page.wait_for_url(f"**/p/{PRACTICE}/**")
    return page


def clinician_screens(browser, base: str, password: str) -> None:
    """A clinician's chart and a signed note with its addendum (no MFA on this demo role)."""
    page = _sign_in(browser, base, CLINICIAN, password)
    visit(page, f"{base}/p/{PRACTICE}/patients/")
    chart = page.locator("table a[href*='/patients/']").first
    visit(page, base + chart.get_attribute("href"))
    page.screenshot(path=OUT / "chart.png")
    note = page.locator("a[href*='/notes/']:not([href$='/new/'])").first
    visit(page, base + note.get_attribute("href"))
    page.screenshot(path=OUT / "note.png")

    # The demo's one open risk alert, and the longitudinal view of that patient's scores.
    visit(page, f"{base}/p/{PRACTICE}/alerts/")
    alert = page.locator("a[href*='/alerts/'][href$='/']:not([href$='/alerts/'])").first
    visit(page, base + alert.get_attribute("href"))
    page.screenshot(path=OUT / "risk-alert.png")
    chart = page.locator("a[href*='/patients/'][href$='/']:not([href$='/patients/'])").first
    visit(page, base + chart.get_attribute("href") + "assessments/")
    page.screenshot(path=OUT / "assessments.png", full_page=True)
    page.close()


def questionnaire_screen(browser, base: str, link: str) -> None:
    """The patient's view of a questionnaire link, on a phone-sized screen."""
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    visit(page, base + link)
    page.screenshot(path=OUT / "questionnaire.png")
    page.close()


def portal_screens(browser, base: str, email: str, password: str) -> None:
    """The demo patient's portal on a phone: home, then the thread with the clinician's reply."""
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    visit(page, f"{base}/portal/login/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.locator("input[name=password]").press("Enter")
    page.wait_for_url(f"{base}/portal/")
    page.screenshot(path=OUT / "portal-home.png", full_page=True)
    visit(page, f"{base}/portal/messages/")
    threads = page.locator("main a[href^='/portal/messages/'][href$='/']:not([href$='/new/'])")
    both_ways = threads.filter(has_text="Question about my next appointment")
    thread = both_ways.first if both_ways.count() else threads.first
    visit(page, base + thread.get_attribute("href"))
    page.screenshot(path=OUT / "portal-thread.png", full_page=True)
    page.close()


def front_desk_screens(browser, base: str, password: str) -> None:
    """The front desk's week calendar, once the scheduling module serves it."""
    page = _sign_in(browser, base, FRONT_DESK, password)
    response = page.goto(f"{base}/p/{PRACTICE}/schedule/?view=week")
    if response is not None and response.status == 200:
        page.wait_for_load_state("networkidle")
        page.screenshot(path=OUT / "calendar.png")
    page.close()


def main() -> None:
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} not found: apt-get install -y chromium (or set CHROMIUM=...).")
    with tempfile.TemporaryDirectory(prefix="tend-screens-") as tmp:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DEBUG": "1",
            "DATABASE_URL": f"sqlite:///{tmp}/demo.sqlite3",
            "REDIS_URL": "",
            "CELERY_TASK_ALWAYS_EAGER": "1",
            "EMAIL_URL": "consolemail://",
            "MEDIA_ROOT": f"{tmp}/media",
            "PYTHONUNBUFFERED": "1",
        }
        manage(env, "migrate", "--no-input")
        demo = json.loads(manage(env, "seed_demo", "--json"))
        account = next(a for a in demo["accounts"] if a["practice"] == PRACTICE and a["role"] == "admin")

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = Path(tmp) / "server.log"
        with log.open("w") as log_file:
            server = subprocess.Popen(  # noqa: S603
                [sys.executable, str(ROOT / "manage.py"), "runserver", f"127.0.0.1:{port}", "--noreload"],
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            try:
                wait_until_up(f"{base}/login/", server)
                name = next(p["name"] for p in demo["practices"] if p["slug"] == PRACTICE)
                link = next((q["path"] for q in demo.get("questionnaire_links", []) if q["practice"] == name), "")
                portal = next((p["email"] for p in demo.get("portal_patients", []) if p["practice"] == PRACTICE), "")
                take_screenshots(base, env, account, demo["password"], link, portal)
            except BaseException:
                sys.stderr.write(log.read_text()[-4000:])
                raise
            finally:
                server.terminate()
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()
    for name in (
        "login",
        "dashboard",
        "staff",
        "chart",
        "note",
        "calendar",
        "outcomes",
        "assessments",
        "risk-alert",
        "questionnaire",
        "claims",
        "claim",
        "ar-dashboard",
        "portal-home",
        "portal-thread",
    ):
        if (OUT / f"{name}.png").exists():
            print(f"wrote {(OUT / f'{name}.png').relative_to(ROOT)}")  # noqa: T201


if __name__ == "__main__":
    main()
