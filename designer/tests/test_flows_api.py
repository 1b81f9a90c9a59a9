from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Configuration, Role
from designer.models import Flow

pytestmark = pytest.mark.scaleout


@pytest.fixture
def api(client, team):
    client.force_login(team.memberships.get(role=Role.OWNER).user)
    return client


def put(client, flow, definition, base_version, **extra):
    return client.put(
        reverse("api_flow", args=[flow.pk]), {"definition": definition, "base_version": base_version, **extra},
        content_type="application/json",
    )


def test_creating_a_flow_returns_it_with_an_empty_definition(api):
    response = api.post(reverse("api_flows"), {"name": "Onboarding"}, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["name"] == "Onboarding" and response.json()["version"] == 0
    assert response.json()["status"] == "inactive"


def test_saving_creates_a_new_version_each_time(api, flow, definition):
    response = put(api, flow, definition(), flow.version)
    assert response.status_code == 200
    assert response.json()["version"] == flow.version + 1
    assert [v["number"] for v in api.get(reverse("api_flow_versions", args=[flow.pk])).json()] == [2, 1]


def test_a_save_over_a_newer_version_is_refused_and_changes_nothing(api, flow, definition):
    stale = flow.version
    assert put(api, flow, definition(), stale).status_code == 200
    changed = definition()
    changed["steps"] = []
    response = put(api, flow, changed, stale)
    assert response.status_code == 409
    assert "after you opened it" in response.json()["detail"]
    flow.refresh_from_db()
    assert len(flow.definition["steps"]) == 2


def test_a_save_without_base_version_is_refused(api, flow, definition):
    assert put(api, flow, definition(), None).status_code == 409


def test_validation_errors_come_back_per_step_and_field(api, flow, definition):
    bad = definition()
    del bad["steps"][1]["then"][0]["inputs"]["user_id"]
    response = put(api, flow, bad, flow.version)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"step": "step_3", "field": "user_id", "message": "User ID is required: type a value or map an output."}
    ]
    flow.refresh_from_db()
    assert flow.version == 1


def test_a_configuration_of_another_team_is_refused(api, flow, definition, other_team):
    theirs = Configuration(team=other_team, owner=other_team.memberships.first().user, connector="qualtrics", name="Theirs", shared=True)
    theirs.credentials = {"datacenter": "x1", "api_token": "another-token-0000000", "username": ""}
    theirs.save()
    response = put(api, flow, definition(cfg=theirs.pk), flow.version)
    assert response.status_code == 400
    assert {"trigger", "step_1", "step_3"} <= {e["step"] for e in response.json()["errors"]}


def test_restoring_a_version_adds_it_as_a_new_one(api, flow, definition):
    changed = definition()
    changed["steps"] = changed["steps"][:1]
    put(api, flow, changed, flow.version)
    response = api.post(reverse("api_flow_version_restore", args=[flow.pk, 1]))
    assert response.status_code == 200
    assert response.json()["version"] == 3
    assert len(response.json()["definition"]["steps"]) == 2
    assert api.get(reverse("api_flow_version", args=[flow.pk, 2])).json()["definition"] == changed


def test_export_then_import_round_trips_and_remaps_configurations_by_name(api, flow, configuration):
    document = api.get(reverse("api_flow_export", args=[flow.pk])).json()
    assert document["configurations"] == {str(configuration.pk): {"name": "Main", "connector": "qualtrics"}}
    response = api.post(reverse("api_flow_import"), document, content_type="application/json")
    assert response.status_code == 201
    imported = Flow.objects.get(pk=response.json()["id"])
    assert imported.definition == flow.definition and imported.version == 1


def test_import_clears_configurations_that_are_not_in_the_team(api, flow):
    document = api.get(reverse("api_flow_export", args=[flow.pk])).json()
    document["configurations"] = {k: {"name": "Elsewhere", "connector": "qualtrics"} for k in document["configurations"]}
    response = api.post(reverse("api_flow_import"), document, content_type="application/json")
    assert response.status_code == 201
    assert any("not in your team" in w for w in response.json()["warnings"])
    assert response.json()["definition"]["event"]["configuration"] is None


