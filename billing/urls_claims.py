"""Claims routes under /p/<practice_slug>/: the queue, bulk actions, one claim, its editor, charges."""

from django.urls import path

from billing import views_claims as views

urlpatterns = [
    path("billing/claims/", views.claim_queue_view, name="claim_queue"),
    path("billing/claims/bulk/", views.claim_bulk_view, name="claim_bulk"),
    path("billing/claims/<uuid:claim_id>/", views.claim_detail_view, name="claim_detail"),
    path("billing/claims/<uuid:claim_id>/action/", views.claim_action_view, name="claim_action"),
    path("billing/claims/<uuid:claim_id>/edit/", views.claim_edit_view, name="claim_edit"),
    path("billing/charges/", views.charge_list_view, name="charge_list"),
]
