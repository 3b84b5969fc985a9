"""Two browsers sign the same note (issue 10): the clinician has the draft open on two computers and
presses Sign on both. One signature; the other computer lands on the signed note with a message
saying who signed it and when; the signed text is what the first signer had."""

import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from clinical.models import ProgressNote
from clinical.services import notes as services
from clinical.tests.factories import NoteTemplateFactory, PatientFactory
from practice.models import AuditLogEntry
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import DEFAULT_PASSWORD, MembershipFactory, PracticeFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FILLED = {
    "subjective": "Two panic episodes this week, both at work.",
    "objective": "Alert and oriented; affect anxious but reactive.",
    "assessment": "Panic symptoms easing with interoceptive exposure.",
    "plan_next": "Continue exposure hierarchy; daily breathing log.",
}
ALREADY_SIGNED = re.compile(r"This note was already signed by Cara Clinician, LCSW on \w{3} \d{1,2}, \d{4} at \d")


@pytest.fixture
def draft(db):
    riverside = PracticeFactory(name="Riverside Counseling", slug="riverside")
    PracticeFactory(name="Harbor Behavioral Health", slug="harbor")
    user = UserFactory(email="cara@riverside.test", full_name="Cara Clinician")
    with scopes_disabled():
        cara = MembershipFactory(practice=riverside, user=user, role=Role.CLINICIAN, title="LCSW")
        template = NoteTemplateFactory(practice=riverside)
        patient = PatientFactory(practice=riverside, primary_clinician=cara)
    with practice_scope(riverside):
        note = services.note_create(author=cara, patient=patient, template=template, session_on=timezone.localdate())
        note, _ = services.note_update_draft(
            note=note, by=cara, fields={"content": FILLED, "risk_ideation": "none", "risk_level": "low"}
        )
    return note


@pytest.fixture
def two_computers(browser, live_server, draft):
    """Two browser contexts (separate cookies: two computers), both signed in as the author with the
    draft's editor open."""
    pages = []
    contexts = []
    for _ in range(2):
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login/")
        page.get_by_label("Email").fill("cara@riverside.test")
        page.get_by_label("Password").fill(DEFAULT_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/p/riverside/**")
        page.goto(reverse("note_edit", kwargs={"practice_slug": "riverside", "note_id": draft.public_id}))
        page.get_by_label("Password or authenticator code").fill(DEFAULT_PASSWORD)
        pages.append(page)
    yield pages
    for context in contexts:
        context.close()


def _signature_changes(note: ProgressNote) -> list:
    with scopes_disabled():
        rows = AuditLogEntry.all_objects.filter(
            content_type=ContentType.objects.get_for_model(ProgressNote), object_pk=str(note.pk), action=1
        )
        return [row.changes_dict["status"] for row in rows if "status" in row.changes_dict]


def _toasts(page) -> str:
    return page.locator(".toasts").inner_text()


def test_pressing_sign_on_two_computers_at_once_signs_once(two_computers, draft):
    first, second = two_computers
    detail = f"**/notes/{draft.public_id}/"
    # both clicks go out before either answer comes back
    first.get_by_role("button", name="Sign note").click(no_wait_after=True)
    second.get_by_role("button", name="Sign note").click(no_wait_after=True)
    first.wait_for_url(detail)
    second.wait_for_url(detail)
    # a refusal is a sticky error toast; success is an ordinary one
    for page in (first, second):
        page.locator(".toast").first.wait_for()
    messages = [_toasts(first), _toasts(second)]
    signed = [m for m in messages if "Note signed." in m]
    refused = [m for m in messages if ALREADY_SIGNED.search(m)]
    assert len(signed) == 1 and len(refused) == 1, messages
    with scopes_disabled():
        note = ProgressNote.all_objects.get(pk=draft.pk)
    assert note.status == ProgressNote.Status.SIGNED and note.content == draft.content
    assert _signature_changes(note) == [["draft", "signed"]]
    for page in (first, second):
        assert "Electronically signed by Cara Clinician, LCSW" in page.locator(".note-signatures").inner_text()


def test_the_second_computer_with_other_text_is_told_and_its_text_is_not_signed(two_computers, draft):
    """The second computer's editor holds an edit; the first signs. Pressing Sign there afterwards
    changes nothing: the note keeps the text the first computer signed."""
    first, second = two_computers
    second.get_by_role("textbox", name="Assessment").fill("Text typed on the second computer.")
    first.get_by_role("button", name="Sign note").click()
    first.wait_for_url(f"**/notes/{draft.public_id}/")
    assert "Note signed." in _toasts(first)

    second.get_by_role("button", name="Sign note").click()
    second.wait_for_url(f"**/notes/{draft.public_id}/")
    alert = second.locator(".toast[role=alert]")
    assert ALREADY_SIGNED.search(alert.inner_text())
    assert "was not saved or signed" in alert.inner_text()
    with scopes_disabled():
        note = ProgressNote.all_objects.get(pk=draft.pk)
    assert note.content["assessment"] == FILLED["assessment"]
    assert "Text typed on the second computer." not in second.locator(".note-sheet").inner_text()
    assert _signature_changes(note) == [["draft", "signed"]]