def test_import_refuses_something_that_is_not_an_export(api):
    response = api.post(reverse("api_flow_import"), {"hello": "world"}, content_type="application/json")
    assert response.status_code == 400 and "not a flow export" in response.json()["detail"]


def test_duplicate_rename_and_delete(api, flow):
    copy = api.post(reverse("api_flow_duplicate", args=[flow.pk])).json()
    assert copy["name"] == "Welcome (copy)" and copy["definition"] == flow.definition
    assert api.patch(reverse("api_flow", args=[copy["id"]]), {"name": "Renamed"}, content_type="application/json").json()["name"] == "Renamed"
    assert api.delete(reverse("api_flow", args=[copy["id"]])).status_code == 204
    assert not Flow.objects.filter(pk=copy["id"]).exists()


@pytest.mark.parametrize("role", [Role.VIEWER])
def test_viewers_can_read_but_not_save(client, member, flow, definition, role):
    client.force_login(member(role))
    assert client.get(reverse("api_flow", args=[flow.pk])).status_code == 200
    assert put(client, flow, definition(), flow.version).status_code == 403


def test_editors_can_save(client, member, flow, definition):
    client.force_login(member(Role.EDITOR))
    assert put(client, flow, definition(), flow.version).status_code == 200


def test_another_team_cannot_see_or_change_the_flow(client, other_team, flow, definition):
    client.force_login(other_team.memberships.first().user)
    assert client.get(reverse("api_flow", args=[flow.pk])).status_code == 404
    assert put(client, flow, definition(), flow.version).status_code == 404
    assert flow.pk not in [f["id"] for f in client.get(reverse("api_flows")).json()]


def test_the_flow_list_page_lists_flows_with_their_status(api, flow):
    page = api.get(reverse("flows")).content.decode()
    assert "Welcome" in page and "Inactive" in page


def test_the_flow_list_page_imports_an_uploaded_export(api, flow):
    import json

    from django.core.files.uploadedfile import SimpleUploadedFile

    document = api.get(reverse("api_flow_export", args=[flow.pk])).json()
    upload = SimpleUploadedFile("flow.json", json.dumps(document).encode(), content_type="application/json")
    response = api.post(reverse("flow_import"), {"file": upload})
    assert response.status_code == 302
    assert Flow.objects.filter(name="Welcome").count() == 2


def test_an_uploaded_file_can_be_used_as_a_file_input(api, flow, definition):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("survey.qsf", b'{"SurveyEntry": {}}', content_type="application/octet-stream")
    response = api.post(reverse("api_files"), {"file": upload})
    assert response.status_code == 201
    value = response.json()
    assert value["type"] == "file" and value["name"] == "survey.qsf" and value["path"].startswith(f"uploads/{flow.team_id}/")
    changed = definition()
    changed["steps"].append({"id": "step_9", "card": "qualtrics.import_survey", "configuration": changed["event"]["configuration"],
                             "inputs": {"survey_name": "Copy", "file": value}})
    assert put(api, flow, changed, flow.version).status_code == 200


def test_a_file_of_another_team_cannot_be_used(api, flow, definition, other_team):
    changed = definition()
    forged = {"type": "file", "path": f"uploads/{other_team.pk}/abc/survey.qsf", "name": "survey.qsf"}
    changed["steps"].append({"id": "step_9", "card": "qualtrics.import_survey", "configuration": changed["event"]["configuration"],
                             "inputs": {"survey_name": "Copy", "file": forged}})
    response = put(api, flow, changed, flow.version)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "file"


def test_an_upload_over_the_size_limit_is_refused_clearly(api, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MAX_IMPORT_FILE_SIZE = 10
    response = api.post(reverse("api_files"), {"file": SimpleUploadedFile("big.qsf", b"x" * 11)})
    assert response.status_code == 400 and "larger than" in response.json()["detail"]
