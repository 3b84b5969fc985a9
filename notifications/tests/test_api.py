"""Notifications API: the outbox (read-only, audited, bodies only in a message's detail), message
templates, reminder rules and messaging settings — all behind the settings right like the pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.forms.models import model_to_dict
from django.urls import reverse
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from clinical.tests.factories import PatientFactory
from notifications.models import Message, MessageTemplate, Reminder, ReminderRule
from notifications.tests.factories import MessageFactory, MessageTemplateFactory, ReminderFactory, ReminderRuleFactory
from practice import services as practice_services
from practice.models import AccessEvent
from practice.permissions import Role

NOW = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)


def _client(membership) -> APIClient:
    _token, raw = practice_services.api_token_issue(membership=membership)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def admin(practice_a, make_member):
    return make_member(practice_a, Role.ADMIN)


@pytest.fixture
def api(admin):
    with time_machine.travel(NOW, tick=False):
        yield _client(admin)


def _row(obj):
    with scopes_disabled():
        return model_to_dict(type(obj).all_objects.get(pk=obj.pk))


def _message(practice, *, created_at=NOW, **kwargs):
    with scopes_disabled():
        message = MessageFactory(practice=practice, **kwargs)
        Message.all_objects.filter(pk=message.pk).update(created_at=created_at)
        return message


def _events(action):
    with scopes_disabled():
        return AccessEvent.objects.filter(action=action, object_type="notifications.message")


# --- outbox ----------------------------------------------------------------------------------


def test_outbox_lists_newest_first_without_bodies_and_writes_a_list_event(api, practice_a, practice_b):
    older = _message(practice_a, created_at=NOW - timedelta(days=2), body="Older body")
    newer = _message(practice_a, created_at=NOW - timedelta(hours=1), status=Message.Status.SENT)
    _message(practice_b)
    response = api.get(reverse("api_message_list"))
    assert response.status_code == 200
    results = response.json()["results"]
    assert [m["id"] for m in results] == [str(newer.public_id), str(older.public_id)]
    assert "body" not in results[0] and "subject" not in results[0]
    assert results[0]["patient"] == str(newer.patient.public_id)
    assert _events("list").count() == 1


def test_outbox_filters(api, practice_a):
    with scopes_disabled():
        patient = PatientFactory(practice=practice_a)
    failed = _message(practice_a, status=Message.Status.FAILED, channel="email", to_address="a@example.org")
    mine = _message(practice_a, patient=patient, created_at=NOW - timedelta(days=3))
    _message(practice_a, created_at=NOW - timedelta(days=10))
    url = reverse("api_message_list")

    def ids(**params):
        response = api.get(url, params)
        assert response.status_code == 200, response.content
        return [m["id"] for m in response.json()["results"]]

    assert ids(status="failed") == [str(failed.public_id)]
    assert ids(channel="email") == [str(failed.public_id)]
    assert ids(patient=str(patient.public_id)) == [str(mine.public_id)]
    assert ids(start="2026-05-28", end="2026-05-30") == [str(mine.public_id)]
    assert _events("list").filter(patient_id=patient.public_id).count() == 1
    backwards = api.get(url, {"start": "2026-05-30", "end": "2026-05-28"})
    assert backwards.status_code == 400 and "end" in backwards.json()["error"]["fields"]
    assert api.get(url, {"status": "lost"}).status_code == 400


def test_message_detail_has_the_body_and_writes_a_view_event(api, practice_a, practice_b):
    message = _message(practice_a, body="See you Tuesday at 3:00 PM.")
    theirs = _message(practice_b)
    response = api.get(reverse("api_message_detail", kwargs={"public_id": message.public_id}))
    assert response.status_code == 200
    assert response.json()["body"] == "See you Tuesday at 3:00 PM."
    event = _events("view").get()
    assert event.object_id == str(message.public_id)
    assert api.get(reverse("api_message_detail", kwargs={"public_id": theirs.public_id})).status_code == 404
    assert _events("view").count() == 1


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.CLINICIAN, Role.BILLER])
def test_roles_without_the_settings_right_get_403_everywhere(practice_a, make_member, role):
    message = _message(practice_a)
    with scopes_disabled():
        template = MessageTemplateFactory(practice=practice_a)
        rule = ReminderRuleFactory(practice=practice_a)
    client = _client(make_member(practice_a, role))
    before = (_row(template), _row(rule))
    gets = [
        reverse("api_message_list"),
        reverse("api_message_detail", kwargs={"public_id": message.public_id}),
        reverse("api_message_template_list"),
        reverse("api_reminder_rule_list"),
        reverse("api_notification_settings"),
    ]
    for url in gets:
        assert client.get(url).status_code == 403, url
    template_url = reverse("api_message_template_detail", kwargs={"public_id": template.public_id})
    assert client.patch(template_url, {"body": "Hi"}, format="json").status_code == 403
    rule_url = reverse("api_reminder_rule_detail", kwargs={"public_id": rule.public_id})
    assert client.patch(rule_url, {"is_active": False}, format="json").status_code == 403
    assert client.post(reverse("api_reminder_rule_list"), {"channel": "sms", "minutes_before": 120}).status_code == 403
    assert (_row(template), _row(rule)) == before
    with scopes_disabled():
        assert not AccessEvent.objects.filter(object_type="notifications.message").exists()


def test_messages_cannot_be_written_through_the_api(api, practice_a):
    message = _message(practice_a)
    before = _row(message)
    assert api.post(reverse("api_message_list"), {"body": "x"}, format="json").status_code == 405
    detail = reverse("api_message_detail", kwargs={"public_id": message.public_id})
    assert api.patch(detail, {"body": "x"}, format="json").status_code == 405
    assert api.delete(detail).status_code == 405
    assert _row(message) == before


# --- templates -------------------------------------------------------------------------------


def test_template_list_installs_the_defaults_and_filters(api, practice_a):
    with scopes_disabled():
        assert not MessageTemplate.all_objects.filter(practice=practice_a).exists()
    response = api.get(reverse("api_message_template_list"), {"key": "reminder"})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert {t["channel"] for t in rows} == {"email", "sms"}
    assert "clinician" in rows[0]["allowed_variables"]
    sms = api.get(reverse("api_message_template_list"), {"key": "reminder", "channel": "sms"}).json()["results"]
    assert len(sms) == 1


def test_template_update_allows_only_the_kinds_variables(api, practice_a):
    with scopes_disabled():
        template = MessageTemplateFactory(practice=practice_a, key="questionnaire", channel="sms", body="Hi {{ link }}")
    url = reverse("api_message_template_detail", kwargs={"public_id": template.public_id})
    before = _row(template)
    not_allowed = api.patch(url, {"body": "Your {{ diagnosis }} form: {{ link }}"}, format="json")
    assert not_allowed.status_code == 400 and "body" in not_allowed.json()["error"]["fields"]
    tags = api.patch(url, {"body": "{% if x %}Hi{% endif %}"}, format="json")
    assert tags.status_code == 400 and "body" in tags.json()["error"]["fields"]
    empty = api.patch(url, {"body": ""}, format="json")
    assert empty.status_code == 400 and "body" in empty.json()["error"]["fields"]
    assert _row(template) == before
    ok = api.patch(url, {"body": "{{ practice_name }}: a short form is waiting {{ link }}"}, format="json")
    assert ok.status_code == 200, ok.content
    assert ok.json()["body"].startswith("{{ practice_name }}")
    off = api.patch(url, {"is_active": False}, format="json")
    assert off.json()["is_active"] is False and off.json()["body"] == ok.json()["body"]


def test_another_practices_template_and_rule_are_404(api, practice_b):
    with scopes_disabled():
        template = MessageTemplateFactory(practice=practice_b)
        rule = ReminderRuleFactory(practice=practice_b)
    before = (_row(template), _row(rule))
    for name, obj, body in (
        ("api_message_template_detail", template, {"body": "Hi"}),
        ("api_reminder_rule_detail", rule, {"is_active": False}),
    ):
        url = reverse(name, kwargs={"public_id": obj.public_id})
        assert api.get(url).status_code == 404
        assert api.patch(url, body, format="json").status_code == 404
    assert (_row(template), _row(rule)) == before


# --- reminder rules --------------------------------------------------------------------------


def test_reminder_rules_add_and_refuse_duplicates_and_out_of_range(api, practice_a):
    url = reverse("api_reminder_rule_list")
    listed = api.get(url).json()["results"]
    assert {(r["channel"], r["minutes_before"]) for r in listed} == {("email", 2880), ("sms", 1440)}  # defaults
    created = api.post(url, {"channel": "sms", "minutes_before": 120}, format="json")
    assert created.status_code == 201 and created.json()["is_active"] is True
    twice = api.post(url, {"channel": "sms", "minutes_before": 120}, format="json")
    assert twice.status_code == 400 and "minutes_before" in twice.json()["error"]["fields"]
    too_soon = api.post(url, {"channel": "sms", "minutes_before": 5}, format="json")
    assert too_soon.status_code == 400 and "minutes_before" in too_soon.json()["error"]["fields"]
    with scopes_disabled():
        assert ReminderRule.all_objects.filter(practice=practice_a).count() == 3


def test_switching_a_rule_off_cancels_its_pending_reminders(api, practice_a):
    with scopes_disabled():
        rule = ReminderRuleFactory(practice=practice_a, minutes_before=600)
        from scheduling.tests.factories import appointment_with_patient

        attendee = appointment_with_patient(practice_a).attendees.get()
        reminder = ReminderFactory(attendee=attendee, rule=rule)
    url = reverse("api_reminder_rule_detail", kwargs={"public_id": rule.public_id})
    assert api.get(url).json()["minutes_before"] == 600
    response = api.patch(url, {"is_active": False}, format="json")
    assert response.status_code == 200 and response.json()["is_active"] is False
    with scopes_disabled():
        assert Reminder.all_objects.get(pk=reminder.pk).status == Reminder.Status.CANCELLED
    assert api.patch(url, {}, format="json").status_code == 400


# --- settings --------------------------------------------------------------------------------


def test_messaging_settings_read_and_update(api):
    url = reverse("api_notification_settings")
    assert api.get(url).status_code == 200
    changed = api.patch(url, {"include_location": False, "quiet_hours_start": "20:00"}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["include_location"], changed.json()["quiet_hours_start"]) == (False, "20:00:00")
    bad = api.patch(url, {"sms_from_number": "555-0100"}, format="json")
    assert bad.status_code == 400 and "sms_from_number" in bad.json()["error"]["fields"]
    same = api.patch(url, {"quiet_hours_end": "20:00"}, format="json")
    assert same.status_code == 400 and "quiet_hours_end" in same.json()["error"]["fields"]
    assert api.get(url).json() == changed.json()


def test_an_api_key_needs_the_notifications_scopes(admin, practice_a):
    from integrations.api_keys import api_key_create

    with scopes_disabled():
        template = MessageTemplateFactory(practice=practice_a)
    before = _row(template)
    _key, raw = api_key_create(by=admin, name="Schedule only", scopes=["scheduling:read", "scheduling:write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(reverse("api_message_list")).status_code == 403
    _key, raw = api_key_create(by=admin, name="Outbox monitor", scopes=["notifications:read"])
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(reverse("api_message_list")).status_code == 200
    url = reverse("api_message_template_detail", kwargs={"public_id": template.public_id})
    assert client.patch(url, {"is_active": False}, format="json").status_code == 403
    assert _row(template) == before
