"""Patient-side secure messaging at /portal/messages/: threads, compose, a thread with its reply
form, attachment download. Every object is looked up through request.patient (another patient's
id is a 404); rules live in portal.services_messages."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinical.services.records import DOCUMENT_TYPES
from portal import selectors_messages as selectors
from portal import services_messages as services
from portal.access import portal_settings_for, portal_view
from portal.forms_messages import MessageForm, NewThreadForm
from portal.models import MessageThread
from practice.audit import access_record
from practice.errors import DomainError
from practice.views.errors import not_found

T = "portal/messages/"
DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}


def not_found_in_scope(view):
    """Render a 404 inside the practice scope: the portal nav's context processor queries scoped
    models, so Django's handler404 (run after portal_view has left the scope) would raise ScopeError.
    Stop-gap until portal_view does this for every portal view."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Http404 as exc:
            return not_found(request, exc)

    return wrapper


def _context(request: HttpRequest, **extra) -> dict:
    settings = portal_settings_for(request.practice)
    return {
        "practice": request.practice,
        "messaging_on": services.messaging_is_enabled(patient=request.patient),
        "messaging_notice": settings.messaging_notice,
        **extra,
    }


def _form_error(form, exc: DomainError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


@portal_view
@not_found_in_scope
@require_GET
def portal_messages(request: HttpRequest) -> HttpResponse:
    threads = list(selectors.threads_for_patient(request.patient)[:100])
    access_record(request=request, action="view", target=request.patient, reason="portal messages")
    return render(request, T + "list.html", _context(request, threads=threads))


@portal_view
@not_found_in_scope
@require_http_methods(["GET", "POST"])
def portal_message_new(request: HttpRequest) -> HttpResponse:
    context = _context(request)
    if not context["messaging_on"]:
        if request.method == "POST":
            return render(request, T + "off.html", context, status=403)
        return render(request, T + "off.html", context)
    form = NewThreadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            thread = services.thread_start_by_patient(
                patient=request.patient,
                user=request.user,
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                files=form.cleaned_data["attachments"],
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Your message was sent.")
            return redirect("portal_thread", thread_id=thread.public_id)
    context["form"] = form
    return render(request, T + "new.html", context, status=400 if form.errors else 200)


def _thread_or_404(request: HttpRequest, thread_id) -> MessageThread:
    return get_object_or_404(MessageThread, public_id=thread_id, patient=request.patient)


def _render_thread(request: HttpRequest, thread: MessageThread, form: MessageForm, status: int = 200) -> HttpResponse:
    context = _context(request, thread=thread, thread_messages=selectors.thread_messages(thread), form=form)
    return render(request, T + "thread.html", context, status=status)


@portal_view
@not_found_in_scope
@require_GET
def portal_thread(request: HttpRequest, thread_id) -> HttpResponse:
    thread = _thread_or_404(request, thread_id)
    services.thread_mark_read_by_patient(thread=thread)
    access_record(request=request, action="view", target=thread)
    return _render_thread(request, thread, MessageForm())


@portal_view
@not_found_in_scope
@require_POST
def portal_thread_reply(request: HttpRequest, thread_id) -> HttpResponse:
    thread = _thread_or_404(request, thread_id)
    if not services.messaging_is_enabled(patient=request.patient):
        return render(request, T + "off.html", _context(request), status=403)
    form = MessageForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.message_send_by_patient(
                thread=thread, user=request.user, body=form.cleaned_data["body"], files=form.cleaned_data["attachments"]
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Your reply was sent.")
            return redirect("portal_thread", thread_id=thread.public_id)
    return _render_thread(request, thread, form, status=400)


@portal_view
@not_found_in_scope
@require_GET
def portal_attachment(request: HttpRequest, attachment_id) -> HttpResponse:
    attachment = selectors.attachment_for_patient(patient=request.patient, attachment_id=attachment_id)
    if attachment is None:
        raise Http404("No such attachment.")
    access_record(request=request, action="view", target=attachment)
    return attachment_response(attachment)


def attachment_response(attachment) -> FileResponse:
    """Served as a download with the type detected at upload, never the uploader's name or type."""
    extension = DOCUMENT_TYPES.get(attachment.content_type, "bin")
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=f"attachment-{attachment.public_id}.{extension}",
        content_type=attachment.content_type,
    )
    for header, value in DOWNLOAD_HEADERS.items():
        response[header] = value
    return response
