from __future__ import annotations

import logging

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts import configurations as services
from accounts.crypto import DecryptionError
from accounts.models import Configuration, ConfigurationStatus, Role

pytestmark = pytest.mark.scaleout

CANARY = "canary-token-7f3b9c1d2e4a5b6c8d9e0f1a"


@pytest.fixture
def sandbox_token(qualtrics_sandbox):
    """The canary is a valid token of the sandbox brand, so every path that uses it succeeds."""
    qualtrics_sandbox.add_token(CANARY)
    return CANARY


def add(client, sandbox, token, name="Main", shared="on", datacenter=None):
    data = {"name": name, "datacenter": datacenter or sandbox.datacenter, "api_token": token, "username": "ada@example.com"}
    if shared:
        data["shared"] = shared
    return client.post(reverse("configuration_create") + "?connector=qualtrics", data, follow=True)


def raw_token_column(pk: int) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_credentials_encrypted FROM accounts_configuration WHERE id = %s", [pk])
        return bytes(cursor.fetchone()[0])


def test_adding_a_configuration_authorizes_it_and_stores_ciphertext(owner_client, qualtrics_sandbox, sandbox_token):
    response = add(owner_client, qualtrics_sandbox, sandbox_token)
    assert "is authorized as" in response.content.decode()
    configuration = Configuration.objects.get(name="Main")
    assert configuration.status == ConfigurationStatus.AUTHORIZED
    assert configuration.account_id.startswith("UR_")
    raw = raw_token_column(configuration.pk)
    assert CANARY.encode() not in raw and len(raw) > len(CANARY)
    assert configuration.credentials["api_token"] == CANARY


def test_a_wrong_token_gets_a_clear_reason(owner_client, qualtrics_sandbox):
    response = add(owner_client, qualtrics_sandbox, "not-a-real-token-000000")
    page = response.content.decode()
    assert "Qualtrics refused the API token of “Main”" in page
    assert Configuration.objects.get(name="Main").status == ConfigurationStatus.FAILED


def test_a_wrong_data_center_gets_a_clear_reason(owner_client, qualtrics_sandbox, sandbox_token):
    response = add(owner_client, qualtrics_sandbox, sandbox_token, datacenter="eu7")
    assert "data center ID" in response.content.decode()
    assert Configuration.objects.get(name="Main").status == ConfigurationStatus.FAILED


def test_a_malformed_data_center_is_refused_before_saving(owner_client, qualtrics_sandbox, sandbox_token):
    response = add(owner_client, qualtrics_sandbox, sandbox_token, datacenter="us1.evil.com/")
    assert "letters and digits" in response.content.decode()
    assert not Configuration.objects.exists()


def test_an_unreachable_qualtrics_gets_a_network_reason(owner_client, settings, sandbox_token, qualtrics_sandbox):
    settings.QUALTRICS_API_BASE = "http://127.0.0.1:9/{datacenter}/API/v3/"
    response = add(owner_client, qualtrics_sandbox, sandbox_token)
    assert "Qualtrics did not answer for “Main”" in response.content.decode()


def test_a_token_without_api_access_gets_a_clear_reason(owner_client, qualtrics_sandbox):
    qualtrics_sandbox.add_token("no-api-token-000000000", api_access=False)
    response = add(owner_client, qualtrics_sandbox, "no-api-token-000000000")
    assert "may lack API access" in response.content.decode()


def test_names_are_unique_in_a_team(owner_client, qualtrics_sandbox, sandbox_token):
    add(owner_client, qualtrics_sandbox, sandbox_token)
    response = add(owner_client, qualtrics_sandbox, sandbox_token)
    assert "already has a configuration named" in response.content.decode()
    assert Configuration.objects.count() == 1


def test_saving_a_new_token_re_authorizes(owner_client, qualtrics_sandbox, sandbox_token):
    add(owner_client, qualtrics_sandbox, "not-a-real-token-000000")
    configuration = Configuration.objects.get()
    owner_client.post(reverse("configuration_edit", args=[configuration.pk]), {
        "name": "Main", "datacenter": qualtrics_sandbox.datacenter, "api_token": sandbox_token, "shared": "on",
    })
    configuration.refresh_from_db()
    assert configuration.status == ConfigurationStatus.AUTHORIZED


