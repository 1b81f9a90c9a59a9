"""CSRF protection on every form and API write, generated from the access matrix: a request
without the token is refused before it can change anything, even for the team's owner."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils.crypto import get_random_string

from tests.security.test_access_matrix import MATRIX, routes, send, url_of

pytestmark = pytest.mark.scaleout

WRITES = ("POST", "PUT", "PATCH", "DELETE")
# Qualtrics posts to the webhook without a session: the secret in its URL and the HMAC protect it.
EXEMPT = {"qualtrics_webhook", "webhook_webhook"}


def writes():
    for route in routes():
        for method, call in MATRIX.get(route.key, {}).items():
            if method in WRITES:
                yield route, method, call


def refused_for_csrf(response) -> bool:
    return response.status_code == 403 and "CSRF" in response.content.decode(errors="replace")


def test_every_write_without_a_csrf_token_is_refused_even_for_the_owner(world):
    checked, wrong = 0, []
    for route, method, call in writes():
        if route.key in EXEMPT:
            continue
        url = url_of(route, world)
        with transaction.atomic():
            response = send(world, "owner", method, url, call, csrf=False)
            transaction.set_rollback(True)
        checked += 1
        if not refused_for_csrf(response):
            wrong.append(f"{method} {url}: {response.status_code}")
    assert not wrong, "Writes accepted without a CSRF token:\n" + "\n".join(wrong)
    assert checked >= 30


@pytest.mark.parametrize("route", ["login", "invitation_accept"])
def test_forms_for_signed_out_visitors_need_the_csrf_token_too(world, route):
    kwargs = {"token": world.invitation_token} if route == "invitation_accept" else {}
    client = world.client("anonymous", csrf=False)
    response = client.post(reverse(route, kwargs=kwargs), {"username": "owner", "password": "x"})
    assert refused_for_csrf(response)


def test_a_csrf_token_that_does_not_match_the_cookie_is_refused(world):
    client = world.client("owner")
    client.defaults["HTTP_X_CSRFTOKEN"] = get_random_string(32)
    response = client.post(reverse("api_flows"), {"name": "Forged"}, content_type="application/json")
    assert refused_for_csrf(response)


def test_the_webhook_takes_posts_without_a_session_or_csrf_token(world):
    response = world.client("anonymous", csrf=False).post(
        reverse("qualtrics_webhook", args=[world.activation.pk, world.activation.secret]),
        {"Topic": "x", "MSG": "{}", "HMAC": "0"},
    )
    assert response.status_code == 403 and response.json() == {"detail": "Signature does not match."}
