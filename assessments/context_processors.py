"""Template context for every page: the sidebar's open risk-alert badge."""

from __future__ import annotations

from django.http import HttpRequest


def risk_alerts(request: HttpRequest) -> dict:
    """`risk_alerts_open`: open alerts the member must act on (one COUNT query); 0 and no query
    for members without RISK_ALERT_ACKNOWLEDGE and outside a practice."""
    from practice.permissions import Perm

    membership = getattr(request, "membership", None)
    if membership is None or not membership.has_perm(Perm.RISK_ALERT_ACKNOWLEDGE):
        return {"risk_alerts_open": 0}
    from assessments.selectors_alerts import open_alert_count

    return {"risk_alerts_open": open_alert_count(membership)}
