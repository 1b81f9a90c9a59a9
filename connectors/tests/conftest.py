from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Users made by the shared fixtures only sign in with force_login; a slow hash buys nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_cache():
    """Choices and outputs are cached per configuration id, and ids repeat between tests."""
    cache.clear()
    yield
    cache.clear()
