"""Requests that once got a server error or an undocumented answer: each now gets a clear 4xx
(or succeeds), in the shape the OpenAPI schema documents."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from designer.models import Flow, Run

pytestmark = pytest.mark.scaleout


def test_a_flow_with_runs_can_be_deleted_and_its_runs_go_with_it(world):
    response = world.client("editor").delete(reverse("api_flow", args=[world.flow.pk]))
    assert response.status_code == 204
    assert not Flow.objects.filter(pk=world.flow.pk).exists()
    assert not Run.objects.filter(pk=world.run.pk).exists()


def test_the_flow_list_page_deletes_a_flow_with_runs(world):
    response = world.client("editor").post(reverse("flow_action", args=[world.flow.pk, "delete"]))
    assert response.status_code == 302
    assert not Flow.objects.filter(pk=world.flow.pk).exists()


def put_flow(world, **body):
    return world.client("owner").put(
        reverse("api_flow", args=[world.flow.pk]), json.dumps(body), content_type="application/json"
    )


@pytest.mark.parametrize("body", ["null", "[]", '"a flow"', "3"])
def test_an_api_body_that_is_not_a_json_object_is_refused_with_a_clear_message(world, body):
    owner = world.client("owner")
    for url in (reverse("api_flows"), reverse("api_flow_import"), reverse("api_runs_rerun")):
        response = owner.post(url, body, content_type="application/json")
        assert response.status_code == 400, url
        assert response.json() == {"detail": "The request body must be a JSON object."}


@pytest.mark.parametrize("ids", [5, "1,2", {"1": 2}, None])
def test_a_bulk_rerun_without_a_list_of_ids_is_refused(world, ids):
    response = world.client("owner").post(
        reverse("api_runs_rerun"), json.dumps({"ids": ids}), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "ids must be a list of run ids."}


def test_a_bulk_rerun_ignores_ids_beyond_the_database_range(world):
    response = world.client("owner").post(
        reverse("api_runs_rerun"), json.dumps({"ids": [2**80, -(2**80), world.run.pk]}), content_type="application/json"
    )
    assert response.status_code == 202
    assert len(response.json()["runs"]) == 1


@pytest.mark.parametrize("path", ["/api/flows/-3/", "/api/no-such-thing/", "/api/runs/abc/"])
def test_an_unknown_api_address_answers_json_not_found(world, path):
    response = world.client("owner").get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_an_unknown_page_address_still_answers_html(world):
    response = world.client("owner").get("/flows/not-a-flow/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("base_version", ["one", {"v": 1}, [1], 1.5])
def test_a_save_with_a_base_version_that_is_not_a_number_is_refused(world, base_version):
    response = put_flow(world, definition=world.flow.definition, base_version=base_version)
    assert response.status_code == 400
    assert "base_version" in response.json()["detail"]


@pytest.mark.parametrize("name", [5, ["Welcome"], {"name": "x"}])
def test_a_save_with_a_name_that_is_not_text_is_refused(world, name):
    response = put_flow(world, definition=world.flow.definition, base_version=1, name=name)
    assert response.status_code == 400
    assert "name" in response.json()["detail"]


@pytest.mark.parametrize("event", ["qualtrics.new_response", ["trigger"], 7])
def test_a_definition_whose_event_is_not_an_object_is_reported_as_a_problem(world, event):
    response = put_flow(world, definition={"event": event, "steps": []}, base_version=world.flow.revision)
    assert response.status_code == 200
    assert response.json()["problems"][0]["step"] == "trigger"


@pytest.mark.parametrize(
    "document",
    [
        {"configurations": ["Team A"]},
        {"configurations": {"1": "Team A"}},
        {"definition": {"event": "trigger", "steps": []}},
        {"definition": {"event": None, "steps": "step_1"}},
    ],
)
def test_an_import_with_misshapen_parts_is_refused_or_cleaned_not_a_server_error(world, document):
    base = {"format": "qflows.flow/1", "name": "Imported", "definition": world.flow.definition, "configurations": {}}
    response = world.client("owner").post(
        reverse("api_flow_import"), json.dumps({**base, **document}), content_type="application/json"
    )
    assert response.status_code in (201, 400), response.content
    if response.status_code == 400:
        assert response.json()["detail"]


def test_a_configuration_without_a_token_is_refused_with_a_message_on_the_token(world):
    body = {"connector": "qualtrics", "name": "No token", "credentials": {"datacenter": world.configuration.credentials["datacenter"]}}
    response = world.client("owner").post(
        reverse("api_configurations"), json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["api_token"]


def test_a_body_in_a_media_type_the_api_does_not_take_gets_the_documented_415(world):
    response = world.client("owner").post(reverse("api_flows"), "name=x", content_type="text/plain")
    assert response.status_code == 415
    assert "detail" in response.json()
    schema = world.client("owner").get(reverse("api_schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "415" in schema["paths"]["/api/flows/"]["post"]["responses"]


HUGE = str(2**80)


@pytest.mark.parametrize(
    ("method", "name", "args", "data"),
    [
        ("get", "api_runs", [], {"flow": HUGE}),
        ("get", "runs", [], {"flow": HUGE}),
        ("get", "api_card_outputs", ["qualtrics.new_response"], {"configuration": HUGE, "survey_id": "SV_1"}),
        ("get", "api_configuration_options", [HUGE, "surveys"], {}),
        ("get", "api_flow", [HUGE], {}),
        ("post", "team_switch", [], {"team": HUGE}),
        ("post", "run_rerun", [], {"run": [HUGE]}),
    ],
)
def test_ids_beyond_the_database_range_find_nothing_instead_of_failing(world, method, name, args, data):
    response = getattr(world.client("owner"), method)(reverse(name, args=args), data)
    assert response.status_code in (200, 302, 404)


@pytest.mark.parametrize("flow", ["²", "١٢", "-4", "0"])
def test_a_flow_filter_that_is_not_a_plain_number_is_ignored(world, flow):
    for name in ("api_runs", "runs"):
        assert world.client("owner").get(reverse(name), {"flow": flow}).status_code == 200


def test_a_base_version_in_other_scripts_digits_is_refused(world):
    response = put_flow(world, definition=world.flow.definition, base_version="²")
    assert response.status_code == 400


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, nested(100_000), nested(500)])
def test_a_json_body_nested_too_deeply_is_refused_with_a_clear_message(world, body):
    response = world.client("owner").post(reverse("api_flows"), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "The request body is nested more than 100 levels deep."}


@pytest.mark.parametrize("depth", [100_000, 500])
def test_an_uploaded_flow_export_nested_too_deeply_is_refused_with_a_message(world, depth):
    from django.contrib.messages import get_messages
    from django.core.files.uploadedfile import SimpleUploadedFile

    document = '{"format": "qflows.flow/1", "definition": {"event": null, "steps": []}, "x": ' + nested(depth) + "}"
    client = world.client("owner")
    response = client.post(reverse("flow_import"), {"file": SimpleUploadedFile("flow.json", document.encode())})
    assert response.status_code == 302 and response["Location"] == reverse("flows")
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("nested" in m and m.startswith("Not imported") for m in shown), shown


# PostgreSQL refuses NUL characters in text and jsonb; SQLite stores them. Both must answer 4xx.


@pytest.mark.parametrize(
    ("name", "args", "body"),
    [
        ("api_flows", [], {"name": "Pulse\x00"}),
        ("api_flow_test", ["flow"], {"response_id": "R_\x00"}),
        ("api_flow_import", [], {"format": "qflows.flow/1", "definition": {"event": None, "steps": ["\x00"]}}),
        ("api_flow", ["flow"], {"definition": {"event": None, "steps": []}, "base_version": 1, "name": "\x00"}),
        ("api_runs_rerun", [], {"ids": [], "version\x00": "current"}),
    ],
)
def test_a_nul_character_in_a_json_body_is_refused_with_a_clear_message(world, name, args, body):
    url = reverse(name, args=[world.flow.pk for _ in args])
    method = "put" if name == "api_flow" else "post"
    response = getattr(world.client("owner"), method)(url, json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "The request body contains a NUL (\\u0000) character, which cannot be stored."}


def test_flow_names_from_forms_lose_their_nul_characters(world):
    owner = world.client("owner")
    owner.post(reverse("flow_create"), {"name": "Fresh\x00 flow"})
    owner.post(reverse("flow_action", args=[world.flow.pk, "rename"]), {"name": "Re\x00named"})
    assert Flow.objects.filter(name="Fresh flow").exists()
    assert Flow.objects.get(pk=world.flow.pk).name == "Renamed"


def test_an_uploaded_flow_export_with_a_nul_character_is_refused_with_a_message(world):
    from django.contrib.messages import get_messages
    from django.core.files.uploadedfile import SimpleUploadedFile

    document = json.dumps({"format": "qflows.flow/1", "definition": {"event": None, "steps": []}, "x": "\x00"})
    response = world.client("owner").post(
        reverse("flow_import"), {"file": SimpleUploadedFile("flow.json", document.encode())}
    )
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(m.startswith("Not imported: The export contains a NUL") for m in shown), shown


@pytest.mark.parametrize("outcome", ["fail\x00ed", "no-such-status"])
def test_a_runs_filter_on_an_unknown_outcome_lists_nothing(world, outcome):
    assert world.client("owner").get(reverse("api_runs"), {"outcome": outcome}).json() == []
    assert world.client("owner").get(reverse("runs"), {"outcome": outcome}).status_code == 200


def signed_delivery(world, payload: dict, topic: str | None = None):
    import hashlib
    import hmac

    activation = world.activation
    activation.refresh_from_db()
    message = json.dumps(payload)
    signature = hmac.new(activation.shared_key.encode(), message.encode(), hashlib.sha512).hexdigest()
    return world.client("anonymous", csrf=False).post(
        reverse("qualtrics_webhook", args=[activation.pk, activation.secret]),
        {"Topic": topic or f"BR_1.surveyengine.completedResponse.{world.survey_id}", "MSG": message, "HMAC": signature},
    )


@pytest.mark.parametrize(
    ("payload", "topic", "detail"),
    [
        ({"ResponseID": "R_a\x00b"}, None, "MSG contains a NUL (\\u0000) character, which cannot be stored."),
        ({"ResponseID": "R_abc"}, "BR_1.surveyengine.completedResponse.SV\x00", "Topic contains a NUL"),
        ({"ResponseID": "R_" + "x" * 200}, None, "ResponseID is longer than any Qualtrics response id."),
    ],
)
def test_a_signed_delivery_that_could_never_be_stored_is_refused_for_good_not_retried(world, payload, topic, detail):
    response = signed_delivery(world, {"SurveyID": world.survey_id, **payload}, topic)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


def test_a_plain_signed_delivery_is_still_accepted(world):
    response = signed_delivery(world, {"SurveyID": world.survey_id, "ResponseID": "R_plainDelivery1"})
    assert response.status_code == 200 and response.json() == {"detail": "Accepted."}
