"""Two patients book the same slot at the same moment (PostgreSQL): the scheduling exclusion
constraints let exactly one through and the other patient gets the friendly message."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.utils import timezone
from django_scopes import scopes_disabled

from portal import services_booking as services
from portal.tests.factories import PortalAccessFactory
from portal.tests.test_booking_rules import make_world
from practice.errors import DomainError
from practice.scoping import practice_scope
from scheduling.models import Appointment

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the exclusion constraints (btree_gist) exist on PostgreSQL only"
)


@pytest.mark.django_db(transaction=True)
def test_two_patients_booking_one_slot_at_once_get_one_appointment(practice_a, practice_b, make_member):
    world = make_world(practice_a, make_member)
    with scopes_disabled():
        second = PortalAccessFactory(practice=practice_a, patient__primary_clinician=world.clinician)
    slot = world.slots()[0]
    accesses = [world.access, second]
    barrier = threading.Barrier(len(accesses))
    results: list[object] = [None] * len(accesses)

    def attempt(index: int) -> None:
        try:
            with practice_scope(practice_a.pk), timezone.override(practice_a.timezone):
                barrier.wait(timeout=30)
                results[index] = services.portal_appointment_book(
                    access=accesses[index],
                    appointment_type=world.atype,
                    clinician=world.clinician,
                    starts_at=slot.starts_at,
                    location=slot.location,
                )
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(accesses))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    booked = [r for r in results if isinstance(r, Appointment)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(booked) == 1, results
    assert len(refused) == 1, results
    assert refused[0].message == "That time was just taken. Pick another."
    with scopes_disabled():
        assert Appointment.objects.filter(clinician=world.clinician, starts_at=slot.starts_at).count() == 1
