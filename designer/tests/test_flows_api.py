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


def test_saving_stores_the_draft_and_only_publishing_creates_a_version(api, flow, definition):
    changed = definition()
    changed["steps"] = changed["steps"][:1]
    response = put(api, flow, changed, flow.revision)
    assert response.status_code == 200
    body = response.json()
    assert body["revision"] == flow.revision + 1 and body["version"] == 1 and body["live_version"] == 1
    assert body["problems"] == [] and body["has_unpublished_changes"] is True
    assert [v["number"] for v in api.get(reverse("api_flow_versions", args=[flow.pk])).json()] == [1]
    published = api.post(reverse("api_flow_publish", args=[flow.pk]), content_type="application/json")
    assert published.status_code == 200
    assert published.json()["version"] == 2 and published.json()["live_version"] == 2
    assert published.json()["has_unpublished_changes"] is False
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


def test_a_draft_with_problems_is_saved_and_its_problems_come_back_per_step_and_field(api, flow, definition):
    bad = definition()
    del bad["steps"][1]["then"][0]["inputs"]["user_id"]
    response = put(api, flow, bad, flow.revision)
    assert response.status_code == 200
    problem = {"step": "step_3", "field": "user_id", "message": "User ID is required: type a value or map an output."}
    assert response.json()["problems"] == [problem]
    flow.refresh_from_db()
    assert flow.definition == bad and flow.draft_problems == [problem]
    assert flow.version == 1 and flow.live_version.definition == definition()
    assert api.get(reverse("api_flow", args=[flow.pk])).json()["problems"] == [problem]


def test_a_draft_that_is_not_a_flow_at_all_is_refused(api, flow):
    response = put(api, flow, {"event": None, "steps": "many"}, flow.revision)
    assert response.status_code == 400 and response.json()["errors"][0]["step"] == "flow"
    flow.refresh_from_db()
    assert flow.revision == 1 and isinstance(flow.definition["steps"], list)


def test_publishing_a_draft_with_problems_is_refused_with_them(api, flow, definition):
    bad = definition()
    del bad["steps"][1]["then"][0]["inputs"]["user_id"]
    put(api, flow, bad, flow.revision)
    response = api.post(reverse("api_flow_publish", args=[flow.pk]), content_type="application/json")
    assert response.status_code == 409
    assert response.json()["problems"] == [
        {"step": "step_3", "field": "user_id", "message": "User ID is required: type a value or map an output."}
    ]
    flow.refresh_from_db()
    assert flow.version == 1 and flow.versions.count() == 1
    activate = api.post(reverse("api_flow_activate", args=[flow.pk]))
    assert activate.status_code == 400 and activate.json()["errors"][0]["field"] == "user_id"


def test_publishing_a_newer_draft_than_the_one_named_is_refused(api, flow, definition):
    put(api, flow, {**definition(), "steps": []}, flow.revision)
    response = api.post(reverse("api_flow_publish", args=[flow.pk]), {"base_revision": flow.revision},
                        content_type="application/json")
    assert response.status_code == 409 and "after you opened it" in response.json()["detail"]
    assert flow.versions.count() == 1


def test_discarding_the_draft_brings_back_the_live_version(api, flow, definition):
    put(api, flow, {**definition(), "steps": []}, flow.revision)
    response = api.post(reverse("api_flow_discard", args=[flow.pk]))
    assert response.status_code == 200
    assert response.json()["definition"] == definition() and response.json()["has_unpublished_changes"] is False
    assert response.json()["problems"] == [] and response.json()["revision"] == flow.revision + 2


def test_discarding_before_the_first_publish_is_refused(api):
    created = api.post(reverse("api_flows"), {"name": "New"}, content_type="application/json").json()
    response = api.post(reverse("api_flow_discard", args=[created["id"]]))
    assert response.status_code == 409 and "Nothing is published" in response.json()["detail"]


def test_the_versions_list_says_which_one_is_live_and_who_published_it(client, member, api, flow, definition):
    editor = member(Role.EDITOR)
    client.force_login(editor)
    put(client, flow, {**definition(), "steps": definition()["steps"][:1]}, flow.revision)
    assert client.post(reverse("api_flow_publish", args=[flow.pk]), {"note": "Shorter"},
                       content_type="application/json").status_code == 200
    versions = client.get(reverse("api_flow_versions", args=[flow.pk])).json()
    owner = flow.created_by.username
    assert [(v["number"], v["live"], v["published_by"], v["note"]) for v in versions] == [
        (2, True, editor.username, "Shorter"), (1, False, owner, ""),
    ]
    assert versions[0]["published_at"]


