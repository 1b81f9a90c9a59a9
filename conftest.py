"""Project-wide pytest fixtures."""

import pytest

pytest_plugins = ["tests.fixtures", "connectors.qualtrics.sandbox.pytest_plugin"]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Tests make users by the dozen and most sign in with force_login: a hash made to be slow
    (Django's default, kept by the product) would be most of their set-up time. Tests that sign in
    with a password still check it, with a fast hash."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
