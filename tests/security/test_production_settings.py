"""Production settings, read in a fresh process started with PRODUCTION=true, as a server would be:
secure cookies, HSTS, the HTTPS redirect and a strict Content Security Policy on real answers."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.security.test_openapi import manage, production

PROBE = textwrap.dedent(
    """
    import json, os
    import django
    django.setup()
    from django.conf import settings
    from django.test import Client

    client = Client(SERVER_NAME="example.com")
    plain = client.get("/login/")
    secure = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    names = [
        "DEBUG", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_SECURE",
        "CSRF_COOKIE_SAMESITE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD", "SECURE_PROXY_SSL_HEADER", "X_FRAME_OPTIONS", "SECURE_CONTENT_TYPE_NOSNIFF",
        "SECURE_REFERRER_POLICY", "QUALTRICS_SANDBOX_ENABLED", "SECURE_CSP",
    ]
    print(json.dumps({
        "settings": {name: getattr(settings, name) for name in names},
        "plain": {"status": plain.status_code, "location": plain.get("Location")},
        "secure": {
            "status": secure.status_code,
            "headers": {k: v for k, v in secure.headers.items()},
            "csrf_cookie": secure.cookies["csrftoken"].output() if "csrftoken" in secure.cookies else None,
        },
    }, default=str))
    """
)


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("production")
    result = manage("shell", "-c", PROBE, env=production(), tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_cookies_are_secure_http_only_for_the_session_and_same_site(probe):
    settings = probe["settings"]
    assert settings["SESSION_COOKIE_SECURE"] and settings["CSRF_COOKIE_SECURE"]
    assert settings["SESSION_COOKIE_HTTPONLY"]
    assert settings["SESSION_COOKIE_SAMESITE"] == "Lax" and settings["CSRF_COOKIE_SAMESITE"] == "Lax"
    cookie = probe["secure"]["csrf_cookie"]
    assert cookie and "Secure" in cookie and "SameSite=Lax" in cookie


def test_plain_http_is_redirected_to_https(probe):
    assert probe["settings"]["SECURE_SSL_REDIRECT"] is True
    assert probe["plain"] == {"status": 301, "location": "https://example.com/login/"}


def test_https_answers_carry_hsts_for_a_year_with_subdomains_and_preload(probe):
    assert probe["settings"]["SECURE_HSTS_SECONDS"] >= 31536000
    headers = probe["secure"]["headers"]
    assert probe["secure"]["status"] == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_the_content_security_policy_allows_only_this_site_and_no_inline_code(probe):
    policy = dict(
        part.strip().split(" ", 1) for part in probe["secure"]["headers"]["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'" and policy["form-action"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert not any("unsafe" in value or "*" in value for value in policy.values())


def test_debug_and_the_qualtrics_sandbox_are_off(probe):
    assert probe["settings"]["DEBUG"] is False
    assert probe["settings"]["QUALTRICS_SANDBOX_ENABLED"] is False


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set when PRODUCTION=true"),
        ({"FIELD_ENCRYPTION_KEY": ""}, "FIELD_ENCRYPTION_KEY must be set when PRODUCTION=true"),
        ({"DEBUG": "true"}, "DEBUG must be off when PRODUCTION=true"),
    ],
)
def test_an_unsafe_production_configuration_refuses_to_start(tmp_path, environment, message):
    result = manage("check", env=production(**environment), tmp_path=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
