"""Forms for the patient pages. They parse input only; the services enforce the rules."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from clinical.models import CommunicationConsent, Patient
from clinical.services.patients import MIN_BREAK_GLASS_REASON, PATIENT_FIELDS
from practice.models import Membership

DATE_INPUT_FORMATS = ["%Y-%m-%d", "%m/%d/%Y"]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Membership) -> str:
        name = obj.user.display_name
        return f"{name}, {obj.title}" if obj.title else name


class PatientForm(forms.ModelForm):
    """Demographics. ``primary_clinician`` choices come from the view (active clinicians)."""

    date_of_birth = forms.DateField(
        label="Date of birth", widget=DateInput(attrs={"autocomplete": "off"}), input_formats=DATE_INPUT_FORMATS
    )
    primary_clinician = MemberChoiceField(queryset=Membership.all_objects.none(), required=False)

    class Meta:
        model = Patient
        fields = list(PATIENT_FIELDS)
        labels = {
            "legal_first_name": "Legal first name",
            "legal_middle_name": "Legal middle name",
            "legal_last_name": "Legal last name",
            "preferred_name": "Preferred name",
            "sex_assigned_at_birth": "Sex assigned at birth",
            "address_line1": "Address",
            "address_line2": "Address line 2",
            "postal_code": "ZIP code",
            "emergency_contact_name": "Emergency contact",
            "emergency_contact_phone": "Emergency contact phone",
            "emergency_contact_relationship": "Relationship",
            "guardian_name": "Parent or guardian",
            "guardian_phone": "Guardian phone",
            "guardian_email": "Guardian email",
            "guardian_relationship": "Relationship to patient",
            "chart_alert": "Chart alert",
        }
        help_texts = {
            "preferred_name": "Shown on the chart and schedule when it differs from the legal name.",
            "pronouns": "For example she/her, he/him, they/them.",
            "state": "Two letters, e.g. OR.",
        }
        widgets = {
            "legal_first_name": forms.TextInput(attrs={"autocomplete": "off"}),
            "legal_last_name": forms.TextInput(attrs={"autocomplete": "off"}),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
            "emergency_contact_phone": forms.TextInput(attrs={"type": "tel"}),
            "guardian_phone": forms.TextInput(attrs={"type": "tel"}),
            "state": forms.TextInput(attrs={"maxlength": 2, "size": 2}),
        }

    def __init__(self, *args, clinicians=None, **kwargs):
        super().__init__(*args, **kwargs)
        if clinicians is not None:
            self.fields["primary_clinician"].queryset = clinicians
        self.fields["primary_clinician"].empty_label = "— Not assigned —"

    def clean_date_of_birth(self):
        dob = self.cleaned_data["date_of_birth"]
        if dob and dob > timezone.localdate():
            raise forms.ValidationError("The date of birth cannot be in the future.")
        return dob

    def clean(self):
        data = super().clean()
        dob = data.get("date_of_birth")
        if dob and not data.get("guardian_name"):
            today = timezone.localdate()
            age = today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))
            if age < 18:
                self.add_error("guardian_name", "A patient under 18 needs a parent or guardian on file.")
        return data

    def _post_clean(self):
        # The service validates the model (and derives MRN etc.); skip ModelForm's instance checks.
        pass


class PatientCreateForm(PatientForm):
    create_anyway = forms.BooleanField(
        required=False,
        label="Create anyway: this is a different person",
        help_text="Tick only after checking the possible duplicates listed above.",
    )

    class Meta(PatientForm.Meta):
        fields = [f for f in PATIENT_FIELDS if f != "status"] + ["status"]


class ConsentForm(forms.Form):
    channel = forms.ChoiceField(choices=CommunicationConsent.Channel.choices)
    is_granted = forms.TypedChoiceField(
        choices=[("1", "Granted"), ("0", "Withdrawn")], coerce=lambda v: v == "1", empty_value=None
    )
    note = forms.CharField(max_length=200, required=False)


class DiagnosisForm(forms.Form):
    code = forms.CharField(
        label="ICD-10-CM code",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "e.g. F41.1"}),
    )
    onset_on = forms.DateField(label="Onset", required=False, widget=DateInput(), input_formats=DATE_INPUT_FORMATS)
    is_primary = forms.BooleanField(label="Primary diagnosis", required=False)
    rank = forms.IntegerField(
        label="Claim order", required=False, min_value=1, max_value=12, help_text="1 = first diagnosis pointer."
    )
    notes = forms.CharField(max_length=300, required=False, widget=forms.TextInput())


class BreakGlassForm(forms.Form):
    reason = forms.CharField(
        label="Why do you need this chart now?",
        min_length=MIN_BREAK_GLASS_REASON,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=f"At least {MIN_BREAK_GLASS_REASON} characters. Your practice's administrators are told, and "
        "they review every emergency access.",
    )


class ShareForm(forms.Form):
    to_membership = MemberChoiceField(queryset=Membership.all_objects.none(), label="Colleague")

    def __init__(self, *args, candidates=None, **kwargs):
        super().__init__(*args, **kwargs)
        if candidates is not None:
            self.fields["to_membership"].queryset = candidates
