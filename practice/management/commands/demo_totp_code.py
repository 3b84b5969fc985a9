"""Print the current TOTP code of a demo account: `python manage.py demo_totp_code <email>`.

For the demo and scripts (screenshots, browser tests) only: it reads the device's secret.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from practice.management.commands.seed_demo import DEMO_DEVICE_NAME


def current_code(device: TOTPDevice) -> str:
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift)
    return f"{code:0{device.digits}d}"


class Command(BaseCommand):
    help = "Print the current 6-digit TOTP code of a demo account (demo use only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")

    def handle(self, *args: Any, email: str, **options: Any) -> None:
        devices = TOTPDevice.objects.filter(user__email=email.strip().lower(), confirmed=True)
        device = devices.filter(name=DEMO_DEVICE_NAME).first() or devices.order_by("pk").first()
        if device is None:
            raise CommandError(f"No confirmed TOTP device for {email}. Run `manage.py seed_demo` first.")
        self.stdout.write(current_code(device))
