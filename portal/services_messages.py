"""Secure messaging between a patient (or guardian) and the practice (writes).

Messages are part of the record: never edited, never deleted. Attachments are checked like chart
documents (type sniffed from the bytes, size limit) before anything is written. Notifications say
only that a message is waiting: the patient gets the PORTAL_MESSAGE template (email and/or SMS, as
consented), staff get a plain email with a link to the thread.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from clinical.access import patients_visible_to
from clinical.models import Patient
from clinical.services.records import DOCUMENT_TYPES, _read_and_hash, detect_content_type
from portal.access import portal_settings_for
from portal.models import MessageThread, PatientMessaging, ThreadAttachment, ThreadMessage, ThreadMessageRead
from practice.errors import DomainError
from practice.models import Membership, User
from practice.permissions import Perm

logger = logging.getLogger(__name__)

MAX_ATTACHMENTS = 5
MAX_BODY_CHARS = 5000
MAX_SUBJECT_CHARS = 150


# --- Rules ---------------------------------------------------------------------------------------


def messaging_is_enabled(*, patient: Patient) -> bool:
    """The practice allows portal messaging and no clinician turned it off for this patient."""
    if not portal_settings_for(patient.practice).messaging_enabled:
        return False
    switch = PatientMessaging.objects.filter(patient=patient).only("is_enabled").first()
    return switch is None or switch.is_enabled


def _require_messaging(patient: Patient) -> None:
    if not messaging_is_enabled(patient=patient):
        raise DomainError("Portal messaging is turned off. Please call the practice instead.", code="messaging_off")


def member_may_see_patient(member: Membership, patient: Patient) -> bool:
    """Staff see threads of patients they may see (clinicians: their caseload)."""
    if member.practice_id != patient.practice_id or not member.has_perm(Perm.MESSAGES_VIEW):
        return False
    return patients_visible_to(member).filter(pk=patient.pk).exists()


def _require_staff(member: Membership, patient: Patient) -> None:
    if not member_may_see_patient(member, patient):
        raise DomainError("Not found.", code="not_found")


def _clean_text(subject: str | None, body: str | None, *, needs_subject: bool) -> tuple[str, str]:
    subject = " ".join((subject or "").split())
    body = (body or "").strip()
    if needs_subject and not subject:
        raise DomainError("Enter a subject.", field="subject")
    if len(subject) > MAX_SUBJECT_CHARS:
        raise DomainError(f"Keep the subject under {MAX_SUBJECT_CHARS} characters.", field="subject")
    if not body:
        raise DomainError("Write a message.", field="body")
    if len(body) > MAX_BODY_CHARS:
        raise DomainError(f"Keep the message under {MAX_BODY_CHARS} characters.", field="body")
    return subject, body


# --- Attachments ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CheckedFile:
    upload: UploadedFile
    content_type: str
    sha256: str
    size: int


def _check_files(files: Sequence[UploadedFile] | None) -> list[_CheckedFile]:
    """Validate every file first, so a bad one rejects the message with nothing saved."""
    files = [f for f in (files or []) if f is not None]
    if len(files) > MAX_ATTACHMENTS:
        raise DomainError(f"Attach at most {MAX_ATTACHMENTS} files.", field="attachments")
    limit = settings.TEND_MAX_UPLOAD_BYTES
    too_big = f"is larger than {limit // (1024 * 1024)} MB."
    checked = []
    for upload in files:
        name = (upload.name or "file")[-80:]
        if upload.size is not None and upload.size > limit:
            raise DomainError(f"{name} {too_big}", field="attachments")
        head, sha256, size = _read_and_hash(upload)
        if size == 0:
            raise DomainError(f"{name} is empty.", field="attachments")
        if size > limit:
            raise DomainError(f"{name} {too_big}", field="attachments")
        content_type = detect_content_type(head)
        if content_type is None:
            raise DomainError(
                f"{name}: attach a PDF, PNG, JPEG or HEIC file. This file is another type.", field="attachments"
            )
        checked.append(_CheckedFile(upload, content_type, sha256, size))
    return checked


def _store_files(message: ThreadMessage, checked: list[_CheckedFile]) -> None:
    """Save the files under random names; if anything fails, remove what was stored."""
    stored: list[tuple[object, str]] = []
    try:
        for item in checked:
            attachment = ThreadAttachment(
                practice_id=message.practice_id,
                message=message,
                content_type=item.content_type,
                size_bytes=item.size,
                sha256=item.sha256,
                original_filename=(item.upload.name or "")[-255:],
            )
            attachment.file.save(f"{uuid.uuid4().hex}.{DOCUMENT_TYPES[item.content_type]}", item.upload, save=False)
            stored.append((attachment.file.storage, attachment.file.name))
            attachment.save()
    except Exception:
        for storage, name in stored:
            storage.delete(name)
        raise


# --- Notifications -------------------------------------------------------------------------------


def _patient_recipients(patient) -> list[tuple[str, str]]:
    """(email, first name) of who reads a minor's portal: their active guardians; else nobody extra."""
    if not patient.is_minor:
        return []
    from portal.models import PortalAccess, Relationship

    guardians = PortalAccess.objects.filter(
        patient=patient, relationship=Relationship.GUARDIAN, is_active=True
    ).select_related("user")
    return [(a.user.email, (a.user.full_name or "").split(" ")[0]) for a in guardians if a.user.email]


