"""The three-step response export, end to end against the sandbox."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta

import pytest

from connectors.qualtrics.errors import ExportFailedError, TransientError, ValidationError


@pytest.fixture
def three_responses(qualtrics_sandbox):
    base = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    return [
        qualtrics_sandbox.record_response(
            values={"QID1": i + 1, "QID2_TEXT": f"Comment {i}", "QID3": 5 + i, "customer_id": f"C-{i}"},
            recorded_at=base + timedelta(days=i),
            notify=False,
        )
        for i in range(3)
    ]


def export(client, survey_id, tmp_path, **kwargs):
    progress: list[int] = []
    result = client.export_responses(
        survey_id, dest_dir=tmp_path, poll_interval=0.01, on_progress=progress.append, **kwargs
    )
    return result, progress


def test_it_exports_csv_with_qualtrics_three_header_rows(client, qualtrics_sandbox, three_responses, tmp_path):
    result, _progress = export(client, qualtrics_sandbox.survey_id, tmp_path, format="csv")

    assert result.file_format == "csv"
    assert result.path.parent == tmp_path
    assert result.path.name == "Customer Satisfaction.csv"
    assert [p.name for p in tmp_path.iterdir()] == [result.path.name]
    rows = list(csv.reader(result.path.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0][:2] == ["StartDate", "EndDate"]
    assert "Q1" in rows[0] and "Q3_NPS_GROUP" in rows[0] and "customer_id" in rows[0]
    assert rows[1][rows[0].index("Q1")] == "Overall, how satisfied are you with our service?"
    assert json.loads(rows[2][rows[0].index("ResponseId")]) == {"ImportId": "_recordId"}
    assert [row[rows[0].index("ResponseId")] for row in rows[3:]] == three_responses


def test_it_reports_rising_progress_up_to_100(client, qualtrics_sandbox, three_responses, tmp_path):
    _result, progress = export(client, qualtrics_sandbox.survey_id, tmp_path, format="csv")

    assert progress[0] == 0
    assert progress[-1] == 100
    assert progress == sorted(set(progress))
    assert len(progress) >= 4
    calls = qualtrics_sandbox.requests("surveys", method="GET")
    polls = [c for c in calls if "/export-responses/ES_" in c["api_path"]]
    assert len(polls) == 3


def test_it_exports_json_as_a_responses_document(client, qualtrics_sandbox, three_responses, tmp_path):
    result, _ = export(client, qualtrics_sandbox.survey_id, tmp_path, format="json")

    document = json.loads(result.path.read_text())
    assert [r["responseId"] for r in document["responses"]] == three_responses
    first = document["responses"][0]
    assert set(first) == {"responseId", "values", "labels", "displayedFields", "displayedValues"}
    assert first["values"]["QID2_TEXT"] == "Comment 0"


def test_it_exports_ndjson_one_record_a_line(client, qualtrics_sandbox, three_responses, tmp_path):
    result, _ = export(client, qualtrics_sandbox.survey_id, tmp_path, format="ndjson")

    lines = result.path.read_text().splitlines()
    assert [json.loads(line)["responseId"] for line in lines] == three_responses


def test_it_filters_on_recorded_date_with_an_exclusive_end(client, qualtrics_sandbox, three_responses, tmp_path):
    result, _ = export(
        client,
        qualtrics_sandbox.survey_id,
        tmp_path,
        format="json",
        start_date=datetime(2026, 11, 3, 12, 0, tzinfo=UTC),
        end_date="2026-11-04T12:00:00Z",
    )

    assert [r["responseId"] for r in json.loads(result.path.read_text())["responses"]] == [three_responses[1]]
    [start] = qualtrics_sandbox.requests("surveys", method="POST")
    assert json.loads(start["body"]) == {
        "format": "json",
        "startDate": "2026-11-03T12:00:00Z",
        "endDate": "2026-11-04T12:00:00Z",
    }


def test_a_continuation_token_gives_only_responses_recorded_since(client, qualtrics_sandbox, three_responses, tmp_path):
    survey_id = qualtrics_sandbox.survey_id
    first, _ = export(client, survey_id, tmp_path / "1", format="ndjson", allow_continuation=True)
    assert len(first.path.read_text().splitlines()) == 3
    assert first.continuation_token

    newer = qualtrics_sandbox.record_response(values={"QID1": 1}, notify=False)
    second, _ = export(client, survey_id, tmp_path / "2", format="ndjson", continuation_token=first.continuation_token)
    assert [json.loads(line)["responseId"] for line in second.path.read_text().splitlines()] == [newer]
    assert second.continuation_token not in (None, first.continuation_token)

    third, _ = export(client, survey_id, tmp_path / "3", format="ndjson", continuation_token=second.continuation_token)
    assert third.path.read_text() == ""


def test_an_unknown_continuation_token_is_a_validation_error(client, qualtrics_sandbox, tmp_path):
    with pytest.raises(ValidationError, match="continuationToken"):
        export(client, qualtrics_sandbox.survey_id, tmp_path, format="csv", continuation_token="nope")


def test_a_failed_export_raises_export_failed(client, qualtrics_sandbox, tmp_path):
    qualtrics_sandbox.fail_exports(1)

    with pytest.raises(ExportFailedError):
        export(client, qualtrics_sandbox.survey_id, tmp_path, format="csv")


def test_an_export_that_does_not_finish_in_time_is_transient(client, qualtrics_sandbox, tmp_path):
    qualtrics_sandbox.set_export_polls(1000)

    with pytest.raises(TransientError, match="did not finish within"):
        client.export_responses(qualtrics_sandbox.survey_id, dest_dir=tmp_path, poll_interval=0.01, max_wait=0.1)


def test_the_three_steps_can_be_called_one_by_one(client, qualtrics_sandbox, three_responses, tmp_path):
    survey_id = qualtrics_sandbox.survey_id
    started = client.start_export(survey_id, format="json", compress=False)
    assert started["progressId"].startswith("ES_")
    assert started["status"] == "inProgress"

    status = started
    while status.get("status") != "complete":
        status = client.export_progress(survey_id, started["progressId"])

    path = client.download_export(survey_id, status["fileId"], tmp_path / "export.json")
    assert [r["responseId"] for r in json.loads(path.read_text())["responses"]] == three_responses
