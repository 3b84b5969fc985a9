from django.contrib.auth import views as auth_views
from django.urls import path

from practice.views import account, admin, auth, dashboard, health

P = "p/<slug:practice_slug>/"

urlpatterns = [
    path("", auth.home_view, name="home"),
    path("healthz", health.healthz, name="healthz"),
    # Sign-in
    path("login/", auth.login_view, name="login"),
    path("login/verify/", auth.login_verify_view, name="login_verify"),
    path("login/mfa-setup/", auth.mfa_setup_view, name="mfa_setup"),
    path("login/recovery-codes/", auth.mfa_recovery_codes_view, name="mfa_recovery_codes"),
    path("logout/", auth.logout_view, name="logout"),
    path("invite/<str:token>/", auth.invitation_accept_view, name="invitation_accept"),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(
            template_name="registration/password_reset_form.html",
            email_template_name="registration/password_reset_email.txt",
            subject_template_name="registration/password_reset_subject.txt",
        ),
        name="password_reset",
    ),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        account.PasswordResetConfirm.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    # The signed-in user's own account
    path("account/", account.account_view, name="account"),
    path("account/password/", account.password_change_view, name="account_password"),
    path("account/mfa/recovery-codes/", account.recovery_codes_regenerate_view, name="account_recovery_codes"),
    path("account/mfa/replace/", account.mfa_replace_view, name="account_mfa_replace"),
    path("account/sessions/end-others/", account.sessions_end_others_view, name="account_sessions_end_others"),
    path("account/tokens/new/", account.api_token_create_view, name="account_token_create"),
    path("account/tokens/<uuid:token_id>/revoke/", account.api_token_revoke_view, name="account_token_revoke"),
    # Practice pages: /p/<slug>/...
    path(P, dashboard.dashboard_view, name="practice_dashboard"),
    path(P + "settings/", admin.settings_view, name="practice_settings"),
    path(P + "locations/", admin.location_list_view, name="location_list"),
    path(P + "locations/new/", admin.location_create_view, name="location_create"),
    path(P + "locations/<uuid:public_id>/", admin.location_detail_view, name="location_detail"),
    path(P + "staff/", admin.staff_list_view, name="staff_list"),
    path(P + "staff/invite/", admin.staff_invite_view, name="staff_invite"),
    path(P + "staff/<uuid:public_id>/", admin.staff_detail_view, name="staff_detail"),
    path(P + "staff/<uuid:public_id>/deactivate/", admin.staff_deactivate_view, name="staff_deactivate"),
    path(P + "staff/<uuid:public_id>/reactivate/", admin.staff_reactivate_view, name="staff_reactivate"),
    path(P + "invitations/<uuid:public_id>/revoke/", admin.invitation_revoke_view, name="invitation_revoke"),
    path(P + "invitations/<uuid:public_id>/resend/", admin.invitation_resend_view, name="invitation_resend"),
    path(P + "audit/", admin.audit_log_view, name="audit_log"),
    path(P + "audit/export.csv", admin.audit_log_export_view, name="audit_log_export"),
]
