"""Notifications pages (outbox, templates, reminder rules, settings) and the Twilio SMS webhook.

Permission: every page needs Perm.PRACTICE_MANAGE_SETTINGS. The outbox shows who was texted or
emailed what and when (patient names, numbers, appointment times): it is the operational page of
whoever configures messaging (owner, practice admin), not an audit review, so AUDIT_VIEW — a
read-only right meant for reviewing access — is not the gate. Both permissions belong to the same
roles today; the choice keeps all messaging configuration and its results under one right.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from notifications import selectors, services
from notifications.forms import MessageTemplateForm, NotificationSettingsForm, OutboxFilterForm, ReminderRuleForm
from notifications.models import Message, MessageTemplate, NotificationSettings, ReminderRule
from practice.audit import access_record
from practice.errors import DomainError
from practice.models import AccessEvent
from practice.permissions import Perm
from practice.scoping import practice_scope
from practice.views.base import practice_view

logger = logging.getLogger(__name__)

PAGE_SIZE = 50


def _zone(request: HttpRequest):
    import zoneinfo

    return zoneinfo.ZoneInfo(request.practice.timezone)


@practice_view(Perm.PRACTICE_MANAGE_SETTINGS)
def outbox_view(request: HttpRequest) -> HttpResponse:
    form = OutboxFilterForm(request.GET or None)
    filters: dict = {}
    if form.is_bound and form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v}
    qs = selectors.outbox_messages(zone=_zone(request), **filters)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    access_record(request=request, action=AccessEvent.Action.LIST, object_type="notifications.message")
    querystring = urlencode({k: request.GET[k] for k in ("status", "channel", "start", "end") if request.GET.get(k)})
    return render(
        request,
        "notifications/outbox.html",
        {"form": form, "page_obj": page, "querystring": querystring, "is_filtered": bool(filters)},
    )


@practice_view(Perm.PRACTICE_MANAGE_SETTINGS)
def message_detail_view(request: HttpRequest, message_id) -> HttpResponse:
    try:
        message = selectors.message_get(public_id=message_id)
    except Message.DoesNotExist as exc:
        raise Http404 from exc
    access_record(request=request, action=AccessEvent.Action.VIEW, target=message)
    return render(
        request,
        "notifications/message_detail.html",
        {"message": message, "reminder": selectors.message_reminder(message=message)},
    )


def _ensure_defaults(request: HttpRequest) -> None:
    # Practices created before notifications existed get their defaults on first visit.
    if not NotificationSettings.objects.exists() or not MessageTemplate.objects.exists():
        services.notifications_install_defaults(practice=request.practice)


@practice_view(Perm.PRACTICE_MANAGE_SETTINGS)
def message_templates_view(request: HttpRequest) -> HttpResponse:
    _ensure_defaults(request)
    templates = list(selectors.message_templates())
    rows = [
        {
            "template": t,
            "preview": services.template_render(t.body, key=t.key, context=services.SAMPLE_CONTEXT),
        }
        for t in templates
    ]
    return render(request, "notifications/templates.html", {"rows": rows})


@practice_view(Perm.PRACTICE_MANAGE_SETTINGS)
def message_template_edit_view(request: HttpRequest, template_id) -> HttpResponse:
    template = get_object_or_404(MessageTemplate.objects.all(), public_id=template_id)
    initial = {"subject": template.subject, "body": template.body, "is_active": template.is_active}
    form = MessageTemplateForm(request.POST if request.method == "POST" else None, initial=initial)
    preview_subject = services.template_render(template.subject, key=template.key, context=services.SAMPLE_CONTEXT)
    preview_body = services.template_render(template.body, key=template.key, context=services.SAMPLE_CONTEXT)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.template_check(key=template.key, subject=data["subject"], body=data["body"])
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            preview_subject = services.template_render(
                data["subject"], key=template.key, context=services.SAMPLE_CONTEXT
            )
            preview_body = services.template_render(data["body"], key=template.key, context=services.SAMPLE_CONTEXT)
            if "save" in request.POST:
                services.message_template_save(
                    by=request.membership,
                    template=template,
                    subject=data["subject"],
                    body=data["body"],
                    is_active=data["is_active"],
                )
                messages.success(request, "Message template saved.")
                return redirect("message_templates", practice_slug=request.practice.slug)
    allowed = sorted(services.ALLOWED_VARIABLES.get(template.key, ()))
    return render(
        request,
        "notifications/template_edit.html",
        {
            "template": template,
            "form": form,
            "allowed": allowed,
            "preview_subject": preview_subject,
            "preview_body": preview_body,
        },
    )


@practice_view(Perm.PRACTICE_MANAGE_SETTINGS)
def reminder_rules_view(request: HttpRequest) -> HttpResponse:
    _ensure_defaults(request)
    form = ReminderRuleForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.reminder_rule_add(
                by=request.membership,
                channel=form.cleaned_data["channel"],
                minutes_before=form.cleaned_data["hours_before"] * 60,
            )
        except DomainError as exc:
            form.add_error("hours_before" if exc.field == "minutes_before" else None, exc.message)
        else:
            messages.success(request, "Reminder added. It applies to appointments booked or changed from now on.")
            return redirect("reminder_rules", practice_slug=request.practice.slug)
    return render(request, "notifications/reminder_rules.html", {"rules": selectors.reminder_rules(), "form": form})


@require_POST
@practice_view(Perm.PRACTICE_MANAGE_SETTINGS)
def reminder_rule_toggle_view(request: HttpRequest, rule_id) -> HttpResponse:
    rule = get_object_or_404(ReminderRule.objects.all(), public_id=rule_id)
    services.reminder_rule_set_active(by=request.membership, rule=rule, is_active=not rule.is_active)
    messages.success(request, "Reminder switched on." if not rule.is_active else "Reminder switched off.")
    return redirect("reminder_rules", practice_slug=request.practice.slug)


@practice_view(Perm.PRACTICE_MANAGE_SETTINGS)
def notification_settings_view(request: HttpRequest) -> HttpResponse:
    row = services.notification_settings_get(practice_id=request.practice.pk)
    form = NotificationSettingsForm(request.POST if request.method == "POST" else None, instance=row)
    if request.method == "POST" and form.is_valid():
        try:
            services.notification_settings_update(by=request.membership, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Messaging settings saved.")
            return redirect("notification_settings", practice_slug=request.practice.slug)
    return render(request, "notifications/settings.html", {"form": form})


# --- Twilio webhook (public) -----------------------------------------------------------------


def _twiml(reply: str) -> HttpResponse:
    from twilio.twiml.messaging_response import MessagingResponse

    response = MessagingResponse()
    if reply:
        response.message(reply)
    return HttpResponse(str(response), content_type="application/xml")


def _url_as_twilio_sees_it(request: HttpRequest) -> str:
    # Behind a proxy Django's idea of the host/scheme may differ from the public URL Twilio signed.
    return settings.SITE_URL.rstrip("/") + request.get_full_path()


@csrf_exempt
@require_POST
def twilio_inbound_sms(request: HttpRequest) -> HttpResponse:
    """Inbound SMS from Twilio: signature checked first (invalid -> 403, nothing changes), then the
    practice is found by the number texted and the patient by the number texting."""
    from twilio.request_validator import RequestValidator

    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    params = {key: request.POST.get(key) for key in request.POST}
    if (
        not token
        or not signature
        or not RequestValidator(token).validate(_url_as_twilio_sees_it(request), params, signature)
    ):
        return HttpResponseForbidden("Invalid signature.")
    to_number = params.get("To", "") or ""
    sid = params.get("MessageSid", "") or params.get("SmsSid", "") or ""
    if not sid or not to_number:
        return _twiml("")
    # The webhook has no practice yet: find it by its number (ids only cross practices here).
    practice_ids = list(
        NotificationSettings.all_objects.filter(sms_from_number=to_number).values_list("practice_id", flat=True)[:2]
    )
    if len(practice_ids) != 1:
        logger.warning("inbound SMS %s to a number of %s practices", sid, len(practice_ids))
        return _twiml("")
    with practice_scope(practice_ids[0]) as practice:
        _, reply = services.inbound_sms_handle(
            practice=practice,
            from_number=params.get("From", "") or "",
            to_number=to_number,
            body=params.get("Body", "") or "",
            provider_id=sid,
        )
    return _twiml(reply)