def test_a_configuration_of_another_team_is_a_problem_and_never_published(api, flow, definition, other_team):
    theirs = Configuration(team=other_team, owner=other_team.memberships.first().user, connector="qualtrics", name="Theirs", shared=True)
    theirs.credentials = {"datacenter": "x1", "api_token": "another-token-0000000", "username": ""}
    theirs.save()
    response = put(api, flow, definition(cfg=theirs.pk), flow.revision)
    assert response.status_code == 200
    assert {"trigger", "step_1", "step_3"} <= {e["step"] for e in response.json()["problems"]}
    published = api.post(reverse("api_flow_publish", args=[flow.pk]), content_type="application/json")
    assert published.status_code == 409
    assert {"trigger", "step_1", "step_3"} <= {e["step"] for e in published.json()["problems"]}
    flow.refresh_from_db()
    assert flow.live_version.number == 1 and flow.versions.count() == 1
    # Nor can recent events be read through the draft's event card.
    events = api.get(reverse("api_flow_recent_events", args=[flow.pk]))
    assert events.status_code == 400 and "Fix the event card first" in events.json()["detail"]


def test_restoring_a_version_loads_it_into_the_draft_and_publishing_adds_it_as_a_new_one(api, flow, definition):
    changed = definition()
    changed["steps"] = changed["steps"][:1]
    put(api, flow, changed, flow.revision)
    api.post(reverse("api_flow_publish", args=[flow.pk]), content_type="application/json")
    response = api.post(reverse("api_flow_version_restore", args=[flow.pk, 1]))
    assert response.status_code == 200
    assert response.json()["version"] == 2 and response.json()["live_version"] == 2
    assert len(response.json()["definition"]["steps"]) == 2 and response.json()["has_unpublished_changes"] is True
    published = api.post(reverse("api_flow_publish", args=[flow.pk]), content_type="application/json").json()
    assert published["version"] == 3 and published["live_version"] == 3
    assert api.get(reverse("api_flow_version", args=[flow.pk, 2])).json()["definition"] == changed


def test_export_then_import_round_trips_and_remaps_configurations_by_name(api, flow, configuration):
    document = api.get(reverse("api_flow_export", args=[flow.pk])).json()
    assert document["configurations"] == {str(configuration.pk): {"name": "Main", "connector": "qualtrics"}}
    response = api.post(reverse("api_flow_import"), document, content_type="application/json")
    assert response.status_code == 201
    imported = Flow.objects.get(pk=response.json()["id"])
    # An import is a draft: nothing of it runs until it is published.
    assert imported.definition == flow.definition and imported.version == 0 and imported.live_version is None
    assert response.json()["has_unpublished_changes"] is True


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
    assert put(client, flow, definition(), flow.revision).status_code == 403


def test_editors_can_save(client, member, flow, definition):
    client.force_login(member(Role.EDITOR))
    assert put(client, flow, definition(), flow.revision).status_code == 200


def test_another_team_cannot_see_or_change_the_flow(client, other_team, flow, definition):
    client.force_login(other_team.memberships.first().user)
    assert client.get(reverse("api_flow", args=[flow.pk])).status_code == 404
    assert put(client, flow, definition(), flow.revision).status_code == 404
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
    assert put(api, flow, changed, flow.revision).status_code == 200


def test_a_file_of_another_team_cannot_be_used(api, flow, definition, other_team):
    changed = definition()
    forged = {"type": "file", "path": f"uploads/{other_team.pk}/abc/survey.qsf", "name": "survey.qsf"}
    changed["steps"].append({"id": "step_9", "card": "qualtrics.import_survey", "configuration": changed["event"]["configuration"],
                             "inputs": {"survey_name": "Copy", "file": forged}})
    response = put(api, flow, changed, flow.revision)
    assert response.status_code == 200
    assert response.json()["problems"][0]["field"] == "file"
    published = api.post(reverse("api_flow_publish", args=[flow.pk]), content_type="application/json")
    assert published.status_code == 409 and published.json()["problems"][0]["field"] == "file"
    assert flow.versions.count() == 1


def test_an_upload_over_the_size_limit_is_refused_clearly(api, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MAX_IMPORT_FILE_SIZE = 10
    response = api.post(reverse("api_files"), {"file": SimpleUploadedFile("big.qsf", b"x" * 11)})
    assert response.status_code == 400 and "larger than" in response.json()["detail"]
