"""Who may do what, for every route in the URL configuration.

The routes are walked from the resolver, so a new route fails `test_every_route_has_expectations`
until it is added to MATRIX below. Each request is made by a fresh client that enforces CSRF (with
a valid token: CSRF itself is tested in test_csrf.py), inside a savepoint that is rolled back, so
every actor meets the same team A.

Columns of each expectation: anonymous, another team's owner ("stranger"), then team A's viewer,
editor, admin and owner.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.views import APIView

from accounts.models import Configuration, Invitation, Membership, Team
from designer.models import Flow, Run
from tests.security.conftest import ACTORS, CONFIGURATION_NAME, RUN_FILE, World, build_world, sign_in_everyone

pytestmark = pytest.mark.scaleout

ADMIN_PAGES = {
    "admin:index",
    "admin:login",
    "admin:accounts_configuration_changelist",
    "admin:designer_flow_changelist",
    "admin:designer_run_changelist",
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Call:
    """One request: the status each actor gets, an optional body, and optionally the change the
    request must (True) or must not (False) make for each actor."""

    expect: tuple[int, int, int, int, int, int]
    body: Callable[[World], Any] | None = None
    kind: str = "form"  # form | json | multipart
    query: Callable[[World], dict] | None = None
    effect: tuple[str, Callable[[World], bool], tuple[bool, ...]] | None = None


def form(expect, body=None, **extra) -> Call:
    return Call(expect, body, "form", **extra)


def data(expect, body=None, **extra) -> Call:
    return Call(expect, body, "json", **extra)


def upload(expect, body, **extra) -> Call:
    return Call(expect, body, "multipart", **extra)


def get(expect, **extra) -> Call:
    return Call(expect, **extra)


def _export(world: World) -> dict:
    """An export that points at team A's configuration by id only: importers outside team A get it cleared."""
    return {
        "format": "qflows.flow/1",
        "name": "Imported copy",
        "definition": world.flow.definition,
        "configurations": {},
    }


def _configuration_fields(world: World, **changes) -> dict:
    return {
        "name": CONFIGURATION_NAME,
        "datacenter": world.configuration.credentials["datacenter"],
        "username": "",
        "shared": "on",
        **changes,
    }


def _alert_emails(world: World) -> list:
    from alerts.models import FlowAlert

    return list(FlowAlert.objects.filter(flow=world.flow).values_list("emails", flat=True))


def ALL(status: int) -> tuple[int, ...]:
    return (status,) * 6


EDITORS = (False, False, False, True, True, True)
MANAGERS = (False, False, False, False, True, True)

