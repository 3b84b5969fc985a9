"""`manage.py import_835` and the clearinghouse path (services_acks) post 835s with the same checks."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from billing.models import Claim, InboundFile, Remittance
from billing.services_acks import inbound_file_import
from billing.tests.era_files import DATA, clp, era
from billing.tests.factories import claim_with_lines
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db


def _claims(practice):
    with practice_scope(practice):
        for cn in ("PCN2025000101", "PCN2025000103", "PCN2025000102", "PCN2024120901"):
            claim_with_lines(practice, control_number=cn, status=Claim.Status.SUBMITTED)


def test_command_prints_the_summary_and_json(practice_a, capsys, tmp_path):
    _claims(practice_a)
    call_command("import_835", str(DATA / "synthetic_bh_835.txt"), "--practice", practice_a.slug)
    out = capsys.readouterr().out
    assert "Claims matched 5, paid 3, partially paid 0, denied 1, reversed 1" in out
    assert "total paid $376.25" in out
    call_command("import_835", str(DATA / "synthetic_bh_835.txt"), "--practice", practice_a.slug, "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "duplicate" and data["total_paid"] == "376.25"
    first = data["claims"][0]
    assert first["claim_id"] == "PCN2025000101" and first["paid"] == "180.00"
    assert first["patient_responsibility"] == "40.00"
    assert {"group": "PR", "reason": "2", "amount": "40.00"} in first["adjustments"]


def test_command_exits_non_zero_on_a_rejected_file(practice_a, tmp_path):
    bad = tmp_path / "bad.835"
    bad.write_text(era([clp("X", "1", 150, 150, lines=[])], "100"))
    with pytest.raises(CommandError, match="BPR"):
        call_command("import_835", str(bad), "--practice", practice_a.slug)
    with practice_scope(practice_a):
        assert Remittance.objects.get().status == Remittance.Status.REJECTED


def test_clearinghouse_835_posts_automatically_and_a_bad_one_is_rejected(practice_a):
    _claims(practice_a)
    with practice_scope(practice_a):
        row = inbound_file_import(
            practice=practice_a, filename="era.835", content=(DATA / "synthetic_bh_835.txt").read_text()
        )
        assert row.status == InboundFile.Status.PROCESSED
        remittance = Remittance.objects.get(inbound_file=row)
        assert remittance.status == "posted" and remittance.payment_amount == Decimal("376.25")
        bad = inbound_file_import(
            practice=practice_a, filename="bad.835", content=era([clp("X", "1", 150, 150, lines=[])], "1")
        )
        assert bad.status == InboundFile.Status.REJECTED and "(BPR)" in bad.error
        assert Remittance.objects.get(inbound_file=bad).status == "rejected"
