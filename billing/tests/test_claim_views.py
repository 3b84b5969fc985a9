"""Claims pages (helper B2): queue with tabs, filters, inline findings and bulk actions; the claim
page and its actions; the line editor; the charge list; permissions and bounded queries."""

from __future__ import annotations

import sys
import types
from html import escape

import pytest
from django.urls import reverse

from billing import services_charges as sc
from billing import services_claims as svc
from billing.models import Charge, Claim, ClaimExportRequest, ScrubFinding
from billing.tests.claims_world import FakeScrub, add_patient, make_world, signed_note
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db
S = Claim.Status


@pytest.fixture
def world(practice_a):
    with practice_scope(practice_a):
        return make_world(practice_a)


@pytest.fixture
def biller(make_member, practice_a):
    return make_member(practice_a, Role.BILLER, email="bill@riverside.test")


@pytest.fixture
def as_biller(client, login, biller):
    login(biller)
    return client


def _url(name, practice, **kwargs):
    return reverse(name, kwargs={"practice_slug": practice.slug, **kwargs})


def _claims(world, n: int) -> list[Claim]:
    with practice_scope(world.practice):
        for _ in range(n):
            patient = add_patient(world)
            sc.charges_for_note(note_id=signed_note(patient, world.clinician).pk)
        return svc.claims_build(practice_id=world.practice.pk)


def _finding(claim, *, code="P1", severity="error"):
    with practice_scope(claim.practice):
        ScrubFinding.objects.create(
            practice=claim.practice,
            claim=claim,
            rule_code=code,
            severity=severity,
            message="90837 needs 53 minutes or more; the note documents 45.",
            fix="Change the code to 90834 or correct the note's times.",
            fix_url=f"/p/{claim.practice.slug}/billing/claims/{claim.public_id}/edit/",
        )
        Claim.objects.filter(pk=claim.pk).update(error_count=1 if severity == "error" else 0)


def test_queue_shows_rows_tabs_and_the_first_finding_with_its_fix_link(world, as_biller):
    first, second = _claims(world, 2)
    _finding(first)
    page = as_biller.get(_url("claim_queue", world.practice))
    assert page.status_code == 200
    html = page.content.decode()
    assert first.control_number in html and second.control_number in html
    assert "90837 needs 53 minutes" in html and "data-fix-link" in html
    assert "1 error" in html
    assert page.context["tabs"][0] == ("", "All", 2)


def test_queue_filters_by_status_payer_clinician_age_and_errors(world, as_biller):
    from billing.tests import factories as bf

    first, second = _claims(world, 2)
    _finding(first)
    with practice_scope(world.practice):
        Claim.objects.filter(pk=second.pk).update(status=S.READY)
        other_payer = bf.PayerFactory(practice=world.practice)
    url = _url("claim_queue", world.practice)

    def rows(**params):
        return [c.pk for c in as_biller.get(url, params).context["claims"]]

    assert rows(status="ready") == [second.pk]
    assert rows(has_errors="on") == [first.pk]
    assert sorted(rows(payer=str(world.payer.public_id))) == sorted([first.pk, second.pk])
    assert rows(payer=str(other_payer.public_id)) == []
    assert len(rows(clinician=str(world.clinician.public_id))) == 2
    assert len(rows(age="0-30")) == 2 and rows(age="31-60") == []


def test_queue_and_claim_page_queries_are_bounded(world, as_biller, django_assert_max_num_queries):
    claims = _claims(world, 3)
    for claim in claims:
        _finding(claim)
    url = _url("claim_queue", world.practice)
    detail = _url("claim_detail", world.practice, claim_id=claims[0].public_id)
    with django_assert_max_num_queries(30) as few:
        as_biller.get(url)
    with django_assert_max_num_queries(30) as few_detail:
        as_biller.get(detail)
    more = _claims(world, 27)
    for claim in more:
        _finding(claim)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(as_biller.get(url).context["claims"]) == 30
    with django_assert_max_num_queries(len(few_detail.captured_queries)):
        as_biller.get(detail)


