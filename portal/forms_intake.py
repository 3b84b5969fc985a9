"""Forms for the intake packet (patient side) and its setup and review (staff side). They parse input;
portal.services_intake enforces the rules and writes."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone

from billing.models import Coverage
from clinical.forms_patients import DATE_INPUT_FORMATS, DateInput
from clinical.models import STATE_VALIDATOR, ZIP_VALIDATOR
from portal.models import IntakeStep

YES_NO = [("", "Choose"), ("no", "No"), ("yes", "Yes")]

# Demographic fields the patient may fill; the keys are clinical.Patient field names (patient_update).
DEMOGRAPHIC_FIELDS: tuple[str, ...] = (
    "legal_first_name",
    "legal_middle_name",
    "legal_last_name",
    "preferred_name",
    "pronouns",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "phone",
    "email",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relationship",
)
GUARDIAN_FIELDS: tuple[str, ...] = ("guardian_name", "guardian_phone", "guardian_email", "guardian_relationship")


def _upper(value: str) -> str:
    return (value or "").strip().upper()


class DemographicsForm(forms.Form):
    """Validated like the staff patient form (clinical.forms_patients.PatientForm): state, ZIP,
    e-mail, a guardian for a minor. The date of birth is shown read-only (staff change it)."""

    legal_first_name = forms.CharField(label="Legal first name", max_length=100)
    legal_middle_name = forms.CharField(label="Legal middle name", max_length=100, required=False)
    legal_last_name = forms.CharField(label="Legal last name", max_length=100)
    preferred_name = forms.CharField(label="Preferred name", max_length=100, required=False)
    pronouns = forms.CharField(
        label="Pronouns", max_length=40, required=False, help_text="For example she/her, he/him, they/them."
    )
    address_line1 = forms.CharField(label="Street address", max_length=200)
    address_line2 = forms.CharField(label="Apartment, suite", max_length=200, required=False)
    city = forms.CharField(label="City", max_length=100)
    state = forms.CharField(label="State", max_length=2, help_text="Two letters, e.g. OR.")
    postal_code = forms.CharField(label="ZIP code", max_length=10, validators=[ZIP_VALIDATOR])
    phone = forms.CharField(label="Mobile phone", max_length=32, widget=forms.TextInput(attrs={"type": "tel"}))
    email = forms.EmailField(label="Email")
    emergency_contact_name = forms.CharField(label="Emergency contact", max_length=200)
    emergency_contact_phone = forms.CharField(
        label="Emergency contact phone", max_length=32, widget=forms.TextInput(attrs={"type": "tel"})
    )
    emergency_contact_relationship = forms.CharField(label="Their relationship to you", max_length=60)
    guardian_name = forms.CharField(label="Parent or guardian", max_length=200, required=False)
    guardian_phone = forms.CharField(
        label="Guardian phone", max_length=32, required=False, widget=forms.TextInput(attrs={"type": "tel"})
    )
    guardian_email = forms.EmailField(label="Guardian email", required=False)
    guardian_relationship = forms.CharField(label="Relationship to the patient", max_length=60, required=False)

    def __init__(self, *args: Any, is_minor: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_minor = is_minor
        if not is_minor:
            for name in GUARDIAN_FIELDS:
                del self.fields[name]
        else:
            self.fields["guardian_name"].required = True

    def clean_state(self) -> str:
        state = _upper(self.cleaned_data["state"])
        STATE_VALIDATOR(state)
        return state

    def clean_phone(self) -> str:
        return _phone(self.cleaned_data["phone"])

    def clean_emergency_contact_phone(self) -> str:
        return _phone(self.cleaned_data["emergency_contact_phone"])

    def answers(self) -> dict[str, str]:
        return {name: (self.cleaned_data.get(name) or "").strip() for name in self.fields}


def _phone(value: str) -> str:
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) < 10:
        raise forms.ValidationError("Enter a phone number with its area code.")
    return value.strip()


class InsuranceForm(forms.Form):
    HAS_INSURANCE = [("", "Choose"), ("yes", "Yes, I will use insurance"), ("no", "No, I will pay myself")]
    RELATIONSHIPS = [("", "Choose"), *Coverage.Relationship.choices]

    has_insurance = forms.ChoiceField(label="Will you use health insurance?", choices=HAS_INSURANCE)
    payer = forms.ChoiceField(label="Insurance company", required=False)
    payer_other = forms.CharField(label="Other insurance company", max_length=60, required=False)
    member_id = forms.CharField(label="Member ID", max_length=80, required=False)
    group_number = forms.CharField(label="Group number", max_length=50, required=False)
    relationship = forms.ChoiceField(
        label="Who is the insurance subscriber?",
        choices=RELATIONSHIPS,
        required=False,
        help_text="Choose Self when the plan is in your own name.",
    )
    subscriber_first_name = forms.CharField(label="Subscriber first name", max_length=35, required=False)
    subscriber_last_name = forms.CharField(label="Subscriber last name", max_length=60, required=False)
    subscriber_date_of_birth = forms.DateField(
        label="Subscriber date of birth", required=False, widget=DateInput(), input_formats=DATE_INPUT_FORMATS
    )
    subscriber_sex = forms.ChoiceField(
        label="Subscriber sex (as on the plan)",
        required=False,
        choices=[("", "Choose"), ("F", "Female"), ("M", "Male"), ("U", "Unknown")],
    )

    def __init__(self, *args: Any, payers: list = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["payer"].choices = [
            ("", "Choose"),
            *[(str(p.public_id), p.name) for p in payers],
            ("other", "Other (type its name)"),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("has_insurance") != "yes":
            return data
        if not data.get("payer"):
            self.add_error("payer", "Choose your insurance company.")
        elif data["payer"] == "other" and not (data.get("payer_other") or "").strip():
            self.add_error("payer_other", "Type the name of your insurance company.")
        if not (data.get("member_id") or "").strip():
            self.add_error("member_id", "Enter the member ID from your card.")
        relationship = data.get("relationship")
        if not relationship:
            self.add_error("relationship", "Choose who the subscriber is.")
        elif relationship != Coverage.Relationship.SELF:
            for name, message in (
                ("subscriber_first_name", "Enter the subscriber's first name."),
                ("subscriber_last_name", "Enter the subscriber's last name."),
                ("subscriber_date_of_birth", "Enter the subscriber's date of birth."),
                ("subscriber_sex", "Choose the subscriber's sex as on the plan."),
            ):
                if not data.get(name):
                    self.add_error(name, message)
        dob = data.get("subscriber_date_of_birth")
        if dob and dob > timezone.localdate():
            self.add_error("subscriber_date_of_birth", "The date of birth cannot be in the future.")
        return data

    def answers(self) -> dict[str, str]:
        out = {}
        for name in self.fields:
            value = self.cleaned_data.get(name)
            out[name] = value.isoformat() if isinstance(value, date) else (value or "").strip()
        if out["has_insurance"] != "yes":
            out = {"has_insurance": out["has_insurance"]}
        elif out["relationship"] == Coverage.Relationship.SELF:
            for name in ("subscriber_first_name", "subscriber_last_name", "subscriber_date_of_birth", "subscriber_sex"):
                out[name] = ""
        return out


class CardUploadForm(forms.Form):
    KINDS = [("card_front", "Front of the card"), ("card_back", "Back of the card")]
    kind = forms.ChoiceField(label="Which side", choices=KINDS)
    file = forms.FileField(
        label="Photo of the card",
        help_text="A photo (JPEG, PNG or HEIC) or a PDF.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/*,application/pdf", "capture": "environment"}),
    )


class ConsentSignForm(forms.Form):
    typed_name = forms.CharField(
        label="Type your full legal name to sign",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    agree = forms.BooleanField(label="I have read and agree", required=True)


class HistoryForm(forms.Form):
    presenting_concerns = forms.CharField(
        label="What brings you in? What would you like help with?",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    previous_treatment = forms.ChoiceField(label="Have you had counseling or therapy before?", choices=YES_NO)
    previous_treatment_detail = forms.CharField(
        label="If yes: when, and what helped?",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    medications = forms.CharField(
        label="Medications you take now (name and dose)",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    hospitalisations = forms.ChoiceField(label="Have you ever been hospitalized for mental health?", choices=YES_NO)
    hospitalisations_detail = forms.CharField(
        label="If yes: when and where?", max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    substance_use = forms.ChoiceField(label="Do alcohol or drugs cause you problems?", choices=YES_NO)
    substance_use_detail = forms.CharField(
        label="If yes: tell us more", max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    family_history = forms.CharField(
        label="Mental-health conditions in your family",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def answers(self) -> dict[str, str]:
        return {name: (self.cleaned_data.get(name) or "").strip() for name in self.fields}


HISTORY_LABELS = {name: str(field.label) for name, field in HistoryForm.base_fields.items()}
DEMOGRAPHIC_LABELS = {name: str(field.label) for name, field in DemographicsForm.base_fields.items()}
INSURANCE_LABELS = {name: str(field.label) for name, field in InsuranceForm.base_fields.items()}


# --- Staff -------------------------------------------------------------------------------------


class ReturnForm(forms.Form):
    note = forms.CharField(
        label="Note to the patient",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Say what to change. The patient sees this note.",
    )


class AcceptForm(forms.Form):
    payer = forms.ChoiceField(
        label="Payer for the coverage",
        required=False,
        help_text="Needed when the patient typed an insurance company that is not on the practice's list.",
    )

    def __init__(self, *args: Any, payers: list = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["payer"].choices = [("", "Choose"), *[(str(p.public_id), p.name) for p in payers]]


class PacketForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120)
    description = forms.CharField(label="Description", max_length=300, required=False)
    steps = forms.CharField(
        label="Steps, in order",
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=(
            "One step a line: a kind (demographics, insurance, consent, history, questionnaires), then for consent the "
            "consent key and for questionnaires the instrument codes, e.g. 'consent informed-consent' or "
            "'questionnaires PHQ-9 GAD-7'."
        ),
    )
    is_default = forms.BooleanField(label="Ask new portal patients to complete this packet", required=False)

    def clean_steps(self) -> list[dict[str, Any]]:
        kinds = dict(IntakeStep.Kind.choices)
        steps = []
        for number, line in enumerate(self.cleaned_data["steps"].splitlines(), start=1):
            words = line.split()
            if not words:
                continue
            kind = words[0].lower()
            if kind not in kinds:
                raise forms.ValidationError(f"Line {number}: '{words[0]}' is not a step kind.")
            step: dict[str, Any] = {"kind": kind, "title": kinds[kind]}
            if kind == IntakeStep.Kind.CONSENT:
                if len(words) != 2:
                    raise forms.ValidationError(f"Line {number}: name one consent key.")
                step["consent_key"] = words[1]
            if kind == IntakeStep.Kind.QUESTIONNAIRES:
                if len(words) < 2:
                    raise forms.ValidationError(f"Line {number}: name at least one instrument code.")
                step["instrument_codes"] = words[1:]
            steps.append(step)
        if not steps:
            raise forms.ValidationError("Add at least one step.")
        return steps


class ConsentForm(forms.Form):
    key = forms.SlugField(label="Key", max_length=60, help_text="A stable name, e.g. informed-consent.")
    title = forms.CharField(label="Title", max_length=200)
    body = forms.CharField(label="Text", widget=forms.Textarea(attrs={"rows": 14}))


class ConsentVersionForm(forms.Form):
    title = forms.CharField(label="Title", max_length=200)
    body = forms.CharField(label="Text", widget=forms.Textarea(attrs={"rows": 14}))
