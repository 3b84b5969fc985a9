"""Forms for questionnaire delivery and completion.

`QuestionnaireForm` is the item form of any library instrument (used by the patient's link page
and by clinician entry): one radio group per item, the PHQ-9 difficulty question, and C-SSRS skip
logic applied on the server (items hidden by an earlier answer are scored as 0, as the scoring
interface defines).
"""

from __future__ import annotations

from typing import Any

from django import forms

from assessments.library import Instrument, instrument_choices, visible_items
from assessments.models import AssessmentSettings, DeliveryChannel, Protocol
from practice.models import Membership


def _item_field_name(key: str) -> str:
    return f"item_{key}"


class QuestionnaireForm(forms.Form):
    """One radio group per item. `allow_missing=True` (paper forms) leaves unanswered items as
    None (the scoring module's documented missing-item policy decides); otherwise every item
    shown must be answered. `ask_sex=True` adds the sex question that AUDIT-C's cut-off needs."""

    def __init__(
        self,
        *args: Any,
        instrument: Instrument,
        allow_missing: bool = False,
        ask_sex: bool = False,
        initial_answers: list[int | None] | None = None,
        initial_difficulty: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        self.allow_missing = allow_missing
        for index, item in enumerate(instrument.items):
            field = forms.TypedChoiceField(
                label=item.text,
                choices=[(str(o.value), o.label) for o in item.options],
                coerce=int,
                required=False,
                widget=forms.RadioSelect,
            )
            field.item = item
            field.number_label = item.key
            if initial_answers is not None and index < len(initial_answers) and initial_answers[index] is not None:
                field.initial = str(initial_answers[index])
            self.fields[_item_field_name(item.key)] = field
        if instrument.difficulty_item is not None:
            item = instrument.difficulty_item
            field = forms.TypedChoiceField(
                label=item.text,
                choices=[(str(o.value), o.label) for o in item.options],
                coerce=int,
                required=False,
                empty_value=None,
                widget=forms.RadioSelect,
            )
            field.item = item
            field.number_label = ""
            if initial_difficulty is not None:
                field.initial = str(initial_difficulty)
            self.fields["difficulty"] = field
        if ask_sex:
            self.fields["sex"] = forms.ChoiceField(
                label="Sex (used for this questionnaire's scoring cut-off)",
                choices=[("female", "Female"), ("male", "Male")],
                widget=forms.RadioSelect,
            )
            self.fields["sex"].item = None
            self.fields["sex"].number_label = ""

    def question_fields(self) -> list[forms.BoundField]:
        """Every radio group in page order: the items, then difficulty and sex when asked."""
        extra = [self[name] for name in ("difficulty", "sex") if name in self.fields]
        return self.item_fields() + extra

    def item_fields(self) -> list[forms.BoundField]:
        return [self[_item_field_name(item.key)] for item in self.instrument.items]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        by_key = {}
        for item in self.instrument.items:
            value = cleaned.get(_item_field_name(item.key))
            by_key[item.key] = None if value in (None, "") else int(value)
        shown = {item.key for item in visible_items(self.instrument, by_key)}
        answers: list[int | None] = []
        for item in self.instrument.items:
            value = by_key[item.key]
            if item.key not in shown:
                answers.append(0)  # skipped by the skip logic: scored as 0
                continue
            if value is None and not self.allow_missing:
                self.add_error(_item_field_name(item.key), f"Please answer question {item.key}.")
            answers.append(value)
        cleaned["answers"] = answers
        cleaned["difficulty"] = cleaned.get("difficulty") if "difficulty" in self.fields else None
        return cleaned


class InstrumentPickForm(forms.Form):
    """Clinician entry, step one: which instrument and how it was completed."""

    MODE_CHOICES = [("clinician", "In session (administered by me)"), ("paper", "Paper form (entering it now)")]

    instrument = forms.ChoiceField(label="Questionnaire", choices=())
    mode = forms.ChoiceField(label="How it was completed", choices=MODE_CHOICES, initial="clinician")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["instrument"].choices = instrument_choices()


class CompletionDetailsForm(forms.Form):
    """Clinician entry, step two (with the item form): paper forms need the date completed."""

    mode = forms.ChoiceField(choices=InstrumentPickForm.MODE_CHOICES, widget=forms.HiddenInput)
    completed_on = forms.DateField(
        label="Date the paper form was completed",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("mode") == "paper" and not cleaned.get("completed_on"):
            self.add_error("completed_on", "Give the date the paper form was completed.")
        return cleaned


class CorrectionForm(forms.Form):
    reason = forms.CharField(
        label="Reason for the correction",
        max_length=300,
        widget=forms.TextInput(attrs={"placeholder": "e.g. item 4 was transcribed from the wrong column"}),
    )


class ProtocolForm(forms.Form):
    name = forms.CharField(max_length=120)
    instrument_codes = forms.MultipleChoiceField(
        label="Questionnaires", choices=(), widget=forms.CheckboxSelectMultiple
    )
    audience = forms.ChoiceField(label="For", choices=Protocol.Audience.choices, widget=forms.RadioSelect)
    diagnosis_prefixes = forms.CharField(
        label="Diagnosis codes or prefixes",
        required=False,
        help_text="ICD-10-CM, separated by commas: F32, F33, F41.1. Matches any active diagnosis.",
    )
    clinicians = forms.ModelMultipleChoiceField(
        queryset=Membership.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    at_intake = forms.BooleanField(label="At intake (before the first session)", required=False)
    every_n_sessions = forms.IntegerField(
        label="Every Nth session", required=False, min_value=1, max_value=52, help_text="e.g. 2 = every 2nd session"
    )
    every_n_weeks = forms.IntegerField(label="Every N weeks", required=False, min_value=1, max_value=52)
    channel = forms.ChoiceField(label="Delivered by", choices=DeliveryChannel.choices)
    auto_assign = forms.BooleanField(
        label="Assign automatically to every matching patient", required=False, initial=True
    )

    def __init__(self, *args: Any, clinicians=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["instrument_codes"].choices = instrument_choices()
        if clinicians is not None:
            self.fields["clinicians"].queryset = clinicians
            self.fields["clinicians"].label_from_instance = lambda m: m.user.display_name

    def clean_diagnosis_prefixes(self) -> list[str]:
        raw = self.cleaned_data.get("diagnosis_prefixes") or ""
        return [p.strip() for p in raw.replace(";", ",").split(",") if p.strip()]

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "instrument_codes": data["instrument_codes"],
            "audience": data["audience"],
            "diagnosis_prefixes": data["diagnosis_prefixes"],
            "clinicians": list(data.get("clinicians") or []),
            "at_intake": data.get("at_intake", False),
            "every_n_sessions": data.get("every_n_sessions"),
            "every_n_weeks": data.get("every_n_weeks"),
            "channel": data["channel"],
            "auto_assign": data.get("auto_assign", False),
        }


class AssessmentSettingsForm(forms.ModelForm):
    class Meta:
        model = AssessmentSettings
        fields = ["link_valid_hours", "send_hours_before", "escalate_after_minutes", "bill_screening_cpt"]
        labels = {
            "link_valid_hours": "Link valid for (hours)",
            "send_hours_before": "Send before the appointment (hours)",
            "escalate_after_minutes": "Escalate unacknowledged risk alerts after (minutes)",
            "bill_screening_cpt": "Add CPT 96127 for each scored instrument",
        }


class AssignForm(forms.Form):
    protocol = forms.ModelChoiceField(queryset=Protocol.objects.none(), empty_label="Choose a protocol")

    def __init__(self, *args: Any, protocols=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if protocols is not None:
            self.fields["protocol"].queryset = protocols
        self.fields["protocol"].to_field_name = "public_id"


class SendForm(forms.Form):
    instrument_code = forms.ChoiceField(label="Questionnaire", choices=())
    channel = forms.ChoiceField(label="Send by", choices=DeliveryChannel.choices, widget=forms.RadioSelect)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["instrument_code"].choices = instrument_choices()
