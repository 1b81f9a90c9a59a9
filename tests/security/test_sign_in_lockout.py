"""The failed sign-in counter: one for the username as Django signs it in (NFKC, any case), and
one for the client address, so that neither spelling tricks nor many usernames get around it."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from accounts.services import MAX_FAILED_LOGINS_PER_ADDRESS, MAX_FAILED_LOGINS_PER_USERNAME

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def empty_counters():
    cache.clear()
    yield
    cache.clear()


def sign_in(client, username: str, password: str, address: str = "198.51.100.7"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def test_a_fullwidth_spelling_of_a_locked_username_is_refused_too(client, make_user):
    make_user("bruteuser")
    for attempt in range(MAX_FAILED_LOGINS_PER_USERNAME):
        sign_in(client, "bruteuser", "wrong", address=f"198.51.100.{attempt + 1}")
    # "ｔ" is FULLWIDTH LATIN SMALL LETTER T: sign-in normalizes it (NFKC) to "t".
    response = sign_in(client, "bruｔeuser", PASSWORD, address="203.0.113.9")
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failures_under_other_spellings_count_toward_the_same_username(client, make_user):
    make_user("bruteuser")
    spellings = ["BRUTEUSER", "bruｔeuser", "ＢruteUser", " bruteuser ", "Bruteuser"]
    for attempt, spelling in enumerate(spellings[:MAX_FAILED_LOGINS_PER_USERNAME]):
        sign_in(client, spelling, "wrong", address=f"198.51.100.{attempt + 1}")
    response = sign_in(client, "bruteuser", PASSWORD, address="203.0.113.9")
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_one_address_guessing_across_many_usernames_is_refused_for_every_username(client, make_user):
    make_user("victim")
    for attempt in range(MAX_FAILED_LOGINS_PER_ADDRESS):
        sign_in(client, f"guess-{attempt}", "wrong", address="198.51.100.66")
    refused = sign_in(client, "victim", PASSWORD, address="198.51.100.66")
    assert "Too many failed sign-ins from your network" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address is not affected: the username itself had no failures.
    allowed = sign_in(client, "victim", PASSWORD, address="203.0.113.9")
    assert allowed.status_code == 302


def test_a_few_failures_from_an_address_do_not_lock_it(client, make_user):
    make_user("ada")
    for _ in range(MAX_FAILED_LOGINS_PER_USERNAME - 1):
        sign_in(client, "ada", "wrong")
    assert sign_in(client, "ada", PASSWORD).status_code == 302
