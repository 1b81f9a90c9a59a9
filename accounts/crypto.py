"""Encryption of stored secrets with a dedicated, rotatable key ring.

Built on django-cryptography's FernetBytes (AES-CBC + HMAC-SHA256). Its stock `encrypt()` field
signs with SECRET_KEY and reads only one key; we derive both the cipher and the signing key from
FIELD_ENCRYPTION_KEY instead, and accept older keys for reading so that keys can be rotated.
"""

from __future__ import annotations

import hashlib
import threading

from django.conf import settings
from django_cryptography.core.signing import FernetSigner
from django_cryptography.utils.crypto import FernetBytes, InvalidToken
from django.core.signing import BadSignature


class DecryptionError(Exception):
    """Stored ciphertext that no configured key can read; never treated as a value."""


def _derive(key: str, purpose: str) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", key.encode(), f"qflows.{purpose}".encode(), 20_000)


def _fernet(key: str) -> FernetBytes:
    return FernetBytes(_derive(key, "encrypt"), FernetSigner(_derive(key, "sign")))


_cache: dict[str, FernetBytes] = {}
_cache_lock = threading.Lock()


def _fernet_cached(key: str) -> FernetBytes:
    fernet = _cache.get(key)
    if fernet is None:
        # One derivation per key and process: without the lock, every request thread that
        # arrives before the first derivation finishes runs its own PBKDF2.
        with _cache_lock:
            fernet = _cache.get(key)
            if fernet is None:
                fernet = _cache[key] = _fernet(key)
    return fernet


def encrypt_text(value: str) -> bytes:
    return _fernet_cached(settings.FIELD_ENCRYPTION_KEYS[0]).encrypt(value.encode())


def decrypt_text(ciphertext: bytes) -> str:
    """Decrypts with the current key, then the older ones; raises DecryptionError otherwise."""
    data = bytes(ciphertext)
    for key in settings.FIELD_ENCRYPTION_KEYS:
        try:
            return _fernet_cached(key).decrypt(data).decode()
        except (BadSignature, InvalidToken, ValueError):
            continue
    raise DecryptionError(
        "A stored secret cannot be decrypted with any key in FIELD_ENCRYPTION_KEY. "
        "Restore the key it was encrypted with (list it after the new one while rotating)."
    )


def is_current(ciphertext: bytes) -> bool:
    try:
        _fernet_cached(settings.FIELD_ENCRYPTION_KEYS[0]).decrypt(bytes(ciphertext))
    except (BadSignature, InvalidToken, ValueError):
        return False
    return True
