"""Forms of the notes area. The note editor is built from the note template's sections."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from clinical.models import Ideation, Modality, NoteTemplate, ProgressNote, RiskLevel
from clinical.note_templates import INTERVENTIONS
from practice.models import Location

# Common behavioural-health CPT codes (AMA CPT; time thresholds per CPT's "midpoint" rule).
CPT_CODES: list[tuple[str, str]] = [
    ("90791", "Psychiatric diagnostic evaluation (intake)"),
    ("90832", "Psychotherapy, 30 min (16–37 min)"),
    ("90834", "Psychotherapy, 45 min (38–52 min)"),
    ("90837", "Psychotherapy, 60 min (53+ min)"),
    ("90839", "Psychotherapy for crisis, first 60 min (30–74 min)"),
    ("90840", "Psychotherapy for crisis, each additional 30 min (add-on to 90839)"),
    ("90846", "Family psychotherapy without the patient, 50 min"),
    ("90847", "Family psychotherapy with the patient, 50 min"),
    ("90853", "Group psychotherapy (other than multiple-family group)"),
    ("90785", "Interactive complexity (add-on to a psychotherapy code)"),
]
CPT_DESCRIPTIONS = dict(CPT_CODES)

YES_NO_UNKNOWN = [("", "Not assessed"), ("yes", "Yes"), ("no", "No")]
_YN = {"yes": True, "no": False, "": None}


def _yn_initial(value: bool | None) -> str:
    return {True: "yes", False: "no"}.get(value, "")


class DateInput(forms.DateInput):
    input_type = "date"


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", **kwargs)


def section_field_name(key: str) -> str:
    return f"section_{key}"


class NoteEditorForm(forms.Form):
    """Everything a clinician types on a note. ``fields_for_service()`` gives note_update_draft's dict."""

    session_on = forms.DateField(label="Session date", widget=DateInput)
    start_time = forms.TimeField(label="Start", required=False, widget=TimeInput)
    end_time = forms.TimeField(label="End", required=False, widget=TimeInput)
    service_code = forms.ChoiceField(label="Service (CPT)", required=False)
    modality = forms.ChoiceField(label="Modality", choices=Modality.choices)
    telehealth_place = forms.ChoiceField(
        label="Patient's location (telehealth)",
        choices=[("10", "At home (POS 10)"), ("02", "Somewhere else (POS 02)")],
        required=False,
    )
    location = forms.ModelChoiceField(
        label="Location (in person)", queryset=Location.objects.none(), required=False, empty_label="—"
    )
    participants = forms.CharField(
        label="Participants", required=False, max_length=300, help_text="Who attended, e.g. “Patient and mother”."
    )
    risk_ideation = forms.ChoiceField(label="Suicidal ideation", required=False)
    risk_plan = forms.ChoiceField(label="Plan", choices=YES_NO_UNKNOWN, required=False)
    risk_intent = forms.ChoiceField(label="Intent", choices=YES_NO_UNKNOWN, required=False)
    risk_means = forms.ChoiceField(label="Access to means", choices=YES_NO_UNKNOWN, required=False)
    risk_protective_factors = forms.CharField(
        label="Protective factors", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    risk_level = forms.ChoiceField(label="Risk level", required=False)
    interventions = forms.MultipleChoiceField(
        label="Interventions used",
        choices=[(i, i) for i in INTERVENTIONS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    plan = forms.CharField(
        label="Follow-up plan",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Next appointment, homework, referrals.",
    )

    def __init__(self, *args: Any, template: NoteTemplate, note: ProgressNote | None = None, **kwargs: Any) -> None:
        if note is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_from(note)
        super().__init__(*args, **kwargs)
        self.template = template
        codes = list(CPT_CODES)
        current = note.service_code if note else ""
        if current and current not in CPT_DESCRIPTIONS:
            codes.append((current, f"{current} (other code)"))
        self.fields["service_code"].choices = [("", "— No billable service —")] + [
            (code, f"{code} · {text}") for code, text in codes
        ]
        self.fields["location"].queryset = Location.objects.filter(is_active=True).order_by("name")
        self.fields["risk_ideation"].choices = [("", "— Choose —"), *Ideation.choices]
        self.fields["risk_level"].choices = [("", "— Choose —"), *RiskLevel.choices]
        self.section_names: list[str] = []
        for section in template.sections:
            name = section_field_name(section["key"])
            self.fields[name] = forms.CharField(
                label=section["label"],
                required=False,
                help_text=section.get("help", ""),
                widget=forms.Textarea(attrs={"rows": 4, "data-section": section["key"]}),
            )
            self.fields[name].is_required_to_sign = bool(section.get("required"))
            self.section_names.append(name)
        # The safety loop: a risk alert not yet answered by a signed note brings the risk section
        # into any template's editor (and missing_for_signature requires it).
        if note is not None:
            from assessments.selectors_alerts import risk_requirements_for_note

            self.risk_alerts = risk_requirements_for_note(note)
        else:
            self.risk_alerts = []
        self.shows_risk = bool(template.includes_risk_assessment or self.risk_alerts)
        if not self.shows_risk:
            for name in self.risk_names:
                del self.fields[name]
        if self.has_plan_section:
            del self.fields["plan"]

    risk_names = ("risk_ideation", "risk_plan", "risk_intent", "risk_means", "risk_protective_factors", "risk_level")

    @property
    def has_plan_section(self) -> bool:
        return any(s["key"] in ("plan", "plan_next") for s in self.template.sections)

    @staticmethod
    def initial_from(note: ProgressNote) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "session_on": note.session_on,
            "start_time": note.start_time,
            "end_time": note.end_time,
            "service_code": note.service_code,
            "modality": note.modality,
            "telehealth_place": note.place_of_service if note.place_of_service in ("10", "02") else "10",
            "location": note.location_id,
            "participants": note.participants,
            "risk_ideation": note.risk_ideation,
            "risk_plan": _yn_initial(note.risk_plan),
            "risk_intent": _yn_initial(note.risk_intent),
            "risk_means": _yn_initial(note.risk_means),
            "risk_protective_factors": note.risk_protective_factors,
            "risk_level": note.risk_level,
            "interventions": list(note.interventions or []),
            "plan": note.plan,
        }
        for key, text in (note.content or {}).items():
            initial[section_field_name(key)] = text
        return initial

    def section_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.section_names]

    def risk_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.risk_names if name in self.fields]

    def fields_for_service(self) -> dict[str, Any]:
        data = self.cleaned_data
        out: dict[str, Any] = {
            "session_on": data["session_on"],
            "start_time": data["start_time"],
            "end_time": data["end_time"],
            "service_code": data["service_code"],
            "modality": data["modality"],
            "location": data["location"],
            "participants": data["participants"],
            "interventions": data["interventions"],
            "content": {name.removeprefix("section_"): data[name] for name in self.section_names},
        }
        if data["modality"] == Modality.TELEHEALTH:
            out["patient_at_home"] = data.get("telehealth_place", "10") != "02"
        if "plan" in self.fields:
            out["plan"] = data["plan"]
        if self.shows_risk:
            out |= {
                "risk_ideation": data["risk_ideation"],
                "risk_level": data["risk_level"],
                "risk_protective_factors": data["risk_protective_factors"],
                **{name: _YN[data[name]] for name in ("risk_plan", "risk_intent", "risk_means")},
            }
        return out


