"""The Qualtrics cards the product promises: every one present, named and described exactly."""

from __future__ import annotations

import pytest

from connectors import registry
from connectors.qualtrics.cards._base import snake_case

# name -> description, as the card list gives them.
EXPECTED = {
    "New Response": (
        "Begin a Flow whenever there is a new response to a survey in Qualtrics. Additional fields may be "
        "available depending on the account and options you choose."
    ),
    "Add User to Group": "Add a user to a group using their user ID",
    "Create Contact": "Create a new contact and add them to a directory. Available to Target Audience users only.",
    "Create Contact in Mailing List": "Create a new contact and add them to a list.",
    "Create Group": "Create a new user group",
    "Create User": "Create a new user using their email",
    "Custom API Action": "Make a custom HTTP request to the Qualtrics API.",
    "Delete Contact": "Delete a contact using their contact ID. Available to Target Audience users only.",
    "Delete Contact from Mailing List": "Delete a contact using their contact ID.",
    "Delete Group": "Delete a group using the group ID",
    "Delete Survey": "Delete a survey using the survey ID",
    "Delete User": "Delete a user using their user ID",
    "Export Responses": "Export Responses.",
    "Import Survey": "Import a survey from a file",
    "Read All Surveys": "Read a list of all surveys in your account",
    "Read Contact": "Read a contact from a directory using their contact ID. Available to Target Audience users only.",
    "Read Contact from Mailing List": "Read a contact from a list using their contact ID.",
    "Read Group": "Read information about a user group using the group ID",
    "Read Mailing List Contacts": "Read all contacts on a contact list",
    "Read Mailing Lists": "Read all of the contact lists in your instance.",
    "readResponse": "Reads responses stored in Qualtrics.",
    "Read Survey": "Read information about a survey using the survey ID",
    "Read User": "Read information about a user using their user ID",
    "Remove User from Group": "Remove a user from a group using their user ID",
    "Update Contact": (
        "Update a contact in a directory using their contact ID. Available to Target Audience users only."
    ),
    "Update Contact in Mailing List": "Update a contact in a list using their contact ID.",
    "Update Group": "Update information about a user group",
    "Update Survey": "Update information about a survey using the survey ID",
    "Update User": "Update a user using their user ID",
}


def qualtrics_cards():
    return [c for c in registry.all_cards() if c.connector == "qualtrics"]


def test_the_card_list_has_29_cards():
    assert len(EXPECTED) == 29


def test_every_card_of_the_list_exists_with_its_exact_name_and_description():
    by_name = {c.name: c for c in qualtrics_cards()}
    missing = sorted(set(EXPECTED) - set(by_name))
    extra = sorted(set(by_name) - set(EXPECTED))
    assert missing == [] and extra == [], f"missing: {missing}; not in the list: {extra}"
    for name, description in EXPECTED.items():
        assert by_name[name].description == description, name


def test_keys_are_the_snake_case_of_the_names():
    for card in qualtrics_cards():
        assert card.key == f"qualtrics.{snake_case(card.name)}"
    assert registry.get("qualtrics.read_response").name == "readResponse"


def test_new_response_is_the_only_event_and_every_qualtrics_card_needs_a_configuration():
    assert [c.key for c in qualtrics_cards() if c.kind == "event"] == ["qualtrics.new_response"]
    assert all(c.needs_configuration and c.run is not None for c in qualtrics_cards())


def outline(fields):
    return [(f.group, f.label, f.type) for f in fields]


