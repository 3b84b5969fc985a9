"""Staff-side portal account routes (under /p/<practice_slug>/): a patient's portal page, invitations, access."""

from django.urls import path

from portal import views_staff_account as v

P = "patients/<uuid:patient_id>/portal/"

urlpatterns = [
    path(P, v.patient_portal_view, name="patient_portal"),
    path(
        P + "invitations/<uuid:invitation_id>/resend/", v.portal_invitation_resend_view, name="portal_invitation_resend"
    ),
    path(
        P + "invitations/<uuid:invitation_id>/revoke/", v.portal_invitation_revoke_view, name="portal_invitation_revoke"
    ),
    path(P + "access/<uuid:access_id>/revoke/", v.portal_access_revoke_view, name="portal_access_revoke"),
]
