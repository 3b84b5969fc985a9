"""The outcome dashboard's numbers against a small data set computed by hand (PHQ-9: reliable
change 6 points, caseness 10; GAD-7: reliable change 4, caseness 8)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from assessments.outcomes import classify_change
from assessments.selectors_outcomes import OutcomeFilters, default_filters, outcome_card, outcome_dashboard
from assessments.tests import factories as af
from clinical.tests import factories as cf
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import LocationFactory, sign_in


def _summary(practice, patient, code, baseline, latest, *, clinician, location, dx, days_ago=5, single=False):
    now = timezone.now()
    latest_at = now - timedelta(days=days_ago)
    baseline_at = latest_at if single else latest_at - timedelta(days=90)
    change = None if single else classify_change(code, baseline, latest)
    caseness = {"PHQ-9": 10, "GAD-7": 8}[code]
    flags = {
        name: (getattr(change, name) if change else None)
        for name in ("reliable_improvement", "reliable_deterioration", "response", "remission", "recovery")
    }
    return af.MeasureSummaryFactory(
        practice=practice,
        patient=patient,
        instrument_code=code,
        clinician=clinician,
        location=location,
        primary_diagnosis=dx,
        response_count=1 if single else 3,
        baseline_total=baseline,
        baseline_at=baseline_at,
        latest_total=latest,
        latest_at=latest_at,
        at_caseness_at_baseline=baseline >= caseness,
        reliable_recovery=change.reliable_recovery if change else None,
        **flags,
    )


@pytest.fixture
def world(practice_a, practice_b, make_member):
    ca = make_member(practice_a, Role.CLINICIAN, email="ca@riverside.test", full_name="Ada Alvarez")
    cb = make_member(practice_a, Role.CLINICIAN, email="cb@riverside.test", full_name="Ben Brooks")
    other = make_member(practice_b, Role.CLINICIAN)
    with scopes_disabled():
        l1 = LocationFactory(practice=practice_a, name="North")
        l2 = LocationFactory(practice=practice_a, name="South")
        pts = {i: cf.PatientFactory(practice=practice_a) for i in range(1, 8)}
        s = _summary
        # PHQ-9                      baseline latest  clinician location dx
        s(practice_a, pts[1], "PHQ-9", 20, 8, clinician=ca, location=l1, dx="F32.1")  # RI, recovery, RR
        s(practice_a, pts[2], "PHQ-9", 16, 12, clinician=ca, location=l1, dx="F33.0")  # no change, caseness
        s(practice_a, pts[3], "PHQ-9", 8, 3, clinician=ca, location=l2, dx="F41.1")  # below caseness
        s(practice_a, pts[4], "PHQ-9", 18, 24, clinician=cb, location=l2, dx="F32.1")  # deterioration
        s(practice_a, pts[5], "PHQ-9", 16, 4, clinician=cb, location=l2, dx="F32.0")  # RI, recovery, RR
        s(practice_a, pts[6], "PHQ-9", 14, 14, clinician=cb, location=l1, dx="F41.1", single=True)  # one score
        s(practice_a, pts[7], "PHQ-9", 20, 2, clinician=ca, location=l1, dx="F32.1", days_ago=800)  # out of range
        # GAD-7 for the NHS TT paired rule
        s(practice_a, pts[1], "GAD-7", 12, 5, clinician=ca, location=l1, dx="F32.1")
        s(practice_a, pts[2], "GAD-7", 10, 10, clinician=ca, location=l1, dx="F33.0")
        s(practice_a, pts[5], "GAD-7", 9, 9, clinician=cb, location=l2, dx="F32.0")
        # Another practice's rows never count.
        theirs = cf.PatientFactory(practice=practice_b, primary_clinician=other)
        s(practice_b, theirs, "PHQ-9", 27, 0, clinician=other, location=None, dx="F32.1")
        # Administrations: 6 PHQ-9 due in range (4 completed), plus rows that must not count.
        now = timezone.now()
        for status in ["completed"] * 4 + ["sent", "expired", "cancelled"]:
            af.AdministrationFactory(practice=practice_a, patient=pts[1], status=status, due_at=now - timedelta(days=3))
        af.AdministrationFactory(practice=practice_a, patient=pts[1], instrument_code="GAD-7", status="completed")
        af.AdministrationFactory(practice=practice_a, patient=pts[1], status="sent", due_at=now - timedelta(days=900))
        af.AdministrationFactory(practice=practice_b, patient=theirs, status="sent")
    return {"ca": ca, "cb": cb, "l1": l1, "l2": l2, "practice": practice_a}


def _dashboard(world, **kw):
    with practice_scope(world["practice"]):
        return outcome_dashboard(default_filters(**kw))


def test_practice_figures_match_the_hand_computed_set(world):
    d = _dashboard(world)
    o = d.overall
    assert (o.measured, o.paired) == (6, 5)  # P6 has one score; P7 is out of range
    assert o.mean_baseline == pytest.approx(78 / 5)  # 20+16+8+18+16
    assert o.mean_latest == pytest.approx(51 / 5)  # 8+12+3+24+4
    assert (o.improved, o.deteriorated) == (2, 1)
    assert o.improvement_pct == pytest.approx(40.0)
    assert o.deterioration_pct == pytest.approx(20.0)
    assert (o.at_caseness, o.recovered, o.reliably_recovered) == (4, 2, 2)  # P3 below caseness
    assert o.recovery_pct == pytest.approx(50.0)
    assert (d.completion.due, d.completion.completed) == (6, 4)
    assert d.completion.pct == pytest.approx(400 / 6)


def test_paired_phq9_gad7_recovery_follows_the_nhs_tt_rule(world):
    p = _dashboard(world).paired
    # P1 recovered on both; P2 still at caseness on both; P5 PHQ-9 4 but GAD-7 9 >= 8: not recovered.
    assert (p.patients, p.at_caseness, p.recovered, p.improved, p.reliably_recovered) == (3, 3, 1, 2, 1)
    assert p.recovery_pct == pytest.approx(100 / 3)


def test_breakdowns_by_clinician_location_and_diagnosis(world):
    d = _dashboard(world)
    by_clinician = {r.label: r for r in d.by_clinician}
    assert (by_clinician["Ada Alvarez"].measured, by_clinician["Ada Alvarez"].paired) == (3, 3)
    assert by_clinician["Ada Alvarez"].improvement_pct == pytest.approx(100 / 3)
    assert (by_clinician["Ben Brooks"].measured, by_clinician["Ben Brooks"].paired) == (3, 2)
    assert by_clinician["Ben Brooks"].deterioration_pct == pytest.approx(50.0)
    by_location = {r.label: r for r in d.by_location}
    assert (by_location["North"].measured, by_location["North"].paired, by_location["North"].improved) == (3, 2, 1)
    assert (by_location["South"].measured, by_location["South"].paired, by_location["South"].improved) == (3, 3, 1)
    by_dx = {r.label: r for r in d.by_diagnosis}
    assert (by_dx["F32"].measured, by_dx["F32"].improved) == (3, 2)
    assert (by_dx["F33"].measured, by_dx["F41"].measured, by_dx["F41"].paired) == (1, 2, 1)


def test_clinician_comparison_is_adjusted_for_baseline_severity(world):
    # Band rates: severe (20) 1/1; moderately severe (16, 18, 16) 1/3; mild (8) 0/1.
    adjusted = {a.label: a for a in _dashboard(world).adjusted}
    ada, ben = adjusted["Ada Alvarez"], adjusted["Ben Brooks"]
    assert (ada.patients, ada.observed) == (3, 1)
    assert ada.expected == pytest.approx(1 + 1 / 3 + 0)
    assert ada.difference_pct == pytest.approx(100 / 3 - 400 / 9)
    assert (ben.patients, ben.observed) == (2, 1)
    assert ben.expected == pytest.approx(2 / 3)
    assert ben.difference_pct == pytest.approx(50 - 100 / 3)
    assert ada.is_small and ben.is_small


def test_filters_narrow_the_cohort(world):
    f32 = _dashboard(world, diagnosis_prefix="F32").overall
    assert (f32.measured, f32.paired, f32.improved) == (3, 3, 2)
    assert f32.mean_baseline == pytest.approx(18.0) and f32.mean_latest == pytest.approx(12.0)
    north = _dashboard(world, location_id=world["l1"].id).overall
    assert (north.measured, north.paired) == (3, 2)
    ben = _dashboard(world, clinician_id=world["cb"].id)
    assert (ben.overall.measured, ben.completion.due) == (3, 0)  # the administrations are Ada's patient's
    gad = _dashboard(world, instrument="GAD-7").overall
    assert (gad.measured, gad.improved, gad.at_caseness, gad.recovered) == (3, 1, 3, 1)
    early = _dashboard(
        world, start=timezone.localdate() - timedelta(days=1000), end=timezone.localdate() - timedelta(days=700)
    )
    assert early.overall.measured == 1


def test_outcome_card_reads_the_last_90_days(world):
    with practice_scope(world["practice"]):
        card = outcome_card()
    assert (card.overall.measured, card.overall.improved, card.completion.completed) == (6, 2, 4)


def _client(member):
    return sign_in(Client(), member)


def _url(name, practice, **kw):
    return reverse(name, kwargs={"practice_slug": practice.slug, **kw})


@pytest.mark.parametrize("extra", [0, 40])
def test_dashboard_page_runs_a_bounded_number_of_queries(world, make_member, extra, django_assert_max_num_queries):
    practice = world["practice"]
    with scopes_disabled():
        for i in range(extra):
            _summary(practice, cf.PatientFactory(practice=practice), "PHQ-9", 10 + i % 15, i % 20,
                     clinician=world["ca" if i % 2 else "cb"], location=world["l1"], dx=f"F{30 + i % 9}.1")  # fmt: skip
    admin = make_member(practice, Role.ADMIN)
    c = _client(admin)
    c.get(_url("outcome_dashboard", practice))
    with django_assert_max_num_queries(22):
        response = c.get(_url("outcome_dashboard", practice))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Ada Alvarez" in body and "Indirect standardisation" in body and "2022-23" in body


def test_clinicians_cannot_open_the_dashboard(world):
    assert _client(world["ca"]).get(_url("outcome_dashboard", world["practice"])).status_code == 403


def test_csv_export_has_the_figures_and_escapes_formulas(world, make_member):
    practice = world["practice"]
    with scopes_disabled():
        world["l1"].name = "=HYPERLINK(1)"
        world["l1"].save()
    admin = make_member(practice, Role.OWNER)
    response = _client(admin).get(_url("outcome_dashboard_csv", practice) + "?diagnosis=&instrument=PHQ-9")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    practice_row = next(r for r in rows if r[0] == "practice")
    assert practice_row[2:8] == ["6", "5", "15.6", "10.2", "40.0", "20.0"]
    assert any(r[1] == "'=HYPERLINK(1)" for r in rows if r[0] == "location")
    assert not any(cell.startswith("=") for r in rows for cell in r)


def test_invalid_filters_fall_back_to_the_defaults(world, make_member):
    admin = make_member(world["practice"], Role.ADMIN)
    response = _client(admin).get(_url("outcome_dashboard", world["practice"]) + "?start=2026-05-01&end=2025-01-01")
    assert response.status_code == 200
    assert "start date must be on or before" in response.content.decode()
    assert isinstance(response.context["d"].filters, OutcomeFilters)
