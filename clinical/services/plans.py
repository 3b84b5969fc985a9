"""Treatment plans: versioned problems -> goals -> objectives.

A plan is written as a DRAFT, signed by a clinician (DRAFT -> ACTIVE; the patient's previously
active plan becomes SUPERSEDED in the same transaction) and revised by copying it into a new
DRAFT version: the old version is never changed. On a non-draft plan only two things may happen:
an objective's status changes (while ACTIVE) and the patient's typed signature is recorded.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any, TypedDict

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from clinical.models import Patient, TreatmentGoal, TreatmentObjective, TreatmentPlan, TreatmentProblem
from practice.errors import DomainError
from practice.models import Membership
from practice.permissions import Perm

logger = logging.getLogger(__name__)

REVIEW_REMINDER_DAYS = 7  # remind the primary clinician this many days before review_on (or after it lapsed)


class ObjectiveIn(TypedDict, total=False):
    description: str
    target_on: date
    status: str


class GoalIn(TypedDict, total=False):
    description: str
    interventions: str
    objectives: list[ObjectiveIn]


class ProblemIn(TypedDict, total=False):
    description: str
    goals: list[GoalIn]


PLAN_TEXT_FIELDS = ("strengths", "barriers", "discharge_criteria")


def _require_writer(by: Membership, patient: Patient) -> None:
    if by.practice_id != patient.practice_id or not by.has_perm(Perm.NOTE_WRITE):
        raise PermissionDenied


def _locked(plan: TreatmentPlan) -> TreatmentPlan:
    return TreatmentPlan.objects.select_for_update(of=("self",)).select_related("patient").get(pk=plan.pk)


def _clean_tree(problems: list[ProblemIn]) -> list[ProblemIn]:
    """Check the tree: every row needs its description, every objective a target date and a valid status."""
    statuses = set(TreatmentObjective.Status.values)
    for p_i, problem in enumerate(problems, start=1):
        if not (problem.get("description") or "").strip():
            raise DomainError(f"Problem {p_i} needs a description.", field="problems")
        for g_i, goal in enumerate(problem.get("goals") or [], start=1):
            if not (goal.get("description") or "").strip():
                raise DomainError(f"Problem {p_i}, goal {g_i} needs a description.", field="problems")
            for o_i, objective in enumerate(goal.get("objectives") or [], start=1):
                where = f"Problem {p_i}, goal {g_i}, objective {o_i}"
                if not (objective.get("description") or "").strip():
                    raise DomainError(f"{where} needs a description.", field="problems")
                if not isinstance(objective.get("target_on"), date):
                    raise DomainError(f"{where} needs a target date.", field="problems")
                if objective.get("status", TreatmentObjective.Status.NOT_STARTED) not in statuses:
                    raise DomainError(f"{where} has an unknown status.", field="problems")
    return problems


def _write_tree(plan: TreatmentPlan, problems: list[ProblemIn]) -> None:
    for p_order, problem in enumerate(problems, start=1):
        p = TreatmentProblem.objects.create(
            practice_id=plan.practice_id, plan=plan, order=p_order, description=problem["description"].strip()
        )
        for g_order, goal in enumerate(problem.get("goals") or [], start=1):
            g = TreatmentGoal.objects.create(
                practice_id=plan.practice_id,
                problem=p,
                order=g_order,
                description=goal["description"].strip(),
                interventions=(goal.get("interventions") or "").strip(),
            )
            for o_order, objective in enumerate(goal.get("objectives") or [], start=1):
                TreatmentObjective.objects.create(
                    practice_id=plan.practice_id,
                    goal=g,
                    order=o_order,
                    description=objective["description"].strip(),
                    target_on=objective["target_on"],
                    status=objective.get("status") or TreatmentObjective.Status.NOT_STARTED,
                )


def _delete_tree(plan: TreatmentPlan) -> None:
    # Bottom-up: the foreign keys are PROTECT.
    TreatmentObjective.objects.filter(goal__problem__plan=plan).delete()
    TreatmentGoal.objects.filter(problem__plan=plan).delete()
    TreatmentProblem.objects.filter(plan=plan).delete()


def plan_tree(plan: TreatmentPlan) -> list[ProblemIn]:
    """The plan's problems -> goals -> objectives as plain data (the input shape of plan_create)."""
    problems = TreatmentProblem.objects.filter(plan=plan).prefetch_related("goals__objectives")
    return [
        {
            "description": p.description,
            "goals": [
                {
                    "description": g.description,
                    "interventions": g.interventions,
                    "objectives": [
                        {"description": o.description, "target_on": o.target_on, "status": o.status}
                        for o in g.objectives.all()
                    ],
                }
                for g in p.goals.all()
            ],
        }
        for p in problems
    ]


