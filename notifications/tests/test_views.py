"""Notifications pages: permission, scoping, filters, bounded queries, template editor rules."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from notifications import services
from notifications.models import MessageTemplate, NotificationSettings, Reminder, ReminderRule
from notifications.tests.factories import MessageFactory, ReminderFactory
from practice.models import AccessEvent
from practice.permissions import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_a(make_member, practice_a):
    return make_member(practice_a, Role.ADMIN, email="admin@riverside.test")


def _url(name, practice, **kw):
    return reverse(name, kwargs={"practice_slug": practice.slug, **kw})


def test_outbox_lists_filters_and_pages_with_bounded_queries(
    client, login, admin_a, practice_a, practice_b, django_assert_max_num_queries
):
    with scopes_disabled():
        for _ in range(60):
            MessageFactory(practice=practice_a, status="sent")
        MessageFactory(practice=practice_a, status="failed", last_error="twilio 400 21211")
        MessageFactory(practice=practice_b, status="failed", body="other practice body")
    login(admin_a)
    with django_assert_max_num_queries(25):
        page = client.get(_url("outbox", practice_a))
    assert page.status_code == 200
    assert "Page 1 of 2" in page.content.decode()
    failed = client.get(_url("outbox", practice_a), {"status": "failed"}).content.decode()
    assert "twilio 400 21211" in failed
    assert "other practice body" not in failed
    with scopes_disabled():
        assert AccessEvent.objects.filter(practice=practice_a, action="list").exists()


def test_message_detail_records_access_and_hides_other_practices(client, login, admin_a, practice_a, practice_b):
    with scopes_disabled():
        mine = MessageFactory(practice=practice_a)
        theirs = MessageFactory(practice=practice_b)
    login(admin_a)
    assert client.get(_url("message_detail", practice_a, message_id=mine.public_id)).status_code == 200
    assert client.get(_url("message_detail", practice_a, message_id=theirs.public_id)).status_code == 404
    with scopes_disabled():
        assert AccessEvent.objects.filter(practice=practice_a, action="view", object_id=str(mine.public_id)).exists()


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.FRONT_DESK, Role.BILLER])
def test_other_roles_cannot_open_the_outbox(client, login, make_member, practice_a, role):
    login(make_member(practice_a, role))
    assert client.get(_url("outbox", practice_a)).status_code == 403


def test_template_editor_previews_and_refuses_clinical_variables(client, login, admin_a, practice_a):
    login(admin_a)
    assert client.get(_url("message_templates", practice_a)).status_code == 200  # installs defaults lazily
    with scopes_disabled():
        template = MessageTemplate.all_objects.get(practice=practice_a, key="reminder", channel="sms")
    url = _url("message_template_edit", practice_a, template_id=template.public_id)
    page = client.post(url, {"body": "See you {{ date }} re {{ diagnosis }}", "is_active": "on", "save": "1"})
    assert page.status_code == 200
    assert "Not allowed in this message: diagnosis" in page.content.decode()
    preview = client.post(url, {"body": "See you {{ weekday }} at {{ time }}", "is_active": "on", "preview": "1"})
    assert "See you Tuesday at 3:00 PM" in preview.content.decode()
    saved = client.post(url, {"body": "See you {{ weekday }} at {{ time }}", "is_active": "on", "save": "1"})
    assert saved.status_code == 302
    template.refresh_from_db()
    assert template.body == "See you {{ weekday }} at {{ time }}"


def test_reminder_rules_add_and_switch_off_cancels_pending(client, login, admin_a, practice_a):
    login(admin_a)
    assert client.post(_url("reminder_rules", practice_a), {"channel": "sms", "hours_before": "2"}).status_code == 302
    with scopes_disabled():
        rule = ReminderRule.all_objects.get(practice=practice_a, minutes_before=120)
        from scheduling.tests.factories import appointment_with_patient

        reminder = ReminderFactory(attendee=appointment_with_patient(practice_a).attendees.first(), rule=rule)
    assert client.post(_url("reminder_rule_toggle", practice_a, rule_id=rule.public_id)).status_code == 302
    with scopes_disabled():
        rule.refresh_from_db()
        assert not rule.is_active
        assert Reminder.all_objects.get(pk=reminder.pk).status == "cancelled"


def test_notification_settings_saved_and_validated(client, login, admin_a, practice_a):
    login(admin_a)
    url = _url("notification_settings", practice_a)
    assert client.get(url).status_code == 200
    data = {"sms_from_number": "555-0100", "quiet_hours_start": "21:00", "quiet_hours_end": "08:00"}
    assert "E.164" in client.post(url, data).content.decode()
    data["sms_from_number"] = "+15035550100"
    data["include_location"] = "on"
    assert client.post(url, data).status_code == 302
    with scopes_disabled():
        row = NotificationSettings.all_objects.get(practice=practice_a)
    assert (row.sms_from_number, row.include_clinician_name, row.include_location) == ("+15035550100", False, True)


def test_new_practice_gets_defaults_through_the_setup_hook(db):
    from practice.services import practice_create
    from practice.tests.factories import UserFactory

    practice = practice_create(name="New Practice", owner=UserFactory())
    with scopes_disabled():
        assert MessageTemplate.all_objects.filter(practice=practice).count() == 19
        assert ReminderRule.all_objects.filter(practice=practice).count() == 2
    assert services.notifications_install_defaults(practice=practice) == 0