# anonymous, stranger, viewer, editor, admin, owner
MATRIX: dict[str, dict[str, Call]] = {
    # Project -----------------------------------------------------------------------------------
    "/": {"GET": get(ALL(302))},
    "api_schema": {"GET": get((403, 200, 200, 200, 200, 200))},
    "admin:index": {"GET": get(ALL(302))},
    "admin:login": {"GET": get(ALL(200))},
    "admin:accounts_configuration_changelist": {"GET": get(ALL(302))},
    "admin:designer_flow_changelist": {"GET": get(ALL(302))},
    "admin:designer_run_changelist": {"GET": get(ALL(302))},
    # Accounts ----------------------------------------------------------------------------------
    "login": {
        "GET": get((200, 302, 302, 302, 302, 302)),
        "POST": form((200, 302, 302, 302, 302, 302), lambda w: {"username": "nobody-at-all", "password": "wrong"}),
    },
    "logout": {"GET": get(ALL(405)), "POST": form(ALL(302))},
    "team": {"GET": get((302, 200, 200, 200, 200, 200))},
    "team_create": {
        "GET": get((302, 405, 405, 405, 405, 405)),
        "POST": form(
            ALL(302),
            lambda w: {"name": "Side project"},
            effect=(
                "a team is created",
                lambda w: Team.objects.filter(name="Side project").exists(),
                (False, True, True, True, True, True),
            ),
        ),
    },
    "team_switch": {
        "GET": get((302, 405, 405, 405, 405, 405)),
        "POST": form(ALL(302), lambda w: {"team": w.team.pk}),
    },
    "invitation_create": {
        "GET": get((302, 405, 405, 405, 405, 405)),
        "POST": form(
            ALL(302),
            lambda w: {"email": "new-person@example.com", "role": "editor"},
            effect=(
                "team A invites someone",
                lambda w: Invitation.objects.filter(team=w.team, email="new-person@example.com").exists(),
                MANAGERS,
            ),
        ),
    },
    "membership_role": {
        "GET": get((302, 405, 405, 405, 405, 405)),
        # Without "confirm", owners and admins get a confirmation page (test_team_management.py).
        "POST": form(
            (302, 404, 302, 302, 302, 302),
            lambda w: {"role": "viewer", "confirm": "yes"},
            effect=(
                "the editor becomes a viewer",
                lambda w: Membership.objects.get(pk=w.editor_membership.pk).role == "viewer",
                MANAGERS,
            ),
        ),
    },
    "membership_remove": {
        "GET": get((302, 405, 405, 405, 405, 405)),
        "POST": form(
            (302, 404, 302, 302, 302, 302),
            effect=(
                "the editor is removed from team A",
                lambda w: not Membership.objects.filter(pk=w.editor_membership.pk).exists(),
                MANAGERS,
            ),
        ),
    },
    "invitation_revoke": {
        "GET": get((302, 405, 405, 405, 405, 405)),
        "POST": form(
            (302, 404, 302, 302, 302, 302),
            effect=(
                "team A's invitation is revoked",
                lambda w: not Invitation.objects.filter(pk=w.invitation.pk).exists(),
                MANAGERS,
            ),
        ),
    },
    "team_rename": {
        "GET": get((302, 405, 405, 405, 405, 405)),
        "POST": form(
            (302, 404, 302, 302, 302, 302),
            lambda w: {"name": "Renamed team"},
            effect=("team A is renamed", lambda w: Team.objects.get(pk=w.team.pk).name == "Renamed team", MANAGERS),
        ),
    },
    "team_delete": {
        "GET": get((302, 404, 403, 403, 403, 200)),
        "POST": form(
            (302, 404, 403, 403, 403, 302),
            lambda w: {"name": w.team.name},
            effect=(
                "team A is deleted",
                lambda w: not Team.objects.filter(pk=w.team.pk).exists(),
                (False, False, False, False, False, True),
            ),
        ),
    },
    "invitation_accept": {
        # The signed link is the invitation: whoever holds it may join.
        "GET": get(ALL(200)),
        "POST": form(
            (200, 302, 302, 302, 302, 302),
            lambda w: {},
            effect=(
                "the invitation is used",
                lambda w: Invitation.objects.get(pk=w.invitation.pk).accepted_at is not None,
                (False, True, True, True, True, True),
            ),
        ),
    },
    "configurations": {"GET": get((302, 200, 200, 200, 200, 200))},
    "configuration_create": {
        "GET": get((302, 200, 403, 200, 200, 200)),
        "POST": form(
            (302, 302, 403, 302, 302, 302),
            lambda w: {
                "connector": "qualtrics",
                "name": "Second account",
                "datacenter": w.configuration.credentials["datacenter"],
                "api_token": w.configuration.credentials["api_token"],
            },
        ),
    },
    "configuration_edit": {
        "GET": get((302, 404, 403, 403, 200, 200)),
        "POST": form(
            (302, 404, 403, 403, 302, 302),
            lambda w: _configuration_fields(w, username="changed@example.com"),
            effect=(
                "the configuration changes",
                lambda w: Configuration.objects.get(pk=w.configuration.pk).credentials["username"] == "changed@example.com",
                MANAGERS,
            ),
        ),
    },
    "configuration_authorize": {
        "GET": get((302, 405, 403, 405, 405, 405)),
        "POST": form((302, 404, 403, 403, 302, 302)),
    },
    "configuration_delete": {
        "GET": get((302, 404, 403, 403, 200, 200)),
        "POST": form(
            (302, 404, 403, 403, 302, 302),
            effect=(
                "the configuration is deleted",
                lambda w: not Configuration.objects.filter(pk=w.configuration.pk).exists(),
                MANAGERS,
            ),
        ),
    },
    "api_configurations": {
        "GET": get((403, 200, 200, 200, 200, 200)),
        "POST": data(
            (403, 201, 403, 201, 201, 201),
            lambda w: {
                "connector": "qualtrics",
                "name": "Second account",
                "credentials": {
                    "datacenter": w.configuration.credentials["datacenter"],
                    "api_token": w.configuration.credentials["api_token"],
                },
                "shared": True,
            },
        ),
    },
    "api_configuration": {
        "GET": get((403, 404, 200, 200, 200, 200)),
        "PATCH": data((403, 404, 403, 403, 200, 200), lambda w: {"credentials": {"username": "changed@example.com"}}),
        "PUT": data(
            (403, 404, 403, 403, 200, 200),
            lambda w: {
                "name": CONFIGURATION_NAME,
                "credentials": {"datacenter": w.configuration.credentials["datacenter"], "api_token": ""},
                "shared": True,
            },
        ),
        "DELETE": data(
            (403, 404, 403, 403, 200, 200),
            effect=(
                "the configuration is deleted",
                lambda w: not Configuration.objects.filter(pk=w.configuration.pk).exists(),
                MANAGERS,
            ),
        ),
    },
    "api_configuration_authorize": {"POST": data((403, 404, 403, 403, 200, 200))},
    # Catalog -----------------------------------------------------------------------------------
    "catalog": {"GET": get((302, 200, 200, 200, 200, 200))},
    "api_catalog": {"GET": get((403, 200, 200, 200, 200, 200))},
    "api_card_outputs": {
        # Viewers may not use configurations, so team A's is "not found" for them too.
        "GET": get(
            (403, 404, 404, 200, 200, 200),
            query=lambda w: {"configuration": w.configuration.pk, "survey_id": w.survey_id},
        ),
    },
    "api_configuration_options": {"GET": get((403, 404, 404, 200, 200, 200))},
    # Flows and runs: pages ---------------------------------------------------------------------
    "flows": {"GET": get((302, 200, 200, 200, 200, 200))},
    "flow_create": {
        "GET": get((302, 405, 403, 405, 405, 405)),
        "POST": form((302, 302, 403, 302, 302, 302), lambda w: {"name": "New flow"}),
    },
    "flow_import": {
        "GET": get((302, 405, 403, 405, 405, 405)),
        "POST": upload(
            (302, 302, 403, 302, 302, 302),
            lambda w: {"file": SimpleUploadedFile("flow.json", json.dumps(_export(w)).encode())},
        ),
    },
    "flow_editor": {"GET": get((302, 404, 200, 200, 200, 200))},
    "flow_status": {"GET": get((302, 404, 200, 200, 200, 200))},
    "flow_action": {
        "GET": get((302, 405, 403, 405, 405, 405)),
        "POST": form(
            (302, 404, 403, 302, 302, 302),
            lambda w: {"name": "Renamed"},
            effect=("the flow is renamed", lambda w: Flow.objects.get(pk=w.flow.pk).name == "Renamed", EDITORS),
        ),
    },
    "runs": {"GET": get((302, 200, 200, 200, 200, 200))},
    "run_rerun": {
        "GET": get((302, 405, 403, 405, 405, 405)),
        "POST": form(
            (302, 302, 403, 302, 302, 302),
            lambda w: {"run": [w.run.pk]},
            effect=("the run is re-run", lambda w: Run.objects.filter(rerun_of=w.run).exists(), EDITORS),
        ),
    },
    "run_bulk": {
        "GET": get((302, 405, 403, 405, 405, 405)),
        "POST": form(
            (302, 302, 403, 302, 302, 302),
            lambda w: {"action": "rerun", "run": [w.run.pk]},
            effect=("the run is re-run", lambda w: Run.objects.filter(rerun_of=w.run).exists(), EDITORS),
        ),
    },
    "run_export": {"GET": get((302, 200, 200, 200, 200, 200))},
    "dashboard": {"GET": get((302, 200, 200, 200, 200, 200))},
    "run_detail": {"GET": get((302, 404, 200, 200, 200, 200))},
    "run_cancel": {
        "GET": get((302, 405, 403, 405, 405, 405)),
        "POST": form((302, 404, 403, 302, 302, 302)),  # team A's run has ended: a message says so
    },
    "run_file": {"GET": get((302, 404, 200, 200, 200, 200))},
    # Team A's run has succeeded: editors are sent back to it with a message that it needs no decision.
    "run_resume": {
        "GET": get((302, 405, 403, 405, 405, 405)),
        "POST": form((302, 404, 403, 302, 302, 302), lambda w: {"resend": "false"}),
    },
    # The webhook is for Qualtrics: the secret in its URL and the HMAC decide, not the session.
    "qualtrics_webhook": {
        "GET": get(ALL(200)),
        "POST": form(ALL(403), lambda w: {"Topic": "x.surveyengine.completedResponse.SV_1", "MSG": "{}", "HMAC": "00"}),
    },
    # The same secret under another connector's route names no webhook of that connector.
    "webhook_webhook": {
        "GET": get(ALL(200)),
        "POST": form(ALL(404), lambda w: {"anything": "1"}),
    },
    # Flows and runs: API -----------------------------------------------------------------------
    "api_flows": {
        "GET": get((403, 200, 200, 200, 200, 200)),
        "POST": data((403, 201, 403, 201, 201, 201), lambda w: {"name": "New flow"}),
    },
    "api_flow_import": {"POST": data((403, 201, 403, 201, 201, 201), _export)},
    "api_flow": {
        "GET": get((403, 404, 200, 200, 200, 200)),
        "PUT": data((403, 404, 403, 200, 200, 200), lambda w: {"definition": w.flow.definition, "base_version": 1}),
        "PATCH": data((403, 404, 403, 200, 200, 200), lambda w: {"name": "Renamed"}),
        "DELETE": data(
            (403, 404, 403, 204, 204, 204),
            effect=("the flow is deleted", lambda w: not Flow.objects.filter(pk=w.flow.pk).exists(), EDITORS),
        ),
    },
    "api_flow_publish": {"POST": data((403, 404, 403, 200, 200, 200), lambda w: {})},
    "api_flow_discard": {"POST": data((403, 404, 403, 200, 200, 200))},
    "api_flow_duplicate": {"POST": data((403, 404, 403, 201, 201, 201))},
    "api_flow_versions": {"GET": get((403, 404, 200, 200, 200, 200))},
    "api_flow_version": {"GET": get((403, 404, 200, 200, 200, 200))},
    "api_flow_version_restore": {"POST": data((403, 404, 403, 200, 200, 200))},
    "api_flow_export": {"GET": get((403, 404, 200, 200, 200, 200))},
    "api_flow_activate": {"POST": data((403, 404, 403, 200, 200, 200))},
    "api_flow_deactivate": {"POST": data((403, 404, 403, 200, 200, 200))},
    "api_flow_activation": {"GET": get((403, 404, 200, 200, 200, 200))},
    "api_flow_test": {"POST": data((403, 404, 403, 202, 202, 202), lambda w: {"event_id": "R_someResponse"})},
    # Loads survey responses through the flow's configuration, which viewers may not use.
    "api_flow_recent_events": {"GET": get((403, 404, 403, 200, 200, 200))},
    # Samples and step tests run cards through the flow's connections, which only editors and up may use;
    # a failed test (no response R_someResponse, no sample for step_1) is still an answer.
    "api_flow_sample": {
        "GET": get((403, 404, 200, 200, 200, 200)),
        "POST": data((403, 404, 403, 200, 200, 200), lambda w: {"data": {"response_id": "R_someResponse"}}),
    },
    "api_flow_step_test": {"POST": data((403, 404, 403, 200, 200, 200), lambda w: {"confirm": True})},
    "api_files": {
        "POST": upload(
            (403, 201, 403, 201, 201, 201), lambda w: {"file": SimpleUploadedFile("survey.qsf", b'{"SurveyEntry": {}}')}
        ),
    },
    "api_runs": {"GET": get((403, 200, 200, 200, 200, 200))},
    "api_runs_rerun": {
        "POST": data(
            (403, 202, 403, 202, 202, 202),
            lambda w: {"ids": [w.run.pk]},
            effect=("the run is re-run", lambda w: Run.objects.filter(rerun_of=w.run).exists(), EDITORS),
        ),
    },
    # Team A's run has ended: it is listed as ended, never cancelled; a stranger's ids find nothing.
    "api_runs_cancel": {"POST": data((403, 200, 403, 200, 200, 200), lambda w: {"ids": [w.run.pk]})},
    "api_run": {"GET": get((403, 404, 200, 200, 200, 200))},
    "api_run_rerun": {"POST": data((403, 404, 403, 202, 202, 202))},
    # Alerts ------------------------------------------------------------------------------------
    "flow_alerts": {
        "GET": get((302, 405, 403, 405, 405, 405)),
        "POST": form(
            (302, 404, 403, 302, 302, 302),
            lambda w: {"emails": "oncall@example.com", "enabled": "on"},
            effect=("the flow's alerts are set", lambda w: _alert_emails(w) == [["oncall@example.com"]], EDITORS),
        ),
    },
    "api_flow_alerts": {
        "GET": get((403, 404, 200, 200, 200, 200)),
        "PUT": data(
            (403, 404, 403, 200, 200, 200),
            lambda w: {"emails": ["oncall@example.com"], "enabled": True},
            effect=("the flow's alerts are set", lambda w: _alert_emails(w) == [["oncall@example.com"]], EDITORS),
        ),
    },
    # Only a run that needs attention can be resumed; team A's has succeeded.
    "api_run_resume": {"POST": data((403, 404, 403, 409, 409, 409), lambda w: {"resend": False})},
    "api_run_cancel": {"POST": data((403, 404, 403, 409, 409, 409))},  # team A's run has ended
}

