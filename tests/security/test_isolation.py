"""Issue #15: files are capabilities of their team, import, restore and duplicate validate as save
does, and a private connection is used only in cards its owner wrote, at save and at run time."""

from __future__ import annotations

import copy
import json

import pytest
from django.urls import reverse

from accounts.models import Configuration, Membership
from designer import services
from designer.engine import run_execute
from designer.files import TeamFiles, file_register
from designer.models import Flow, RunStatus, StoredFile
from designer.runs import delivery_accept
from designer.validation import MAX_DEPTH, MAX_STEPS
from tests.security.conftest import RUN_FILE, definition

pytestmark = pytest.mark.scaleout


@pytest.fixture(autouse=True)
def no_task_worker(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}


def put(world, actor: str, flow, body: dict):
    """Saves the draft as the editor does (a draft keeps its problems), then publishes it: the answer
    of the publish, or of a save refused outright (a definition over the size limits)."""
    client = world.client(actor)
    saved = client.put(reverse("api_flow", args=[flow.pk]), json.dumps({"base_version": flow.revision, **body}),
                       content_type="application/json")
    if saved.status_code != 200:
        return saved
    return client.post(reverse("api_flow_publish", args=[flow.pk]), "{}", content_type="application/json")


def save_and_publish(membership, flow, definition):
    services.flow_save(membership=membership, flow=flow, definition=definition, base_version=flow.revision)
    return services.flow_publish(membership=membership, flow=flow)


def run_version(flow, version, sandbox):
    """Runs `version` of the flow on a new response, as a webhook delivery would."""
    response_id = sandbox.record_response(values={"recipientEmail": "ada@example.com"}, notify=False)
    run = delivery_accept(flow=flow, version=version, event_id=response_id, payload={"response_id": response_id},
                          source="webhook")
    run_execute(run.pk)
    run.refresh_from_db()
    return run


# 1. Cross-team file read --------------------------------------------------------------------


@pytest.fixture
def team_b(world, qualtrics_sandbox):
    """Team B's owner with a Qualtrics account of its own and a flow."""
    owner = world.other_team.memberships.get(user=world.users["stranger"])
    account = Configuration(team=world.other_team, owner=owner.user, connector="qualtrics", name="B's account",
                            shared=True)
    account.credentials = {"datacenter": qualtrics_sandbox.datacenter, "api_token": qualtrics_sandbox.token,
                           "username": ""}
    account.save()
    flow = services.flow_create(membership=owner, name="B's flow")
    return owner, account, flow


def team_a_export(world) -> dict:
    """Team A's response export of its run, as a file value with its record's id (team A's)."""
    path = f"runs/{world.run.pk}/{RUN_FILE}"
    return file_register(team_id=world.team.pk, value={"type": "file", "path": path, "name": RUN_FILE},
                         run_id=world.run.pk)


def exfiltrating(account_id: int, survey_id: str, stolen: dict) -> dict:
    """New Response → For Each over a list holding the file → Import Survey of the item."""
    disguised = {**stolen, "name": "pulse.txt"}  # Import Survey takes .txt
    return {
        **definition(account_id, survey_id),
        "steps": [{
            "id": "step_1", "card": "core.for_each", "inputs": {"list": [{"survey": disguised}]},
            "steps": [{"id": "step_2", "card": "qualtrics.import_survey", "configuration": account_id,
                       "inputs": {"survey_name": "Stolen", "file": {"ref": "step_1.item.survey"}}}],
        }],
    }


def test_a_save_refuses_another_teams_file_inside_a_for_each_list(world, team_b, qualtrics_sandbox):
    _, account, flow = team_b
    body = {"definition": exfiltrating(account.pk, qualtrics_sandbox.survey_id, team_a_export(world))}
    response = put(world, "stranger", flow, body)
    assert response.status_code == 409
    assert response.json()["problems"] == [
        {"step": "step_1", "field": "list", "message": "List: that file is not one of your team's files; upload it again."}
    ]