def _notify_patient(message: ThreadMessage) -> None:
    """Tell the patient (a minor's guardians) that a message is waiting, with no content: email
    and/or SMS as they consented."""
    from django.urls import reverse

    from notifications.models import Channel, MessageTemplate
    from notifications.services import consent_is_granted, message_send
    from practice.services import site_url

    patient = message.thread.patient
    link = {"link": f"{site_url()}{reverse('portal_messages')}"}
    guardians = _patient_recipients(patient)
    if guardians:
        for index, (email, first_name) in enumerate(guardians):
            message_send(
                practice=patient.practice,
                patient=patient,
                channel=Channel.EMAIL,
                template_key=MessageTemplate.Key.PORTAL_MESSAGE,
                context=link | ({"patient_first_name": first_name} if first_name else {}),
                to_address=email,
                idempotency_key=f"portal-message:{message.public_id}:guardian:{index}",
                requested_by_patient=True,
            )
        return
    channels = [c for c in (Channel.EMAIL, Channel.SMS) if consent_is_granted(patient=patient, channel=c)]
    # No consent at all: the email row is still recorded (as suppressed) so staff can see why.
    for channel in channels or [Channel.EMAIL]:
        message_send(
            practice=patient.practice,
            patient=patient,
            channel=channel,
            template_key=MessageTemplate.Key.PORTAL_MESSAGE,
            context=link,
            idempotency_key=f"portal-message:{message.public_id}:{channel}",
        )


def staff_recipient(thread: MessageThread) -> Membership | None:
    if thread.assigned_to_id:
        return thread.assigned_to
    return thread.patient.primary_clinician


def _notify_staff_on_commit(message: ThreadMessage) -> None:
    """Queue the care-team email about a patient's message (portal.tasks); broker trouble must not
    fail the committed message — the inbox shows it either way."""
    practice_id, message_id = message.practice_id, message.pk

    def queue() -> None:
        from portal.tasks import portal_message_staff_notify_task

        try:
            portal_message_staff_notify_task.delay(practice_id=practice_id, message_id=message_id)
        except Exception:
            logger.exception("could not queue the portal message notice for message %s", message_id)

    transaction.on_commit(queue)