class NoteStartForm(forms.Form):
    template = forms.ModelChoiceField(label="Template", queryset=NoteTemplate.objects.none(), empty_label=None)
    session_on = forms.DateField(label="Session date", widget=DateInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from clinical.selectors.notes import active_note_templates

        self.fields["template"].queryset = active_note_templates()
        self.fields["template"].label_from_instance = lambda t: t.name
        self.fields["session_on"].initial = timezone.localdate()
        soap = next((t for t in self.fields["template"].queryset if t.kind == NoteTemplate.Kind.PROGRESS_SOAP), None)
        if soap is not None:
            self.fields["template"].initial = soap.pk


class CredentialForm(forms.Form):
    credential = forms.CharField(
        label="Password or authenticator code",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Re-enter your password, or a current code from your authenticator app, to sign.",
    )


class AddendumForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=300, help_text="e.g. “Correction of session length”.")
    text = forms.CharField(label="Addendum", widget=forms.Textarea(attrs={"rows": 4}))


class PsychotherapyNoteForm(forms.Form):
    session_on = forms.DateField(label="Session date", widget=DateInput)
    body = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 12}))


class TemplateCopyForm(forms.Form):
    name = forms.CharField(label="Name of the copy", max_length=120)


class TemplateSettingsForm(forms.Form):
    name = forms.CharField(max_length=120)
    default_service_code = forms.ChoiceField(label="Default service (CPT)", required=False)
    includes_risk_assessment = forms.BooleanField(label="Includes a risk assessment", required=False)
    is_active = forms.BooleanField(label="In use (offered for new notes)", required=False)

    def __init__(self, *args: Any, current_code: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        codes = list(CPT_CODES)
        if current_code and current_code not in CPT_DESCRIPTIONS:
            codes.append((current_code, "other code"))
        self.fields["default_service_code"].choices = [("", "— None —")] + [(c, f"{c} · {t}") for c, t in codes]


class SectionForm(forms.Form):
    key = forms.SlugField(
        max_length=40, required=False, help_text="Lower-case letters, digits, underscores; stays fixed once used."
    )
    label = forms.CharField(max_length=120, required=False)
    help = forms.CharField(max_length=300, required=False)
    required = forms.BooleanField(label="Required to sign", required=False)


SectionFormSet = forms.formset_factory(SectionForm, extra=2, can_delete=True, can_order=True)
