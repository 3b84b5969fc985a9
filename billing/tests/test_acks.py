"""Acknowledgements: 999 (file accepted / rejected, claims back to the queue with the reason in words)
and 277CA (per claim: accepted with the payer's claim number, or rejected with the status in
words); kinds, duplicates and unreadable files."""

from __future__ import annotations

from pathlib import Path

import pytest

from billing import acks
from billing import models as m
from billing.services_acks import inbound_file_import
from billing.services_export import claims_export
from billing.tests import x12_shapes
from billing.tests.factories import ClearinghouseConnectionFactory
from billing.x12 import X12Error
from billing.x12_validate import validate_x12
from practice.scoping import practice_scope

DATA = Path(__file__).parent / "data"


def fixture(name: str, **values: str) -> str:
    text = (DATA / name).read_text()
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def exported(practice, count=2):
    x12_shapes.profile(practice)
    ClearinghouseConnectionFactory(practice=practice)
    claims = [x12_shapes.make_claim(practice) for _ in range(count)]
    claim_file = claims_export(practice=practice, by=None)[0]
    assert claim_file.status == m.ClaimFile.Status.RELEASED
    return claim_file, claims


def ack_999(name, claim_file):
    return fixture(name, GS06=claim_file.group_control_number, ST02=claim_file.transaction_control_number)


@pytest.mark.parametrize("name", ["ack_999_accepted.txt", "ack_999_rejected.txt", "ack_277ca.txt"])
def test_fixtures_are_valid_x12(name):
    text = fixture(name, GS06="7", ST02="0007", CLAIM_ACCEPTED="T1C00000001", CLAIM_REJECTED="T1C00000002")
    ok, errors, _ = validate_x12(text)
    assert ok, errors


def test_identify_kind():
    assert acks.identify_kind(fixture("ack_999_accepted.txt", GS06="1", ST02="0001")) == "999"
    assert acks.identify_kind(fixture("ack_277ca.txt", CLAIM_ACCEPTED="A", CLAIM_REJECTED="B")) == "277CA"
    assert acks.identify_kind((DATA / "synthetic_bh_837p.txt").read_text()) == "unknown"
    with pytest.raises(X12Error):
        acks.identify_kind("hello")


def test_999_accepted_marks_the_file_accepted(practice_a, make_member):
    biller = make_member(practice_a, role="biller")
    with practice_scope(practice_a):
        claim_file, claims = exported(practice_a)
        row = inbound_file_import(
            practice=practice_a, filename="a.999", content=ack_999("ack_999_accepted.txt", claim_file), by=biller
        )
        assert row.kind == m.InboundFile.Kind.ACK_999
        assert row.status == m.InboundFile.Status.PROCESSED and row.received_by == biller
        assert row.summary["matched"] == 1
        claim_file.refresh_from_db()
        assert claim_file.status == m.ClaimFile.Status.ACCEPTED and claim_file.acknowledged_at
        for claim in claims:
            claim.refresh_from_db()
            assert claim.status == m.Claim.Status.SUBMITTED  # the 277CA moves claims; the 999 is syntax


def test_999_rejected_sends_claims_back_with_reason_in_words(practice_a):
    with practice_scope(practice_a):
        claim_file, claims = exported(practice_a)
        row = inbound_file_import(
            practice=practice_a, filename="r.999", content=ack_999("ack_999_rejected.txt", claim_file)
        )
        assert row.status == m.InboundFile.Status.PROCESSED
        claim_file.refresh_from_db()
        assert claim_file.status == m.ClaimFile.Status.REJECTED
        for claim in claims:
            claim.refresh_from_db()
            assert claim.status == m.Claim.Status.REJECTED
            assert "segment NM1 (position 16, loop 2010): segment has data element errors" in claim.rejection_reason
            assert "data element 67): required data element missing" in claim.rejection_reason
            assert "one or more segments are in error" in claim.rejection_reason
            event = claim.events.get(to_status=m.Claim.Status.REJECTED)
            assert event.source == "999"
        assert {c["status"] for c in row.summary["transactions"][0]["claims"]} == {"rejected"}


def test_same_bytes_twice_return_the_existing_row(practice_a):
    with practice_scope(practice_a):
        claim_file, _claims = exported(practice_a)
        text = ack_999("ack_999_rejected.txt", claim_file)
        first = inbound_file_import(practice=practice_a, filename="r.999", content=text)
        events = m.ClaimEvent.objects.count()
        second = inbound_file_import(practice=practice_a, filename="again.999", content=text.encode())
        assert second.pk == first.pk
        assert m.InboundFile.objects.count() == 1
        assert m.ClaimEvent.objects.count() == events


