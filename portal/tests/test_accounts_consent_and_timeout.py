"""Invitation delivery versus communication consent; a guardian's reason is kept; patients time out
back to the portal's sign-in."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from clinical.tests.factories import CommunicationConsentFactory, PatientFactory
from notifications.models import Message
from portal import services_accounts as services
from portal.tests.factories import PortalAccessFactory
from practice.middleware import SESSION_LAST_ACTIVITY, SESSION_LOGIN_AT
from practice.permissions import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def front_desk(make_member, practice_a):
    return make_member(practice_a, Role.FRONT_DESK)


def _invite(patient, by, **kwargs):
    args = {"relationship": "self", "channel": "email", "email": "dana@example.test", "phone": "", "recipient_name": ""}
    with scope(practice=patient.practice):
        invitation, _token = services.portal_invitation_send(patient=patient, by=by, **(args | kwargs))
    with scopes_disabled():
        return invitation, Message.objects.get(idempotency_key=f"portal-invitation:{invitation.public_id}")


def test_invitation_goes_out_before_any_consent_is_on_file(practice_a, front_desk):
    with scopes_disabled():
        patient = PatientFactory(practice=practice_a)
    _invitation, message = _invite(patient, front_desk)
    assert message.status == Message.Status.QUEUED


def test_invitation_respects_an_opt_out(practice_a, front_desk):
    with scopes_disabled():
        patient = PatientFactory(practice=practice_a)
        CommunicationConsentFactory(patient=patient, channel="email", is_granted=False)
    _invitation, message = _invite(patient, front_desk)
    assert message.status == Message.Status.SUPPRESSED


def test_guardian_reason_for_an_adult_is_kept(practice_a, front_desk):
    with scopes_disabled():
        patient = PatientFactory(practice=practice_a, guardian_name="Robin Vale")
    invitation, _message = _invite(
        patient, front_desk, relationship="guardian", recipient_name="Robin Vale", reason="Court-appointed guardian"
    )
    assert invitation.reason == "Court-appointed guardian"


def test_idle_patient_is_sent_to_the_portal_sign_in(client, practice_a):
    with scopes_disabled():
        access = PortalAccessFactory(practice=practice_a)
    client.force_login(access.user)
    session = client.session
    stale = (timezone.now() - timedelta(hours=2)).isoformat()
    session[SESSION_LAST_ACTIVITY], session[SESSION_LOGIN_AT] = stale, stale
    session.save()
    response = client.get(reverse("portal_home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("portal_login"))