def test_claim_page_shows_lines_diagnoses_findings_and_history(world, as_biller):
    (claim,) = _claims(world, 1)
    _finding(claim)
    html = as_biller.get(_url("claim_detail", world.practice, claim_id=claim.public_id)).content.decode()
    for text in (
        "90834",
        "Psychotherapy, about 45 minutes",
        "F33.1",
        "F41.1",
        "$150.00",
        "Change the code to 90834",
        "Acme Health",
        "draft",
    ):
        assert text in html


def test_clinicians_cannot_open_the_queue_and_front_desk_cannot_act(world, client, login, make_member):
    (claim,) = _claims(world, 1)
    login(world.clinician)
    assert client.get(_url("claim_queue", world.practice)).status_code == 403
    client.logout()
    login(make_member(world.practice, Role.FRONT_DESK))
    response = client.post(_url("claim_action", world.practice, claim_id=claim.public_id), {"action": "void"})
    assert response.status_code == 403
    with practice_scope(world.practice):
        assert Claim.objects.get(pk=claim.pk).status == S.DRAFT


def test_bulk_build_turns_charges_into_claims(world, as_biller):
    with practice_scope(world.practice):
        sc.charges_for_note(note_id=signed_note(world.patients[0], world.clinician).pk)
    response = as_biller.post(_url("claim_bulk", world.practice), {"action": "build"})
    assert response.status_code == 302
    with practice_scope(world.practice):
        assert Claim.objects.count() == 1 and Charge.objects.get().status == Charge.Status.ON_CLAIM


def test_bulk_mark_ready_and_void(world, as_biller, monkeypatch):
    first, second = _claims(world, 2)
    FakeScrub().install(monkeypatch)
    url = _url("claim_bulk", world.practice)
    as_biller.post(url, {"action": "ready", "claims": [str(first.public_id)]})
    as_biller.post(url, {"action": "void", "claims": [str(second.public_id)]})
    with practice_scope(world.practice):
        assert Claim.objects.get(pk=first.pk).status == S.READY
        assert Claim.objects.get(pk=second.pk).status == S.VOID


def test_bulk_scrub_queues_the_batch_task(world, as_biller, monkeypatch):
    claims = _claims(world, 2)
    seen = {}
    module = types.ModuleType("billing.tasks_scrub")
    module.claims_scrub_batch_task = types.SimpleNamespace(delay=lambda **kw: seen.update(kw))
    monkeypatch.setitem(sys.modules, "billing.tasks_scrub", module)
    as_biller.post(
        _url("claim_bulk", world.practice), {"action": "scrub", "claims": [str(c.public_id) for c in claims]}
    )
    assert seen == {"practice_id": world.practice.pk, "claim_ids": sorted(c.pk for c in claims)}


def test_bulk_export_queues_the_selected_ready_claims_and_opens_the_files_page(
    world, as_biller, biller, django_capture_on_commit_callbacks
):
    chosen, other = _claims(world, 2)
    with practice_scope(world.practice):
        Claim.objects.filter(pk__in=[chosen.pk, other.pk]).update(status=S.READY)
    with django_capture_on_commit_callbacks(execute=True):
        response = as_biller.post(
            _url("claim_bulk", world.practice), {"action": "export", "claims": [str(chosen.public_id)]}
        )
    assert response.status_code == 302 and response["Location"] == _url("x12_files", world.practice)
    with practice_scope(world.practice):
        request = ClaimExportRequest.objects.get()
        assert request.claim_ids == [str(chosen.public_id)] and request.requested_by == biller
        assert request.status == "done", request.error
        (claim_file,) = request.files.all()
        assert Claim.objects.get(pk=chosen.pk).claim_file == claim_file
        assert Claim.objects.get(pk=other.pk).status == S.READY  # not selected: not exported


def test_bulk_export_while_an_export_runs_says_so(world, as_biller, django_capture_on_commit_callbacks):
    (claim,) = _claims(world, 1)
    with practice_scope(world.practice):
        Claim.objects.filter(pk=claim.pk).update(status=S.READY)
        ClaimExportRequest.objects.create(practice=world.practice, status="running")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = as_biller.post(
            _url("claim_bulk", world.practice), {"action": "export", "claims": [str(claim.public_id)]}, follow=True
        )
    assert "An 837 export is already running" in response.content.decode() and callbacks == []
    with practice_scope(world.practice):
        assert ClaimExportRequest.objects.count() == 1