def test_an_import_refuses_another_teams_file(world, team_b, qualtrics_sandbox):
    _, account, _ = team_b
    document = {"format": "qflows.flow/1", "name": "Stolen",
                "definition": exfiltrating(account.pk, qualtrics_sandbox.survey_id, team_a_export(world)),
                "configurations": {str(account.pk): {"name": "B's account", "connector": "qualtrics"}}}
    response = world.client("stranger").post(reverse("api_flow_import"), json.dumps(document),
                                              content_type="application/json")
    assert response.status_code == 400
    assert [e["step"] for e in response.json()["errors"]] == ["step_1"]
    assert not Flow.objects.filter(name="Stolen").exists()


@pytest.mark.parametrize("with_id", [True, False])
def test_a_run_never_opens_another_teams_file_whatever_its_flow_says(world, team_b, qualtrics_sandbox, with_id):
    """A definition stored without validation (as imports once were): the engine still refuses."""
    owner, account, flow = team_b
    stolen = team_a_export(world) if with_id else {"type": "file", "path": f"runs/{world.run.pk}/{RUN_FILE}"}
    version = services._version_add(flow=flow, user=owner.user,
                                     definition=exfiltrating(account.pk, qualtrics_sandbox.survey_id, stolen))
    run = run_version(flow, version, qualtrics_sandbox)
    assert run.status == RunStatus.FAILED
    step = run.steps.get(step_id="step_2")
    assert step.status == RunStatus.FAILED
    assert "is not one of this team's files" in step.error
    assert qualtrics_sandbox.requests("surveys", method="POST") == []


def test_a_file_a_card_writes_is_recorded_for_its_team_only(world, qualtrics_sandbox):
    owner = world.team.memberships.get(user=world.users["owner"])
    steps = [{"id": "step_1", "card": "qualtrics.export_responses", "configuration": world.configuration.pk,
              "options": {"survey_id": qualtrics_sandbox.survey_id, "format": "csv"}, "inputs": {}}]
    saved = {**definition(world.configuration.pk, qualtrics_sandbox.survey_id), "steps": steps}
    version = save_and_publish(owner, world.flow, saved)
    run = run_version(world.flow, version, qualtrics_sandbox)
    assert run.status == RunStatus.SUCCEEDED, run.error
    value = run.steps.get(step_id="step_1").outputs["file"]
    record = StoredFile.objects.get(key=value["id"])
    assert (record.team, record.run_id, record.path) == (world.team, run.pk, value["path"])
    with TeamFiles(team_id=world.team.pk, run_id=run.pk).open(value) as opened:
        assert opened.read(10)
    with pytest.raises(ValueError, match="is not one of this team's files"):
        TeamFiles(team_id=world.other_team.pk, run_id=run.pk).open(value)


