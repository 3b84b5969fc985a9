"""Clearinghouse connection form. Secrets are write-only: the password and private key widgets
never render a value (not the saved one, not even what was just posted)."""

from __future__ import annotations

from django import forms

from billing.models import Transmission


class SecretTextarea(forms.Textarea):
    def format_value(self, value: object) -> None:
        return None


class ClearinghouseConnectionForm(forms.Form):
    name = forms.CharField(max_length=60, label="Clearinghouse name")
    host = forms.CharField(max_length=200, help_text="SFTP host name, e.g. sftp.clearinghouse.example")
    port = forms.IntegerField(min_value=1, max_value=65535, initial=22)
    username = forms.CharField(max_length=100)
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted; never shown again.",
    )
    forget_password = forms.BooleanField(required=False, label="Remove the saved password")
    private_key = forms.CharField(
        required=False,
        label="Private key",
        widget=SecretTextarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
        help_text="Instead of (or with) a password: an unencrypted PEM or OpenSSH private key. Stored encrypted.",
    )
    forget_private_key = forms.BooleanField(required=False, label="Remove the saved private key")
    host_key = forms.CharField(
        required=False,  # required by the service, which explains why
        label="Server host key",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text="The server's public key, e.g. 'ssh-ed25519 AAAAC3Nza...' (from the clearinghouse). "
        "We connect only to a server presenting exactly this key.",
    )
    upload_dir = forms.CharField(max_length=200, initial="/inbound", label="Upload folder (837 files go here)")
    download_dir = forms.CharField(
        max_length=200, initial="/outbound", label="Download folder (999, 277CA, 835 files come from here)"
    )
    receiver_id = forms.CharField(max_length=15, label="Receiver id", help_text="ISA08 / GS03 / loop 1000B NM109.")
    receiver_name = forms.CharField(max_length=60, label="Receiver name", help_text="Loop 1000B NM103.")
    usage_indicator = forms.ChoiceField(
        choices=[("T", "Test"), ("P", "Production")], initial="T", label="Usage (ISA15)"
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Send and collect files on a schedule")

    SECRET_FIELDS = ("password", "private_key", "forget_password", "forget_private_key")


class HostKeyFetchForm(forms.Form):
    host = forms.CharField(max_length=200)
    port = forms.IntegerField(min_value=1, max_value=65535)


class TransmissionFilterForm(forms.Form):
    direction = forms.ChoiceField(choices=[("", "All"), *Transmission.Direction.choices], required=False)
    status = forms.ChoiceField(choices=[("", "All"), *Transmission.Status.choices], required=False)
