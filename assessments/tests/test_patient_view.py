"""A patient's longitudinal assessment page, the chart's Assessments section and header chip, the
calendar's severity tags and the practice home's Outcomes card."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from assessments.charts import hbar_chart, line_chart, sparkline
from assessments.library import get_instrument
from assessments.tests import factories as af
from clinical.tests import factories as cf
from practice.models import AccessEvent
from practice.permissions import Role
from practice.tests.factories import sign_in
from scheduling.tests.factories import appointment_with_patient, next_weekday_at


def _url(name, practice, **kw):
    return reverse(name, kwargs={"practice_slug": practice.slug, **kw})


def _history(practice, patient, code, totals, *, start_days_ago=120):
    now = timezone.now()
    instrument = get_instrument(code)
    rows = []
    for i, total in enumerate(totals):
        band = instrument.band_for(total)
        rows.append(
            af.ResponseFactory(
                practice=practice,
                patient=patient,
                instrument_code=code,
                total=total,
                severity=band.key,
                severity_label=band.label,
                answers=[0] * (len(instrument.items) - 1) + [1 if total > 20 else 0],
                completed_at=now - timedelta(days=start_days_ago - 14 * i),
            )
        )
    return rows


@pytest.fixture
def world(practice_a, make_member):
    clinician = make_member(practice_a, Role.CLINICIAN, email="cl@riverside.test")
    with scopes_disabled():
        patient = cf.PatientFactory(practice=practice_a, primary_clinician=clinician, legal_last_name="Okonkwo")
        phq = _history(practice_a, patient, "PHQ-9", [18, 15, 13, 11])
        _history(practice_a, patient, "GAD-7", [12, 12])
        af.ResponseFactory(
            practice=practice_a, patient=patient, instrument_code="C-SSRS-SCREEN", total=None,
            severity="low", severity_label="Low risk", answers=[1, 0, 0, 0, 0, 0, 0],
        )  # fmt: skip
        # a correction of the second PHQ-9: the original no longer counts
        af.ResponseFactory(
            practice=practice_a, patient=patient, instrument_code="PHQ-9", total=14, severity="moderate",
            severity_label="Moderate", corrects=phq[1], completed_at=phq[1].completed_at + timedelta(minutes=5),
        )  # fmt: skip
    return {"practice": practice_a, "clinician": clinician, "patient": patient}


def test_longitudinal_page_plots_each_measure_with_bands_baseline_and_change(world, django_assert_max_num_queries):
    c = sign_in(Client(), world["clinician"])
    url = _url("patient_assessments", world["practice"], patient_id=world["patient"].public_id)
    c.get(url)
    with django_assert_max_num_queries(26):
        response = c.get(url)
    assert response.status_code == 200
    data = response.context["data"]
    assert [m.instrument.code for m in data.measures] == ["PHQ-9", "GAD-7"]
    phq = data.measures[0]
    assert [r.total for r in phq.series] == [18, 14, 13, 11]  # the corrected 15 is replaced by 14
    assert phq.change.change == -7 and phq.change.reliable_improvement and not phq.change.recovery
    assert len(phq.chart.bands) == 5 and phq.chart.points[0].is_baseline
    assert [s.instrument.code for s in data.screens] == ["C-SSRS-SCREEN"]
    body = response.content.decode()
    assert "−7 since baseline (reliable improvement)" in body
    assert "Replaced by a correction" in body and "Low risk" in body
    assert "mbc-band mbc-level-4" in body and "mbc-plot__caseness" in body
    assert " style=" not in body.split("<main", 1)[-1]  # CSP: no inline styles in the page body
    with scopes_disabled():
        assert AccessEvent.all_objects.filter(patient_id=world["patient"].public_id, action="view").exists()


def test_longitudinal_page_query_count_does_not_grow_with_history(world, django_assert_max_num_queries):
    with scopes_disabled():
        _history(world["practice"], world["patient"], "PHQ-9", list(range(27, 0, -1)), start_days_ago=800)
    c = sign_in(Client(), world["clinician"])
    with django_assert_max_num_queries(26):
        assert (
            c.get(_url("patient_assessments", world["practice"], patient_id=world["patient"].public_id)).status_code
            == 200
        )


def test_another_clinicians_patient_is_not_shown(world, make_member):
    other = make_member(world["practice"], Role.CLINICIAN)
    url = _url("patient_assessments", world["practice"], patient_id=world["patient"].public_id)
    assert sign_in(Client(), other).get(url).status_code in (302, 404)  # break-the-glass or 404
    assert b"Okonkwo" not in sign_in(Client(), other).get(url).content
    front = make_member(world["practice"], Role.FRONT_DESK)
    assert sign_in(Client(), front).get(url).status_code == 403


def test_chart_shows_latest_scores_change_and_a_header_chip(world):
    c = sign_in(Client(), world["clinician"])
    response = c.get(_url("patient_chart", world["practice"], patient_id=world["patient"].public_id))
    body = response.content.decode()
    headlines = response.context["chart"].assessments
    assert [(h.instrument.code, h.latest_total) for h in headlines] == [("PHQ-9", 11), ("GAD-7", 12)]
    assert "−7 since baseline (reliable improvement)" in body
    assert 'data-test="score-chip"' in body and "PHQ-9 11 · Moderate" in body
    assert "mbc-spark__line" in body


def test_chart_query_bound_grows_by_at_most_two(world, django_assert_max_num_queries):
    c = sign_in(Client(), world["clinician"])
    url = _url("patient_chart", world["practice"], patient_id=world["patient"].public_id)
    c.get(url)
    with django_assert_max_num_queries(30):  # the chart's own bound is 28
        assert c.get(url).status_code == 200


def test_calendar_shows_severity_only_to_members_who_see_results(world, make_member):
    practice, patient = world["practice"], world["patient"]
    with scopes_disabled():
        from assessments.summary import measure_summary_refresh

        measure_summary_refresh(patient_id=patient.id, instrument_code="PHQ-9")
        starts = next_weekday_at(15)
        appointment_with_patient(practice, clinician=world["clinician"], patient=patient, starts_at=starts,
                                 ends_at=starts + timedelta(minutes=45))  # fmt: skip
    params = {"view": "week", "date": starts.date().isoformat(), "clinician": [world["clinician"].public_id]}
    body = sign_in(Client(), world["clinician"]).get(_url("calendar", practice), params).content.decode()
    assert "mbc-cal-tag" in body and "PHQ-9 11" in body
    front = make_member(practice, Role.FRONT_DESK)
    body = sign_in(Client(), front).get(_url("calendar", practice), params).content.decode()
    assert "Okonkwo" in body and "mbc-cal-tag" not in body


def test_practice_home_outcomes_card_for_admins_only(world, make_member):
    with scopes_disabled():
        from assessments.summary import measure_summary_refresh

        measure_summary_refresh(patient_id=world["patient"].id, instrument_code="PHQ-9")
    admin = make_member(world["practice"], Role.ADMIN)
    body = sign_in(Client(), admin).get(_url("practice_dashboard", world["practice"])).content.decode()
    assert "Open the outcome dashboard" in body and "100% of 1" in body  # one reliably improved PHQ-9
    body = sign_in(Client(), world["clinician"]).get(_url("practice_dashboard", world["practice"])).content.decode()
    assert "Open the outcome dashboard" not in body


def test_chart_geometry_is_sane():
    phq9 = get_instrument("PHQ-9")
    now = timezone.now()
    chart = line_chart(phq9, [(now - timedelta(days=30), 20, "Severe", 1), (now, 5, "Mild", 2)])
    assert chart.points[0].x == chart.left and chart.points[-1].x == chart.right
    assert chart.points[0].y < chart.points[1].y  # higher score is higher up
    assert sum(b.height for b in chart.bands) == pytest.approx(chart.plot_height, abs=0.5)
    assert chart.caseness_y is not None and chart.bottom > chart.caseness_y > chart.top
    assert sparkline([3], maximum=27) is None and sparkline([3, 9], maximum=27).polyline
    bars = hbar_chart([("A", 50.0, False), ("B", None, True)], reference=67)
    assert bars.bars[0].width > 0 and bars.bars[1].value_label == "–" and bars.reference_x