def test_editing_without_a_token_keeps_the_old_one(owner_client, qualtrics_sandbox, sandbox_token):
    add(owner_client, qualtrics_sandbox, sandbox_token)
    configuration = Configuration.objects.get()
    owner_client.post(reverse("configuration_edit", args=[configuration.pk]), {
        "name": "Renamed", "datacenter": qualtrics_sandbox.datacenter, "api_token": "",
    })
    configuration.refresh_from_db()
    assert configuration.name == "Renamed" and configuration.credentials["api_token"] == CANARY and not configuration.shared


def test_key_rotation_re_encrypts_and_everything_reads_back(settings, team, qualtrics_sandbox, sandbox_token):
    membership = team.memberships.get(role=Role.OWNER)
    first = services.configuration_create(
        membership=membership, connector="qualtrics", name="A", credentials={"datacenter": "dc1", "api_token": "token-a-0000000000"}
    )
    second = services.configuration_create(
        membership=membership, connector="qualtrics", name="B", credentials={"datacenter": "dc1", "api_token": "token-b-0000000000"}
    )
    before = raw_token_column(first.pk)
    settings.FIELD_ENCRYPTION_KEYS = ["the-new-key", *settings.FIELD_ENCRYPTION_KEYS]
    from django.core.management import call_command

    call_command("rotate_encryption_key")
    assert raw_token_column(first.pk) != before
    settings.FIELD_ENCRYPTION_KEYS = ["the-new-key"]  # the old key is gone now
    assert Configuration.objects.get(pk=first.pk).credentials["api_token"] == "token-a-0000000000"
    assert Configuration.objects.get(pk=second.pk).credentials["api_token"] == "token-b-0000000000"


def test_a_wrong_key_fails_loudly_and_never_yields_ciphertext(settings, configuration_in_db):
    settings.FIELD_ENCRYPTION_KEYS = ["some-other-key"]
    with pytest.raises(DecryptionError):
        Configuration.objects.get(pk=configuration_in_db.pk).credentials


def test_rotation_with_an_unknown_key_changes_nothing(settings, configuration_in_db):
    from django.core.management import CommandError, call_command

    before = raw_token_column(configuration_in_db.pk)
    settings.FIELD_ENCRYPTION_KEYS = ["newer-key", "wrong-old-key"]
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("rotate_encryption_key")
    assert raw_token_column(configuration_in_db.pk) == before


@pytest.fixture
def configuration_in_db(team):
    owner = team.memberships.get(role=Role.OWNER).user
    item = Configuration(team=team, owner=owner, connector="qualtrics", name="Stored", shared=True)
    item.credentials = {"datacenter": "dc1", "api_token": "stored-token-000000000", "username": ""}
    item.save()
    return item


@pytest.fixture
def private_configuration(team, member):
    editor = member(Role.EDITOR, "private-editor")
    item = Configuration(team=team, owner=editor, connector="qualtrics", name="Mine", shared=False)
    item.credentials = {"datacenter": "dc1", "api_token": "private-token-00000000", "username": ""}
    item.save()
    return item


ROLES = [Role.OWNER, Role.ADMIN, Role.EDITOR, Role.VIEWER]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_shared_configurations_in_the_list(client, member, role, configuration_in_db):
    client.force_login(member(role))
    assert "Stored" in client.get(reverse("configurations")).content.decode()
    names = [c["name"] for c in client.get(reverse("api_configurations")).json()]
    assert names == ["Stored"]


def test_viewers_see_only_names_and_status(client, member, configuration_in_db):
    client.force_login(member(Role.VIEWER))
    [item] = client.get(reverse("api_configurations")).json()
    assert set(item) == {"id", "connector", "name", "status", "shared"}
    assert client.get(reverse("configuration_create")).status_code == 403


@pytest.mark.parametrize("role,allowed", [(Role.OWNER, True), (Role.ADMIN, True), (Role.EDITOR, False), (Role.VIEWER, False)])
def test_only_owners_and_admins_manage_a_shared_configuration(client, member, role, allowed, configuration_in_db):
    client.force_login(member(role))
    expected = 200 if allowed else 403
    assert client.get(reverse("configuration_edit", args=[configuration_in_db.pk])).status_code == expected
    assert client.get(reverse("configuration_delete", args=[configuration_in_db.pk])).status_code == expected
    response = client.patch(reverse("api_configuration", args=[configuration_in_db.pk]), {"name": "X"}, content_type="application/json")
    assert response.status_code == expected
    configuration_in_db.refresh_from_db()
    assert configuration_in_db.name == ("X" if allowed else "Stored")


