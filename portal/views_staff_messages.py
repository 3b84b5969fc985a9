"""Staff inbox for portal messages under /p/<slug>/messages/ (Perm.MESSAGES_VIEW; clinicians see
their caseload only — another patient's thread is a 404), plus the per-patient messaging switch
(Perm.MESSAGING_MANAGE) and starting a thread to a patient. Thin views: rules in
portal.services_messages, reads in portal.selectors_messages."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinical.access import can_view_demographics
from clinical.models import Patient
from portal import selectors_messages as selectors
from portal import services_messages as services
from portal.forms_messages import AssignForm, MessageForm, MessagingSwitchForm, NewThreadForm
from portal.models import MessageThread, PatientMessaging
from portal.views_messages import attachment_response
from practice.audit import access_record
from practice.errors import DomainError
from practice.models import Membership
from practice.permissions import Perm
from practice.views.base import practice_view

T = "portal/staff/messages/"


def _form_error(form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _thread_or_404(request: HttpRequest, thread_id) -> MessageThread:
    thread = selectors.thread_for_member(member=request.membership, thread_id=thread_id)
    if thread is None:
        raise Http404("No such conversation.")
    return thread


def _patient_or_404(request: HttpRequest, patient_id) -> Patient:
    patient = get_object_or_404(Patient.objects.select_related("primary_clinician"), public_id=patient_id)
    if not can_view_demographics(request.membership, patient):
        raise Http404("No such patient.")
    return patient


def _back(request: HttpRequest, thread: MessageThread) -> HttpResponse:
    return redirect("message_thread", practice_slug=request.practice.slug, thread_id=thread.public_id)


@practice_view(Perm.MESSAGES_VIEW)
@require_GET
def message_inbox(request: HttpRequest) -> HttpResponse:
    inbox = selectors.message_inbox(member=request.membership, filter=request.GET.get("show", "all"))
    tabs = [(key, label, inbox.counts.get(key)) for key, label in selectors.INBOX_FILTERS.items()]
    return render(request, T + "inbox.html", {"inbox": inbox, "tabs": tabs, "active": "messages"})


def _render_thread(request: HttpRequest, thread: MessageThread, form: MessageForm, status: int = 200) -> HttpResponse:
    members = selectors.assignable_members(patient=thread.patient)
    context = {
        "thread": thread,
        "patient": thread.patient,
        "thread_messages": selectors.thread_messages(thread),
        "form": form,
        "assign_form": AssignForm(
            initial={"assigned_to": str(thread.assigned_to.public_id) if thread.assigned_to else ""}, members=members
        ),
        "messaging_on": services.messaging_is_enabled(patient=thread.patient),
        "can_manage_messaging": request.membership.has_perm(Perm.MESSAGING_MANAGE),
        "active": "messages",
    }
    return render(request, T + "thread.html", context, status=status)


@practice_view(Perm.MESSAGES_VIEW)
@require_GET
def message_thread(request: HttpRequest, thread_id) -> HttpResponse:
    thread = _thread_or_404(request, thread_id)
    services.thread_mark_read_by_staff(thread=thread, by=request.membership)
    access_record(request=request, action="view", target=thread)
    return _render_thread(request, thread, MessageForm())


@practice_view(Perm.MESSAGES_VIEW)
@require_POST
def message_thread_reply(request: HttpRequest, thread_id) -> HttpResponse:
    thread = _thread_or_404(request, thread_id)
    form = MessageForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.message_reply_by_staff(
                thread=thread,
                by=request.membership,
                body=form.cleaned_data["body"],
                files=form.cleaned_data["attachments"],
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Reply sent. The patient is told a message is waiting.")
            return _back(request, thread)
    return _render_thread(request, thread, form, status=400)


@practice_view(Perm.MESSAGES_VIEW)
@require_POST
def message_thread_assign(request: HttpRequest, thread_id) -> HttpResponse:
    thread = _thread_or_404(request, thread_id)
    value = request.POST.get("assigned_to", "")
    to = None
    if value:
        to = Membership.objects.filter(public_id=value).first() if _is_uuid(value) else None
        if to is None:
            messages.error(request, "Choose a member.")
            return _back(request, thread)
    try:
        services.thread_assign(thread=thread, by=request.membership, to=to)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Assigned to {to.user.display_name}." if to else "Unassigned.")
    return _back(request, thread)


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@practice_view(Perm.MESSAGES_VIEW)
@require_POST
def message_thread_close(request: HttpRequest, thread_id) -> HttpResponse:
    thread = _thread_or_404(request, thread_id)
    reopen = request.POST.get("reopen") == "1"
    try:
        services.thread_close(thread=thread, by=request.membership, is_closed=not reopen)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Conversation reopened." if reopen else "Conversation closed.")
    return _back(request, thread)


@practice_view(Perm.MESSAGES_VIEW)
@require_GET
def message_attachment(request: HttpRequest, attachment_id) -> HttpResponse:
    attachment = selectors.attachment_for_member(member=request.membership, attachment_id=attachment_id)
    if attachment is None:
        raise Http404("No such attachment.")
    access_record(request=request, action="view", target=attachment)
    return attachment_response(attachment)


@practice_view(Perm.MESSAGES_VIEW)
@require_http_methods(["GET", "POST"])
def message_new_for_patient(request: HttpRequest, patient_id) -> HttpResponse:
    patient = _patient_or_404(request, patient_id)
    form = NewThreadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            thread = services.thread_start_by_staff(
                patient=patient,
                by=request.membership,
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                files=form.cleaned_data["attachments"],
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Message sent. The patient is told a message is waiting.")
            return _back(request, thread)
    context = {
        "patient": patient,
        "form": form,
        "messaging_on": services.messaging_is_enabled(patient=patient),
        "threads": list(selectors.threads_for_patient(patient)[:50]),
        "active": "messages",
    }
    return render(request, T + "new.html", context, status=400 if form.errors else 200)


@practice_view(Perm.MESSAGING_MANAGE)
@require_http_methods(["GET", "POST"])
def patient_messaging(request: HttpRequest, patient_id) -> HttpResponse:
    patient = _patient_or_404(request, patient_id)
    switch = PatientMessaging.objects.filter(patient=patient).select_related("changed_by__user").first()
    enabled = services.messaging_is_enabled(patient=patient)
    form = MessagingSwitchForm(request.POST or None, initial={"is_enabled": "1" if enabled else "0"})
    if request.method == "POST" and form.is_valid():
        try:
            services.messaging_set(
                patient=patient,
                by=request.membership,
                is_enabled=form.cleaned_data["is_enabled"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request,
                "Portal messaging turned on." if form.cleaned_data["is_enabled"] else "Portal messaging turned off.",
            )
            return redirect("patient_messaging", practice_slug=request.practice.slug, patient_id=patient.public_id)
    context = {"patient": patient, "form": form, "switch": switch, "enabled": enabled, "active": "messages"}
    return render(request, T + "patient_messaging.html", context, status=400 if form.errors else 200)
