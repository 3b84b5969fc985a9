"""Accessibility checks with axe-core, injected into the page by Playwright.

The pages' CSP forbids inline scripts, so contexts that run axe are created with `bypass_csp=True`
(`axe_context`). Rules: WCAG 2.0/2.1 A and AA. A test fails on any *serious* or *critical*
violation and prints each with the elements it hit.
"""

from __future__ import annotations

from pathlib import Path

AXE_JS = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")
PHONE = {"width": 390, "height": 844}


def axe_context(browser, live_server, *, viewport=PHONE):
    context = browser.new_context(base_url=live_server.url, viewport=viewport, bypass_csp=True)
    context.set_default_timeout(10_000)
    return context


def axe_violations(page, *, impacts=BLOCKING) -> list[dict]:
    """Run axe on the current page; the violations of the given impacts."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        "async (tags) => (await window.axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations",
        WCAG_TAGS,
    )
    return [v for v in result if v.get("impact") in impacts]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        targets = ", ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} -> {targets}")
    return "\n".join(lines)


def assert_accessible(page, label: str = "") -> None:
    violations = axe_violations(page)
    assert not violations, f"axe on {label or page.url}:\n{describe(violations)}"
