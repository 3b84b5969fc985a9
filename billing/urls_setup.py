"""Billing set-up and patient coverage routes under /p/<practice_slug>/ (helper B1)."""

from django.urls import path

from billing import views_setup as v

urlpatterns = [
    path("billing/setup/", v.billing_setup_view, name="billing_setup"),
    path("billing/providers/", v.rendering_provider_list_view, name="rendering_provider_list"),
    path("billing/providers/<uuid:member_id>/", v.rendering_provider_edit_view, name="rendering_provider_edit"),
    path("billing/payers/", v.payer_list_view, name="payer_list"),
    path("billing/payers/new/", v.payer_new_view, name="payer_new"),
    path("billing/payers/<uuid:payer_id>/", v.payer_edit_view, name="payer_edit"),
    path("billing/rules/", v.scrub_rule_settings_view, name="scrub_rule_settings"),
    path("billing/fee-schedules/", v.fee_schedule_list_view, name="fee_schedule_list"),
    path("billing/fee-schedules/new/", v.fee_schedule_new_view, name="fee_schedule_new"),
    path("billing/fee-schedules/<uuid:schedule_id>/", v.fee_schedule_edit_view, name="fee_schedule_edit"),
    path("billing/sliding-scale/", v.sliding_scale_tiers_view, name="sliding_scale_tiers"),
    path("billing/eligibility/<uuid:check_id>/download/", v.eligibility_download_view, name="eligibility_download"),
    path("patients/<uuid:patient_id>/coverage/", v.patient_coverage_view, name="patient_coverage"),
    path("patients/<uuid:patient_id>/coverage/<uuid:coverage_id>/", v.coverage_edit_view, name="coverage_edit"),
    path(
        "patients/<uuid:patient_id>/coverage/<uuid:coverage_id>/authorizations/new/",
        v.authorization_new_view,
        name="authorization_new",
    ),
    path(
        "patients/<uuid:patient_id>/coverage/<uuid:coverage_id>/authorizations/<uuid:authorization_id>/",
        v.authorization_edit_view,
        name="authorization_edit",
    ),
]
