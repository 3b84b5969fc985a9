"""Portal secure messaging: threads and replies both ways, read receipts, notifications without
content, attachment rules, messaging switched off, assignment, the clinicians' caseload rule and
bounded queries."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django_scopes import scopes_disabled

from clinical.tests.factories import CommunicationConsentFactory, PatientFactory
from notifications.models import Message
from portal.models import MessageThread, PatientMessaging, ThreadAttachment, ThreadMessage, ThreadMessageRead
from portal.tests.factories import (
    PNG_BYTES,
    MessageThreadFactory,
    PortalAccessFactory,
    PortalSettingsFactory,
    ThreadAttachmentFactory,
    ThreadMessageFactory,
)
from practice.permissions import Role

pytestmark = pytest.mark.django_db

SECRET = "my sleep has been terrible since the new dose"


@pytest.fixture
def world(practice_a, practice_b, make_member, client):
    clinician = make_member(practice_a, Role.CLINICIAN)
    with scopes_disabled():
        patient = PatientFactory(practice=practice_a, primary_clinician=clinician)
        access = PortalAccessFactory(practice=practice_a, patient=patient)
        CommunicationConsentFactory(patient=patient, channel="email", is_granted=True)
    client.force_login(access.user)
    return type("W", (), {"practice": practice_a, "clinician": clinician, "patient": patient, "access": access})


def _staff(member) -> Client:
    from practice.tests.factories import sign_in

    return sign_in(Client(), member)


def _surl(world, name, **kwargs):
    return reverse(name, kwargs={"practice_slug": world.practice.slug, **kwargs})


def _start(client, subject="Sleep", body=SECRET, **extra):
    return client.post(reverse("portal_message_new"), {"subject": subject, "body": body, **extra})


def test_patient_starts_a_thread_and_the_clinician_is_emailed_without_content(
    world, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _start(client)
    assert response.status_code == 302
    with scopes_disabled():
        thread = MessageThread.all_objects.get(patient=world.patient)
        assert thread.needs_reply and thread.started_by_patient and thread.assigned_to is None
        assert thread.messages.get().sender_user == world.access.user
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [world.clinician.user.email]
    assert SECRET not in email.body and "Sleep" not in email.body
    assert str(thread.public_id) in email.body
    # the unassigned thread is in the clinician's default inbox (their caseload), needing a reply
    inbox = _staff(world.clinician).get(_surl(world, "message_inbox")).content.decode()
    assert str(thread.public_id) in inbox and "Needs reply" in inbox


def test_staff_reply_notifies_the_patient_without_content_and_the_patient_reads_it(
    world, client, django_capture_on_commit_callbacks
):
    _start(client)
    with scopes_disabled():
        thread = MessageThread.all_objects.get(patient=world.patient)
    staff = _staff(world.clinician)
    reply = "We can lower the dose; see you Thursday."
    page = staff.get(_surl(world, "message_thread", thread_id=thread.public_id))
    assert page.status_code == 200 and SECRET in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(_surl(world, "message_thread_reply", thread_id=thread.public_id), {"body": reply})
    assert response.status_code == 302
    with scopes_disabled():
        thread.refresh_from_db()
        assert not thread.needs_reply
        sent = Message.all_objects.filter(patient=world.patient, template_key="portal_message")
        assert sent.count() == 1  # email consented, SMS not
        note = sent.get()
        assert note.channel == "email" and note.status != "suppressed"
        assert reply not in note.body and SECRET not in note.body and "/portal/messages/" in note.body
        staff_message = ThreadMessage.all_objects.get(thread=thread, sender_member=world.clinician)
        assert staff_message.read_by_patient_at is None
        # read receipt for the patient's message, recorded when the clinician opened the thread
        assert ThreadMessageRead.all_objects.filter(member=world.clinician).count() == 1
    assert (
        "Not yet read by the patient"
        in staff.get(_surl(world, "message_thread", thread_id=thread.public_id)).content.decode()
    )
    # the patient sees a badge, opens the thread, and the staff message is marked read
    listing = client.get(reverse("portal_messages")).content.decode()
    assert "1 new" in listing
    page = client.get(reverse("portal_thread", kwargs={"thread_id": thread.public_id}))
    assert reply in page.content.decode()
    with scopes_disabled():
        staff_message.refresh_from_db()
        assert staff_message.read_by_patient_at is not None
    assert (
        "Read by the patient" in staff.get(_surl(world, "message_thread", thread_id=thread.public_id)).content.decode()
    )
    # and the patient replies: the thread needs a reply again
    client.post(reverse("portal_thread_reply", kwargs={"thread_id": thread.public_id}), {"body": "Thank you"})
    with scopes_disabled():
        thread.refresh_from_db()
        assert thread.needs_reply and thread.messages.count() == 3


def test_notice_shows_on_compose_and_messages_are_never_editable(world, client):
    page = client.get(reverse("portal_message_new")).content.decode()
    assert "not for emergencies" in page


def test_attachment_is_sniffed_stored_and_downloaded_by_both_sides(world, client):
    png = SimpleUploadedFile("scan.png", PNG_BYTES, content_type="image/png")
    _start(client, attachments=[png])
    with scopes_disabled():
        attachment = ThreadAttachment.all_objects.get(message__thread__patient=world.patient)
    assert attachment.content_type == "image/png" and attachment.size_bytes == len(PNG_BYTES)
    assert not attachment.file.name.endswith("scan.png")
    mine = client.get(reverse("portal_attachment", kwargs={"attachment_id": attachment.public_id}))
    assert mine.status_code == 200 and b"".join(mine.streaming_content) == PNG_BYTES
    assert "attachment;" in mine["Content-Disposition"] and mine["X-Content-Type-Options"] == "nosniff"
    staff = _staff(world.clinician)
    theirs = staff.get(_surl(world, "message_attachment", attachment_id=attachment.public_id))
    assert theirs.status_code == 200


def test_a_disguised_file_is_refused_and_nothing_is_saved(world, client):
    fake = SimpleUploadedFile("photo.png", b"<html><script>alert(1)</script></html>", content_type="image/png")
    response = _start(client, attachments=[fake])
    assert response.status_code == 400
    assert "another type" in response.content.decode()
    with scopes_disabled():
        assert not MessageThread.all_objects.filter(patient=world.patient).exists()
        assert not ThreadMessage.all_objects.exists()


def test_an_oversized_file_is_refused(world, client, settings):
    settings.TEND_MAX_UPLOAD_BYTES = 40
    big = SimpleUploadedFile("big.png", PNG_BYTES, content_type="image/png")
    response = _start(client, attachments=[big])
    assert response.status_code == 400 and "larger than" in response.content.decode()
    with scopes_disabled():
        assert not MessageThread.all_objects.exists()


def test_messaging_switched_off_for_the_patient_explains_and_refuses(world, client):
    _start(client)
    with scopes_disabled():
        thread = MessageThread.all_objects.get(patient=world.patient)
    staff = _staff(world.clinician)
    response = staff.post(
        _surl(world, "patient_messaging", patient_id=world.patient.public_id),
        {"is_enabled": "0", "reason": "Call instead"},
    )
    assert response.status_code == 302
    with scopes_disabled():
        assert PatientMessaging.all_objects.get(patient=world.patient).is_enabled is False
    page = client.get(reverse("portal_message_new")).content.decode()
    assert "not available" in page and world.practice.phone in page
    assert _start(client, subject="Again").status_code == 403
    reply = client.post(reverse("portal_thread_reply", kwargs={"thread_id": thread.public_id}), {"body": "hello?"})
    assert reply.status_code == 403
    with scopes_disabled():
        assert ThreadMessage.all_objects.filter(thread=thread).count() == 1


def test_practice_wide_switch_off_refuses_too(world, client):
    with scopes_disabled():
        PortalSettingsFactory(practice=world.practice, messaging_enabled=False)
    assert _start(client).status_code == 403


def test_front_desk_cannot_switch_messaging(world, make_member):
    desk = make_member(world.practice, Role.FRONT_DESK)
    response = _staff(desk).post(
        _surl(world, "patient_messaging", patient_id=world.patient.public_id), {"is_enabled": "0", "reason": "x"}
    )
    assert response.status_code == 403


def test_assignment_and_inbox_filters(world, client, make_member):
    _start(client)
    with scopes_disabled():
        thread = MessageThread.all_objects.get(patient=world.patient)
    desk = make_member(world.practice, Role.FRONT_DESK)
    staff = _staff(desk)
    unassigned = staff.get(_surl(world, "message_inbox") + "?show=unassigned").content.decode()
    assert str(thread.public_id) in unassigned
    staff.post(
        _surl(world, "message_thread_assign", thread_id=thread.public_id),
        {"assigned_to": str(world.clinician.public_id)},
    )
    with scopes_disabled():
        thread.refresh_from_db()
        assert thread.assigned_to == world.clinician
    mine = _staff(world.clinician).get(_surl(world, "message_inbox")).content.decode()
    assert str(thread.public_id) in mine and "Needs reply" in mine
    # a clinician who cannot see the patient cannot be assigned
    other = make_member(world.practice, Role.CLINICIAN)
    staff.post(_surl(world, "message_thread_assign", thread_id=thread.public_id), {"assigned_to": str(other.public_id)})
    with scopes_disabled():
        thread.refresh_from_db()
        assert thread.assigned_to == world.clinician
    staff.post(_surl(world, "message_thread_close", thread_id=thread.public_id))
    with scopes_disabled():
        thread.refresh_from_db()
        assert thread.status == "closed"
    assert str(thread.public_id) not in staff.get(_surl(world, "message_inbox") + "?show=all").content.decode()


def test_a_clinician_outside_the_caseload_gets_404(world, client, make_member):
    _start(client)
    with scopes_disabled():
        thread = MessageThread.all_objects.get(patient=world.patient)
        attachment = ThreadAttachmentFactory(practice=world.practice, message=thread.messages.get())
    outsider = _staff(make_member(world.practice, Role.CLINICIAN))
    assert outsider.get(_surl(world, "message_thread", thread_id=thread.public_id)).status_code == 404
    assert (
        outsider.post(_surl(world, "message_thread_reply", thread_id=thread.public_id), {"body": "hi"}).status_code
        == 404
    )
    assert outsider.get(_surl(world, "message_attachment", attachment_id=attachment.public_id)).status_code == 404
    assert str(thread.public_id) not in outsider.get(_surl(world, "message_inbox") + "?show=all").content.decode()
    with scopes_disabled():
        assert thread.messages.count() == 1


def test_staff_start_a_thread_to_a_patient(world, client, django_capture_on_commit_callbacks):
    staff = _staff(world.clinician)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            _surl(world, "message_new_for_patient", patient_id=world.patient.public_id),
            {"subject": "Your forms", "body": "Please complete the intake forms."},
        )
    assert response.status_code == 302
    with scopes_disabled():
        thread = MessageThread.all_objects.get(patient=world.patient)
        assert not thread.started_by_patient and thread.assigned_to == world.clinician and not thread.needs_reply
        assert Message.all_objects.filter(patient=world.patient, template_key="portal_message").count() == 1
    assert "Your forms" in client.get(reverse("portal_messages")).content.decode()


def test_pages_use_bounded_queries(world, client, django_assert_max_num_queries):
    with scopes_disabled():
        for i in range(12):
            thread = MessageThreadFactory(practice=world.practice, patient=world.patient, subject=f"T{i}")
            message = ThreadMessageFactory(practice=world.practice, thread=thread, sender_user=world.access.user)
            ThreadAttachmentFactory(practice=world.practice, message=message)
            ThreadMessageFactory(
                practice=world.practice, thread=thread, sender_user=None, sender_member=world.clinician
            )
    staff = _staff(world.clinician)
    # warm up: the first request creates the practice's portal settings and audit chain heads
    client.get(reverse("portal_messages"))
    staff.get(_surl(world, "message_inbox"))
    with django_assert_max_num_queries(22):
        assert client.get(reverse("portal_messages")).status_code == 200
    with django_assert_max_num_queries(30):
        assert client.get(reverse("portal_thread", kwargs={"thread_id": thread.public_id})).status_code == 200
    with django_assert_max_num_queries(15):
        assert staff.get(_surl(world, "message_inbox") + "?show=all").status_code == 200
    with django_assert_max_num_queries(32):
        assert staff.get(_surl(world, "message_thread", thread_id=thread.public_id)).status_code == 200
