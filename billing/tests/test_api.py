"""The billing REST API: payers, fee schedules, coverage, authorizations, charges, claims and
their actions, 835 upload, remittance claims, denials, patient payments, balances, statements and
the A/R summary — same permissions, services and audit as the pages; money as strings."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from billing import services_claims
from billing.models import (
    Charge,
    Claim,
    ClaimEvent,
    Coverage,
    DenialCase,
    LedgerEntry,
    LedgerTransaction,
    PatientPayment,
    Payer,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
)
from billing.tests import factories as bf
from billing.tests.claims_world import make_world
from billing.tests.era_files import clp, era
from clinical.tests import factories as cf
from practice import services
from practice.models import AccessEvent
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db
S = Claim.Status


def api_as(membership) -> APIClient:
    _token, raw = services.api_token_issue(membership=membership)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def ids(response) -> list[str]:
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def world(practice_a, practice_b, make_member):
    roles = {
        "biller": Role.BILLER,
        "admin": Role.ADMIN,
        "clinician": Role.CLINICIAN,
        "front_desk": Role.FRONT_DESK,
    }
    members = {key: make_member(practice_a, role, email=f"{key}@riverside.test") for key, role in roles.items()}
    with practice_scope(practice_a):
        billing = make_world(practice_a, patients=2)
    return {"practice": practice_a, "other": practice_b, "billing": billing, **members}


@pytest.fixture
def biller(world):
    return api_as(world["biller"])


def _claim(practice, **fields) -> Claim:
    with practice_scope(practice):
        return bf.claim_with_lines(practice, **fields)


def _events(claim) -> int:
    with practice_scope(claim.practice):
        return ClaimEvent.objects.filter(claim=claim).count()


def _status(claim) -> str:
    with scopes_disabled():
        return Claim.all_objects.get(pk=claim.pk).status


# --- Payers and fee schedules ------------------------------------------------------------------


def test_payers_are_read_by_billing_and_front_desk_and_changed_with_setup_rights(world, biller):
    payer = world["billing"].payer
    assert str(payer.public_id) in ids(biller.get("/api/v1/payers/"))
    assert api_as(world["front_desk"]).get(f"/api/v1/payers/{payer.public_id}/").status_code == 200
    assert api_as(world["clinician"]).get("/api/v1/payers/").status_code == 403

    body = {"name": "Blue Plan", "payer_id": "BP123", "filing_indicator": "BL", "auth_required_cpts": ["90837"]}
    created = biller.post("/api/v1/payers/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["auth_required_cpts"] == ["90837"] and created.json()["filing_indicator"] == "BL"
    patched = biller.patch(f"/api/v1/payers/{created.json()['id']}/", {"timely_filing_days": 90}, format="json")
    assert patched.status_code == 200 and patched.json()["timely_filing_days"] == 90
    assert patched.json()["name"] == "Blue Plan"

    assert api_as(world["front_desk"]).post("/api/v1/payers/", body, format="json").status_code == 403


def test_payer_rule_violations_are_field_errors_and_nothing_is_stored(world, biller):
    with practice_scope(world["practice"]):
        before = Payer.objects.count()
    bad_cpt = biller.post(
        "/api/v1/payers/", {"name": "X", "payer_id": "X1", "auth_required_cpts": ["99999"]}, format="json"
    )
    assert bad_cpt.status_code == 400
    assert "auth_required_cpts" in bad_cpt.json()["error"]["fields"]
    bad_state = biller.post("/api/v1/payers/", {"name": "X", "payer_id": "X1", "state": "oregon"}, format="json")
    assert bad_state.status_code == 400 and "state" in bad_state.json()["error"]["fields"]
    with practice_scope(world["practice"]):
        assert Payer.objects.count() == before


def test_fee_schedules_list_their_fees_as_money_strings(world, biller):
    rows = biller.get("/api/v1/fee-schedules/").json()["results"]
    payer_schedule = next(r for r in rows if r["payer"] == str(world["billing"].payer.public_id))
    fees = {e["cpt"]: e["amount"] for e in payer_schedule["entries"]}
    assert fees["90834"] == "150.00" and fees["96127"] == "10.00"
    assert api_as(world["front_desk"]).get("/api/v1/fee-schedules/").status_code == 403


# --- Coverage and authorizations ---------------------------------------------------------------


def test_coverage_create_list_and_end(world):
    desk = api_as(world["front_desk"])
    with practice_scope(world["practice"]):
        patient = cf.PatientFactory(practice=world["practice"])
    body = {
        "patient": str(patient.public_id),
        "payer": str(world["billing"].payer.public_id),
        "member_id": "M123",
        "copay": "30.00",
        "starts_on": "2025-01-01",
    }
    created = desk.post("/api/v1/coverages/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["copay"] == "30.00" and created.json()["is_active"] is True

    listing = desk.get(f"/api/v1/coverages/?patient={patient.public_id}")
    assert ids(listing) == [created.json()["id"]]

    ended = desk.patch(f"/api/v1/coverages/{created.json()['id']}/", {"is_active": False}, format="json")
    assert ended.status_code == 200 and ended.json()["is_active"] is False and ended.json()["ends_on"]


def test_a_second_active_primary_coverage_is_refused(world):
    desk = api_as(world["front_desk"])
    patient = world["billing"].patients[0]
    body = {"patient": str(patient.public_id), "payer": str(world["billing"].payer.public_id), "member_id": "M2"}
    response = desk.post("/api/v1/coverages/", body, format="json")
    assert response.status_code == 400
    assert "priority" in response.json()["error"]["fields"]
    with practice_scope(world["practice"]):
        assert Coverage.objects.filter(patient=patient).count() == 1


def test_dependent_coverage_needs_the_subscriber(world):
    with practice_scope(world["practice"]):
        patient = cf.PatientFactory(practice=world["practice"])
    body = {
        "patient": str(patient.public_id),
        "payer": str(world["billing"].payer.public_id),
        "member_id": "M3",
        "relationship": "19",
    }
    response = api_as(world["front_desk"]).post("/api/v1/coverages/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"].keys() == {"subscriber_first_name"}


def test_coverage_is_not_for_clinicians_and_other_practices_patients_are_unknown(world):
    assert api_as(world["clinician"]).get("/api/v1/coverages/").status_code == 403
    with scopes_disabled():
        stranger = cf.PatientFactory(practice=world["other"])
    body = {"patient": str(stranger.public_id), "payer": str(world["billing"].payer.public_id), "member_id": "M"}
    response = api_as(world["front_desk"]).post("/api/v1/coverages/", body, format="json")
    assert response.status_code == 400 and "patient" in response.json()["error"]["fields"]
    assert api_as(world["front_desk"]).get(f"/api/v1/coverages/?patient={stranger.public_id}").status_code == 404


def test_authorizations_list_per_patient(world, biller):
    coverage = world["billing"].coverages[0]
    with practice_scope(world["practice"]):
        auth = bf.PriorAuthorizationFactory(practice=world["practice"], coverage=coverage)
        bf.PriorAuthorizationFactory(practice=world["practice"], coverage=world["billing"].coverages[1])
    rows = biller.get(f"/api/v1/authorizations/?patient={coverage.patient.public_id}").json()["results"]
    assert [r["id"] for r in rows] == [str(auth.public_id)]
    assert rows[0]["cpt_codes"] == ["90834", "90837"] and rows[0]["coverage"] == str(coverage.public_id)


# --- Charges -----------------------------------------------------------------------------------


def test_charge_list_filters_by_patient_status_and_date(world, biller):
    practice = world["practice"]
    patient = world["billing"].patients[0]
    today = timezone.localdate()
    with practice_scope(practice):
        coverage = world["billing"].coverages[0]
        old = bf.ChargeFactory(practice=practice, coverage=coverage, service_date=today - timedelta(days=40))
        new = bf.ChargeFactory(practice=practice, coverage=coverage, service_date=today - timedelta(days=2))
        void = bf.ChargeFactory(practice=practice, coverage=coverage, status=Charge.Status.VOID)
        other = bf.ChargeFactory(practice=practice, coverage=world["billing"].coverages[1])
    base = f"/api/v1/charges/?patient={patient.public_id}"
    assert set(ids(biller.get(base))) == {str(c.public_id) for c in (old, new, void)}
    assert str(other.public_id) in ids(biller.get("/api/v1/charges/"))
    assert ids(biller.get(base + "&status=void")) == [str(void.public_id)]
    since = (today - timedelta(days=10)).isoformat()
    assert str(old.public_id) not in ids(biller.get(base + f"&service_from={since}"))
    detail = biller.get(f"/api/v1/charges/{new.public_id}/").json()
    assert detail["fee"] == "150.00" and detail["diagnosis_codes"] == ["F33.1"]
    assert biller.get("/api/v1/charges/?service_from=yesterday").status_code == 400
    assert api_as(world["clinician"]).get("/api/v1/charges/").status_code == 403


# --- Claims ------------------------------------------------------------------------------------


def test_claim_list_filters_and_ordering(world, biller):
    practice = world["practice"]
    today = timezone.localdate()
    old = _claim(practice, service_date=today - timedelta(days=60), status=S.SUBMITTED)
    new = _claim(practice, service_date=today - timedelta(days=5))
    other_payer = _claim(practice, service_date=today - timedelta(days=20))

    listing = biller.get("/api/v1/claims/")
    assert ids(listing) == [str(c.public_id) for c in (new, other_payer, old)]  # newest service first
    assert listing.json()["results"][0]["total"] == "150.00"
    assert ids(biller.get("/api/v1/claims/?ordering=service_date"))[0] == str(old.public_id)
    assert ids(biller.get("/api/v1/claims/?status=submitted")) == [str(old.public_id)]
    assert ids(biller.get(f"/api/v1/claims/?payer={new.payer.public_id}")) == [str(new.public_id)]
    assert ids(biller.get(f"/api/v1/claims/?patient={old.patient.public_id}")) == [str(old.public_id)]
    assert ids(biller.get(f"/api/v1/claims/?clinician={new.rendering.public_id}")) == [str(new.public_id)]
    window = f"service_from={(today - timedelta(days=30)).isoformat()}&service_to={(today - timedelta(days=10))}"
    assert ids(biller.get(f"/api/v1/claims/?{window}")) == [str(other_payer.public_id)]
    assert biller.get("/api/v1/claims/?ordering=patient__legal_last_name").status_code == 400


def test_claim_detail_has_lines_findings_and_events_and_is_audited(world, biller):
    claim = _claim(world["practice"], lines=2)
    response = biller.get(f"/api/v1/claims/{claim.public_id}/")
    assert response.status_code == 200
    body = response.json()
    assert [line["line_number"] for line in body["lines"]] == [1, 2]
    assert body["lines"][0]["amount"] == "150.00" and body["total"] == "300.00"
    assert body["events"] == [] and body["findings"] == []
    with practice_scope(world["practice"]):
        assert AccessEvent.objects.filter(action=AccessEvent.Action.VIEW, object_id=str(claim.public_id)).exists()


def test_claim_list_queries_do_not_grow_with_the_number_of_claims(world, biller):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert biller.get("/api/v1/claims/").status_code == 200
        return len(ctx.captured_queries)

    for _ in range(2):
        _claim(world["practice"])
    count()  # the token's first use writes its last-used time once
    small = count()
    for _ in range(8):
        _claim(world["practice"], lines=2)
    assert count() == small


def test_scrub_then_mark_ready_a_clean_claim(world, biller):
    from billing import services_charges
    from billing.tests.claims_world import signed_note

    with practice_scope(world["practice"]):
        note = signed_note(world["billing"].patients[0], world["billing"].clinician)
        services_charges.charges_for_note(note_id=note.pk)
        (claim,) = services_claims.claims_build(practice_id=world["practice"].pk)
    scrubbed = biller.post(f"/api/v1/claims/{claim.public_id}/scrub/")
    assert scrubbed.status_code == 200, scrubbed.content
    assert scrubbed.json()["scrubbed_at"] and scrubbed.json()["events"][-1]["note"].startswith("scrubbed")
    ready = biller.post(f"/api/v1/claims/{claim.public_id}/mark-ready/")
    assert ready.status_code == 200, ready.content
    assert ready.json()["status"] == "ready"
    assert ready.json()["events"][-1]["to_status"] == "ready"


def test_mark_ready_with_scrub_errors_is_409_and_the_claim_stays_draft(world, biller):
    claim = _claim(world["practice"], diagnosis_codes=[])  # no diagnosis: an error finding
    response = biller.post(f"/api/v1/claims/{claim.public_id}/mark-ready/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "scrub_errors"
    assert _status(claim) == S.DRAFT


def test_transition_with_a_reason_and_forbidden_moves(world, biller):
    claim = _claim(world["practice"], status=S.SUBMITTED)
    moved = biller.post(
        f"/api/v1/claims/{claim.public_id}/transition/", {"status": "rejected", "note": "Payer: bad ID"}, format="json"
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["status"] == "rejected" and moved.json()["rejection_reason"] == "Payer: bad ID"
    assert moved.json()["events"][-1]["note"] == "Payer: bad ID"

    events = _events(claim)
    refused = biller.post(f"/api/v1/claims/{claim.public_id}/transition/", {"status": "paid"}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "invalid_transition"
    assert _status(claim) == S.REJECTED and _events(claim) == events
    unknown = biller.post(f"/api/v1/claims/{claim.public_id}/transition/", {"status": "lost"}, format="json")
    assert unknown.status_code == 400 and "status" in unknown.json()["error"]["fields"]


def test_void_a_draft_and_a_claim_at_the_payer(world, biller):
    draft = _claim(world["practice"])
    voided = biller.post(f"/api/v1/claims/{draft.public_id}/void/", {}, format="json")
    assert voided.status_code == 200 and voided.json()["status"] == "void"

    sent = _claim(world["practice"], status=S.SUBMITTED)
    missing_icn = biller.post(f"/api/v1/claims/{sent.public_id}/void/", {}, format="json")
    assert missing_icn.status_code == 400 and "payer_claim_number" in missing_icn.json()["error"]["fields"]
    copy = biller.post(f"/api/v1/claims/{sent.public_id}/void/", {"payer_claim_number": "ICN9"}, format="json")
    assert copy.status_code == 201, copy.content
    assert copy.json()["frequency"] == "8" and copy.json()["original"] == str(sent.public_id)
    assert _status(sent) == S.SUBMITTED


def test_clinicians_cannot_read_or_act_on_claims(world):
    claim = _claim(world["practice"], status=S.SUBMITTED)
    clinician = api_as(world["clinician"])
    assert clinician.get("/api/v1/claims/").status_code == 403
    for path, body in (("scrub", {}), ("mark-ready", {}), ("transition", {"status": "accepted"}), ("void", {})):
        response = clinician.post(f"/api/v1/claims/{claim.public_id}/{path}/", body, format="json")
        assert response.status_code == 403, path
        assert response.json()["error"]["status"] == 403
    assert _status(claim) == S.SUBMITTED and _events(claim) == 0
    # front desk manages coverage, not claims
    assert api_as(world["front_desk"]).post(f"/api/v1/claims/{claim.public_id}/scrub/").status_code == 403


def test_another_practices_claim_is_404(world, biller):
    theirs = _claim(world["other"])
    assert biller.get(f"/api/v1/claims/{theirs.public_id}/").status_code == 404
    response = biller.post(f"/api/v1/claims/{theirs.public_id}/transition/", {"status": "void"}, format="json")
    assert response.status_code == 404 and _status(theirs) == S.DRAFT


# --- Remittances -------------------------------------------------------------------------------


def _paid_835(claim, *, trace="EFT5001", paid="120.00") -> str:
    with scopes_disabled():
        line = claim.lines.first()
    lines = [(line.cpt, "150.00", paid, line.service_date, [("CO", "45", "30.00")], [])]
    return era([clp(claim.control_number, "1", "150.00", paid, lines=lines)], paid, trace=trace)


def _upload(client, text: str, name: str = "remit.835"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post("/api/v1/remittances/", {"file": SimpleUploadedFile(name, text.encode())}, format="multipart")


def test_835_upload_posts_then_a_duplicate_posts_nothing(world, biller):
    claim = _claim(world["practice"], status=S.SUBMITTED, control_number="API1001")
    text = _paid_835(claim)
    posted = _upload(biller, text)
    assert posted.status_code == 201, posted.content
    body = posted.json()
    assert body["status"] == "posted" and body["claims_matched"] == 1 and body["total_paid"] == "120.00"
    remittance = body["remittances"][0]
    assert remittance["payment_amount"] == "120.00"
    assert remittance["claims"][0]["claim"] == str(claim.public_id)
    assert remittance["claims"][0]["lines"][0]["adjustments"] == [{"group": "CO", "reason": "45", "amount": "30.00"}]
    assert _status(claim) == S.PAID
    with practice_scope(world["practice"]):
        transactions = LedgerTransaction.objects.count()

    again = _upload(biller, text, name="again.835")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert again.json()["remittances"][0]["id"] == remittance["id"]
    with practice_scope(world["practice"]):
        assert LedgerTransaction.objects.count() == transactions
        assert Remittance.objects.filter(status=Remittance.Status.POSTED).count() == 1

    detail = biller.get(f"/api/v1/remittances/{remittance['id']}/")
    assert detail.status_code == 200 and detail.json()["claims"][0]["outcome"] == "paid"
    assert ids(biller.get("/api/v1/remittances/")) == [remittance["id"]]


def test_835_as_the_raw_body(world, biller):
    claim = _claim(world["practice"], status=S.SUBMITTED, control_number="API1002")
    response = biller.generic(
        "POST", "/api/v1/remittances/", _paid_835(claim, trace="EFT5002").encode(), content_type="application/edi-x12"
    )
    assert response.status_code == 201, response.content
    assert _status(claim) == S.PAID


def test_an_unbalanced_835_is_rejected_whole_with_the_reason(world, biller):
    claim = _claim(world["practice"], status=S.SUBMITTED, control_number="API1003")
    text = _paid_835(claim).replace("BPR*I*120.00", "BPR*I*999.00")
    response = _upload(biller, text)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "rejected" and error["fields"]["file"][0] in error["message"]
    assert _status(claim) == S.SUBMITTED
    with practice_scope(world["practice"]):
        assert not LedgerEntry.objects.filter(claim=claim).exists()
        rejected = Remittance.objects.get(public_id=error["remittance"])
        assert rejected.status == Remittance.Status.REJECTED and rejected.error == error["fields"]["file"][0]


def test_a_malformed_835_names_the_segment(world, biller):
    claim = _claim(world["practice"], status=S.SUBMITTED, control_number="API1004")
    text = _paid_835(claim).replace("CLP*API1004*1*", "CLP*API1004*XX*")
    error = _upload(biller, text).json()["error"]
    assert error["code"] == "rejected" and "segment" in error["message"].lower()
    not_x12 = _upload(biller, "hello")
    assert not_x12.status_code == 400 and "file" in not_x12.json()["error"]["fields"]
    with practice_scope(world["practice"]):
        assert Remittance.objects.filter(status=Remittance.Status.POSTED).count() == 0


def test_only_billing_managers_upload_835s(world):
    claim = _claim(world["practice"], status=S.SUBMITTED, control_number="API1005")
    for who in ("clinician", "front_desk"):
        assert _upload(api_as(world[who]), _paid_835(claim)).status_code == 403
    assert _status(claim) == S.SUBMITTED


def test_unmatched_remittance_claims_are_matched_or_dismissed(world, biller):
    practice = world["practice"]
    claim = _claim(practice, status=S.SUBMITTED, control_number="API2001")
    with practice_scope(practice):
        remittance = bf.RemittanceFactory(practice=practice, payment_date=date(2025, 2, 3))
        stray = bf.RemittanceClaimFactory(
            practice=practice,
            remittance=remittance,
            claim=None,
            claim_control_number="TYPO2001",
            is_matched=False,
            outcome=RemittanceClaim.Outcome.PAID,
            charge_amount=Decimal("150.00"),
            paid_amount=Decimal("150.00"),
        )
        gone = bf.RemittanceClaimFactory(practice=practice, remittance=remittance, claim=None, is_matched=False)
        matched = bf.RemittanceClaimFactory(practice=practice, remittance=remittance)
    queue = biller.get("/api/v1/remittance-claims/?unmatched=true")
    assert set(ids(queue)) == {str(stray.public_id), str(gone.public_id)}
    assert str(matched.public_id) in ids(biller.get("/api/v1/remittance-claims/"))

    wrong = biller.post(f"/api/v1/remittance-claims/{stray.public_id}/match/", {"control_number": "NOPE"})
    assert wrong.status_code == 400 and "control_number" in wrong.json()["error"]["fields"]
    done = biller.post(f"/api/v1/remittance-claims/{stray.public_id}/match/", {"control_number": "API2001"})
    assert done.status_code == 200, done.content
    assert done.json()["claim"] == str(claim.public_id) and done.json()["is_matched"] is True
    assert biller.post(f"/api/v1/remittance-claims/{gone.public_id}/dismiss/").status_code == 200
    twice = biller.post(f"/api/v1/remittance-claims/{gone.public_id}/dismiss/")
    assert twice.status_code == 409
    assert ids(biller.get("/api/v1/remittance-claims/?unmatched=true")) == []


# --- Denials -----------------------------------------------------------------------------------


def _denial(practice, amount="150.00") -> DenialCase:
    with practice_scope(practice):
        case = bf.DenialCaseFactory(practice=practice, amount=Decimal(amount))
        Claim.objects.filter(pk=case.claim_id).update(status=S.DENIED)
        RemittanceClaim.objects.filter(pk=case.remittance_claim_id).update(payer_claim_number="ICN77")
        for line in case.claim.lines.all():
            bf.ledger_charge(line.charge)
        line = case.claim.lines.first()
        RemittanceLine.objects.create(
            practice=practice,
            remittance_claim=case.remittance_claim,
            claim_line=line,
            cpt=line.cpt,
            charge_amount=Decimal(amount),
            paid_amount=0,
            adjustments=[{"group": "CO", "reason": "197", "amount": amount}],
            is_denied=True,
            denial_reason="CO-197",
        )
        case.refresh_from_db()
        return case


def test_denials_list_open_by_default_and_read_with_notes(world, biller):
    case = _denial(world["practice"])
    with practice_scope(world["practice"]):
        closed = bf.DenialCaseFactory(practice=world["practice"], status=DenialCase.Status.RESOLVED)
    assert ids(biller.get("/api/v1/denials/")) == [str(case.public_id)]
    assert set(ids(biller.get("/api/v1/denials/?status=all"))) == {str(case.public_id), str(closed.public_id)}
    detail = biller.get(f"/api/v1/denials/{case.public_id}/").json()
    assert detail["amount"] == "150.00" and detail["reason_code"] == "CO-197" and detail["reason"]
    assert detail["claim"] == str(case.claim.public_id) and detail["notes"] == []


def test_work_a_denial_assign_note_and_write_off(world, biller):
    case = _denial(world["practice"])
    url = f"/api/v1/denials/{case.public_id}"
    assigned = biller.post(f"{url}/assign/", {"assignee": str(world["biller"].public_id)}, format="json")
    assert assigned.status_code == 200 and assigned.json()["assigned_to"] == str(world["biller"].public_id)
    refused = biller.post(f"{url}/assign/", {"assignee": str(world["clinician"].public_id)}, format="json")
    assert refused.status_code == 400 and "assignee" in refused.json()["error"]["fields"]
    assert biller.post(f"{url}/note/", {"text": " "}, format="json").status_code == 400
    noted = biller.post(f"{url}/note/", {"text": "Called the payer."}, format="json").json()
    assert [n["action"] for n in noted["notes"]] == ["assigned", "note"]

    assert biller.post(f"{url}/write-off/", {"reason": ""}, format="json").status_code == 400
    too_much = biller.post(f"{url}/write-off/", {"reason": "x", "amount": "999.00"}, format="json")
    assert too_much.status_code == 400 and "amount" in too_much.json()["error"]["fields"]
    written = biller.post(f"{url}/write-off/", {"reason": "No retro auth."}, format="json")
    assert written.status_code == 200, written.content
    assert written.json()["status"] == "written_off"
    with practice_scope(world["practice"]):
        assert sum(e.amount for e in LedgerEntry.objects.filter(claim=case.claim, account="write_off")) == Decimal(
            "150.00"
        )
    again = biller.post(f"{url}/write-off/", {"reason": "again"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"


def test_resubmit_a_denial_as_a_corrected_claim(world, biller):
    case = _denial(world["practice"])
    response = biller.post(f"/api/v1/denials/{case.public_id}/resubmit/", {}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["denial"]["status"] == "resubmitted"
    assert body["corrected_claim"]["frequency"] == "7" and body["corrected_claim"]["payer_claim_number"] == "ICN77"
    assert body["corrected_claim"]["original"] == str(case.claim.public_id)


def test_clinicians_cannot_work_denials(world):
    case = _denial(world["practice"])
    clinician = api_as(world["clinician"])
    assert clinician.get("/api/v1/denials/").status_code == 403
    response = clinician.post(f"/api/v1/denials/{case.public_id}/write-off/", {"reason": "x"}, format="json")
    assert response.status_code == 403
    with practice_scope(world["practice"]):
        case.refresh_from_db()
    assert case.status == DenialCase.Status.OPEN


# --- Patient payments, balance, statements -----------------------------------------------------


def _patient_charge(practice, patient, cents: int, days_ago: int) -> Charge:
    with practice_scope(practice):
        charge = bf.ChargeFactory(
            practice=practice,
            patient=patient,
            coverage=None,
            kind=Charge.Kind.PATIENT,
            status=Charge.Status.PATIENT,
            cpt="",
            fee_cents=cents,
            description="Late cancellation fee",
            service_date=timezone.localdate() - timedelta(days=days_ago),
        )
        bf.ledger_charge(charge)
        return charge


def test_record_a_payment_and_read_the_balance(world):
    practice = world["practice"]
    patient = world["billing"].patients[0]
    older = _patient_charge(practice, patient, 4000, days_ago=20)
    newer = _patient_charge(practice, patient, 6000, days_ago=5)
    desk = api_as(world["front_desk"])

    balance = desk.get(f"/api/v1/patients/{patient.public_id}/balance/").json()
    assert balance["balance"] == "100.00" and balance["credit_available"] == "0.00"
    assert [c["charge"] for c in balance["open_charges"]] == [str(older.public_id), str(newer.public_id)]

    body = {"patient": str(patient.public_id), "amount": "50.00", "method": "card", "reference": "4242"}
    paid = desk.post("/api/v1/payments/", body, format="json")
    assert paid.status_code == 201, paid.content
    assert paid.json()["amount"] == "50.00"
    assert paid.json()["allocations"] == [
        {"charge": str(older.public_id), "amount": "40.00"},
        {"charge": str(newer.public_id), "amount": "10.00"},
    ]
    after = desk.get(f"/api/v1/patients/{patient.public_id}/balance/").json()
    assert after["balance"] == "50.00" and len(after["open_charges"]) == 1
    assert ids(desk.get(f"/api/v1/payments/?patient={patient.public_id}")) == [paid.json()["id"]]
    assert desk.get(f"/api/v1/payments/{paid.json()['id']}/").json()["reference"] == "4242"


def test_payment_rule_violations_store_nothing(world):
    patient = world["billing"].patients[0]
    desk = api_as(world["front_desk"])
    charge = _patient_charge(world["practice"], patient, 4000, days_ago=3)
    bad = [
        {"amount": "0.00", "method": "cash"},
        {"amount": "12.345", "method": "cash"},
        {"amount": "10.00", "method": "bitcoin"},
        {"amount": "10.00", "method": "cash", "charges": [str(world["billing"].coverages[1].public_id)]},
    ]
    for extra in bad:
        response = desk.post("/api/v1/payments/", {"patient": str(patient.public_id), **extra}, format="json")
        assert response.status_code == 400, extra
    with practice_scope(world["practice"]):
        assert PatientPayment.objects.count() == 0
    assert charge.pk


def test_clinicians_cannot_record_payments_or_read_balances(world):
    patient = world["billing"].patients[0]
    clinician = api_as(world["clinician"])
    body = {"patient": str(patient.public_id), "amount": "10.00", "method": "cash"}
    assert clinician.post("/api/v1/payments/", body, format="json").status_code == 403
    assert clinician.get(f"/api/v1/patients/{patient.public_id}/balance/").status_code == 403
    with practice_scope(world["practice"]):
        assert PatientPayment.objects.count() == 0


def test_balance_of_another_practices_patient_is_404(world):
    with scopes_disabled():
        stranger = cf.PatientFactory(practice=world["other"])
    assert api_as(world["front_desk"]).get(f"/api/v1/patients/{stranger.public_id}/balance/").status_code == 404


def test_statements_list_and_detail(world, biller):
    patient = world["billing"].patients[0]
    _patient_charge(world["practice"], patient, 4000, days_ago=3)
    from billing.services_patient_billing import statement_issue

    with practice_scope(world["practice"]):
        statement = statement_issue(patient=patient, period_end=timezone.localdate())
        bf.StatementFactory(practice=world["practice"], patient=world["billing"].patients[1])
    assert ids(biller.get(f"/api/v1/statements/?patient={patient.public_id}")) == [str(statement.public_id)]
    detail = biller.get(f"/api/v1/statements/{statement.public_id}/").json()
    assert detail["balance_due"] == "40.00" and detail["lines"][0]["balance"] == "40.00"


# --- A/R summary -------------------------------------------------------------------------------


def test_ar_summary_is_money_strings_for_the_dashboard_roles_only(world, biller):
    patient = world["billing"].patients[0]
    _patient_charge(world["practice"], patient, 4000, days_ago=45)
    with practice_scope(world["practice"]):
        charge = bf.ChargeFactory(practice=world["practice"], coverage=world["billing"].coverages[0])
        bf.ledger_charge(charge)
    response = biller.get("/api/v1/ar/summary/?period=30")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["insurance_ar"] == "150.00" and body["patient_ar"] == "40.00" and body["total_ar"] == "190.00"
    assert body["aging_patient"]["buckets"]["31-60"] == "40.00"
    assert body["aging_by_payer"][0]["payer"] == str(world["billing"].payer.public_id)
    assert len(body["months"]) == 12 and body["period_start"] < body["period_end"]
    assert biller.get("/api/v1/ar/summary/?period=7").status_code == 400
    assert biller.get("/api/v1/ar/summary/?as_of=0001-01-01").status_code == 400
    assert api_as(world["clinician"]).get("/api/v1/ar/summary/").status_code == 403
    assert api_as(world["front_desk"]).get("/api/v1/ar/summary/").status_code == 403


# --- API keys ----------------------------------------------------------------------------------


def test_an_api_key_reads_with_billing_read_and_acts_only_with_billing_write(world, make_member):
    from integrations.api_keys import api_key_create

    owner = make_member(world["practice"], Role.OWNER, email="owner@riverside.test")
    claim = _claim(world["practice"], status=S.SUBMITTED)

    def key(*scopes: str) -> APIClient:
        _key, raw = api_key_create(by=owner, name="Warehouse", scopes=list(scopes))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    reader = key("billing:read")
    assert ids(reader.get("/api/v1/claims/")) == [str(claim.public_id)]
    assert reader.get("/api/v1/ar/summary/").status_code == 200
    move = {"status": "accepted", "note": "277CA"}
    refused = reader.post(f"/api/v1/claims/{claim.public_id}/transition/", move, format="json")
    assert refused.status_code == 403 and "billing:write" in refused.json()["error"]["message"]
    assert _status(claim) == S.SUBMITTED
    assert key("clinical:read", "clinical:write").get("/api/v1/claims/").status_code == 403

    writer = key("billing:read", "billing:write")
    assert writer.post(f"/api/v1/claims/{claim.public_id}/transition/", move, format="json").status_code == 200
    assert _status(claim) == S.ACCEPTED
