"""Schemathesis against the REST API, in process, as team A's owner.

The schema is loaded from the running application (GET /api/schema/ through WSGI, signed in
with a session cookie). Every operation then gets MAX_EXAMPLES generated requests, valid and
invalid, each with the CSRF token a browser sends. Checks: no server error, and status, content
type and body as the schema documents them.

Path ids point at team A's objects two times in three (a generated id otherwise). DELETE, and
PATCH of a configuration, get a throwaway copy, so the objects later operations use survive.
Qualtrics is the sandbox. Generation is derandomized, so a failure reproduces on every run. For a
longer exploration: QFLOWS_FUZZ_EXAMPLES=500 QFLOWS_FUZZ_RANDOM=1 pytest tests/security/test_api_fuzz.py
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from django.utils.crypto import get_random_string
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Configuration
from designer import services
from tests.security.conftest import World, build_world, sign_in_everyone

MAX_EXAMPLES = int(os.environ.get("QFLOWS_FUZZ_EXAMPLES", "25"))
RANDOM = os.environ.get("QFLOWS_FUZZ_RANDOM") == "1"
# Each of these asks Qualtrics for a response export: fewer examples, same checks.
SLOW_OPERATIONS = {"GET /api/flows/{id}/recent-events/": 5}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
# NUL characters and over-long values only fail on PostgreSQL: run there too.
pytestmark = pytest.mark.scaleout
CARD_KEYS = ["qualtrics.new_response", "qualtrics.create_contact_in_mailing_list", "core.compose", "no.such_card"]


class Owner:
    """Team A's owner in a browser: a session cookie, and the CSRF token in cookie and header."""

    def __init__(self, world: World):
        self.token = get_random_string(32)
        self.cookie = f"sessionid={world.sessions['owner']}; csrftoken={self.token}"
        self.headers = {"X-CSRFToken": self.token}

    def browser(self, app):
        """The WSGI application, reached with this owner's cookies (Werkzeug's test client keeps
        its own cookie jar and drops a Cookie header given to it)."""

        def signed_in(environ, start_response):
            sent = environ.get("HTTP_COOKIE")
            environ["HTTP_COOKIE"] = f"{sent}; {self.cookie}" if sent else self.cookie
            return app(environ, start_response)

        return signed_in


@pytest.fixture
def fuzz_world(team, other_team, qualtrics_sandbox, settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path / "files"
    settings.PUBLIC_BASE_URL = ""
    built = build_world(team=team, other_team=other_team, sandbox=qualtrics_sandbox, media_root=settings.MEDIA_ROOT)
    sign_in_everyone(built)
    return built


@pytest.fixture
def api_schema(fuzz_world):
    from config.wsgi import application

    owner = Owner(fuzz_world)
    loaded = schemathesis.openapi.from_wsgi("/api/schema/?format=json", owner.browser(application), config=CONFIG)
    real = {"flows": fuzz_world.flow.pk, "runs": fuzz_world.run.pk, "configurations": fuzz_world.configuration.pk}

    @loaded.hook
    def flatmap_path_parameters(context, path_parameters):
        if not path_parameters:
            return st.just(path_parameters)
        resource = context.operation.path.split("/")[2]
        choices = {}
        for name, generated in path_parameters.items():
            if name == "id" and resource in real:
                choices[name] = st.sampled_from([real[resource], real[resource], generated])
            elif name == "number":
                choices[name] = st.sampled_from([fuzz_world.version.number, 1, generated])
            elif name == "key":
                choices[name] = st.sampled_from([*CARD_KEYS, generated])
            else:
                choices[name] = st.just(generated)
        return st.fixed_dictionaries(choices)

    return loaded, owner


def throwaway(case, world: World) -> None:
    """DELETE, and PATCH of a configuration, work on a copy of team A's object."""
    path_id = case.path_parameters.get("id")
    if case.method == "DELETE" and case.path == "/api/flows/{id}/" and path_id == world.flow.pk:
        membership = world.team.memberships.get(user=world.users["owner"])
        case.path_parameters["id"] = services.flow_duplicate(membership=membership, flow=world.flow).pk
    if (
        case.method in ("DELETE", "PATCH")
        and case.path == "/api/configurations/{id}/"
        and path_id == world.configuration.pk
    ):
        copy = Configuration(
            team=world.team,
            owner=world.users["owner"],
            connector=world.configuration.connector,
            name=f"Copy {get_random_string(8)}",
            shared=True,
        )
        copy.credentials = world.configuration.credentials
        copy.save()
        case.path_parameters["id"] = copy.pk


def fuzz(operation, *, world: World, owner: Owner, statuses: Counter) -> None:
    """Runs the generated requests of one operation; raises what Schemathesis found."""
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(
        max_examples=SLOW_OPERATIONS.get(operation.label, MAX_EXAMPLES),
        deadline=None,
        database=None,
        derandomize=not RANDOM,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case):
        throwaway(case, world)
        response = case.call_and_validate(headers=owner.headers, checks=CHECKS)
        statuses[response.status_code] += 1

    check()


@pytest.mark.django_db(transaction=True)
def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(api_schema, fuzz_world):
    loaded, owner = api_schema
    failures: dict[str, str] = {}
    statuses: dict[str, Counter] = {}
    for result in loaded.get_all_operations():
        operation = result.ok()
        statuses[operation.label] = Counter()
        try:
            fuzz(operation, world=fuzz_world, owner=owner, statuses=statuses[operation.label])
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every operation runs; all failures are reported
            failures[operation.label] = f"{type(exc).__name__}: {exc}"

    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())
    assert len(statuses) >= 30
    short = {label: sum(c.values()) for label, c in statuses.items() if sum(c.values()) < SLOW_OPERATIONS.get(label, 5)}
    assert not short, f"Operations that got too few requests: {short}"
    refused = {label: c[403] for label, c in statuses.items() if c[403]}
    assert not refused, f"The owner's session or CSRF token was refused: {refused}"
    succeeded = sum(n for c in statuses.values() for code, n in c.items() if code < 300)
    assert succeeded >= sum(sum(c.values()) for c in statuses.values()) // 4, statuses
