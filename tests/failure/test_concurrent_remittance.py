"""One 835 posted twice at the same moment (issue 10): posted once — one Remittance, one ledger
posting per claim, one claim status change, trial balance zero — and the other import answers
"duplicate" naming the posting that won. The file comes from billing.era_writer for claims made
with the billing factories; threads share a barrier and each has its own PostgreSQL connection.

Also: the same remittance delivered twice in different envelopes (other bytes, same payer and
trace), and two different 835s paying the same claim at once (both post, one after the other).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from billing.era_writer import clp, era
from billing.ledger import balance, trial_balance
from billing.models import (
    Claim,
    ClaimEvent,
    InboundFile,
    LedgerAccount,
    LedgerTransaction,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
)
from billing.services_acks import inbound_file_import
from billing.services_remittance import ImportResult, remittance_import
from billing.tests.factories import claim_with_lines
from practice.audit import ChainBreak, verify_chains
from practice.models import AuditLogEntry
from practice.scoping import practice_scope, scopes_disabled
from tests.failure.racing import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="SQLite serialises writers; the race needs PostgreSQL's row locks"
    ),
    pytest.mark.django_db(transaction=True),
]
D = Decimal


def _submitted_claims(practice, count: int) -> list[Claim]:
    with practice_scope(practice):
        return [
            claim_with_lines(practice, control_number=f"RACE{n}", status=Claim.Status.SUBMITTED) for n in range(count)
        ]


def _paying(claims: list[Claim], *, trace: str, paid: int = 120) -> str:
    """An 835 paying each claim `paid` of 150 (CO-45 for the rest) under one trace number."""
    blocks = []
    for claim in claims:
        with scopes_disabled():
            line = claim.lines.first()
        blocks.append(
            clp(
                claim.control_number,
                "1",
                150,
                paid,
                lines=[(line.cpt, 150, paid, line.service_date, [("CO", "45", 150 - paid)], [])],
            )
        )
    return era(blocks, str(paid * len(claims)), trace=trace)


def _assert_posted_once(practice, claims: list[Claim], *, remittance: Remittance, paid: D) -> None:
    with scopes_disabled():
        assert list(Remittance.objects.filter(practice=practice).values_list("pk", "status")) == [
            (remittance.pk, "posted")
        ]
        assert RemittanceClaim.objects.filter(practice=practice).count() == len(claims)
        assert RemittanceLine.objects.filter(practice=practice).count() == len(claims)
        for claim in claims:
            rc = RemittanceClaim.objects.get(claim=claim)
            assert LedgerTransaction.objects.filter(idempotency_key=f"remittance-claim:{rc.pk}").count() == 1
            claim.refresh_from_db()
            assert claim.status == Claim.Status.PAID
            assert list(ClaimEvent.objects.filter(claim=claim).values_list("to_status", "source")) == [("paid", "835")]
        # no audit row of the loser's rolled-back remittance
        logged = AuditLogEntry.all_objects.filter(
            practice=practice, content_type=ContentType.objects.get_for_model(Remittance)
        )
        assert set(logged.values_list("object_pk", flat=True)) == {str(remittance.pk)}
    with practice_scope(practice):
        assert balance(LedgerAccount.CASH) == paid
        assert sum(trial_balance().values(), D("0")) == 0
    assert [item for item in verify_chains() if isinstance(item, ChainBreak)] == []


@pytest.mark.parametrize("imports", [2, 10])
def test_one_835_imported_several_times_at_once_posts_once(practice_a, practice_b, imports):
    claims = _submitted_claims(practice_a, 3)
    text = _paying(claims, trace="EFTRACE01")

    def post(_index: int) -> ImportResult:
        with practice_scope(practice_a.pk):
            return remittance_import(practice=practice_a, content=text, filename="era.835")

    results = race(imports, post)
    assert [r for r in results if not isinstance(r, ImportResult)] == []
    posted = [r for r in results if not r.duplicate and not r.rejected]
    duplicates = [r for r in results if r.duplicate]
    assert len(posted) == 1 and len(duplicates) == imports - 1
    winner = posted[0].remittance
    # each loser says "duplicate" and points at the remittance that was posted
    assert all([r.pk for r in d.remittances] == [winner.pk] for d in duplicates)
    with practice_scope(practice_a):
        assert all(d.summary()["status"] == "duplicate" for d in duplicates)
    _assert_posted_once(practice_a, claims, remittance=winner, paid=D("360.00"))


def test_one_835_uploaded_twice_at_once_is_stored_and_posted_once(practice_a, practice_b):
    """The upload / SFTP path: the file is stored once per content (sha256) and posted once."""
    claims = _submitted_claims(practice_a, 2)
    text = _paying(claims, trace="EFTRACE02")

    def upload(_index: int) -> InboundFile:
        with practice_scope(practice_a.pk):
            return inbound_file_import(practice=practice_a, filename="era.835", content=text.encode())

    results = race(2, upload)
    assert all(isinstance(r, InboundFile) for r in results), results
    assert results[0].pk == results[1].pk
    with scopes_disabled():
        stored = InboundFile.objects.get(practice=practice_a)
        assert (stored.kind, stored.status, stored.summary["status"]) == ("835", "processed", "posted")
        remittance = Remittance.objects.get(practice=practice_a)
    assert remittance.inbound_file_id == stored.pk
    _assert_posted_once(practice_a, claims, remittance=remittance, paid=D("240.00"))


def test_one_remittance_delivered_in_two_envelopes_at_once_posts_once(practice_a, practice_b):
    """A clearinghouse re-delivers the same ERA in a new interchange (other ISA13, so other bytes):
    both files are kept, the payment is posted from one and the other is marked a duplicate."""
    claims = _submitted_claims(practice_a, 2)
    first = _paying(claims, trace="EFTRACE03")
    again = first.replace("000000501", "000000777")
    assert again != first

    def upload(index: int) -> InboundFile:
        with practice_scope(practice_a.pk):
            return inbound_file_import(
                practice=practice_a, filename=f"era-{index}.835", content=(first, again)[index].encode()
            )

    results = race(2, upload)
    assert all(isinstance(r, InboundFile) for r in results), results
    with scopes_disabled():
        files = list(InboundFile.objects.filter(practice=practice_a))
        assert len(files) == 2 and {f.status for f in files} == {"processed"}
        assert sorted(f.summary["status"] for f in files) == ["duplicate", "posted"]
        remittance = Remittance.objects.get(practice=practice_a)
    posted_from = next(f for f in files if f.summary["status"] == "posted")
    assert remittance.inbound_file_id == posted_from.pk
    _assert_posted_once(practice_a, claims, remittance=remittance, paid=D("240.00"))


def test_two_different_835s_paying_one_claim_at_once_both_post_one_after_the_other(practice_a, practice_b):
    """No rule refuses a second payment of a claim (a payer's duplicate payment is recorded and
    refunded by hand), so both post; the claim row lock makes them serial: both payments in cash,
    one status change to paid, and the ledger still balances."""
    (claim,) = _submitted_claims(practice_a, 1)
    texts = [_paying([claim], trace="EFTRACE04", paid=120), _paying([claim], trace="EFTRACE05", paid=100)]

    def post(index: int) -> ImportResult:
        with practice_scope(practice_a.pk):
            return remittance_import(practice=practice_a, content=texts[index])

    results = race(2, post)
    assert all(isinstance(r, ImportResult) and not r.rejected and not r.duplicate for r in results), results
    with scopes_disabled():
        assert Remittance.objects.filter(practice=practice_a, status="posted").count() == 2
        rcs = list(RemittanceClaim.objects.filter(claim=claim))
        assert len(rcs) == 2
        for rc in rcs:
            assert LedgerTransaction.objects.filter(idempotency_key=f"remittance-claim:{rc.pk}").count() == 1
        claim.refresh_from_db()
        assert claim.status == Claim.Status.PAID
        assert list(ClaimEvent.objects.filter(claim=claim).values_list("to_status", flat=True)) == ["paid"]
    with practice_scope(practice_a):
        assert balance(LedgerAccount.CASH) == D("220.00")
        assert sum(trial_balance().values(), D("0")) == 0
    assert [item for item in verify_chains() if isinstance(item, ChainBreak)] == []
