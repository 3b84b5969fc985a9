"""Encryption of secrets stored in billing rows (the clearinghouse password and private key).

Fernet (AES-128-CBC with an HMAC-SHA256 tag; both FIPS 140-2 approved algorithms, see
reference/security.md (d)(12)): a token can be read back only with the key, and a token that was
altered or made with another key is refused, never decrypted to garbage.

The key:
- `settings.TEND_FIELD_ENCRYPTION_KEY`: one Fernet key (`Fernet.generate_key()`, 44 characters of
  url-safe base64), or several separated by commas to rotate: the first encrypts, every one of them
  decrypts. Production sets it, so rotating SECRET_KEY leaves stored secrets readable.
- empty (development, tests): a key derived from SECRET_KEY with HKDF-SHA256 (RFC 5869) and a fixed
  context label, so each deployment still has its own key. Changing SECRET_KEY then makes stored
  secrets unreadable: `decrypt` raises `SecretUnreadable` and the admin enters them again.

Settings are read on every call (never at import time).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# HKDF context: a different label gives an unrelated key, so this key is used for nothing else.
_HKDF_INFO = b"tend.billing.field-encryption.v1"
_HKDF_SALT = b"tend-field-encryption"


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with the configured key (changed key, or altered data)."""

    def __init__(self) -> None:
        super().__init__(
            "The saved secret cannot be read with the current encryption key "
            "(TEND_FIELD_ENCRYPTION_KEY or SECRET_KEY changed). Enter the password or key again."
        )


def derived_key(secret_key: str) -> bytes:
    """The Fernet key derived from SECRET_KEY (used when TEND_FIELD_ENCRYPTION_KEY is empty)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def _fernet() -> MultiFernet:
    configured = [k.strip() for k in (getattr(settings, "TEND_FIELD_ENCRYPTION_KEY", "") or "").split(",")]
    keys = [k for k in configured if k] or [derived_key(settings.SECRET_KEY).decode()]
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError as exc:  # malformed key: say which setting, never echo the key
        raise ValueError("TEND_FIELD_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes).") from exc


def encrypt(plaintext: str) -> str:
    """The token to store for `plaintext`; an empty secret stays empty (nothing saved)."""
    if not plaintext:
        return ""
    return _fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """The secret behind a stored token; "" for "". Raises SecretUnreadable for a wrong key."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise SecretUnreadable from exc
