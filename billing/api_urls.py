"""/api/v1/ routes of billing (included from practice/api_urls.py)."""

from django.urls import path

from billing import api

LIST = {"get": "list"}
DETAIL = {"get": "retrieve"}


def _post(viewset, name: str):
    return viewset.as_view({"post": name})


urlpatterns = [
    path("payers/", api.PayerViewSet.as_view({"get": "list", "post": "create"}), name="api_payer_list"),
    path(
        "payers/<uuid:public_id>/",
        api.PayerViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api_payer_detail",
    ),
    path("fee-schedules/", api.FeeScheduleViewSet.as_view(LIST), name="api_fee_schedule_list"),
    path("fee-schedules/<uuid:public_id>/", api.FeeScheduleViewSet.as_view(DETAIL), name="api_fee_schedule_detail"),
    path("coverages/", api.CoverageViewSet.as_view({"get": "list", "post": "create"}), name="api_coverage_list"),
    path(
        "coverages/<uuid:public_id>/",
        api.CoverageViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api_coverage_detail",
    ),
    path("authorizations/", api.PriorAuthorizationViewSet.as_view(LIST), name="api_authorization_list"),
    path(
        "authorizations/<uuid:public_id>/",
        api.PriorAuthorizationViewSet.as_view(DETAIL),
        name="api_authorization_detail",
    ),
    path("charges/", api.ChargeViewSet.as_view(LIST), name="api_charge_list"),
    path("charges/<uuid:public_id>/", api.ChargeViewSet.as_view(DETAIL), name="api_charge_detail"),
    path("claims/", api.ClaimViewSet.as_view(LIST), name="api_claim_list"),
    path("claims/<uuid:public_id>/", api.ClaimViewSet.as_view(DETAIL), name="api_claim_detail"),
    path("claims/<uuid:public_id>/scrub/", _post(api.ClaimViewSet, "scrub"), name="api_claim_scrub"),
    path("claims/<uuid:public_id>/mark-ready/", _post(api.ClaimViewSet, "mark_ready"), name="api_claim_mark_ready"),
    path("claims/<uuid:public_id>/transition/", _post(api.ClaimViewSet, "transition"), name="api_claim_transition"),
    path("claims/<uuid:public_id>/void/", _post(api.ClaimViewSet, "void"), name="api_claim_void"),
    path("remittances/", api.RemittanceViewSet.as_view({"get": "list", "post": "create"}), name="api_remittance_list"),
    path("remittances/<uuid:public_id>/", api.RemittanceViewSet.as_view(DETAIL), name="api_remittance_detail"),
    path("remittance-claims/", api.RemittanceClaimViewSet.as_view(LIST), name="api_remittance_claim_list"),
    path(
        "remittance-claims/<uuid:public_id>/",
        api.RemittanceClaimViewSet.as_view(DETAIL),
        name="api_remittance_claim_detail",
    ),
    path(
        "remittance-claims/<uuid:public_id>/match/",
        _post(api.RemittanceClaimViewSet, "match"),
        name="api_remittance_claim_match",
    ),
    path(
        "remittance-claims/<uuid:public_id>/dismiss/",
        _post(api.RemittanceClaimViewSet, "dismiss"),
        name="api_remittance_claim_dismiss",
    ),
    path("denials/", api.DenialViewSet.as_view(LIST), name="api_denial_list"),
    path("denials/<uuid:public_id>/", api.DenialViewSet.as_view(DETAIL), name="api_denial_detail"),
    path("denials/<uuid:public_id>/assign/", _post(api.DenialViewSet, "assign"), name="api_denial_assign"),
    path("denials/<uuid:public_id>/note/", _post(api.DenialViewSet, "note"), name="api_denial_note"),
    path("denials/<uuid:public_id>/appeal/", _post(api.DenialViewSet, "appeal"), name="api_denial_appeal"),
    path("denials/<uuid:public_id>/write-off/", _post(api.DenialViewSet, "write_off"), name="api_denial_write_off"),
    path("denials/<uuid:public_id>/resolve/", _post(api.DenialViewSet, "resolve"), name="api_denial_resolve"),
    path("denials/<uuid:public_id>/resubmit/", _post(api.DenialViewSet, "resubmit"), name="api_denial_resubmit"),
    path("payments/", api.PaymentViewSet.as_view({"get": "list", "post": "create"}), name="api_payment_list"),
    path("payments/<uuid:public_id>/", api.PaymentViewSet.as_view(DETAIL), name="api_payment_detail"),
    path(
        "patients/<uuid:public_id>/balance/",
        api.PatientBalanceViewSet.as_view(DETAIL),
        name="api_patient_balance",
    ),
    path("statements/", api.StatementViewSet.as_view(LIST), name="api_statement_list"),
    path("statements/<uuid:public_id>/", api.StatementViewSet.as_view(DETAIL), name="api_statement_detail"),
    path("ar/summary/", api.ARSummaryViewSet.as_view({"get": "summary"}), name="api_ar_summary"),
]
