"""Forms of the claims pages: queue filters, bulk actions, one claim's actions and line edits."""

from __future__ import annotations

from django import forms

from billing.cpt import CPT_CODES
from billing.models import Claim
from billing.selectors_claims import AGE_BUCKETS, QueueFilters

BULK_ACTIONS = [
    ("build", "Build claims from charges"),
    ("scrub", "Scrub selected"),
    ("ready", "Mark ready"),
    ("export", "Export 837"),
    ("void", "Void"),
]
CLAIM_ACTIONS = [
    ("scrub", "Scrub"),
    ("ready", "Mark ready"),
    ("reopen", "Back to draft"),
    ("correct", "Corrected claim"),
    ("void", "Void"),
    ("secondary", "Bill secondary"),
]


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "All statuses"), *Claim.Status.choices])
    payer = forms.ChoiceField(required=False, label="Payer")
    clinician = forms.ChoiceField(required=False, label="Clinician")
    age = forms.ChoiceField(
        required=False,
        label="Age (since service)",
        choices=[("", "Any age")] + [(k, v[0]) for k, v in AGE_BUCKETS.items()],
    )
    has_errors = forms.BooleanField(required=False, label="Only claims with errors")

    def __init__(self, *args, payers=(), clinicians=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["payer"].choices = [("", "All payers")] + [(str(p.public_id), p.name) for p in payers]
        self.fields["clinician"].choices = [("", "All clinicians")] + [
            (str(m.public_id), m.user.display_name) for m in clinicians
        ]

    def filters(self) -> QueueFilters:
        if not self.is_bound or not self.is_valid():
            return QueueFilters()
        data = self.cleaned_data
        return QueueFilters(
            status=data.get("status") or "",
            payer_id=data.get("payer") or "",
            clinician_id=data.get("clinician") or "",
            age=data.get("age") or "",
            has_errors=bool(data.get("has_errors")),
        )


class BulkActionForm(forms.Form):
    action = forms.ChoiceField(choices=BULK_ACTIONS)


class ClaimActionForm(forms.Form):
    action = forms.ChoiceField(choices=CLAIM_ACTIONS)
    payer_claim_number = forms.CharField(
        required=False, max_length=50, label="Payer's claim number (ICN)", help_text="From the 835 or 277CA."
    )
    note = forms.CharField(required=False, max_length=300)


def _split(value: str) -> list[str]:
    return [part.strip() for part in (value or "").replace(";", ",").split(",") if part.strip()]


class ClaimHeaderForm(forms.Form):
    diagnosis_codes = forms.CharField(
        label="Diagnoses, in claim order",
        max_length=200,
        help_text="ICD-10-CM codes separated by commas; pointer 1 is the first.",
    )
    place_of_service = forms.CharField(max_length=2, min_length=2, label="Place of service")

    def clean_diagnosis_codes(self) -> list[str]:
        return [c.upper() for c in _split(self.cleaned_data["diagnosis_codes"])]


class ClaimLineForm(forms.Form):
    line_id = forms.IntegerField(widget=forms.HiddenInput)
    cpt = forms.ChoiceField(label="CPT", choices=[(c, f"{c} {v.label}") for c, v in CPT_CODES.items()])
    modifiers = forms.CharField(required=False, max_length=20, help_text="e.g. 95, HO")
    units = forms.IntegerField(min_value=1, max_value=99)
    diagnosis_pointers = forms.CharField(max_length=20, label="Pointers", help_text="e.g. 1, 2")
    place_of_service = forms.CharField(required=False, max_length=2, label="Line POS")

    def clean_modifiers(self) -> list[str]:
        return [m.upper() for m in _split(self.cleaned_data.get("modifiers", ""))]

    def clean_diagnosis_pointers(self) -> list[str]:
        return _split(self.cleaned_data["diagnosis_pointers"])


ClaimLineFormSet = forms.formset_factory(ClaimLineForm, extra=0)
