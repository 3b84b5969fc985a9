"""billing.crypto: secrets round-trip, never stored in the clear, refused under another key."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from billing import crypto


def test_round_trip_with_configured_key(settings):
    settings.TEND_FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    token = crypto.encrypt("hunter2-clearinghouse")
    assert "hunter2" not in token
    assert crypto.decrypt(token) == "hunter2-clearinghouse"


def test_round_trip_with_key_derived_from_secret_key(settings):
    settings.TEND_FIELD_ENCRYPTION_KEY = ""
    settings.SECRET_KEY = "one-deployment-secret"
    token = crypto.encrypt("pässwörd")
    assert crypto.decrypt(token) == "pässwörd"
    assert crypto.derived_key("one-deployment-secret") != crypto.derived_key("another")


def test_same_secret_encrypts_differently_each_time(settings):
    settings.TEND_FIELD_ENCRYPTION_KEY = ""
    assert crypto.encrypt("same") != crypto.encrypt("same")


def test_empty_secret_stays_empty():
    assert crypto.encrypt("") == ""
    assert crypto.decrypt("") == ""


def test_wrong_key_fails_cleanly(settings):
    settings.TEND_FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    token = crypto.encrypt("secret")
    settings.TEND_FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(crypto.SecretUnreadable, match="Enter the password or key again"):
        crypto.decrypt(token)


def test_changed_secret_key_makes_derived_tokens_unreadable(settings):
    settings.TEND_FIELD_ENCRYPTION_KEY = ""
    settings.SECRET_KEY = "first"
    token = crypto.encrypt("secret")
    settings.SECRET_KEY = "second"
    with pytest.raises(crypto.SecretUnreadable):
        crypto.decrypt(token)


def test_tampered_token_is_refused(settings):
    settings.TEND_FIELD_ENCRYPTION_KEY = ""
    token = crypto.encrypt("secret")
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(crypto.SecretUnreadable):
        crypto.decrypt(tampered)


def test_rotation_old_key_still_decrypts_new_key_encrypts(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.TEND_FIELD_ENCRYPTION_KEY = old
    old_token = crypto.encrypt("kept")
    settings.TEND_FIELD_ENCRYPTION_KEY = f"{new},{old}"
    assert crypto.decrypt(old_token) == "kept"
    new_token = crypto.encrypt("fresh")
    settings.TEND_FIELD_ENCRYPTION_KEY = new
    assert crypto.decrypt(new_token) == "fresh"


def test_malformed_configured_key_is_a_clear_error(settings):
    settings.TEND_FIELD_ENCRYPTION_KEY = "not-a-fernet-key"
    with pytest.raises(ValueError, match="TEND_FIELD_ENCRYPTION_KEY") as exc:
        crypto.encrypt("x")
    assert "not-a-fernet-key" not in str(exc.value)
