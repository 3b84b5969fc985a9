"""Exporting ready claims as 837P files: grouping per receiver, control numbers, release only after
pyx12 validation, idempotency, concurrency (PostgreSQL) and the export_837 command."""

from __future__ import annotations

import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from billing import models as m
from billing.services_export import claims_export
from billing.tests import x12_shapes
from billing.tests.factories import ClearinghouseConnectionFactory, CoverageFactory, PayerFactory
from billing.x12_validate import validate_x12
from practice.errors import DomainError
from practice.scoping import practice_scope


def ready_claims(practice, count=2, **fields):
    x12_shapes.profile(practice)
    return [x12_shapes.make_claim(practice, **fields) for _ in range(count)]


def test_export_releases_one_valid_file_per_payer_without_clearinghouse(practice_a, make_member):
    biller = make_member(practice_a, role="biller")
    with practice_scope(practice_a):
        payer = PayerFactory(practice=practice_a)
        same_payer = [
            x12_shapes.make_claim(practice_a, coverage=CoverageFactory(practice=practice_a, payer=payer))
            for _ in range(2)
        ]
        other = ready_claims(practice_a, count=1)
        draft = x12_shapes.make_claim(practice_a, status=m.Claim.Status.DRAFT)
        files = claims_export(practice=practice_a, by=biller)
        assert len(files) == 2
        assert all(f.status == m.ClaimFile.Status.RELEASED for f in files)
        by_receiver = {f.receiver_id: f for f in files}
        assert set(by_receiver) == {payer.payer_id, other[0].payer.payer_id}
        assert by_receiver[payer.payer_id].claim_count == 2
        assert by_receiver[payer.payer_id].total_cents == sum(c.total_cents for c in same_payer)
        assert by_receiver[payer.payer_id].payer_id == payer.id
        for claim in [*same_payer, *other]:
            claim.refresh_from_db()
            assert claim.status == m.Claim.Status.SUBMITTED
            assert claim.claim_file_id is not None and claim.submitted_at is not None
            event = claim.events.get(to_status=m.Claim.Status.SUBMITTED)
            assert event.from_status == m.Claim.Status.READY and event.by == biller
        draft.refresh_from_db()
        assert draft.status == m.Claim.Status.DRAFT and draft.claim_file_id is None
        numbers = sorted(f.interchange_control_number for f in files)
        assert numbers == ["000000001", "000000002"]
        for claim_file in files:
            ok, errors, _ = validate_x12(claim_file.content)
            assert ok, errors
            assert f"*{claim_file.interchange_control_number}*0*T*:~" in claim_file.content
            assert claim_file.content.rstrip().endswith(f"IEA*1*{claim_file.interchange_control_number}~")
            assert len(claim_file.sha256) == 64
            assert claim_file.filename == f"837P-{claim_file.interchange_control_number}.x12"


def test_export_uses_the_clearinghouse_as_single_receiver(practice_a):
    with practice_scope(practice_a):
        ClearinghouseConnectionFactory(
            practice=practice_a, receiver_id="CLAIMSHUB", receiver_name="Claims Hub", usage_indicator="P"
        )
        ready_claims(practice_a, count=3)
        files = claims_export(practice=practice_a, by=None)
    assert len(files) == 1
    assert files[0].receiver_id == "CLAIMSHUB" and files[0].claim_count == 3
    assert files[0].usage_indicator == "P"
    assert "*ZZ*CLAIMSHUB      *" in files[0].content and "*P*:~" in files[0].content
    assert "NM1*40*2*CLAIMS HUB*****46*CLAIMSHUB~" in files[0].content


def test_export_is_idempotent(practice_a):
    with practice_scope(practice_a):
        ready_claims(practice_a, count=2)
        first = claims_export(practice=practice_a, by=None)
        second = claims_export(practice=practice_a, by=None)
        assert len(first) == 2 and second == []  # two payers, two receivers
        assert m.ClaimFile.objects.count() == 2
        assert m.ClaimEvent.objects.filter(to_status=m.Claim.Status.SUBMITTED).count() == 2


def test_export_only_the_given_claims(practice_a):
    with practice_scope(practice_a):
        chosen, left = ready_claims(practice_a, count=2)
        files = claims_export(practice=practice_a, by=None, claim_ids=[str(chosen.public_id)])
        assert [f.claim_count for f in files] == [1]
        chosen.refresh_from_db()
        left.refresh_from_db()
        assert chosen.status == m.Claim.Status.SUBMITTED and left.status == m.Claim.Status.READY
        assert claims_export(practice=practice_a, by=None, claim_ids=[left.id])[0].claim_count == 1


