"""axe-core on the signed-out pages a patient meets first: staff/portal sign-in and a questionnaire link."""

from __future__ import annotations

import pytest

from tests.browser.axe import assert_accessible, axe_context

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_in_page_has_no_serious_axe_violations(browser, live_server):
    context = axe_context(browser, live_server)
    page = context.new_page()
    page.goto("/login/")
    assert_accessible(page, "staff sign-in")
    context.close()


def test_the_check_catches_a_real_violation(browser, live_server):
    """The check can fail: an image button with no accessible name is a critical violation."""
    from tests.browser.axe import axe_violations

    context = axe_context(browser, live_server)
    page = context.new_page()
    page.goto("/login/")
    page.evaluate("() => { const b = document.createElement('button'); document.querySelector('main').append(b); }")
    assert any(v["id"] == "button-name" for v in axe_violations(page))
    context.close()
