"""The OpenAPI schema of the REST API, and Django's deployment checks with production settings."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.scaleout

ROOT = Path(settings.BASE_DIR)


def manage(*args: str, env: dict[str, str] | None = None, tmp_path: Path) -> subprocess.CompletedProcess:
    # The test run's own switches (scripts/test allows async-unsafe ORM calls) are not a server's.
    dropped = ("PRODUCTION", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    environment = {k: v for k, v in os.environ.items() if k not in dropped}
    environment.update({"DATA_DIR": str(tmp_path), **(env or {})})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        check=False,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production(**extra: str) -> dict[str, str]:
    return {
        "PRODUCTION": "true",
        "SECRET_KEY": secrets.token_urlsafe(50)[:50],
        "FIELD_ENCRYPTION_KEY": "x",
        "ALLOWED_HOSTS": "example.com",
        **extra,
    }


def test_the_schema_is_served_to_signed_in_users_only(owner_client):
    url = reverse("api_schema")
    assert Client().get(url).status_code == 403
    response = owner_client.get(url, HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/flows/{id}/" in schema["paths"] and "/api/schema/" not in schema["paths"]


def test_the_schema_validates_without_a_single_warning(tmp_path):
    result = manage(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"), tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stderr
    assert "operationId: flows_update" in (tmp_path / "schema.yaml").read_text()


def test_every_api_operation_documents_its_answers_and_errors(owner_client):
    schema = owner_client.get(reverse("api_schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    assert len(operations) >= 30
    for path, method, operation in operations:
        codes = set(operation["responses"])
        assert any(code.startswith("2") for code in codes), f"{method} {path} documents no success"
        assert "403" in codes, f"{method} {path} does not document 403"
        if "{id}" in path:
            assert "404" in codes, f"{method} {path} does not document 404"


# The checks never connect: these addresses only select the scale-out settings.
SCALE_OUT = {"DATABASE_URL": "postgres://qflows@127.0.0.1:1/qflows", "REDIS_URL": "redis://127.0.0.1:1/0"}


@pytest.mark.parametrize("services", [{}, SCALE_OUT], ids=["embedded", "postgresql-and-redis"])
def test_check_deploy_with_production_settings_reports_no_issue_at_all(tmp_path, services):
    environment = {"DATABASE_URL": "", "REDIS_URL": "", **services}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production(**environment), tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
