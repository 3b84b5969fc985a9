"""Intake setup: the default packet installer and consent versions."""

from __future__ import annotations

import pytest
from django_scopes import scope

from portal import services_intake as services
from portal.intake_defaults import install_default_intake
from portal.models import ConsentDocument, IntakePacket, IntakeStep, PortalSettings

pytestmark = pytest.mark.django_db


def test_default_intake_is_installed_once_and_set_for_the_practice(practice_a):
    first = install_default_intake(practice_a)
    second = install_default_intake(practice_a)
    with scope(practice=practice_a):
        assert first == second and IntakePacket.objects.count() == 1
        assert [s.kind for s in first.steps.order_by("position")] == list(IntakeStep.Kind.values)
        assert PortalSettings.objects.get().intake_packet == first


def test_new_consent_version_keeps_the_signed_one(practice_a):
    packet = install_default_intake(practice_a)
    with scope(practice=practice_a):
        old = ConsentDocument.objects.get()
        new = services.consent_new_version(consent=old, title=old.title, body=old.body + "\n\nNew paragraph.")
        old.refresh_from_db()
        assert (old.version, old.is_current, new.version, new.is_current) == (1, False, 2, True)
        assert old.body_sha256 == services.sha256_text(old.body)
        assert packet.steps.get(kind="consent").consent == new
        with pytest.raises(services.DomainError):
            services.consent_new_version(consent=new, title=new.title, body=new.body)


def test_a_new_practice_gets_the_default_intake_packet_through_the_setup_hook(db):
    from django_scopes import scopes_disabled

    from portal.models import IntakePacket, PortalSettings
    from practice.services import practice_create
    from practice.tests.factories import UserFactory

    practice = practice_create(name="Fresh Start Counseling", owner=UserFactory())
    with scopes_disabled():
        packet = IntakePacket.all_objects.get(practice=practice)
        assert PortalSettings.all_objects.get(practice=practice).intake_packet == packet
        assert packet.steps.count() == 5
