"""The portal's navigation (with the unread-message badge) for patient-side pages."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

NAV = [
    ("portal_appointments", "Appointments"),
    ("portal_intake", "Forms"),
    ("portal_questionnaires", "Questionnaires"),
    ("portal_messages", "Messages"),
    ("portal_billing", "Billing"),
    ("portal_account", "Account"),
]


def portal_nav(request) -> dict:
    access = getattr(request, "portal_access", None)
    if access is None:
        return {}
    from portal.models import ThreadMessage

    unread = ThreadMessage.objects.filter(
        thread__patient=request.patient, sender_member__isnull=False, read_by_patient_at__isnull=True
    ).count()
    items = []
    for name, label in NAV:
        try:
            url = reverse(name)
        except NoReverseMatch:  # an area not built yet
            continue
        items.append(
            {
                "url": url,
                "label": label,
                "current": request.path.startswith(url),
                "badge": unread if name == "portal_messages" and unread else 0,
            }
        )
    return {"portal_nav": items, "portal_can_switch": len(getattr(request, "portal_accesses", [])) > 1}