# Websocket routes (designer/routing.py): close code for a refusal, or "open".
WS_MATRIX: dict[str, tuple] = {
    "ws/flows/<int:flow_id>/": (4401, 4403, "open", "open", "open", "open"),
    "ws/runs/": (4401, "open", "open", "open", "open", "open"),
}


# Walking the URL configuration ---------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    key: str  # the URL name, namespaced ("admin:index"), or "/" + route for an unnamed pattern
    name: str | None
    route: str
    callback: Any


def walk(patterns=None, prefix: str = "", namespace: str | None = None) -> Iterator[Route]:
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace])) or None
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield Route(key=name or f"/{route}", name=name, route=route, callback=pattern.callback)


def routes() -> list[Route]:
    """Every route except the admin's internals (a few admin pages stay) and static files."""
    found = []
    for route in walk():
        if route.route.startswith("admin/") and route.key not in ADMIN_PAGES:
            continue
        if route.route.startswith(("static/", "media/")):
            continue
        found.append(route)
    return found


def api_methods(route: Route) -> set[str] | None:
    """The methods a REST view answers, read from its class; None for other views."""
    view_class = getattr(route.callback, "view_class", None)
    if view_class is None or not issubclass(view_class, APIView):
        return None
    return {
        m.upper()
        for m in view_class.http_method_names
        if m not in ("options", "head", "trace") and hasattr(view_class, m)
    }