def test_new_response_options_and_outputs_match_the_list():
    card = registry.get("qualtrics.new_response")
    assert [(f.key, f.label, f.source) for f in card.options] == [("survey_id", "Survey", "surveys")]
    assert outline(card.outputs) == [
        ("Metadata", "Response ID", "text"),
        ("Metadata", "Recipient ID", "text"),
        ("Metadata", "Response Event Context", "text"),
        ("Metadata", "Response Set", "text"),
        ("Metadata", "Status", "text"),
        ("Metadata", "Start Date", "text"),
        ("Metadata", "End Date", "text"),
        ("Metadata", "Finished?", "boolean"),
        ("Recipient", "Name", "text"),
        ("Recipient", "External Reference", "text"),
        ("Recipient", "Email Address", "text"),
        ("Recipient", "IP Address", "text"),
    ]
    assert [f.key for f in card.outputs] == [
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
    assert card.dynamic_outputs is not None and card.run is not None


def test_read_response_options_inputs_and_outputs_match_the_list():
    card = registry.get("qualtrics.read_response")
    assert [(f.key, f.label, f.source) for f in card.options] == [("survey_id", "Survey", "surveys")]
    assert outline(card.inputs) == [("Response", "Response ID", "text")]
    assert card.input("response_id").required
    assert outline(card.outputs) == [
        ("Metadata", "Response Set", "text"),
        ("Metadata", "Status", "text"),
        ("Metadata", "Start Date", "text"),
        ("Metadata", "End Date", "text"),
        ("Metadata", "Finished?", "boolean"),
        ("Recipient", "Name", "text"),
        ("Recipient", "External Reference", "text"),
        ("Recipient", "Email Address", "text"),
        ("Recipient", "IP Address", "text"),
    ]
    assert card.dynamic_outputs is not None


def test_custom_api_action_matches_the_list():
    card = registry.get("qualtrics.custom_api_action")
    method = card.option("method")
    assert [c.value for c in method.choices] == ["GET", "POST", "PUT", "DELETE"] and method.default == "GET"
    assert outline(card.inputs) == [
        ("Request", "Relative URL", "text"),
        ("Request", "Query", "object"),
        ("Request", "Headers", "object"),
        ("Request", "Body", "object"),
    ]
    assert "only for POST, PUT, and DELETE" in card.input("body").help
    assert outline(card.outputs) == [
        ("Response", "Status Code", "number"),
        ("Response", "Headers", "object"),
        ("Response", "Body", "object"),
    ]


@pytest.mark.parametrize(
    ("key", "options", "inputs", "outputs"),
    [
        (
            "qualtrics.create_user",
            [],
            [
                "username",
                "email",
                "first_name",
                "last_name",
                "user_type",
                "password",
                "language",
                "time_zone",
                "division_id",
            ],
            ["user_id"],
        ),
        ("qualtrics.add_user_to_group", ["group_id"], ["user_id"], ["added"]),
        ("qualtrics.create_group", [], ["name", "type", "division_id"], ["group_id"]),
        (
            "qualtrics.create_contact",
            ["directory_id"],
            [
                "first_name",
                "last_name",
                "email",
                "phone",
                "external_reference",
                "language",
                "unsubscribed",
                "embedded_data",
            ],
            ["contact_id"],
        ),
        (
            "qualtrics.create_contact_in_mailing_list",
            ["directory_id", "mailing_list_id"],
            [
                "first_name",
                "last_name",
                "email",
                "phone",
                "external_reference",
                "language",
                "unsubscribed",
                "embedded_data",
            ],
            ["contact_id", "contact_lookup_id"],
        ),
        ("qualtrics.read_mailing_lists", ["directory_id"], [], ["mailing_lists", "count"]),
        ("qualtrics.read_mailing_list_contacts", ["directory_id", "mailing_list_id"], [], ["contacts", "count"]),
        ("qualtrics.read_all_surveys", [], [], ["surveys", "count"]),
        ("qualtrics.export_responses", ["survey_id", "format"], ["start_date", "end_date"], ["file", "format"]),
        ("qualtrics.import_survey", [], ["survey_name", "file"], ["survey_id"]),
    ],
)
def test_card_fields(key, options, inputs, outputs):
    card = registry.get(key)
    assert [f.key for f in card.options] == options
    assert [f.key for f in card.inputs] == inputs
    assert [f.key for f in card.outputs] == outputs


def test_deletes_output_deleted_and_updates_output_updated():
    for card in qualtrics_cards():
        if card.name.startswith("Delete"):
            assert [(f.key, f.label, f.type) for f in card.outputs] == [("deleted", "Deleted", "boolean")]
        if card.name.startswith("Update"):
            assert [(f.key, f.label, f.type) for f in card.outputs] == [("updated", "Updated", "boolean")]


def test_typed_fields_where_the_api_has_types():
    assert registry.get("qualtrics.read_mailing_lists").output("mailing_lists").type == "list"
    assert registry.get("qualtrics.read_all_surveys").output("count").type == "number"
    export = registry.get("qualtrics.export_responses")
    assert [c.value for c in export.option("format").choices] == ["csv", "json", "ndjson"]
    assert export.input("start_date").type == "date" and not export.input("start_date").required
    assert export.output("file").type == "file"
    assert registry.get("qualtrics.import_survey").input("file").type == "file"
    assert registry.get("qualtrics.create_contact").input("embedded_data").type == "object"
    mailing_list = registry.get("qualtrics.create_contact_in_mailing_list").option("mailing_list_id")
    assert mailing_list.source == "mailing_lists" and mailing_list.depends_on == ("directory_id",)
