"""Risk-alert pages: the list (who sees what, filters, bounded queries), the detail page (flagged
item and answer, escalation trail, access event, 404 outside the rule) and acknowledging there."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from assessments.models import RiskAlert
from assessments.tests.factories import ResponseFactory, RiskAlertFactory
from clinical.tests.factories import PatientFactory
from practice.models import AccessEvent
from practice.permissions import Role
from practice.scoping import scopes_disabled

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(practice_a, practice_b, make_member):
    sup = make_member(practice_a, Role.SUPERVISOR, email="sam@riverside.test", full_name="Sam Super")
    cara = make_member(practice_a, Role.CLINICIAN, email="cara@riverside.test", full_name="Cara Lin", supervisor=sup)
    other = make_member(practice_a, Role.CLINICIAN, email="oscar@riverside.test", full_name="Oscar Other")
    admin = make_member(practice_a, Role.ADMIN, email="ada@riverside.test")
    front = make_member(practice_a, Role.FRONT_DESK, email="fran@riverside.test")
    with scopes_disabled():
        patient = PatientFactory(
            practice=practice_a, primary_clinician=cara, legal_first_name="Nora", legal_last_name="Vance"
        )
        response = ResponseFactory(
            practice=practice_a,
            patient=patient,
            answers=[2, 2, 1, 2, 1, 1, 2, 1, 2],
            total=14,
            severity="moderate",
            severity_label="Moderate",
            flags=["suicide_risk"],
        )
        alert = RiskAlertFactory(
            practice=practice_a,
            patient=patient,
            response=response,
            clinician=cara,
            summary="PHQ-9 item 9 answered “More than half the days”",
        )
        b_alert = RiskAlertFactory(practice=practice_b, patient=PatientFactory(practice=practice_b))
    return {
        "sup": sup,
        "cara": cara,
        "other": other,
        "admin": admin,
        "front": front,
        "patient": patient,
        "alert": alert,
        "b_alert": b_alert,
        "slug": practice_a.slug,
    }


def _list(world, **params):
    url = reverse("risk_alert_list", kwargs={"practice_slug": world["slug"]})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def _detail(world, alert=None):
    alert = alert or world["alert"]
    return reverse("risk_alert_detail", kwargs={"practice_slug": world["slug"], "alert_id": alert.public_id})


def test_clinician_sees_their_alert_in_the_list_with_the_badge(world, client, login):
    login(world["cara"])
    page = client.get(_list(world))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Nora Vance" in body
    assert "item 9" in body
    assert 'class="nav__badge"' in body and 'aria-label="1 open"' in body


def test_other_clinicians_see_nothing_and_get_404_on_the_detail(world, client, login):
    login(world["other"])
    assert "Nora Vance" not in client.get(_list(world)).content.decode()
    assert client.get(_detail(world)).status_code == 404


def test_front_desk_is_forbidden(world, client, login):
    login(world["front"])
    assert client.get(_list(world)).status_code == 403
    assert client.get(_detail(world)).status_code == 403


def test_another_practices_alert_is_404(world, client, login):
    login(world["admin"])
    assert client.get(_detail(world, world["b_alert"])).status_code == 404


def test_supervisor_and_admin_see_the_alert(world, client, login):
    for who in ("sup", "admin"):
        login(world[who])
        assert "Nora Vance" in client.get(_list(world)).content.decode()
        assert client.get(_detail(world)).status_code == 200


def test_detail_shows_item_answer_score_trail_and_records_access(world, client, login):
    login(world["cara"])
    with scopes_disabled():
        before = AccessEvent.objects.count()
    page = client.get(_detail(world))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Item 9:" in body
    assert "Thoughts that you would be better off dead" in body
    assert "More than half the days" in body
    assert "14" in body and "Moderate" in body
    assert "Opened for Cara Lin" in body
    with scopes_disabled():
        assert AccessEvent.objects.count() == before + 1
        event = AccessEvent.objects.latest("id")
    assert event.object_type == "assessments.riskalert"


def test_acknowledge_from_the_page(world, client, login):
    login(world["cara"])
    bad = client.post(_detail(world), {"action": "not_significant", "note": ""})
    assert bad.status_code == 400
    assert "Say why" in bad.content.decode()
    missing = client.post(_detail(world), {"note": "x"})
    assert missing.status_code == 400
    assert "Choose what was done" in missing.content.decode()
    ok = client.post(_detail(world), {"action": "contacted", "note": "Phoned; safe, plan reviewed."})
    assert ok.status_code == 302
    with scopes_disabled():
        alert = RiskAlert.all_objects.get(pk=world["alert"].pk)
    assert alert.status == "acknowledged" and alert.action == "contacted"
    page = client.get(_detail(world)).content.decode()
    assert "Acknowledged by Cara Lin" in page
    again = client.post(_detail(world), {"action": "crisis"})
    assert again.status_code == 400
    assert "already been acknowledged" in again.content.decode()


def test_escalated_trail_names_the_supervisor(world, client, login):
    with scopes_disabled():
        RiskAlert.all_objects.filter(pk=world["alert"].pk).update(
            escalation_level=1, escalated_to=world["sup"], escalated_at=timezone.now()
        )
    login(world["sup"])
    body = client.get(_detail(world)).content.decode()
    assert "Escalated to the supervisor, Sam Super" in body


def test_status_filter(world, client, login, practice_a):
    with scopes_disabled():
        done = RiskAlertFactory(practice=practice_a, patient=world["patient"], clinician=world["cara"])
        RiskAlert.all_objects.filter(pk=done.pk).update(
            status="acknowledged", action="crisis", acknowledged_by=world["cara"], acknowledged_at=timezone.now()
        )
    login(world["cara"])
    open_page = client.get(_list(world, status="open")).content.decode()
    ack_page = client.get(_list(world, status="acknowledged")).content.decode()
    assert str(world["alert"].public_id) in open_page and str(done.public_id) not in open_page
    assert str(done.public_id) in ack_page and str(world["alert"].public_id) not in ack_page


def test_list_queries_do_not_grow_with_rows(world, client, login, practice_a, django_assert_max_num_queries):
    login(world["admin"])
    client.get(_list(world))  # warm caches (session, membership)

    def count_queries():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(_list(world)).status_code == 200
        return len(ctx.captured_queries)

    few = count_queries()
    with scopes_disabled():
        for _ in range(12):
            p = PatientFactory(practice=practice_a, primary_clinician=world["other"])
            a = RiskAlertFactory(practice=practice_a, patient=p)
            RiskAlert.all_objects.filter(pk=a.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert count_queries() == few
    with django_assert_max_num_queries(30):
        client.get(_list(world))
