"""Import Survey's file: size and type are checked with a message that says what is wrong.

Files go in through the upload endpoint the editor uses, and the flow runs on the engine against
the sandbox, as it would for a real response.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from designer import services
from designer.engine import run_execute
from designer.files import file_register, upload_prefix
from designer.models import RunStatus
from designer.runs import delivery_accept
from tests.security.conftest import definition

pytestmark = pytest.mark.scaleout

QSF = json.dumps({"SurveyEntry": {"SurveyName": "Pulse"}, "SurveyElements": []}).encode()


def upload(world, name: str, content: bytes):
    return world.client("editor").post(reverse("api_files"), {"file": SimpleUploadedFile(name, content)})


def run_import(world, qualtrics_sandbox, file_value: dict):
    """Saves New Response → Import Survey with this file, and runs it on a new response."""
    steps = [
        {
            "id": "step_1",
            "card": "qualtrics.import_survey",
            "configuration": world.configuration.pk,
            "inputs": {"survey_name": "Imported pulse", "file": file_value},
        }
    ]
    owner = world.team.memberships.get(user=world.users["owner"])
    saved = {**definition(world.configuration.pk, qualtrics_sandbox.survey_id), "steps": steps}
    services.flow_save(membership=owner, flow=world.flow, definition=saved, base_version=world.flow.revision)
    services.flow_publish(membership=owner, flow=world.flow)
    world.flow.refresh_from_db()
    response_id = qualtrics_sandbox.record_response(values={"recipientEmail": "ada@example.com"}, notify=False)
    run = delivery_accept(
        flow=world.flow,
        version=world.flow.versions.first(),
        event_id=response_id,
        payload={"response_id": response_id},
        source="webhook",
    )
    run_execute(run.pk)
    run.refresh_from_db()
    return run, run.steps.get(step_id="step_1")


@pytest.fixture(autouse=True)
def no_task_worker(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}


def test_an_upload_over_the_size_limit_is_refused_with_the_limit(world):
    too_big = b"{" + b" " * settings.MAX_IMPORT_FILE_SIZE + b"}"
    response = upload(world, "huge.qsf", too_big)
    assert response.status_code == 400
    assert response.json() == {"detail": "“huge.qsf” is larger than 5 MB, the most this server accepts."}


def test_a_survey_file_of_the_right_type_is_imported(world, qualtrics_sandbox):
    value = upload(world, "pulse.qsf", QSF).json()
    run, step = run_import(world, qualtrics_sandbox, value)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert step.outputs["survey_id"].startswith("SV_")
    assert len(qualtrics_sandbox.requests("surveys", method="POST")) == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("survey.pdf", b"%PDF-1.7 not a survey", "Import Survey takes a .qsf, .txt or .docx file, not 'survey.pdf'."),
        ("survey.qsf", b"%PDF-1.7 not a survey", "'survey.qsf' is not a Qualtrics survey file (.qsf is JSON)."),
        ("survey.docx", b"{}", "'survey.docx' is not a Word (.docx) document."),
        ("survey.txt", b"[[Question:MC]]\x00\x00", "'survey.txt' is not a text file."),
        ("empty.qsf", b"", "'empty.qsf' is empty."),
    ],
)
def test_a_file_of_the_wrong_type_fails_the_step_with_a_clear_message(world, qualtrics_sandbox, name, content, message):
    value = upload(world, name, content).json()
    run, step = run_import(world, qualtrics_sandbox, value)
    assert run.status == RunStatus.FAILED
    assert step.status == RunStatus.FAILED
    assert message in step.error
    assert qualtrics_sandbox.requests("surveys", method="POST") == []


def test_a_file_over_the_limit_from_an_earlier_step_fails_the_step_with_the_sizes(world, qualtrics_sandbox):
    # Larger files can come from an earlier card (an export), not only from the upload endpoint.
    folder = Path(settings.MEDIA_ROOT) / upload_prefix(world.team.pk) / "from-an-export"
    folder.mkdir(parents=True)
    big = folder / "big.docx"
    with zipfile.ZipFile(big, "w", compression=zipfile.ZIP_STORED) as document:
        document.writestr("word/document.xml", b"x" * settings.MAX_IMPORT_FILE_SIZE)
    value = {"type": "file", "path": big.relative_to(settings.MEDIA_ROOT).as_posix(), "name": "big.docx"}
    run, step = run_import(world, qualtrics_sandbox, file_register(team_id=world.team.pk, value=value))
    assert run.status == RunStatus.FAILED
    assert "'big.docx' is 5.0 MB; Qualtrics imports survey files of at most 5.0 MB." in step.error


def test_a_flow_cannot_point_at_another_teams_upload(world, qualtrics_sandbox):
    theirs = world.client("stranger").post(reverse("api_files"), {"file": SimpleUploadedFile("t.qsf", QSF)}).json()
    assert theirs["path"].startswith(upload_prefix(world.other_team.pk))
    response = world.client("owner").put(
        reverse("api_flow", args=[world.flow.pk]),
        json.dumps(
            {
                "definition": {
                    **definition(world.configuration.pk, qualtrics_sandbox.survey_id),
                    "steps": [
                        {
                            "id": "step_1",
                            "card": "qualtrics.import_survey",
                            "configuration": world.configuration.pk,
                            "inputs": {"survey_name": "Theirs", "file": theirs},
                        }
                    ],
                },
                "base_version": world.flow.revision,
            }
        ),
        content_type="application/json",
    )
    # Stored as the draft with the problem on the card; it can never be published.
    assert response.status_code == 200
    assert [(p["step"], p["field"]) for p in response.json()["problems"]] == [("step_1", "file")]
    published = world.client("owner").post(reverse("api_flow_publish", args=[world.flow.pk]))
    assert published.status_code == 409
    assert published.json()["problems"][0]["field"] == "file"
