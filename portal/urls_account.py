"""Patient-side account routes (under /portal/): home, sign-in, invitation, password reset, choose, account."""

from django.urls import path

from portal import views_account as v

urlpatterns = [
    path("", v.home_view, name="portal_home"),
    path("login/", v.login_view, name="portal_login"),
    path("login/verify/", v.login_verify_view, name="portal_login_verify"),
    path("logout/", v.logout_view, name="portal_logout"),
    path("invite/<str:token>/", v.invitation_accept_view, name="portal_invitation_accept"),
    path("password-reset/", v.PortalPasswordResetView.as_view(), name="portal_password_reset"),
    path("password-reset/done/", v.PortalPasswordResetDoneView.as_view(), name="portal_password_reset_done"),
    path("reset/<uidb64>/<token>/", v.PortalPasswordResetConfirmView.as_view(), name="portal_password_reset_confirm"),
    path("reset/done/", v.PortalPasswordResetCompleteView.as_view(), name="portal_password_reset_complete"),
    path("choose/", v.choose_view, name="portal_choose"),
    path("no-access/", v.no_access_view, name="portal_no_access"),
    path("account/", v.account_view, name="portal_account"),
]