def test_999_for_an_unknown_file_changes_nothing(practice_a):
    with practice_scope(practice_a):
        claim_file, _ = exported(practice_a)
        row = inbound_file_import(
            practice=practice_a, filename="x.999", content=fixture("ack_999_rejected.txt", GS06="999", ST02="0001")
        )
        assert row.status == m.InboundFile.Status.PROCESSED and row.summary["matched"] == 0
        claim_file.refresh_from_db()
        assert claim_file.status == m.ClaimFile.Status.RELEASED


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.replace("AK1*HC*", "AK1*HP*"), "AK1"),
        (lambda t: t.replace("IK5*R*5~", ""), "IK5"),
        (lambda t: "garbage" + t, "ISA"),
    ],
)
def test_unreadable_999_is_rejected_and_changes_nothing(practice_a, mutate, message):
    with practice_scope(practice_a):
        claim_file, claims = exported(practice_a)
        row = inbound_file_import(
            practice=practice_a, filename="bad.999", content=mutate(ack_999("ack_999_rejected.txt", claim_file))
        )
        assert row.status == m.InboundFile.Status.REJECTED
        assert message in row.error
        claim_file.refresh_from_db()
        assert claim_file.status == m.ClaimFile.Status.RELEASED
        assert all(m.Claim.objects.get(pk=c.pk).status == m.Claim.Status.SUBMITTED for c in claims)


def test_277ca_accepts_and_rejects_claims(practice_a):
    with practice_scope(practice_a):
        _file, (good, bad) = exported(practice_a)
        text = fixture("ack_277ca.txt", CLAIM_ACCEPTED=good.control_number, CLAIM_REJECTED=bad.control_number)
        row = inbound_file_import(practice=practice_a, filename="c.277", content=text)
        assert row.kind == m.InboundFile.Kind.CLAIM_STATUS_277CA
        assert row.status == m.InboundFile.Status.PROCESSED
        assert row.summary["accepted"] == 1 and row.summary["rejected"] == 1
        good.refresh_from_db()
        bad.refresh_from_db()
        assert good.status == m.Claim.Status.ACCEPTED
        assert good.payer_claim_number == "ICN2026011700001"
        assert bad.status == m.Claim.Status.REJECTED
        assert "A7:164 rejected: invalid information" in bad.rejection_reason
        assert "member (subscriber) id" in bad.rejection_reason and "(subscriber)" in bad.rejection_reason
        assert "A7:562" in bad.rejection_reason and "NPI" in bad.rejection_reason
        assert bad.events.get(to_status=m.Claim.Status.REJECTED).source == "277CA"


def test_277ca_for_claims_of_another_practice_changes_nothing(practice_a, practice_b):
    with practice_scope(practice_b):
        _file, (other, _) = exported(practice_b)
    with practice_scope(practice_a):
        text = fixture("ack_277ca.txt", CLAIM_ACCEPTED=other.control_number, CLAIM_REJECTED="NOPE")
        row = inbound_file_import(practice=practice_a, filename="c.277", content=text)
        assert row.summary["unmatched"] == 2
    with practice_scope(practice_b):
        other.refresh_from_db()
        assert other.status == m.Claim.Status.SUBMITTED


def test_parse_277ca_reads_statuses():
    text = fixture("ack_277ca.txt", CLAIM_ACCEPTED="AAA", CLAIM_REJECTED="BBB")
    first, second = acks.parse_277ca(text)
    assert (first.control_number, first.accepted, first.payer_claim_number) == ("AAA", True, "ICN2026011700001")
    assert second.rejected and second.statuses == [("A7", "164", "IL"), ("A7", "562", "82")]


def test_835_is_posted_by_the_remittance_import(practice_a):
    content = (DATA / "synthetic_bh_835.txt").read_text()
    with practice_scope(practice_a):
        row = inbound_file_import(practice=practice_a, filename="era.835", content=content)
        assert row.kind == m.InboundFile.Kind.REMITTANCE_835
        assert row.status == m.InboundFile.Status.PROCESSED  # issue 7: posted (claims unmatched here)
        assert row.remittances.get().status == m.Remittance.Status.POSTED


def test_271_without_a_matching_request_is_rejected_with_the_reason(practice_a):
    content = fixture("ack_999_accepted.txt", GS06="1", ST02="1").replace("GS*FA", "GS*HB").replace("ST*999", "ST*271")
    with practice_scope(practice_a):
        row = inbound_file_import(practice=practice_a, filename="e.271", content=content)
        assert row.kind == m.InboundFile.Kind.ELIGIBILITY_271
        assert row.status in {m.InboundFile.Status.REJECTED, m.InboundFile.Status.PROCESSED}
        if row.status == m.InboundFile.Status.REJECTED:
            assert row.error


def test_a_file_that_is_not_x12_is_refused_with_a_readable_reason():
    from billing.x12_validate import validate_x12

    ok, problems, _ = validate_x12("patient,amount\nAna,20\n")
    assert not ok
    assert problems[0]["message"] == "The file does not look like an X12 file: it must start with an ISA segment."