PK_OWNERS = (
    (("flows/", "api/flows/"), "flow"),
    (("runs/", "api/runs/"), "run"),
    (("configurations/", "api/configurations/"), "configuration"),
    (("team/members/",), "editor_membership"),
    (("team/invitations/",), "invitation"),
    (("team/",), "team"),
)


def path_kwargs(route: Route, world: World) -> dict[str, Any]:
    values = {
        "number": world.version.number,
        "key": "qualtrics.new_response",
        "source": "surveys",
        "token": world.invitation_token,
        "action": "rename",
        "activation_id": world.activation.pk,
        "secret": world.activation.secret,
        "path": RUN_FILE,
        "step_id": "step_1",
    }
    wanted = re.findall(r"<(?:\w+:)?(\w+)>", route.route)
    kwargs = {}
    for name in wanted:
        if name == "pk":
            owner = next((attr for prefixes, attr in PK_OWNERS if route.route.startswith(prefixes)), None)
            assert owner, f"Route {route.route!r}: say in PK_OWNERS which of team A's objects its <pk> is."
            kwargs[name] = getattr(world, owner).pk
        else:
            assert name in values, f"Route {route.route!r}: add a team A value for <{name}> in path_kwargs()."
            kwargs[name] = values[name]
    return kwargs


def url_of(route: Route, world: World) -> str:
    if route.name:
        return reverse(route.name, kwargs=path_kwargs(route, world))
    return "/" + route.route


