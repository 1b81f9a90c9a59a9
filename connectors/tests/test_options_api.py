"""The pickers' choices and the outputs for chosen options, loaded from the sandbox over HTTP."""

from __future__ import annotations

import json

import pytest

# django-cryptography adds its settings when first imported; importing it here, before any test
# overrides settings, keeps those settings for the whole session.
import accounts.crypto  # noqa: F401
from accounts.models import Configuration, Role
from connectors.qualtrics.client import QualtricsClient

pytestmark = pytest.mark.django_db

SECOND_SURVEY_QSF = json.dumps(
    {
        "SurveyEntry": {"SurveyName": "Event feedback"},
        "SurveyElements": [
            {
                "Element": "SQ",
                "PrimaryAttribute": "QID1",
                "Payload": {
                    "QuestionID": "QID1",
                    "DataExportTag": "Q1",
                    "QuestionText": "Which day did you attend?",
                    "QuestionType": "MC",
                    "Selector": "SAVR",
                    "Choices": {"1": {"Display": "Day 1"}, "2": {"Display": "Day 2"}},
                },
            },
            {
                "Element": "SQ",
                "PrimaryAttribute": "QID2",
                "Payload": {
                    "QuestionID": "QID2",
                    "DataExportTag": "Q2",
                    "QuestionText": "Best session?",
                    "QuestionType": "TE",
                    "Selector": "SL",
                },
            },
        ],
    }
).encode()


def make_configuration(team, owner, sandbox, *, name="Sandbox", shared=True, token=None) -> Configuration:
    configuration = Configuration(team=team, owner=owner, connector="qualtrics", name=name, shared=shared)
    configuration.credentials = {"datacenter": sandbox.datacenter, "api_token": token or sandbox.token, "username": ""}
    configuration.save()
    return configuration


@pytest.fixture
def editor(member):
    return member(Role.EDITOR)


@pytest.fixture
def configuration(team, qualtrics_sandbox):
    return make_configuration(team, team.memberships.get(role=Role.OWNER).user, qualtrics_sandbox)


@pytest.fixture
def api(client, editor):
    client.force_login(editor)
    return client


def options_url(configuration, source, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/configurations/{configuration.pk}/options/{source}/" + (f"?{query}" if query else "")


# Choices -------------------------------------------------------------------------------------------


def test_it_lists_the_surveys_of_the_account(api, configuration, qualtrics_sandbox):
    response = api.get(options_url(configuration, "surveys"))
    assert response.status_code == 200
    assert response.json() == {"choices": [{"value": qualtrics_sandbox.survey_id, "label": "Customer Satisfaction"}]}


def test_it_lists_directories_groups_and_the_mailing_lists_of_a_directory(api, configuration, qualtrics_sandbox):
    group_type = next(iter(qualtrics_sandbox.brand.group_types))
    client = QualtricsClient(datacenter=qualtrics_sandbox.datacenter, token=qualtrics_sandbox.token)
    group_id = client.create_group(type=group_type, name="Analysts")

    assert api.get(options_url(configuration, "directories")).json() == {
        "choices": [{"value": qualtrics_sandbox.directory_id, "label": "Default Directory"}]
    }
    assert api.get(options_url(configuration, "groups")).json() == {
        "choices": [{"value": group_id, "label": "Analysts"}]
    }
    lists = api.get(options_url(configuration, "mailing_lists", directory_id=qualtrics_sandbox.directory_id))
    assert lists.json() == {"choices": [{"value": qualtrics_sandbox.mailing_list_id, "label": "Newsletter"}]}
    assert f"directories/{qualtrics_sandbox.directory_id}/mailinglists" in [
        r["api_path"] for r in qualtrics_sandbox.requests("directories", method="GET")
    ]


def test_mailing_lists_need_a_directory_first(api, configuration, qualtrics_sandbox):
    response = api.get(options_url(configuration, "mailing_lists"))
    assert response.status_code == 400
    assert response.json() == {"detail": "Choose a directory first to load its mailing lists."}
    assert qualtrics_sandbox.requests() == []


def test_an_unknown_source_is_not_found(api, configuration):
    response = api.get(options_url(configuration, "teams"))
    assert response.status_code == 404
    assert response.json()["detail"].startswith("There is no option source 'teams'.")


def test_choices_are_cached_for_the_same_configuration_and_token(api, configuration, qualtrics_sandbox):
    api.get(options_url(configuration, "surveys"))
    api.get(options_url(configuration, "surveys"))
    assert len(qualtrics_sandbox.requests("surveys")) == 1

    api.get(options_url(configuration, "surveys", refresh=1))
    assert len(qualtrics_sandbox.requests("surveys")) == 2


def test_a_new_token_does_not_reuse_choices_loaded_with_the_old_one(api, configuration, qualtrics_sandbox):
    api.get(options_url(configuration, "surveys"))
    qualtrics_sandbox.add_token("sandbox-second-token-000000000000000")
    configuration.credentials = {**configuration.credentials, "api_token": "sandbox-second-token-000000000000000"}
    configuration.save()

    api.get(options_url(configuration, "surveys"))

    assert len(qualtrics_sandbox.requests("surveys")) == 2


def test_a_refused_token_is_a_400_with_a_clear_message(api, team, editor, qualtrics_sandbox):
    bad = make_configuration(team, editor, qualtrics_sandbox, name="Old token", token="revoked-token-0000000000000000")
    response = api.get(options_url(bad, "surveys"))
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Qualtrics refused the API token of “Old token”. Check the token, and that the data center ID "
        "matches your Qualtrics address (us1 in us1.qualtrics.com), then authorize it again."
    }


