"""With DEBUG off, a refused, missing or failed page answers the site's own styled page with a way back."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.security.error_urls"


def signed_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def test_a_missing_page_answers_the_styled_404_inside_the_site_layout(production, member):
    response = signed_in(member(Role.EDITOR)).get("/flows/not-a-flow/")
    page = response.content.decode()
    assert response.status_code == 404
    assert 'class="card error-page"' in page and "Page not found" in page
    assert "/flows/not-a-flow/" not in page  # the address may hold another team's ids: not repeated
    assert 'href="/flows/">Back to your flows' in page
    assert 'aria-label="Main"' in page  # the signed-in navigation of base.html


def test_a_missing_page_offers_sign_in_to_someone_signed_out(production, db):
    response = Client().get("/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404 and "Page not found" in page
    assert 'href="/login/">Sign in' in page


def test_a_refused_page_answers_the_styled_403_with_the_reason(production, member):
    response = signed_in(member(Role.VIEWER)).get("/configurations/new/")
    page = response.content.decode()
    assert response.status_code == 403
    assert 'class="card error-page"' in page and "You cannot open this page" in page
    assert "This needs the editor role or higher." in page
    assert 'href="/flows/">Back to your flows' in page and 'href="/team/">Team' in page


def test_a_server_error_answers_the_styled_500_without_touching_the_database(production, member, django_db_blocker):
    client = signed_in(member(Role.EDITOR))
    with django_db_blocker.block():
        response = Client(raise_request_exception=False).get("/flows/crash/")
    page = response.content.decode()
    assert response.status_code == 500
    assert 'class="card error-page"' in page and "Something went wrong" in page
    assert '<link rel="stylesheet" href="/static/css/app.css">' in page
    assert 'href="/">Back to your flows' in page
    # Signed in, the page is the same: it reads no session, team or user.
    signed = client.get("/flows/crash/")
    assert signed.status_code == 500 and signed.content.decode() == page


def test_a_server_error_in_the_api_answers_json(production, db):
    response = Client(raise_request_exception=False).get("/api/crash/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Server error: the request could not be finished. It has been logged."}


def test_an_unknown_api_address_still_answers_json(production, db):
    response = Client().get("/api/no-such-thing/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}