def send(world: World, actor: str, method: str, url: str, call: Call, *, csrf: bool = True):
    client = world.client(actor, csrf=csrf)
    body = call.body(world) if call.body else {}
    query = call.query(world) if call.query else None
    if method == "GET":
        return client.get(url, query)
    if call.kind == "json":
        return client.generic(method, url, json.dumps(body), content_type="application/json")
    if method == "POST":
        return client.post(url, body)  # form fields, or multipart with files
    return client.generic(method, url, "", content_type="application/x-www-form-urlencoded")


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


# Tests -----------------------------------------------------------------------------------------


def test_every_route_has_expectations():
    missing = [r.key for r in routes() if r.key not in MATRIX]
    assert not missing, (
        f"No access expectations for {missing}: add each to MATRIX in {__file__} with the status every actor "
        "(anonymous, another team's owner, viewer, editor, admin, owner) must get, for each method it answers."
    )


def test_the_matrix_lists_only_routes_that_exist():
    existing = {r.key for r in routes()}
    assert not set(MATRIX) - existing, f"MATRIX names routes that no longer exist: {sorted(set(MATRIX) - existing)}"


def test_the_matrix_lists_exactly_the_methods_each_rest_view_answers():
    wrong = {}
    for route in routes():
        methods = api_methods(route)
        if methods is not None and route.key in MATRIX and methods != set(MATRIX[route.key]):
            wrong[route.key] = {"view answers": sorted(methods), "matrix lists": sorted(MATRIX[route.key])}
    assert not wrong, f"Add the missing methods to MATRIX (or remove those the view no longer answers): {wrong}"


