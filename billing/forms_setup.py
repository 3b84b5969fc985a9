"""Forms for billing set-up, coverage and authorizations. They check formats; the services in
`services_setup` enforce the rules (one active primary, subscriber fields, self-pay schedule)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms

from billing.cpt import CPT_CODES, MODIFIERS
from billing.models import (
    COVERAGE_EDITABLE_FIELDS,
    PAYER_EDITABLE_FIELDS,
    BillingProfile,
    Coverage,
    FeeSchedule,
    Payer,
    PriorAuthorization,
    RenderingProvider,
    SlidingScaleTier,
)
from billing.services_setup import NPI_CHECK_DIGIT_MESSAGE
from billing.validators import npi_is_valid

DATE = forms.DateInput(attrs={"type": "date"})
# A PO box is not a physical address (837P 2010AA N3: billing.md R3); "P.O. Box", "PO Box", "Post Office Box".
PO_BOX = re.compile(r"\b(p\.?\s*o\.?\s*box|post\s+office\s+box)\b", re.IGNORECASE)
CPT_CHOICES = [(code, f"{code} — {c.label}") for code, c in CPT_CODES.items()]
MODIFIER_CHOICES = [("", "Any modifier")] + [(code, f"{code} — {label}") for code, label in MODIFIERS.items()]


def _npi(value: str) -> str:
    value = (value or "").strip()
    if value and not npi_is_valid(value):
        raise forms.ValidationError(NPI_CHECK_DIGIT_MESSAGE)
    return value


def _digits(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "")


def _code_list(value: str) -> list[str]:
    return [c.strip().upper() for c in re.split(r"[,\s]+", value or "") if c.strip()]


class DollarsField(forms.DecimalField):
    """An amount typed in dollars, cleaned to integer cents."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 9)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", Decimal("0"))
        super().__init__(*args, **kwargs)

    def clean(self, value: Any) -> int | None:
        amount = super().clean(value)
        return None if amount is None else int((amount * 100).quantize(Decimal("1")))