def portal_message_staff_notify(*, message_id: int) -> bool:
    """Email the assigned member (else the primary clinician) that a patient wrote: a link only.
    Claimed with a conditional UPDATE, so a retried task sends at most once."""
    from django.core.mail import send_mail
    from django.urls import reverse

    from practice.services import site_url

    claimed = ThreadMessage.objects.filter(
        pk=message_id, sender_user__isnull=False, staff_notified_at__isnull=True
    ).update(staff_notified_at=timezone.now(), updated_at=timezone.now())
    if not claimed:
        return False
    message = ThreadMessage.objects.select_related(
        "thread__patient__primary_clinician__user", "thread__assigned_to__user"
    ).get(pk=message_id)
    member = staff_recipient(message.thread)
    if member is None or not member.is_active or not member.user.email:
        return False
    path = reverse(
        "message_thread", kwargs={"practice_slug": message.thread.practice.slug, "thread_id": message.thread.public_id}
    )
    try:
        send_mail(
            subject="A patient sent a portal message",
            message=(
                "A patient sent a message in the Tend portal:\n"
                f"{site_url()}{path}\n\n"
                "This email does not name the patient or the message; the thread does, after you sign in.\n"
            ),
            from_email=None,
            recipient_list=[member.user.email],
        )
    except Exception:
        # Release the claim so the task's retry sends it (at least once beats never for this notice).
        ThreadMessage.objects.filter(pk=message_id).update(staff_notified_at=None)
        raise
    return True


# --- Patient side --------------------------------------------------------------------------------


def _require_access(user: User, patient: Patient) -> None:
    if not patient.portal_accesses.filter(user=user, is_active=True).exists():
        raise DomainError("Not found.", code="not_found")


def _add_patient_message(*, thread: MessageThread, user: User, body: str, checked: list[_CheckedFile]) -> ThreadMessage:
    now = timezone.now()
    message = ThreadMessage.objects.create(
        practice_id=thread.practice_id, thread=thread, sender_user=user, body=body, sent_at=now
    )
    _store_files(message, checked)
    thread.last_message_at, thread.needs_reply, thread.status = now, True, MessageThread.Status.OPEN
    thread.save(update_fields=["last_message_at", "needs_reply", "status", "updated_at"])
    _notify_staff_on_commit(message)
    return message


@transaction.atomic
def thread_start_by_patient(
    *, patient: Patient, user: User, subject: str, body: str, files: Sequence[UploadedFile] = ()
) -> MessageThread:
    """A patient (or guardian) writes to the practice: a new thread, unassigned, needing a reply."""
    _require_access(user, patient)
    _require_messaging(patient)
    subject, body = _clean_text(subject, body, needs_subject=True)
    checked = _check_files(files)
    thread = MessageThread.objects.create(
        practice_id=patient.practice_id, patient=patient, subject=subject, started_by_patient=True
    )
    _add_patient_message(thread=thread, user=user, body=body, checked=checked)
    return thread


@transaction.atomic
def message_send_by_patient(
    *, thread: MessageThread, user: User, body: str, files: Sequence[UploadedFile] = ()
) -> ThreadMessage:
    """A patient replies in a thread (a closed thread opens again)."""
    thread = MessageThread.objects.select_for_update().select_related("patient").get(pk=thread.pk)
    _require_access(user, thread.patient)
    _require_messaging(thread.patient)
    _, body = _clean_text("", body, needs_subject=False)
    checked = _check_files(files)
    return _add_patient_message(thread=thread, user=user, body=body, checked=checked)


@transaction.atomic
def thread_mark_read_by_patient(*, thread: MessageThread) -> int:
    """Opening a thread marks the staff messages in it read (a conditional UPDATE: first read stands)."""
    return ThreadMessage.objects.filter(
        thread=thread, sender_member__isnull=False, read_by_patient_at__isnull=True
    ).update(read_by_patient_at=timezone.now(), updated_at=timezone.now())


# --- Staff side ----------------------------------------------------------------------------------


def _add_staff_message(
    *, thread: MessageThread, by: Membership, body: str, checked: list[_CheckedFile]
) -> ThreadMessage:
    now = timezone.now()
    message = ThreadMessage.objects.create(
        practice_id=thread.practice_id, thread=thread, sender_member=by, body=body, sent_at=now
    )
    _store_files(message, checked)
    thread.last_message_at, thread.needs_reply = now, False
    thread.save(update_fields=["last_message_at", "needs_reply", "updated_at"])
    _notify_patient(message)
    return message


