"""Team A with one object of every kind, a member in each role, and another team's owner.

The names and ids below are markers: a page or an answer for the other team's owner must never
contain any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# Imported up front: django-cryptography adds its settings on first import, and pytest-django's
# `settings` fixture (used by the sandbox fixture) would remove them again after that test.
import django_cryptography.conf  # noqa: F401
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils.crypto import get_random_string

from accounts import services as account_services
from accounts.models import Configuration, Invitation, Membership, Role, Team
from designer import services
from designer.activation import flow_activate
from designer.models import Activation, Delivery, DeliverySource, Flow, FlowVersion, Run, RunStatus

ACTORS = ("anonymous", "stranger", "viewer", "editor", "admin", "owner")
PASSWORD = "correct-horse-battery"
FLOW_NAME = "Quarterly pulse of team A"
CONFIGURATION_NAME = "Team A sandbox account"
RESPONSE_ID = "R_teamAonlyMarker01"
INVITEE = "invitee-of-team-a@example.com"
RUN_FILE = "responses-export.csv"


@dataclass
class World:
    team: Team
    other_team: Team
    users: dict[str, object]
    configuration: Configuration
    flow: Flow
    version: FlowVersion
    activation: Activation
    run: Run
    invitation: Invitation
    invitation_token: str
    editor_membership: Membership
    survey_id: str
    sessions: dict[str, str] = field(default_factory=dict)

    def client(self, actor: str, *, csrf: bool = True) -> Client:
        """A client that enforces CSRF, signed in as `actor`, with a valid CSRF token unless
        `csrf` is False. A new one each time, so one request's sign-out never affects the next."""
        client = Client(enforce_csrf_checks=True)
        if actor != "anonymous":
            client.cookies["sessionid"] = self.sessions[actor]
        if csrf:
            token = get_random_string(32)
            client.cookies["csrftoken"] = token
            client.defaults["HTTP_X_CSRFTOKEN"] = token
        return client

    def secrets(self) -> list[str]:
        """Strings from team A that no one outside it may see (an invitation's email is shown to
        whoever holds its link: the link is the invitation)."""
        return [
            FLOW_NAME,
            CONFIGURATION_NAME,
            RESPONSE_ID,
            f"/runs/{self.run.pk}/",
            f'"run": {self.run.pk}',
            f'"id": {self.run.pk}, "flow"',
        ]


def definition(configuration_id: int, survey_id: str) -> dict:
    return {
        "event": {
            "id": "trigger",
            "card": "qualtrics.new_response",
            "configuration": configuration_id,
            "options": {"survey_id": survey_id},
        },
        "steps": [{"id": "step_1", "card": "core.compose", "inputs": {"template": "Hi {{trigger.recipient_name}}"}}],
    }


def build_world(*, team: Team, other_team: Team, sandbox, media_root: Path) -> World:
    sandbox.set_export_polls(1)  # response exports (recent responses) are ready at once
    owner_membership = team.memberships.get(role=Role.OWNER)
    users = {"owner": owner_membership.user, "stranger": other_team.memberships.get(role=Role.OWNER).user}
    for role in (Role.VIEWER, Role.EDITOR, Role.ADMIN):
        user = get_user_model().objects.create_user(
            username=f"{role}-of-a", password=PASSWORD, email=f"{role}@a.example"
        )
        Membership.objects.create(team=team, user=user, role=role)
        users[str(role)] = user

    configuration = Configuration(
        team=team, owner=users["owner"], connector="qualtrics", name=CONFIGURATION_NAME, shared=True
    )
    configuration.credentials = {"datacenter": sandbox.datacenter, "api_token": sandbox.token, "username": ""}
    configuration.save()

    flow = services.flow_create(membership=owner_membership, name=FLOW_NAME)
    services.flow_save(
        membership=owner_membership,
        flow=flow,
        definition=definition(configuration.pk, sandbox.survey_id),
        base_version=0,
    )
    services.flow_publish(membership=owner_membership, flow=flow)
    flow.refresh_from_db()
    version = flow.versions.get(number=1)
    activation = flow_activate(flow=flow, user=users["owner"])

    delivery = Delivery.objects.create(
        flow=flow, event_id=RESPONSE_ID, payload={"response_id": RESPONSE_ID}, source=DeliverySource.TEST
    )
    run = Run.objects.create(flow=flow, team=team, version=version, delivery=delivery, status=RunStatus.SUCCEEDED)
    folder = media_root / "runs" / str(run.pk)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUN_FILE).write_text("ResponseId\nR_1\n")

    invitation = account_services.invitation_create(
        team=team, email=INVITEE, role=Role.VIEWER, invited_by=users["owner"]
    )
    return World(
        team=team,
        other_team=other_team,
        users=users,
        configuration=configuration,
        flow=flow,
        version=version,
        activation=activation,
        run=run,
        invitation=invitation,
        invitation_token=account_services.invitation_token(invitation),
        editor_membership=Membership.objects.get(team=team, user=users["editor"]),
        survey_id=sandbox.survey_id,
    )


def sign_in_everyone(world: World) -> None:
    for actor, user in world.users.items():
        client = Client()
        client.force_login(user)
        world.sessions[actor] = client.cookies["sessionid"].value



@pytest.fixture
def world(team, other_team, qualtrics_sandbox, settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path / "files"
    settings.PUBLIC_BASE_URL = ""  # activation polls: no webhook subscription is made
    built = build_world(team=team, other_team=other_team, sandbox=qualtrics_sandbox, media_root=settings.MEDIA_ROOT)
    sign_in_everyone(built)
    return built