class BillingProfileForm(forms.ModelForm):
    # Typed with dashes/spaces allowed; cleaned to digits, then the model validators apply.
    tin = forms.CharField(label="Tax ID (EIN)", max_length=12, help_text="9 digits, e.g. 37-1234567.")
    zip_code = forms.CharField(label="ZIP+4", max_length=12, help_text="All 9 digits, e.g. 97205-1234.")
    pay_to_zip_code = forms.CharField(label="Pay-to ZIP code", max_length=12, required=False)
    contact_phone = forms.CharField(max_length=20)

    class Meta:
        model = BillingProfile
        fields = [
            "legal_name",
            "entity_type",
            "npi",
            "tin",
            "taxonomy",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "zip_code",
            "pay_to_address_line1",
            "pay_to_address_line2",
            "pay_to_city",
            "pay_to_state",
            "pay_to_zip_code",
            "submitter_id",
            "contact_name",
            "contact_phone",
        ]

    def clean_npi(self) -> str:
        return _npi(self.cleaned_data.get("npi"))

    def clean_tin(self) -> str:
        return _digits(self.cleaned_data.get("tin"))

    def clean_zip_code(self) -> str:
        return _digits(self.cleaned_data.get("zip_code"))

    def clean_pay_to_zip_code(self) -> str:
        return _digits(self.cleaned_data.get("pay_to_zip_code"))

    def clean_contact_phone(self) -> str:
        return re.sub(r"\D", "", self.cleaned_data.get("contact_phone") or "")

    def clean_address_line1(self) -> str:
        value = self.cleaned_data.get("address_line1", "")
        if PO_BOX.search(value):
            raise forms.ValidationError("Use the physical street address; a PO box goes in the pay-to address.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in ("state", "pay_to_state"):
            if data.get(name):
                data[name] = data[name].upper()
        if data.get("pay_to_address_line1") and not (data.get("pay_to_city") and data.get("pay_to_zip_code")):
            self.add_error("pay_to_city", "A pay-to address needs its city, state and ZIP code.")
        return data


class RenderingProviderForm(forms.ModelForm):
    class Meta:
        model = RenderingProvider
        fields = ["first_name", "last_name", "npi", "taxonomy", "credential", "is_prescriber"]
        help_texts = {"taxonomy": "NUCC code, e.g. 103T00000X psychologist, 1041C0700X social worker."}

    def clean_npi(self) -> str:
        return _npi(self.cleaned_data.get("npi"))

    def clean_taxonomy(self) -> str:
        return (self.cleaned_data.get("taxonomy") or "").upper()


class PayerForm(forms.ModelForm):
    auth_required_cpts = forms.CharField(
        label="CPT codes needing prior authorization",
        required=False,
        help_text="Comma-separated, e.g. 90837, 90791. Booking warns when none is on file.",
    )
    accepted_frequency_codes = forms.CharField(
        label="Accepted claim frequency codes",
        required=False,
        help_text="CLM05-3: 1 original, 7 replacement, 8 void. Empty = all accepted.",
    )
    excluded_credentials = forms.CharField(
        label="Credentials this payer does not pay",
        required=False,
        help_text="Comma-separated, e.g. LMFT, LPC-A.",
    )

    class Meta:
        model = Payer
        fields = PAYER_EDITABLE_FIELDS
        labels = {
            "filing_indicator": "Claim filing indicator (SBR09)",
            "timely_filing_days": "Timely filing limit (days from service)",
            "telehealth": "Telehealth billing convention",
            "requires_supervising_provider": "Pre-licensed clinicians bill under their supervisor (2310D)",
        }
        help_texts = {
            "filing_indicator": "Sent in SBR09 of every claim to this payer.",
            "timely_filing_days": "The scrubber warns as claims approach the limit.",
            "telehealth": "Place of service and modifier used for telehealth lines (billing.md P8).",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance and self.instance.pk and not self.is_bound:
            for name in ("auth_required_cpts", "accepted_frequency_codes", "excluded_credentials"):
                self.initial[name] = ", ".join(getattr(self.instance, name) or [])

    def clean_auth_required_cpts(self) -> list[str]:
        codes = _code_list(self.cleaned_data.get("auth_required_cpts"))
        unknown = [c for c in codes if c not in CPT_CODES]
        if unknown:
            raise forms.ValidationError(f"Not a code Tend bills: {', '.join(unknown)}.")
        return codes

    def clean_accepted_frequency_codes(self) -> list[str]:
        codes = _code_list(self.cleaned_data.get("accepted_frequency_codes"))
        if any(c not in ("1", "7", "8") for c in codes):
            raise forms.ValidationError("Use 1, 7 and/or 8.")
        return codes

    def clean_excluded_credentials(self) -> list[str]:
        return _code_list(self.cleaned_data.get("excluded_credentials"))

    def clean_state(self) -> str:
        return (self.cleaned_data.get("state") or "").upper()


class RuleSettingsForm(forms.Form):
    """One enabled checkbox and one severity select per scrubbing rule."""

    SEVERITY_CHOICES = [("", "Rule default"), ("error", "Error (blocks)"), ("warning", "Warning")]

    def __init__(self, *args: Any, rows: list, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows = rows
        for row in rows:
            self.fields[f"enabled_{row.code}"] = forms.BooleanField(
                required=False, initial=row.is_enabled, label=f"{row.code} enabled"
            )
            self.fields[f"severity_{row.code}"] = forms.ChoiceField(
                required=False,
                choices=self.SEVERITY_CHOICES,
                initial=row.severity_override,
                label=f"{row.code} severity",
            )

    def bound_rows(self) -> list[dict]:
        return [
            {"rule": row, "enabled": self[f"enabled_{row.code}"], "severity": self[f"severity_{row.code}"]}
            for row in self.rows
        ]


class PayerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Payer) -> str:
        return obj.name


class FeeScheduleForm(forms.ModelForm):
    payer = PayerChoiceField(
        queryset=Payer.objects.none(),
        required=False,
        help_text="Required for a payer contract; leave empty for the self-pay schedule.",
    )

    class Meta:
        model = FeeSchedule
        fields = ["name", "kind", "payer", "effective_from", "is_active"]
        widgets = {"effective_from": DATE}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["payer"].queryset = Payer.objects.filter(is_active=True).order_by("name")


class FeeEntryForm(forms.Form):
    cpt = forms.ChoiceField(label="CPT code", choices=CPT_CHOICES)
    modifier = forms.ChoiceField(choices=MODIFIER_CHOICES, required=False)
    amount = DollarsField(label="Amount ($)", min_value=Decimal("0.01"))


class SlidingTierForm(forms.ModelForm):
    class Meta:
        model = SlidingScaleTier
        fields = ["name", "discount_percent", "description"]
        labels = {"discount_percent": "Discount (%)"}


class CoverageForm(forms.ModelForm):
    payer = PayerChoiceField(queryset=Payer.objects.none())
    subscriber_zip_code = forms.CharField(label="Subscriber ZIP code", max_length=12, required=False)
    copay = DollarsField(label="Copay ($)", required=False)

    class Meta:
        model = Coverage
        fields = ["payer", *COVERAGE_EDITABLE_FIELDS]
        widgets = {"starts_on": DATE, "ends_on": DATE, "subscriber_date_of_birth": DATE}
        labels = {
            "member_id": "Member ID",
            "relationship": "Patient's relationship to the subscriber",
            "coinsurance_percent": "Coinsurance (%)",
            "subscriber_zip_code": "Subscriber ZIP code",
        }
        help_texts = {
            "relationship": "Not Self: enter the subscriber (policy holder) below; claims then carry them as subscriber.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        payers = Payer.objects.filter(is_active=True)
        if self.instance and self.instance.pk:
            payers = Payer.objects.filter(models_q_active_or(self.instance.payer_id))
            self.initial.setdefault("copay", Decimal(self.instance.copay_cents) / 100)
        self.fields["payer"].queryset = payers.order_by("name")

    def clean_subscriber_state(self) -> str:
        return (self.cleaned_data.get("subscriber_state") or "").upper()

    def clean_subscriber_zip_code(self) -> str:
        return _digits(self.cleaned_data.get("subscriber_zip_code"))

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["copay_cents"] = data.pop("copay", None) or 0
        data["coinsurance_percent"] = data.get("coinsurance_percent") or 0
        return data


def models_q_active_or(payer_id: int | None):
    from django.db.models import Q

    return Q(is_active=True) | Q(pk=payer_id)


class BillingSettingsForm(forms.Form):
    self_pay = forms.BooleanField(required=False, label="Self-pay (bill the patient, not insurance)")
    sliding_scale_tier = forms.ModelChoiceField(
        queryset=SlidingScaleTier.objects.none(), required=False, empty_label="No discount"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sliding_scale_tier"].queryset = SlidingScaleTier.objects.all()
        self.fields["sliding_scale_tier"].label_from_instance = lambda t: f"{t.name} ({t.discount_percent}% off)"


class AuthorizationForm(forms.ModelForm):
    cpt_codes = forms.MultipleChoiceField(
        label="Services covered",
        choices=CPT_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked = any service.",
    )

    class Meta:
        model = PriorAuthorization
        fields = ["number", "cpt_codes", "visits_authorized", "starts_on", "ends_on", "notes"]
        widgets = {"starts_on": DATE, "ends_on": DATE}
        labels = {"number": "Authorization number", "visits_authorized": "Visits authorized"}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("starts_on") and data.get("ends_on") and data["ends_on"] < data["starts_on"]:
            self.add_error("ends_on", "The authorization ends before it starts.")
        return data


class EligibilityUploadForm(forms.Form):
    file = forms.FileField(label="271 response file", help_text="The X12 271 your clearinghouse returned.")

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > 2 * 1024 * 1024:
            raise forms.ValidationError("That file is too large for a 271 (2 MB at most).")
        try:
            return upload.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("That is not a text X12 file.") from exc