def test_an_account_without_the_right_is_a_400_naming_the_configuration(api, team, editor, qualtrics_sandbox):
    qualtrics_sandbox.add_token("sandbox-member-token-00000000000000000", brand_admin=False)
    member_token = make_configuration(
        team, editor, qualtrics_sandbox, name="Member", token="sandbox-member-token-00000000000000000"
    )
    response = api.get(options_url(member_token, "groups"))
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "refused GET groups (403)" in detail and detail.endswith("(configuration “Member”)")


def test_qualtrics_failing_is_a_502(api, configuration, qualtrics_sandbox):
    qualtrics_sandbox.inject_fault("surveys", 503, count=5)
    response = api.get(options_url(configuration, "surveys"))
    assert response.status_code == 502
    assert response.json()["detail"].startswith(
        "Qualtrics did not answer for “Sandbox”: Qualtrics had a temporary problem"
    )


def test_rate_limiting_is_a_502_asking_to_wait(api, configuration, qualtrics_sandbox):
    qualtrics_sandbox.inject_fault("directories", 429, count=5, retry_after=120)
    response = api.get(options_url(configuration, "directories"))
    assert response.status_code == 502
    assert response.json() == {"detail": "Qualtrics is rate limiting “Sandbox”. Try again in a minute."}


def test_an_unknown_directory_is_a_400(api, configuration):
    response = api.get(options_url(configuration, "mailing_lists", directory_id="POOL_missing00001"))
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "Qualtrics found nothing at GET directories/POOL_missing00001/mailinglists (404). Check the id."
    )


# Who may load choices ----------------------------------------------------------------------------


def test_another_teams_configuration_is_not_found(api, other_team, qualtrics_sandbox):
    theirs = make_configuration(other_team, other_team.memberships.get().user, qualtrics_sandbox)
    response = api.get(options_url(theirs, "surveys"))
    assert response.status_code == 404
    assert response.json() == {"detail": "That configuration does not exist in your team or is not shared with you."}
    assert qualtrics_sandbox.requests() == []


def test_a_teammates_private_configuration_is_not_found(api, team, member, qualtrics_sandbox):
    private = make_configuration(team, member(Role.ADMIN), qualtrics_sandbox, name="Private", shared=False)
    assert api.get(options_url(private, "surveys")).status_code == 404


def test_a_viewer_cannot_load_choices(client, member, configuration):
    client.force_login(member(Role.VIEWER))
    assert client.get(options_url(configuration, "surveys")).status_code == 404


def test_choices_need_sign_in(client, configuration):
    assert client.get(options_url(configuration, "surveys")).status_code == 403


# Outputs for chosen options ----------------------------------------------------------------------


def outputs_url(key, **params):
    return f"/api/catalog/{key}/outputs/?" + "&".join(f"{k}={v}" for k, v in params.items())


