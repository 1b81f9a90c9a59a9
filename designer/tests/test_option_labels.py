"""Names stored with a flow's ids (option_labels, output_labels): saved with the version, returned
to every role (a viewer cannot load them from the account), exported and imported, and refused
when they are not short text for something the card has."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from designer.models import Flow
from designer.validation import MAX_LABEL_CHARS, MAX_OUTPUT_LABELS

pytestmark = pytest.mark.scaleout


@pytest.fixture
def api(client, team):
    client.force_login(team.memberships.get(role=Role.OWNER).user)
    return client


@pytest.fixture
def labelled(definition):
    """The test flow with the names the editor records: survey, directory, list, group, a question."""

    def build(cfg=None):
        defn = definition(cfg)
        defn["event"]["option_labels"] = {"survey_id": "Customer Satisfaction"}
        defn["event"]["output_labels"] = {"q.QID1": {"label": "How likely are you to recommend us?", "type": "number"}}
        defn["steps"][0]["option_labels"] = {"directory_id": "Default Directory", "mailing_list_id": "Newsletter"}
        defn["steps"][1]["then"][0]["option_labels"] = {"group_id": "Promoters"}
        return defn

    return build


def put(client, flow, definition):
    return client.put(
        reverse("api_flow", args=[flow.pk]), {"definition": definition, "base_version": flow.revision},
        content_type="application/json",
    )


def errors_of(response):
    """The problems a save stored with the draft (Publish refuses the draft until they are fixed)."""
    assert response.status_code == 200, response.content
    return [(e["step"], e["field"], e["message"]) for e in response.json()["problems"]]


def test_labels_are_saved_with_the_version_and_returned(api, flow, labelled):
    assert put(api, flow, labelled()).status_code == 200
    response = api.post(reverse("api_flow_publish", args=[flow.pk]))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["definition"]["event"]["option_labels"] == {"survey_id": "Customer Satisfaction"}
    assert body["definition"]["event"]["output_labels"]["q.QID1"]["label"] == "How likely are you to recommend us?"
    assert body["definition"]["steps"][0]["option_labels"]["mailing_list_id"] == "Newsletter"
    version = api.get(reverse("api_flow_version", args=[flow.pk, body["version"]])).json()
    assert version["definition"] == body["definition"] == labelled()


def test_a_viewer_reads_the_labels_from_the_flow_and_the_editor_page(flow, labelled, member, team):
    owner = Client()
    owner.force_login(team.memberships.get(role=Role.OWNER).user)
    assert put(owner, flow, labelled()).status_code == 200
    viewer = Client()
    viewer.force_login(member(Role.VIEWER))
    definition = viewer.get(reverse("api_flow", args=[flow.pk])).json()["definition"]
    assert definition["event"]["option_labels"] == {"survey_id": "Customer Satisfaction"}
    page = viewer.get(f"/flows/{flow.pk}/edit/").content.decode()
    assert "Customer Satisfaction" in page and "How likely are you to recommend us?" in page


def test_labels_are_text_escaped_in_the_editor_page(api, flow, labelled):
    defn = labelled()
    defn["event"]["option_labels"]["survey_id"] = "</script><script>alert(1)</script>"
    assert put(api, flow, defn).status_code == 200
    page = api.get(f"/flows/{flow.pk}/edit/").content.decode()
    assert "<script>alert(1)" not in page


def test_a_label_of_the_longest_length_is_kept_and_a_longer_one_refused(api, flow, labelled):
    defn = labelled()
    defn["event"]["option_labels"]["survey_id"] = "x" * MAX_LABEL_CHARS
    assert put(api, flow, defn).status_code == 200
    flow.refresh_from_db()
    defn["event"]["option_labels"]["survey_id"] = "x" * (MAX_LABEL_CHARS + 1)
    assert errors_of(put(api, flow, defn)) == [
        ("trigger", "survey_id", f"Survey: the stored label is longer than {MAX_LABEL_CHARS} characters.")
    ]


@pytest.mark.parametrize("bad", [7, None, True, ["Customer Satisfaction"], {"label": "Customer Satisfaction"}])
def test_an_option_label_that_is_not_text_is_refused_on_its_option(api, flow, labelled, bad):
    defn = labelled()
    defn["steps"][0]["option_labels"]["mailing_list_id"] = bad
    assert errors_of(put(api, flow, defn)) == [("step_1", "mailing_list_id", "Mailing List: the stored label must be text.")]
    flow.refresh_from_db()
    assert flow.version == 1


@pytest.mark.parametrize("bad", ["Customer Satisfaction", ["survey_id"], 3])
def test_option_labels_that_are_not_an_object_are_refused(api, flow, labelled, bad):
    defn = labelled()
    defn["event"]["option_labels"] = bad
    [(step, field, message)] = errors_of(put(api, flow, defn))
    assert (step, field) == ("trigger", "option_labels") and "must be an object" in message


def test_a_label_for_an_option_the_card_does_not_load_from_the_account_is_refused(api, flow, labelled, configuration):
    defn = labelled()
    defn["event"]["option_labels"]["colour"] = "Blue"
    defn["steps"].append({
        "id": "step_9", "card": "qualtrics.export_responses", "configuration": configuration.pk,
        "options": {"survey_id": "SV_1", "format": "csv"}, "option_labels": {"format": "CSV"},
    })
    found = errors_of(put(api, flow, defn))
    assert ("trigger", "option_labels", "“New Response” has no option 'colour' whose choices come from the account.") in found
    assert [(s, f) for s, f, _ in found if s == "step_9"] == [("step_9", "option_labels")]


def test_a_label_for_an_option_without_a_value_is_refused(api, flow, labelled):
    defn = labelled()
    defn["steps"][0]["options"].pop("mailing_list_id")
    found = errors_of(put(api, flow, defn))
    assert ("step_1", "mailing_list_id", "Mailing List has a stored label but no value.") in found


def test_many_unknown_option_labels_are_refused_in_one_error(api, flow, labelled):
    defn = labelled()
    defn["event"]["option_labels"].update({f"k{i}": "x" for i in range(1000)})
    assert errors_of(put(api, flow, defn)) == [
        ("trigger", "option_labels", "“New Response” has no option 'k0', 'k1', 'k2' … whose choices come from the account.")
    ]


@pytest.mark.parametrize(
    "record",
    [
        "How likely?",
        {"text": "How likely?"},
        {"label": 5},
        {"label": "How likely?", "type": "colour"},
        {"label": "How likely?", "type": "number", "help": "extra"},
        {"label": "x" * (MAX_LABEL_CHARS + 1)},
    ],
)
def test_a_bad_output_label_is_refused_on_the_card(api, flow, labelled, record):
    defn = labelled()
    defn["event"]["output_labels"]["q.QID1"] = record
    [(step, field, message)] = errors_of(put(api, flow, defn))
    assert (step, field) == ("trigger", "output_labels") and message.startswith("The label of output 'q.QID1' ")


def test_output_labels_only_for_outputs_that_depend_on_the_options(api, flow, labelled):
    defn = labelled()
    defn["event"]["output_labels"]["recipient_email"] = {"label": "Email"}  # declared: the catalog names it
    defn["event"]["output_labels"]["favourite"] = {"label": "Colour"}
    defn["steps"][0]["output_labels"] = {"q.QID1": {"label": "Nope"}}  # this card has no option-dependent outputs
    assert sorted(errors_of(put(api, flow, defn))) == [
        ("step_1", "output_labels", "“Create Contact in Mailing List” has no output 'q.QID1' that depends on its options."),
        ("trigger", "output_labels", "“New Response” has no output 'recipient_email', 'favourite' that depends on its options."),
    ]


def test_output_labels_are_capped_per_card(api, flow, labelled):
    defn = labelled()
    defn["event"]["output_labels"] = {f"q.QID{i}": {"label": f"Q{i}"} for i in range(MAX_OUTPUT_LABELS)}
    assert put(api, flow, defn).status_code == 200
    flow.refresh_from_db()
    defn["event"]["output_labels"]["ed.one_more"] = {"label": "One more"}
    assert errors_of(put(api, flow, defn)) == [
        ("trigger", "output_labels", f"At most {MAX_OUTPUT_LABELS} output labels can be stored per card.")
    ]


def test_labels_are_exported_and_imported_with_the_flow(api, flow, labelled):
    assert put(api, flow, labelled()).status_code == 200
    document = api.get(reverse("api_flow_export", args=[flow.pk])).json()
    assert document["definition"]["event"]["option_labels"] == {"survey_id": "Customer Satisfaction"}
    response = api.post(reverse("api_flow_import"), document, content_type="application/json")
    assert response.status_code == 201
    assert Flow.objects.get(pk=response.json()["id"]).definition == labelled()


def test_labels_stay_when_the_import_clears_the_configuration(api, flow, labelled):
    assert put(api, flow, labelled()).status_code == 200
    document = api.get(reverse("api_flow_export", args=[flow.pk])).json()
    document["configurations"] = {k: {"name": "Elsewhere", "datacenter": "eu1"} for k in document["configurations"]}
    event = api.post(reverse("api_flow_import"), document, content_type="application/json").json()["definition"]["event"]
    assert event["configuration"] is None
    assert event["option_labels"] == {"survey_id": "Customer Satisfaction"}
    assert event["output_labels"]["q.QID1"]["label"] == "How likely are you to recommend us?"


def test_an_import_drops_the_labels_a_save_would_refuse_and_the_flow_saves_again(api, flow, labelled):
    assert put(api, flow, labelled()).status_code == 200
    document = api.get(reverse("api_flow_export", args=[flow.pk])).json()
    event = document["definition"]["event"]
    event["option_labels"] = {"survey_id": "y" * 5000, "colour": "Blue"}
    event["output_labels"]["q.QID2"] = {"label": ["not", "text"]}
    event["output_labels"]["recipient_email"] = {"label": "Email"}
    document["definition"]["steps"][0]["option_labels"] = "Default Directory"
    document["definition"]["steps"][1]["then"][0]["option_labels"]["group_id"] = "Promoters"
    response = api.post(reverse("api_flow_import"), document, content_type="application/json")
    assert response.status_code == 201
    imported = Flow.objects.get(pk=response.json()["id"])
    event = imported.definition["event"]
    assert "option_labels" not in event
    assert event["output_labels"] == {"q.QID1": {"label": "How likely are you to recommend us?", "type": "number"}}
    assert "option_labels" not in imported.definition["steps"][0]
    assert imported.definition["steps"][1]["then"][0]["option_labels"] == {"group_id": "Promoters"}
    assert put(api, imported, imported.definition).status_code == 200


def test_a_viewer_still_cannot_list_the_accounts_choices_or_outputs(client, member, configuration):
    client.force_login(member(Role.VIEWER))
    assert client.get(f"/api/configurations/{configuration.pk}/options/surveys/").status_code in (403, 404)
    outputs = client.get(f"/api/catalog/qualtrics.new_response/outputs/?configuration={configuration.pk}&survey_id=SV_1")
    assert outputs.status_code in (403, 404)
