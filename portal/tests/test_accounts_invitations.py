"""Portal invitations: send (a message row, no PHI), accept (account + access), one-time, expiry, revoke."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from clinical.tests.factories import CommunicationConsentFactory, PatientFactory
from notifications.models import Message
from portal import services_accounts as services
from portal.models import PortalAccess, PortalInvitation, Relationship
from portal.tests.factories import PortalAccessFactory
from practice.errors import DomainError
from practice.models import Membership, User
from practice.permissions import Role

pytestmark = pytest.mark.django_db
PASSWORD = "a long enough passphrase 42"


@pytest.fixture
def front_desk(make_member, practice_a):
    return make_member(practice_a, Role.FRONT_DESK)


@pytest.fixture
def patient(practice_a):
    with scopes_disabled():
        p = PatientFactory(practice=practice_a, legal_first_name="Dana", legal_last_name="Okafor")
        CommunicationConsentFactory(patient=p, channel="email")
        return p


def _send(patient, by, **kwargs):
    args = {"relationship": "self", "channel": "email", "email": patient.email, "phone": "", "recipient_name": ""}
    args.update(kwargs)
    with scope(practice=patient.practice):
        return services.portal_invitation_send(patient=patient, by=by, **args)


def test_send_records_an_invitation_message_with_only_the_first_name(patient, front_desk):
    invitation, token = _send(patient, front_desk)
    with scopes_disabled():
        message = Message.objects.get(idempotency_key=f"portal-invitation:{invitation.public_id}")
        invitation.refresh_from_db()
    assert message.status == Message.Status.QUEUED and message.to_address == patient.email
    assert reverse("portal_invitation_accept", kwargs={"token": token}) in message.body
    assert "Dana" in message.body and "Okafor" not in message.body and patient.mrn not in message.body
    assert invitation.token_hash == services.token_hash(token) and token not in invitation.token_hash
    assert timedelta(days=6) < invitation.expires_at - timezone.now() <= timedelta(days=7)


def test_accept_creates_an_account_without_membership_and_an_access(client, patient, front_desk):
    _inv, token = _send(patient, front_desk)
    url = reverse("portal_invitation_accept", kwargs={"token": token})
    page = client.get(url)
    assert page.status_code == 200 and patient.email.encode() in page.content
    response = client.post(
        url, {"full_name": "Dana Okafor", "email": "dana@example.test", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302 and response.url == reverse("portal_home")
    user = User.objects.get(email="dana@example.test")
    with scopes_disabled():
        access = PortalAccess.objects.get(user=user)
        assert access.patient == patient and access.relationship == Relationship.SELF
        assert not Membership.objects.filter(user=user).exists()
    assert client.get(reverse("portal_home")).status_code == 200


def test_weak_password_is_refused_by_django_validators(client, patient, front_desk):
    _inv, token = _send(patient, front_desk)
    url = reverse("portal_invitation_accept", kwargs={"token": token})
    response = client.post(
        url, {"full_name": "Dana", "email": "d@example.test", "password1": "123", "password2": "123"}
    )
    assert response.status_code == 200 and not User.objects.filter(email="d@example.test").exists()


def test_a_link_works_once(client, patient, front_desk):
    _inv, token = _send(patient, front_desk)
    with scopes_disabled():
        services.portal_invitation_accept(token=token, password=PASSWORD, full_name="Dana", email="dana@example.test")
    with pytest.raises(DomainError):
        services.portal_invitation_accept(token=token, password=PASSWORD, full_name="X", email="x@example.test")
    assert client.get(reverse("portal_invitation_accept", kwargs={"token": token})).status_code == 404


def test_expired_and_revoked_links_are_a_clear_404(client, patient, front_desk):
    invitation, token = _send(patient, front_desk)
    url = reverse("portal_invitation_accept", kwargs={"token": token})
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        page = client.get(url)
    assert page.status_code == 404 and b"does not work" in page.content
    with scope(practice=patient.practice):
        services.portal_invitation_revoke(invitation=invitation, by=front_desk)
    assert client.get(url).status_code == 404
    assert client.get(reverse("portal_invitation_accept", kwargs={"token": "made-up"})).status_code == 404


def test_resend_mints_a_new_link_and_kills_the_old_one(patient, front_desk):
    invitation, old = _send(patient, front_desk)
    with scope(practice=patient.practice):
        new_invitation, new = services.portal_invitation_resend(invitation=invitation, by=front_desk)
    assert new != old and services.portal_invitation_find(old) is None
    assert services.portal_invitation_find(new).pk == new_invitation.pk


def test_a_signed_in_user_attaches_the_record(client, patient, front_desk, practice_b):
    with scopes_disabled():
        existing = PortalAccessFactory(practice=practice_b)
    _inv, token = _send(patient, front_desk)
    client.force_login(existing.user)
    response = client.post(reverse("portal_invitation_accept", kwargs={"token": token}))
    assert response.status_code == 302
    with scopes_disabled():
        assert PortalAccess.objects.filter(user=existing.user).count() == 2


def test_guardian_of_a_minor_gets_guardian_access(patient, front_desk, practice_a):
    with scopes_disabled():
        minor = PatientFactory(
            practice=practice_a,
            date_of_birth=timezone.localdate() - timedelta(days=365 * 12),
            guardian_name="Maria Lopez",
            guardian_email="maria@example.test",
        )
        CommunicationConsentFactory(patient=minor, channel="email")
    invitation, token = _send(minor, front_desk, relationship="guardian", email=minor.guardian_email)
    assert invitation.recipient_name == "Maria Lopez"
    with scopes_disabled():
        body = Message.objects.get(idempotency_key=f"portal-invitation:{invitation.public_id}").body
        access = services.portal_invitation_accept(
            token=token, password=PASSWORD, full_name="Maria Lopez", email="maria@example.test"
        )
    assert "Hello Maria" in body and minor.legal_first_name not in body
    assert access.relationship == Relationship.GUARDIAN and access.patient == minor


def test_guardian_of_an_adult_needs_a_reason(patient, front_desk):
    with pytest.raises(DomainError) as exc:
        _send(patient, front_desk, relationship="guardian", recipient_name="Pat", email="pat@example.test")
    assert exc.value.field == "reason"
    invitation, _ = _send(
        patient,
        front_desk,
        relationship="guardian",
        recipient_name="Pat",
        email="pat@example.test",
        reason="Court order",
    )
    assert invitation.relationship == Relationship.GUARDIAN


def test_sms_needs_a_phone_and_biller_may_not_invite(patient, front_desk, make_member, practice_a):
    with pytest.raises(DomainError):
        _send(patient, front_desk, channel="sms", phone="")
    biller = make_member(practice_a, Role.BILLER)
    with pytest.raises(DomainError):
        _send(patient, biller)
    with scopes_disabled():
        assert not PortalInvitation.objects.exists()