@transaction.atomic
def thread_start_by_staff(
    *, patient: Patient, by: Membership, subject: str, body: str, files: Sequence[UploadedFile] = ()
) -> MessageThread:
    """A member writes to a patient: a new thread assigned to them."""
    _require_staff(by, patient)
    _require_messaging(patient)
    subject, body = _clean_text(subject, body, needs_subject=True)
    checked = _check_files(files)
    thread = MessageThread.objects.create(
        practice_id=patient.practice_id,
        patient=patient,
        subject=subject,
        started_by_patient=False,
        assigned_to=by,
        needs_reply=False,
    )
    _add_staff_message(thread=thread, by=by, body=body, checked=checked)
    return thread


@transaction.atomic
def message_reply_by_staff(
    *, thread: MessageThread, by: Membership, body: str, files: Sequence[UploadedFile] = ()
) -> ThreadMessage:
    thread = MessageThread.objects.select_for_update().select_related("patient").get(pk=thread.pk)
    _require_staff(by, thread.patient)
    _require_messaging(thread.patient)
    if thread.status == MessageThread.Status.CLOSED:
        raise DomainError("This conversation is closed. Reopen it to reply.", field="body")
    _, body = _clean_text("", body, needs_subject=False)
    checked = _check_files(files)
    return _add_staff_message(thread=thread, by=by, body=body, checked=checked)


@transaction.atomic
def thread_mark_read_by_staff(*, thread: MessageThread, by: Membership) -> int:
    """Read receipts: one row per patient message per member (the first read stands)."""
    unread = list(
        ThreadMessage.objects.filter(thread=thread, sender_user__isnull=False)
        .exclude(reads__member=by)
        .values_list("pk", flat=True)
    )
    ThreadMessageRead.objects.bulk_create(
        [ThreadMessageRead(practice_id=thread.practice_id, message_id=pk, member=by) for pk in unread],
        ignore_conflicts=True,
    )
    return len(unread)


@transaction.atomic
def thread_assign(*, thread: MessageThread, by: Membership, to: Membership | None) -> MessageThread:
    """Assign the thread to a member who may see the patient (None: unassigned)."""
    thread = MessageThread.objects.select_for_update().select_related("patient").get(pk=thread.pk)
    _require_staff(by, thread.patient)
    if to is not None and (not to.is_active or not member_may_see_patient(to, thread.patient)):
        raise DomainError("That member cannot see this patient's messages.", field="assigned_to")
    thread.assigned_to = to
    thread.save(update_fields=["assigned_to", "updated_at"])
    return thread


@transaction.atomic
def thread_close(*, thread: MessageThread, by: Membership, is_closed: bool = True) -> MessageThread:
    """Close a thread (it leaves the inbox) or reopen it."""
    thread = MessageThread.objects.select_for_update().select_related("patient").get(pk=thread.pk)
    _require_staff(by, thread.patient)
    thread.status = MessageThread.Status.CLOSED if is_closed else MessageThread.Status.OPEN
    thread.save(update_fields=["status", "updated_at"])
    return thread


@transaction.atomic
def messaging_set(*, patient: Patient, by: Membership, is_enabled: bool, reason: str) -> PatientMessaging:
    """Turn portal messaging off or on for one patient, saying why."""
    if by.practice_id != patient.practice_id or not by.has_perm(Perm.MESSAGING_MANAGE):
        raise DomainError("Your role does not allow this.", code="forbidden")
    _require_staff(by, patient)
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError("Say why.", field="reason")
    if len(reason) > 300:
        raise DomainError("Keep the reason under 300 characters.", field="reason")
    switch, _ = PatientMessaging.objects.update_or_create(
        patient=patient,
        defaults={
            "practice_id": patient.practice_id,
            "is_enabled": is_enabled,
            "reason": reason,
            "changed_by": by,
            "changed_at": timezone.now(),
        },
    )
    return switch