def test_a_private_configuration_is_seen_and_managed_only_by_its_creator(client, team, member, private_configuration):
    client.force_login(private_configuration.owner)
    assert client.get(reverse("configuration_edit", args=[private_configuration.pk])).status_code == 200
    client.force_login(team.memberships.get(role=Role.OWNER).user)
    assert client.get(reverse("configuration_edit", args=[private_configuration.pk])).status_code == 404
    assert "Mine" not in client.get(reverse("configurations")).content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_another_teams_members_see_nothing(client, other_team, configuration_in_db, role, make_user):
    from accounts.models import Membership

    stranger = make_user(f"stranger-{role}")
    Membership.objects.create(team=other_team, user=stranger, role=role)
    client.force_login(stranger)
    client.post(reverse("team_switch"), {"team": other_team.pk})
    assert "Stored" not in client.get(reverse("configurations")).content.decode()
    assert client.get(reverse("api_configurations")).json() == []
    assert client.get(reverse("api_configuration", args=[configuration_in_db.pk])).status_code == 404
    # a viewer is stopped by the role check (403) before the lookup (404): neither shows anything
    assert client.get(reverse("configuration_edit", args=[configuration_in_db.pk])).status_code in (403, 404)
    assert client.post(reverse("configuration_delete", args=[configuration_in_db.pk])).status_code in (403, 404)
    assert Configuration.objects.filter(pk=configuration_in_db.pk).exists()


def test_anonymous_users_are_sent_to_sign_in(configuration_in_db):
    anonymous = Client()
    assert anonymous.get(reverse("configurations")).status_code == 302
    assert anonymous.get(reverse("api_configurations")).status_code == 403


def test_deleting_warns_with_flow_names_and_deactivates_them(owner_client, team, configuration_in_db):
    from designer import services as flow_services
    from designer.models import Activation

    membership = team.memberships.get(role=Role.OWNER)
    flow = flow_services.flow_create(membership=membership, name="Uses it", definition={
        "event": {"id": "trigger", "card": "qualtrics.new_response", "configuration": configuration_in_db.pk,
                  "options": {"survey_id": "SV_1"}}, "steps": []})
    page = owner_client.get(reverse("configuration_delete", args=[configuration_in_db.pk])).content.decode()
    assert "Uses it" in page
    response = owner_client.post(reverse("configuration_delete", args=[configuration_in_db.pk]), follow=True)
    assert "These flows are now inactive: Uses it" in response.content.decode()
    activation = Activation.objects.get(flow=flow)
    assert activation.status == "inactive" and "was deleted" in activation.reason


def test_an_editor_can_use_a_shared_configuration_in_the_api(client, member, configuration_in_db):
    client.force_login(member(Role.EDITOR))
    [item] = client.get(reverse("api_configurations")).json()
    assert item["name"] == "Stored" and item["can_manage"] is False and item["secret_set"] is True


def test_the_api_creates_and_never_returns_the_token(owner_client, qualtrics_sandbox, sandbox_token):
    response = owner_client.post(reverse("api_configurations"), {
        "connector": "qualtrics", "name": "Via API", "shared": True,
        "credentials": {"datacenter": qualtrics_sandbox.datacenter, "api_token": sandbox_token},
    }, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["status"] == "authorized"
    assert CANARY not in response.content.decode()
    assert response.json()["secret_hint"] == CANARY[-4:]


def test_the_canary_token_never_appears_in_pages_json_logs_or_admin(
    client, team, qualtrics_sandbox, sandbox_token, caplog, django_user_model
):
    caplog.set_level(logging.DEBUG)
    owner = team.memberships.get(role=Role.OWNER).user
    owner.is_staff = owner.is_superuser = True
    owner.save()
    client.force_login(owner)
    bodies = [add(client, qualtrics_sandbox, sandbox_token).content]
    configuration = Configuration.objects.get()
    for url in [
        reverse("configurations"), reverse("configuration_edit", args=[configuration.pk]),
        reverse("configuration_delete", args=[configuration.pk]), reverse("api_configurations"),
        reverse("api_configuration", args=[configuration.pk]),
        "/admin/accounts/configuration/", f"/admin/accounts/configuration/{configuration.pk}/change/",
    ]:
        bodies.append(client.get(url).content)
    bodies.append(client.post(reverse("configuration_authorize", args=[configuration.pk]), follow=True).content)
    bodies.append(client.post(reverse("api_configuration_authorize", args=[configuration.pk])).content)
    for body in bodies:
        assert CANARY.encode() not in body
    assert CANARY not in caplog.text
