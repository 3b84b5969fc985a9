"""The public questionnaire link /q/<token>/: lifecycle (open, completed, expired, cancelled,
unknown), idempotent completion, item-named errors, C-SSRS skip logic, headers, access log."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from assessments.models import Administration, Response, RiskAlert
from assessments.tests.factories import AdministrationFactory
from clinical.tests.factories import PatientFactory
from practice.models import AccessEvent
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db
TOKEN = "known-token-for-tests-0123456789abcdefghijklmnopq"


@pytest.fixture
def administration(practice_a, clinician_a):
    practice_a.phone = "(503) 555-0100"
    practice_a.save()
    with practice_scope(practice_a):
        patient = PatientFactory(practice=practice_a, primary_clinician=clinician_a, legal_first_name="Robin")
        return AdministrationFactory(
            practice=practice_a,
            patient=patient,
            instrument_code="PHQ-9",
            token_hash=hashlib.sha256(TOKEN.encode()).hexdigest(),
        )


def _phq9(values, difficulty=None):
    data = {f"item_{n}": str(v) for n, v in enumerate(values, start=1)}
    if difficulty is not None:
        data["difficulty"] = str(difficulty)
    return data


URL = f"/q/{TOKEN}/"


def test_open_link_shows_the_instrument_with_safe_headers(client, administration):
    page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Riverside Counseling" in html and "For Robin" in html
    assert "Patient Health Questionnaire" in html or "PHQ-9" in html
    assert html.count('type="radio"') == 9 * 4 + 4  # nine items and the difficulty question
    assert "988" in html and "911" in html
    assert page["Cache-Control"].startswith("no-store")
    assert page["X-Robots-Tag"].startswith("noindex")
    assert page["Referrer-Policy"] == "no-referrer"
    with practice_scope(administration.practice_id):
        event = AccessEvent.objects.get(object_id=str(administration.public_id))
        assert event.user_id is None and event.patient_id == administration.patient.public_id


def test_submit_scores_once_and_thanks_without_scores(client, administration):
    data = _phq9([1, 1, 1, 1, 1, 1, 1, 1, 0], difficulty=1)
    page = client.post(URL, data)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Thank you, Robin" in html
    assert "Total" not in html and "Mild" not in html and "severity" not in html.lower()
    again = client.post(URL, data)  # a double submit
    assert again.status_code == 200 and "Thank you" in again.content.decode()
    with practice_scope(administration.practice_id):
        response = Response.objects.get(administration=administration)
        assert response.total == 8 and response.mode == "link" and response.difficulty == 1
        assert Response.objects.filter(patient=administration.patient).count() == 1
        administration.refresh_from_db()
        assert administration.status == Administration.Status.COMPLETED
    reopened = client.get(URL).content.decode()
    assert "already completed on" in reopened


def test_risk_answer_shows_the_crisis_box_and_opens_an_alert(client, administration):
    page = client.post(URL, _phq9([0, 0, 0, 0, 0, 0, 0, 0, 1]))
    html = page.content.decode()
    assert "You don't have to wait" in html and "988" in html
    with practice_scope(administration.practice_id):
        assert RiskAlert.objects.filter(patient=administration.patient).count() == 1


def test_missing_item_re_renders_naming_it(client, administration):
    data = _phq9([1, 1, 1, 1, 1, 1, 1, 1, 0])
    del data["item_4"]
    page = client.post(URL, data)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Please answer question 4." in html
    assert 'value="1" id="id_item_1_1" checked' in html or "checked" in html  # answers kept
    with practice_scope(administration.practice_id):
        assert not Response.objects.exists()


def test_out_of_range_value_is_an_error_not_a_crash(client, administration):
    data = _phq9([1, 1, 1, 1, 1, 1, 1, 1, 7])
    page = client.post(URL, data)
    assert page.status_code == 200
    assert "Select a valid choice" in page.content.decode()


def test_expired_link_says_so_with_the_practice_phone(client, administration):
    Administration.all_objects.filter(pk=administration.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    html = client.get(URL).content.decode()
    assert "This link has expired" in html and "(503) 555-0100" in html
    page = client.post(URL, _phq9([0] * 9))
    assert "This link has expired" in page.content.decode()
    with practice_scope(administration.practice_id):
        assert not Response.objects.exists()


def test_cancelled_link_is_no_longer_needed(client, administration):
    Administration.all_objects.filter(pk=administration.pk).update(status=Administration.Status.CANCELLED)
    assert "no longer needed" in client.get(URL).content.decode()


def test_unknown_token_is_404(client, administration):
    assert client.get("/q/not-a-real-token/").status_code == 404
    assert client.get("/q/" + "x" * 300 + "/").status_code == 404


def test_cssrs_skip_logic_scores_hidden_items_as_zero(client, practice_a, clinician_a):
    token = "cssrs-token-0123456789abcdefghijklmnopqrstuvwxyz"
    with practice_scope(practice_a):
        patient = PatientFactory(practice=practice_a, primary_clinician=clinician_a)
        administration = AdministrationFactory(
            practice=practice_a,
            patient=patient,
            instrument_code="C-SSRS-SCREEN",
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
        )
    html = client.get(f"/q/{token}/").content.decode()
    assert 'data-show-if-item="2"' in html and 'data-show-if-item="6"' in html
    # item 2 = no: items 3-5 answered anyway (no JS) are ignored; 6 = no: 6b ignored
    data = {"item_1": "1", "item_2": "0", "item_3": "1", "item_4": "1", "item_5": "1", "item_6": "0", "item_6b": "1"}
    page = client.post(f"/q/{token}/", data)
    assert "Thank you" in page.content.decode()
    with practice_scope(practice_a):
        response = Response.objects.get(administration=administration)
        assert response.answers == [1, 0, 0, 0, 0, 0, 0]


def test_cssrs_shown_items_are_required(client, practice_a, clinician_a):
    token = "cssrs-token-required-0123456789abcdefghijklmnop"
    with practice_scope(practice_a):
        patient = PatientFactory(practice=practice_a, primary_clinician=clinician_a)
        AdministrationFactory(
            practice=practice_a,
            patient=patient,
            instrument_code="C-SSRS-SCREEN",
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
        )
    page = client.post(f"/q/{token}/", {"item_1": "1", "item_2": "1", "item_6": "0"})
    html = page.content.decode()
    assert "Please answer question 3." in html and "Please answer question 6b." not in html


def test_link_of_another_practice_runs_in_that_practice_only(client, administration, practice_b):
    """The token resolves its own practice; nothing of practice B is read or written."""
    client.post(URL, _phq9([0] * 9))
    with practice_scope(practice_b):
        assert not Response.objects.exists()
    with practice_scope(administration.practice_id):
        assert Response.objects.count() == 1


def test_browsers_post_with_origin_null_under_no_referrer(administration):
    """`Referrer-Policy: no-referrer` makes browsers send `Origin: null`; the token page must take it."""
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    page = strict.post(URL, _phq9([0] * 9), HTTP_ORIGIN="null")
    assert page.status_code == 200 and "Thank you" in page.content.decode()