def test_invalid_file_is_not_released_and_claims_stay_ready(practice_a):
    with practice_scope(practice_a):
        # POS 00 is not in the CMS code list: pyx12 fails the file (billing.md §1.3).
        claim = ready_claims(practice_a, count=1, place_of_service="00")[0]
        files = claims_export(practice=practice_a, by=None)
        assert len(files) == 1
        bad = files[0]
        assert bad.status == m.ClaimFile.Status.INVALID
        assert any("Place of Service" in e["message"] for e in bad.validation_errors)
        claim.refresh_from_db()
        assert claim.status == m.Claim.Status.READY and claim.claim_file_id is None
        assert not claim.events.filter(to_status=m.Claim.Status.SUBMITTED).exists()
        # fixed, it exports with a new interchange number (numbers are never reused)
        claim.place_of_service = "11"
        claim.save(update_fields=["place_of_service"])
        good = claims_export(practice=practice_a, by=None)[0]
        assert good.status == m.ClaimFile.Status.RELEASED
        assert good.interchange_control_number != bad.interchange_control_number


def test_export_needs_a_billing_profile(practice_a):
    with practice_scope(practice_a), pytest.raises(DomainError, match="billing identity"):
        claims_export(practice=practice_a, by=None)


def test_export_needs_billing_manage(practice_a, make_member):
    clinician = make_member(practice_a, role="clinician")
    with practice_scope(practice_a):
        claim = ready_claims(practice_a, count=1)[0]
        with pytest.raises(DomainError, match="permission"):
            claims_export(practice=practice_a, by=clinician)
        claim.refresh_from_db()
        assert claim.status == m.Claim.Status.READY


def test_export_stays_in_its_practice(practice_a, practice_b):
    with practice_scope(practice_b):
        ready_claims(practice_b, count=1)
    with practice_scope(practice_a):
        ready_claims(practice_a, count=1)
        files = claims_export(practice=practice_a, by=None)
        assert [f.claim_count for f in files] == [1]
    with practice_scope(practice_b):
        assert m.Claim.objects.get().status == m.Claim.Status.READY


def test_export_837_command_writes_released_files(practice_a, tmp_path):
    with practice_scope(practice_a):
        ready_claims(practice_a, count=2)
    out = StringIO()
    call_command("export_837", "--practice", "riverside", "--out", str(tmp_path), stdout=out)
    written = list(tmp_path.iterdir())
    assert sorted(p.name for p in written) == ["837P-000000001.x12", "837P-000000002.x12"]  # two payers
    assert all(validate_x12(p.read_text())[0] for p in written)
    assert out.getvalue().count("Released") == 2 and "1 claims" in out.getvalue()
    out = StringIO()
    call_command("export_837", "--practice", "riverside", "--out", str(tmp_path), stdout=out)
    assert "No ready claims" in out.getvalue()
    assert len(list(tmp_path.iterdir())) == 2


def test_export_837_command_reports_invalid_files(practice_a, tmp_path):
    with practice_scope(practice_a):
        ready_claims(practice_a, count=1, place_of_service="00")
    err = StringIO()
    with pytest.raises(CommandError, match="failed validation"):
        call_command("export_837", "--practice", "riverside", "--out", str(tmp_path), stderr=err)
    assert "NOT released" in err.getvalue()
    assert list(tmp_path.iterdir()) == []


def test_export_837_command_unknown_practice(db, tmp_path):
    with pytest.raises(CommandError, match="No practice"):
        call_command("export_837", "--practice", "nope", "--out", str(tmp_path))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL; SQLite serializes writes")
@pytest.mark.django_db(transaction=True)
def test_concurrent_exports_never_share_claims_or_control_numbers(practice_a):
    threads_count = 6
    with practice_scope(practice_a):
        ClearinghouseConnectionFactory(practice=practice_a)
        claims = ready_claims(practice_a, count=12)
    barrier = threading.Barrier(threads_count)
    results: list[object] = [None] * threads_count

    def attempt(index: int) -> None:
        try:
            with practice_scope(practice_a.pk):
                barrier.wait(timeout=30)
                # half export everything, half a specific overlapping subset
                ids = None if index % 2 else [c.id for c in claims[index : index + 6]]
                results[index] = claims_export(practice=practice_a, by=None, claim_ids=ids)
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not [r for r in results if isinstance(r, Exception)], results
    files = [f for r in results for f in r]
    assert all(f.status == m.ClaimFile.Status.RELEASED for f in files)
    numbers = [f.interchange_control_number for f in files]
    assert len(numbers) == len(set(numbers))
    assert len({f.group_control_number for f in files}) == len(files)
    assert len({f.transaction_control_number for f in files}) == len(files)
    assert sum(f.claim_count for f in files) == 12
    with practice_scope(practice_a):
        assert m.Claim.objects.filter(status=m.Claim.Status.SUBMITTED, claim_file__isnull=False).count() == 12
        for claim in claims:
            assert sum(f.content.count(f"CLM*{claim.control_number}*") for f in files) == 1
        assert m.ClaimEvent.objects.filter(to_status=m.Claim.Status.SUBMITTED).count() == 12