def _check_review_on(review_on: date | None) -> date:
    if not isinstance(review_on, date):
        raise DomainError("Choose the date the plan must be reviewed.", field="review_on")
    return review_on


@transaction.atomic
def plan_create(
    *,
    patient: Patient,
    by: Membership,
    review_on: date,
    problems: list[ProblemIn],
    effective_on: date | None = None,
    strengths: str = "",
    barriers: str = "",
    discharge_criteria: str = "",
) -> TreatmentPlan:
    """A new DRAFT plan: the next version of the patient's plan (previous = the latest version)."""
    _require_writer(by, patient)
    # Lock the patient row so two drafts created at once cannot take the same version number.
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    _clean_tree(problems)
    last = TreatmentPlan.objects.filter(patient=patient).order_by("-version").first()
    if last is not None and last.status == TreatmentPlan.Status.DRAFT:
        raise DomainError(f"Version {last.version} is already a draft: edit or sign it first.")
    plan = TreatmentPlan(
        practice_id=patient.practice_id,
        patient=patient,
        author=by,
        version=(last.version + 1) if last else 1,
        previous=last,
        status=TreatmentPlan.Status.DRAFT,
        effective_on=effective_on or timezone.localdate(),
        review_on=_check_review_on(review_on),
        strengths=strengths.strip(),
        barriers=barriers.strip(),
        discharge_criteria=discharge_criteria.strip(),
    )
    plan.full_clean(exclude=["previous"])
    plan.save()
    _write_tree(plan, problems)
    return plan


@transaction.atomic
def plan_update_draft(
    *,
    plan: TreatmentPlan,
    by: Membership,
    review_on: date,
    problems: list[ProblemIn],
    effective_on: date | None = None,
    strengths: str = "",
    barriers: str = "",
    discharge_criteria: str = "",
) -> TreatmentPlan:
    """Replace a DRAFT plan's fields and whole tree. Signed versions are never edited."""
    _require_writer(by, plan.patient)
    plan = _locked(plan)
    if plan.status != TreatmentPlan.Status.DRAFT:
        raise DomainError("Only a draft plan can be edited. Revise the plan to change it.")
    _clean_tree(problems)
    plan.review_on = _check_review_on(review_on)
    plan.effective_on = effective_on or plan.effective_on
    plan.strengths, plan.barriers, plan.discharge_criteria = (
        strengths.strip(),
        barriers.strip(),
        discharge_criteria.strip(),
    )
    plan.save(update_fields=["review_on", "effective_on", *PLAN_TEXT_FIELDS, "updated_at"])
    _delete_tree(plan)
    _write_tree(plan, problems)
    return plan


@transaction.atomic
def plan_sign(*, plan: TreatmentPlan, by: Membership) -> TreatmentPlan:
    """The clinician signs a draft: it becomes the ACTIVE plan; the previous active one is SUPERSEDED."""
    _require_writer(by, plan.patient)
    plan = _locked(plan)
    if plan.status != TreatmentPlan.Status.DRAFT:
        raise DomainError("Only a draft plan can be signed.")
    if not TreatmentProblem.objects.filter(plan=plan).exists():
        raise DomainError("Add at least one problem before signing the plan.")
    # Superseded first: the database allows one active plan per patient.
    for old in TreatmentPlan.objects.select_for_update().filter(
        patient_id=plan.patient_id, status=TreatmentPlan.Status.ACTIVE
    ):
        old.status = TreatmentPlan.Status.SUPERSEDED
        old.save(update_fields=["status", "updated_at"])
    plan.status = TreatmentPlan.Status.ACTIVE
    plan.clinician_signed_at = timezone.now()
    plan.save(update_fields=["status", "clinician_signed_at", "updated_at"])
    return plan


@transaction.atomic
def plan_revise(*, plan: TreatmentPlan, by: Membership) -> TreatmentPlan:
    """Start the next version: a DRAFT copy of the active plan and its whole tree. The old one is kept."""
    _require_writer(by, plan.patient)
    plan = _locked(plan)
    if plan.status != TreatmentPlan.Status.ACTIVE:
        raise DomainError("Only the active plan can be revised.")
    return plan_create(
        patient=plan.patient,
        by=by,
        review_on=plan.review_on,
        problems=plan_tree(plan),
        strengths=plan.strengths,
        barriers=plan.barriers,
        discharge_criteria=plan.discharge_criteria,
    )


