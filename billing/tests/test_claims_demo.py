"""The demo claims seed (helper B2): charges from signed notes, claims with the two planted
findings, some ready, one exported 837; a second run changes nothing."""

from __future__ import annotations

import pytest

from billing.demo_claims import seed_billing_claims
from billing.models import Charge, Claim, ClaimFile, ScrubFinding
from billing.tests.claims_world import add_patient, make_world, signed_note
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db


def test_seed_builds_flagged_and_ready_claims_and_is_idempotent(practice_a):
    pytest.importorskip("billing.services_scrub")
    with practice_scope(practice_a):
        world = make_world(practice_a, patients=4)
        world.payer.auth_required_cpts = ["90791"]
        world.payer.save()
        signed_note(world.patients[0], world.clinician, days_ago=3)  # 45 minutes, 90834
        for patient in world.patients[1:]:
            signed_note(patient, world.clinician, days_ago=4)
        signed_note(world.patients[1], world.clinician, days_ago=10, service_code="90791", end_time=None)
        add_patient(world, coverage=False)
        signed_note(world.patients[-1], world.clinician, days_ago=5)
    first = seed_billing_claims(practice_a)
    assert first["charges"] == 6 and first["claims"] == 5 and first["flagged"] == 2
    assert first["ready"] >= 1
    with practice_scope(practice_a):
        codes = set(ScrubFinding.objects.filter(severity="error").values_list("rule_code", flat=True))
        assert {"P1", "C9"} <= codes
        assert Charge.objects.filter(kind="patient").count() == 1
        claims = Claim.objects.count()
        files = ClaimFile.objects.filter(status="released").count()
    assert files == first["files"]
    if pytest.importorskip("billing.services_export"):
        assert files == 1
    again = seed_billing_claims(practice_a)
    assert again == {"charges": 0, "claims": 0, "flagged": 0, "ready": 0, "files": 0}
    with practice_scope(practice_a):
        assert Claim.objects.count() == claims
