"""Forms for treatment plans, medications, prescriptions, documents and the chart PDF."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django import forms
from django.conf import settings
from django.utils.dateparse import parse_date

from clinical.models import Document, Medication, TreatmentObjective
from clinical.services.exports import CHART_SECTIONS
from practice.models import Membership

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PlanHeaderForm(forms.Form):
    effective_on = forms.DateField(widget=DATE_WIDGET, label="Effective from")
    review_on = forms.DateField(widget=DATE_WIDGET, label="Review by", help_text="Often 90 days from today.")
    strengths = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    barriers = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    discharge_criteria = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("effective_on") and data.get("review_on") and data["review_on"] < data["effective_on"]:
            self.add_error("review_on", "The review date cannot be before the effective date.")
        return data


# --- The problems -> goals -> objectives tree ---------------------------------------------------
#
# Plain named inputs, no JavaScript: p-0-description, p-0-g-1-interventions, p-0-g-1-o-2-target_on...
# with hidden counts. "Add another ..." buttons post the form back with one more blank row; rows left
# entirely blank are dropped when saving.

MAX_ROWS = 20  # per level: bounds the work a crafted POST can ask for


@dataclass
class ObjectiveRow:
    prefix: str
    description: str = ""
    target_on: str = ""
    status: str = TreatmentObjective.Status.NOT_STARTED
    errors: list[str] = field(default_factory=list)

    def is_blank(self) -> bool:
        return not (self.description.strip() or self.target_on.strip())


@dataclass
class GoalRow:
    prefix: str
    description: str = ""
    interventions: str = ""
    objectives: list[ObjectiveRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def is_blank(self) -> bool:
        return not (self.description.strip() or self.interventions.strip()) and all(
            o.is_blank() for o in self.objectives
        )


@dataclass
class ProblemRow:
    prefix: str
    description: str = ""
    goals: list[GoalRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def is_blank(self) -> bool:
        return not self.description.strip() and all(g.is_blank() for g in self.goals)


def _count(data: Any, key: str, default: int = 1) -> int:
    try:
        return max(0, min(int(data.get(key, default)), MAX_ROWS))
    except (TypeError, ValueError):
        return default


class PlanTreeForm:
    """Parses, validates and re-renders the plan tree; `add` appends a blank row for "add another"."""

    status_choices = TreatmentObjective.Status.choices

    def __init__(self, data: Any = None, initial: list[dict] | None = None) -> None:
        self.problems: list[ProblemRow] = []
        self.non_field_errors: list[str] = []
        self._cleaned: list[dict] | None = None
        if data is not None:
            self._parse(data)
        elif initial:
            self._from_initial(initial)
        if not self.problems:
            self.problems = [self._blank_problem(0)]

    @staticmethod
    def _blank_objective(prefix: str) -> ObjectiveRow:
        return ObjectiveRow(prefix=prefix)

    def _blank_goal(self, prefix: str) -> GoalRow:
        return GoalRow(prefix=prefix, objectives=[self._blank_objective(f"{prefix}-o-0")])

    def _blank_problem(self, index: int) -> ProblemRow:
        return ProblemRow(prefix=f"p-{index}", goals=[self._blank_goal(f"p-{index}-g-0")])

    def _parse(self, data: Any) -> None:
        for p in range(_count(data, "problem_count")):
            pp = f"p-{p}"
            problem = ProblemRow(prefix=pp, description=data.get(f"{pp}-description", ""))
            for g in range(_count(data, f"{pp}-goal_count")):
                gp = f"{pp}-g-{g}"
                goal = GoalRow(
                    prefix=gp,
                    description=data.get(f"{gp}-description", ""),
                    interventions=data.get(f"{gp}-interventions", ""),
                )
                for o in range(_count(data, f"{gp}-objective_count")):
                    op = f"{gp}-o-{o}"
                    goal.objectives.append(
                        ObjectiveRow(
                            prefix=op,
                            description=data.get(f"{op}-description", ""),
                            target_on=data.get(f"{op}-target_on", ""),
                            status=data.get(f"{op}-status", TreatmentObjective.Status.NOT_STARTED),
                        )
                    )
                problem.goals.append(goal)
            self.problems.append(problem)

    def _from_initial(self, initial: list[dict]) -> None:
        for p, problem in enumerate(initial):
            row = ProblemRow(prefix=f"p-{p}", description=problem.get("description", ""))
            for g, goal in enumerate(problem.get("goals") or []):
                grow = GoalRow(
                    prefix=f"p-{p}-g-{g}",
                    description=goal.get("description", ""),
                    interventions=goal.get("interventions", ""),
                )
                for o, objective in enumerate(goal.get("objectives") or []):
                    target = objective.get("target_on")
                    grow.objectives.append(
                        ObjectiveRow(
                            prefix=f"p-{p}-g-{g}-o-{o}",
                            description=objective.get("description", ""),
                            target_on=target.isoformat() if isinstance(target, date) else (target or ""),
                            status=objective.get("status", TreatmentObjective.Status.NOT_STARTED),
                        )
                    )
                row.goals.append(grow)
            self.problems.append(row)

    def add(self, what: str) -> bool:
        """`problem`, `goal:<p>` or `objective:<p>:<g>`: append a blank row there. False if not understood."""
        parts = what.split(":")
        try:
            if parts[0] == "problem" and len(self.problems) < MAX_ROWS:
                self.problems.append(self._blank_problem(len(self.problems)))
                return True
            if parts[0] == "goal":
                problem = self.problems[int(parts[1])]
                if len(problem.goals) < MAX_ROWS:
                    problem.goals.append(self._blank_goal(f"{problem.prefix}-g-{len(problem.goals)}"))
                return True
            if parts[0] == "objective":
                goal = self.problems[int(parts[1])].goals[int(parts[2])]
                if len(goal.objectives) < MAX_ROWS:
                    goal.objectives.append(self._blank_objective(f"{goal.prefix}-o-{len(goal.objectives)}"))
                return True
        except (IndexError, ValueError):
            return False
        return False

    def is_valid(self) -> bool:
        cleaned: list[dict] = []
        valid = True
        statuses = set(TreatmentObjective.Status.values)
        for problem in self.problems:
            if problem.is_blank():
                continue
            if not problem.description.strip():
                problem.errors.append("Describe the problem.")
                valid = False
            goals = []
            for goal in problem.goals:
                if goal.is_blank():
                    continue
                if not goal.description.strip():
                    goal.errors.append("Describe the goal, in measurable terms.")
                    valid = False
                objectives = []
                for objective in goal.objectives:
                    if objective.is_blank():
                        continue
                    target = parse_date(objective.target_on.strip()) if objective.target_on.strip() else None
                    if not objective.description.strip():
                        objective.errors.append("Describe the objective.")
                        valid = False
                    if target is None:
                        objective.errors.append("Enter a target date.")
                        valid = False
                    if objective.status not in statuses:
                        objective.errors.append("Choose a status.")
                        valid = False
                    objectives.append(
                        {"description": objective.description, "target_on": target, "status": objective.status}
                    )
                goals.append(
                    {"description": goal.description, "interventions": goal.interventions, "objectives": objectives}
                )
            cleaned.append({"description": problem.description, "goals": goals})
        if not cleaned:
            self.non_field_errors.append("Add at least one problem.")
            valid = False
        self._cleaned = cleaned if valid else None
        return valid

    @property
    def cleaned_data(self) -> list[dict]:
        if self._cleaned is None:
            raise ValueError("call is_valid() first")
        return self._cleaned


# --- Medications and prescriptions ------------------------------------------------------------


class MedicationForm(forms.ModelForm):
    # Declared (not derived from the model) so no query runs at import, outside a practice scope.
    prescribed_by = forms.ModelChoiceField(
        queryset=Membership.all_objects.none(), required=False, label="Prescriber in this practice"
    )

    class Meta:
        model = Medication
        fields = [
            "name",
            "dose",
            "frequency",
            "route",
            "prescribed_by",
            "prescriber_name",
            "started_on",
            "stopped_on",
            "notes",
        ]
        widgets = {
            "started_on": DATE_WIDGET,
            "stopped_on": DATE_WIDGET,
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"prescriber_name": "Outside prescriber"}

    def __init__(self, *args: Any, practice_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field_ = self.fields["prescribed_by"]
        field_.queryset = Membership.objects.filter(practice_id=practice_id, is_active=True).select_related("user")
        field_.label_from_instance = lambda m: f"{m.user.display_name}{', ' + m.title if m.title else ''}"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        started, stopped = data.get("started_on"), data.get("stopped_on")
        if started and stopped and stopped < started:
            self.add_error("stopped_on", "The stop date cannot be before the start date.")
        return data

    def _post_clean(self) -> None:
        # The service validates the model; a ModelForm would otherwise write to the instance here.
        pass


class PrescriptionForm(forms.Form):
    sig = forms.CharField(
        label="Directions (sig)", max_length=300, help_text="e.g. Take one tablet by mouth every morning."
    )
    quantity = forms.CharField(max_length=60, help_text="e.g. 30 (thirty) tablets")
    refills = forms.IntegerField(min_value=0, max_value=11, initial=0)
    dispense_as_written = forms.BooleanField(required=False, label="Dispense as written (no substitution)")


# --- Documents --------------------------------------------------------------------------------


class DocumentUploadForm(forms.Form):
    category = forms.ChoiceField(choices=Document.Category.choices)
    title = forms.CharField(max_length=200)
    uploaded_file = forms.FileField(
        label="File",
        help_text="PDF, PNG, JPEG or HEIC, up to 10 MB. The type is checked from the file's content.",
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/png,image/jpeg,image/heic,.heic"}),
    )
    signed_by_name = forms.CharField(
        max_length=200,
        required=False,
        label="Signed by (typed name)",
        help_text="For consents and releases: the signer types their full name; the time is recorded.",
    )
    expires_on = forms.DateField(
        required=False, widget=DATE_WIDGET, label="Expires on", help_text="For releases of information."
    )

    def clean_uploaded_file(self) -> Any:
        f = self.cleaned_data["uploaded_file"]
        limit = settings.TEND_MAX_UPLOAD_BYTES
        if f.size > limit:
            raise forms.ValidationError(f"The file is larger than {limit // (1024 * 1024)} MB.")
        return f


# --- Chart PDF ----------------------------------------------------------------------------------


class ChartPdfForm(forms.Form):
    sections = forms.MultipleChoiceField(
        choices=list(CHART_SECTIONS.items()), widget=forms.CheckboxSelectMultiple, label="Include"
    )
    start = forms.DateField(required=False, widget=DATE_WIDGET, label="Notes from")
    end = forms.DateField(required=False, widget=DATE_WIDGET, label="Notes to")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", "The end date cannot be before the start date.")
        return data
