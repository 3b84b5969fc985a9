"""Denials (helper R3): services (assign, note, appeal, corrected claim, write-off, resolve) with
their notes, audit and ledger postings; the queue, its filters and bounded queries; the no-response
list; the denial page, its actions, permissions and the appeal letter PDF."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from billing import services_denials as svc
from billing.ledger import balance, credit, debit, ledger_post, trial_balance
from billing.models import Claim, ClaimEvent, DenialCase, LedgerEntry, RemittanceLine
from billing.selectors_denials import (
    DenialFilters,
    denial_queue,
    no_response_claims,
    no_response_days,
)
from billing.tests import factories as bf
from practice.errors import DomainError
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db
D = DenialCase.Status


@pytest.fixture
def biller(make_member, practice_a):
    return make_member(practice_a, Role.BILLER, email="bill@riverside.test", full_name="Bea Biller")


@pytest.fixture
def as_biller(client, login, biller):
    login(biller)
    return client


def _case(practice, *, reason="CO-197", amount="150.00", claim_status=Claim.Status.DENIED, days_ago=3, **kw):
    with practice_scope(practice):
        case = bf.DenialCaseFactory(practice=practice, reason_code=reason, amount=Decimal(amount), **kw)
        Claim.objects.filter(pk=case.claim_id).update(status=claim_status)
        rc = case.remittance_claim
        rc.payer_claim_number = "ICN77001"
        rc.remarks = ["M62"]
        rc.save()
        remit = rc.remittance
        remit.payment_date = timezone.localdate() - timedelta(days=days_ago)
        remit.save()
        line = case.claim.lines.first()
        RemittanceLine.objects.create(
            practice=practice,
            remittance_claim=rc,
            claim_line=line,
            cpt=line.cpt,
            charge_amount=Decimal(amount),
            paid_amount=0,
            adjustments=[{"group": "CO", "reason": reason.split("-")[-1], "amount": amount}],
            remarks=["M62"],
            is_denied=True,
            denial_reason=reason,
        )
        case.refresh_from_db()
        return case


def _url(name, practice, **kwargs):
    return reverse(name, kwargs={"practice_slug": practice.slug, **kwargs})


# --- services ------------------------------------------------------------------------------------


def test_assign_and_note_write_history_and_audit(practice_a, biller, make_member):
    from practice.models import AuditLogEntry

    case = _case(practice_a)
    other = make_member(practice_a, Role.ADMIN, email="admin@riverside.test")
    front = make_member(practice_a, Role.FRONT_DESK, email="desk@riverside.test")
    with practice_scope(practice_a):
        svc.denial_assign(case=case, by=biller, assignee=other)
        svc.denial_add_note(case=case, by=biller, text="Called the payer, ref 123.")
        with pytest.raises(DomainError):
            svc.denial_assign(case=case, by=biller, assignee=front)
        with pytest.raises(DomainError):
            svc.denial_add_note(case=case, by=biller, text="  ")
        case.refresh_from_db()
        assert case.assigned_to == other and case.last_worked_at is not None
        assert [(n.action, n.author_id) for n in case.notes.all()] == [("assigned", biller.pk), ("note", biller.pk)]
    with scopes_disabled():
        changes = AuditLogEntry.all_objects.filter(content_type__model="denialcase", object_pk=str(case.pk))
        assert any("assigned_to" in (e.changes or {}) for e in changes)
        assert AuditLogEntry.all_objects.filter(content_type__model="denialnote").count() == 2


def test_only_billing_managers_may_work_a_denial(practice_a, make_member):
    case = _case(practice_a)
    for role in (Role.FRONT_DESK, Role.CLINICIAN):
        member = make_member(practice_a, role)
        with practice_scope(practice_a), pytest.raises(DomainError) as err:
            svc.denial_add_note(case=case, by=member, text="hi")
        assert err.value.code == "forbidden"


def test_appeal_marks_case_and_claim_appealed(practice_a, biller):
    case = _case(practice_a)
    with practice_scope(practice_a):
        svc.denial_appeal(case=case, by=biller, note="Retro auth requested.")
        case.refresh_from_db()
        assert case.status == D.APPEALED
        assert case.claim.status == Claim.Status.APPEALED
        assert ClaimEvent.objects.filter(claim=case.claim, to_status=Claim.Status.APPEALED).exists()
        assert case.notes.get(action="appealed").text == "Appealed. Retro auth requested."
        with pytest.raises(DomainError):
            svc.denial_appeal(case=case, by=biller)


def test_appeal_refused_when_the_claim_cannot_be_appealed(practice_a, biller):
    case = _case(practice_a, claim_status=Claim.Status.DRAFT)
    with practice_scope(practice_a), pytest.raises(DomainError) as err:
        svc.denial_appeal(case=case, by=biller)
    assert err.value.code == "invalid_transition"


def test_corrected_claim_goes_through_billing_one(practice_a, biller):
    case = _case(practice_a)
    with practice_scope(practice_a):
        copy = svc.denial_correct(case=case, by=biller)
        case.refresh_from_db()
        assert copy.frequency == Claim.Frequency.REPLACEMENT and copy.original_id == case.claim_id
        assert copy.payer_claim_number == "ICN77001"
        assert case.status == D.RESUBMITTED
        assert copy.control_number in case.notes.get(action="resubmitted").text


def _ledger_charges(claim):
    for line in claim.lines.select_related("charge"):
        bf.ledger_charge(line.charge)


def _insurance_ar(claim) -> Decimal:
    charge_ids = list(claim.lines.values_list("charge_id", flat=True))
    return balance("insurance_ar", claim=claim) + balance("insurance_ar", charge_id__in=charge_ids)


def test_write_off_posts_a_balanced_ledger_transaction(practice_a, biller):
    case = _case(practice_a, amount="150.00")
    with practice_scope(practice_a):
        _ledger_charges(case.claim)
        assert _insurance_ar(case.claim) == Decimal("150.00")
        svc.denial_write_off(case=case, by=biller, reason="No retro auth available.")
        case.refresh_from_db()
        assert case.status == D.WRITTEN_OFF and case.resolution_note == "No retro auth available."
        entries = list(LedgerEntry.objects.filter(claim=case.claim))
        assert sum(e.amount for e in entries) == 0
        by_account = {e.account: e for e in entries}
        assert by_account["write_off"].amount == Decimal("150.00")
        assert by_account["insurance_ar"].amount == Decimal("-150.00")
        for e in entries:
            assert e.adjustment_reason == "197" and e.adjustment_group == "CO"
            assert e.patient_id == case.claim.patient_id and e.payer_id == case.claim.payer_id
        assert balance("write_off", claim=case.claim) == Decimal("150.00")
        assert _insurance_ar(case.claim) == 0
        assert sum(trial_balance().values()) == 0
        with pytest.raises(DomainError):  # closed: nothing posts twice
            svc.denial_write_off(case=case, by=biller, reason="again")
        assert LedgerEntry.objects.filter(claim=case.claim).count() == 2


def test_write_off_after_the_835_took_the_denial_off_ar_reclassifies(practice_a, biller):
    """services_remittance posts a CO-197 denial as Dr contractual / Cr insurance_ar; writing it
    off then moves it from contractual to write_off and never credits A/R twice."""
    case = _case(practice_a, amount="150.00")
    with practice_scope(practice_a):
        claim = case.claim
        _ledger_charges(claim)
        dims = {"claim": claim, "patient": claim.patient, "adjustment_group": "CO", "adjustment_reason": "197"}
        ledger_post(
            practice_id=practice_a.pk,
            kind="remittance",
            legs=[debit("contractual", Decimal("150"), **dims), credit("insurance_ar", Decimal("150"), **dims)],
            idempotency_key=f"test-remit-{claim.pk}",
        )
        svc.denial_write_off(case=case, by=biller, reason="Auth never obtained.")
        assert _insurance_ar(claim) == 0
        assert balance("contractual", claim=claim) == 0
        assert balance("write_off", claim=claim) == Decimal("150.00")
        assert sum(trial_balance().values()) == 0


def test_write_off_needs_a_reason_and_a_sane_amount(practice_a, biller):
    case = _case(practice_a, amount="80.00")
    with practice_scope(practice_a):
        with pytest.raises(DomainError):
            svc.denial_write_off(case=case, by=biller, reason="")
        with pytest.raises(DomainError):
            svc.denial_write_off(case=case, by=biller, reason="x", amount=Decimal("80.01"))
        svc.denial_write_off(case=case, by=biller, reason="Partial", amount=Decimal("30"))
        assert balance("write_off", claim=case.claim) == Decimal("30.00")


def test_resolve_closes_the_case(practice_a, biller):
    case = _case(practice_a)
    with practice_scope(practice_a):
        with pytest.raises(DomainError):
            svc.denial_resolve(case=case, by=biller, note="")
        svc.denial_resolve(case=case, by=biller, note="Payer reprocessed and paid.")
        case.refresh_from_db()
        assert case.status == D.RESOLVED
        with pytest.raises(DomainError):
            svc.denial_correct(case=case, by=biller)


# --- queue ---------------------------------------------------------------------------------------


def test_queue_filters_and_sorts_oldest_first(practice_a, biller):
    auth = _case(practice_a, reason="CO-197", days_ago=10)
    timely = _case(practice_a, reason="CO-29", days_ago=40)
    dup = _case(practice_a, reason="OA-18", days_ago=2)
    other = _case(practice_a, reason="CO-999", days_ago=5)
    closed = _case(practice_a, reason="CO-197")
    with practice_scope(practice_a):
        svc.denial_resolve(case=closed, by=biller, note="done")
        svc.denial_assign(case=auth, by=biller, assignee=biller)

        def ids(**kw):
            return [c.pk for c in denial_queue(DenialFilters(**kw))]

        assert ids() == [timely.pk, auth.pk, other.pk, dup.pk]
        assert ids(group="auth") == [auth.pk]
        assert ids(group="timely") == [timely.pk]
        assert ids(group="duplicate") == [dup.pk]
        assert ids(group="other") == [other.pk]
        assert ids(assignee_id=str(biller.public_id)) == [auth.pk]
        assert ids(assignee_id="none") == [timely.pk, other.pk, dup.pk]
        assert ids(age="31-60") == [timely.pk]
        assert ids(age="0-30") == [auth.pk, other.pk, dup.pk]
        assert ids(payer_id=str(dup.claim.payer.public_id)) == [dup.pk]
        row = denial_queue(DenialFilters(group="timely"))[0]
        assert row.age_days == 40 and "deadline" in row.description


def test_denials_not_worked_are_flagged(practice_a, biller):
    old = _case(practice_a)
    fresh = _case(practice_a)
    with practice_scope(practice_a):
        DenialCase.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=20))
        DenialCase.objects.filter(pk=fresh.pk).update(created_at=timezone.now() - timedelta(days=20))
        svc.denial_add_note(case=fresh, by=biller, text="Working it.")
        flags = {c.pk: c.is_stale for c in denial_queue(DenialFilters())}
    assert flags == {old.pk: True, fresh.pk: False}


def test_no_response_list_uses_the_payer_window(practice_a):
    with practice_scope(practice_a):
        slow = bf.PayerFactory(practice=practice_a, timely_filing_days=365)  # capped at 45
        quick = bf.PayerFactory(practice=practice_a, timely_filing_days=90)  # 22 days
        assert no_response_days(slow) == 45 and no_response_days(quick) == 22
        now = timezone.now()

        def submitted(payer, days, status=Claim.Status.SUBMITTED):
            cov = bf.CoverageFactory(practice=practice_a, payer=payer)
            claim = bf.claim_with_lines(practice_a, coverage=cov)
            Claim.objects.filter(pk=claim.pk).update(status=status, submitted_at=now - timedelta(days=days))
            return claim

        late_quick = submitted(quick, 30)
        submitted(quick, 10)  # still within 22 days
        submitted(slow, 30)  # within 45
        late_slow = submitted(slow, 50, Claim.Status.ACCEPTED)
        answered = submitted(quick, 60)
        bf.RemittanceClaimFactory(practice=practice_a, claim=answered, outcome="paid")
        rows = no_response_claims(now=now)
        assert [c.pk for c in rows] == [late_slow.pk, late_quick.pk]
        assert rows[1].age_days == 30 and rows[1].threshold_days == 22


# --- pages ---------------------------------------------------------------------------------------


def test_queue_page_shows_reason_words_next_step_and_no_response(practice_a, as_biller):
    case = _case(practice_a, reason="CO-197")
    with practice_scope(practice_a):
        Claim.objects.filter(pk=case.claim_id).update(status=Claim.Status.DENIED)
        cov = bf.CoverageFactory(practice=practice_a)
        silent = bf.claim_with_lines(practice_a, coverage=cov)
        Claim.objects.filter(pk=silent.pk).update(
            status=Claim.Status.SUBMITTED, submitted_at=timezone.now() - timedelta(days=60)
        )
    page = as_biller.get(_url("denial_queue", practice_a))
    assert page.status_code == 200
    html = page.content.decode()
    assert "CO-197" in html and "Prior authorization or precertification was missing." in html
    assert "retro-authorization" in html
    assert f'data-silent-claim="{silent.control_number}"' in html
    assert as_biller.get(_url("denial_queue", practice_a), {"group": "timely"}).context["cases"] == []


def test_queue_status_filter_shows_closed_cases(practice_a, biller, as_biller):
    open_case = _case(practice_a)
    done = _case(practice_a)
    with practice_scope(practice_a):
        svc.denial_resolve(case=done, by=biller, note="Paid on reprocessing.")
    url = _url("denial_queue", practice_a)
    assert [c.pk for c in as_biller.get(url).context["cases"]] == [open_case.pk]
    page = as_biller.get(url, {"status": "resolved"})
    assert [c.pk for c in page.context["cases"]] == [done.pk]
    assert "1 denial: Resolved" in page.content.decode()


def test_queue_and_detail_queries_are_bounded(practice_a, as_biller, django_assert_max_num_queries):
    cases = [_case(practice_a) for _ in range(2)]
    url = _url("denial_queue", practice_a)
    detail = _url("denial_detail", practice_a, case_id=cases[0].public_id)
    with django_assert_max_num_queries(40) as few:
        as_biller.get(url)
    with django_assert_max_num_queries(40) as few_detail:
        as_biller.get(detail)
    for _ in range(8):
        _case(practice_a)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(as_biller.get(url).context["cases"]) == 10
    with django_assert_max_num_queries(len(few_detail.captured_queries)):
        as_biller.get(detail)


def test_detail_explains_cas_and_rarc(practice_a, as_biller):
    case = _case(practice_a)
    page = as_biller.get(_url("denial_detail", practice_a, case_id=case.public_id))
    assert page.status_code == 200
    html = page.content.decode()
    assert "data-denied-line" in html and "M62" in html and "Authorization number missing or invalid." in html
    assert "CO-197" in html and "Prior authorization or precertification was missing." in html
    assert "retro-authorization" in html


def test_actions_through_the_page(practice_a, biller, as_biller):
    case = _case(practice_a)
    action = _url("denial_action", practice_a, case_id=case.public_id)
    r = as_biller.post(action, {"action": "assign", "assignee": str(biller.public_id)})
    assert r.status_code == 302
    r = as_biller.post(action, {"action": "note", "text": "Left a voicemail."})
    assert r.status_code == 302
    r = as_biller.post(action, {"action": "appeal", "text": "See letter."})
    assert r.status_code == 302 and r.url.endswith("/appeal.pdf")
    r = as_biller.post(action, {"action": "write_off", "reason": ""})
    assert r.status_code == 400 and "Say why" in r.content.decode()
    r = as_biller.post(action, {"action": "write_off", "reason": "Appeal lost.", "amount": "150.00"})
    assert r.status_code == 302
    with practice_scope(practice_a):
        case.refresh_from_db()
        assert case.status == D.WRITTEN_OFF and case.assigned_to == biller
        assert list(case.notes.values_list("action", flat=True)) == ["assigned", "note", "appealed", "written_off"]
    history = as_biller.get(_url("denial_detail", practice_a, case_id=case.public_id)).content.decode()
    assert "Left a voicemail." in history and "Appeal lost." in history


def test_corrected_claim_action_redirects_to_the_new_claim(practice_a, as_biller):
    case = _case(practice_a)
    r = as_biller.post(_url("denial_action", practice_a, case_id=case.public_id), {"action": "correct"})
    assert r.status_code == 302 and "/billing/claims/" in r.url


@pytest.mark.parametrize(
    ("role", "view_ok", "act_ok"),
    [
        (Role.BILLER, True, True),
        (Role.ADMIN, True, True),
        (Role.FRONT_DESK, False, False),
        (Role.CLINICIAN, False, False),
    ],
)
def test_permissions(practice_a, make_member, client, login, role, view_ok, act_ok):
    case = _case(practice_a)
    login(make_member(practice_a, role))
    queue = client.get(_url("denial_queue", practice_a))
    assert (queue.status_code == 200) is view_ok
    r = client.post(_url("denial_action", practice_a, case_id=case.public_id), {"action": "note", "text": "x"})
    assert (r.status_code == 302) is act_ok
    if not act_ok:
        assert r.status_code in (403, 404)
        with practice_scope(practice_a):
            assert not case.notes.exists()


def test_other_practice_cannot_see_a_denial(practice_a, practice_b, make_member, client, login):
    case = _case(practice_a)
    login(make_member(practice_b, Role.BILLER))
    assert client.get(f"/p/{practice_b.slug}/billing/denials/{case.public_id}/").status_code == 404


def test_appeal_letter_pdf_has_claim_number_and_reason(practice_a, as_biller):
    pypdf = pytest.importorskip("pypdf")
    pytest.importorskip("weasyprint")
    case = _case(practice_a, reason="CO-197")
    with practice_scope(practice_a):
        bf.BillingProfileFactory(practice=practice_a)
    r = as_biller.get(_url("appeal_letter_pdf", practice_a, case_id=case.public_id))
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(r.content))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert case.claim.control_number in text
    assert "ICN77001" in text
    assert "CO-197" in text and "Prior authorization or precertification was missing." in text
    assert "retroactive authorization" in text
    assert "90834" in text
