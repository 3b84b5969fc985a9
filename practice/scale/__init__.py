"""The scale data set (SPEC §10): one 200-clinician practice group built with bulk inserts.

`manage.py seed_scale` drives `practice.scale.build.build_scale`; this module holds what load tests
need to sign in: the shared password and TOTP secret, and `scale_totp_code(email)`.
"""

from __future__ import annotations

import time

SCALE_SLUG = "scale"
SCALE_NAME = "Summit Behavioral Health Group"
SCALE_PASSWORD = "tend-scale-2026"  # noqa: S105 - a published load-test password, by design
# Every TOTP device of the scale practice has this secret (hex, 20 bytes), so a load test can
# compute codes. Public by design: the scale practice is synthetic.
SCALE_TOTP_KEY = "53756d6d69742d7363616c652d746f74702d3031"
STAFF_DOMAIN = "scale.tend.example"
PATIENT_DOMAIN = "patient.scale.tend.example"
TOTP_DEVICE_NAME = "Scale authenticator"


def clinician_email(n: int) -> str:
    return f"clinician{n:03d}@{STAFF_DOMAIN}"


def patient_email(n: int) -> str:
    return f"patient{n:05d}@{PATIENT_DOMAIN}"


def scale_totp_code(email: str = "", *, at: float | None = None) -> str:
    """The current 6-digit code of any scale account with MFA (they share SCALE_TOTP_KEY).

    django-otp refuses a code already used by the same device (replay), so one account can sign
    in at most once per 30-second step; use different accounts for parallel sign-ins.
    """
    from django_otp.oath import TOTP

    del email  # every device has the same key; the argument keeps call sites readable
    token = TOTP(bytes.fromhex(SCALE_TOTP_KEY), step=30, t0=0, digits=6)
    token.time = time.time() if at is None else at
    return f"{token.token():06d}"
