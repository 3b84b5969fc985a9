"""Portal secure messages through the staff REST API: the inbox's caseload rules, read receipts and
access log, replies and new threads through the messaging services, attachments as metadata."""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from clinical.tests import factories as cf
from portal.models import MessageThread, ThreadMessage, ThreadMessageRead
from portal.tests import factories as pf
from practice import services
from practice.models import AccessEvent
from practice.permissions import Role

pytestmark = pytest.mark.django_db


def api_as(membership) -> APIClient:
    _token, raw = services.api_token_issue(membership=membership)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def world(practice_a, practice_b, make_member):
    clinician = make_member(practice_a, Role.CLINICIAN, email="lee@riverside.test")
    colleague = make_member(practice_a, Role.CLINICIAN, email="kim@riverside.test")
    with scopes_disabled():
        mine = cf.PatientFactory(practice=practice_a, primary_clinician=clinician)
        theirs = cf.PatientFactory(practice=practice_a, primary_clinician=colleague)
        thread = pf.MessageThreadFactory(practice=practice_a, patient=mine, subject="Moving Thursday")
        message = pf.ThreadMessageFactory(practice=practice_a, thread=thread)
        pf.ThreadAttachmentFactory(practice=practice_a, message=message)
        their_thread = pf.MessageThreadFactory(practice=practice_a, patient=theirs)
        closed = pf.MessageThreadFactory(
            practice=practice_a, patient=mine, status=MessageThread.Status.CLOSED, assigned_to=clinician
        )
        other_practice = pf.MessageThreadFactory(practice=practice_b)
    return {
        "clinician": clinician,
        "mine": mine,
        "theirs": theirs,
        "thread": thread,
        "message": message,
        "their_thread": their_thread,
        "closed": closed,
        "other_practice": other_practice,
    }


def ids(response) -> list[str]:
    return [row["id"] for row in response.json()["results"]]


def test_a_clinician_lists_their_caseloads_threads_with_filters(world):
    api = api_as(world["clinician"])
    listing = api.get("/api/v1/message-threads/")
    assert listing.status_code == 200
    assert set(ids(listing)) == {str(world["thread"].public_id), str(world["closed"].public_id)}
    assert ids(api.get("/api/v1/message-threads/?is_closed=false")) == [str(world["thread"].public_id)]
    assert ids(api.get(f"/api/v1/message-threads/?assigned_to={world['clinician'].public_id}")) == [
        str(world["closed"].public_id)
    ]
    by_patient = api.get(f"/api/v1/message-threads/?patient={world['mine'].public_id}")
    assert len(ids(by_patient)) == 2
    with scopes_disabled():
        events = AccessEvent.objects.filter(action="list", object_type="portal.messagethread")
        assert events.filter(patient_id=world["mine"].public_id).count() == 1
    assert api.get(f"/api/v1/message-threads/?patient={world['theirs'].public_id}").status_code == 404


def test_reading_a_thread_shows_messages_and_attachment_metadata_marks_read_and_logs(world):
    answer = api_as(world["clinician"]).get(f"/api/v1/message-threads/{world['thread'].public_id}/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["subject"] == "Moving Thursday" and body["message_count"] == 1
    (message,) = body["messages"]
    assert message["from_patient"] is True and message["body"].startswith("Can we move")
    (attachment,) = message["attachments"]
    assert attachment["original_filename"] == "photo.png" and attachment["content_type"] == "image/png"
    assert set(attachment) == {"id", "original_filename", "content_type", "size_bytes", "sha256", "created_at"}
    with scopes_disabled():
        assert ThreadMessageRead.objects.filter(message=world["message"], member=world["clinician"]).exists()
        event = AccessEvent.objects.get(action="view", object_type="portal.messagethread")
    assert event.object_id == str(world["thread"].public_id)


def test_reply_and_start_go_through_the_services(world):
    api = api_as(world["clinician"])
    reply = api.post(f"/api/v1/message-threads/{world['thread'].public_id}/reply/", {"body": "Yes, 3pm."})
    assert reply.status_code == 201, reply.content
    assert reply.json()["from_patient"] is False and reply.json()["sender_member"] == str(world["clinician"].public_id)
    with scopes_disabled():
        world["thread"].refresh_from_db()
        assert world["thread"].needs_reply is False
    closed = api.post(f"/api/v1/message-threads/{world['closed'].public_id}/reply/", {"body": "Hello"})
    assert closed.status_code == 400 and "body" in closed.json()["error"]["fields"]

    started = api.post(
        "/api/v1/message-threads/",
        {"patient": str(world["mine"].public_id), "subject": "Forms", "body": "Please fill the intake."},
        format="json",
    )
    assert started.status_code == 201, started.content
    assert started.json()["assigned_to"] == str(world["clinician"].public_id)
    assert [m["body"] for m in started.json()["messages"]] == ["Please fill the intake."]
    outside = api.post(
        "/api/v1/message-threads/",
        {"patient": str(world["theirs"].public_id), "subject": "Hi", "body": "Hi"},
        format="json",
    )
    assert outside.status_code == 404


def test_outside_the_caseload_and_another_practice_are_404(world):
    api = api_as(world["clinician"])
    for thread in (world["their_thread"], world["other_practice"]):
        assert api.get(f"/api/v1/message-threads/{thread.public_id}/").status_code == 404
        assert api.post(f"/api/v1/message-threads/{thread.public_id}/reply/", {"body": "x"}).status_code == 404
    with scopes_disabled():
        assert not ThreadMessage.objects.filter(sender_member=world["clinician"]).exists()


def test_a_biller_without_the_inbox_permission_is_refused(world, make_member, practice_a):
    api = api_as(make_member(practice_a, Role.BILLER))
    assert api.get("/api/v1/message-threads/").status_code == 403
    assert api.get(f"/api/v1/message-threads/{world['thread'].public_id}/").status_code == 403
