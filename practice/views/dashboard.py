from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from practice import selectors
from practice.permissions import Perm
from practice.views.base import practice_view


@practice_view(Perm.PRACTICE_VIEW_DASHBOARD)
def dashboard_view(request: HttpRequest) -> HttpResponse:
    from assessments.selectors_alerts import dashboard_card as risk_alert_card
    from assessments.selectors_outcomes import outcome_card
    from clinical.selectors.notes import outstanding_counts, practice_documentation_backlog

    membership = request.membership
    today = None
    if membership.has_perm(Perm.SCHEDULE_VIEW):
        from practice.permissions import Role
        from scheduling.selectors_calendar import today_load

        own = membership.role in (Role.CLINICIAN, Role.SUPERVISOR)  # their own day; others see the practice's
        today = today_load(practice=request.practice, clinician=membership if own else None)
    return render(
        request,
        "practice/dashboard/dashboard.html",
        {
            "summary": selectors.practice_summary(practice=request.practice),
            # The member's own clinical work (counts only); None shows the placeholder card.
            "outstanding": outstanding_counts(membership) if membership.has_perm(Perm.NOTE_WRITE) else None,
            # Practice-wide documentation backlog (counts only) for those who run the practice.
            "backlog": practice_documentation_backlog()
            if not membership.has_perm(Perm.NOTE_WRITE) and membership.has_perm(Perm.AUDIT_VIEW)
            else None,
            # Today's appointments (counts by status, the next few); None keeps the placeholder.
            "today": today,
            # Open risk alerts (counts only) for members who act on them; None keeps the placeholder.
            "risk_alerts": risk_alert_card(membership),
            # PHQ-9 outcomes of the last 90 days (aggregates only); None keeps the placeholder.
            "outcomes": outcome_card() if membership.has_perm(Perm.OUTCOMES_VIEW_DASHBOARD) else None,
            # A/R summary (aggregates only, billing.metrics); None keeps the placeholder.
            "ar": _ar_card() if membership.has_perm(Perm.AR_VIEW_DASHBOARD) else None,
        },
    )


def _ar_card():
    from django.utils import timezone

    from billing.metrics import ar_card

    return ar_card(as_of=timezone.localdate())
