"""835 remittance pages under /p/<practice_slug>/billing/remittances/ (issue 7, helper R1)."""

from django.urls import path

from billing import views_remittance as views

urlpatterns = [
    path("billing/remittances/", views.remittance_list_view, name="remittance_list"),
    path("billing/remittances/upload/", views.remittance_upload_view, name="remittance_upload"),
    path("billing/remittances/unmatched/", views.unmatched_remittances_view, name="unmatched_remittances"),
    path(
        "billing/remittances/claims/<uuid:remittance_claim_id>/match/",
        views.remittance_claim_match_view,
        name="remittance_claim_match",
    ),
    path(
        "billing/remittances/claims/<uuid:remittance_claim_id>/dismiss/",
        views.remittance_claim_dismiss_view,
        name="remittance_claim_dismiss",
    ),
    path("billing/remittances/<uuid:remittance_id>/", views.remittance_detail_view, name="remittance_detail"),
]