def test_every_actor_gets_exactly_the_expected_answer_on_every_route(world):
    failures = []
    count = 0
    for route in routes():
        url = url_of(route, world)
        for method, call in MATRIX.get(route.key, {}).items():
            for index, actor in enumerate(ACTORS):
                count += 1
                with transaction.atomic():
                    response = send(world, actor, method, url, call)
                    changed = call.effect[1](world) if call.effect else None
                    transaction.set_rollback(True)
                where = f"{method} {url} as {actor}"
                if response.status_code != call.expect[index]:
                    failures.append(f"{where}: {response.status_code}, expected {call.expect[index]}")
                if call.effect and changed != call.effect[2][index]:
                    failures.append(f"{where}: {'' if changed else 'not '}{call.effect[0]}, expected the opposite")
                signs_in = response.get("Location", "").startswith(("/login/", "/admin/login/"))
                if actor == "anonymous" and response.status_code == 302 and route.key != "/" and not signs_in:
                    failures.append(f"{where}: redirected to {response['Location']}, not to sign in")
    assert not failures, f"{len(failures)} of {count} requests went wrong:\n" + "\n".join(failures)
    assert count >= 6 * len(MATRIX)


def test_another_teams_owner_never_sees_team_a_data_in_any_answer(world):
    leaks = []
    secrets = [compact(s) for s in world.secrets()]
    for route in routes():
        url = url_of(route, world)
        for method, call in MATRIX.get(route.key, {}).items():
            with transaction.atomic():
                response = send(world, "stranger", method, url, call)
                transaction.set_rollback(True)
            if response.streaming:
                body = b"".join(response.streaming_content).decode(errors="replace")
            else:
                body = response.content.decode(errors="replace")
            found = [s for s in secrets if s in compact(body)]
            if found:
                leaks.append(f"{method} {url}: {found}")
    assert not leaks, "Team A data in answers to another team's owner:\n" + "\n".join(leaks)