def _normalized(name: str) -> str:
    return " ".join(name.split()).casefold()


def patient_signature_names(patient: Patient) -> set[str]:
    """The names a patient may type to sign: legal (with or without middle name) or preferred."""
    last = patient.legal_last_name
    names = {patient.legal_name, f"{patient.legal_first_name} {last}"}
    if patient.preferred_name:
        names.add(f"{patient.preferred_name} {last}")
    return {_normalized(n) for n in names}


@transaction.atomic
def plan_patient_sign(*, plan: TreatmentPlan, by: Membership, typed_name: str) -> TreatmentPlan:
    """Record the patient's typed signature on the active plan (signed in person, with `by` present)."""
    _require_writer(by, plan.patient)
    plan = _locked(plan)
    if plan.status != TreatmentPlan.Status.ACTIVE:
        raise DomainError("The patient signs the active plan, after the clinician has signed it.")
    if plan.patient_signed_at is not None:
        raise DomainError("The patient has already signed this plan.")
    if _normalized(typed_name or "") not in patient_signature_names(plan.patient):
        raise DomainError("The typed name must match the patient's full legal or preferred name.", field="typed_name")
    plan.patient_signature_name = " ".join(typed_name.split())
    plan.patient_signed_at = timezone.now()
    plan.save(update_fields=["patient_signature_name", "patient_signed_at", "updated_at"])
    return plan


@transaction.atomic
def objective_set_status(*, objective: TreatmentObjective, by: Membership, status: str) -> TreatmentObjective:
    """Progress on an objective: allowed on the active plan (and on a draft); refused on older versions."""
    objective = (
        TreatmentObjective.objects.select_for_update(of=("self",))
        .select_related("goal__problem__plan__patient")
        .get(pk=objective.pk)
    )
    plan = objective.goal.problem.plan
    _require_writer(by, plan.patient)
    if plan.status not in (TreatmentPlan.Status.ACTIVE, TreatmentPlan.Status.DRAFT):
        raise DomainError("This plan version is no longer active: its objectives cannot change.")
    if status not in TreatmentObjective.Status.values:
        raise DomainError("Choose a valid status.", field="status")
    if objective.status != status:
        objective.status = status
        objective.save(update_fields=["status", "updated_at"])
    return objective


# --- Review reminders --------------------------------------------------------------------------


def plans_due_for_review(*, today: date | None = None) -> Any:
    """ACTIVE plans (in the current practice scope) whose review is within REVIEW_REMINDER_DAYS or past."""
    today = today or timezone.localdate()
    return TreatmentPlan.objects.filter(
        status=TreatmentPlan.Status.ACTIVE, review_on__lte=today + timedelta(days=REVIEW_REMINDER_DAYS)
    )


def plan_review_reminders_send(*, today: date | None = None) -> int:
    """Email each due plan's primary clinician once (run inside a practice scope). Safe to run twice:
    each plan is claimed with a conditional UPDATE before its email is sent; a failed send releases it."""
    from django.core.mail import send_mail
    from django.template.loader import render_to_string
    from django.urls import reverse

    from practice.services import site_url

    sent = 0
    due_ids = list(
        plans_due_for_review(today=today).filter(review_reminder_sent_at__isnull=True).values_list("pk", flat=True)
    )
    for plan_id in due_ids:
        claimed = TreatmentPlan.objects.filter(
            pk=plan_id, status=TreatmentPlan.Status.ACTIVE, review_reminder_sent_at__isnull=True
        ).update(review_reminder_sent_at=timezone.now())
        if claimed != 1:
            continue
        plan = TreatmentPlan.objects.select_related("practice", "patient__primary_clinician__user", "author__user").get(
            pk=plan_id
        )
        clinician = plan.patient.primary_clinician or plan.author
        if clinician is None or not clinician.is_active or not clinician.user.email:
            logger.warning("plan %s due for review: no active clinician to remind", plan.public_id)
            continue
        path = reverse("plan_detail", kwargs={"practice_slug": plan.practice.slug, "plan_id": plan.public_id})
        # No PHI in email: the MRN identifies the chart for the clinician; the link needs sign-in.
        context = {"plan": plan, "mrn": plan.patient.mrn, "url": f"{site_url()}{path}"}
        try:
            send_mail(
                subject="A treatment plan is due for review",
                message=render_to_string("clinical/records/email/plan_review_due.txt", context),
                from_email=None,
                recipient_list=[clinician.user.email],
            )
        except Exception:
            TreatmentPlan.objects.filter(pk=plan_id).update(review_reminder_sent_at=None)
            raise
        sent += 1
    return sent