def test_claim_actions_scrub_ready_and_back_to_draft(world, as_biller, monkeypatch):
    (claim,) = _claims(world, 1)
    scrub = FakeScrub(errors=["P1"]).install(monkeypatch)
    url = _url("claim_action", world.practice, claim_id=claim.public_id)
    assert as_biller.post(url, {"action": "scrub"}).status_code == 302
    refused = as_biller.post(url, {"action": "ready"})
    assert refused.status_code == 400 and "P1" in refused.content.decode()
    scrub.errors = []
    as_biller.post(url, {"action": "ready"})
    with practice_scope(world.practice):
        assert Claim.objects.get(pk=claim.pk).status == S.READY
    as_biller.post(url, {"action": "reopen"})
    with practice_scope(world.practice):
        assert Claim.objects.get(pk=claim.pk).status == S.DRAFT


def test_correct_needs_the_icn_on_the_page(world, as_biller):
    (claim,) = _claims(world, 1)
    with practice_scope(world.practice):
        Claim.objects.filter(pk=claim.pk).update(status=S.SUBMITTED)
    url = _url("claim_action", world.practice, claim_id=claim.public_id)
    refused = as_biller.post(url, {"action": "correct"})
    assert refused.status_code == 400 and escape(svc.NO_ICN_MESSAGE) in refused.content.decode()
    done = as_biller.post(url, {"action": "correct", "payer_claim_number": "ICN42"})
    assert done.status_code == 302
    with practice_scope(world.practice):
        copy = Claim.objects.get(original=claim)
    assert copy.frequency == "7" and str(copy.public_id) in done["Location"]


def test_edit_page_changes_the_code_and_reprices(world, as_biller):
    with practice_scope(world.practice):
        sc.charges_for_note(note_id=signed_note(world.patients[0], world.clinician, service_code="90837").pk)
        (claim,) = svc.claims_build(practice_id=world.practice.pk)
        line = claim.lines.get()
    url = _url("claim_edit", world.practice, claim_id=claim.public_id)
    page = as_biller.get(url)
    assert page.status_code == 200 and 'value="90837" selected' in page.content.decode()
    data = {
        "claim-diagnosis_codes": "F33.1, F41.1",
        "claim-place_of_service": "11",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "1",
        "lines-0-line_id": str(line.pk),
        "lines-0-cpt": "90834",
        "lines-0-modifiers": "",
        "lines-0-units": "1",
        "lines-0-diagnosis_pointers": "1, 2",
        "lines-0-place_of_service": "",
    }
    assert as_biller.post(url, data).status_code == 302
    with practice_scope(world.practice):
        line.refresh_from_db()
        claim.refresh_from_db()
    assert line.cpt == "90834" and claim.total_cents == 15000
    bad = as_biller.post(url, {**data, "lines-0-diagnosis_pointers": "5"})
    assert bad.status_code == 400 and "does not point" in bad.content.decode()


def test_charge_list_shows_unbilled_and_patient_charges(world, as_biller):
    with practice_scope(world.practice):
        sc.charges_for_note(note_id=signed_note(world.patients[0], world.clinician).pk)
        patient = add_patient(world, coverage=False)
        sc.charges_for_note(note_id=signed_note(patient, world.clinician).pk)
    page = as_biller.get(_url("charge_list", world.practice))
    assert page.status_code == 200 and len(page.context["charges"]) == 2
    assert len(as_biller.get(_url("charge_list", world.practice), {"kind": "patient"}).context["charges"]) == 1


def test_another_practices_claim_is_404(world, as_biller, practice_b):
    with practice_scope(practice_b):
        other = make_world(practice_b)
        sc.charges_for_note(note_id=signed_note(other.patients[0], other.clinician).pk)
        (claim,) = svc.claims_build(practice_id=practice_b.pk)
    assert as_biller.get(_url("claim_detail", world.practice, claim_id=claim.public_id)).status_code == 404
    response = as_biller.post(_url("claim_bulk", world.practice), {"action": "void", "claims": [str(claim.public_id)]})
    assert response.status_code == 302
    with practice_scope(practice_b):
        assert Claim.objects.get(pk=claim.pk).status == S.DRAFT
