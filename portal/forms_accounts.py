"""Forms for portal accounts: the staff invite form and the patient's sign-in, set-up and account forms."""

from __future__ import annotations

from django import forms

from portal.models import PortalInvitation, Relationship
from practice.forms import SetPasswordFields


class InviteForm(forms.Form):
    relationship = forms.ChoiceField(
        label="Who is the invitation for?",
        choices=[(Relationship.SELF, "The patient"), (Relationship.GUARDIAN, "A parent or guardian")],
        widget=forms.RadioSelect,
        initial=Relationship.SELF,
    )
    recipient_name = forms.CharField(
        label="Their name",
        max_length=200,
        required=False,
        help_text="Filled from the chart: the patient, or the guardian on file.",
    )
    channel = forms.ChoiceField(
        label="Send by", choices=PortalInvitation.Channel.choices, widget=forms.RadioSelect, initial="email"
    )
    email = forms.EmailField(label="Email", required=False, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    phone = forms.CharField(label="Mobile number", max_length=32, required=False)
    reason = forms.CharField(
        label="Reason a guardian is invited",
        max_length=300,
        required=False,
        help_text="Needed when the patient is 18 or older, e.g. a court-appointed guardian.",
    )


class AcceptInvitationForm(SetPasswordFields):
    full_name = forms.CharField(
        label="Your full name", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = forms.EmailField(
        label="Email",
        help_text="You sign in with this address.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    field_order = ["full_name", "email", "password1", "password2"]


class MfaDisableForm(forms.Form):
    password = forms.CharField(
        label="Your password", widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, user, *args, **kwargs) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        value = self.cleaned_data["password"]
        if not self.user.check_password(value):
            raise forms.ValidationError("Your password is not right.")
        return value