def test_an_upload_answers_a_value_with_its_records_id(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    value = world.client("editor").post(reverse("api_files"), {"file": SimpleUploadedFile("s.qsf", b"{}")}).json()
    assert StoredFile.objects.get(key=value["id"]).team == world.team


# 3. Import, restore and duplicate validate as save does -------------------------------------


def too_many_cards(world) -> dict:
    steps = [{"id": f"step_{i}", "card": "core.compose", "inputs": {"template": "x"}} for i in range(MAX_STEPS + 1)]
    return {**definition(world.configuration.pk, world.survey_id), "steps": steps}


def too_deep(world) -> dict:
    node: list = []
    for level in range(MAX_DEPTH + 2, 0, -1):
        node = [{"id": f"loop_{level}", "card": "core.for_each", "inputs": {"list": ["x"]}, "steps": node}]
    return {**definition(world.configuration.pk, world.survey_id), "steps": node}


@pytest.fixture(params=["too_many_cards", "too_deep"])
def oversized(request, world):
    built = globals()[request.param](world)
    response = put(world, "owner", world.flow, {"definition": built})
    assert response.status_code == 400
    return built, response.json()["errors"]


def test_the_size_limits_say_what_is_wrong(world):
    assert put(world, "owner", world.flow, {"definition": too_many_cards(world)}).json()["errors"] == [
        {"step": "flow", "field": None, "message": f"A flow can have at most {MAX_STEPS} cards."}
    ]
    assert put(world, "owner", world.flow, {"definition": too_deep(world)}).json()["errors"] == [
        {"step": "flow", "field": None, "message": f"Cards are nested more than {MAX_DEPTH} levels deep."}
    ]


def test_an_import_is_refused_with_the_problems_a_save_has(world, oversized):
    built, problems = oversized
    document = {"format": "qflows.flow/1", "name": "Huge", "definition": built,
                "configurations": {str(world.configuration.pk): {"name": world.configuration.name,
                                                                 "connector": "qualtrics"}}}
    response = world.client("owner").post(reverse("api_flow_import"), json.dumps(document),
                                           content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == problems
    assert not Flow.objects.filter(name="Huge").exists()


def test_a_restore_is_refused_with_the_problems_a_save_has(world, oversized):
    built, problems = oversized
    owner = world.users["owner"]
    old = services._version_add(flow=world.flow, definition=built, user=owner)  # stored before the limits
    services._version_add(flow=world.flow, definition=copy.deepcopy(world.version.definition), user=owner)
    world.flow.refresh_from_db()
    response = world.client("owner").post(reverse("api_flow_version_restore", args=[world.flow.pk, old.number]))
    assert response.status_code == 400
    assert response.json()["errors"] == problems
    assert Flow.objects.get(pk=world.flow.pk).version == world.flow.version


def test_a_duplicate_is_refused_with_the_problems_a_save_has(world, oversized):
    built, problems = oversized
    services._version_add(flow=world.flow, definition=built, user=world.users["owner"])
    count = Flow.objects.count()
    response = world.client("owner").post(reverse("api_flow_duplicate", args=[world.flow.pk]))
    assert response.status_code == 400
    assert response.json()["errors"] == problems
    assert Flow.objects.count() == count


def test_an_import_keeps_cards_whose_connection_it_cleared(world):
    document = {"format": "qflows.flow/1", "name": "Elsewhere", "definition": world.flow.definition,
                "configurations": {}}
    response = world.client("stranger").post(reverse("api_flow_import"), json.dumps(document),
                                              content_type="application/json")
    assert response.status_code == 201
    assert response.json()["definition"]["event"]["configuration"] is None


# 4. Private connections ---------------------------------------------------------------------

PRIVATE = "Admin's own token"


@pytest.fixture
def private(world, qualtrics_sandbox):
    """A private connection of team A's admin, used by a Custom API card the admin saved (v2)."""
    admin = Membership.objects.get(team=world.team, user=world.users["admin"])
    account = Configuration(team=world.team, owner=admin.user, connector="qualtrics", name=PRIVATE, shared=False)
    account.credentials = {"datacenter": qualtrics_sandbox.datacenter, "api_token": qualtrics_sandbox.token,
                           "username": ""}
    account.save()
    saved = copy.deepcopy(world.flow.definition)
    saved["steps"].append(custom_api(account.pk, "step_2", "whoami"))
    save_and_publish(admin, world.flow, saved)
    world.flow.refresh_from_db()
    return admin, account


def custom_api(account_id: int, step_id: str, url: str) -> dict:
    return {"id": step_id, "card": "qualtrics.custom_api_action", "configuration": account_id,
            "options": {"method": "GET"}, "inputs": {"relative_url": url}}


def private_refused(response, step: str) -> None:
    """A publish (409, `problems`) or a duplicate (400, `errors`) refused for the private connection."""
    assert response.status_code in (400, 409), response.content
    found = response.json().get("problems", response.json().get("errors"))
    assert {"step": step, "field": "configuration",
            "message": f"The configuration “{PRIVATE}” is private to its owner: only they can use it in a new or changed "
                       f"card. Ask them to share it, or choose another."} in found


def test_a_teammate_cannot_add_a_card_with_a_private_connection_already_in_the_flow(world, private):
    _, account = private
    changed = copy.deepcopy(world.flow.definition)
    changed["steps"].append(custom_api(account.pk, "step_3", "surveys"))
    private_refused(put(world, "editor", world.flow, {"definition": changed}), "step_3")


def test_a_teammate_cannot_change_a_card_that_uses_a_private_connection(world, private):
    changed = copy.deepcopy(world.flow.definition)
    changed["steps"][1]["inputs"]["relative_url"] = "surveys"
    private_refused(put(world, "editor", world.flow, {"definition": changed}), "step_2")


def test_a_teammate_can_save_other_changes_around_an_unchanged_card_and_it_runs(world, private, qualtrics_sandbox):
    changed = copy.deepcopy(world.flow.definition)
    changed["steps"][0]["inputs"]["template"] = "Hello {{trigger.recipient_name}}"
    assert put(world, "editor", world.flow, {"definition": changed}).status_code == 200
    world.flow.refresh_from_db()
    run = run_version(world.flow, world.flow.versions.first(), qualtrics_sandbox)
    assert run.status == RunStatus.SUCCEEDED, run.error


def test_a_restore_cannot_bring_back_a_private_connection_its_owner_removed(world, private):
    admin, _ = private
    removed = copy.deepcopy(world.flow.definition)
    removed["steps"] = removed["steps"][:1]
    with_it = world.flow.version
    save_and_publish(admin, world.flow, removed)
    publish = reverse("api_flow_publish", args=[world.flow.pk])
    # The editor's restore loads it into the draft with the problem; publishing it is refused.
    restored = world.client("editor").post(reverse("api_flow_version_restore", args=[world.flow.pk, with_it]))
    assert restored.status_code == 200
    assert "step_2" in [p["step"] for p in restored.json()["problems"]]
    private_refused(world.client("editor").post(publish), "step_2")
    assert world.client("admin").post(reverse("api_flow_version_restore", args=[world.flow.pk, with_it])).status_code == 200
    assert world.client("admin").post(publish).status_code == 200


def test_a_duplicate_by_a_teammate_cannot_copy_a_private_connection(world, private):
    private_refused(world.client("editor").post(reverse("api_flow_duplicate", args=[world.flow.pk])), "step_2")
    assert world.client("admin").post(reverse("api_flow_duplicate", args=[world.flow.pk])).status_code == 201


def test_a_run_fails_the_card_that_uses_a_private_connection_its_owner_did_not_add(world, private, qualtrics_sandbox):
    """A version stored without validation (as saves once allowed): the engine refuses the card."""
    _, account = private
    changed = copy.deepcopy(world.flow.definition)
    changed["steps"].append(custom_api(account.pk, "step_3", "surveys"))
    version = services._version_add(flow=world.flow, definition=changed, user=world.users["editor"])
    run = run_version(world.flow, version, qualtrics_sandbox)
    assert run.status == RunStatus.FAILED
    step = run.steps.get(step_id="step_2")  # the first card that uses it fails
    assert step.status == RunStatus.FAILED
    assert f"The configuration “{PRIVATE}” is private to its owner" in step.error
    assert [r for r in qualtrics_sandbox.requests() if r["api_path"] in ("whoami", "surveys")] == []


def test_a_run_fails_once_the_owner_of_a_private_connection_is_no_longer_an_editor(world, private, qualtrics_sandbox):
    admin, _ = private
    Membership.objects.filter(pk=admin.pk).update(role="viewer")
    run = run_version(world.flow, world.flow.versions.first(), qualtrics_sandbox)
    assert run.status == RunStatus.FAILED
    assert "is private to its owner" in run.steps.get(step_id="step_2").error


def test_the_pages_refuse_an_invalid_duplicate_or_import_with_the_problems(world, oversized):
    from django.contrib.messages import get_messages
    from django.core.files.uploadedfile import SimpleUploadedFile

    built, problems = oversized
    services._version_add(flow=world.flow, definition=built, user=world.users["owner"])
    count = Flow.objects.count()
    response = world.client("owner").post(reverse("flow_action", args=[world.flow.pk, "duplicate"]))
    assert [str(m) for m in get_messages(response.wsgi_request)] == [f"Not duplicated: {problems[0]['message']}"]
    document = {"format": "qflows.flow/1", "name": "Huge", "definition": built, "configurations": {}}
    upload = SimpleUploadedFile("flow.json", json.dumps(document).encode())
    response = world.client("owner").post(reverse("flow_import"), {"file": upload})
    assert [str(m) for m in get_messages(response.wsgi_request)] == [f"Not imported: {problems[0]['message']}"]
    assert Flow.objects.count() == count
