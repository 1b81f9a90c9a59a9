"""Every client method against the sandbox over real HTTP."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from connectors.qualtrics.client import QualtricsClient
from connectors.qualtrics.errors import InvalidDatacenterError, NotFoundError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_it_builds_the_base_url_from_settings_and_the_datacenter(client, qualtrics_sandbox):
    assert client.base_url == qualtrics_sandbox.api_base


def test_the_connector_builds_a_client_from_stored_credentials_and_authorizes_it(qualtrics_sandbox):
    from connectors.qualtrics.connector import connector

    client = connector.client({"datacenter": qualtrics_sandbox.datacenter, "api_token": qualtrics_sandbox.token})
    account = connector.authorize(client)

    assert account.details["brand_id"] == qualtrics_sandbox.info.brand_id
    assert account.id and account.name


def test_it_sends_the_token_in_the_x_api_token_header(client, qualtrics_sandbox):
    client.whoami()

    [entry] = qualtrics_sandbox.requests("whoami")
    assert entry["has_token"] is True
    assert "X-API-TOKEN" not in entry["headers"]


@pytest.mark.parametrize("datacenter", ["", "iad1.evil.example", "iad1/..", "iad1:80", "iad 1", "iad1@x", "ïad1"])
def test_it_refuses_an_invalid_datacenter_before_any_request(datacenter, qualtrics_sandbox):
    with pytest.raises(InvalidDatacenterError):
        QualtricsClient(datacenter=datacenter, token=qualtrics_sandbox.token)

    assert qualtrics_sandbox.requests() == []


def test_whoami_returns_the_user_behind_the_token(client, qualtrics_sandbox):
    me = client.whoami()

    assert me["userId"] == qualtrics_sandbox.info.user_id
    assert me["datacenter"] == qualtrics_sandbox.datacenter
    assert set(me) >= {"brandId", "userName", "accountType", "firstName", "lastName", "email"}


def test_it_creates_reads_updates_lists_and_deletes_a_user(client, qualtrics_sandbox):
    user_type = next(iter(qualtrics_sandbox.brand.user_types))
    user_id = client.create_user(
        username="ada@example.com",
        firstName="Ada",
        lastName="Lovelace",
        email="ada@example.com",
        userType=user_type,
        password="S3cret-pass",
        language="en",
    )
    assert user_id.startswith("UR_")

    client.update_user(user_id, lastName="King")
    user = client.get_user(user_id)
    assert (user["username"], user["lastName"]) == ("ada@example.com", "King")
    assert "password" not in user
    assert user_id in [u["id"] for u in client.list_users()]

    client.delete_user(user_id)
    with pytest.raises(NotFoundError):
        client.get_user(user_id)


def test_it_manages_groups_and_their_members(client, qualtrics_sandbox):
    group_type = next(iter(qualtrics_sandbox.brand.group_types))
    group_id = client.create_group(type=group_type, name="Analysts")
    assert group_id.startswith("GR_")

    client.update_group(group_id, name="Senior analysts")
    assert client.get_group(group_id)["name"] == "Senior analysts"
    assert group_id in [g["id"] for g in client.list_groups()]

    user_id = qualtrics_sandbox.info.user_id
    client.add_group_member(group_id, user_id)
    assert qualtrics_sandbox.brand.groups[group_id]["members"] == [user_id]
    client.remove_group_member(group_id, user_id)
    assert qualtrics_sandbox.brand.groups[group_id]["members"] == []

    client.delete_group(group_id)
    assert group_id not in [g["id"] for g in client.list_groups()]


def test_it_lists_reads_updates_and_deletes_surveys(client, qualtrics_sandbox):
    survey_id = qualtrics_sandbox.survey_id
    [listed] = client.list_surveys()
    assert listed["id"] == survey_id
    assert set(listed) >= {"name", "ownerId", "lastModified", "creationDate", "isActive"}

    survey = client.get_survey(survey_id)
    assert survey["questions"]["QID1"]["questionType"] == {"type": "MC", "selector": "SAVR", "subSelector": "TX"}
    assert survey["questions"]["QID1"]["choices"]["1"] == {
        "recode": "1",
        "description": "Very satisfied",
        "choiceText": "Very satisfied",
        "imageDescription": None,
        "variableName": None,
        "analyze": True,
    }
    assert survey["questions"]["QID3"]["questionType"]["selector"] == "NPS"
    assert survey["embeddedData"] == [{"name": "customer_id"}]
    assert survey["responseCounts"] == {"auditable": 0, "generated": 0, "deleted": 0}

    client.update_survey(survey_id, name="CSAT", isActive=False)
    assert (client.get_survey(survey_id)["name"], client.get_survey(survey_id)["isActive"]) == ("CSAT", False)

    client.delete_survey(survey_id)
    assert client.list_surveys() == []


def test_it_imports_a_qsf_survey_with_its_questions(client, qualtrics_sandbox):
    qsf = (FIXTURES / "survey.qsf").read_bytes()

    survey_id = client.import_survey(name="Imported pulse", fileobj=io.BytesIO(qsf), filename="pulse.qsf")

    survey = client.get_survey(survey_id)
    assert survey_id.startswith("SV_")
    assert survey["name"] == "Imported pulse"
    assert list(survey["questions"]) == ["QID1", "QID2", "QID3"]
    assert survey["questions"]["QID1"]["questionText"] == "How was your week?"
    assert survey["questions"]["QID1"]["choices"]["2"]["description"] == "Good"
    assert survey["questions"]["QID2"]["questionType"]["type"] == "TE"
    assert survey["questions"]["QID3"]["questionType"]["selector"] == "NPS"
    assert survey["embeddedData"] == [{"name": "team"}]
    [upload] = qualtrics_sandbox.requests("surveys", method="POST")
    assert upload["headers"]["Content-Type"].startswith("multipart/form-data")
    assert "application/vnd.qualtrics.survey.qsf" in upload["body"]


def test_it_imports_an_advanced_txt_survey(client):
    text = b"[[AdvancedFormat]]\n[[Question:MC]]\nDo you like tea?\nYes\nNo\n[[Question:TE]]\nWhy?\n"

    survey_id = client.import_survey(name="Tea", fileobj=io.BytesIO(text), filename="tea.txt")

    questions = client.get_survey(survey_id)["questions"]
    assert [q["questionText"] for q in questions.values()] == ["Do you like tea?", "Why?"]


def test_it_records_and_reads_a_response_in_the_documented_shape(client, qualtrics_sandbox):
    survey_id = qualtrics_sandbox.survey_id

    response_id = client.create_response(
        survey_id,
        {"QID1": 2, "QID2_TEXT": "More cake", "QID3": 9, "customer_id": "C-42", "recipientEmail": "ada@example.com"},
    )
    response = client.get_response(survey_id, response_id)

    assert response_id.startswith("R_")
    assert set(response) == {"responseId", "values", "labels", "displayedFields", "displayedValues"}
    values = response["values"]
    for key in (
        "startDate",
        "endDate",
        "status",
        "ipAddress",
        "progress",
        "duration",
        "finished",
        "recordedDate",
        "_recordId",
        "distributionChannel",
        "userLanguage",
        "recipientEmail",
        "recipientFirstName",
        "recipientLastName",
        "externalDataReference",
    ):
        assert key in values
    assert values["_recordId"] == response_id
    assert (values["QID1"], values["QID2_TEXT"], values["QID3"], values["QID3_NPS_GROUP"]) == (2, "More cake", 9, 3)
    assert values["customer_id"] == "C-42"
    assert values["finished"] == 1
    assert response["labels"]["QID1"] == "Satisfied"
    assert response["labels"]["QID3_NPS_GROUP"] == "Promoter"
    assert response["labels"]["finished"] == "True"
    assert "QID2_TEXT" in response["displayedFields"]
    assert response["displayedValues"]["QID1"] == [1, 2, 3, 4, 5]


def test_it_lists_directories_and_manages_contacts(client, qualtrics_sandbox):
    [directory] = client.list_directories()
    directory_id = directory["directoryId"]
    assert directory_id == qualtrics_sandbox.directory_id

    contact_id = client.create_contact(
        directory_id, firstName="Ada", lastName="Lovelace", email="ada@example.com", embeddedData={"tier": "gold"}
    )
    assert contact_id.startswith("CID_") and len(contact_id) == 19

    client.update_contact(directory_id, contact_id, phone="+15550100")
    contact = client.get_contact(directory_id, contact_id)
    assert (contact["email"], contact["phone"]) == ("ada@example.com", "+15550100")
    assert contact["embeddedData"] == {"tier": "gold"}
    assert isinstance(contact["creationDate"], int)
    assert [c["contactId"] for c in client.list_contacts(directory_id)] == [contact_id]

    client.delete_contact(directory_id, contact_id)
    assert client.list_contacts(directory_id) == []


def test_it_manages_contacts_in_a_mailing_list(client, qualtrics_sandbox):
    directory_id, list_id = qualtrics_sandbox.directory_id, qualtrics_sandbox.mailing_list_id
    assert [m["mailingListId"] for m in client.list_mailing_lists(directory_id)] == [list_id]
    assert client.get_mailing_list(directory_id, list_id)["name"] == "Newsletter"

    created = client.create_mailing_list_contact(directory_id, list_id, firstName="Grace", email="grace@example.com")
    assert created["id"].startswith("CID_")
    assert created["contactLookupId"].startswith("CGC_")

    client.update_mailing_list_contact(directory_id, list_id, created["id"], lastName="Hopper")
    member = client.get_mailing_list_contact(directory_id, list_id, created["id"])
    assert (member["lastName"], member["contactLookupId"]) == ("Hopper", created["contactLookupId"])
    assert [m["contactId"] for m in client.list_mailing_list_contacts(directory_id, list_id)] == [created["id"]]
    assert client.get_mailing_list(directory_id, list_id)["contactCount"] == 1

    client.delete_mailing_list_contact(directory_id, list_id, created["id"])
    assert client.list_mailing_list_contacts(directory_id, list_id) == []
    # Leaving a list keeps the contact in the directory.
    assert client.get_contact(directory_id, created["id"])["email"] == "grace@example.com"


def test_it_manages_event_subscriptions(client):
    subscription_id = client.create_event_subscription(
        topics="surveyengine.completedResponse.*", publication_url="https://hooks.example/q", shared_key="k"
    )

    assert subscription_id.startswith("SUB_")
    subscription = client.get_event_subscription(subscription_id)
    assert subscription["topics"] == "surveyengine.completedResponse.*"
    assert subscription["publicationUrl"] == "https://hooks.example/q"
    assert [s["id"] for s in client.list_event_subscriptions()] == [subscription_id]
    client.delete_event_subscription(subscription_id)
    assert client.list_event_subscriptions() == []


def test_the_qsf_fixture_is_valid_json():
    assert json.loads((FIXTURES / "survey.qsf").read_text())["SurveyEntry"]["SurveyName"] == "Weekly pulse"