def test_choosing_a_survey_adds_its_questions_to_the_outputs(api, configuration, qualtrics_sandbox):
    response = api.get(
        outputs_url("qualtrics.new_response", configuration=configuration.pk, survey_id=qualtrics_sandbox.survey_id)
    )
    assert response.status_code == 200
    data = response.json()
    assert data["card"] == "qualtrics.new_response"
    outputs = {o["key"]: o for o in data["outputs"]}
    assert list(outputs)[:12] == [
        "response_id",
        "recipient_id",
        "response_event_context",
        "response_set",
        "status",
        "start_date",
        "end_date",
        "finished",
        "recipient_name",
        "recipient_external_reference",
        "recipient_email",
        "recipient_ip_address",
    ]
    assert list(outputs)[12:] == ["q.QID1", "q.QID1_label", "q.QID2", "q.QID3", "ed.customer_id"]
    satisfied = outputs["q.QID1"]
    assert satisfied["label"] == "Overall, how satisfied are you with our service?"
    assert satisfied["type"] == "number" and satisfied["group"] == "Questions"
    assert satisfied["choices"][0] == {"value": "1", "label": "Very satisfied"}
    assert satisfied["help"].startswith("Answer codes: 1 = Very satisfied, 2 = Satisfied")
    assert outputs["q.QID2"]["type"] == "text" and outputs["q.QID3"]["type"] == "number"
    assert outputs["ed.customer_id"]["type"] == "text"


def test_changing_the_survey_changes_the_outputs(api, configuration, qualtrics_sandbox):
    client = QualtricsClient(datacenter=qualtrics_sandbox.datacenter, token=qualtrics_sandbox.token)
    import io

    other = client.import_survey(name="Event feedback", fileobj=io.BytesIO(SECOND_SURVEY_QSF), filename="event.qsf")

    first = api.get(
        outputs_url("qualtrics.read_response", configuration=configuration.pk, survey_id=qualtrics_sandbox.survey_id)
    )
    second = api.get(outputs_url("qualtrics.read_response", configuration=configuration.pk, survey_id=other))

    def dynamic(response):
        return [(o["key"], o["label"], o["type"]) for o in response.json()["outputs"] if o["key"].startswith("q.")]

    assert dynamic(first)[0] == ("q.QID1", "Overall, how satisfied are you with our service?", "number")
    assert dynamic(second) == [
        ("q.QID1", "Which day did you attend?", "number"),
        ("q.QID1_label", "Which day did you attend? (label)", "text"),
        ("q.QID2", "Best session?", "text"),
    ]
    assert second.json()["outputs"][0]["key"] == "response_set"


def test_outputs_without_options_are_the_declared_ones_and_need_no_configuration(api, qualtrics_sandbox):
    response = api.get("/api/catalog/qualtrics.new_response/outputs/")
    assert response.status_code == 200
    assert len(response.json()["outputs"]) == 12
    assert qualtrics_sandbox.requests() == []
    fixed = api.get("/api/catalog/qualtrics.create_contact/outputs/?directory_id=POOL_x")
    assert [o["key"] for o in fixed.json()["outputs"]] == ["contact_id"]


def test_a_survey_without_a_configuration_asks_for_one(api, qualtrics_sandbox):
    response = api.get(outputs_url("qualtrics.new_response", survey_id=qualtrics_sandbox.survey_id))
    assert response.status_code == 400
    assert response.json() == {"detail": "Choose a configuration to load the outputs for these options."}


def test_a_missing_survey_is_a_400_with_the_reason(api, configuration):
    response = api.get(
        outputs_url("qualtrics.new_response", configuration=configuration.pk, survey_id="SV_missing0000001")
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Qualtrics found nothing at GET surveys/SV_missing0000001 (404). Check the id."
    }


def test_outputs_of_an_unknown_card_are_not_found(api):
    response = api.get("/api/catalog/qualtrics.nope/outputs/")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "There is no card with the key 'qualtrics.nope'. It may have been renamed or removed."
    }


def test_outputs_with_another_teams_configuration_are_not_found(api, other_team, qualtrics_sandbox):
    theirs = make_configuration(other_team, other_team.memberships.get().user, qualtrics_sandbox)
    response = api.get(
        outputs_url("qualtrics.new_response", configuration=theirs.pk, survey_id=qualtrics_sandbox.survey_id)
    )
    assert response.status_code == 404
    assert qualtrics_sandbox.requests() == []
