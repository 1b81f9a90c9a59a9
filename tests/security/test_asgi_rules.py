"""The answers given before Django's request handling (static files, webhook deliveries) follow
the production settings as Django's own answers do: HSTS on HTTPS only, behind the proxy header,
and a plain-HTTP request left to Django to redirect."""

from __future__ import annotations

import pytest
from django.core.asgi import get_asgi_application

from config.static_asgi import static_files
from designer.webhooks import webhook_intake
from tests.asgi import asgi_request

pytestmark = pytest.mark.asyncio

HSTS = "max-age=3600; includeSubDomains"


@pytest.fixture
def production(settings):
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = False
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["flows.example.com"]
    # The wrappers read the settings when they are built, as config/asgi.py builds them at start.
    return static_files(webhook_intake(get_asgi_application()))


async def call(app, path: str, *, method="GET", headers=(), body=b"") -> tuple[int, dict]:
    status, answer_headers, _ = await asgi_request(path, app=app, method=method, host=b"flows.example.com",
                                                   headers=headers, body=body)
    return status, answer_headers


async def test_a_static_file_over_https_carries_hsts(production):
    status, headers = await call(production, "/static/favicon.svg", headers=[(b"x-forwarded-proto", b"https")])
    assert status == 200
    assert headers["strict-transport-security"] == HSTS
    assert headers["x-content-type-options"] == "nosniff"


async def test_a_static_file_over_plain_http_is_redirected_by_django(production):
    status, headers = await call(production, "/static/favicon.svg", headers=[(b"x-forwarded-proto", b"http")])
    assert status == 301
    assert headers["location"] == "https://flows.example.com/static/favicon.svg"


@pytest.mark.django_db(transaction=True)
async def test_a_webhook_answer_over_https_carries_hsts_and_the_policy(production):
    form = b"Topic=x&MSG=%7B%7D&HMAC=00"
    status, headers = await call(production, "/hooks/qualtrics/999/nope/", method="POST", body=form, headers=[
        (b"x-forwarded-proto", b"https"), (b"content-type", b"application/x-www-form-urlencoded"),
        (b"content-length", str(len(form)).encode())])
    assert status == 404
    assert headers["strict-transport-security"] == HSTS
    assert headers["content-type"] == "application/json"
    assert headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in headers["content-security-policy"]
