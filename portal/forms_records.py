"""Forms for the portal's billing page."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone


class SuperbillForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("initial", {"start": timezone.localdate() - timedelta(days=365), "end": timezone.localdate()})
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError("The start date must be on or before the end date.")
            if (end - start).days > 366 * 3:
                raise forms.ValidationError("Choose a range of at most three years.")
        return data
