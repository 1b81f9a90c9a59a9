"""The sandbox itself: envelopes, authentication, the control API, seeds and the command."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.core.management import CommandError, call_command

from connectors.qualtrics.client import QualtricsClient
from connectors.qualtrics.sandbox import DEMO_TOKEN, Sandbox


def api(sandbox, method, path, *, token=None, datacenter=None, **kwargs):
    headers = {"X-API-TOKEN": token or sandbox.token, **kwargs.pop("headers", {})}
    url = f"{sandbox.url}/{datacenter or sandbox.datacenter}/API/v3/{path}"
    return requests.request(method, url, headers=headers, timeout=5, **kwargs)


def control(sandbox, method, path, payload=None):
    response = requests.request(method, f"{sandbox.url}/_sandbox/{path}", json=payload, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def test_success_answers_carry_result_and_meta(qualtrics_sandbox):
    body = api(qualtrics_sandbox, "GET", "whoami").json()

    assert body["meta"]["httpStatus"] == "200 - OK"
    uuid.UUID(body["meta"]["requestId"])
    assert body["result"]["userId"] == qualtrics_sandbox.info.user_id


def test_an_unknown_token_gets_the_401_error_envelope(qualtrics_sandbox):
    response = api(qualtrics_sandbox, "GET", "whoami", token="nope")

    assert response.status_code == 401
    meta = response.json()["meta"]
    assert meta["httpStatus"] == "401 - Unauthorized"
    assert set(meta["error"]) == {"errorMessage", "errorCode"}
    uuid.UUID(meta["requestId"])


def test_a_token_is_refused_on_another_datacenter(qualtrics_sandbox):
    assert api(qualtrics_sandbox, "GET", "whoami", datacenter="iad1").status_code == 401


def test_a_token_without_api_access_gets_403(qualtrics_sandbox):
    qualtrics_sandbox.add_token("blocked", api_access=False)

    response = api(qualtrics_sandbox, "GET", "surveys", token="blocked")

    assert response.status_code == 403
    assert response.json()["meta"]["httpStatus"] == "403 - Forbidden"


def test_unknown_paths_and_methods_get_404_and_405(qualtrics_sandbox):
    assert api(qualtrics_sandbox, "GET", "nothing-here").status_code == 404
    assert api(qualtrics_sandbox, "PATCH", "whoami").status_code == 405
    assert requests.get(f"{qualtrics_sandbox.url}/elsewhere", timeout=5).status_code == 404


def test_write_operations_answer_meta_only(qualtrics_sandbox):
    response = api(qualtrics_sandbox, "PUT", f"surveys/{qualtrics_sandbox.survey_id}", json={"name": "Renamed"})

    assert response.json().keys() == {"meta"}
    assert qualtrics_sandbox.brand.surveys[qualtrics_sandbox.survey_id].name == "Renamed"


def test_next_page_is_an_absolute_url_on_the_sandbox(qualtrics_sandbox):
    qualtrics_sandbox.set_page_size(1)
    qualtrics_sandbox.record_response(values={"QID1": 1}, notify=False)
    api(
        qualtrics_sandbox,
        "POST",
        "surveys",
        files={"file": ("a.txt", b"", "application/vnd.qualtrics.survey.txt")},
        data={"name": "Second"},
    )

    page = api(qualtrics_sandbox, "GET", "surveys").json()["result"]

    assert len(page["elements"]) == 1
    assert page["nextPage"].startswith(f"{qualtrics_sandbox.api_base}surveys?")
    assert "offset=1" in page["nextPage"]


def test_an_import_with_the_wrong_file_type_is_refused(qualtrics_sandbox):
    response = api(
        qualtrics_sandbox, "POST", "surveys", files={"file": ("a.json", b"{}", "application/json")}, data={"name": "X"}
    )

    assert response.status_code == 400
    assert "Unsupported file type" in response.json()["meta"]["error"]["errorMessage"]


def test_an_import_without_a_name_is_refused(qualtrics_sandbox):
    files = {"file": ("a.qsf", b"{}", "application/vnd.qualtrics.survey.qsf")}

    assert api(qualtrics_sandbox, "POST", "surveys", files=files).status_code == 400


def test_the_request_log_never_holds_the_token(qualtrics_sandbox):
    api(qualtrics_sandbox, "GET", "whoami", headers={"x-api-token": qualtrics_sandbox.token})

    log = control(qualtrics_sandbox, "GET", "requests")["requests"]

    assert len(log) == 1
    assert qualtrics_sandbox.token not in json.dumps(log)
    assert log[0]["has_token"] is True


def test_the_control_api_queues_faults_and_clears_them(qualtrics_sandbox):
    control(qualtrics_sandbox, "POST", "faults", {"path_prefix": "whoami", "status": 429, "retry_after": 3, "count": 2})

    first = api(qualtrics_sandbox, "GET", "whoami")
    control(qualtrics_sandbox, "DELETE", "faults")
    second = api(qualtrics_sandbox, "GET", "whoami")

    assert (first.status_code, first.headers["Retry-After"]) == (429, "3")
    assert first.json()["meta"]["httpStatus"] == "429 - Too Many Requests"
    assert second.status_code == 200


def test_the_control_api_adds_tokens_records_responses_and_resets(qualtrics_sandbox):
    control(qualtrics_sandbox, "POST", "tokens", {"token": "other-brand", "brand_id": "otherbrand"})
    created = control(
        qualtrics_sandbox,
        "POST",
        "responses",
        {"survey_id": qualtrics_sandbox.survey_id, "values": {"QID1": 4}, "recorded_date": "2026-01-02T03:04:05Z"},
    )

    response = api(qualtrics_sandbox, "GET", f"surveys/{qualtrics_sandbox.survey_id}/responses/{created['responseId']}")
    assert response.json()["result"]["values"]["recordedDate"] == "2026-01-02T03:04:05.000Z"
    other = api(qualtrics_sandbox, "GET", "surveys", token="other-brand").json()
    assert other["result"]["elements"] == []

    control(qualtrics_sandbox, "POST", "reset", {"seed": "default"})
    assert qualtrics_sandbox.requests() == []
    assert api(qualtrics_sandbox, "GET", "whoami", token="other-brand").status_code == 401


def test_the_control_api_sets_latency_and_page_size(qualtrics_sandbox):
    control(qualtrics_sandbox, "POST", "latency", {"seconds": 0.2, "path_prefix": "whoami", "count": 1})
    control(qualtrics_sandbox, "POST", "settings", {"page_size": 7})

    slow = api(qualtrics_sandbox, "GET", "whoami")

    assert slow.elapsed.total_seconds() >= 0.2
    assert qualtrics_sandbox.state.page_size == 7
    assert "POST /_sandbox/faults" in control(qualtrics_sandbox, "GET", "")["control"]


def test_the_control_api_reports_deliveries_and_bad_requests(qualtrics_sandbox):
    assert control(qualtrics_sandbox, "GET", "deliveries") == {"deliveries": []}
    assert requests.post(f"{qualtrics_sandbox.url}/_sandbox/tokens", json={}, timeout=5).status_code == 400
    assert requests.get(f"{qualtrics_sandbox.url}/_sandbox/nope", timeout=5).status_code == 404


def test_it_answers_many_concurrent_clients_consistently(qualtrics_sandbox):
    def work(index: int) -> int:
        with QualtricsClient(datacenter=qualtrics_sandbox.datacenter, token=qualtrics_sandbox.token) as client:
            for _ in range(10):
                client.create_response(qualtrics_sandbox.survey_id, {"QID1": 1 + index % 5})
            return len(client.list_surveys())

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(work, range(8))) == [1] * 8

    assert len(qualtrics_sandbox.brand.surveys[qualtrics_sandbox.survey_id].responses) == 80


def test_a_standalone_demo_sandbox_starts_and_stops():
    with Sandbox(seed="demo") as sandbox:
        client = QualtricsClient(
            datacenter="sandbox1", token=DEMO_TOKEN, base_url=sandbox.api_base_template, rate_limiter=None
        )
        surveys = client.list_surveys()
        [directory] = client.list_directories()
        groups = client.list_groups()
        first = client.get_survey(surveys[0]["id"])
        with client:
            mailing_lists = client.list_mailing_lists(directory["directoryId"])

    assert len(surveys) == 3
    assert first["responseCounts"]["auditable"] > 0
    kinds = {(q["questionType"]["type"], q["questionType"]["selector"]) for q in first["questions"].values()}
    assert {("MC", "SAVR"), ("TE", "SL"), ("MC", "NPS")} <= kinds
    assert directory["contactCount"] >= 10
    assert len(mailing_lists) == 2
    assert all(g["type"].startswith("GT_") for g in groups)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sandbox.url}/_sandbox/", timeout=1)


def test_the_demo_seed_keeps_its_ids_across_restarts():
    first, second = Sandbox(seed="demo"), Sandbox(seed="demo")

    assert first.info == second.info
    assert first.brand.surveys.keys() == second.brand.surveys.keys()


def test_the_command_refuses_to_run_when_the_sandbox_is_disabled(settings):
    settings.QUALTRICS_SANDBOX_ENABLED = False

    with pytest.raises(CommandError, match="disabled"):
        call_command("qualtrics_sandbox", "--port", "0")


def test_the_command_help_names_the_demo_token(capsys):
    with pytest.raises(SystemExit):
        call_command("qualtrics_sandbox", "--help")

    assert DEMO_TOKEN in capsys.readouterr().out


def test_contacts_dedupe_on_their_current_email_through_changes_and_deletions(qualtrics_sandbox):
    directory = qualtrics_sandbox.info.directory_id
    listed = f"directories/{directory}/mailinglists/{qualtrics_sandbox.info.mailing_list_id}/contacts"

    def create(email, path=f"directories/{directory}/contacts"):
        response = api(qualtrics_sandbox, "POST", path, json={"email": email, "firstName": "Ada"})
        assert response.status_code == 200, response.text
        return response.json()["result"]["id"]

    first = create("ada@example.com")
    assert create("ADA@example.com", listed) == first  # the same email, another case
    response = api(qualtrics_sandbox, "PUT", f"directories/{directory}/contacts/{first}",
                   json={"email": "lovelace@example.com"})
    assert response.status_code == 200, response.text
    assert create("lovelace@example.com", listed) == first  # found by the email it has now
    second = create("ada@example.com")
    assert second != first  # its old email is free
    assert api(qualtrics_sandbox, "DELETE", f"directories/{directory}/contacts/{first}").status_code == 200
    third = create("lovelace@example.com")
    assert third not in (first, second)  # a deleted contact is not found
    assert [create(f"c{n}@example.com") for n in range(3)] == [create(f"C{n}@example.com") for n in range(3)]
