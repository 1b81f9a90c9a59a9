"""Configurations as connections of any connector: generic checks from the connector's credential
fields, secrets kept and never shown, and accounts knowing no connector nor designer by name."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from django.urls import reverse

from accounts import configurations as services
from accounts.models import Configuration, ConfigurationStatus, Role
from connectors.http import ConnectorError
from connectors.registry import registry
from connectors.specs import Account, Connector, CredentialsError, Field

SECRET = "very-secret-key-5c2e9a7d1b"


class FakeClient:
    def __init__(self, credentials, **options):
        self.credentials = dict(credentials)
        self.options = options


def fake_authorize(client) -> Account:
    if client.credentials.get("api_key") != SECRET:
        raise ConnectorError("The key was refused.")
    return Account(id="acct-1", name=f"{client.credentials.get('workspace')} workspace", details={"plan": "free"})


def fake_clean(values):
    if values.get("workspace", "").startswith("-"):
        raise CredentialsError("workspace", "A workspace does not start with a dash.")
    return {**values, "workspace": values["workspace"].lower()}


FAKE = Connector(
    key="fakedesk",
    name="Fake Desk",
    credentials=(
        Field("workspace", "Workspace", required=True, help="The part before .fakedesk.example."),
        Field("api_key", "API Key", required=True, secret=True),
        Field("region", "Region"),
    ),
    client=FakeClient,
    authorize=fake_authorize,
    describe_error=lambda exc, name: f"Fake Desk refused “{name}”: {exc}",
    clean_credentials=fake_clean,
    connection_label="connection",
)


@pytest.fixture
def fake_connector():
    registry._connectors[FAKE.key] = FAKE
    yield FAKE
    registry._connectors.pop(FAKE.key, None)


@pytest.fixture
def owner_membership(team):
    return team.memberships.get(role=Role.OWNER)


def create(membership, **changes):
    values = {
        "membership": membership, "connector": "fakedesk", "name": "Desk",
        "credentials": {"workspace": "Acme", "api_key": SECRET, "region": "eu"},
    }
    values.update(changes)
    return services.configuration_create(**values)


def test_a_connection_is_stored_split_and_authorized(fake_connector, owner_membership):
    configuration = create(owner_membership, credentials={"workspace": " Acme ", "api_key": SECRET, "stray": "x"})
    configuration.refresh_from_db()
    assert configuration.status == ConfigurationStatus.AUTHORIZED
    assert configuration.status_message == "Authorized as acme workspace."
    assert configuration.public_credentials == {"workspace": "acme", "region": ""}
    assert SECRET.encode() not in bytes(configuration.secret_credentials_encrypted)
    assert configuration.credentials == {"workspace": "acme", "region": "", "api_key": SECRET}
    assert configuration.secret_hint == SECRET[-4:] and configuration.secret_set
    assert (configuration.account_id, configuration.account_details) == ("acct-1", {"plan": "free"})


def test_a_refused_connection_is_saved_as_failed_with_the_connectors_words(fake_connector, owner_membership):
    configuration = create(owner_membership, credentials={"workspace": "acme", "api_key": "wrong-key"})
    assert configuration.status == ConfigurationStatus.FAILED
    assert configuration.status_message == "Fake Desk refused “Desk”: The key was refused."


@pytest.mark.parametrize("credentials,field", [
    ({"api_key": SECRET}, "workspace"),
    ({"workspace": "acme", "api_key": "   "}, "api_key"),
    ({"workspace": "acme", "api_key": 12345}, "api_key"),
    ({"workspace": ["acme"], "api_key": SECRET}, "workspace"),
    ({"workspace": "a" * 2001, "api_key": SECRET}, "workspace"),
    ({"workspace": "-acme", "api_key": SECRET}, "workspace"),
])
def test_credential_fields_are_checked_before_saving(fake_connector, owner_membership, credentials, field):
    with pytest.raises(services.ConfigurationInputError) as caught:
        create(owner_membership, credentials=credentials)
    assert caught.value.field == field
    assert not Configuration.objects.exists()


@pytest.mark.parametrize("key", ["nope", "", "core"])
def test_an_unknown_connector_or_one_without_credentials_is_refused(owner_membership, key):
    with pytest.raises(services.ConfigurationInputError) as caught:
        services.configuration_create(membership=owner_membership, connector=key, name="X", credentials={})
    assert caught.value.field == "connector"


def test_viewers_cannot_add(fake_connector, member, team):
    viewer = team.memberships.get(user=member(Role.VIEWER))
    with pytest.raises(PermissionError):
        create(viewer)


def test_names_are_unique_in_a_team_whatever_the_case(fake_connector, owner_membership):
    create(owner_membership)
    with pytest.raises(services.ConfigurationInputError) as caught:
        create(owner_membership, name=" desk ")
    assert caught.value.field == "name" and "already has a connection named" in caught.value.message


def test_a_blank_secret_on_update_keeps_the_stored_one_without_authorizing_again(fake_connector, owner_membership):
    configuration = create(owner_membership)
    authorized_at = configuration.authorized_at
    updated = services.configuration_update(
        configuration=configuration, name="Renamed", credentials={"workspace": "acme", "api_key": "", "region": "eu"},
        shared=True,
    )
    updated.refresh_from_db()
    assert updated.name == "Renamed" and updated.shared
    assert updated.credentials["api_key"] == SECRET
    assert updated.authorized_at == authorized_at


def test_a_changed_credential_authorizes_again(fake_connector, owner_membership):
    configuration = create(owner_membership)
    updated = services.configuration_update(
        configuration=configuration, name="Desk", credentials={"workspace": "acme", "api_key": "other-key"}, shared=False,
    )
    assert updated.status == ConfigurationStatus.FAILED
    assert Configuration.objects.get().credentials["api_key"] == "other-key"


def test_the_client_is_the_connectors_for_the_stored_credentials(fake_connector, owner_membership):
    configuration = create(owner_membership)
    client = services.configuration_client(configuration, timeout=3)
    assert client.credentials["api_key"] == SECRET and client.options == {"timeout": 3}


def test_deleting_collects_the_flow_names_receivers_return(fake_connector, owner_membership):
    from accounts.signals import configuration_deleting

    def receiver(sender, *, configuration, **kwargs):
        return [f"uses {configuration.name}"]

    configuration_deleting.connect(receiver, dispatch_uid="test-receiver")
    try:
        names = services.configuration_delete(configuration=create(owner_membership))
    finally:
        configuration_deleting.disconnect(dispatch_uid="test-receiver")
    assert "uses Desk" in names and not Configuration.objects.exists()


def test_the_api_never_returns_a_secret(fake_connector, owner_client):
    response = owner_client.post(reverse("api_configurations"), {
        "connector": "fakedesk", "name": "Desk", "credentials": {"workspace": "acme", "api_key": SECRET},
    }, content_type="application/json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["credentials"] == {"workspace": "acme", "region": ""}
    assert created["account_name"] == "acme workspace" and created["secret_set"] is True
    assert set(created) == {
        "id", "connector", "name", "status", "shared", "credentials", "owner", "status_message", "account_name",
        "authorized_at", "secret_set", "secret_hint", "can_manage",
    }
    pk = created["id"]
    bodies = [
        owner_client.get(reverse("api_configurations")).content,
        owner_client.get(reverse("api_configuration", args=[pk])).content,
        owner_client.patch(reverse("api_configuration", args=[pk]), {"name": "Desk 2"}, content_type="application/json").content,
        owner_client.put(reverse("api_configuration", args=[pk]), {
            "name": "Desk 3", "credentials": {"workspace": "acme", "api_key": ""},
        }, content_type="application/json").content,
        owner_client.post(reverse("api_configuration_authorize", args=[pk])).content,
        owner_client.get(reverse("configurations")).content,
        owner_client.get(reverse("configuration_edit", args=[pk])).content,
    ]
    for body in bodies:
        assert SECRET.encode() not in body
    assert Configuration.objects.get().credentials["api_key"] == SECRET


def test_the_api_needs_the_connector_when_several_take_connections(fake_connector, owner_client):
    response = owner_client.post(reverse("api_configurations"), {
        "name": "Desk", "credentials": {"workspace": "acme", "api_key": SECRET},
    }, content_type="application/json")
    assert response.status_code == 400 and "connector" in response.json()


def test_the_api_names_the_credential_field_at_fault(fake_connector, owner_client):
    response = owner_client.post(reverse("api_configurations"), {
        "connector": "fakedesk", "name": "Desk", "credentials": {"workspace": "acme"},
    }, content_type="application/json")
    assert response.status_code == 400 and list(response.json()) == ["api_key"]


def test_the_connector_of_a_configuration_cannot_change(fake_connector, owner_client, owner_membership):
    configuration = create(owner_membership)
    response = owner_client.patch(
        reverse("api_configuration", args=[configuration.pk]), {"connector": "qualtrics"}, content_type="application/json"
    )
    assert response.status_code == 400 and "connector" in response.json()


def test_with_one_connector_taking_connections_add_goes_straight_to_its_form(owner_client, monkeypatch):
    only_qualtrics = {k: c for k, c in registry._connectors.items() if k == "qualtrics" or not c.credentials}
    monkeypatch.setattr(registry, "_connectors", only_qualtrics)
    page = owner_client.get(reverse("configuration_create")).content.decode()
    assert 'name="datacenter"' in page and 'name="api_token"' in page and 'type="password"' in page


def test_with_several_connectors_add_asks_which_one(fake_connector, owner_client):
    page = owner_client.get(reverse("configuration_create")).content.decode()
    assert "Fake Desk" in page and "?connector=fakedesk" in page
    assert "?connector=slack" in page and "?connector=teams" in page
    form = owner_client.get(reverse("configuration_create") + "?connector=fakedesk").content.decode()
    assert 'name="workspace"' in form and 'aria-describedby="id_workspace_help"' in form
    assert 'id="id_workspace_help"' in form and "The part before .fakedesk.example." in form


def test_the_form_adds_and_edits_a_connection(fake_connector, owner_client):
    url = reverse("configuration_create") + "?connector=fakedesk"
    response = owner_client.post(url, {"name": "Desk", "workspace": "acme", "api_key": SECRET}, follow=True)
    assert "is authorized as acme workspace" in response.content.decode()
    configuration = Configuration.objects.get()
    assert configuration.connector == "fakedesk"
    page = owner_client.get(reverse("configuration_edit", args=[configuration.pk])).content.decode()
    assert f"•••• {SECRET[-4:]}" in page and SECRET not in page and 'value="acme"' in page
    owner_client.post(reverse("configuration_edit", args=[configuration.pk]), {"name": "Desk", "workspace": "acme", "api_key": ""})
    assert Configuration.objects.get().credentials["api_key"] == SECRET
    listing = owner_client.get(reverse("configurations")).content.decode()
    assert "Fake Desk" in listing and "acme workspace" in listing


def test_key_rotation_reencrypts_the_secret_object(fake_connector, owner_membership, settings):
    configuration = create(owner_membership)
    settings.FIELD_ENCRYPTION_KEYS = ["a-newer-key", *settings.FIELD_ENCRYPTION_KEYS]
    assert services.configurations_rotate_key() == (1, 1)
    settings.FIELD_ENCRYPTION_KEYS = ["a-newer-key"]
    assert Configuration.objects.get(pk=configuration.pk).credentials["api_key"] == SECRET


ACCOUNTS = Path(__file__).resolve().parents[1]


def _modules():
    return sorted(p for p in ACCOUNTS.glob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_accounts_names_no_connector(path):
    assert "qualtrics" not in path.read_text().lower()


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_accounts_imports_nothing_from_designer(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert not (node.module or "").split(".")[0] == "designer", f"{path.name}:{node.lineno}"
        elif isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] == "designer" for a in node.names), f"{path.name}:{node.lineno}"


def test_the_migration_moves_qualtrics_fields_and_back(transactional_db):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from accounts.crypto import decrypt_text, encrypt_text

    executor = MigrationExecutor(connection)
    before, after = [("accounts", "0001_initial")], [("accounts", "0002_configuration_any_connector")]
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    User = apps.get_model("auth", "User")
    Team = apps.get_model("accounts", "Team")
    Old = apps.get_model("accounts", "Configuration")
    user = User.objects.create(username="migrator")
    team = Team.objects.create(name="T")
    Old.objects.create(
        team=team, owner=user, name="Old", datacenter="iad1", username="ada", api_token_encrypted=encrypt_text(SECRET),
        token_last4=SECRET[-4:], qualtrics_user_id="UR_1", qualtrics_user_name="Ada", brand_id="acme",
    )
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    New = executor.loader.project_state(after).apps.get_model("accounts", "Configuration")
    moved = New.objects.get()
    assert moved.public_credentials == {"datacenter": "iad1", "username": "ada"}
    assert json.loads(decrypt_text(moved.secret_credentials_encrypted)) == {"api_token": SECRET}
    assert (moved.secret_hint, moved.account_id, moved.account_name, moved.account_details) == (
        SECRET[-4:], "UR_1", "Ada", {"brand_id": "acme"}
    )
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    back = executor.loader.project_state(before).apps.get_model("accounts", "Configuration").objects.get()
    assert (back.datacenter, back.username, back.token_last4, back.qualtrics_user_id, back.qualtrics_user_name, back.brand_id) == (
        "iad1", "ada", SECRET[-4:], "UR_1", "Ada", "acme"
    )
    assert decrypt_text(back.api_token_encrypted) == SECRET
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