def test_an_import_by_another_team_never_points_at_team_a_configurations(world):
    document = {
        **_export(world),
        "configurations": {
            str(world.configuration.pk): {"name": CONFIGURATION_NAME, "datacenter": world.configuration.credentials["datacenter"]}
        },
    }
    response = send(world, "stranger", "POST", reverse("api_flow_import"), data(ALL(201), lambda w: document))
    assert response.status_code == 201
    assert response.json()["definition"]["event"]["configuration"] is None


# Websockets ------------------------------------------------------------------------------------


def ws_routes() -> list[str]:
    from designer.routing import websocket_urlpatterns

    return [str(p.pattern) for p in websocket_urlpatterns]


def test_every_websocket_route_has_expectations():
    missing = [r for r in ws_routes() if r not in WS_MATRIX]
    assert not missing, f"No access expectations for websocket routes {missing}: add them to WS_MATRIX in {__file__}."


@pytest.fixture
def live_world(team, other_team, qualtrics_sandbox, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "files"
    settings.PUBLIC_BASE_URL = ""
    built = build_world(team=team, other_team=other_team, sandbox=qualtrics_sandbox, media_root=settings.MEDIA_ROOT)
    sign_in_everyone(built)
    return built


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_every_actor_gets_the_expected_answer_on_every_websocket_route(live_world):
    from config.asgi import application

    world = live_world
    failures = []
    for route in ws_routes():
        path = "/" + route.replace("<int:flow_id>", str(world.flow.pk))
        assert "<" not in path, f"Fill in the parameters of websocket route {route!r}."
        for index, actor in enumerate(ACTORS):
            headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
            if actor != "anonymous":
                headers.append((b"cookie", f"sessionid={world.sessions[actor]}".encode()))
            communicator = WebsocketCommunicator(application, path, headers=headers)
            connected, code = await communicator.connect(timeout=5)
            got = "open" if connected else code
            if connected:
                await communicator.disconnect()
            if got != WS_MATRIX[route][index]:
                failures.append(f"{path} as {actor}: {got}, expected {WS_MATRIX[route][index]}")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_runs_socket_never_carries_another_teams_runs(live_world):
    from config.asgi import application
    from designer.live import publish_run

    world = live_world
    headers = [
        (b"origin", b"http://testserver"),
        (b"host", b"testserver"),
        (b"cookie", f"sessionid={world.sessions['stranger']}".encode()),
    ]
    communicator = WebsocketCommunicator(application, "/ws/runs/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected

    @database_sync_to_async
    def touch_team_a_run():
        run = Run.objects.select_related("flow", "version", "delivery").get(pk=world.run.pk)
        run.save()
        publish_run(run)

    await touch_team_a_run()
    assert await communicator.receive_nothing(timeout=1.5)
    await communicator.disconnect()
