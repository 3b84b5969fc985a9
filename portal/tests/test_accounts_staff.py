"""Staff portal page: role checks, caseload, invite form pre-fill, revoke access and invitations; home cards."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from clinical.tests.factories import CommunicationConsentFactory, PatientFactory
from portal.models import PortalAccess, PortalInvitation
from portal.tests.factories import PortalAccessFactory, PortalInvitationFactory
from practice.permissions import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(practice_a):
    with scopes_disabled():
        p = PatientFactory(practice=practice_a)
        CommunicationConsentFactory(patient=p, channel="email")
        return p


def _url(patient, name="patient_portal", **kw):
    return reverse(name, kwargs={"practice_slug": patient.practice.slug, "patient_id": patient.public_id, **kw})


@pytest.mark.parametrize(("role", "status"), [(Role.FRONT_DESK, 200), (Role.ADMIN, 200), (Role.BILLER, 403)])
def test_page_role_checks(client, login, make_member, practice_a, patient, role, status):
    login(make_member(practice_a, role))
    assert client.get(_url(patient)).status_code == status


def test_clinician_sees_only_their_caseload(client, login, patient, make_member, practice_a):
    login(patient.primary_clinician)
    assert client.get(_url(patient)).status_code == 200
    login(make_member(practice_a, Role.CLINICIAN))
    assert client.get(_url(patient)).status_code in (302, 404)  # break-the-glass offer or 404


def test_invite_from_the_page_prefills_and_sends(client, login, make_member, practice_a, patient):
    login(make_member(practice_a, Role.FRONT_DESK))
    page = client.get(_url(patient))
    assert patient.email.encode() in page.content
    data = {"relationship": "self", "channel": "email", "email": patient.email, "recipient_name": "", "phone": ""}
    assert client.post(_url(patient), data).status_code == 302
    with scopes_disabled():
        assert PortalInvitation.objects.filter(patient=patient, email=patient.email).count() == 1


def test_revoke_access_and_invitation(client, login, make_member, practice_a, patient):
    with scopes_disabled():
        access = PortalAccessFactory(practice=practice_a, patient=patient)
        invitation = PortalInvitationFactory(practice=practice_a, patient=patient)
    login(make_member(practice_a, Role.FRONT_DESK))
    assert client.get(_url(patient, "portal_access_revoke", access_id=access.public_id)).status_code == 405
    assert client.post(_url(patient, "portal_access_revoke", access_id=access.public_id)).status_code == 302
    assert client.post(_url(patient, "portal_invitation_revoke", invitation_id=invitation.public_id)).status_code == 302
    with scopes_disabled():
        assert not PortalAccess.objects.get(pk=access.pk).is_active
        assert PortalInvitation.objects.get(pk=invitation.pk).revoked_at is not None


def test_home_cards_with_bounded_queries(client, practice_a, django_assert_max_num_queries):
    from scheduling.tests.factories import appointment_with_patient

    with scopes_disabled():
        access = PortalAccessFactory(practice=practice_a)
        appointment_with_patient(practice_a, patient=access.patient)
    client.force_login(access.user)
    with django_assert_max_num_queries(36):
        response = client.get(reverse("portal_home"))
    assert response.status_code == 200
    summary = response.context["summary"]
    assert summary.next_attendance is not None and summary.balance == Decimal("0")
    assert b"Next appointment" in response.content


def test_the_portal_page_lists_the_patients_threads_and_messaging_switch(client, login, patient):
    from portal.tests.factories import MessageThreadFactory, PatientMessagingFactory, ThreadMessageFactory

    with scopes_disabled():
        thread = MessageThreadFactory(practice=patient.practice, patient=patient, subject="Refill question")
        ThreadMessageFactory(practice=patient.practice, thread=thread)
        other = MessageThreadFactory(practice=patient.practice, subject="Someone else's thread")
        PatientMessagingFactory(practice=patient.practice, patient=patient, reason="Call the office instead")
    login(patient.primary_clinician)
    page = client.get(_url(patient)).content.decode()
    assert "Refill question" in page and other.subject not in page
    assert (
        reverse("message_thread", kwargs={"practice_slug": patient.practice.slug, "thread_id": thread.public_id})
        in page
    )
    assert "<strong>off</strong> for this patient (Call the office instead)" in page
